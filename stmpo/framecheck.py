"""Is a rendered frame file whole? One structural check per format After Effects writes (pure reads, no writes).

`check_frame(path)` picks the format from the file name's extension (or `expected_format`), confirms the file's magic
bytes agree, and proves the end of the data is in the file, without decoding pixels (see each module for the
format facts and their sources):

- `stmpo.framecheck_image`: PNG, JPEG, TIFF, Targa, Photoshop (Pillow opens them; our walk proves the end),
- `stmpo.framecheck_exr`: OpenEXR (header + offset tables + every chunk header against the file size),
- `stmpo.framecheck_film`: DPX and Cineon (magic in either byte order + the header's file-size field),
- movies (`.mov`, `.mp4`, `.avi`, `.mxf`, ...): a video stream that decodes, and its frame count when one is
  expected, through a caller-given counter (the executor passes `stmpo.movies.movie_frame_count` with its ffprobe;
  taking it as a parameter keeps this module below the executor's output handling in the import graph).

An extension with no check gives `Verdict(ok=False, format="unknown", ...)`: not proven, and `unknown` says why, so
the caller decides (e.g. fall back to "exists and is not empty" for an output format added later).
Cost: a few small reads for EXR, DPX, Cineon, TIFF, PSD and uncompressed TGA; PNG and JPEG are read once
(CRC-32 over PNG chunks, a C-speed marker scan over JPEG data). `benchmarks/bench_framecheck.py` measures it.
"""
from __future__ import annotations

import os
import re
import stat
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO, Callable, Dict, Optional, Tuple, Union

from stmpo.framebytes import Broken
from stmpo.framecheck_exr import EXR_MAGIC, check_exr
from stmpo.framecheck_film import CINEON_MAGICS, DPX_MAGICS, check_cineon, check_dpx
from stmpo.framecheck_image import check_jpeg, check_png, check_psd, check_tga, check_tiff, decode, walk_jpeg, walk_png

__all__ = ["Verdict", "check_frame", "format_of", "sniff", "FORMATS", "UNKNOWN", "MOVIE", "MovieFrameCounter"]

PathLike = Union[str, "os.PathLike[str]"]
MovieFrameCounter = Callable[[Path], Optional[int]]
UNKNOWN = "unknown"
MOVIE = "movie"

# extension (lower case, with dot) -> format name
EXTENSIONS: Dict[str, str] = {
    ".png": "png", ".jpg": "jpeg", ".jpeg": "jpeg", ".jpe": "jpeg", ".tif": "tiff", ".tiff": "tiff",
    ".tga": "tga", ".targa": "tga", ".vda": "tga", ".icb": "tga", ".vst": "tga", ".psd": "psd", ".psb": "psd",
    ".exr": "exr", ".sxr": "exr", ".dpx": "dpx", ".cin": "cineon",
    ".mov": MOVIE, ".mp4": MOVIE, ".m4v": MOVIE, ".avi": MOVIE, ".mxf": MOVIE, ".mkv": MOVIE, ".webm": MOVIE,
}
_CHECKS: Dict[str, Callable[[BinaryIO, int], None]] = {
    "png": check_png, "jpeg": check_jpeg, "tiff": check_tiff, "tga": check_tga, "psd": check_psd,
    "exr": check_exr, "dpx": check_dpx, "cineon": check_cineon,
}
FORMATS = tuple(_CHECKS) + (MOVIE,)
_READ_WHOLE = ("png", "jpeg")  # formats whose check reads the whole file (`_check_whole`)
_OPEN_FLAGS = getattr(os, "O_BINARY", 0) | getattr(os, "O_NONBLOCK", 0)
_ALIASES = {"jpg": "jpeg", "tif": "tiff", "targa": "tga", "openexr": "exr", "cin": "cineon", "psb": "psd"}


