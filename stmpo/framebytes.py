"""Byte-level helpers shared by the frame format checks (`stmpo.framecheck` and its per-format modules).

A check reads a frame file through an open binary file object and raises `Broken` with one line naming what is
wrong (where in the file, what was expected); `stmpo.framecheck.check_frame` turns that into a `Verdict`.
Reads never use mmap: a file that a stray renderer truncates while it is mapped would kill the reader with SIGBUS.
"""
from __future__ import annotations

import struct
from typing import BinaryIO, Tuple

__all__ = ["Broken", "read_at", "unpack_at"]


class Broken(Exception):
    """The file is not a whole, well-formed frame; the message is one line (no trailing period)."""


def read_at(f: BinaryIO, offset: int, count: int, size: int, what: str) -> bytes:
    """Exactly `count` bytes at `offset` of a file of `size` bytes; Broken ("truncated") when the file is shorter.

    `what` names the structure being read (e.g. "chunk header 3"), for the message.
    """
    if offset < 0 or count < 0:
        raise Broken(f"{what}: negative offset or length ({offset}, {count})")
    if offset + count > size:
        raise Broken(f"truncated: {what} needs bytes {offset}..{offset + count}, the file has {size}")
    f.seek(offset)
    data = f.read(count)
    if len(data) != count:  # the file shrank while we read it (a writer still at work)
        raise Broken(f"truncated: {what} at byte {offset} could not be read whole ({len(data)} of {count} bytes)")
    return data


def unpack_at(fmt: str, f: BinaryIO, offset: int, size: int, what: str) -> Tuple:
    """`struct.unpack(fmt, ...)` of the bytes at `offset`, with `read_at`'s truncation check."""
    return struct.unpack(fmt, read_at(f, offset, struct.calcsize(fmt), size, what))
