"""Decode the binary chunks of an After Effects project (the ``bdata`` hex of an .aepx element) into plain values.

Every layout here is a fact taken from public readers, never their code, and checked against real files:

- py_aep's Kaitai description ``src/py_aep/kaitai/aep.ksy`` (github.com/forticheprod/py-aep): ``cdta``, ``idta``,
  ``ldta``, ``sspc``, ``opti``, ``lhd3``, the render-queue ``ldat`` items (render settings, 2246 bytes; output
  module settings, 128 bytes), ``Roou``, ``Rout`` and ``head``; its ``parsers/render_queue.py`` and
  ``parsers/output_module.py`` describe how ``LRdr``/``LItm``/``LOm`` group them (see ``aeproject.reader``).
- aepx.js ``src/parser.js`` (github.com/actumn/aepx.js) gives the same offsets for ``cdta`` (width 140, height 142,
  frame rate 156 as 16.16, duration 44/48, display start 164/168), ``idta`` (type 0, id 16), ``ldta`` (id 0,
  source id 40, name 64..96) and ``sspc``; its decoded example outputs agree with ours (tests/test_aeproject.py).
- Checked by hand against real .aepx files (values kept in tests/fixtures/aeproject): aepx.js's ``1layer.aepx``
  (AE 15.0, 1920x1080 60 fps, 30 s), ``testProject.aepx`` (2400x3840 at 29.97 fps, 2894 frames; layer source ids
  that name the footage items), nexrender's ``nm05ae12.aepx`` (an empty render queue whose settings items are 514
  bytes: an older layout) and an After Effects 2025 file (empty queue, 2246-byte items).

Uncertain, and therefore used only where a wrong value cannot do harm: the render-settings item is decoded only
when its size is the 2246 bytes py_aep describes (other sizes are older layouts: comp id, status and time span are
then reported unknown); ``sspc`` fields past byte 160 (sequence start/end/padding) vary by version and are not used;
no real .aepx with a filled render queue was found, so the ``LItm``/``LOm`` grouping rests on py_aep's reading of
binary .aep files (the .aepx is the same chunk tree, docs/formats.md §1).
All integers are big-endian (RIFX).
"""
from __future__ import annotations

import struct
from typing import List, NamedTuple, Optional

ITEM_FOLDER = 1
ITEM_COMP = 4
ITEM_FOOTAGE = 7

RENDER_SETTINGS_SIZE = 2246  # lhd3 item size of the LRdr settings list (py_aep: render_settings_ldat_body)
OUTPUT_SETTINGS_SIZE = 128  # lhd3 item size of an LItm output-module settings list

# render-queue item status (py_aep enum RQItemStatus, from render_settings_ldat_body.status)
STATUS_NAMES = {0: "needs output", 1: "unqueued", 2: "queued", 3: "rendering", 4: "user stopped",
                5: "error stopped", 6: "done"}
QUEUED = 2


def _u16(data: bytes, at: int) -> int:
    return int(struct.unpack_from(">H", data, at)[0])


def _u32(data: bytes, at: int) -> int:
    return int(struct.unpack_from(">I", data, at)[0])


def _s32(data: bytes, at: int) -> int:
    return int(struct.unpack_from(">i", data, at)[0])


def _ratio(dividend: int, divisor: int) -> Optional[float]:
    return dividend / divisor if divisor else None


def _cstring(raw: bytes, encoding: str = "windows-1252") -> str:
    return raw.split(b"\0", 1)[0].decode(encoding, "replace")


class ItemHeader(NamedTuple):
    """``idta``: item type at 0 (u16: 1 folder, 4 comp, 7 footage), item id at 16 (u32)."""

    item_type: int
    item_id: int


def idta(data: bytes) -> Optional[ItemHeader]:
    if len(data) < 20:
        return None
    return ItemHeader(_u16(data, 0), _u32(data, 16))