@dataclass(frozen=True)
class Verdict:
    """The outcome of one check.

    ok: True only when the file was proven whole. format: one of FORMATS, or UNKNOWN when no check exists for the
    name. reason: "" when ok, else one line (e.g. "truncated: chunk 3 (b'IDAT') at byte 57 ends at 2104, the file
    has 1000"). frames: the counted video frames of a movie (None otherwise). stamp: the size in bytes and
    modification time in ns of the file that was proven (an image frame; None otherwise), not compared.
    """
    ok: bool
    format: str
    reason: str = ""
    frames: Optional[int] = None
    stamp: Optional[Tuple[int, int]] = field(default=None, compare=False)  # (size, mtime ns) as checked, when ok

    @property
    def unknown(self) -> bool:
        return self.format == UNKNOWN



def format_of(path: PathLike) -> str:
    """The format name for a file name's extension (case-insensitive), or UNKNOWN."""
    return EXTENSIONS.get(os.path.splitext(os.fspath(path))[1].lower(), UNKNOWN)


def _normalize(name: str) -> str:
    key = name.lower().lstrip(".")
    key = _ALIASES.get(key, key)
    if key in FORMATS:
        return key
    by_extension = EXTENSIONS.get("." + key)
    if by_extension is None:
        raise ValueError(f"no frame check for format {name!r} (known: {', '.join(FORMATS)})")
    return by_extension


def sniff(head: bytes) -> Optional[str]:
    """The format the first bytes name (PNG, JPEG, TIFF, PSD, EXR, DPX, Cineon), or None (TGA has no magic)."""
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "png"
    if head.startswith(b"\xff\xd8\xff"):
        return "jpeg"
    if head[:4] in (b"II*\x00", b"MM\x00*", b"II+\x00", b"MM\x00+"):
        return "tiff"
    if head.startswith(b"8BPS"):
        return "psd"
    if head.startswith(EXR_MAGIC):
        return "exr"
    if head[:4] in DPX_MAGICS:
        return "dpx"
    if head[:4] in CINEON_MAGICS:
        return "cineon"
    return None


def format_mismatch(found: str, expected: str) -> str:
    """The verdict's reason when the file is another format than the output's extension says (e.g. the output
    module writes PNG to ``x_[#####].exr``): every frame will be so, whatever the retry (``is_format_mismatch``)."""
    return f"the file is {found.upper()}, not {expected.upper()}"


def is_format_mismatch(reason: str) -> bool:
    return _MISMATCH.fullmatch(reason) is not None


_MISMATCH = re.compile(r"the file is [A-Z0-9]+, not [A-Z0-9]+")


def check_frame(path: PathLike, expected_format: Optional[str] = None, *, decode_pixels: bool = False,
                count_movie_frames: Optional[MovieFrameCounter] = None,
                expected_frames: Optional[int] = None, pillow: bool = True) -> Verdict:
    """Prove that the frame (or movie) file at `path` is whole.

    expected_format: a format name (`png`, `jpeg`/`jpg`, `tiff`, `tga`, `psd`, `exr`, `dpx`, `cineon`, `movie`) or an
    extension; default: from the file name. ValueError for a name with no check (a caller's mistake).
    decode_pixels: also decode every pixel with Pillow (PNG, JPEG, TIFF, TGA, PSD; much slower: for deep checks).
    count_movie_frames: for movies, a function path -> decoded video frame count or None when no video stream
    decodes (e.g. `functools.partial(stmpo.movies.movie_frame_count, ffprobe=...)`); without it a movie is not
    proven. expected_frames: for movies, the frame count it must have. pillow=False: PNG and JPEG skip Pillow's header
    parse and rely on our structural walk alone (for the later files of one writer whose first file Pillow read).
    Never raises for a bad, missing or unreadable file: that is a Verdict with ok=False.
    """
    fmt = _normalize(expected_format) if expected_format else format_of(path)
    if fmt in _READ_WHOLE and not decode_pixels:
        return _check_whole(path, fmt, pillow)
    try:
        st = os.stat(path)
    except OSError as exc:
        return Verdict(False, fmt, f"cannot be read ({exc.strerror or exc})")
    if not stat.S_ISREG(st.st_mode):
        return Verdict(False, fmt, "not a regular file")
    if st.st_size == 0:
        return Verdict(False, fmt, "empty file")
    if fmt == UNKNOWN:
        extension = os.path.splitext(os.fspath(path))[1] or "files without an extension"
        return Verdict(False, UNKNOWN, f"no structural check for {extension!r}")
    if fmt == MOVIE:
        return _check_movie(Path(os.fspath(path)), count_movie_frames, expected_frames)
    try:
        with open(path, "rb", buffering=0) as f:
            head = f.read(8)
            found = sniff(head)
            if found is not None and found != fmt:
                return Verdict(False, fmt, format_mismatch(found, fmt))
            if fmt in ("png", "jpeg") and not pillow:
                (check_png if fmt == "png" else check_jpeg)(f, st.st_size, pillow=False)
            else:
                _CHECKS[fmt](f, st.st_size)
            if decode_pixels and fmt in ("png", "jpeg", "tiff", "tga", "psd"):
                decode(f, fmt)
    except Broken as exc:
        return Verdict(False, fmt, str(exc))
    except OSError as exc:
        return Verdict(False, fmt, f"cannot be read ({exc.strerror or exc})")
    except Exception as exc:  # a check's bug must not turn a bad frame into a crash of the render
        return Verdict(False, fmt, f"check failed ({type(exc).__name__}: {exc})")
    return Verdict(True, fmt, stamp=(st.st_size, st.st_mtime_ns))


