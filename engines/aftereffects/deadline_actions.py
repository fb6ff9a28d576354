"""What the actions of our OpenJD templates do on a worker: enter/exit the job environment, render a task, join.

Why these exist instead of calling `aefarm render` straight from the template: OpenJD 2023-09 (without the EXPR
extension) cannot leave an argument out, so a template passes every parameter, with "0"/"" meaning "not set"; the
task reads those values through the option table (``engines.aftereffects.options``), builds the Job and renders it
with the function `aefarm render` uses (printing the equivalent `aefarm render` command), checks the pattern and
frames for the bundle kind before anything runs (`openjd_fail:` plus exit 2), and keeps the movie-segment naming in
one place for the render and join steps. Every action is an `aefarm` command, so no shell is needed on Windows or
macOS workers.
"""
from __future__ import annotations

import hashlib
import os
import re
import shlex
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional, Tuple, TypeVar

from aefarm_common.atomic import atomic_write
from engines.aftereffects.deadline_bundle import (
    BundleError,
    check_frames,
    check_movie_name,
    check_output_pattern,
    movie_extension,
    output_folders,
)
from engines.aftereffects.job import Job
from engines.aftereffects.options import check_target, cli_arguments, on_surface, parse_values
from remap.rules import RuleSet
from stmpo.frames import FrameSet
from stmpo.outputs import OutputPattern, segment_name

T = TypeVar("T")

SEGMENTS_FOLDER = ".aefarm-segments"
_SEGMENT = re.compile(r"^segment_(-?\d+)_(-?\d+)(\.[A-Za-z0-9]+)$")


def openjd_fail(text: str) -> None:
    """The failure line Deadline shows as the task's status message (the exit code decides failure)."""
    print(f"openjd_fail: {' '.join(text.split())}", flush=True)


def openjd_status(text: str) -> None:
    print(f"openjd_status: {' '.join(text.split())}", flush=True)


# --------------------------------------------------------------------------------------------------- environment
def session_enter(kind: str, output_dir: str, pattern: str, frames: str, fonts_dir: str, token_file: str) -> List[Path]:
    """Check the job's pattern and frames, create the output folders, install the fonts (token kept in a file).

    The fonts are held until `session_exit` (persistent), not tied to this short-lived action process.
    """
    pattern = check_output_pattern(kind, pattern)
    check_frames(kind, frames)
    if not output_dir.strip():
        raise BundleError("OutputDir is empty")
    folders = output_folders(output_dir, pattern)
    for folder in folders:
        folder.mkdir(parents=True, exist_ok=True)
    openjd_status(f"output folder ready: {folders[-1]}")
    if fonts_dir.strip():
        from fonts.install import install

        token_path = Path(token_file)
        if token_path.exists():  # an environment entered twice in one session: release the first install
            session_exit(token_file)
        token = install(fonts_dir, persistent=True)
        with atomic_write(token_path, mode="w") as handle:
            handle.write(token + "\n")
        openjd_status(f"fonts of {fonts_dir} installed for this session")
    return folders


def session_exit(token_file: str) -> bool:
    """Remove the fonts the session installed (nothing to do without a token file). True when fonts were released."""
    path = Path(token_file)
    try:
        token = path.read_text(encoding="ascii").strip()
    except FileNotFoundError:
        return False
    except UnicodeDecodeError:
        raise BundleError(f"token file {path} does not hold an aefarm fonts token") from None
    from fonts.install import remove

    remove(token)
    path.unlink()
    openjd_status("session fonts removed")
    return True


# --------------------------------------------------------------------------------------------------- movies
def segments_dir(output_dir: str, pattern: str, comp: str, rqindex: int, frames: str, project: str) -> Path:
    """The folder of one movie job's segments, shared by its render and join steps (and all their workers).

    Named from values that are the same on every worker OS (project *name*, not its mapped path), so a Windows task
    and a macOS join agree; two jobs with identical settings share it, which is harmless (same frames, same names).
    """
    project_name = re.split(r"[\\/]", project.rstrip("\\/"))[-1]
    key = "\0".join((pattern, comp, str(rqindex), FrameSet.parse(frames).to_openjd(), project_name))
    digest = hashlib.sha256(key.encode("utf-8")).hexdigest()[:12]
    stem = re.sub(r"[^A-Za-z0-9_.-]+", "_", Path(pattern.replace("\\", "/")).stem).strip("._") or "movie"
    return Path(output_dir) / SEGMENTS_FOLDER / f"{stem}-{digest}"