class CompSettings(NamedTuple):
    """``cdta`` (204 bytes in AE 15-25): times are dividend/divisor seconds.

    ``duration`` 44/48, work area start 28/32 and end 36/40 (relative to the display start; end 0xFFFFFFFF means
    the comp's end), width 140 and height 142 (u16), pixel aspect 144/148, frame rate 156 (u16) + 158 (u16/65536),
    display start time 164 (s32) / 168."""

    width: int
    height: int
    frame_rate: float
    duration: float  # seconds
    work_area_start: float  # seconds from the display start
    work_area_end: Optional[float]  # seconds from the display start; None: the comp's end
    display_start: float  # seconds
    pixel_aspect: float

    def frames(self, seconds: float) -> int:
        """Whole frames in ``seconds`` at the comp's rate (rounded: durations are stored as exact ratios)."""
        return int(round(seconds * self.frame_rate))


def cdta(data: bytes) -> Optional[CompSettings]:
    if len(data) < 172:
        return None
    rate = _u16(data, 156) + _u16(data, 158) / 65536.0
    duration = _ratio(_u32(data, 44), _u32(data, 48))
    if not rate or duration is None:
        return None
    end_dividend = _u32(data, 36)
    work_end = None if end_dividend == 0xFFFFFFFF else _ratio(end_dividend, _u32(data, 40))
    return CompSettings(
        width=_u16(data, 140), height=_u16(data, 142), frame_rate=rate, duration=duration,
        work_area_start=_ratio(_u32(data, 28), _u32(data, 32)) or 0.0, work_area_end=work_end,
        display_start=_ratio(_s32(data, 164), _u32(data, 168)) or 0.0,
        pixel_aspect=_ratio(_u32(data, 144), _u32(data, 148)) or 1.0)


class LayerHeader(NamedTuple):
    """``ldta``: layer id at 0 (u32), source item id at 40 (u32; 0 for text, shape, camera, light layers), the name
    at 64..96 (windows-1252, cut at 31 characters: the full name is the layer's ``<string>``)."""

    layer_id: int
    source_id: int
    short_name: str


def ldta(data: bytes) -> Optional[LayerHeader]:
    if len(data) < 96:
        return None
    return LayerHeader(_u32(data, 0), _u32(data, 40), _cstring(data[64:96]))


class SourceSettings(NamedTuple):
    """``sspc`` (footage source): format 4cc at 22, width 32 and height 36 (u16), duration 38/42 seconds (0 for a
    still image), native frame rate 56 (u32) + 60 (u16/65536)."""

    format: str
    width: int
    height: int
    duration: Optional[float]
    frame_rate: Optional[float]

    @property
    def still(self) -> bool:
        return self.duration == 0


def sspc(data: bytes) -> Optional[SourceSettings]:
    if len(data) < 62:
        return None
    fourcc = data[22:26].decode("latin-1").rstrip("\0 ")
    rate = _u32(data, 56) + _u16(data, 60) / 65536.0
    return SourceSettings(fourcc, _u16(data, 32), _u16(data, 36), _ratio(_u32(data, 38), _u32(data, 42)),
                          rate or None)


class SourceOptions(NamedTuple):
    """``opti``: the source kind 4cc at 0 (``Soli`` a solid, whose name is at 26, 256 bytes windows-1252) and a
    kind number at 4 (u16; 2 is a placeholder, whose name starts at 10)."""

    kind: str
    number: int
    name: str


def opti(data: bytes) -> Optional[SourceOptions]:
    if len(data) < 6:
        return None
    kind = data[:4].decode("latin-1").rstrip("\0 ")
    number = _u16(data, 4)
    name = ""
    if kind == "Soli" and len(data) > 26:
        name = _cstring(data[26:26 + 256])
    elif number == 2 and len(data) > 10:
        name = _cstring(data[10:])
    return SourceOptions(kind, number, name)


class ListHeader(NamedTuple):
    """``lhd3``: item count at 10 (u16), item size at 18 (u16), item kind at 23 (u8; 1 for render-queue lists)."""

    item_count: int
    item_size: int
    kind: int


def lhd3(data: bytes) -> Optional[ListHeader]:
    if len(data) < 24:
        return None
    return ListHeader(_u16(data, 10), _u16(data, 18), data[23])


