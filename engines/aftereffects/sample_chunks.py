"""Binary chunks for the sample .aepx, laid out as After Effects writes them (the layouts ``aeproject.chunks``
documents, with their sources), so the reader, the preflight and the simulator meet the real shape.

Each function returns the chunk's bytes; ``sample_project`` writes them as lowercase hex ``bdata``. Times are
stored as After Effects stores them, a dividend over a divisor in seconds (here: frames x 1000 over fps x 1000).
"""
from __future__ import annotations

import struct
from typing import Sequence, Tuple

ITEM_FOLDER, ITEM_COMP, ITEM_FOOTAGE = 1, 4, 7
RENDER_SETTINGS_SIZE = 2246
OUTPUT_SETTINGS_SIZE = 128
INVISIBLE_FONT = "AdobeInvisFont"


def _put(buf: bytearray, at: int, fmt: str, *values: object) -> None:
    struct.pack_into(">" + fmt, buf, at, *values)


def _time(frames: int, fps: float) -> Tuple[int, int]:
    """(dividend, divisor) of ``frames`` at ``fps`` in seconds: exact for rates with up to three decimals."""
    return int(frames * 1000), int(round(fps * 1000))


def _rate_parts(fps: float) -> Tuple[int, int]:
    whole = int(fps)
    return whole, int(round((fps - whole) * 65536)) & 0xFFFF


def idta(item_type: int, item_id: int) -> bytes:
    """84 bytes: type (u16) at 0, id (u32) at 16, flags at 20 (comps 0x20, footage 0x30), label at 58."""
    buf = bytearray(84)
    _put(buf, 0, "H", item_type)
    _put(buf, 16, "I", item_id)
    _put(buf, 20, "I", {ITEM_COMP: 0x20, ITEM_FOOTAGE: 0x30}.get(item_type, 0))
    buf[58] = 15 if item_type == ITEM_COMP else 1
    return bytes(buf)


def cdta(width: int, height: int, fps: float, duration_frames: int, display_start_frame: int = 0,
         work_area: Tuple[int, int] = (0, -1)) -> bytes:
    """204 bytes. ``work_area`` is (first, last) in frames from the display start; last -1 means the comp's end."""
    buf = bytearray(204)
    _put(buf, 0, "HH", 1, 1)  # resolution factor
    _put(buf, 5, "H", 2)  # time scale
    _put(buf, 8, "I", int(round(fps * 512)))
    _put(buf, 16, "I", 600)
    dividend, divisor = _time(0, fps)
    _put(buf, 20, "iI", dividend, divisor)
    _put(buf, 28, "II", *_time(work_area[0], fps))
    if work_area[1] < 0:
        _put(buf, 36, "II", 0xFFFFFFFF, 600)
    else:
        _put(buf, 36, "II", *_time(work_area[1] + 1, fps))
    _put(buf, 44, "II", *_time(duration_frames, fps))
    _put(buf, 140, "HHII", width, height, 1, 1)
    _put(buf, 156, "HH", *_rate_parts(fps))
    _put(buf, 164, "iI", *_time(display_start_frame, fps))
    _put(buf, 174, "H", 180)  # shutter angle
    _put(buf, 196, "ii", 128, 16)
    return bytes(buf)


def ldta(layer_id: int, name: str, source_id: int, fps: float, duration_frames: int, layer_type: int = 0) -> bytes:
    """160 bytes: id at 0, start/in/out times, source item id at 40, name (31 chars, windows-1252) at 64, layer
    type at 131 (0 AV, 3 text)."""
    buf = bytearray(160)
    _put(buf, 0, "IH", layer_id, 2)
    _put(buf, 8, "i", 1)
    _put(buf, 12, "iI", *_time(0, fps))
    _put(buf, 20, "iI", *_time(0, fps))
    _put(buf, 28, "iI", *_time(duration_frames, fps))
    buf[39] = 0x07  # enabled, audio, effects
    _put(buf, 40, "I", source_id)
    short = name.encode("windows-1252", "replace")[:31]
    buf[64:64 + len(short)] = short
    _put(buf, 108, "I", 1)  # stretch divisor
    buf[131] = layer_type
    return bytes(buf)


def sspc(fourcc: str, width: int, height: int, duration_frames: int = 0, fps: float = 0.0) -> bytes:
    """184 bytes: format at 22, width 32, height 36, duration 38/42 (0/1 for a still), native rate at 56."""
    buf = bytearray(184)
    buf[22:26] = fourcc.encode("latin-1")[:4].ljust(4, b"\0")
    _put(buf, 32, "H", width)
    _put(buf, 36, "H", height)
    if duration_frames and fps:
        _put(buf, 38, "II", *_time(duration_frames, fps))
        _put(buf, 56, "IH", *_rate_parts(fps))
    else:
        _put(buf, 38, "II", 0, 1)
    _put(buf, 50, "I", 600)
    return bytes(buf)