def parse_segment(name: str) -> Optional[Tuple[int, int, str]]:
    match = _SEGMENT.match(name)
    if not match:
        return None
    return int(match.group(1)), int(match.group(2)), match.group(3).lower()


def tile_segments(folder: Path, frames: FrameSet, extension: str) -> List[Path]:
    """The segments that cover ``frames`` exactly, in frame order; BundleError naming the frames no segment covers.

    Segments are found by name (``segment_<first>_<last>.<ext>``, written atomically by the render tasks). The
    folder may still hold segments of an earlier job with the same settings but another chunk size (cancelled
    before its join): every segment of this job was written after them, since the join runs only once all of this
    job's render tasks succeeded, so the chain always takes the NEWEST segment starting at each frame.
    """
    if len(frames.runs) != 1:
        raise BundleError("a movie needs one range of consecutive frames")
    first, last = frames.first, frames.last
    newest: Dict[int, Tuple[float, int, Path]] = {}
    covered: List[Tuple[int, int]] = []
    if folder.is_dir():
        for entry in folder.iterdir():
            parsed = parse_segment(entry.name)
            if not (parsed and parsed[2] == extension and entry.is_file()):
                continue
            info = entry.stat()
            a, b, _ext = parsed
            if info.st_size > 0 and first <= a <= b <= last:
                covered.append((a, b))
                if a not in newest or info.st_mtime_ns > newest[a][0]:
                    newest[a] = (info.st_mtime_ns, b, entry)
    tiles: List[Path] = []
    start = first
    while start <= last:
        if start not in newest:
            missing = frames - FrameSet.from_frames(f for a, b in covered for f in range(a, b + 1))
            if len(missing):
                raise BundleError(f"movie segments missing for frames {missing} in {folder}")
            raise BundleError(f"the movie segments in {folder} overlap and do not line up into frames {frames}")
        _mtime, end, path = newest[start]
        tiles.append(path)
        start = end + 1
    return tiles


# --------------------------------------------------------------------------------------------------- task
@dataclass
class TaskValues:
    """The template's values for one task, as the template passes them ("0"/"" = not set).

    ``options`` are the render options' values as text by option name (the template's ``{{Param.X}}`` under the
    option's flag; see ``engines.aftereffects.options``)."""

    kind: str
    project: str
    comp_name: str
    rq_index: int
    output_dir: str
    pattern: str
    frames: str
    rules: str = ""
    progress: str = "openjd"
    job_frames: str = ""  # the job's whole Frames (movie segments are named per job)
    converted_dir: str = ""  # where the remapped project goes (the session's working directory)
    options: Dict[str, Optional[str]] = field(default_factory=dict)