class RenderSettings(NamedTuple):
    """One render-queue item's settings (an ``ldat`` item of ``LRdr > list``, 2246 bytes): comp id at 8 (u32),
    status at 12 (u32, ``STATUS_NAMES``), time span start 20/24 and duration 28/32 (seconds), frame rate 44 (u16) +
    46 (u16/65536), render-settings template name at 90 (64 bytes), time span source at 2148 (u16: 0 length of comp,
    1 work area, 2 custom)."""

    comp_id: int
    status: int
    start: Optional[float]
    duration: Optional[float]
    frame_rate: Optional[float]
    template: str
    time_span_source: Optional[int]


def render_settings(item: bytes) -> Optional[RenderSettings]:
    if len(item) != RENDER_SETTINGS_SIZE:
        return None
    rate = _u16(item, 44) + _u16(item, 46) / 65536.0
    return RenderSettings(_u32(item, 8), _u32(item, 12), _ratio(_u32(item, 20), _u32(item, 24)),
                          _ratio(_u32(item, 28), _u32(item, 32)), rate or None, _cstring(item[90:154], "ascii"),
                          _u16(item, 2148))


def split_items(data: bytes, header: Optional[ListHeader]) -> List[bytes]:
    """The ``count`` items of ``item_size`` bytes an ``ldat`` holds (fewer when the data is short)."""
    if header is None or header.item_size <= 0:
        return []
    size = header.item_size
    return [data[k * size:(k + 1) * size] for k in range(header.item_count) if (k + 1) * size <= len(data)]


class OutputOptions(NamedTuple):
    """``Roou`` (output module options): video codec 4cc at 4, starting number at 16 (u32), format 4cc at 26
    (``png!``, ``TIF ``, ``oEXR``, ``MooV``, ``H264``, ...), width 36 and height 40 (u16)."""

    format_id: str
    video_codec: str
    starting_number: int
    width: int
    height: int


def roou(data: bytes) -> Optional[OutputOptions]:
    if len(data) < 42:
        return None
    return OutputOptions(data[26:30].decode("latin-1"), data[4:8].decode("latin-1"), _u32(data, 16),
                         _u16(data, 36), _u16(data, 40))


# Roou format 4cc -> file extension (py_aep resolvers/output.py FORMAT_ID_EXTENSIONS)
FORMAT_EXTENSIONS = {"H264": "mp4", ".AVI": "avi", "MooV": "mov", "Mp3 ": "mp3", "wao_": "wav", "TIF ": "tif",
                     "8BPS": "psd", "png!": "png", "JPEG": "jpg", "oEXR": "exr", "AIFF": "aif", "SGI ": "sgi",
                     "IFF ": "iff", "TPIC": "tga", "RHDR": "hdr", "sDPX": "dpx"}


def rout(data: bytes) -> List[bool]:
    """``Rout``: a 4-byte header, then 4 bytes per render-queue item whose bit 6 of the first byte is the item's
    Render checkbox."""
    return [bool(data[at] & 0x40) for at in range(4, len(data) - 3, 4)]


class Version(NamedTuple):
    """``head``: the After Effects version that saved the file (bits of the u32 at 4, per py_aep ``head_body``)."""

    major: int
    minor: int
    build: int
    os_code: int  # 12 Windows, 13 macOS, 14 macOS on ARM

    def __str__(self) -> str:
        return f"{self.major}.{self.minor}x{self.build}"

    @property
    def os_name(self) -> str:
        return {12: "Windows", 13: "macOS", 14: "macOS (ARM)"}.get(self.os_code, "unknown OS")


def head(data: bytes) -> Optional[Version]:
    if len(data) < 8:
        return None
    bits = _u32(data, 4)
    major = ((bits >> 26) & 0x1F) * 8 + ((bits >> 19) & 0x7)
    return Version(major, (bits >> 15) & 0xF, bits & 0xFF, (bits >> 22) & 0xF)


def hex_bytes(text: Optional[str]) -> Optional[bytes]:
    """The bytes of a ``bdata`` value (None when absent or not hex)."""
    if text is None:
        return None
    try:
        return bytes.fromhex(text)
    except ValueError:
        return None
