"""Write a file so that readers only ever see the old file or the complete new one.

Farm nodes may convert the same project at the same moment, and a crash must never leave half a project where a
render will find it: the data goes to a temporary file in the destination's folder (same file system, so the rename
is atomic), is flushed to disk, and is renamed over the destination. On any exception the temporary file is removed
and the destination is left exactly as it was.
"""
from __future__ import annotations

import contextlib
import os
import sys
import tempfile
from pathlib import Path
from typing import IO, Any, BinaryIO, ContextManager, Iterator, Literal, TextIO, Union, overload


@overload
def atomic_write(dst: Union[str, Path], mode: Literal["wb"] = "wb") -> ContextManager[BinaryIO]: ...
@overload
def atomic_write(dst: Union[str, Path], mode: Literal["w"]) -> ContextManager[TextIO]: ...
@overload
def atomic_write(dst: Union[str, Path], mode: str) -> ContextManager[IO[Any]]: ...


def atomic_write(dst: Union[str, Path], mode: str = "wb") -> ContextManager[IO[Any]]:
    """A context manager yielding a file object open for writing (binary for ``wb``, UTF-8 text with newlines kept
    for ``w``); on a clean exit it atomically becomes ``dst``."""
    return _atomic_write(dst, mode)


@contextlib.contextmanager
def _atomic_write(dst: Union[str, Path], mode: str) -> Iterator[IO[Any]]:
    if mode not in ("wb", "w"):
        raise ValueError(f"atomic_write: mode must be 'wb' or 'w', not {mode!r}")
    dst = Path(dst)
    folder = dst.parent if str(dst.parent) else Path(".")
    fd, tmp = tempfile.mkstemp(prefix=f".{dst.name}.", suffix=".tmp", dir=folder)
    try:
        f: IO[Any] = os.fdopen(fd, "wb") if "b" in mode else os.fdopen(fd, "w", encoding="utf-8", newline="")
        with f:
            yield f
            f.flush()
            os.fsync(f.fileno())
        try:
            os.chmod(tmp, 0o666 & ~current_umask())
        except OSError:
            pass
        os.replace(tmp, dst)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    _fsync_folder(folder)


def current_umask() -> int:
    """The process umask (mkstemp creates 0600 files; the result should look like any other file written here)."""
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _fsync_folder(folder: Path) -> None:
    """Make the rename itself durable where the OS allows opening folders (POSIX); best effort elsewhere."""
    if sys.platform == "win32":
        return
    try:
        fd = os.open(str(folder), os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
