"""Stepped frame ranges (``1-100x5``): one aerender ``-i`` invocation per constant-step run, or one per frame -- the
run's decision, what it learned, and the per-user memory of what each aerender version did.

``--stepped`` (the option table): ``auto`` (default), ``increment``, ``per-frame``; ``--use-increment`` is the old
spelling of ``increment`` (``mode_of``).

* ``per-frame``: every frame of a stepped range is its own ``-s N -e N`` invocation (After Effects' start-up per
  frame: slow, needs no knowledge of ``-i``).
* ``increment``: each constant-step run of a chunk is one ``-s first -e last -i step`` invocation into the chunk's
  staging folder; ``stmpo.stepped_proof`` decides from its files which frames may be delivered. Until this run knows
  the numbering, the first stepped invocation is a *probe*: the other chunks' stepped invocations wait for it (so a
  numbering that cannot be used costs one wasted invocation per run, not one per child); the gate opens as soon as
  the probe proves comp-frame numbering (two frames in), or when it ends. Once a probe shows files that cannot be
  trusted (consecutive numbering, or an unknown set), the rest of the run renders one invocation per frame, said
  once; the frames that invocation did not deliver are rendered again by its chunk.
* ``auto``: as ``increment``, but first asks the memory: when this aerender version was seen to number stepped
  renders by comp frame (or to repeat frames), no probe gate; when it numbered them consecutively, per-frame at once.

The memory (``SteppedMemory``) is a small JSON file in the per-user state folder
(``aefarm_common.userdirs.default_state_dir()``/``stepped.json``, written atomically), keyed by aerender's version
line (``aerender version 24.6x67``, the first line it prints); since the line is only known once a child printed
it, the file also maps each executable (real path, size, modification time) to the version line it printed, so a
later run finds the verdict before its first launch. A file that cannot be read is ignored (said once); one that
cannot be written costs only the memory.
"""
from __future__ import annotations

import json
import os
import re
import time
from pathlib import Path
from typing import Callable, Dict, List, Optional, Tuple

from aefarm_common.atomic import atomic_write
from aefarm_common.userdirs import default_state_dir
from stmpo.stepped_proof import COMP, CONSECUTIVE, REPEAT, TRUSTED, UNKNOWN

AUTO, INCREMENT, PER_FRAME = "auto", "increment", "per-frame"
MODES = (AUTO, INCREMENT, PER_FRAME)
STATE_FILE = "stepped.json"
VERSION_LINE = re.compile(r"^\s*aerender\s+version\s+\S+", re.IGNORECASE)


def mode_of(stepped: str, use_increment: bool) -> str:
    """The stepped mode in force: ``--stepped`` when set to other than ``auto``; else ``increment`` when the old
    ``--use-increment`` is on; else ``auto``. ValueError for a mode not in MODES."""
    if stepped not in MODES:
        raise ValueError(f"stepped mode must be one of {', '.join(MODES)}, not {stepped!r}")
    return INCREMENT if stepped == AUTO and use_increment else stepped


def executable_key(path: str) -> Optional[str]:
    """``realpath|size|mtime_ns`` of an aerender executable (None when it cannot be read)."""
    try:
        real = os.path.realpath(path)
        st = os.stat(real)
    except OSError:
        return None
    return f"{real}|{st.st_size}|{st.st_mtime_ns}"


class SteppedMemory:
    """The per-user file of what each aerender version did with ``-i`` (module docstring). ``path`` None: the
    default state folder's ``stepped.json``; ``warn(text)`` hears a file that cannot be read or written."""

    def __init__(self, path: Optional[Path] = None, warn: Callable[[str], None] = lambda text: None) -> None:
        self.path = Path(path) if path is not None else default_state_dir() / STATE_FILE
        self.warn = warn

    def _load(self) -> Dict[str, Dict[str, object]]:
        try:
            with open(self.path, encoding="utf-8") as handle:
                data = json.load(handle)
        except FileNotFoundError:
            return {"versions": {}, "executables": {}}
        except (OSError, ValueError) as exc:
            self.warn(f"ignoring the stepped-render memory {self.path}: {exc}")
            return {"versions": {}, "executables": {}}
        if not isinstance(data, dict):
            return {"versions": {}, "executables": {}}
        versions = data.get("versions") if isinstance(data.get("versions"), dict) else {}
        executables = data.get("executables") if isinstance(data.get("executables"), dict) else {}
        return {"versions": dict(versions or {}), "executables": dict(executables or {})}

    def lookup(self, aerender: str) -> Tuple[Optional[str], Optional[Dict[str, object]]]:
        """(version line, its record {numbering, learned}) for this executable, or (None, None) when unknown."""
        key = executable_key(aerender)
        data = self._load()
        line = data["executables"].get(key) if key else None
        if not isinstance(line, str):
            return None, None
        record = data["versions"].get(line)
        return line, record if isinstance(record, dict) and record.get("numbering") in (COMP, REPEAT,
                                                                                            CONSECUTIVE) else None

    def remember(self, aerender: str, version_line: str, numbering: str) -> None:
        """Record that ``version_line`` (printed by ``aerender``) numbered a stepped render ``numbering``."""
        data = self._load()
        data["versions"][version_line] = {"numbering": numbering,
                                          "learned": time.strftime("%Y-%m-%dT%H:%M:%S%z")}
        key = executable_key(aerender)
        if key:
            data["executables"][key] = version_line
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with atomic_write(self.path, "w") as handle:
                json.dump(data, handle, indent=1, sort_keys=True)
        except OSError as exc:
            self.warn(f"could not write the stepped-render memory {self.path}: {exc}")