def opti(fourcc: str, file_name: str) -> bytes:
    """A file source's options: format 4cc, kind 1, then the file name (as After Effects keeps it)."""
    name = file_name.encode("utf-8", "replace")[:255]
    return fourcc.encode("latin-1")[:4].ljust(4, b"\0") + struct.pack(">H", 1) + bytes(52) + name + bytes(
        256 - len(name))


def lhd3(count: int, item_size: int, kind: int = 1) -> bytes:
    """52 bytes: count (u16) at 10, item size (u16) at 18, kind at 23 (1 for render-queue lists)."""
    buf = bytearray(52)
    buf[0:4] = b"\x00\xd0\x0b\xee"
    _put(buf, 10, "H", count)
    _put(buf, 12, "I", 1)
    _put(buf, 18, "H", item_size)
    buf[23] = kind
    _put(buf, 24, "II", 1, 1)
    return bytes(buf)


def render_settings(comp_id: int, queued: bool, fps: float, span: Tuple[int, int] = (0, 0),
                    template: str = "Best Settings") -> bytes:
    """One 2246-byte render-settings item. ``span`` = (first frame from the comp start, frame count); (0, 0)
    renders the length of the comp (time span source 0), else a custom span (source 2)."""
    buf = bytearray(RENDER_SETTINGS_SIZE)
    _put(buf, 8, "II", comp_id, 2 if queued else 1)
    _put(buf, 20, "II", *_time(span[0], fps))
    _put(buf, 28, "II", *_time(span[1], fps))
    _put(buf, 44, "HH", *_rate_parts(fps))
    _put(buf, 54, "HHHH", 0, 2, 1, 1)  # pulldown off, quality best, full resolution
    raw = template.encode("ascii", "replace")[:63]
    buf[90:90 + len(raw)] = raw
    _put(buf, 2148, "H", 2 if span[1] else 0)
    _put(buf, 2180, "H", 0xFFFF)  # colour depth: current settings
    return bytes(buf)


def roou(format_id: str, width: int, height: int, codec: str = "\0\0\0\0") -> bytes:
    """154 bytes: magic, codec 4cc at 4, starting number at 16, format 4cc at 26, width 36, height 40."""
    buf = bytearray(154)
    buf[0:4] = b"FXTC"
    buf[4:8] = codec.encode("latin-1")[:4].ljust(4, b"\0")
    buf[26:30] = format_id.encode("latin-1")[:4].ljust(4, b" ")
    _put(buf, 36, "H", width)
    _put(buf, 40, "H", height)
    buf[71] = 32  # millions of colours + alpha
    return bytes(buf)


def rout(queued: Sequence[bool]) -> bytes:
    """4-byte header, then 4 bytes per item whose first byte's bit 6 is the Render checkbox."""
    return bytes(4) + b"".join((b"\x40" if q else b"\x00") + bytes(3) for q in queued)


def _cos_string(text: str) -> bytes:
    raw = b"\xfe\xff" + text.encode("utf-16-be")
    return b"(" + raw.replace(b"\\", b"\\\\").replace(b"(", b"\\(").replace(b")", b"\\)") + b")"


def btdk(text: str, fonts: Sequence[str], unused: Sequence[str] = ("MyriadPro-Regular",)) -> bytes:
    """A text layer's COS data: a font set (``fonts``, an ``unused`` default font and After Effects' invisible
    font) and one text document with one character run per font in ``fonts``."""
    font_set = list(fonts) + [f for f in unused if f not in fonts] + [INVISIBLE_FONT]
    entries = b" ".join(b"<< /0 << /99 /CoolTypeFont /0 << /0 " + _cos_string(f) + b" /2 0 >> >> >>"
                        for f in font_set)
    runs = b" ".join(b"<< /0 << /0 << /0 " + _cos_string("") + b" /5 0 /6 << /0 %d /1 36.0 /2 false >> >> >> /1 %d >>"
                     % (k, max(1, len(text) // max(1, len(fonts)))) for k in range(len(fonts)))
    return (b" /98 << /0 7 >> /0 << /1 << /0 [ " + entries + b" ] >> >> /1 << /1 [ << /0 << /0 "
            + _cos_string(text + "\r") + b" /6 << /0 [ " + runs + b" ] >> >> >> ] >>")
