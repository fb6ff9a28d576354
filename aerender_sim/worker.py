"""The aerender simulator's worker process: the stand-in for After Effects itself (a TEST INSTRUMENT).

The launcher (`aerender_sim.launcher`) starts this module as a separate process, exactly as Adobe's aerender
starts After Effects, and relays what it prints. It reads the project, checks footage, renders frames to real PNGs
(or pipes them to ffmpeg for movies) and injects the faults the environment asks for. It writes its lines to fd 1
unbuffered and keeps rendering when the launcher is gone (the orphan hazard an orchestrator must handle).

Lines starting with CONTROL are a private protocol to the launcher (frames written), never shown to users.
"""
from __future__ import annotations

import datetime
import json
import os
import re
import signal
import subprocess
import sys
import time
from typing import Dict, List, Optional, Sequence, Tuple

from aerender_sim import png as sim_png
from aerender_sim.faults import (
    CONTROL,
    crash_now,
    fault_fires,
    hang_forever,
    spend,
    spend_until,
    start_grandchild,
)
from aerender_sim.project import Project, SimProjectError, comp_sources, footage_exists, load_project
from aerender_sim.records import append_record
from aerender_sim.texts import clock_text, effect_warning, font_warning, footage_warning, message

__all__ = ["CONTROL", "fault_fires", "timecode", "elapsed_text", "clock_text", "expand_output", "sequence_template",
           "render", "main"]
MOVIE_CODECS = {
    ".mov": ["-c:v", "png", "-pix_fmt", "rgb24"],
    ".avi": ["-c:v", "mjpeg", "-pix_fmt", "yuvj420p", "-q:v", "3"],
    ".mp4": ["-c:v", "mpeg4", "-pix_fmt", "yuv420p", "-q:v", "5"],
}
_HASHES = re.compile(r"\[(#+)\]")


# ---------------------------------------------------------------- aerender's text formats (pure)

