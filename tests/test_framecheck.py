"""Frame format checks (stmpo.framecheck): every format After Effects writes, whole files pass, cut or damaged fail.

For each format: whole files from a real writer (Pillow, the OpenEXR library, ffmpeg) or from the documented layout
(tests/frame_helpers.py) pass; the same file cut at every class of point (each header byte, structure boundaries,
spread through the middle, each of the last bytes) fails; and full-size files damaged where the format can tell
fail with a reason naming what is wrong.
"""
from __future__ import annotations

import functools
import io
import os
import shutil
import struct
import subprocess
import zlib
from pathlib import Path

import numpy as np
import OpenEXR
import pytest
from frame_helpers import (
    cineon_bytes,
    cut_points,
    dpx_bytes,
    exr_chunk_table,
    exr_multipart,
    exr_scanline,
    exr_tiled,
    psd_bytes,
)
from PIL import Image

from stmpo.framecheck import FORMATS, UNKNOWN, Verdict, check_frame, format_of, sniff
from stmpo.framecheck_exr import FULL_WALK_LIMIT, _tile_order
from stmpo.movies import movie_frame_count

FFMPEG = shutil.which("ffmpeg")
FFPROBE = shutil.which("ffprobe")


def picture(mode: str = "RGB", size=(40, 30)) -> Image.Image:
    rng = np.random.default_rng(5)
    w, h = size
    base = np.zeros((h, w, 4), dtype=np.uint8)
    base[..., 0] = np.linspace(0, 255, w, dtype=np.uint8)[None, :]
    base[..., 1] = np.linspace(0, 255, h, dtype=np.uint8)[:, None]
    base[h // 2:, :, 2] = rng.integers(0, 255, (h - h // 2, w), dtype=np.uint8)
    base[..., 3] = 200
    image = Image.fromarray(base, "RGBA")
    return image if mode == "RGBA" else image.convert(mode)


def pillow_bytes(mode: str, fmt: str, **options) -> bytes:
    out = io.BytesIO()
    picture(mode).save(out, fmt, **options)
    return out.getvalue()


def exr_lib_bytes(tmp_path: Path, compression: int, tiled: bool = False, line_order: int = 0,
                  size=(24, 40)) -> bytes:
    w, h = size
    pixels = np.linspace(0, 1, w * h * 4, dtype=np.float32).reshape(h, w, 4).astype(np.float16)
    header = {"compression": OpenEXR.Compression(compression), "lineOrder": OpenEXR.LineOrder(line_order),
              "type": OpenEXR.tiledimage if tiled else OpenEXR.scanlineimage}
    if tiled:
        tiles = OpenEXR.TileDescription()
        tiles.xSize, tiles.ySize, tiles.mode = 16, 16, OpenEXR.ONE_LEVEL
        header["tiles"] = tiles
    path = tmp_path / f"lib_{compression}_{int(tiled)}_{line_order}.exr"
    OpenEXR.File(header, {"RGBA": pixels}).write(str(path))
    return path.read_bytes()


def exr_lib_multipart(tmp_path: Path) -> bytes:
    parts = [OpenEXR.Part({"compression": OpenEXR.ZIP_COMPRESSION}, {"Z": np.zeros((20, 10), dtype="f")}, "left"),
             OpenEXR.Part({"compression": OpenEXR.PIZ_COMPRESSION}, {"Z": np.ones((20, 10), dtype="f")}, "right")]
    path = tmp_path / "lib_multi.exr"
    OpenEXR.File(parts).write(str(path))
    return path.read_bytes()


def ffmpeg_dpx(tmp_path: Path, pix_fmt: str) -> bytes:
    path = tmp_path / f"ff_{pix_fmt}.dpx"
    subprocess.run([FFMPEG, "-v", "error", "-y", "-f", "lavfi", "-i", "testsrc=size=36x20:rate=1", "-frames:v", "1",
                    "-pix_fmt", pix_fmt, str(path)], check=True)
    return path.read_bytes()


# (id, extension, maker(tmp_path) -> bytes). Small images keep the truncation sweeps fast.
WHOLE = [
    ("png-rgb", ".png", lambda t: pillow_bytes("RGB", "PNG")),
    ("png-rgba", ".png", lambda t: pillow_bytes("RGBA", "PNG")),
    ("png-palette", ".png", lambda t: pillow_bytes("P", "PNG")),
    ("png-16bit", ".png", lambda t: pillow_bytes("I;16", "PNG")),
    ("jpeg-baseline", ".jpg", lambda t: pillow_bytes("RGB", "JPEG", quality=90)),
    ("jpeg-progressive", ".jpg", lambda t: pillow_bytes("RGB", "JPEG", progressive=True, optimize=True)),
    ("jpeg-grey-restart", ".jpeg", lambda t: pillow_bytes("L", "JPEG", restart_marker_blocks=1)),
    ("tiff-raw", ".tif", lambda t: pillow_bytes("RGB", "TIFF")),
    ("tiff-rgba-lzw", ".tif", lambda t: pillow_bytes("RGBA", "TIFF", compression="tiff_lzw")),
    ("tiff-deflate", ".tiff", lambda t: pillow_bytes("RGB", "TIFF", compression="tiff_adobe_deflate")),
    ("tiff-packbits-strips", ".tif", lambda t: pillow_bytes("RGB", "TIFF", compression="packbits",
                                                            tiffinfo={278: 7})),
    ("tga-rgb", ".tga", lambda t: pillow_bytes("RGB", "TGA")),
    ("tga-rgba-rle", ".tga", lambda t: pillow_bytes("RGBA", "TGA", compression="tga_rle")),
    ("tga-palette-id", ".tga", lambda t: pillow_bytes("P", "TGA", id_section=b"aerender")),
    ("tga-grey-rle", ".tga", lambda t: pillow_bytes("L", "TGA", compression="tga_rle")),
    ("psd-raw", ".psd", lambda t: psd_bytes(9, 6)),
    ("psd-rle-rgba", ".psd", lambda t: psd_bytes(9, 6, channels=4, rle=True)),
    ("psb-raw", ".psb", lambda t: psd_bytes(9, 6, big=True)),
    ("psb-rle", ".psb", lambda t: psd_bytes(9, 6, rle=True, big=True)),
    ("exr-helper-scanline", ".exr", lambda t: exr_scanline(6, 5, ymin=-2)),
    ("exr-helper-chunkcount", ".exr", lambda t: exr_scanline(6, 5, chunk_count=True)),
    ("exr-helper-mipmap", ".exr", lambda t: exr_tiled(5, 3, 2, 0x01)[0]),
    ("exr-helper-ripmap-up", ".exr", lambda t: exr_tiled(5, 3, 2, 0x12)[0]),
    ("exr-helper-multipart", ".exr", lambda t: exr_multipart([3, 5])),
    ("exr-lib-multipart", ".exr", exr_lib_multipart),
    ("exr-lib-tiled", ".exr", lambda t: exr_lib_bytes(t, 3, tiled=True)),
    ("exr-lib-decreasing", ".exr", lambda t: exr_lib_bytes(t, 4, line_order=1)),
] + [(f"exr-lib-c{c}", ".exr", functools.partial(lambda t, c: exr_lib_bytes(t, c), c=c)) for c in range(14)] + [
    ("dpx-10bit-be", ".dpx", lambda t: dpx_bytes(7, 4)),
    ("dpx-10bit-le", ".dpx", lambda t: dpx_bytes(7, 4, order="<")),
    ("dpx-8bit", ".dpx", lambda t: dpx_bytes(7, 4, bits=8, packing=0)),
    ("dpx-16bit-le", ".dpx", lambda t: dpx_bytes(7, 4, order="<", bits=16, packing=0)),
    ("cineon-be", ".cin", lambda t: cineon_bytes(7, 4)),
    ("cineon-le", ".cin", lambda t: cineon_bytes(7, 4, order="<")),
]
if FFMPEG:
    WHOLE += [(f"dpx-ffmpeg-{p}", ".dpx", functools.partial(lambda t, p: ffmpeg_dpx(t, p), p=p))
              for p in ("rgb24", "gbrp10le", "rgb48le", "rgba64be")]


def write(tmp_path: Path, name: str, data: bytes) -> Path:
    path = tmp_path / name
    path.write_bytes(data)
    return path


@pytest.mark.parametrize("case,ext,make", WHOLE, ids=[c[0] for c in WHOLE])
def test_whole_files_pass(tmp_path, case, ext, make):
    path = write(tmp_path, "frame" + ext, make(tmp_path))
    verdict = check_frame(path)
    assert verdict == Verdict(True, format_of(path)), verdict.reason


def marks_for(ext: str, data: bytes):
    """Structure boundaries to cut around: PNG chunk starts, the EXR offset table and its first chunk."""
    if ext == ".png":
        return {f"chunk{i}": at for i, at in enumerate(png_chunks(data).values())}
    if ext == ".exr" and not data[4:8] == struct.pack("<I", 2 | 0x1000):
        table, count = exr_chunk_table(data)
        return {"table": table, "first": table + 8 * count}
    return {}


@pytest.mark.parametrize("case,ext,make", WHOLE, ids=[c[0] for c in WHOLE])
def test_every_truncation_fails(tmp_path, case, ext, make):
    data = make(tmp_path)
    path = tmp_path / ("cut" + ext)
    passed = []
    for cut in cut_points(len(data), marks_for(ext, data)):
        path.write_bytes(data[:cut])
        verdict = check_frame(path)
        if verdict.ok:
            passed.append(cut)
        else:
            assert verdict.reason and "\n" not in verdict.reason
    if case.startswith("tga"):
        # a TGA cut exactly where the pixels end (before its TGA 2.0 footer) is a whole TGA 1.0 image: every
        # pixel is there. That one point, and only it, passes.
        assert passed == [len(data) - 26], passed
    else:
        assert passed == [], f"{case}: truncated files passed at {passed[:10]} (of {len(data)} bytes)"


def test_the_cut_points_cover_header_middle_and_tail():
    points = cut_points(10_000, {"x": 5000})
    assert set(range(1, 41)) <= set(points)
    assert set(range(9960, 10_000)) <= set(points)
    assert {4997, 5000, 5003} <= set(points)
    assert len([p for p in points if 1000 < p < 9000]) >= 30


def test_pillow_decodes_the_helper_psds_pixel_for_pixel(tmp_path):
    for kwargs in ({}, {"rle": True}, {"channels": 4, "rle": True}):
        data = psd_bytes(9, 6, **kwargs)
        image = Image.open(io.BytesIO(data))
        image.load()
        channels = kwargs.get("channels", 3)
        assert image.size == (9, 6) and len(image.getbands()) == channels
        assert image.getpixel((0, 0))[0] == 7 and image.getpixel((0, 5))[1] == (7 + 40 + 5) % 256


def test_the_tile_order_matches_the_openexr_library(tmp_path):
    """Files written from the helper's own level arithmetic open in the OpenEXR library (which refuses a wrong chunk
    table), and the checker's order agrees with the helper's, for every level and rounding mode."""
    for mode in (0x00, 0x01, 0x02, 0x11, 0x12):
        data, order = exr_tiled(5, 3, 2, mode)
        path = write(tmp_path, f"t{mode}.exr", data)
        assert OpenEXR.File(str(path)).channels()["RGB"].pixels.shape == (3, 5, 3)
        assert _tile_order(5, 3, 2, 2, mode) == order
    assert [len(_tile_order(5, 3, 2, 2, m)) for m in (0x00, 0x01, 0x11, 0x02, 0x12)] == [6, 8, 10, 15, 28]


# ------------------------------------------------------------------------------------------ damaged, full size

def flip(data: bytes, at: int, value: int = None) -> bytes:
    out = bytearray(data)
    out[at] = (out[at] ^ 0xFF) if value is None else value
    return bytes(out)


def png_chunks(data: bytes):
    pos, found = 8, {}
    while pos < len(data):
        length, kind = struct.unpack_from(">I4s", data, pos)
        found.setdefault(kind, pos)
        pos += 12 + length
    return found


def jpeg_marker(data: bytes, marker: int) -> int:
    return data.index(bytes([0xFF, marker]))


def tiff_entry(data: bytes, tag: int) -> int:
    (ifd,) = struct.unpack_from("<I", data, 4)
    (count,) = struct.unpack_from("<H", data, ifd)
    for i in range(count):
        at = ifd + 2 + 12 * i
        if struct.unpack_from("<H", data, at)[0] == tag:
            return at
    raise KeyError(tag)


def set_tiff_value(data: bytes, tag: int, value: int) -> bytes:
    at = tiff_entry(data, tag)
    kind = struct.unpack_from("<H", data, at + 2)[0]
    out = bytearray(data)
    struct.pack_into("<I" if kind == 4 else "<H", out, at + 8, value)
    return bytes(out)


def exr_set(data: bytes, at: int, fmt: str, value) -> bytes:
    out = bytearray(data)
    struct.pack_into(fmt, out, at, value)
    return bytes(out)


def _png():
    return pillow_bytes("RGB", "PNG")


def _exr():
    return exr_scanline(6, 5)


def _exr_first_chunk(data):
    table, _ = exr_chunk_table(data)
    return struct.unpack_from("<Q", data, table)[0]


DAMAGED = [
    # (id, extension, damaged bytes, words the reason must contain)
    ("png-idat-bit", ".png", lambda: flip(_png(), png_chunks(_png())[b"IDAT"] + 20), "CRC"),
    ("png-ihdr-bit", ".png", lambda: flip(_png(), 16), "PNG header"),
    ("png-iend-crc", ".png", lambda: flip(_png(), len(_png()) - 1), "CRC"),
    ("png-no-iend", ".png", lambda: _png()[:-12] + b"\0" * 12, "CRC"),
    ("png-not-png", ".png", lambda: pillow_bytes("RGB", "JPEG"), "JPEG, not PNG"),
    ("jpeg-eoi-zeroed", ".jpg", lambda: pillow_bytes("RGB", "JPEG")[:-2] + b"\0\0", "no end"),
    ("jpeg-dqt-length", ".jpg", lambda: flip(pillow_bytes("RGB", "JPEG"),
                                             jpeg_marker(pillow_bytes("RGB", "JPEG"), 0xDB) + 2), "truncated"),
    ("jpeg-no-sos", ".jpg", lambda: flip(pillow_bytes("RGB", "JPEG"),
                                         jpeg_marker(pillow_bytes("RGB", "JPEG"), 0xDA) + 1, 0xFE), "marker"),
    ("tiff-strip-count-large", ".tif", lambda: set_tiff_value(pillow_bytes("RGB", "TIFF"), 279, 10**6), "truncated"),
    ("tiff-strip-count-zero", ".tif", lambda: set_tiff_value(pillow_bytes("RGB", "TIFF"), 279, 0), "empty"),
    ("tiff-strip-short", ".tif", lambda: set_tiff_value(pillow_bytes("RGB", "TIFF"), 279, 100), "uncompressed"),
    ("tiff-offset-out", ".tif", lambda: set_tiff_value(pillow_bytes("RGB", "TIFF"), 273, 10**6), "truncated"),
    ("tga-width", ".tga", lambda: exr_set(pillow_bytes("RGB", "TGA"), 12, "<H", 41), "truncated"),
    ("tga-footer", ".tga", lambda: flip(pillow_bytes("RGB", "TGA"), len(pillow_bytes("RGB", "TGA")) - 5), "footer"),
    ("tga-type", ".tga", lambda: flip(pillow_bytes("RGB", "TGA"), 2, 7), "type"),
    ("psd-rle-count", ".psd", lambda: exr_set(psd_bytes(9, 6, rle=True), 26 + 12 + 2, ">H", 200), "truncated"),
    ("psd-resources-length", ".psd", lambda: exr_set(psd_bytes(9, 6), 30, ">I", 50), "PSD header"),
    ("psd-signature", ".psd", lambda: flip(psd_bytes(9, 6), 0), "signature"),
    ("exr-offset-zero", ".exr", lambda: exr_set(_exr(), exr_chunk_table(_exr())[0] + 16, "<Q", 0), "not finished"),
    ("exr-offset-into-header", ".exr", lambda: exr_set(_exr(), exr_chunk_table(_exr())[0], "<Q", 20), "outside"),
    ("exr-chunk-y", ".exr", lambda: exr_set(_exr(), _exr_first_chunk(_exr()), "<i", 3), "expected (0,)"),
    ("exr-chunk-size", ".exr", lambda: exr_set(_exr(), _exr_first_chunk(_exr()) + 4, "<i", 10**6), "truncated"),
    ("exr-version", ".exr", lambda: flip(_exr(), 4, 3), "version"),
    ("exr-magic", ".exr", lambda: flip(_exr(), 0), "no OpenEXR magic"),
    ("exr-tile-coords", ".exr", lambda: exr_set(exr_tiled(5, 3, 2, 1)[0],
                                                 _exr_first_chunk(exr_tiled(5, 3, 2, 1)[0]), "<i", 1), "expected"),
    ("dpx-size-field-large", ".dpx", lambda: dpx_bytes(7, 4, size_field=10**6), "truncated"),
    ("dpx-size-field-small", ".dpx", lambda: dpx_bytes(7, 4, order="<", size_field=100), "damaged"),
    ("dpx-magic", ".dpx", lambda: flip(dpx_bytes(7, 4), 0), "magic"),
    ("dpx-data-offset", ".dpx", lambda: exr_set(dpx_bytes(7, 4), 4, ">I", 10**6), "offset"),
    ("dpx-height", ".dpx", lambda: exr_set(dpx_bytes(7, 4), 776, ">I", 40), "truncated"),
    ("cineon-size-field", ".cin", lambda: cineon_bytes(7, 4, size_field=10**6), "truncated"),
    ("cineon-magic", ".cin", lambda: flip(cineon_bytes(7, 4, order="<"), 0), "magic"),
    ("cineon-lines", ".cin", lambda: exr_set(cineon_bytes(7, 4), 204, ">I", 40), "truncated"),
]


@pytest.mark.parametrize("case,ext,make,words", DAMAGED, ids=[c[0] for c in DAMAGED])
def test_damaged_full_size_files_fail_with_a_reason(tmp_path, case, ext, make, words):
    verdict = check_frame(write(tmp_path, "frame" + ext, make()))
    assert not verdict.ok
    assert words.lower() in verdict.reason.lower(), verdict.reason


def test_a_png_with_valid_chunks_around_a_short_image_stream_needs_decode_pixels(tmp_path):
    """The container is whole (CRCs recomputed) but the zlib stream inside IDAT is cut: only decoding shows it."""
    data = _png()
    at = png_chunks(data)[b"IDAT"]
    (length,) = struct.unpack_from(">I", data, at)
    body = data[at + 8:at + 8 + length][: length // 2]
    idat = struct.pack(">I", len(body)) + b"IDAT" + body + struct.pack(">I", zlib.crc32(b"IDAT" + body))
    path = write(tmp_path, "short.png", data[:at] + idat + data[at + 12 + length:])
    assert check_frame(path).ok
    deep = check_frame(path, decode_pixels=True)
    assert not deep.ok and "decode" in deep.reason


def test_a_tall_uncompressed_exr_is_checked_by_its_offsets(tmp_path):
    """Above FULL_WALK_LIMIT chunks only the first and last chunks are read: cut and overlapping files still fail."""
    height = FULL_WALK_LIMIT + 40
    data = exr_scanline(2, height)
    assert check_frame(write(tmp_path, "tall.exr", data)).ok
    for cut in (len(data) - 1, len(data) - 13, len(data) // 2):
        assert not check_frame(write(tmp_path, "tall.exr", data[:cut])).ok
    table, count = exr_chunk_table(data)
    (second,) = struct.unpack_from("<Q", data, table + 8)
    overlapping = exr_set(data, table + 16, "<Q", second + 4)
    verdict = check_frame(write(tmp_path, "tall.exr", overlapping))
    assert not verdict.ok and "overlap" in verdict.reason


# ------------------------------------------------------------------------------- names, sniffing, movies, errors

def test_unknown_extensions_are_named_not_proven(tmp_path):
    verdict = check_frame(write(tmp_path, "frame.sgi", b"\x01\xda" + b"\0" * 600))
    assert verdict.unknown and verdict.format == UNKNOWN and not verdict.ok and "'.sgi'" in verdict.reason


def test_missing_empty_and_folder_paths_fail(tmp_path):
    assert check_frame(tmp_path / "gone.png").reason.startswith("cannot be read")
    assert check_frame(write(tmp_path, "empty.exr", b"")).reason == "empty file"
    (tmp_path / "dir.png").mkdir()
    assert check_frame(tmp_path / "dir.png").reason == "not a regular file"


READ_WHOLE = [c for c in WHOLE if c[1] in (".png", ".jpg", ".jpeg")]


@pytest.mark.parametrize("case,ext,make", READ_WHOLE, ids=[c[0] for c in READ_WHOLE])
def test_png_and_jpeg_read_once_give_the_walks_verdicts(tmp_path, case, ext, make):
    """PNG and JPEG are opened once and read whole (the executor's per-frame path): with and without Pillow, the
    whole file passes and every cut of it fails, as the file-object walks (check_png/check_jpeg) decide."""
    from stmpo.framecheck_image import check_jpeg, check_png
    data = make(tmp_path)
    walk = check_png if ext == ".png" else check_jpeg
    path = tmp_path / ("f" + ext)
    for cut in [len(data), *cut_points(len(data), marks_for(ext, data))]:
        path.write_bytes(data[:cut])
        try:
            walk(io.BytesIO(data[:cut]), cut, pillow=False)
            expected = ""
        except Exception as exc:  # noqa: BLE001 - whatever the walk says, the verdict says the same
            expected = str(exc)
        for pillow in (False, True):
            verdict = check_frame(path, pillow=pillow)
            assert verdict.ok == (cut == len(data)), (cut, verdict)
            if not pillow:
                assert verdict.reason == expected, cut


@pytest.mark.parametrize("case,ext,make", WHOLE, ids=[c[0] for c in WHOLE])
def test_a_proven_frame_carries_the_stamp_of_the_file_checked(tmp_path, case, ext, make):
    path = write(tmp_path, "frame" + ext, make(tmp_path))
    st = os.stat(path)
    for pillow in (True, False):
        assert check_frame(path, pillow=pillow).stamp == (st.st_size, st.st_mtime_ns)
    assert check_frame(write(tmp_path, "cut" + ext, make(tmp_path)[:-3])).stamp is None


def test_a_fifo_or_folder_under_a_png_or_jpeg_name_fails_without_waiting(tmp_path):
    for name in ("fifo.png", "fifo.jpg"):
        os.mkfifo(tmp_path / name)  # no writer: a blocking open would wait forever
        assert check_frame(tmp_path / name, pillow=False).reason == "not a regular file"
    (tmp_path / "dir.jpg").mkdir()
    assert check_frame(tmp_path / "dir.jpg").reason == "not a regular file"
    assert check_frame(write(tmp_path, "empty.png", b"")).reason == "empty file"
    assert check_frame(write(tmp_path, "jpeg.png", pillow_bytes("RGB", "JPEG"))).reason == "the file is JPEG, not PNG"


def test_a_png_longer_than_its_stat_is_read_to_its_end(tmp_path, monkeypatch):
    """The size taken before the read only sizes the first read: the walk sees the file to its end."""
    path = write(tmp_path, "f.png", _png())
    real = os.fstat

    class Small:
        def __init__(self, st):
            self.st_mode, self.st_size, self.st_mtime_ns = st.st_mode, 20, st.st_mtime_ns

    monkeypatch.setattr(os, "fstat", lambda fd: Small(real(fd)))
    assert check_frame(path, pillow=False).ok


def test_short_reads_are_read_on_to_the_end(tmp_path, monkeypatch):
    """A filesystem may return less than asked: the check reads on until the end, never judges a part."""
    path = write(tmp_path, "f.png", _png())
    real = os.read
    monkeypatch.setattr(os, "read", lambda fd, n: real(fd, min(n, 50)))
    assert check_frame(path, pillow=False).ok


def test_expected_format_overrides_the_extension(tmp_path):
    path = write(tmp_path, "frame.bin", _png())
    assert check_frame(path).unknown
    assert check_frame(path, "png") == Verdict(True, "png")
    assert check_frame(path, ".PNG").ok
    assert not check_frame(path, "exr").ok
    with pytest.raises(ValueError, match="no frame check"):
        check_frame(path, "gif")


@pytest.mark.parametrize("name,fmt", [("a.PNG", "png"), ("a.jpe", "jpeg"), ("a.TIFF", "tiff"), ("a.vda", "tga"),
                                      ("a.sxr", "exr"), ("a.cin", "cineon"), ("a.MOV", "movie"), ("a.gif", "unknown"),
                                      ("noext", "unknown")])
def test_format_of_names(name, fmt):
    assert format_of(name) == fmt


def test_sniff_names_every_magic():
    assert [sniff(h) for h in (_png()[:8], b"\xff\xd8\xff\xe0", b"II*\x00", b"MM\x00*", b"8BPS", _exr()[:4],
                               b"XPDS", b"SDPX", b"\x80\x2a\x5f\xd7", b"\xd7\x5f\x2a\x80", b"\0\0\x02\0")] == [
        "png", "jpeg", "tiff", "tiff", "psd", "exr", "dpx", "dpx", "cineon", "cineon", None]
    assert set(FORMATS) == {"png", "jpeg", "tiff", "tga", "psd", "exr", "dpx", "cineon", "movie"}


@pytest.mark.skipif(not (FFMPEG and FFPROBE), reason="ffmpeg/ffprobe not installed")
def test_movies_are_checked_by_ffprobe_frame_count(tmp_path):
    movie = tmp_path / "m.mov"
    subprocess.run([FFMPEG, "-v", "error", "-y", "-f", "lavfi", "-i", "testsrc=size=32x18:rate=24", "-frames:v", "5",
                    "-c:v", "png", str(movie)], check=True)
    counter = functools.partial(movie_frame_count, ffprobe=FFPROBE)
    assert check_frame(movie, count_movie_frames=counter) == Verdict(True, "movie", "", 5)
    assert check_frame(movie, count_movie_frames=counter, expected_frames=5).ok
    wrong = check_frame(movie, count_movie_frames=counter, expected_frames=6)
    assert not wrong.ok and "5 frames, 6 expected" in wrong.reason
    cut = write(tmp_path, "cut.mov", movie.read_bytes()[: movie.stat().st_size // 2])
    assert not check_frame(cut, count_movie_frames=counter, expected_frames=5).ok
    audio = tmp_path / "a.mov"
    subprocess.run([FFMPEG, "-v", "error", "-y", "-f", "lavfi", "-i", "sine=d=0.2", "-c:a", "pcm_s16le", str(audio)],
                   check=True)
    assert check_frame(audio, count_movie_frames=counter).reason == "ffprobe finds no video stream that decodes"
    assert "no frame counter" in check_frame(movie).reason


def test_a_counter_that_raises_is_a_failed_verdict(tmp_path):
    def broken(path):
        raise RuntimeError("ffprobe timed out")
    verdict = check_frame(write(tmp_path, "m.mp4", b"x" * 10), count_movie_frames=broken)
    assert not verdict.ok and "ffprobe timed out" in verdict.reason
