"""`aerender-sim`: a TEST INSTRUMENT that stands in for Adobe's aerender where After Effects cannot run.

This module is the launcher (what aerender is): it checks the flags, starts the worker process (`aerender_sim.worker`,
what After Effects is), relays the worker's lines in aerender's stdout shape and exits with the worker's status. It
imports nothing heavy, so a farm of sixteen simulated children starts quickly; the worker pays for lxml.
"""
from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from typing import Dict, List, Optional, Sequence, Tuple

from aerender_sim.records import append_record
from aerender_sim.worker import CONTROL

VERSION_LINE = "aerender version 24.6x67"

# flag -> number of values (aerender's spelling and argument counts)
FLAGS = {
    "-help": 0, "-version": 0, "-reuse": 0, "-continueOnMissingFootage": 0,
    "-project": 1, "-teamproject": 1, "-comp": 1, "-rqindex": 1, "-RStemplate": 1, "-OMtemplate": 1,
    "-output": 1, "-log": 1, "-s": 1, "-e": 1, "-i": 1, "-v": 1, "-close": 1, "-sound": 1,
    "-mem_usage": 2, "-mfr": 2,
}
CHOICES = {
    "-v": ("ERRORS", "ERRORS_AND_PROGRESS"),
    "-close": ("DO_NOT_SAVE_CHANGES", "SAVE_CHANGES", "DO_NOT_CLOSE"),
    "-sound": ("ON", "OFF"),
}

