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
from typing import BinaryIO, Optional

WRITEBACK_EVERY = 8 << 20
KERNEL_COPY = True  # False: spans are written from the caller's buffer (kept to compare in benchmarks)
SMALL_SPAN = 4096  # shorter spans are gathered with the replacements into one write (a syscall costs more)
# errors that mean "this method cannot copy between these two files here", not "the copy failed"
_UNSUPPORTED = {getattr(errno, name) for name in ("EXDEV", "ENOSYS", "EINVAL", "EOPNOTSUPP", "ENOTSUP", "EBADF",
                                                  "EPERM", "ENOTSOCK", "ESPIPE", "ETXTBSY", "EOVERFLOW")
                if hasattr(errno, name)}


def _fileno(f: object) -> Optional[int]:
    try:
        return f.fileno()  # type: ignore[attr-defined]
    except (AttributeError, OSError, ValueError):  # io.UnsupportedOperation is an OSError and a ValueError
        return None


class SpanWriter:
    """Output of a byte-exact conversion: ``copy`` a span of the input (also given as a buffer), ``write`` bytes.

    ``method`` is ``copy_file_range``, ``sendfile`` or ``write`` (user-space writes from the buffer, used when
    either file has no descriptor, e.g. io.BytesIO in tests). Call ``flush`` at the end.
    """

    def __init__(self, src: BinaryIO, out: BinaryIO) -> None:
        self._out = out
        self._in_fd = _fileno(src)
        self._out_fd = _fileno(out)
        self._direct = False  # writing to the output's descriptor (not through ``out``)
        self._pending = bytearray()  # small spans and replacements not yet written (direct mode)
        self.method = "write"
        if self._in_fd is not None and self._out_fd is not None:
            out.flush()  # anything the caller buffered goes first; from here on we write to the descriptor
            try:
                self._pos = os.lseek(self._out_fd, 0, os.SEEK_CUR)
                self._origin = src.tell()  # input offsets given to ``copy`` count from here
                self._direct = True
            except OSError:
                pass
        if self._direct:
            self._synced = self._pos  # write-back has been started for out[:_synced]
            self._fadvise = getattr(os, "posix_fadvise", None)
            if not KERNEL_COPY:
                pass
            elif hasattr(os, "copy_file_range"):
                self.method = "copy_file_range"
            elif hasattr(os, "sendfile") and os.name != "nt":
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
                if self.method == "copy_file_range":
                    k = os.copy_file_range(self._in_fd, self._out_fd, n - done, self._origin + offset + done)
                else:
                    k = os.sendfile(self._out_fd, self._in_fd, self._origin + offset + done, n - done)
            except OSError as exc:
                if exc.errno not in _UNSUPPORTED:
                    raise
                k = -1
            if k <= 0:  # unsupported here, or the input ended early (changed under us): use the buffer instead
                self.method = "sendfile" if self.method == "copy_file_range" and hasattr(os, "sendfile") \
                    and os.name != "nt" else "write"
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
        if self._pos - self._synced >= WRITEBACK_EVERY and self._fadvise is not None:
            try:
                self._fadvise(self._out_fd, self._synced, self._pos - self._synced, os.POSIX_FADV_DONTNEED)
            except OSError:
                self._fadvise = None
            self._synced = self._pos

    def flush(self) -> None:
        """Write what is pending; call once at the end."""
        if self._direct:
            self._drain()
        else:
            self._out.flush()
