"""Write a converted file as spans of its input plus the few replaced values.

A conversion changes a handful of bytes per megabyte. ``os.copy_file_range`` copies an unchanged span from the
input's page cache to the output's inside the kernel, so user space only writes the replacements (gathered with the
short spans between them into one write). Where the kernel or file system cannot do that (other OSes, EXDEV across
file systems on old kernels, ENOSYS, EINVAL, ...), the span is sent with ``os.sendfile`` or, last, written from the
caller's buffer, which always holds the span too (the converter has read it to scan it); a method that failed is not
tried again. Measured on ext4 (benchmarks/bench_remap.py), the kernel copy costs about what writing from the
already-read buffer costs (both copy each byte once more); it would win where the file system shares extents.

What does win: the output is handed to the kernel for write-back every WRITEBACK_EVERY bytes (``posix_fadvise``
DONTNEED starts write-back of dirty pages without waiting for it), so the disk writes overlap the scan and the
atomic write's final ``fsync`` (remap.atomic) finds little left to do; for a 124 MiB project that fsync alone took
about as long as a whole ``shutil.copyfile``.
"""
from __future__ import annotations

import errno
import os
import sys
from typing import BinaryIO, Optional

WRITEBACK_EVERY = 8 << 20
KERNEL_COPY = True  # False: spans are written from the caller's buffer (kept to compare in benchmarks)
SMALL_SPAN = 4096  # shorter spans are gathered with the replacements into one write (a syscall costs more)
# errors that mean "this method cannot copy between these two files here", not "the copy failed"
_UNSUPPORTED = {getattr(errno, name) for name in ("EXDEV", "ENOSYS", "EINVAL", "EOPNOTSUPP", "ENOTSUP", "EBADF",
                                                  "EPERM", "ENOTSOCK", "ESPIPE", "ETXTBSY", "EOVERFLOW")
                if hasattr(errno, name)}


def _fileno(f: BinaryIO) -> Optional[int]:
    try:
        return f.fileno()
    except (AttributeError, OSError, ValueError):  # io.UnsupportedOperation is an OSError and a ValueError
        return None


def _kernel_copy(method: str, in_fd: int, out_fd: int, offset: int, count: int) -> int:
    """Copy ``count`` bytes of the input from ``offset`` to the output's position in the kernel; returns how many were
    copied (0: the input ended). ``SpanWriter`` picks a method only where ``os`` has it; the branches say to the type
    checker what each OS lacks (Windows: both; macOS: ``copy_file_range``), as an "unsupported here" OSError."""
    if sys.platform == "win32":
        raise OSError(errno.ENOSYS, "no in-kernel copy between files on Windows")
    if method == "copy_file_range":
        if sys.platform == "darwin":
            raise OSError(errno.ENOSYS, "no copy_file_range on macOS")
        return os.copy_file_range(in_fd, out_fd, count, offset)
    return os.sendfile(out_fd, in_fd, offset, count)


def _start_writeback(fd: int, offset: int, length: int) -> None:
    """Start write-back of the output's dirty pages ``[offset, offset + length)`` without waiting for it
    (``posix_fadvise`` DONTNEED; only used where ``os`` has it: neither Windows nor macOS do)."""
    if sys.platform == "win32" or sys.platform == "darwin":
        raise OSError(errno.ENOSYS, "no posix_fadvise here")
    os.posix_fadvise(fd, offset, length, os.POSIX_FADV_DONTNEED)


class SpanWriter:
    """Output of a byte-exact conversion: ``copy`` a span of the input (also given as a buffer), ``write`` bytes.

    ``method`` is ``copy_file_range``, ``sendfile`` or ``write`` (user-space writes from the buffer, used when
    either file has no descriptor, e.g. io.BytesIO in tests). Call ``flush`` at the end.
    """

    def __init__(self, src: BinaryIO, out: BinaryIO) -> None:
        self._out = out
        in_fd, out_fd = _fileno(src), _fileno(out)
        self._in_fd = -1 if in_fd is None else in_fd  # -1: no descriptor (then the writer is never direct)
        self._out_fd = -1 if out_fd is None else out_fd
        self._direct = False  # writing to the output's descriptor (not through ``out``)
        self._pending = bytearray()  # small spans and replacements not yet written (direct mode)
        self.method = "write"
        if in_fd is not None and out_fd is not None:
            out.flush()  # anything the caller buffered goes first; from here on we write to the descriptor
            try:
                self._pos = os.lseek(out_fd, 0, os.SEEK_CUR)
                self._origin = src.tell()  # input offsets given to ``copy`` count from here
                self._direct = True
            except OSError:
                pass
        if self._direct:
            self._synced = self._pos  # write-back has been started for out[:_synced]
            self._writeback = hasattr(os, "posix_fadvise")  # start write-back as the output grows (see _advance)
            if not KERNEL_COPY:
                pass
            elif hasattr(os, "copy_file_range"):
                self.method = "copy_file_range"
            elif hasattr(os, "sendfile") and sys.platform != "win32":
                self.method = "sendfile"

    def copy(self, offset: int, data: memoryview) -> None:
        """Append the input's bytes ``[offset, offset + len(data))`` (counted from where ``src`` stood when this writer
        was made), which equal ``data``."""
        n = len(data)
        if n < SMALL_SPAN and self._direct:
            self._pending += data
            return
        self._drain()
        done = 0
        while done < n and self.method != "write":
            try:
                k = _kernel_copy(self.method, self._in_fd, self._out_fd, self._origin + offset + done, n - done)
            except OSError as exc:
                if exc.errno not in _UNSUPPORTED:
                    raise
                k = -1
            if k <= 0:  # unsupported here, or the input ended early (changed under us): use the buffer instead
                self.method = "sendfile" if self.method == "copy_file_range" and hasattr(os, "sendfile") \
                    and sys.platform != "win32" else "write"
                continue
            done += k
            self._advance(k)
        if done < n:
            if self._direct:
                self._write_direct(data[done:])
            else:
                self._out.write(data[done:])

    def write(self, data: bytes) -> None:
        if not self._direct:
            self._out.write(data)
            return
        self._pending += data
        if len(self._pending) >= SMALL_SPAN:
            self._drain()

    def _drain(self) -> None:
        if self._pending:
            with memoryview(self._pending) as whole:
                self._write_direct(whole)
            self._pending.clear()

    def _write_direct(self, view: memoryview) -> None:
        while view:
            k = os.write(self._out_fd, view)
            view = view[k:]
            self._advance(k)

    def _advance(self, k: int) -> None:
        self._pos += k
        if self._pos - self._synced >= WRITEBACK_EVERY and self._writeback:
            try:
                _start_writeback(self._out_fd, self._synced, self._pos - self._synced)
            except OSError:
                self._writeback = False
            self._synced = self._pos

    def flush(self) -> None:
        """Write what is pending; call once at the end."""
        if self._direct:
            self._drain()
        else:
            self._out.flush()