USAGE = """\
aerender-sim: a TEST INSTRUMENT standing in for Adobe's aerender (After Effects command-line renderer).
It is not After Effects and renders nothing real: it reads an .aepx, checks footage paths exist on this host,
writes small PNG frames (or ffmpeg movies) and prints aerender-shaped output, so render orchestration can be
tested where After Effects cannot run. A launcher process starts a worker process (standing in for After
Effects) that renders; killing only the launcher leaves the worker running, as with the real thing.

Usage: aerender-sim [flags]   (no flags, or -help anywhere: print this text)
  -project PATH             .aepx project to render (binary .aep is refused: the simulator reads XML only)
  -teamproject NAME         accepted by aerender; refused here (team projects are not simulated)
  -comp NAME                render this comp (an aerender ERROR if no comp has this name)
  -rqindex N                render render-queue item N (1-based); -comp and -rqindex are exclusive here
  -RStemplate T  -OMtemplate T   shown in the settings lines
  -output PATH              output file; [#####] (any count of #) is the zero-padded comp frame number,
                            [compName] and [fileextension] (always png) expand; a sequence name without # gets
                            _[#####] before its extension; .mov/.mp4/.avi write one movie with ffmpeg
                            (FFMPEG env or PATH). Without -output the render-queue item's folder and file
                            template are used. The output folder must exist.
  -log FILE                 also write every reported line to FILE, without the "PROGRESS: " prefix
  -s N  -e N                first and last frame (inclusive; defaults 0 and AERENDER_SIM_COMP_FRAMES-1)
  -i N                      increment: renders s, s+N, s+2N, ... <= e. Real aerender's -i semantics for image
                            sequences are uncertain (Adobe's text says higher increments repeat the frame);
                            do not rely on the simulator to tell you what aerender does.
  -v ERRORS|ERRORS_AND_PROGRESS   ERRORS hides every "PROGRESS:" line (stdout and -log)
  -close DO_NOT_SAVE_CHANGES|SAVE_CHANGES|DO_NOT_CLOSE   accepted, no effect
  -sound ON|OFF  -reuse  -mem_usage CACHE% MAX%  -mfr ON|OFF MAX_CPU%   accepted, no effect
  -continueOnMissingFootage missing footage prints "MISSING FOOTAGE, drawing color bars: ..." and renders
                            colour-bar frames instead of failing
  -version                  print the version line and exit
Without -comp and -rqindex the whole render queue renders (queue item k renders the k-th comp in the
project, or the first comp; each renders frames 0..AERENDER_SIM_COMP_FRAMES-1; -s/-e/-i/-output ignored).
-comp without -output uses the render-queue item of that comp, else it is an error.
Every footage fileReference (Item > Pin > Als2) must exist on this host (a folder when target_is_folder="1"),
else "After Effects error: Unable to Render: File Not Found <path>" and exit 1. Bad flags print
"aerender ERROR: ..." and this text, exit 1. Flag spelling is exact (case-sensitive).

Behaviour knobs (environment, all optional):
  AERENDER_SIM_STARTUP=SECONDS        launch cost before the first frame, own start-up included (default 0)
  AERENDER_SIM_FRAME_SECONDS=SECONDS  cost of each frame (default 0)
  AERENDER_SIM_COST_MAP=JSON          per-frame costs, e.g. {"181-240": 0.25, "7": 2, "1-99x2": 0.1}
                                      (first matching key wins; others cost AERENDER_SIM_FRAME_SECONDS)
  AERENDER_SIM_BURN_CPU=1             busy-loop the frame cost instead of sleeping (for affinity tests)
  AERENDER_SIM_FPS=N                  comp frame rate for timecodes and movies (default 24; 29.97 = drop-frame)
  AERENDER_SIM_COMP_FRAMES=N          comp duration in frames (default 10)
  AERENDER_SIM_HANG_AT_STARTUP=1      hang silently before "successfully launched" (a modal dialog)
  AERENDER_SIM_HANG_AT_FRAME=N        hang silently before frame N
  AERENDER_SIM_CRASH_AT_FRAME=N       the worker dies by SIGKILL while writing frame N (a partial file stays);
                                      the launcher prints an aerender ERROR line and exits 1
  AERENDER_SIM_LICENSE_ERROR=1        print a licence error and exit 1
  AERENDER_SIM_ERROR_EXIT0=N          print a fatal "After Effects error:" line at frame N, write no more, exit 0
  AERENDER_SIM_MISSING_FONT=1         print "WARNING:After Effects warning: Project has missing fonts."
  AERENDER_SIM_IGNORE_SIGTERM=1       launcher and worker ignore SIGTERM (only SIGKILL stops them)
  AERENDER_SIM_GRANDCHILD=1           the worker starts a sleeping grandchild process (killed at a normal end)
  AERENDER_SIM_FAULT_ONCE=PATH        a fault fires only in the first invocation that reaches it (that one
                                      creates PATH atomically), so a retry succeeds
  AERENDER_SIM_RECORD=PATH            append one JSON line per invocation when the launcher exits:
                                      {"argv", "launcher_pid", "worker_pid", "start", "end", "frames", "exit_code",
                                      ...}; a worker orphaned by a killed launcher appends its own line
                                      ("orphaned": true, "exit_code": null)
  AERENDER_SIM_NEWLINE=lf|crlf|cr     line ends on stdout and in the log (default lf)
  AERENDER_SIM_ENCODING=utf-8|cp1252  encoding of stdout and the log (default utf-8; unmappable -> ?)
  FFMPEG=PATH                         ffmpeg for movie outputs (default: ffmpeg on PATH)
Exit status: the worker's; 1 for aerender errors or when the worker is killed by a signal.
"""


class UsageError(Exception):
    """A command line aerender would refuse; the message follows `aerender ERROR: `."""


class KnobError(Exception):
    """An AERENDER_SIM_* variable the simulator cannot use."""


# ---------------------------------------------------------------- command line (pure)

def parse_args(args: Sequence[str]) -> Dict[str, object]:
    """aerender's flags into a dict keyed by flag; values are lists of strings. Raises UsageError."""
    found: Dict[str, List[str]] = {}
    i = 0
    while i < len(args):
        flag = args[i]
        if flag not in FLAGS:
            raise UsageError(f"Unknown flag: {flag}")
        count = FLAGS[flag]
        values = list(args[i + 1:i + 1 + count])
        if len(values) < count or any(v in FLAGS for v in values):
            raise UsageError(f"{flag} needs {count} argument{'s' if count > 1 else ''}")
        if flag in found:
            raise UsageError(f"{flag} was given more than once")
        if flag in CHOICES and values[0] not in CHOICES[flag]:
            raise UsageError(f"{flag} must be one of {', '.join(CHOICES[flag])}, not {values[0]}")
        found[flag] = values
        i += 1 + count
    return found


