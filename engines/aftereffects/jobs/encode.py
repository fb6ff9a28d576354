"""The encode action: verified frames -> one movie with ffmpeg, an optional audio file muxed in, checked by ffprobe.

Presets (the two copies a personalised-video job delivers):

- ``h264``: an H.264 review copy in MP4 (libx264, CRF 18 unless the job says otherwise, yuv420p, sizes rounded
  down to even numbers as yuv420p needs, ``+faststart`` so it plays while downloading); audio AAC 192 kb/s;
- ``prores``: a ProRes 422 HQ master in QuickTime (prores_ks profile 3, 10-bit 4:2:2); audio 16-bit PCM.

The frame rate is the comp's (``aeproject``: 29.97 is written 30000/1001, as After Effects means it). The movie is
exactly the frames' duration: a longer audio file is cut there, a shorter one ends early. The movie is written to a
temporary name beside its destination and renamed into place only after ffprobe counted every frame (and found the
audio stream when one was asked for); a failed encode leaves nothing at the destination.
"""
from __future__ import annotations

import os
import re
import uuid
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Tuple

from engines.aftereffects.jobs.errors import JobError
from stmpo.errors import StmpoError
from stmpo.movies import movie_frame_count, run_tool
from stmpo.outputs import OutputPattern


@dataclass(frozen=True)
class Preset:
    """An encode preset: the file extensions its container takes (the first is the default), the ffmpeg muxer for
    each, the video codec arguments, the default CRF (None: the codec has none) and the audio codec arguments."""

    extensions: Tuple[str, ...]
    muxers: Dict[str, str]
    video: Tuple[str, ...]
    crf: Optional[int]
    audio: Tuple[str, ...]


PRESETS: Dict[str, Preset] = {
    "h264": Preset((".mp4", ".mov", ".m4v"), {".mp4": "mp4", ".m4v": "mp4", ".mov": "mov"},
                   ("-c:v", "libx264", "-preset", "medium", "-pix_fmt", "yuv420p",
                    "-vf", "scale=trunc(iw/2)*2:trunc(ih/2)*2", "-movflags", "+faststart"),
                   18, ("-c:a", "aac", "-b:a", "192k")),
    "prores": Preset((".mov",), {".mov": "mov"},
                     ("-c:v", "prores_ks", "-profile:v", "3", "-pix_fmt", "yuv422p10le", "-vendor", "apl0"),
                     None, ("-c:a", "pcm_s16le")),
}
DEFAULT_EXTENSION = {name: preset.extensions[0] for name, preset in PRESETS.items()}
_NTSC = {23.976: Fraction(24000, 1001), 29.97: Fraction(30000, 1001), 59.94: Fraction(60000, 1001),
         47.952: Fraction(48000, 1001), 119.88: Fraction(120000, 1001)}
_HASHES = re.compile(r"\[(#+)\]")


@dataclass(frozen=True)
class EncodeResult:
    """The movie written: its path, frame count, whether it has audio, its duration in seconds."""

    path: Path
    frames: int
    audio: bool
    seconds: float

    def to_json(self) -> dict:
        return {"path": str(self.path), "frames": self.frames, "audio": self.audio,
                "seconds": round(self.seconds, 3)}


def check_movie_name(preset: str, name: str, where: str) -> None:
    """JobError when the movie's extension does not suit the preset's container."""
    ext = os.path.splitext(name)[1].lower()
    allowed = PRESETS[preset].extensions
    if ext not in allowed:
        raise JobError(f"{where}: {name!r}: the {preset} preset writes {'/'.join(allowed)} files")


def frame_rate(fps: float) -> Fraction:
    """The comp's frame rate as ffmpeg's rational (NTSC rates as x/1001)."""
    if fps <= 0:
        raise JobError(f"the comp's frame rate is {fps:g}: it cannot be encoded")
    for nominal, exact in _NTSC.items():
        if abs(fps - nominal) < 0.005:
            return exact
    return Fraction(fps).limit_denominator(1001)


def input_pattern(pattern: OutputPattern) -> str:
    """The frames' file pattern for ffmpeg's image2 demuxer (``[#####]`` -> ``%05d``; ``%`` doubled)."""
    name = pattern.sequence_name()
    if len(_HASHES.findall(name)) != 1:
        raise JobError(f"{pattern.pattern}: encoding needs exactly one [#####] frame token in the file name")
    filled = OutputPattern(str(pattern.folder / name), comp=pattern.comp)
    texts, widths = filled._name_parts()
    text = texts[0].replace("%", "%%") + f"%0{widths[0]}d" + texts[1].replace("%", "%%")
    return os.path.join(str(pattern.folder).replace("%", "%%"), text)