class SteppedPolicy:
    """One run's stepped decision (module docstring). ``say(text)`` tells the user (once per change)."""

    def __init__(self, mode: str, aerender: str, memory: Optional[SteppedMemory],
                 say: Callable[[str], None] = lambda text: None) -> None:
        self.mode = mode
        self.aerender = aerender
        self.memory = memory
        self.say = say
        self.version_line: Optional[str] = None
        self.numbering: Optional[str] = None  # what this run (or the memory) knows of -i's file numbering
        self.remembered = False
        self.probe: Optional[Tuple[int, int]] = None  # (chunk, invocation seq) of the outstanding probe
        self.fallbacks = 0  # stepped invocations whose frames were rendered again one per frame
        self.launches: Dict[str, int] = {"increment": 0, "per-frame": 0, "contiguous": 0}
        if mode == PER_FRAME:
            self.use_increment = False
            self.why = "--stepped per-frame: one aerender invocation per frame of a stepped range"
        elif mode == INCREMENT:
            self.use_increment = True
            self.why = "--stepped increment: one aerender -i invocation per stepped run, its files proven"
        else:
            self.use_increment = True
            self.why = "auto: this aerender's -i numbering is not known yet; the first stepped invocation probes it"
            line, record = memory.lookup(aerender) if memory is not None else (None, None)
            if line is not None and record is not None:
                self.version_line, self.numbering, self.remembered = line, str(record["numbering"]), True
                self.use_increment = self.numbering in TRUSTED
                how = {COMP: "names its files by comp frame", REPEAT: "repeats each rendered frame",
                       CONSECUTIVE: "numbers its files consecutively"}[self.numbering]
                self.why = (f"auto: remembered that {line} {how} under -i (learned {record.get('learned', '?')}): "
                            + ("one -i invocation per stepped run" if self.use_increment
                               else "one invocation per frame"))

    @property
    def known(self) -> bool:
        return self.numbering is not None

    @property
    def gating(self) -> bool:
        """A probe is out and the numbering is unknown: stepped invocations of other chunks wait."""
        return not self.known and self.probe is not None

    def holds(self, chunk: int, stepped: bool) -> bool:
        """Whether a stepped invocation of ``chunk`` must wait for the outstanding probe."""
        return stepped and not self.known and self.probe is not None and self.probe[0] != chunk

    def launched(self, chunk: int, seq: int, kind: str) -> None:
        """An invocation started; ``kind``: "increment" (a stepped ``-i`` one: the probe if none is out and nothing
        is known yet), "per-frame" (one frame of a stepped range) or "contiguous" (a step-1 run)."""
        self.launches[kind] += 1
        if kind == "increment" and not self.known and self.probe is None:
            self.probe = (chunk, seq)

    def note_line(self, text: str) -> None:
        """A child's output line: the first ``aerender version`` line names this aerender."""
        if self.version_line is None and VERSION_LINE.match(text):
            self.version_line = text.strip()

    def learned(self, numbering: str, chunk: int, seq: int) -> None:
        """A stepped invocation's files showed ``numbering`` (``stmpo.stepped_proof``)."""
        if self.probe == (chunk, seq):
            self.probe = None
        if numbering == UNKNOWN:
            self.fallbacks += 1
            if self.use_increment:
                self.use_increment = False
                self.why = (f"{self.why}; then a stepped invocation's files could not be told apart (crash, kill "
                            f"or an unexpected file set): the rest of this run renders one invocation per frame")
                self.say(f"stepped range: {self.why.split('; then ')[-1]}")
            return
        if numbering not in TRUSTED:
            self.fallbacks += 1
        if self.numbering == numbering:
            return
        first = self.numbering is None
        self.numbering = numbering
        if numbering in TRUSTED:
            how = "by comp frame" if numbering == COMP else "with each rendered frame repeated (repeats discarded)"
            if first and not self.remembered:
                self.why = f"{self.why}; the probe showed files numbered {how}"
        else:
            self.use_increment = False
            self.why = (f"{self.why}; the files of an -i render were numbered consecutively, not by comp frame: "
                        "falling back to one invocation per frame for what is left")
            self.say("stepped range: aerender's -i numbered the files consecutively, not by comp frame; falling "
                     "back to one aerender invocation per frame for what is left (its files were discarded)")
        if self.memory is not None and self.version_line is not None:
            self.memory.remember(self.aerender, self.version_line, numbering)

    def ended(self, chunk: int, seq: int) -> None:
        """An invocation ended: a probe that decided nothing frees the gate (the next stepped launch probes)."""
        if self.probe == (chunk, seq):
            self.probe = None

    def to_json(self) -> Dict[str, object]:
        """The report's ``stepped``: the option, what ran and why, what the files showed, the launch counts."""
        ran: List[str] = []
        if self.launches["increment"]:
            ran.append("increment")
        if self.launches["per-frame"]:
            ran.append("per-frame")
        return {"option": self.mode, "ran": "+".join(ran) or "none", "why": self.why, "numbering": self.numbering,
                "remembered": self.remembered, "aerender_version": self.version_line,
                "fallback_invocations": self.fallbacks,
                "invocations": dict(self.launches)}