def task_job(values: TaskValues) -> Job:
    """The Job one task renders, built from the template's values; BundleError (or another exit-2 error) for
    values that cannot work, before anything is written."""
    kind = values.kind
    pattern = check_output_pattern(kind, values.pattern)
    chunk = check_frames(kind, values.frames)
    if not values.project.strip():
        raise BundleError("ProjectFile is empty")
    if not values.output_dir.strip():
        raise BundleError("OutputDir is empty")
    comp, rqindex = check_target(values.comp_name, values.rq_index, "openjd", BundleError)
    if kind == "image":
        output = os.path.join(values.output_dir, *pattern.replace("\\", "/").split("/"))
    else:
        job_frames = check_frames(kind, values.job_frames or values.frames)
        if len(chunk - job_frames):
            raise BundleError(f"task frames {values.frames} are not inside the job's Frames {values.job_frames}")
        check_movie_name(pattern, values.comp_name)
        extension = movie_extension(pattern)
        folder = segments_dir(values.output_dir, pattern, values.comp_name, values.rq_index,
                              values.job_frames or values.frames, values.project)
        output = str(folder / segment_name(chunk.first, chunk.last, extension))
    exposed = on_surface("openjd", kind)
    given = {str(o.openjd): values.options[o.name] for o in exposed if values.options.get(o.name) is not None}
    settings = parse_values("openjd", given, BundleError, kind)
    rules = RuleSet.from_openjd_file(values.rules) if values.rules.strip() else RuleSet()
    converted = None
    if values.converted_dir.strip():
        converted = Path(values.converted_dir).resolve()
        if not converted.is_dir():
            raise BundleError(f"--converted-dir folder not found: {values.converted_dir}")
    if not os.path.isabs(output) and not output.startswith("\\\\"):  # as `aefarm render` takes --output
        output = os.path.abspath(output)
    return Job.from_options(settings, project=Path(values.project).resolve(), output=output, frames=chunk,
                            comp=comp, rqindex=rqindex, rules=rules, converted_dir=converted)


def render_command(job: Job, values: TaskValues) -> List[str]:
    """The `aefarm render` arguments that render the same as the task (printed in the task's log, to reproduce it
    by hand); only options that differ from their defaults are written."""
    argv = [str(job.project), *(["--comp", job.comp] if job.comp else ["--rqindex", str(job.rqindex)]),
            "--output", job.output, f"--frames={job.frames.to_openjd()}", "--progress", values.progress]
    if values.rules.strip():
        argv += ["--rules", values.rules]
    if job.converted_dir is not None:
        argv += ["--converted-dir", str(job.converted_dir)]
    return argv + cli_arguments(job.option_values())


def run_task(values: TaskValues) -> int:
    """Build the Job from the template's values and render it in this process, as `aefarm render` does (the same
    ``render_with_progress``), so the task's cancel signal reaches the executor. Bad values: `openjd_fail:` and
    the error; otherwise the render's exit code (4: frames missing)."""
    from engines.aftereffects.render import render_with_progress

    job = with_openjd_fail(task_job, values)  # nothing written yet: the staging makes folders after preflight
    print("aefarm render " + " ".join(shlex.quote(a) for a in render_command(job, values)), flush=True)
    return render_with_progress(job, values.progress)


# --------------------------------------------------------------------------------------------------- join
def join_movie(output_dir: str, pattern: str, comp_name: str, rq_index: int, frames: str, project: str,
               ffmpeg: str = "") -> Tuple[Path, str]:
    """Join the job's segments into the movie (verified by ffprobe), then remove them. Returns (movie, how)."""
    from stmpo.movies import find_ffmpeg, join_segments

    pattern = check_output_pattern("video", pattern)
    job_frames = check_frames("video", frames)
    check_target(comp_name, rq_index, "openjd", BundleError)
    check_movie_name(pattern, comp_name)
    movie_pattern = OutputPattern(os.path.join(output_dir, *pattern.replace("\\", "/").split("/")), comp=comp_name)
    folder = segments_dir(output_dir, pattern, comp_name, rq_index, frames, project)
    tiles = tile_segments(folder, job_frames, movie_extension(pattern))
    ffmpeg_path, ffprobe_path = find_ffmpeg(ffmpeg.strip() or None)
    movie = movie_pattern.movie_path()
    openjd_status(f"joining {len(tiles)} segments into {movie}")
    how = join_segments(tiles, movie, ffmpeg_path, ffprobe_path, expected_frames=len(job_frames))
    shutil.rmtree(folder, ignore_errors=True)
    try:
        folder.parent.rmdir()  # the shared segments folder, once no other movie uses it
    except OSError:
        pass
    return movie, how


def with_openjd_fail(func: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """Run ``func``; a known failure (an error with exit_code) also prints its `openjd_fail:` line."""
    try:
        return func(*args, **kwargs)
    except Exception as exc:
        if isinstance(getattr(exc, "exit_code", None), int) or isinstance(exc, OSError):
            openjd_fail(str(exc) or type(exc).__name__)
        raise
