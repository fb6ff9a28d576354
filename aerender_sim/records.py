"""The simulator's invocation record: one JSON line per aerender-sim run, for tests that count launches."""
from __future__ import annotations

import json
import os
from typing import Dict


def append_record(path: str, record: Dict[str, object]) -> None:
    """One JSON line, appended with a single write so concurrent invocations never interleave within a line."""
    data = (json.dumps(record, sort_keys=True) + "\n").encode("utf-8")
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(fd, data)
    finally:
        os.close(fd)
