"""Structural checks for the raster formats Pillow reads: PNG, JPEG, TIFF, Targa (TGA) and Photoshop (PSD/PSB).

Pillow's `Image.open` is lazy: it parses the header and stops, so it proves the file is of the format but not that
it is whole. Each check here opens the file with Pillow (restricted to the one format, so a JPEG named .png fails)
and then proves the END of the data is in the file, from the format's own structure, without decoding pixels:

- PNG: every chunk (length, type, data, CRC-32) lies inside the file and its CRC matches, IHDR first, at least one
  IDAT, and the IEND chunk with its CRC present (PNG spec, ISO/IEC 15948 §5.3, §11.2). Bytes after IEND are ignored.
- JPEG: the marker segments from SOI are walked (each length inside the file), every entropy-coded scan is followed
  by a marker, and the walk reaches EOI with a frame header (SOFn) and at least one scan (SOS) seen (ITU T.81 B.1).
- TIFF: every page's strip (or tile) offsets + byte counts lie inside the file, none is empty, their count matches
  the image size, and uncompressed strips hold exactly their rows (TIFF 6.0 §3, §15).
- TGA: the header's width x height x depth (after the image ID and colour map) for uncompressed images, the RLE
  packets walked to the last pixel for RLE images; what follows the pixels must be nothing or a whole TGA 2.0
  footer (`TRUEVISION-XFILE.`) whose extension/developer offsets lie inside the file (Truevision TGA 2.0 spec).
- PSD/PSB: header, colour-mode data, image resources and layer/mask sections by their lengths, then the merged
  image data: raw (channels x rows x row bytes) or RLE (the row byte-count table, then that many bytes)
  (Adobe Photoshop File Formats Specification, "File Header Section" .. "Image Data Section").

Every `check_*` takes an open binary file and its size in bytes and raises `stmpo.framebytes.Broken` (one line).
PNG and JPEG take `pillow=False` to skip Pillow's header parse and keep only our walk, which alone proves the whole
structure (signature, every chunk/segment and its CRC, the end marker): for a caller checking a stream of files from
one writer, whose first file Pillow already read (the executor: the first frame of every aerender invocation). For
a 64x36 frame Pillow's parse is ~70 us of ~120 us (benchmarks/bench_executor_overhead.py).
`decode(f, fmt)` additionally decodes every pixel with Pillow (slow: for a deep check, e.g. of old files).
"""
from __future__ import annotations

import io
import re
import struct
import warnings
import zlib
from typing import BinaryIO, List, Sequence

from PIL import Image

from stmpo.framebytes import Broken, read_at, unpack_at

__all__ = ["check_png", "check_jpeg", "check_tiff", "check_tga", "check_psd", "decode", "walk_png", "walk_jpeg",
           "PILLOW_FORMATS"]

# our format name -> Pillow's format id
PILLOW_FORMATS = {"png": "PNG", "jpeg": "JPEG", "tiff": "TIFF", "tga": "TGA", "psd": "PSD"}

# Pillow warns (UserWarning) about every damaged TIFF tag it reads; a damaged file is a Verdict here, not a warning
# on the render's stderr. Scoped to Pillow's TIFF plugin, which the product uses for nothing else.
warnings.filterwarnings("ignore", category=UserWarning, module=r"PIL\.TiffImagePlugin")

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
TGA_FOOTER_SIGNATURE = b"TRUEVISION-XFILE.\x00"


def _pillow_open(fp: BinaryIO, fmt: str) -> "Image.Image":
    """Open with Pillow restricted to one format; Broken (with Pillow's reason) when it refuses."""
    try:
        return Image.open(fp, formats=[PILLOW_FORMATS[fmt]])
    except Exception as exc:  # Pillow raises many types (UnidentifiedImageError, SyntaxError, struct.error ...)
        raise Broken(f"not a readable {fmt.upper()} header ({type(exc).__name__}: {exc})") from None


def decode(f: BinaryIO, fmt: str) -> None:
    """Decode every pixel with Pillow (truncated data raises: LOAD_TRUNCATED_IMAGES is left at its default)."""
    f.seek(0)
    image = _pillow_open(f, fmt)
    try:
        for index in range(getattr(image, "n_frames", 1)):
            image.seek(index)
            image.load()
    except Exception as exc:
        raise Broken(f"pixel data does not decode ({type(exc).__name__}: {exc})") from None


# ------------------------------------------------------------------------------------------------------------ PNG

