"""Per-child log files: every line an aerender child printed, in `<log_dir>/chunk-<chunk>-pid-<pid>.log`.

Why a module of its own: the files outlive the run (the run report names them) and are written from the reader
threads, apart from what the reporters show on stdout; a failed write (disk full, closed during shutdown) must never
stop a render, so the log is best effort.
"""
from __future__ import annotations

import os
import threading
from pathlib import Path
from typing import IO, Dict, Tuple


class ChildLogs:
    """One log file per child process under `folder`: `chunk-<chunk_id:03d>-pid-<pid>.log` (UTF-8, appended)."""

    def __init__(self, folder: "os.PathLike[str] | str") -> None:
        self.folder = Path(folder)
        self._files: Dict[Tuple[int, int], IO[str]] = {}
        self._lock = threading.RLock()

    def path(self, chunk_id: int, pid: int) -> Path:
        return self.folder / f"chunk-{chunk_id:03d}-pid-{pid}.log"

    def open(self, chunk_id: int, pid: int) -> IO[str]:
        key = (chunk_id, pid)
        with self._lock:
            handle = self._files.get(key)
            if handle is None:
                self.folder.mkdir(parents=True, exist_ok=True)
                handle = open(self.path(chunk_id, pid), "a", encoding="utf-8", errors="replace", buffering=1)
                self._files[key] = handle
            return handle

    def write(self, chunk_id: int, pid: int, line: str) -> None:
        handle = self._files.get((chunk_id, pid)) or self.open(chunk_id, pid)
        try:
            handle.write(line + "\n")
        except (OSError, ValueError):  # disk full or closed during shutdown: the log is best effort
            pass

    def close(self, chunk_id: int, pid: int) -> None:
        with self._lock:
            handle = self._files.pop((chunk_id, pid), None)
        if handle is not None:
            handle.close()

    def close_all(self) -> None:
        with self._lock:
            handles, self._files = list(self._files.values()), {}
        for handle in handles:
            handle.close()


