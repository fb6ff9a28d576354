"""Writers of small, valid frame files for the format-check tests, from each format's documented layout.

Pillow writes PNG, JPEG, TIFF and TGA; the OpenEXR package writes compressed EXR. Pillow writes no PSD, DPX or
Cineon, and the OpenEXR package writes no mipmaps (it leaves their table slots empty): those are written here, byte
by byte as the specifications lay them out (sources in stmpo/framecheck_*.py), and the tests cross-check what can be
cross-checked (Pillow decodes our PSDs, ffmpeg's own DPX writer is checked too).
"""
from __future__ import annotations

import struct
from typing import Dict, List, Optional, Sequence, Tuple

# ----------------------------------------------------------------------------------------------------------- PSD


def packbits(row: bytes) -> bytes:
    """PackBits (the RLE of PSD image data): literal runs only, which every reader accepts."""
    out = bytearray()
    for start in range(0, len(row), 128):
        piece = row[start:start + 128]
        out.append(len(piece) - 1)
        out += piece
    return bytes(out)


def psd_bytes(width: int, height: int, channels: int = 3, rle: bool = False, big: bool = False,
              fill: int = 7) -> bytes:
    """An 8-bit RGB(A) Photoshop file (PSB when `big`) with a merged image and no layers."""
    header = struct.pack(">4sH6xHIIHH", b"8BPS", 2 if big else 1, channels, height, width, 8, 3)
    sections = struct.pack(">I", 0) + struct.pack(">I", 0) + (struct.pack(">Q", 0) if big else struct.pack(">I", 0))
    rows = [bytes((fill + c * 40 + y) % 256 for _ in range(width)) for c in range(channels) for y in range(height)]
    if rle:
        packed = [packbits(r) for r in rows]
        fmt = ">%d%s" % (len(packed), "I" if big else "H")
        data = struct.pack(">H", 1) + struct.pack(fmt, *(len(p) for p in packed)) + b"".join(packed)
    else:
        data = struct.pack(">H", 0) + b"".join(rows)
    return header + sections + data


# ----------------------------------------------------------------------------------------------------------- EXR

def _attr(name: str, kind: str, value: bytes) -> bytes:
    return name.encode() + b"\0" + kind.encode() + b"\0" + struct.pack("<i", len(value)) + value


def _chlist(names: Sequence[str], pixel_type: int = 1) -> bytes:
    return b"".join(n.encode() + b"\0" + struct.pack("<iB3xii", pixel_type, 0, 1, 1) for n in sorted(names)) + b"\0"


def _header(width: int, height: int, compression: int, extra: Sequence[bytes] = (), ymin: int = 0,
            display: Optional[Tuple[int, int]] = None) -> bytes:
    box = struct.pack("<4i", 0, ymin, width - 1, ymin + height - 1)
    shown = struct.pack("<4i", 0, 0, display[0] - 1, display[1] - 1) if display else box
    return b"".join([
        _attr("channels", "chlist", _chlist("BGR")),
        _attr("compression", "compression", bytes([compression])),
        _attr("dataWindow", "box2i", box),
        _attr("displayWindow", "box2i", shown),  # parts of one file share it
        _attr("lineOrder", "lineOrder", b"\0"),
        _attr("pixelAspectRatio", "float", struct.pack("<f", 1.0)),
        _attr("screenWindowCenter", "v2f", struct.pack("<2f", 0, 0)),
        _attr("screenWindowWidth", "float", struct.pack("<f", 1.0)),
        *extra,
    ])


