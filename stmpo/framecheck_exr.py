"""Structural check for OpenEXR files: header, offset tables and every chunk's header against the file size.

Source: "OpenEXR File Layout" (openexr.com, docs/OpenEXRFileLayout.rst): magic 20000630 (76 2f 31 01), a version
field (low byte 2; flags 0x200 single-part tiled, 0x400 long names, 0x800 deep data, 0x1000 multi-part), one header
per part (attributes `name\\0 type\\0 int size, value`, ended by a null byte; multi-part adds an empty header), then
one offset table per part (one little-endian uint64 per chunk), then the chunks. A chunk is [int part number when
multi-part] + scan line block (int y, int size, data) | tile (int tx, ty, lx, ly, int size, data) | deep scan line
(int y, uint64 packed offset-table size, uint64 packed sample size, uint64 unpacked size, data) | deep tile.

The number of chunks is the header's `chunkCount` when present (required in multi-part and deep files), else
computed from `dataWindow`, `compression` (scan lines per block) and `tiles` (size, level mode, rounding mode).
Every offset must point past the offset tables and inside the file; every chunk (header + its data size) must end
inside the file, and each chunk header must name the block/tile its table slot stands for. The OpenEXR library
writes the offset tables as zeros first and fills them when the file is closed, so a zero entry is the sign of a
file still being written.

Cost: the header (usually < 2 KiB), the tables (8 bytes per chunk) and one small read per chunk, up to
FULL_WALK_LIMIT chunks; above that (one-scan-line chunks of tall images: NONE/RLE/ZIPS) the offsets are checked
against each other (distinct, a chunk header apart) and only the first and last chunks in the file are read -
chunks never overlap, so only the last can run past the end. Pixels are never read or decompressed.
"""
from __future__ import annotations

import struct
from dataclasses import dataclass
from typing import BinaryIO, Dict, Iterator, List, Optional, Tuple

from stmpo.framebytes import Broken, unpack_at

__all__ = ["check_exr", "EXR_MAGIC", "LINES_PER_BLOCK", "FULL_WALK_LIMIT"]

EXR_MAGIC = b"\x76\x2f\x31\x01"
TILED, LONG_NAMES, DEEP, MULTIPART = 0x200, 0x400, 0x800, 0x1000
# scan lines per chunk by compression id (OpenEXR technical introduction, "Data Compression"; HTJ2K from 3.4)
LINES_PER_BLOCK = {0: 1, 1: 1, 2: 1, 3: 16, 4: 32, 5: 16, 6: 32, 7: 32, 8: 32, 9: 256, 10: 256, 11: 32}
_HEADER_READ = 4096
# up to this many chunks every chunk header is read and checked; above it (one-scan-line chunks of tall images) the
# offsets are checked against each other and the first and last chunks in the file are read (see check_exr)
FULL_WALK_LIMIT = 512
_MAX_HEADER = 64 * 1024 * 1024


@dataclass
class _Part:
    attrs: Dict[str, Tuple[str, bytes]]
    kind: str = "scanlineimage"
    chunks: int = 0
    ymin: int = 0
    lines: Optional[int] = None  # scan lines per block, when known
    tiles: Optional[List[Tuple[int, int, int, int]]] = None  # expected (tx, ty, lx, ly) per table slot


class _HeaderBytes:
    """The file's first bytes, read in growing pieces until the header is parsed."""

    def __init__(self, f: BinaryIO, size: int) -> None:
        self.f, self.size = f, size
        f.seek(0)
        self.data = f.read(min(size, _HEADER_READ))

    def need(self, end: int) -> None:
        if end <= len(self.data):
            return
        if end > self.size:
            raise Broken(f"truncated: the header runs past the end of the file ({self.size} bytes)")
        if end > _MAX_HEADER:
            raise Broken(f"header longer than {_MAX_HEADER} bytes")
        want = min(self.size, max(end, 2 * len(self.data)))
        self.f.seek(len(self.data))
        self.data += self.f.read(want - len(self.data))
        if len(self.data) < end:
            raise Broken("truncated: the header could not be read whole")

    def cstring(self, pos: int, limit: int, what: str) -> Tuple[str, int]:
        while True:
            end = self.data.find(b"\x00", pos, pos + limit + 1)
            if end >= 0:
                return self.data[pos:end].decode("latin-1"), end + 1
            if len(self.data) >= min(self.size, pos + limit + 1):
                raise Broken(f"{what} at byte {pos} is not a null-terminated name of at most {limit} bytes")
            self.need(min(self.size, pos + limit + 1))


def _read_header(buf: _HeaderBytes, pos: int, limit: int) -> Tuple[Dict[str, Tuple[str, bytes]], int]:
    attrs: Dict[str, Tuple[str, bytes]] = {}
    while True:
        buf.need(pos + 1)
        if buf.data[pos] == 0:
            return attrs, pos + 1
        name, pos = buf.cstring(pos, limit, "attribute name")
        kind, pos = buf.cstring(pos, limit, f"type of attribute {name!r}")
        buf.need(pos + 4)
        (length,) = struct.unpack_from("<i", buf.data, pos)
        if length < 0:
            raise Broken(f"attribute {name!r} has a negative size")
        buf.need(pos + 4 + length)
        attrs[name] = (kind, buf.data[pos + 4:pos + 4 + length])
        pos += 4 + length