def _int(flag: str, text: str, low: Optional[int] = None, high: Optional[int] = None) -> int:
    try:
        value = int(text)
    except ValueError:
        raise UsageError(f"{flag} needs an integer, not {text!r}") from None
    if (low is not None and value < low) or (high is not None and value > high):
        raise UsageError(f"{flag} is out of range: {value}")
    return value


def render_request(found: Dict[str, List[str]]) -> Dict[str, object]:
    """What to render, validated as aerender validates it."""
    if "-teamproject" in found:
        raise UsageError("-teamproject is not supported by the aerender simulator")
    if "-project" not in found:
        raise UsageError("No project file was specified (-project) and no project is open.")
    if "-comp" in found and "-rqindex" in found:
        raise UsageError("-comp and -rqindex cannot be used together")
    if "-mem_usage" in found:
        for value in found["-mem_usage"]:
            _int("-mem_usage", value, 0, 100)
    if "-mfr" in found:
        if found["-mfr"][0] not in ("ON", "OFF"):
            raise UsageError(f"-mfr must be ON or OFF, not {found['-mfr'][0]}")
        _int("-mfr", found["-mfr"][1], 1, 100)
    start = _int("-s", found["-s"][0]) if "-s" in found else None
    end = _int("-e", found["-e"][0]) if "-e" in found else None
    if start is not None and end is not None and end < start:
        raise UsageError(f"The end frame ({end}) is before the start frame ({start}).")
    return {
        "project": found["-project"][0],
        "comp": found["-comp"][0] if "-comp" in found else None,
        "rqindex": _int("-rqindex", found["-rqindex"][0], 1) if "-rqindex" in found else None,
        "output": found["-output"][0] if "-output" in found else None,
        "start": start, "end": end,
        "increment": _int("-i", found["-i"][0], 1) if "-i" in found else 1,
        "rs_template": found.get("-RStemplate", [None])[0],
        "om_template": found.get("-OMtemplate", [None])[0],
        "continue_on_missing": "-continueOnMissingFootage" in found,
        "log": found.get("-log", [None])[0],
        "errors_only": found.get("-v", ["ERRORS_AND_PROGRESS"])[0] == "ERRORS",
    }


# ---------------------------------------------------------------- knobs (pure)

_SPEC_ITEM = re.compile(r"^\s*(-?\d+)(?:\s*-\s*(-?\d+)(?:\s*[x:]\s*(\d+))?)?\s*$")


def parse_frame_spec(text: str) -> Tuple[Tuple[int, int, int], ...]:
    """`7`, `181-240`, `1-99x2`/`1-99:2`, comma-separated: the subset of frame specs a cost map needs."""
    runs = []
    for part in text.split(","):
        match = _SPEC_ITEM.match(part)
        if not match:
            raise ValueError(f"bad frame spec {text!r}")
        start = int(match.group(1))
        end = int(match.group(2)) if match.group(2) is not None else start
        step = int(match.group(3)) if match.group(3) is not None else 1
        if end < start or step < 1:
            raise ValueError(f"bad frame spec {text!r}")
        runs.append((start, end, step))
    return tuple(runs)