def check_png(f: BinaryIO, size: int, pillow: bool = True) -> None:
    f.seek(0)
    walk_png(f.read(), pillow)


def walk_png(data: bytes, pillow: bool = True) -> None:
    """``check_png`` on the file's bytes already read whole (``stmpo.framecheck`` reads a PNG once)."""
    size = len(data)  # what we actually hold (the file may have changed since it was measured)
    if not data.startswith(PNG_SIGNATURE):
        raise Broken("no PNG signature")
    if pillow:
        _pillow_open(io.BytesIO(data), "png")
    view = memoryview(data)
    pos = len(PNG_SIGNATURE)
    index = 0
    seen_idat = False
    while True:
        if pos + 8 > size:
            raise Broken(f"truncated: chunk {index} header at byte {pos} is incomplete (file has {size} bytes)")
        length, kind = struct.unpack_from(">I4s", data, pos)
        if length > 0x7FFFFFFF:
            raise Broken(f"chunk {index} at byte {pos} has an impossible length {length}")
        end = pos + 12 + length
        if end > size:
            raise Broken(f"truncated: chunk {index} ({kind!r}) at byte {pos} ends at {end}, the file has {size}")
        (crc,) = struct.unpack_from(">I", data, end - 4)
        if zlib.crc32(view[pos + 4:end - 4]) != crc:
            raise Broken(f"chunk {index} ({kind!r}) at byte {pos} fails its CRC")
        if index == 0 and kind != b"IHDR":
            raise Broken(f"the first chunk is {kind!r}, not IHDR")
        if kind == b"IDAT":
            seen_idat = True
        elif kind == b"IEND":
            break
        pos = end
        index += 1
    if not seen_idat:
        raise Broken("no IDAT chunk (no image data)")


# ----------------------------------------------------------------------------------------------------------- JPEG

# the end of an entropy-coded segment: 0xFF (fill bytes allowed) followed by a byte that is not a stuffed zero,
# not a restart marker RST0-7 and not another fill byte
_SCAN_END = re.compile(rb"\xff+[^\x00\xd0-\xd7\xff]")
_SOF = frozenset(range(0xC0, 0xD0)) - {0xC4, 0xC8, 0xCC}  # SOF0..SOF15 except DHT, JPG, DAC


def check_jpeg(f: BinaryIO, size: int, pillow: bool = True) -> None:
    f.seek(0)
    walk_jpeg(f.read(), pillow)


def walk_jpeg(data: bytes, pillow: bool = True) -> None:
    """``check_jpeg`` on the file's bytes already read whole (``stmpo.framecheck`` reads a JPEG once)."""
    size = len(data)
    if data[:2] != b"\xff\xd8":
        raise Broken("no JPEG SOI marker")
    if pillow:
        _pillow_open(io.BytesIO(data), "jpeg")
    pos = 2
    seen_sof = seen_sos = False
    while True:
        while pos < size and data[pos] == 0xFF and pos + 1 < size and data[pos + 1] == 0xFF:
            pos += 1  # fill bytes before a marker
        if pos + 2 > size:
            raise Broken(f"truncated: no EOI marker (the file ends at byte {size} inside the marker stream)")
        if data[pos] != 0xFF:
            raise Broken(f"expected a marker at byte {pos}, found 0x{data[pos]:02x}")
        marker = data[pos + 1]
        if marker == 0xD9:  # EOI
            break
        if 0xD0 <= marker <= 0xD7 or marker == 0x01:  # stand-alone markers
            pos += 2
            continue
        if pos + 4 > size:
            raise Broken(f"truncated: segment 0x{marker:02x} at byte {pos} has no length")
        (length,) = struct.unpack_from(">H", data, pos + 2)
        if length < 2:
            raise Broken(f"segment 0x{marker:02x} at byte {pos} has an impossible length {length}")
        end = pos + 2 + length
        if end > size:
            raise Broken(f"truncated: segment 0x{marker:02x} at byte {pos} ends at {end}, the file has {size}")
        if marker in _SOF:
            if length < 8:
                raise Broken(f"frame header at byte {pos} is too short")
            _, height, width = struct.unpack_from(">BHH", data, pos + 4)
            if width == 0:
                raise Broken("frame header gives width 0")
            seen_sof = True
            pos = end
        elif marker == 0xDA:  # SOS: the entropy-coded data follows the header
            seen_sos = True
            match = _SCAN_END.search(data, end)
            if match is None:
                raise Broken(f"truncated: the scan starting at byte {end} has no end (no marker follows it)")
            pos = match.end() - 2
        else:
            pos = end
    if not seen_sof:
        raise Broken("no frame header (SOFn)")
    if not seen_sos:
        raise Broken("no scan (SOS): the file holds no image data")


