"""The byte-exact stream under the .aepx scanner: a block buffer that copies what it passes and replaces spans.

``BlockStream`` reads the input in blocks of BLOCK bytes into ``buf`` (``base`` is the file offset of ``buf[0]``),
and everything before ``done`` has been written out (or decided). The scanner (``remap.aepx_scanner``) moves
through the buffer and calls ``emit_upto`` for bytes it leaves as they are and ``replace`` for a span it rewrites,
so the output is the input with exactly those spans changed. Unchanged spans go through ``remap.copyout.SpanWriter``
(kernel copy where it can). A token the scanner must hold whole (a tag, an expression) may grow the buffer up to
MAX_TOKEN bytes; anything else is streamed out and dropped, so memory stays at about one block.
"""
from __future__ import annotations

import re
from typing import BinaryIO, Callable, List, Optional, Tuple

from remap.aepx_check import StructureCheck
from remap.copyout import SpanWriter
from remap.errors import RemapError

BLOCK = 1 << 18  # 256 KiB: fits in L2 cache; the pass is as fast or faster than with larger blocks
MAX_TOKEN = 16 << 20  # longest fileReference tag / expression / hex chunk we will hold in memory
_TERM_NAMES = {b"-->": "comment", b"]]>": "CDATA section", b"?>": "processing instruction", b">": "tag",
               b"</cdat>": "<cdat> element"}
_ATTR = re.compile(rb"\s+([A-Za-z_:][\w:.\-]*)\s*=\s*([\"'])")
_TAG_END = re.compile(rb"\s*(/?)>")

# (attribute name, value start, value end, quote) with indices into the buffer
TagAttr = Tuple[bytes, int, int, bytes]


def _readinto_of(src: BinaryIO) -> Callable[[bytearray], Optional[int]]:
    """``src.readinto`` (files and BytesIO have it), else the same done with ``src.read``."""
    readinto: Optional[Callable[[bytearray], Optional[int]]] = getattr(src, "readinto", None)
    if readinto is not None:
        return readinto

    def via_read(chunk: bytearray) -> int:
        data = src.read(len(chunk))
        chunk[:len(data)] = data
        return len(data)
    return via_read


class TokenTooLong(RemapError):
    """A tag or text we must hold in memory to map is longer than MAX_TOKEN."""