def _attr(part: _Part, name: str, fmt: str, required: bool = True) -> Optional[Tuple]:
    if name not in part.attrs:
        if required:
            raise Broken(f"header has no {name!r} attribute")
        return None
    value = part.attrs[name][1]
    if len(value) < struct.calcsize(fmt):
        raise Broken(f"attribute {name!r} is too short")
    return struct.unpack_from(fmt, value)


def _level_sizes(full: int, count: int, round_up: bool) -> List[int]:
    sizes = []
    for level in range(count):
        size = (full + (1 << level) - 1) >> level if round_up else full >> level
        sizes.append(max(size, 1))
    return sizes


def _level_count(full: int, round_up: bool) -> int:
    levels, size = 1, full
    while size > 1:
        size = (size + 1) // 2 if round_up else size // 2
        levels += 1
    return levels


def _tile_order(width: int, height: int, tile_x: int, tile_y: int, mode: int) -> List[Tuple[int, int, int, int]]:
    """(tx, ty, lx, ly) in offset-table order: levels (ly outer, lx inner for ripmaps), then rows, then columns."""
    level_mode, round_up = mode & 0x0F, bool(mode >> 4 & 1)
    if level_mode == 0:
        levels = [(0, 0, width, height)]
    elif level_mode == 1:
        n = _level_count(max(width, height), round_up)
        levels = [(lv, lv, w, h) for lv, (w, h) in enumerate(zip(_level_sizes(width, n, round_up),
                                                                  _level_sizes(height, n, round_up)))]
    elif level_mode == 2:
        nx, ny = _level_count(width, round_up), _level_count(height, round_up)
        ws, hs = _level_sizes(width, nx, round_up), _level_sizes(height, ny, round_up)
        levels = [(lx, ly, ws[lx], hs[ly]) for ly in range(ny) for lx in range(nx)]
    else:
        raise Broken(f"unknown tile level mode {level_mode}")
    order = []
    for lx, ly, w, h in levels:
        for ty in range(-(-h // tile_y)):
            for tx in range(-(-w // tile_x)):
                order.append((tx, ty, lx, ly))
    return order


def _describe_part(part: _Part, version: int) -> None:
    type_attr = part.attrs.get("type")
    if type_attr is not None:
        text = type_attr[1]
        part.kind = text.split(b"\x00")[0].decode("latin-1")
    else:
        part.kind = "tiledimage" if version & TILED else "scanlineimage"
    if part.kind not in ("scanlineimage", "tiledimage", "deepscanline", "deeptile"):
        raise Broken(f"unknown part type {part.kind!r}")
    xmin, ymin, xmax, ymax = _attr(part, "dataWindow", "<4i")  # type: ignore[misc]
    if xmax < xmin or ymax < ymin:
        raise Broken(f"empty dataWindow ({xmin},{ymin})-({xmax},{ymax})")
    (compression,) = _attr(part, "compression", "<B")  # type: ignore[misc]
    (line_order,) = _attr(part, "lineOrder", "<B")  # type: ignore[misc]
    if line_order > 2:
        raise Broken(f"unknown lineOrder {line_order}")
    count = _attr(part, "chunkCount", "<i", required=False)
    width, height = xmax - xmin + 1, ymax - ymin + 1
    part.ymin = ymin
    if part.kind in ("tiledimage", "deeptile"):
        tile_x, tile_y, mode = _attr(part, "tiles", "<IIB")  # type: ignore[misc]
        if tile_x == 0 or tile_y == 0:
            raise Broken("tile size 0")
        part.tiles = _tile_order(width, height, tile_x, tile_y, mode)
        computed: Optional[int] = len(part.tiles)
    else:
        # deep parts always carry chunkCount; their block heights are not checked
        part.lines = None if part.kind == "deepscanline" else LINES_PER_BLOCK.get(compression)
        computed = -(-height // part.lines) if part.lines else None
    if count is not None:
        part.chunks = count[0]
        if computed is not None and part.chunks != computed:
            raise Broken(f"chunkCount {part.chunks} differs from the {computed} chunks the header describes")
    elif computed is None:
        part.chunks = -1  # unknown compression: the table runs up to the first chunk (see check_exr)
    else:
        part.chunks = computed


def _chunk_header(f: BinaryIO, offset: int, size: int, part: _Part, multipart: bool, index: int
                  ) -> Tuple[int, Tuple[int, ...]]:
    """(end offset of the chunk, its coordinates) from the chunk header at `offset`."""
    pos = offset
    if multipart:
        (number,) = unpack_at("<i", f, pos, size, f"chunk {index} part number")
        pos += 4
    what = f"chunk {index} header"
    if part.kind == "scanlineimage":
        y, length = unpack_at("<ii", f, pos, size, what)
        coords: Tuple[int, ...] = (y,)
        data = length
        pos += 8
    elif part.kind == "tiledimage":
        *tile, length = unpack_at("<5i", f, pos, size, what)
        coords, data = tuple(tile), length
        pos += 20
    elif part.kind == "deepscanline":
        y, table, samples, _unpacked = unpack_at("<iQQQ", f, pos, size, what)
        coords, data = (y,), table + samples
        pos += 28
    else:
        *tile, table, samples, _unpacked = unpack_at("<4iQQQ", f, pos, size, what)
        coords, data = tuple(tile), table + samples
        pos += 40
    if data < 0:
        raise Broken(f"chunk {index} at byte {offset} has a negative data size")
    if multipart:
        coords = (number,) + coords
    return pos + data, coords


def _offsets(f: BinaryIO, pos: int, count: int, size: int, what: str) -> List[int]:
    return list(unpack_at(f"<{count}Q", f, pos, size, what)) if count else []


def _open_ended_table(f: BinaryIO, pos: int, size: int) -> List[int]:
    """A table whose length the header does not give: it ends where the earliest chunk begins."""
    offsets: List[int] = []
    first = size
    while pos + 8 * (len(offsets) + 1) <= min(first, size):
        (value,) = unpack_at("<Q", f, pos + 8 * len(offsets), size, "offset table")
        if value == 0:
            raise Broken(f"offset table entry {len(offsets)} is 0: the file was not finished")
        offsets.append(value)
        first = min(first, value)
    if not offsets or pos + 8 * len(offsets) != first:
        raise Broken("the offset table does not end where the first chunk begins")
    return offsets


def _expected(part: _Part, index: int) -> Optional[Tuple[int, ...]]:
    if part.tiles is not None:
        return part.tiles[index] if index < len(part.tiles) else None
    if part.lines:
        return (part.ymin + index * part.lines,)
    return None


def _slots(parts: List[_Part], tables: List[List[int]]) -> Iterator[Tuple[int, int, _Part, int]]:
    for number, (part, table) in enumerate(zip(parts, tables)):
        for index, offset in enumerate(table):
            yield number, index, part, offset


def check_exr(f: BinaryIO, size: int) -> None:
    buf = _HeaderBytes(f, size)
    buf.need(8)
    if buf.data[:4] != EXR_MAGIC:
        raise Broken("no OpenEXR magic number")
    (version,) = struct.unpack_from("<I", buf.data, 4)
    if version & 0xFF != 2:
        raise Broken(f"OpenEXR file format version {version & 0xFF} (only 2 exists)")
    if version & ~(0xFF | TILED | LONG_NAMES | DEEP | MULTIPART):
        raise Broken(f"unknown version flags 0x{version:x}")
    multipart = bool(version & MULTIPART)
    limit = 255 if version & LONG_NAMES else 31
    parts: List[_Part] = []
    pos = 8
    while True:
        attrs, pos = _read_header(buf, pos, limit)
        if not attrs:
            if multipart and parts:
                break
            raise Broken("empty header")
        parts.append(_Part(attrs))
        if not multipart:
            break
    for part in parts:
        _describe_part(part, version)
    tables: List[List[int]] = []
    for number, part in enumerate(parts):
        if part.chunks < 0:
            table = _open_ended_table(f, pos, size)
        else:
            table = _offsets(f, pos, part.chunks, size, f"offset table of part {number}")
        tables.append(table)
        pos += 8 * len(table)
    table_end = pos
    slots = list(_slots(parts, tables))
    for number, index, _part, offset in slots:
        if offset == 0:
            raise Broken(f"offset table entry {index} of part {number} is 0: the file was not finished")
        if not table_end <= offset < size:
            raise Broken(f"chunk {index} of part {number} starts at byte {offset}, outside the chunk area "
                         f"{table_end}..{size}")
    if len(slots) > FULL_WALK_LIMIT:
        # many small chunks (one scan line each): chunks never overlap, so only the last one in the file can run
        # past its end; the others are proven by distinct, increasing offsets at least a chunk header apart
        ordered = sorted(slots, key=lambda slot: slot[3])
        for before, after in zip(ordered, ordered[1:]):
            if after[3] - before[3] < 8:
                raise Broken(f"chunks {before[1]} and {after[1]} of part {before[0]} overlap (offsets {before[3]}, "
                             f"{after[3]})")
        slots = [ordered[0], ordered[-1]]
    for number, index, part, offset in slots:
        end, coords = _chunk_header(f, offset, size, part, multipart, index)
        if end > size:
            raise Broken(f"truncated: chunk {index} of part {number} ends at byte {end}, the file has {size}")
        expected = _expected(part, index)
        if multipart and coords[0] != number:
            raise Broken(f"chunk {index} of part {number} says it belongs to part {coords[0]}")
        if expected is not None and coords[int(multipart):] != expected:
            raise Broken(f"chunk {index} of part {number} holds block {coords[int(multipart):]}, expected {expected}")