# ----------------------------------------------------------------------------------------------------------- TIFF

_STRIP_OFFSETS, _STRIP_COUNTS, _ROWS_PER_STRIP = 273, 279, 278
_TILE_WIDTH, _TILE_LENGTH, _TILE_OFFSETS, _TILE_COUNTS = 322, 323, 324, 325
_BITS_PER_SAMPLE, _SAMPLES_PER_PIXEL, _COMPRESSION, _PLANAR = 258, 277, 259, 284


def _as_list(value: object) -> List[int]:
    if isinstance(value, (tuple, list)):
        return [int(v) for v in value]
    return [int(value)]  # type: ignore[call-overload]


def check_tiff(f: BinaryIO, size: int) -> None:
    f.seek(0)
    image = _pillow_open(f, "tiff")
    try:
        pages = getattr(image, "n_frames", 1)
    except Exception as exc:
        raise Broken(f"the page (IFD) chain is broken ({type(exc).__name__}: {exc})") from None
    for page in range(pages):
        try:
            image.seek(page)
            tags = dict(image.tag_v2)  # type: ignore[attr-defined]
        except Exception as exc:
            raise Broken(f"page {page}: IFD unreadable ({type(exc).__name__}: {exc})") from None
        _check_tiff_page(tags, image.size, page, size)


