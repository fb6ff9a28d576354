"""The host-wide record of fonts aefarm installed and of who still needs them.

Several jobs can run on one render node at once, each installing the project's fonts before its children start and
removing them after. The manifest makes that safe: one JSON file per user state folder, read and written only while
holding a file lock, saved atomically (temp file + fsync + rename). Fonts are keyed by content hash and reference
counted by install tokens; each token names its owner process by pid *and* creation time, so a token of a crashed job
(or of a pid since reused by another process) is recognised as dead and collected by the next call.
"""
from __future__ import annotations

import json
import os
import socket
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, Iterator, List, Mapping, Optional

from aefarm_common.atomic import atomic_write
from fonts.errors import FontError

MANIFEST_NAME = "fonts-manifest.json"
LOCK_NAME = "fonts-manifest.lock"
LOCK_TIMEOUT_SECONDS = 300.0
FORMAT_VERSION = 1
_CREATE_TIME_TOLERANCE = 0.05  # seconds; the same process always reports the same creation time


# ---- owners: pid + creation time (+ host, because a home folder may be shared between nodes) ----

def owner_record(pid: Optional[int] = None) -> Dict[str, Any]:
    """Identify process ``pid`` (default: this one) in a way a reused pid cannot impersonate."""
    import psutil

    pid = os.getpid() if pid is None else pid
    try:
        created = psutil.Process(pid).create_time()
    except psutil.NoSuchProcess:
        raise FontError(f"owner process {pid} does not exist") from None
    return {"pid": pid, "create_time": created, "host": socket.gethostname()}


def owner_alive(owner: Optional[Mapping[str, Any]]) -> bool:
    """False only when we are sure: the process is gone, a zombie, or its pid now belongs to a newer process."""
    if owner is None:
        return True  # held until removed explicitly
    if owner.get("host") != socket.gethostname():
        return True  # another node's process: we cannot judge it from here
    import psutil

    try:
        process = psutil.Process(int(owner["pid"]))
        if process.status() == psutil.STATUS_ZOMBIE:
            return False
        return abs(process.create_time() - float(owner["create_time"])) < _CREATE_TIME_TOLERANCE
    except psutil.NoSuchProcess:
        return False
    except psutil.AccessDenied:
        return True


# ---- the manifest itself ----

@dataclass
class Manifest:
    """Plain data: ``fonts`` by sha256 and ``tokens`` (install references), with the state folder it lives in."""

    state_dir: Path
    fonts: Dict[str, Dict[str, Any]] = field(default_factory=dict)
    tokens: Dict[str, Dict[str, Any]] = field(default_factory=dict)

    @property
    def path(self) -> Path:
        return self.state_dir / MANIFEST_NAME

    def references(self, sha256: str) -> List[str]:
        return sorted(token for token, record in self.tokens.items() if sha256 in record.get("fonts", ()))

    def unreferenced_fonts(self) -> List[str]:
        used = {sha for record in self.tokens.values() for sha in record.get("fonts", ())}
        return sorted(sha for sha in self.fonts if sha not in used)

    def dead_tokens(self) -> List[str]:
        return sorted(token for token, record in self.tokens.items() if not owner_alive(record.get("owner")))

    def to_json(self) -> Dict[str, Any]:
        return {"version": FORMAT_VERSION, "fonts": self.fonts, "tokens": self.tokens}

    def save(self) -> None:
        """Write atomically: a reader (or a crash) sees the old manifest or the new one, never a mix."""
        self.state_dir.mkdir(parents=True, exist_ok=True)
        text = json.dumps(self.to_json(), indent=1, sort_keys=True)
        with atomic_write(self.path, mode="w") as stream:
            stream.write(text)


def load_manifest(state_dir: Path) -> Manifest:
    """Read the manifest (empty when there is none yet). Call with the lock held when you mean to write it back."""
    manifest = Manifest(state_dir=Path(state_dir))
    try:
        data = json.loads(manifest.path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return manifest
    except (OSError, ValueError) as exc:
        raise FontError(f"font manifest is unreadable ({exc}): {manifest.path}") from None
    if not isinstance(data, dict) or data.get("version") != FORMAT_VERSION:
        raise FontError(f"font manifest has an unknown format (version {data.get('version')!r}): {manifest.path}"
                        if isinstance(data, dict) else f"font manifest is not a JSON object: {manifest.path}")
    manifest.fonts = dict(data.get("fonts") or {})
    manifest.tokens = dict(data.get("tokens") or {})
    return manifest


@contextmanager
def locked_manifest(state_dir: Path, timeout: float = LOCK_TIMEOUT_SECONDS) -> Iterator[Manifest]:
    """Hold the host-wide lock while the manifest is read, changed and saved (callers call ``save``)."""
    from filelock import FileLock, Timeout

    state_dir = Path(state_dir)
    state_dir.mkdir(parents=True, exist_ok=True)
    lock = FileLock(str(state_dir / LOCK_NAME), timeout=timeout)
    try:
        lock.acquire()
    except Timeout:
        raise FontError(f"timed out after {timeout:.0f} s waiting for the font manifest lock: "
                        f"{state_dir / LOCK_NAME}") from None
    try:
        yield load_manifest(state_dir)
    finally:
        lock.release()
