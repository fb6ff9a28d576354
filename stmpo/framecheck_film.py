"""Structural checks for the film scan formats After Effects writes: DPX (SMPTE 268M) and Kodak Cineon.

Both start with a magic number that also tells the byte order, and both carry the total file size in their header:
the writer knows it before the first byte of pixels, so a file cut short has a size field larger than the file.

- DPX (SMPTE 268M-2003 §3, "Generic file information"): magic `SDPX` (big-endian) or `XPDS` (little-endian) at 0,
  offset to image data (uint32) at 4, version (`V1.0`/`V2.0`) at 8, total file size (uint32) at 16. Image
  information at 768: orientation (uint16), number of image elements (uint16) at 770, pixels per line (uint32) at
  772, lines per element (uint32) at 776; image element 1 at 780 (72 bytes): descriptor at 800, bit size at 803,
  packing (uint16) at 804, encoding (uint16) at 806, offset to its data (uint32) at 808, end-of-line padding at 812.
- Cineon (Kodak "4.5 DRAFT - Image File Format Proposal for Digital Pictures"): magic 0x802A5FD7 at 0 (bytes
  80 2a 5f d7 big-endian, d7 5f 2a 80 little-endian), offset to image data (uint32) at 4, total file size (uint32)
  at 20, version at 24; number of channels at 193, channel 1 bits per pixel at 198, pixels per line at 200, lines at
  204; packing at 681 (5 = 10-bit, three samples per 32-bit word), end-of-line padding (uint32) at 684.

The checks: magic, size field == real size, image data offset inside the file, and where the packing is one of the
common uncompressed layouts, the first element's pixel bytes (from width, height, components, bit depth, packing and
line padding) inside the file.
"""
from __future__ import annotations

import struct
from typing import BinaryIO, Optional

from stmpo.framebytes import Broken, read_at

__all__ = ["check_dpx", "check_cineon", "DPX_MAGICS", "CINEON_MAGICS"]

DPX_MAGICS = {b"SDPX": ">", b"XPDS": "<"}
CINEON_MAGICS = {b"\x80\x2a\x5f\xd7": ">", b"\xd7\x5f\x2a\x80": "<"}
# DPX image element descriptor -> components per pixel (SMPTE 268M table 1; the common ones)
_DPX_COMPONENTS = {1: 1, 2: 1, 3: 1, 4: 1, 6: 1, 8: 1, 50: 3, 51: 4, 52: 4, 100: 2, 101: 3, 102: 3, 103: 4}


def _size_field(order: str, header: bytes, at: int, size: int, name: str) -> None:
    (declared,) = struct.unpack_from(order + "I", header, at)
    if declared != size:
        if declared > size:
            raise Broken(f"truncated: the {name} header gives {declared} bytes, the file has {size}")
        raise Broken(f"the {name} header gives {declared} bytes but the file has {size} (damaged header?)")


def _dpx_line_bytes(width: int, components: int, bits: int, packing: int) -> Optional[int]:
    samples = width * components
    if bits == 8:
        return -(-samples // 4) * 4
    if bits == 10 and packing in (1, 2):  # filled: three 10-bit samples per 32-bit word
        return -(-samples // 3) * 4
    if bits in (10, 12) and packing == 0:  # packed bit stream, lines padded to 32 bits
        return -(-(samples * bits) // 32) * 4
    if bits in (12, 16) and packing in (0, 1, 2):
        return -(-(samples * 2) // 4) * 4
    return None


def check_dpx(f: BinaryIO, size: int) -> None:
    header = read_at(f, 0, 1664 if size >= 1664 else 32, size, "DPX file information header")
    order = DPX_MAGICS.get(header[:4])
    if order is None:
        raise Broken("no DPX magic number (SDPX/XPDS)")
    if size < 1664:
        raise Broken(f"truncated: the DPX generic header needs 1664 bytes, the file has {size}")
    (data_offset,) = struct.unpack_from(order + "I", header, 4)
    _size_field(order, header, 16, size, "DPX")
    if not 768 <= data_offset <= size:
        raise Broken(f"the image data offset {data_offset} lies outside the file ({size} bytes)")
    elements, width, height = struct.unpack_from(order + "HII", header, 770)
    if not 1 <= elements <= 8 or width == 0 or height == 0:
        raise Broken(f"DPX image information is damaged ({elements} elements, {width}x{height})")
    descriptor, _transfer, _colorimetric, bits, packing, encoding, element_offset, eol_padding = struct.unpack_from(
        order + "BBBBHHII", header, 800)
    if encoding != 0 or descriptor not in _DPX_COMPONENTS:
        return  # RLE or an unusual descriptor: the size field is the proof we have
    line = _dpx_line_bytes(width, _DPX_COMPONENTS[descriptor], bits, packing)
    if line is None:
        return
    if eol_padding == 0xFFFFFFFF:
        eol_padding = 0
    start = element_offset or data_offset
    end = start + height * (line + eol_padding)
    if end > size:
        raise Broken(f"truncated: element 1's {width}x{height} {bits}-bit pixels end at byte {end}, "
                     f"the file has {size}")


def check_cineon(f: BinaryIO, size: int) -> None:
    header = read_at(f, 0, 712 if size >= 712 else 4, size, "Cineon header")
    order = CINEON_MAGICS.get(header[:4])
    if order is None:
        raise Broken("no Cineon magic number (0x802A5FD7)")
    if size < 712:
        raise Broken(f"truncated: the Cineon header needs at least 712 bytes, the file has {size}")
    (data_offset,) = struct.unpack_from(order + "I", header, 4)
    _size_field(order, header, 20, size, "Cineon")
    if not 712 <= data_offset <= size:
        raise Broken(f"the image data offset {data_offset} lies outside the file ({size} bytes)")
    channels = header[193]
    bits = header[198]
    width, height = struct.unpack_from(order + "II", header, 200)
    packing = header[681]
    (eol_padding,) = struct.unpack_from(order + "I", header, 684)
    if not 1 <= channels <= 8 or width == 0 or height == 0:
        raise Broken(f"Cineon image information is damaged ({channels} channels, {width}x{height})")
    if bits != 10 or packing != 5:
        return  # other packings are rare; the size field is the proof we have
    if eol_padding == 0xFFFFFFFF:
        eol_padding = 0
    end = data_offset + height * (-(-(width * channels) // 3) * 4 + eol_padding)
    if end > size:
        raise Broken(f"truncated: the {width}x{height} 10-bit pixels end at byte {end}, the file has {size}")