def read_knobs(env: Dict[str, str]) -> Dict[str, object]:
    """Every AERENDER_SIM_* knob, validated; KnobError names the variable."""
    def raw(name: str) -> str:
        return env.get(f"AERENDER_SIM_{name}", "").strip()

    def number(name: str, default: float, low: float = 0.0) -> float:
        text = raw(name)
        if not text:
            return default
        try:
            value = float(text)
        except ValueError:
            raise KnobError(f"AERENDER_SIM_{name}={text!r} is not a number") from None
        if value < low or value != value:
            raise KnobError(f"AERENDER_SIM_{name}={text!r} must be >= {low:g}")
        return value

    def frame(name: str) -> Optional[int]:
        text = raw(name)
        if not text:
            return None
        try:
            return int(text)
        except ValueError:
            raise KnobError(f"AERENDER_SIM_{name}={text!r} is not a frame number") from None

    def flag(name: str) -> bool:
        text = raw(name).lower()
        if text in ("", "0", "false", "no", "off"):
            return False
        if text in ("1", "true", "yes", "on"):
            return True
        raise KnobError(f"AERENDER_SIM_{name}={text!r} must be 1 or 0")

    def choice(name: str, allowed: Tuple[str, ...]) -> str:
        text = raw(name).lower() or allowed[0]
        if text not in allowed:
            raise KnobError(f"AERENDER_SIM_{name}={text!r} must be one of {', '.join(allowed)}")
        return text

    cost_map: List[Tuple[Tuple[Tuple[int, int, int], ...], float]] = []
    if raw("COST_MAP"):
        try:
            data = json.loads(raw("COST_MAP"))
            if not isinstance(data, dict):
                raise ValueError("not a JSON object")
            for spec, seconds in data.items():
                if isinstance(seconds, bool) or not isinstance(seconds, (int, float)) or seconds < 0:
                    raise ValueError(f"cost for {spec!r} must be a number >= 0")
                cost_map.append((parse_frame_spec(spec), float(seconds)))
        except ValueError as exc:
            raise KnobError(f"AERENDER_SIM_COST_MAP: {exc}") from None
    fps = number("FPS", 24.0)
    if fps <= 0:
        raise KnobError("AERENDER_SIM_FPS must be > 0")
    comp_frames = number("COMP_FRAMES", 10.0, 1.0)
    if comp_frames != int(comp_frames):
        raise KnobError("AERENDER_SIM_COMP_FRAMES must be a whole number")
    ffmpeg = env.get("FFMPEG") or None
    if ffmpeg is None:
        import shutil
        ffmpeg = shutil.which("ffmpeg", path=env.get("PATH"))
    return {
        "startup": number("STARTUP", 0.0), "frame_seconds": number("FRAME_SECONDS", 0.0), "cost_map": cost_map,
        "burn_cpu": flag("BURN_CPU"), "fps": fps, "comp_frames": int(comp_frames),
        "hang_at_startup": flag("HANG_AT_STARTUP"), "hang_at_frame": frame("HANG_AT_FRAME"),
        "crash_at_frame": frame("CRASH_AT_FRAME"), "license_error": flag("LICENSE_ERROR"),
        "error_exit0": frame("ERROR_EXIT0"), "missing_font": flag("MISSING_FONT"),
        "ignore_sigterm": flag("IGNORE_SIGTERM"), "grandchild": flag("GRANDCHILD"),
        "fault_once": raw("FAULT_ONCE") or None, "record": raw("RECORD") or None,
        "newline": {"lf": "\n", "crlf": "\r\n", "cr": "\r"}[choice("NEWLINE", ("lf", "crlf", "cr"))],
        "encoding": {"utf-8": "utf-8", "utf8": "utf-8", "cp1252": "cp1252"}[
            choice("ENCODING", ("utf-8", "utf8", "cp1252"))],
        "ffmpeg": ffmpeg,
    }


# ---------------------------------------------------------------- effects

class Emitter:
    """The launcher's one writer: stdout (flushed per line) and the -log file, with the chosen line ends."""

    def __init__(self, newline: str = "\n", encoding: str = "utf-8", errors_only: bool = False) -> None:
        self.newline = newline
        self.encoding = encoding
        self.errors_only = errors_only
        self.log = None
        self.stdout_gone = False

    def line(self, text: str) -> None:
        if self.errors_only and text.startswith("PROGRESS:"):
            return
        if self.log is not None:
            body = text[len("PROGRESS:"):].lstrip(" ") if text.startswith("PROGRESS:") else text
            self.log.write((body + self.newline).encode(self.encoding, "replace"))
            self.log.flush()
        if self.stdout_gone:
            return
        try:
            out = sys.stdout.buffer
            out.write((text + self.newline).encode(self.encoding, "replace"))
            out.flush()
        except (BrokenPipeError, ValueError, OSError):
            self.stdout_gone = True  # whoever read us is gone; keep relaying so the worker never blocks

    def close(self) -> None:
        if self.log is not None:
            self.log.close()
            self.log = None


def _usage_error(emitter: Emitter, message: str) -> int:
    emitter.line(f"aerender ERROR: {message}")
    emitter.line("")
    for text in USAGE.splitlines():
        emitter.line(text)
    return 1