def _check_tiff_page(tags: dict, dims: Sequence[int], page: int, size: int) -> None:
    width, height = dims
    samples = int(tags.get(_SAMPLES_PER_PIXEL, 1))
    planar = int(tags.get(_PLANAR, 1)) == 2
    planes = samples if planar else 1
    if _TILE_OFFSETS in tags:
        offsets, counts = _as_list(tags[_TILE_OFFSETS]), _as_list(tags.get(_TILE_COUNTS, ()))
        tw, th = int(tags.get(_TILE_WIDTH, 0)), int(tags.get(_TILE_LENGTH, 0))
        if tw <= 0 or th <= 0:
            raise Broken(f"page {page}: tiled without a tile size")
        expected = -(-width // tw) * -(-height // th) * planes
        what = "tile"
    elif _STRIP_OFFSETS in tags:
        offsets, counts = _as_list(tags[_STRIP_OFFSETS]), _as_list(tags.get(_STRIP_COUNTS, ()))
        rows = min(int(tags.get(_ROWS_PER_STRIP, height) or height), max(height, 1))
        expected = -(-height // rows) * planes
        what = "strip"
    else:
        raise Broken(f"page {page}: no strip or tile offsets (no image data)")
    if len(offsets) != len(counts):
        raise Broken(f"page {page}: {len(offsets)} {what} offsets but {len(counts)} byte counts")
    if len(offsets) != expected:
        raise Broken(f"page {page}: {len(offsets)} {what}s where a {width}x{height} image needs {expected}")
    for index, (offset, count) in enumerate(zip(offsets, counts)):
        if count <= 0:
            raise Broken(f"page {page}: {what} {index} is empty")
        if offset + count > size:
            raise Broken(f"truncated: page {page} {what} {index} needs bytes {offset}..{offset + count}, "
                         f"the file has {size}")
    if what == "strip" and int(tags.get(_COMPRESSION, 1)) == 1:
        bits = _as_list(tags.get(_BITS_PER_SAMPLE, 1))
        row_bits = width * (bits[0] if planar else sum(bits) if len(bits) == samples else bits[0] * samples)
        row_bytes = -(-row_bits // 8)
        for index, count in enumerate(counts):
            strip_rows = min(rows, height - (index % (len(counts) // planes)) * rows)
            if count != strip_rows * row_bytes:
                raise Broken(f"page {page}: uncompressed strip {index} holds {count} bytes, its {strip_rows} rows "
                             f"need {strip_rows * row_bytes}")


# ------------------------------------------------------------------------------------------------------------ TGA

def check_tga(f: BinaryIO, size: int) -> None:
    header = read_at(f, 0, 18, size, "TGA header")
    id_len, cmap_type, image_type = header[0], header[1], header[2]
    _first, cmap_len, cmap_bits = struct.unpack_from("<HHB", header, 3)
    width, height, depth = struct.unpack_from("<HHB", header, 12)
    if image_type not in (1, 2, 3, 9, 10, 11):
        raise Broken(f"TGA image type {image_type} is not a colour-mapped, true-colour or grey image")
    if depth not in (8, 15, 16, 24, 32):
        raise Broken(f"TGA pixel depth {depth} is not 8, 15, 16, 24 or 32")
    if width == 0 or height == 0:
        raise Broken(f"TGA image is {width}x{height}")
    f.seek(0)
    _pillow_open(f, "tga")
    start = 18 + id_len + (cmap_len * ((cmap_bits + 7) // 8) if cmap_type == 1 else 0)
    bpp = (depth + 7) // 8
    pixels = width * height
    if image_type < 9:
        end = start + pixels * bpp
        if end > size:
            raise Broken(f"truncated: {width}x{height}x{depth}-bit pixels end at byte {end}, the file has {size}")
    else:
        end = _tga_rle_end(read_at(f, start, min(size - start, pixels * (bpp + 1)), size, "TGA RLE data")
                           if start <= size else b"", start, pixels, bpp, size)
    _check_tga_tail(f, end, size)


def _tga_rle_end(data: bytes, start: int, pixels: int, bpp: int, size: int) -> int:
    """Walk RLE packets until `pixels` pixels are covered; returns the file offset after the last packet."""
    pos, have, n = 0, 0, len(data)
    while have < pixels:
        if pos >= n:
            raise Broken(f"truncated: RLE data ends after {have} of {pixels} pixels (file has {size} bytes)")
        head = data[pos]
        count = (head & 0x7F) + 1
        pos += 1 + (bpp if head & 0x80 else count * bpp)
        have += count
    if pos > n:
        raise Broken(f"truncated: the last RLE packet ends at byte {start + pos}, the file has {size}")
    return start + pos


def _check_tga_tail(f: BinaryIO, end: int, size: int) -> None:
    tail = size - end
    if tail == 0:
        return
    if tail < 26:
        raise Broken(f"{tail} bytes after the pixels are no TGA 2.0 footer (a footer cut short?)")
    footer = read_at(f, size - 26, 26, size, "TGA footer")
    if footer[8:] != TGA_FOOTER_SIGNATURE:
        raise Broken(f"{tail} bytes after the pixels without a TGA 2.0 footer (truncated footer?)")
    ext, dev = struct.unpack_from("<II", footer, 0)
    for name, offset in (("extension area", ext), ("developer directory", dev)):
        if offset and not end <= offset < size - 26:
            raise Broken(f"TGA footer's {name} offset {offset} lies outside bytes {end}..{size - 26}")
    if ext:
        (ext_size,) = unpack_at("<H", f, ext, size, "TGA extension area size")
        if ext + ext_size > size - 26:
            raise Broken(f"truncated: the TGA extension area ({ext_size} bytes at {ext}) runs into the footer")


# ------------------------------------------------------------------------------------------------------------ PSD

def check_psd(f: BinaryIO, size: int) -> None:
    header = read_at(f, 0, 26, size, "PSD header")
    signature, version, channels, height, width, depth, _mode = struct.unpack(">4sH6xHIIHH", header)
    if signature != b"8BPS" or version not in (1, 2):
        raise Broken("no PSD/PSB signature")
    big = version == 2
    if not big:  # Pillow reads PSD, not PSB (version 2, "large document format"): that header is ours alone
        f.seek(0)
        _pillow_open(f, "psd")
    pos = 26
    for section in ("colour mode data", "image resources", "layer and mask information"):
        fmt = ">Q" if big and section.startswith("layer") else ">I"
        (length,) = unpack_at(fmt, f, pos, size, f"{section} length")
        pos += struct.calcsize(fmt) + length
        if pos > size:
            raise Broken(f"truncated: the {section} section ends at byte {pos}, the file has {size}")
    (compression,) = unpack_at(">H", f, pos, size, "image data compression")
    pos += 2
    rows = channels * height
    row_bytes = (width * depth + 7) // 8
    if compression == 0:
        end = pos + rows * row_bytes
    elif compression == 1:
        fmt = ">%d%s" % (rows, "I" if big else "H")
        counts = unpack_at(fmt, f, pos, size, "RLE row byte counts")
        end = pos + struct.calcsize(fmt) + sum(counts)
    elif compression in (2, 3):  # ZIP: the stream runs to the end of the file; a deflate stream must be there
        end = pos + 2
    else:
        raise Broken(f"unknown PSD image-data compression {compression}")
    if end > size:
        raise Broken(f"truncated: the image data ends at byte {end}, the file has {size}")
