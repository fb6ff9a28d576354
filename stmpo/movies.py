"""Movie outputs: find ffmpeg/ffprobe, count a movie's frames, join numbered segments into the final movie.

A movie (.mov/.mp4/.avi) is one file, so the chunks render numbered segments in parallel (``outputs.segment_name``)
and this module joins them with ffmpeg's concat demuxer (stream copy; re-encode fallback) into a temporary file that
is renamed into place only after ffprobe counted its frames. Why apart from ``stmpo.outputs``: staging and moving
image frames is plain file work, while this is driving external tools (ffmpeg, ffprobe) with timeouts and a cancel.
"""
from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import threading
import time
import uuid
from pathlib import Path
from typing import List, Mapping, Optional, Sequence, Tuple

from stmpo.errors import StmpoError
from stmpo.outputs import frame_ok


def find_ffmpeg(explicit: Optional[str] = None, env: Optional[Mapping[str, str]] = None) -> Tuple[str, str]:
    """(ffmpeg, ffprobe): ``--ffmpeg``, then ``FFMPEG``, then PATH; ffprobe beside ffmpeg, ``FFPROBE`` or PATH."""
    env = os.environ if env is None else env
    ffmpeg = explicit or env.get("FFMPEG") or shutil.which("ffmpeg")
    if not ffmpeg or not (os.path.isfile(ffmpeg) or shutil.which(ffmpeg)):
        raise StmpoError("ffmpeg not found (movie outputs are joined with ffmpeg): pass --ffmpeg PATH, set FFMPEG "
                         "or put ffmpeg on PATH")
    ffprobe = env.get("FFPROBE")
    if not ffprobe:
        folder, name = os.path.split(ffmpeg)
        sibling = os.path.join(folder, name.replace("ffmpeg", "ffprobe")) if folder else ""
        ffprobe = sibling if sibling and os.path.isfile(sibling) else shutil.which("ffprobe")
    if not ffprobe:
        raise StmpoError("ffprobe not found (movie outputs are verified with ffprobe): set FFPROBE or put it on PATH")
    return ffmpeg, ffprobe


def run_tool(argv: Sequence[str], timeout: float, cancel: Optional[threading.Event] = None
             ) -> "subprocess.CompletedProcess[str]":
    """Run ffmpeg/ffprobe to completion, but kill it at once when ``cancel`` is set (a cancelled render must not wait
    out a long join) or after ``timeout``; StmpoError in both cases."""
    if cancel is not None and cancel.is_set():
        raise StmpoError(f"{Path(argv[0]).name} cancelled")
    proc = subprocess.Popen(list(argv), stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)
    deadline = time.monotonic() + timeout
    while True:
        try:
            out, err = proc.communicate(timeout=0.2)
            return subprocess.CompletedProcess(list(argv), proc.returncode, out, err)
        except subprocess.TimeoutExpired:
            stop = "cancelled" if cancel is not None and cancel.is_set() else (
                "timed out" if time.monotonic() > deadline else None)
            if stop is not None:
                proc.kill()
                proc.communicate()
                raise StmpoError(f"{Path(argv[0]).name} {stop}") from None


def movie_frame_count(path: Path, ffprobe: str, timeout: float = 120.0,
                      cancel: Optional[threading.Event] = None) -> Optional[int]:
    """Video frames in ``path`` counted by decoding (``ffprobe -count_frames``); None when unreadable."""
    if not frame_ok(path):
        return None
    proc = run_tool(
        [ffprobe, "-v", "error", "-select_streams", "v:0", "-count_frames",
         "-show_entries", "stream=nb_read_frames", "-of", "default=noprint_wrappers=1:nokey=1", str(path)],
        timeout, cancel)
    text = proc.stdout.strip().splitlines()
    if proc.returncode != 0 or not text:
        return None
    try:
        return int(text[0].strip())
    except ValueError:
        return None


_MUXERS = {".mov": "mov", ".mp4": "mp4", ".avi": "avi"}


def _concat_list_line(path: Path) -> str:
    text = str(Path(path).resolve()).replace("'", "'\\''")
    return f"file '{text}'\n"


def join_segments(segments: Sequence[Path], dst: Path, ffmpeg: str, ffprobe: str, expected_frames: int,
                  timeout: float = 3600.0, cancel: Optional[threading.Event] = None) -> str:
    """Join ``segments`` (in order) into ``dst``: concat demuxer with stream copy, re-encode if that fails or the
    frame count is wrong; the result is written to a temporary name beside ``dst`` and renamed into place only after
    ffprobe counted ``expected_frames``. Returns "copy" or "reencode"; raises StmpoError otherwise."""
    dst = Path(dst)
    dst.parent.mkdir(parents=True, exist_ok=True)
    ext = dst.suffix.lower()
    fd, list_path = tempfile.mkstemp(prefix=".aefarm-concat-", suffix=".txt", dir=str(dst.parent))
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.writelines(_concat_list_line(s) for s in segments)
    tmp = dst.parent / f".{dst.stem}.aefarm-{uuid.uuid4().hex[:8]}{ext}"
    attempts = [("copy", ["-c", "copy"]), ("reencode", [])]
    errors: List[str] = []
    try:
        for how, codec in attempts:
            argv = [ffmpeg, "-nostdin", "-hide_banner", "-loglevel", "error", "-y", "-f", "concat", "-safe", "0",
                    "-i", list_path, *codec, "-f", _MUXERS.get(ext, ext.lstrip(".")), str(tmp)]
            proc = run_tool(argv, timeout, cancel)
            count = movie_frame_count(tmp, ffprobe, cancel=cancel) if proc.returncode == 0 else None
            if count == expected_frames:
                os.replace(tmp, dst)
                return how
            errors.append(f"{how}: exit {proc.returncode}, {count} frames"
                          + (f" ({proc.stderr.strip().splitlines()[-1]})" if proc.stderr.strip() else ""))
            try:
                os.unlink(tmp)
            except OSError:
                pass
        raise StmpoError(f"joining {len(segments)} movie segments into {dst} failed: {'; '.join(errors)} "
                         f"(expected {expected_frames} frames)")
    finally:
        for leftover in (list_path, tmp):
            try:
                os.unlink(leftover)
            except OSError:
                pass
