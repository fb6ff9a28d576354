"""`aerender-sim`: a TEST INSTRUMENT that stands in for Adobe's aerender where After Effects cannot run.

This module is the launcher (what aerender is): it checks the flags, starts the worker process (`aerender_sim.worker`,
what After Effects is), relays the worker's lines in aerender's stdout shape and exits with the worker's status. It
imports nothing heavy, so a farm of sixteen simulated children starts quickly; the worker pays for lxml.
"""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from typing import BinaryIO, Dict, List, Optional, Sequence

from aerender_sim.faults import CONTROL, fault_fires
from aerender_sim.knobs import KnobError, read_knobs
from aerender_sim.records import append_record
from aerender_sim.usage import USAGE

VERSION_LINE = "aerender version 24.6x67"
_EXITING = threading.Lock()  # one record per launcher, whichever way it exits

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



class UsageError(Exception):
    """A command line aerender would refuse; the message follows `aerender ERROR: `."""


# ---------------------------------------------------------------- command line (pure)

def parse_args(args: Sequence[str]) -> Dict[str, List[str]]:
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


# ---------------------------------------------------------------- effects

class Emitter:
    """The launcher's one writer: stdout (flushed per line) and the -log file, with the chosen line ends."""

    def __init__(self, newline: str = "\n", encoding: str = "utf-8", errors_only: bool = False) -> None:
        self.newline = newline
        self.encoding = encoding
        self.errors_only = errors_only
        self.log: Optional[BinaryIO] = None
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
    # same process group on purpose: killing the group reaches the worker, killing only this pid orphans it;
    # WORKER_SETSID: the worker is born in its own session (setsid before exec), so no group kill reaches it
    detach = bool(knobs["worker_setsid"]) and hasattr(os, "setsid")
    proc = subprocess.Popen([sys.executable, "-m", "aerender_sim.worker", json.dumps(config)],
                            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, start_new_session=detach)
    state["worker_pid"] = proc.pid
    exit_after = knobs["launcher_exit_after"]
    if isinstance(exit_after, (int, float)) and fault_fires(knobs, "launcher_exit_after"):
        threading.Thread(target=_exit_later, args=(float(exit_after), emitter, state), daemon=True).start()
    frames: List[int] = state["frames"]  # type: ignore[assignment]
    assert proc.stdout is not None
    for raw in proc.stdout:
        text = raw.decode("utf-8", "replace").rstrip("\r\n")
        if text.startswith(CONTROL):
            kind, _, value = text[1:].partition(" ")
            if kind == "FRAME":
                frames.append(int(value))
            elif kind == "EXIT":  # the worker says: exit now, while it is still writing (it is orphaned)
                return int(value)
            continue
        emitter.line(text)
    code = proc.wait()
    if code < 0:
        emitter.line(f"aerender ERROR: After Effects quit unexpectedly (the process was killed by signal {-code}).")
        return 1
    return code


def _exit_later(seconds: float, emitter: Emitter, state: Dict[str, object]) -> None:
    """LAUNCHER_EXIT_AFTER: exit 0 after `seconds`, whatever the worker is doing (it is left orphaned)."""
    time.sleep(seconds)
    with _EXITING:
        emitter.close()
        _write_record(state, 0)
        try:
            sys.stdout.flush()
        except (OSError, ValueError):
            pass
        os._exit(0)


def _write_record(state: Dict[str, object], code: int) -> None:
    record_path = state.get("record")
    if record_path:
        fields = {k: v for k, v in state.items() if k not in ("record", "full_argv", "started")}
        append_record(str(record_path), dict(fields, argv=state["full_argv"], launcher_pid=os.getpid(),
                                             exit_code=code, started=state["started"], finished=time.time()))


def _process_created_at() -> float:
    """When this process was spawned (before any exec'ing launcher ran), so all start-up counts against the knob.

    Linux gives the process age to 10 ms (/proc/self/stat start ticks against /proc/uptime); absolute create times
    from psutil hang off a boot time rounded to whole seconds, too coarse here. Elsewhere the knob counts from now.
    """
    now = time.time()
    if sys.platform == "win32":  # no /proc, no sysconf
        return now
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
    state: Dict[str, object] = {"worker_pid": None, "frames": [], "start": None, "end": None, "record": None,
                                "full_argv": full_argv, "started": time.time()}
    code = _run(args, full_argv, state)
    with _EXITING:
        _write_record(state, code)
    return code


if __name__ == "__main__":
    sys.exit(main())
