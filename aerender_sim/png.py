"""Tiny PNG frames for the aerender simulator (a test instrument): write them with stdlib zlib, read them back strictly.

Each frame carries its provenance twice: as UTF-8 `iTXt` chunks (frame number, project file name, comp name, and what
the comp used: its footage files with their SHA-256 and its layer names) that tests read back exactly, and as visible
pixels (the frame number drawn in digits, a background colour derived from the project name, a strip coloured from
the comp name, a band coloured from the used footage's hashes, colour bars for missing footage) so a person looking
at a render -- or a test decoding a movie made of the frames -- can tell frames apart. Reading checks the signature,
every chunk's CRC, the chunk order and the image data, so a partly written or truncated file is refused: that is how
the executor's verification tests tell complete frames from the partial files a renderer leaves while writing.
"""
from __future__ import annotations

import os
import struct
import zlib
from typing import Dict, List, Mapping, Optional, Sequence, Tuple, Union

SIGNATURE = b"\x89PNG\r\n\x1a\n"
WIDTH = 64
HEIGHT = 36
SOFTWARE = "aerender-sim (test instrument)"

_KEY_FRAME = "aerender-sim:frame"
_KEY_PROJECT = "aerender-sim:project"
_KEY_COMP = "aerender-sim:comp"
_KEY_MISSING = "aerender-sim:missing-footage"
_KEY_SOURCES = "aerender-sim:sources"
BAND_ROWS = (20, 30)  # rows of the band coloured from the sources' digest

# 3x5 digits, one string of 15 bits per glyph, row-major
_GLYPHS = {
    "0": "111101101101111", "1": "010110010010111", "2": "111001111100111", "3": "111001111001111",
    "4": "101101111001001", "5": "111100111001111", "6": "111100111101111", "7": "111001010010010",
    "8": "111101111101111", "9": "111101111001111", "-": "000000111000000",
}
_BARS = [(192, 192, 192), (192, 192, 0), (0, 192, 192), (0, 192, 0), (192, 0, 192), (192, 0, 0), (0, 0, 192)]

Rgb = Tuple[int, int, int]


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)


def _itxt(key: str, value: str) -> bytes:
    # keyword \0, compression flag 0, method 0, empty language tag \0, empty translated keyword \0, UTF-8 text
    return _chunk(b"iTXt", key.encode("latin-1") + b"\0\0\0\0\0" + value.encode("utf-8"))


def encode_png(width: int, height: int, pixels: Sequence[Sequence[Rgb]],
               text: Optional[Mapping[str, str]] = None) -> bytes:
    """An 8-bit RGB PNG; `text` becomes iTXt chunks (UTF-8, so any project or comp name survives)."""
    raw = bytearray()
    for row in pixels:
        raw.append(0)  # filter type None
        for r, g, b in row:
            raw += bytes((r, g, b))
    parts = [SIGNATURE, _chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))]
    for key, value in dict(text or {}).items():
        parts.append(_itxt(key, value))
    parts.append(_chunk(b"IDAT", zlib.compress(bytes(raw), 6)))
    parts.append(_chunk(b"IEND", b""))
    return b"".join(parts)