class BlockStream:
    """The buffer plumbing of one pass over ``src``, copying to ``out`` (None: only look).

    ``structure``, when given, sees every block read (``StructureCheck.block``); invalid UTF-8 raises RemapError.
    ``block`` and ``max_token`` are read from BLOCK and MAX_TOKEN when the stream is made.
    """

    def __init__(self, src: BinaryIO, out: Optional[BinaryIO], where: str,
                 structure: Optional[StructureCheck]) -> None:
        self.src = src
        self.out = out
        self.sink = SpanWriter(src, out) if out is not None else None
        self.where = where
        self.structure = structure
        self.block = BLOCK
        self.max_token = MAX_TOKEN
        self.buf = b""
        self.base = 0  # file offset of buf[0]
        self.done = 0  # buf[:done] has been written (or decided)
        self.eof = False
        # Blocks are read into one reused chunk: a fresh bytes object per block (freed a block later, beside the
        # buffer's own) left glibc's heap top free beyond its trim threshold, so it was given back to the kernel and
        # faulted in again, block after block (about 1.5 page faults per 4 KiB read, depending on what the process
        # had allocated before; benchmarks/bench_remap.py).
        self._chunk = bytearray(self.block)
        self._readinto = _readinto_of(src)

    def fill(self) -> bool:
        """Read one more block onto the buffer; False at the end of the input."""
        if self.eof:
            return False
        n = self._readinto(self._chunk) or 0
        data = self._chunk if n == len(self._chunk) else self._chunk[:n]
        if self.structure is not None:
            bad = self.structure.block(data, self.base + len(self.buf), final=not n)
            if bad is not None:
                raise RemapError(f"{self.where}: invalid UTF-8 at byte {bad} (.aepx files are UTF-8)")
        if not n:
            self.eof = True
            return False
        self.buf = self.buf + data if self.buf else bytes(data)
        return True

    def emit_upto(self, i: int) -> None:
        """Write ``buf[done:i]`` unchanged."""
        if i > self.done:
            if self.sink is not None:
                self.sink.copy(self.base + self.done, memoryview(self.buf)[self.done:i])
            self.done = i

    def replace(self, start: int, end: int, raw: bytes) -> None:
        """Write ``raw`` in place of ``buf[start:end]`` (everything before ``start`` unchanged)."""
        self.emit_upto(start)
        if self.sink is not None:
            self.sink.write(raw)
        self.done = end

    def compact(self) -> int:
        """Drop what has been written; returns the shift to subtract from indices into the old buffer."""
        shift = self.done
        if shift:
            self.buf = self.buf[shift:]
            self.base += shift
            self.done = 0
        return shift

    def keep_from(self, i: int) -> int:
        """Where to cut the buffer before ``i``: at the last tag start, so that a ``<string>`` can still look back at
        the element before it (an expression follows a ``<cdat>``); unless that tag is huge."""
        lt = self.buf.rfind(b"<", self.done, i)
        return lt if lt >= 0 and i - lt <= self.max_token else i

    def offset(self, i: int) -> int:
        return self.base + i

    def truncated(self, what: str, i: int) -> RemapError:
        return RemapError(f"{self.where}: truncated XML: {what} at byte {self.offset(i)} is never closed")

    def skip_past(self, term: bytes, i: int) -> int:
        """Index just after the next ``term`` at or after ``i``, streaming out (and dropping) what lies before."""
        start = i
        while True:
            j = self.buf.find(term, i)
            if j >= 0:
                return j + len(term)
            keep = max(i, len(self.buf) - len(term) - 8, self.done)
            self.emit_upto(keep)
            shift = self.compact()
            i, start = keep - shift, max(0, start - shift)
            if not self.fill():
                raise self.truncated(_TERM_NAMES.get(term, "markup"), start)

    def ensure(self, i: int, n: int) -> None:
        """Make ``buf[i:i+n]`` available unless the file ends first."""
        while len(self.buf) < i + n and self.fill():
            pass

    def find_in_token(self, needle: bytes, i: int, start: int, what: str) -> int:
        """Index of ``needle`` at or after ``i``, growing the buffer (never dropping ``start``) up to MAX_TOKEN."""
        while True:
            j = self.buf.find(needle, i)
            if j >= 0:
                return j
            if len(self.buf) - start > self.max_token:
                raise TokenTooLong(f"{self.where}: {what} at byte {self.offset(start)} is longer than "
                                   f"{self.max_token >> 20} MiB; not supported")
            i = max(i, len(self.buf) - len(needle))
            if not self.fill():
                raise self.truncated(what, start)

    def parse_tag(self, start: int, name_len: int) -> Tuple[List[TagAttr], int]:
        """Attributes (name, value start, value end, quote) of the tag at ``start`` and the index after its ``>``."""
        attrs: List[TagAttr] = []
        i = start + 1 + name_len
        what = f"<{self.buf[start + 1:start + 1 + name_len].decode('ascii', 'replace')}> tag"
        while True:
            self.ensure(i, 512)
            m = _ATTR.match(self.buf, i)
            if m:
                q = m.group(2)
                vs = m.end()
                ve = self.find_in_token(q, vs, start, what)
                attrs.append((m.group(1), vs, ve, q))
                i = ve + 1
                continue
            m = _TAG_END.match(self.buf, i)
            if m:
                return attrs, m.end()
            if self.eof and len(self.buf) - i < 512:
                raise self.truncated(what, start)
            raise RemapError(f"{self.where}: malformed {what} at byte {self.offset(start)}")