def _check_whole(path: PathLike, fmt: str, pillow: bool) -> Verdict:
    """PNG and JPEG, whose check reads the whole file anyway: one open, its ``fstat``, one read to the end (the
    executor checks every frame of every child: no separate stat, magic read or seek). The same verdicts as the
    general path. ``O_NONBLOCK``: opening a FIFO left under a frame's name must not wait for a writer."""
    try:
        fd = os.open(path, os.O_RDONLY | _OPEN_FLAGS)
    except OSError as exc:
        try:  # e.g. a folder on Windows (not openable): say what it is, as the general path does
            if not stat.S_ISREG(os.stat(path).st_mode):
                return Verdict(False, fmt, "not a regular file")
        except OSError:
            pass
        return Verdict(False, fmt, f"cannot be read ({exc.strerror or exc})")
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            return Verdict(False, fmt, "not a regular file")
        if st.st_size == 0:
            return Verdict(False, fmt, "empty file")
        data = os.read(fd, st.st_size + 1)
        if len(data) != st.st_size:  # shorter (a short read) or longer (it grew): read on to the end of the file
            parts = [data]
            while parts[-1]:
                parts.append(os.read(fd, max(st.st_size, 1 << 16)))
            data = b"".join(parts)
        found = sniff(data[:8])
        if found is not None and found != fmt:
            return Verdict(False, fmt, format_mismatch(found, fmt))
        (walk_png if fmt == "png" else walk_jpeg)(data, pillow)
        verdict = Verdict(True, fmt, stamp=(st.st_size, st.st_mtime_ns))
    except Broken as exc:
        return Verdict(False, fmt, str(exc))
    except OSError as exc:
        return Verdict(False, fmt, f"cannot be read ({exc.strerror or exc})")
    except Exception as exc:  # a check's bug must not turn a bad frame into a crash of the render
        return Verdict(False, fmt, f"check failed ({type(exc).__name__}: {exc})")
    finally:
        os.close(fd)
    return verdict


def _check_movie(path: Path, count: Optional[MovieFrameCounter], expected: Optional[int]) -> Verdict:
    if count is None:
        return Verdict(False, MOVIE, "movies are checked by ffprobe: no frame counter was given")
    try:
        frames = count(path)
    except Exception as exc:  # ffprobe missing, timed out or cancelled
        return Verdict(False, MOVIE, f"ffprobe failed ({exc})")
    if frames is None:
        return Verdict(False, MOVIE, "ffprobe finds no video stream that decodes")
    if frames <= 0:
        return Verdict(False, MOVIE, "the video stream has no frames", frames)
    if expected is not None and frames != expected:
        return Verdict(False, MOVIE, f"the video stream has {frames} frames, {expected} expected", frames)
    return Verdict(True, MOVIE, "", frames)