def _run(args: List[str], full_argv: List[str], state: Dict[str, object]) -> int:
    if not args or "-help" in args:
        sys.stdout.write(USAGE)
        sys.stdout.flush()
        return 0
    try:
        knobs = read_knobs(dict(os.environ))
    except KnobError as exc:
        sys.stderr.write(f"aerender-sim: {exc}\n")
        return 2
    state["record"] = knobs["record"]
    emitter = Emitter(knobs["newline"], knobs["encoding"])  # type: ignore[arg-type]
    try:
        found = parse_args(args)
        if "-version" in found:
            emitter.line(VERSION_LINE)
            return 0
        request = render_request(found)
    except UsageError as exc:
        return _usage_error(emitter, str(exc))
    state.update(start=request["start"], end=request["end"], comp=request["comp"], rqindex=request["rqindex"],
                 output=request["output"], project=request["project"], increment=request["increment"])
    emitter.errors_only = bool(request["errors_only"])
    if request["log"]:
        try:
            emitter.log = open(str(request["log"]), "wb")
        except OSError as exc:
            emitter.line(f"aerender ERROR: Unable to open the log file {request['log']}: {exc.strerror}")
            return 1
    try:
        return _launch(request, knobs, full_argv, emitter, state)
    finally:
        emitter.close()


def _launch(request: Dict[str, object], knobs: Dict[str, object], full_argv: List[str], emitter: Emitter,
            state: Dict[str, object]) -> int:
    if knobs["ignore_sigterm"] and hasattr(signal, "SIGTERM"):
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
    emitter.line(VERSION_LINE)
    emitter.line("PROGRESS: Launching After Effects...")
    # the start-up knob is the whole launch cost, so the worker counts this launcher's own start against it
    config = dict(request, knobs=knobs, argv=full_argv, launched_at=LAUNCHED_AT)
    # same process group on purpose: killing the group reaches the worker, killing only this pid orphans it
    proc = subprocess.Popen([sys.executable, "-m", "aerender_sim.worker", json.dumps(config)],
                            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE)
    state["worker_pid"] = proc.pid
    frames: List[int] = state["frames"]  # type: ignore[assignment]
    assert proc.stdout is not None
    for raw in proc.stdout:
        text = raw.decode("utf-8", "replace").rstrip("\r\n")
        if text.startswith(CONTROL):
            kind, _, value = text[1:].partition(" ")
            if kind == "FRAME":
                frames.append(int(value))
            continue
        emitter.line(text)
    code = proc.wait()
    if code < 0:
        emitter.line(f"aerender ERROR: After Effects quit unexpectedly (the process was killed by signal {-code}).")
        return 1
    return code


def _process_created_at() -> float:
    """When this process was spawned (before any exec'ing launcher ran), so all start-up counts against the knob.

    Linux gives the process age to 10 ms (/proc/self/stat start ticks against /proc/uptime); absolute create times
    from psutil hang off a boot time rounded to whole seconds, too coarse here. Elsewhere the knob counts from now.
    """
    now = time.time()
    try:
        with open("/proc/self/stat", "rb") as handle:
            start_ticks = int(handle.read().rsplit(b")", 1)[1].split()[19])
        with open("/proc/uptime", "rb") as handle:
            uptime = float(handle.read().split()[0])
        age = uptime - start_ticks / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError, AttributeError):
        return now
    return now - age if 0 <= age < 60 else now


LAUNCHED_AT = _process_created_at()


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Console script `aerender-sim` (a test instrument); returns the exit status."""
    if hasattr(signal, "SIGINT"):
        signal.signal(signal.SIGINT, signal.SIG_DFL)  # die on Ctrl-C like a native program, no traceback
    args = list(sys.argv[1:] if argv is None else argv)
    full_argv = [sys.argv[0]] + args
    started = time.time()
    state: Dict[str, object] = {"worker_pid": None, "frames": [], "start": None, "end": None, "record": None}
    code = _run(args, full_argv, state)
    record_path = state.pop("record")
    if record_path:
        append_record(str(record_path), dict(state, argv=full_argv, launcher_pid=os.getpid(), exit_code=code,
                                             started=started, finished=time.time()))
    return code


if __name__ == "__main__":
    sys.exit(main())