def exr_scanline(width: int, height: int, ymin: int = 0, chunk_count: bool = False) -> bytes:
    """An uncompressed half-float RGB scan-line EXR (one scan line per chunk)."""
    extra = [_attr("chunkCount", "int", struct.pack("<i", height))] if chunk_count else []
    head = b"\x76\x2f\x31\x01" + struct.pack("<I", 2) + _header(width, height, 0, extra, ymin) + b"\0"
    line = bytes(range(256)) * (width * 3 * 2 // 256) + bytes(width * 3 * 2 % 256)
    table_at = len(head)
    first = table_at + 8 * height
    chunks = b"".join(struct.pack("<ii", ymin + y, len(line)) + line for y in range(height))
    offsets = struct.pack(f"<{height}Q", *(first + y * (8 + len(line)) for y in range(height)))
    return head + offsets + chunks


def _levels(full: int, round_up: bool) -> List[int]:
    """Sizes of the resolution levels of one axis (OpenEXR technical introduction, "Mip-Maps and Rip-Maps")."""
    sizes = [full]
    while sizes[-1] > 1:
        sizes.append(-(-sizes[-1] // 2) if round_up else sizes[-1] // 2)
    return sizes


def exr_tiled(width: int, height: int, tile: int, mode: int) -> Tuple[bytes, List[Tuple[int, int, int, int]]]:
    """An uncompressed tiled EXR; `mode` is the tiledesc mode byte (level mode + 16 x rounding mode).
    Returns (bytes, the (tx, ty, lx, ly) of each chunk in table order). Edge tiles are cut to the level's size."""
    level_mode, round_up = mode & 15, bool(mode & 16)
    xs, ys = _levels(width, round_up), _levels(height, round_up)
    if level_mode == 0:
        levels = [(0, 0)]
    elif level_mode == 1:
        count = max(len(xs), len(ys))
        xs += [1] * (count - len(xs))
        ys += [1] * (count - len(ys))
        levels = [(n, n) for n in range(count)]
    else:
        levels = [(lx, ly) for ly in range(len(ys)) for lx in range(len(xs))]
    tiles = _attr("tiles", "tiledesc", struct.pack("<IIB", tile, tile, mode))
    head = b"\x76\x2f\x31\x01" + struct.pack("<I", 2 | 0x200) + _header(width, height, 0, [tiles]) + b"\0"
    order: List[Tuple[int, int, int, int]] = []
    pieces: List[bytes] = []
    for lx, ly in levels:
        w, h = xs[lx], ys[ly]
        for ty in range(-(-h // tile)):
            for tx in range(-(-w // tile)):
                tw, th = min(tile, w - tx * tile), min(tile, h - ty * tile)
                data = b"\x11\x22" * 3 * tw * th
                order.append((tx, ty, lx, ly))
                pieces.append(struct.pack("<5i", tx, ty, lx, ly, len(data)) + data)
    first = len(head) + 8 * len(order)
    offsets, pos = [], first
    for piece in pieces:
        offsets.append(pos)
        pos += len(piece)
    return head + struct.pack(f"<{len(order)}Q", *offsets) + b"".join(pieces), order


def exr_multipart(heights: Sequence[int], width: int = 4) -> bytes:
    """A multi-part scan-line EXR (uncompressed), one part per entry of `heights`."""
    headers = b""
    for index, height in enumerate(heights):
        extra = [_attr("name", "string", f"part{index}".encode()), _attr("type", "string", b"scanlineimage"),
                 _attr("chunkCount", "int", struct.pack("<i", height))]
        headers += _header(width, height, 0, extra, display=(width, max(heights))) + b"\0"
    head = b"\x76\x2f\x31\x01" + struct.pack("<I", 2 | 0x1000) + headers + b"\0"
    line = b"\x01\x02" * 3 * width
    total = sum(heights)
    pos = len(head) + 8 * total
    offsets: List[int] = []
    body = b""
    for part, height in enumerate(heights):
        for y in range(height):
            offsets.append(pos + len(body))
            body += struct.pack("<iii", part, y, len(line)) + line
    return head + struct.pack(f"<{total}Q", *offsets) + body


def exr_chunk_table(data: bytes) -> Tuple[int, int]:
    """(offset of the offset table, number of entries) of a single-part file written by the helpers above."""
    pos = 8
    while data[pos] != 0:
        name_end = data.index(b"\0", pos)
        type_end = data.index(b"\0", name_end + 1)
        (size,) = struct.unpack_from("<i", data, type_end + 1)
        pos = type_end + 5 + size
    table = pos + 1
    (first,) = struct.unpack_from("<Q", data, table)
    return table, (first - table) // 8


# ------------------------------------------------------------------------------------------------------ DPX/Cineon

def dpx_bytes(width: int, height: int, order: str = ">", bits: int = 10, packing: int = 1,
              size_field: Optional[int] = None) -> bytes:
    """An RGB DPX file (descriptor 50) with a 2048-byte header; `order` '>' writes SDPX, '<' writes XPDS."""
    if bits == 10 and packing == 1:
        line = -(-width * 3 // 3) * 4
    elif bits == 8:
        line = -(-width * 3 // 4) * 4
    else:
        line = -(-width * 3 * 2 // 4) * 4
    offset = 2048
    total = offset + line * height
    header = bytearray(offset)
    header[0:4] = b"SDPX" if order == ">" else b"XPDS"
    struct.pack_into(order + "I8sI", header, 4, offset, b"V2.0\0\0\0\0", 0)
    struct.pack_into(order + "I", header, 16, total if size_field is None else size_field)
    struct.pack_into(order + "HHII", header, 768, 0, 1, width, height)
    struct.pack_into(order + "BBBBHHIII", header, 800, 50, 2, 2, bits, packing, 0, offset, 0, 0)
    return bytes(header) + bytes((i * 7) % 256 for i in range(line * height))


def cineon_bytes(width: int, height: int, order: str = ">", size_field: Optional[int] = None) -> bytes:
    """A 3-channel 10-bit Cineon file (packing 5: three samples per 32-bit word), header 1024 bytes."""
    offset = 1024
    line = -(-width * 3 // 3) * 4
    total = offset + line * height
    header = bytearray(offset)
    header[0:4] = b"\x80\x2a\x5f\xd7" if order == ">" else b"\xd7\x5f\x2a\x80"
    struct.pack_into(order + "IIIII", header, 4, offset, 1024, 0, 0, total if size_field is None else size_field)
    header[24:28] = b"V4.5"
    header[193] = 3
    for channel in range(3):
        base = 196 + 28 * channel
        header[base + 1] = channel + 1
        header[base + 2] = 10
        struct.pack_into(order + "II", header, base + 4, width, height)
    header[681] = 5
    return bytes(header) + bytes((i * 13) % 256 for i in range(line * height))


def cut_points(size: int, marks: Dict[str, int] = {}) -> List[int]:  # noqa: B006 - read only
    """Truncation offsets covering every class: inside the header (each of the first 40 bytes), around every mark
    (structure boundaries the caller names), spread through the middle (40 points), and each of the last 40 bytes."""
    points = set(range(1, min(size, 41)))
    points.update(range(max(1, size - 40), size))
    points.update(range(1, size, max(1, size // 40)))
    for mark in marks.values():
        points.update(p for p in range(mark - 3, mark + 4) if 0 < p < size)
    return sorted(points)