def encode_command(ffmpeg: str, pattern: OutputPattern, frames: Sequence[int], fps: float, preset: str,
                   dst: Path, audio: Optional[Path] = None, crf: Optional[int] = None) -> List[str]:
    """The ffmpeg command line writing ``dst`` (pure; ``frames`` must be consecutive)."""
    if not frames:
        raise JobError("nothing to encode: no frames")
    if list(frames) != list(range(frames[0], frames[0] + len(frames))):
        raise JobError("encoding needs consecutive frames (a stepped frame set cannot become one movie)")
    spec = PRESETS[preset]
    rate = frame_rate(fps)
    argv = [ffmpeg, "-nostdin", "-hide_banner", "-loglevel", "error", "-y",
            "-framerate", f"{rate.numerator}/{rate.denominator}", "-start_number", str(frames[0]),
            "-i", input_pattern(pattern)]
    if audio is not None:
        argv += ["-i", str(audio)]
    argv += ["-map", "0:v:0"] + (["-map", "1:a:0"] if audio is not None else [])
    argv += ["-frames:v", str(len(frames))] + list(spec.video)
    quality = crf if crf is not None else spec.crf
    if quality is not None:
        argv += ["-crf", str(quality)]
    if audio is not None:
        seconds = Fraction(len(frames)) / rate
        argv += list(spec.audio) + ["-t", f"{float(seconds):.6f}"]
    muxer = spec.muxers.get(dst.suffix.lower(), "mp4")
    argv += ["-f", muxer, str(dst)]
    return argv


def stream_types(path: Path, ffprobe: str, timeout: float = 60.0) -> List[str]:
    """The codec types of a movie's streams (``video``, ``audio``, ...), in order; [] when unreadable."""
    proc = run_tool([ffprobe, "-v", "error", "-show_entries", "stream=codec_type", "-of", "csv=p=0", str(path)],
                    timeout)
    if proc.returncode != 0:
        return []
    return [line.strip() for line in proc.stdout.splitlines() if line.strip()]


def verify_movie(path: Path, ffprobe: str, frames: int, audio: bool) -> Optional[str]:
    """None when ``path`` holds exactly ``frames`` video frames (and an audio stream when ``audio``), else why not."""
    try:
        count = movie_frame_count(path, ffprobe)
    except StmpoError as exc:
        return str(exc)
    if count != frames:
        return f"{path.name} has {count} frames, expected {frames}" if count is not None else \
            f"{path.name} is not a readable movie"
    if audio and "audio" not in stream_types(path, ffprobe):
        return f"{path.name} has no audio stream"
    return None


def encode(pattern: OutputPattern, frames: Sequence[int], fps: float, preset: str, dst: Path, ffmpeg: str,
           ffprobe: str, audio: Optional[Path] = None, crf: Optional[int] = None,
           timeout: float = 3600.0) -> EncodeResult:
    """Encode the verified frames into ``dst`` atomically; JobError (nothing left at ``dst``) when it fails."""
    if audio is not None and not Path(audio).is_file():
        raise JobError(f"encode: audio file not found: {audio}")
    dst = Path(dst)
    dst.parent.mkdir(parents=True, exist_ok=True)
    tmp = dst.parent / f".{dst.stem}.aefarm-{uuid.uuid4().hex[:8]}{dst.suffix}"
    argv = encode_command(ffmpeg, pattern, frames, fps, preset, tmp, audio, crf)
    try:
        try:
            proc = run_tool(argv, timeout)
        except StmpoError as exc:
            raise JobError(f"encode {dst.name}: {exc}") from None
        if proc.returncode != 0:
            last = proc.stderr.strip().splitlines()[-1] if proc.stderr.strip() else f"exit code {proc.returncode}"
            raise JobError(f"encode {dst.name}: ffmpeg failed: {last}")
        problem = verify_movie(tmp, ffprobe, len(frames), audio is not None)
        if problem:
            raise JobError(f"encode {dst.name}: {problem}")
        os.replace(tmp, dst)
    finally:
        if tmp.exists():
            tmp.unlink()
    return EncodeResult(dst, len(frames), audio is not None, float(Fraction(len(frames)) / frame_rate(fps)))
