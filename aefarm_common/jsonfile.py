"""Read a JSON input file: every way it can be unreadable becomes one line of the caller's error type.

Every JSON input of aefarm (mapping rules, shares tables, env files, accsyn data, NUMA maps) is read here, so they
fail alike.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Type, Union

from aefarm_common.errors import AefarmError


def read_json(path: Union[str, Path], what: str, error: Type[Exception] = AefarmError) -> object:
    """The parsed content of ``path`` (UTF-8, BOM allowed); ``error("<what> <path>: ...")`` when it cannot be read,
    is not UTF-8, or is not JSON (the message gives line and column)."""
    p = Path(path)
    try:
        raw = p.read_bytes()
    except OSError as exc:
        raise error(f"{what} {p}: cannot read ({exc.strerror or exc})") from None
    try:
        return json.loads(raw.decode("utf-8-sig"))
    except UnicodeDecodeError:
        raise error(f"{what} {p}: not UTF-8 text") from None
    except json.JSONDecodeError as exc:
        raise error(f"{what} {p}: invalid JSON at line {exc.lineno} column {exc.colno}: {exc.msg}") from None