def timecode(frame: int, fps: float) -> str:
    """H:MM:SS:FF as After Effects prints it; 29.97/59.94 use drop-frame numbering with `;` separators."""
    nominal = int(round(fps))
    drop = abs(fps - nominal) > 0.001 and nominal in (30, 60)
    sign = "-" if frame < 0 else ""
    n = abs(frame)
    if drop:
        dropped = 2 * nominal // 30
        per_minute = nominal * 60 - dropped
        per_ten = per_minute * 10 + dropped
        tens, rem = divmod(n, per_ten)
        n += dropped * 9 * tens + (dropped * ((rem - dropped) // per_minute) if rem > dropped else 0)
    ff = n % nominal
    seconds = n // nominal
    sep = ";" if drop else ":"
    return f"{sign}{seconds // 3600}{sep}{seconds // 60 % 60:02d}{sep}{seconds % 60:02d}{sep}{ff:02d}"


def elapsed_text(seconds: float) -> str:
    """`0 Seconds`, `1 Min, 2 Sec`, `26 Hr, 15 Min`: the three shapes aerender uses."""
    total = int(seconds)
    if total < 60:
        return f"{total} Seconds"
    if total < 3600:
        return f"{total // 60} Min, {total % 60} Sec"
    return f"{total // 3600} Hr, {total // 60 % 60} Min"


def expand_output(template: str, comp: str, frame: Optional[int]) -> str:
    """Expand `[compName]`, `[fileextension]` and `[#####]` (any count of #) as After Effects does."""
    safe_comp = re.sub(r"[\\/:]", "_", comp)
    text = re.sub(r"\[compName\]", lambda m: safe_comp, template, flags=re.IGNORECASE)
    text = re.sub(r"\[fileExtension\]", "png", text, flags=re.IGNORECASE)
    if frame is not None:
        text = _HASHES.sub(lambda m: f"{frame:0{len(m.group(1))}d}", text)
    return text


def sequence_template(path: str) -> str:
    """An image-sequence name without `[#...]` gets `_[#####]` before its extension, so frames don't collide."""
    if _HASHES.search(path):
        return path
    folder, name = os.path.split(path)
    stem, ext = os.path.splitext(name)
    return os.path.join(folder, f"{stem}_[#####]{ext}") if folder else f"{stem}_[#####]{ext}"


def is_movie(path: str) -> bool:
    return os.path.splitext(path)[1].lower() in MOVIE_CODECS


def frame_cost(frame: int, base: float, cost_map: Sequence[Tuple[Tuple[Tuple[int, int, int], ...], float]]) -> float:
    for runs, seconds in cost_map:
        for start, end, step in runs:
            if start <= frame <= end and (frame - start) % step == 0:
                return seconds
    return base


# ---------------------------------------------------------------- effects

class Out:
    """Writes lines to the launcher; notices when the launcher is gone and keeps quiet from then on."""

    def __init__(self) -> None:
        self.orphaned = False
        self.frames: List[int] = []

    def line(self, text: str) -> None:
        if self.orphaned:
            return
        try:
            os.write(1, (text + "\n").encode("utf-8"))
        except (BrokenPipeError, OSError):
            self.orphaned = True

    def release(self) -> None:
        """The launcher was told to exit: from now on this worker is on its own (nothing reaches stdout)."""
        self.orphaned = True

    def frame_done(self, frame: int) -> None:
        self.frames.append(frame)
        self.line(f"{CONTROL}FRAME {frame}")


def plan_items(config: Dict, project: Project, out: Out) -> Optional[List[Tuple[str, List[int], str, str]]]:
    """(comp, frames, output template, output-module name) per render; None after printing an aerender error."""
    knobs = config["knobs"]
    whole = list(range(0, knobs["comp_frames"]))
    om_default = config.get("om_template") or "Lossless"

    def frames_for() -> List[int]:
        start = config["start"] if config["start"] is not None else 0
        end = config["end"] if config["end"] is not None else max(start, knobs["comp_frames"] - 1)
        return list(range(start, end + 1, config["increment"] or 1))

    def queue_output(index: int) -> str:
        item = project.queue[index]
        return os.path.join(item.folder, item.file_template)

    if config["comp"] is not None:
        comp = config["comp"]
        if comp not in project.comps:
            out.line(message(knobs["language"], "no_comp"))
            return None
        out.line("PROGRESS: Adding specified comp to Render Queue")
        output = config["output"]
        if output is None:
            queued = [i for i in range(len(project.queue)) if project.queue_comp(i) == comp]
            if not queued:
                out.line(f'aerender ERROR: No output file was specified for comp "{comp}" and it is not in the '
                         "render queue (use -output).")
                return None
            output = queue_output(queued[0])
        return [(comp, frames_for(), output, om_default)]
    if config["rqindex"] is not None:
        index = config["rqindex"] - 1
        if index >= len(project.queue) or project.queue_comp(index) is None:
            out.line(f"aerender ERROR: No render queue item with index {config['rqindex']} was found.")
            return None
        output = config["output"] or queue_output(index)
        return [(project.queue_comp(index) or "", frames_for(), output, project.queue[index].om_template)]
    if not project.queue:
        out.line("aerender ERROR: The render queue is empty: there is nothing to render.")
        return None
    if not project.comps:
        out.line("aerender ERROR: No comp was found for the render queue items.")
        return None
    # the whole queue: -s/-e/-i/-output are ignored, as in aerender
    return [(project.queue_comp(i) or "", whole, queue_output(i), project.queue[i].om_template)
            for i in range(len(project.queue))]


class MovieWriter:
    """Pipes PNG frames into ffmpeg, which writes one movie with one video frame per rendered frame."""

    def __init__(self, ffmpeg: str, path: str, fps: float) -> None:
        ext = os.path.splitext(path)[1].lower()
        self.proc = subprocess.Popen(
            [ffmpeg, "-hide_banner", "-loglevel", "error", "-y", "-f", "image2pipe", "-framerate", f"{fps:g}",
             "-c:v", "png", "-i", "pipe:0", *MOVIE_CODECS[ext], path],
            stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)

    def write(self, data: bytes) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write(data)
        self.proc.stdin.flush()

    def close(self) -> Tuple[int, str]:
        assert self.proc.stdin is not None
        try:
            self.proc.stdin.close()
        except BrokenPipeError:
            pass
        err = self.proc.stderr.read() if self.proc.stderr else b""
        return self.proc.wait(), err.decode("utf-8", "replace").strip()


def write_frame_file(path: str, data: bytes, pause: float) -> None:
    """Write in two parts with the file visible between them, as a renderer streaming a frame to disk does."""
    half = len(data) // 2
    with open(path, "wb") as handle:
        handle.write(data[:half])
        handle.flush()
        if pause > 0:
            time.sleep(pause)
        handle.write(data[half:])


def file_number(config: Dict, frames: List[int], count: int) -> int:
    """The number in the file name of the ``count``-th rendered frame (AERENDER_SIM_INCREMENT)."""
    if (config["increment"] or 1) > 1 and config["knobs"]["increment_files"] == "consecutive":
        return frames[0] + count - 1
    return frames[count - 1]


def repeats(config: Dict, frame: int) -> List[int]:
    """The extra file numbers a rendered ``frame`` is written to under AERENDER_SIM_INCREMENT=repeat."""
    step = config["increment"] or 1
    if step <= 1 or config["knobs"]["increment_files"] != "repeat":
        return []
    last = frame + step - 1 if config["end"] is None else min(frame + step - 1, config["end"])
    return list(range(frame + 1, last + 1))


def render(config: Dict, out: Out) -> int:
    knobs = config["knobs"]
    language = knobs["language"]
    started = time.monotonic()
    # the start-up knob is the launch cost up to the first frame: the simulator's own start counts against it
    first_frame_at = float(config.get("launched_at") or time.time()) + knobs["startup"]
    if knobs["hang_at_startup"] and fault_fires(knobs, "hang_at_startup"):
        hang_forever()
    if knobs["license_error"] and fault_fires(knobs, "license_error"):
        out.line("aerender ERROR: After Effects error: Unable to obtain a license for After Effects. "
                 "Sign in with an Adobe ID that has an active license and try again.")
        return 1
    if knobs["another_instance"] and fault_fires(knobs, "another_instance"):
        out.line(message(language, "another_instance"))
        return 1
    out.line("PROGRESS: ...After Effects successfully launched")
    try:
        project = load_project(config["project"])
    except SimProjectError as exc:
        out.line(str(exc))
        return 1
    project_name = os.path.basename(config["project"])
    if knobs["missing_font"] and fault_fires(knobs, "missing_font"):
        out.line(font_warning(knobs["missing_font"]))
    if knobs["missing_effect"] and fault_fires(knobs, "missing_effect"):
        out.line(effect_warning(knobs["missing_effect"]))
    items = plan_items(config, project, out)
    if items is None:
        return 1
    missing = [ref.path for ref in project.footage if not footage_exists(ref)]
    warn_only = knobs["missing_footage_warning"] and fault_fires(knobs, "missing_footage_warning")
    if warn_only and project.footage and project.footage[0].path not in missing:
        missing.insert(0, project.footage[0].path)  # the knob makes the first footage file count as missing
    if not warn_only:
        for path in missing:
            if config["continue_on_missing"]:
                out.line(f"MISSING FOOTAGE, drawing color bars: File Not Found {path}")
            else:
                out.line(message(language, "file_not_found", path=path))
        if missing and not config["continue_on_missing"]:
            return 1
    spend(first_frame_at - time.time(), False)
    for comp, frames, template, om_name in items:
        code = render_item(config, out, project_name, comp, frames, template, om_name, bool(missing),
                           comp_sources(project, comp))
        if code is not None:
            return code
    out.line(f"PROGRESS:  Total Time Elapsed: {elapsed_text(time.monotonic() - started)}")
    if warn_only:
        for path in missing:  # reported after the render, as the public report shows it
            out.line(footage_warning(knobs["missing_footage_warning"], path))
    if knobs["hang_after_finish"] and fault_fires(knobs, "hang_after_finish"):
        hang_forever()  # finished, and never exits (the After Effects process lingers)
    return 0


def render_item(config: Dict, out: Out, project_name: str, comp: str, frames: List[int], template: str,
                om_name: str, color_bars: bool, sources: Optional[Dict[str, object]] = None) -> Optional[int]:
    """Render one comp; returns an exit code to stop with, or None to carry on."""
    knobs = config["knobs"]
    fps = knobs["fps"]
    movie = is_movie(template)
    template = expand_output(template, comp, None) if movie else sequence_template(template)
    folder = os.path.dirname(os.path.abspath(template))
    if not os.path.isdir(folder):
        out.line(f"After Effects error: Unable to Render: the output folder does not exist: {folder}")
        return 1
    language = knobs["language"]
    out.line(f'PROGRESS:  {clock_text(datetime.datetime.now(), language)}: Starting composition "{comp}".')
    out.line("PROGRESS:  ")
    out.line(f"PROGRESS:  Render Settings: {config.get('rs_template') or 'Best Settings'}")
    out.line("PROGRESS:      Quality: Best")
    out.line("PROGRESS:      Resolution: Full")
    out.line(f"PROGRESS:      Size: {sim_png.WIDTH} x {sim_png.HEIGHT}")
    out.line(f"PROGRESS:      Frame Rate: {fps:.2f} (comp)")
    if frames:
        out.line(f"PROGRESS:  Start: {timecode(frames[0], fps)}")
        out.line(f"PROGRESS:  End: {timecode(frames[-1], fps)}")
    out.line("PROGRESS:  ")
    out.line(f"PROGRESS:  Output Module: {om_name}")
    out.line(f"PROGRESS:  Output To: {template}")
    out.line("PROGRESS:  ")
    movie_writer: Optional[MovieWriter] = None
    if movie and frames:
        ffmpeg = knobs["ffmpeg"]
        if not ffmpeg:
            out.line(f"After Effects error: Unable to Render: the aerender simulator needs ffmpeg (FFMPEG or PATH) "
                     f"to write {os.path.splitext(template)[1]} movies")
            return 1
        movie_writer = MovieWriter(ffmpeg, template, fps)
    for count, frame in enumerate(frames, 1):
        began = time.monotonic()
        if knobs["hang_at_frame"] == frame and fault_fires(knobs, "hang_at_frame"):
            hang_forever()
        if knobs["error_exit0"] == frame and fault_fires(knobs, "error_exit0"):
            out.line(f"aerender Error: After Effects error: Unable to Render: an internal error occurred while "
                     f"rendering frame {frame} of \"{comp}\".")
            if movie_writer is not None:
                movie_writer.close()
            return 0
        cost = frame_cost(frame, knobs["frame_seconds"], knobs["cost_map"])
        spend_until(began + cost * 0.9, knobs["burn_cpu"])
        data = sim_png.frame_png(frame, project_name, comp, color_bars, sources)
        crash = knobs["crash_at_frame"] == frame and fault_fires(knobs, "crash_at_frame")
        last = count == len(frames)
        linger = knobs["launcher_exit_at_last_frame"]
        if last and linger is not None and fault_fires(knobs, "launcher_exit_at_last_frame"):
            out.line(f"{CONTROL}EXIT 0")  # the launcher exits 0 now, while this frame is being written
            out.release()
        else:
            linger = None
        if movie_writer is not None:
            movie_writer.write(data)
            spend_until(began + cost, False)
        else:
            path = expand_output(template, comp, file_number(config, frames, count))
            if crash:
                with open(path, "wb") as handle:  # a crash mid-write leaves a partial frame behind
                    handle.write(data[: len(data) // 2])
            elif last and knobs["partial_last_frame"] is not None and fault_fires(knobs, "partial_last_frame"):
                with open(path, "wb") as handle:  # cut short, never completed: the output module "finished"
                    handle.write(data[: knobs["partial_last_frame"]])
            else:
                write_frame_file(path, data, linger if linger is not None else began + cost - time.monotonic())
                for number in repeats(config, frame):
                    write_frame_file(expand_output(template, comp, number), data, 0.0)
        if crash:
            crash_now()
        field = knobs["fields"]
        if not (last and knobs["no_last_line"] and fault_fires(knobs, "no_last_line")):
            out.line(f"PROGRESS:  {timecode(frame, fps)} ({count}{field}): {elapsed_text(time.monotonic() - began)}")
        out.frame_done(frame)
    if movie_writer is not None:
        code, err = movie_writer.close()
        if code != 0:
            out.line(f"After Effects error: Unable to Render: writing the movie failed ({err or code})")
            return 1
    out.line(f'PROGRESS:  {clock_text(datetime.datetime.now(), language)}: Finished composition "{comp}".')
    out.line("PROGRESS:  ")
    return None


def main(argv: Optional[Sequence[str]] = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    config = json.loads(args[0])
    knobs = config["knobs"]
    if hasattr(signal, "SIGINT"):
        signal.signal(signal.SIGINT, signal.SIG_DFL)
    if knobs["ignore_sigterm"] and hasattr(signal, "SIGTERM"):
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
    out = Out()
    launcher_pid = os.getppid()
    grandchild = start_grandchild() if knobs["grandchild"] else None
    try:
        code = render(config, out)
    finally:
        if grandchild is not None:
            grandchild.kill()
            grandchild.wait()
    if out.orphaned and knobs.get("record"):
        # the launcher is gone and cannot write this invocation's record: leave one that says so
        append_record(knobs["record"], {"argv": config["argv"], "launcher_pid": launcher_pid,
                                        "worker_pid": os.getpid(), "start": config["start"], "end": config["end"],
                                        "frames": out.frames, "exit_code": None, "orphaned": True,
                                        "worker_exit_code": code})
    return code


if __name__ == "__main__":
    sys.exit(main())
