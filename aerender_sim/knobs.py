"""The simulator's behaviour knobs (AERENDER_SIM_* environment variables), read and validated (pure; a TEST
INSTRUMENT). Every knob is documented in `aerender_sim.usage.USAGE` (`aerender-sim -help`)."""
from __future__ import annotations

import json
import re
import shutil
from typing import Dict, List, Optional, Tuple

from aerender_sim.texts import FONT_WORDINGS, FOOTAGE_WORDINGS, LANGUAGES

# how the files of a `-i N` render (N > 1) are numbered: by comp frame, consecutively from -s, or each rendered
# frame written N times (its own number and the N - 1 after it, never past -e)
INCREMENT_SEMANTICS = ("comp", "consecutive", "repeat")


class KnobError(Exception):
    """An AERENDER_SIM_* variable the simulator cannot use."""


_SPEC_ITEM = re.compile(r"^\s*(-?\d+)(?:\s*-\s*(-?\d+)(?:\s*[x:]\s*(\d+))?)?\s*$")
ENCODINGS = {"utf-8": "utf-8", "utf8": "utf-8", "cp1252": "cp1252", "cp936": "cp936", "gbk": "cp936",
             "shift_jis": "shift_jis", "cp932": "shift_jis"}


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


class _Reader:
    def __init__(self, env: Dict[str, str]) -> None:
        self.env = env

    def raw(self, name: str) -> str:
        return self.env.get(f"AERENDER_SIM_{name}", "").strip()

    def number(self, name: str, default: float, low: float = 0.0) -> float:
        text = self.raw(name)
        if not text:
            return default
        try:
            value = float(text)
        except ValueError:
            raise KnobError(f"AERENDER_SIM_{name}={text!r} is not a number") from None
        if value < low or value != value:
            raise KnobError(f"AERENDER_SIM_{name}={text!r} must be >= {low:g}")
        return value

    def optional_number(self, name: str) -> Optional[float]:
        return self.number(name, 0.0) if self.raw(name) else None

    def frame(self, name: str) -> Optional[int]:
        text = self.raw(name)
        if not text:
            return None
        try:
            return int(text)
        except ValueError:
            raise KnobError(f"AERENDER_SIM_{name}={text!r} is not a frame number") from None

    def flag(self, name: str) -> bool:
        text = self.raw(name).lower()
        if text in ("", "0", "false", "no", "off"):
            return False
        if text in ("1", "true", "yes", "on"):
            return True
        raise KnobError(f"AERENDER_SIM_{name}={text!r} must be 1 or 0")

    def choice(self, name: str, allowed: Tuple[str, ...], off: bool = False) -> Optional[str]:
        """One of `allowed` (the first is the default); with `off`, unset/0 gives None and 1 the first choice."""
        text = self.raw(name).lower()
        if off:
            if text in ("", "0", "false", "no", "off"):
                return None
            if text in ("1", "true", "yes", "on"):
                return allowed[0]
        text = text or allowed[0]
        if text not in allowed:
            raise KnobError(f"AERENDER_SIM_{name}={text!r} must be one of {', '.join(allowed)}")
        return text


def _cost_map(text: str) -> List[Tuple[Tuple[Tuple[int, int, int], ...], float]]:
    cost_map: List[Tuple[Tuple[Tuple[int, int, int], ...], float]] = []
    if not text:
        return cost_map
    try:
        data = json.loads(text)
        if not isinstance(data, dict):
            raise ValueError("not a JSON object")
        for spec, seconds in data.items():
            if isinstance(seconds, bool) or not isinstance(seconds, (int, float)) or seconds < 0:
                raise ValueError(f"cost for {spec!r} must be a number >= 0")
            cost_map.append((parse_frame_spec(spec), float(seconds)))
    except ValueError as exc:
        raise KnobError(f"AERENDER_SIM_COST_MAP: {exc}") from None
    return cost_map


def read_knobs(env: Dict[str, str]) -> Dict[str, object]:
    """Every AERENDER_SIM_* knob, validated; KnobError names the variable."""
    r = _Reader(env)
    fps = r.number("FPS", 24.0)
    if fps <= 0:
        raise KnobError("AERENDER_SIM_FPS must be > 0")
    comp_frames = r.number("COMP_FRAMES", 10.0, 1.0)
    if comp_frames != int(comp_frames):
        raise KnobError("AERENDER_SIM_COMP_FRAMES must be a whole number")
    partial = r.frame("PARTIAL_LAST_FRAME")
    if partial is not None and partial < 0:
        raise KnobError("AERENDER_SIM_PARTIAL_LAST_FRAME must be a byte count >= 0")
    fields = r.raw("FIELDS").upper()
    if fields not in ("", "U", "L"):
        raise KnobError(f"AERENDER_SIM_FIELDS={fields!r} must be U or L")
    ffmpeg = env.get("FFMPEG") or shutil.which("ffmpeg", path=env.get("PATH"))
    return {
        "startup": r.number("STARTUP", 0.0), "frame_seconds": r.number("FRAME_SECONDS", 0.0),
        "cost_map": _cost_map(r.raw("COST_MAP")), "burn_cpu": r.flag("BURN_CPU"), "fps": fps,
        "comp_frames": int(comp_frames),
        "hang_at_startup": r.flag("HANG_AT_STARTUP"), "hang_at_frame": r.frame("HANG_AT_FRAME"),
        "crash_at_frame": r.frame("CRASH_AT_FRAME"), "license_error": r.flag("LICENSE_ERROR"),
        "error_exit0": r.frame("ERROR_EXIT0"),
        "missing_font": r.choice("MISSING_FONT", FONT_WORDINGS, off=True),
        "missing_effect": r.choice("MISSING_EFFECT", ("effect", "plugin"), off=True),
        "missing_footage_warning": r.choice("MISSING_FOOTAGE_WARNING", FOOTAGE_WORDINGS, off=True),
        "ignore_sigterm": r.flag("IGNORE_SIGTERM"), "grandchild": r.flag("GRANDCHILD"),
        "launcher_exit_at_last_frame": r.optional_number("LAUNCHER_EXIT_AT_LAST_FRAME"),
        "launcher_exit_after": r.optional_number("LAUNCHER_EXIT_AFTER"),
        "worker_setsid": r.flag("WORKER_SETSID"), "partial_last_frame": partial,
        "no_last_line": r.flag("NO_LAST_LINE"), "hang_after_finish": r.flag("HANG_AFTER_FINISH"),
        "another_instance": r.flag("ANOTHER_INSTANCE"), "fields": fields,
        "language": r.choice("LANGUAGE", LANGUAGES),
        "fault_once": r.raw("FAULT_ONCE") or None, "record": r.raw("RECORD") or None,
        "newline": {"lf": "\n", "crlf": "\r\n", "cr": "\r"}[r.choice("NEWLINE", ("lf", "crlf", "cr")) or "lf"],
        "encoding": ENCODINGS[r.choice("ENCODING", tuple(ENCODINGS)) or "utf-8"],
        "ffmpeg": ffmpeg,
        "increment_files": r.choice("INCREMENT", INCREMENT_SEMANTICS) or INCREMENT_SEMANTICS[0],
    }
