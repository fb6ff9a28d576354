"""Write a file as its input with a few byte spans replaced, and nothing else changed (the byte-exact contract).

The path converter (``remap.aepx``) finds its own spans while it streams; a template variant
(``aeproject.variant``) already knows them from the project model (``aeproject.model.Span``). Both write through
``remap.copyout.SpanWriter``, so the unchanged bytes between replacements are copied (by the kernel where it can)
and only the replacements are written.

Each edit names the raw bytes it expects to find at its span: when the input no longer holds them (the file changed
between reading the model and writing), nothing valid can come out and ``SpliceError`` says where.
"""
from __future__ import annotations

from typing import BinaryIO, NamedTuple, Sequence

from remap.copyout import SpanWriter
from remap.errors import RemapError

BLOCK = 1 << 20


class SpliceError(RemapError):
    """Edits that overlap, or an input that does not hold what an edit expects (one line; exit 2)."""


class ByteEdit(NamedTuple):
    """Replace input bytes ``[start, end)`` (which must equal ``old``) with ``new``."""

    start: int
    end: int
    old: bytes
    new: bytes


def check_edits(edits: Sequence[ByteEdit]) -> list:
    """The edits sorted by position; SpliceError when two overlap or one is malformed."""
    ordered = sorted(edits, key=lambda e: (e.start, e.end))
    last = -1
    for edit in ordered:
        if edit.start < 0 or edit.end < edit.start or edit.end - edit.start != len(edit.old):
            raise SpliceError(f"malformed edit at bytes {edit.start}-{edit.end}")
        if edit.start < last:
            raise SpliceError(f"edits overlap at byte {edit.start}")
        last = edit.end
    return ordered


def splice(src: BinaryIO, out: BinaryIO, edits: Sequence[ByteEdit], where: str = "input") -> int:
    """Copy ``src`` (read from its current position, which counts as offset 0) to ``out`` with ``edits`` applied.

    Returns the number of bytes written. Raises SpliceError when the input does not hold an edit's ``old`` bytes
    or ends before an edit; the caller must then discard ``out`` (write it through ``atomic_write``)."""
    ordered = check_edits(edits)
    sink = SpanWriter(src, out)
    pos = 0  # input offset of the next byte to copy
    written = 0
    buf = b""
    base = 0  # input offset of buf[0]
    for edit in ordered:
        while pos < edit.start:  # copy the unchanged bytes up to the edit
            if base + len(buf) <= pos:
                base, buf = base + len(buf), src.read(BLOCK)
                if not buf:
                    raise SpliceError(f"{where}: ends at byte {base}, before the value at byte {edit.start}")
                continue
            stop = min(edit.start, base + len(buf))
            view = memoryview(buf)[pos - base:stop - base]
            sink.copy(pos, view)
            written += len(view)
            pos = stop
        have = bytearray()
        while len(have) < len(edit.old):  # the bytes the edit replaces, checked
            if base + len(buf) <= pos:
                base, buf = base + len(buf), src.read(BLOCK)
                if not buf:
                    break
            take = min(len(edit.old) - len(have), base + len(buf) - pos)
            have += buf[pos - base:pos - base + take]
            pos += take
        if bytes(have) != edit.old:
            raise SpliceError(f"{where}: the value at byte {edit.start} is not the one read before (was the file "
                              "changed while the variant was being written?)")
        sink.write(edit.new)
        written += len(edit.new)
    while True:  # the rest of the file
        if base + len(buf) <= pos:
            base, buf = base + len(buf), src.read(BLOCK)
            if not buf:
                break
        view = memoryview(buf)[pos - base:]
        sink.copy(pos, view)
        written += len(view)
        pos = base + len(buf)
    sink.flush()
    return written