def _colour(seed: str, lightness: int) -> Rgb:
    value = zlib.crc32(seed.encode("utf-8"))
    return tuple(lightness // 2 + ((value >> shift) & 0xFF) * lightness // 512 for shift in (0, 8, 16))  # type: ignore[return-value]


def sources_colour(sources: Mapping[str, object]) -> Rgb:
    """The band's colour: the first three bytes of the SHA-256 of the used footage's hashes (full 0-255 range)."""
    import hashlib
    import json

    footage = sources.get("footage")
    hashes = [f.get("sha256") for f in footage if isinstance(f, dict)] if isinstance(footage, list) else []
    data = hashlib.sha256(json.dumps(hashes, sort_keys=True).encode()).digest()
    return data[0], data[1], data[2]


def frame_pixels(frame: int, project: str, comp: str, missing_footage: bool = False,
                 sources: Optional[Mapping[str, object]] = None) -> List[List[Rgb]]:
    """The picture: background from the project name (or colour bars), digits of the frame, a strip for the comp,
    a band for the footage the comp used (when it used any)."""
    if missing_footage:
        rows = [[_BARS[x * len(_BARS) // WIDTH] for x in range(WIDTH)] for _ in range(HEIGHT)]
    else:
        background = _colour(project, 160)
        rows = [[background] * WIDTH for _ in range(HEIGHT)]
    strip = _colour(comp, 255)
    for y in range(HEIGHT - 6, HEIGHT):
        rows[y] = [strip] * WIDTH
    if sources and sources.get("footage") and not missing_footage:
        band = sources_colour(sources)
        for y in range(*BAND_ROWS):
            rows[y] = [band] * WIDTH
    digits = str(frame)[-8:]
    scale = 2
    left = max(0, (WIDTH - len(digits) * 4 * scale) // 2)
    top = 6
    for index, char in enumerate(digits):
        glyph = _GLYPHS[char]
        for gy in range(5):
            for gx in range(3):
                if glyph[gy * 3 + gx] == "1":
                    for dy in range(scale):
                        for dx in range(scale):
                            x = left + (index * 4 + gx) * scale + dx
                            y = top + gy * scale + dy
                            if x < WIDTH:
                                rows[y][x] = (255, 255, 255)
    return rows


def frame_png(frame: int, project: str, comp: str, missing_footage: bool = False,
              sources: Optional[Mapping[str, object]] = None) -> bytes:
    """The bytes of one rendered frame. `project` is the project file's name (no folder); `sources` what the comp
    used (``aerender_sim.project.comp_sources``), recorded when given."""
    import json

    text = {"Software": SOFTWARE, _KEY_FRAME: str(frame), _KEY_PROJECT: project, _KEY_COMP: comp}
    if missing_footage:
        text[_KEY_MISSING] = "1"
    if sources is not None:
        text[_KEY_SOURCES] = json.dumps(sources, ensure_ascii=False, sort_keys=True)
    return encode_png(WIDTH, HEIGHT, frame_pixels(frame, project, comp, missing_footage, sources), text)


def decode_png(data: bytes) -> Dict[str, object]:
    """Validate a whole PNG and return its IHDR facts and text. Raises ValueError for anything incomplete or wrong."""
    if not data.startswith(SIGNATURE):
        raise ValueError("not a PNG (bad signature)")
    pos = len(SIGNATURE)
    kinds: List[bytes] = []
    text: Dict[str, str] = {}
    idat = bytearray()
    header: Tuple[int, ...] = ()
    while True:
        if pos + 8 > len(data):
            raise ValueError(f"truncated PNG: chunk header cut at byte {pos}")
        length, kind = struct.unpack(">I4s", data[pos:pos + 8])
        end = pos + 8 + length + 4
        if end > len(data):
            raise ValueError(f"truncated PNG: {kind!r} chunk cut at byte {len(data)}")
        body = data[pos + 8:pos + 8 + length]
        (crc,) = struct.unpack(">I", data[end - 4:end])
        if zlib.crc32(kind + body) & 0xFFFFFFFF != crc:
            raise ValueError(f"bad CRC in {kind.decode('latin-1')} chunk at byte {pos}")
        if not kinds and kind != b"IHDR":
            raise ValueError("first chunk is not IHDR")
        kinds.append(kind)
        if kind == b"IHDR":
            if length != 13:
                raise ValueError("bad IHDR length")
            header = struct.unpack(">IIBBBBB", body)
        elif kind == b"IDAT":
            idat += body
        elif kind == b"iTXt":
            key, _, rest = body.partition(b"\0")
            if len(rest) < 2 or rest[0] != 0:
                raise ValueError("compressed or malformed iTXt chunk")
            _language, _, rest = rest[2:].partition(b"\0")
            _translated, _, value = rest.partition(b"\0")
            text[key.decode("latin-1")] = value.decode("utf-8")
        elif kind == b"tEXt":
            key, _, value = body.partition(b"\0")
            text[key.decode("latin-1")] = value.decode("latin-1")
        pos = end
        if kind == b"IEND":
            break
    if pos != len(data):
        raise ValueError("bytes after IEND")
    if not idat:
        raise ValueError("PNG has no image data")
    width, height, depth, colour_type = header[:4]
    if depth != 8 or colour_type != 2:
        raise ValueError("not an 8-bit RGB PNG")
    try:
        raw = zlib.decompress(bytes(idat))
    except zlib.error as exc:
        raise ValueError(f"corrupt image data: {exc}") from None
    if len(raw) != height * (1 + width * 3):
        raise ValueError("image data has the wrong size")
    return {"width": width, "height": height, "text": text, "raw": raw}


def read_frame_png(path: Union[str, "os.PathLike[str]"]) -> Dict[str, object]:
    """What a simulator frame says about itself: {frame, project, comp, missing_footage, width, height}.

    Raises ValueError when the file is not a complete, valid PNG written by the simulator.
    """
    with open(path, "rb") as handle:
        data = handle.read()
    info = decode_png(data)
    text = info["text"]
    assert isinstance(text, dict)
    try:
        frame = int(text[_KEY_FRAME])
        project = text[_KEY_PROJECT]
        comp = text[_KEY_COMP]
    except (KeyError, ValueError):
        raise ValueError(f"{os.fspath(path)} is a PNG but not an aerender-sim frame") from None
    return {"frame": frame, "project": project, "comp": comp, "missing_footage": text.get(_KEY_MISSING) == "1",
            "width": info["width"], "height": info["height"]}


def read_frame_sources(path: Union[str, "os.PathLike[str]"]) -> Dict[str, object]:
    """What the comp used when the simulator rendered this frame: {"footage": [{name, path, sha256}], "layers":
    [names]} (empty lists when the frame records none). Raises ValueError for an incomplete or foreign PNG."""
    import json

    with open(path, "rb") as handle:
        info = decode_png(handle.read())
    text = info["text"]
    assert isinstance(text, dict)
    if _KEY_FRAME not in text:
        raise ValueError(f"{os.fspath(path)} is a PNG but not an aerender-sim frame")
    raw = text.get(_KEY_SOURCES)
    return json.loads(raw) if raw else {"footage": [], "layers": []}
