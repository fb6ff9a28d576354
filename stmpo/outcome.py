"""What an aerender invocation's end means, and what a run saw (pure: facts in, verdicts and report fields out).

Why a module of its own: the executor's loop gathers facts (fatal lines, warnings, a stall, the exit status, frames
it could not prove) and this decides what they mean -- failed or not, ``permanent`` (the same input fails the same
way: no retry, no further launches) or ``transient`` (worth a fresh process) -- with the classes of
``stmpo.diagnosis``, and keeps the run-wide records the JSON report shows: each distinct failure once with the
chunks that hit it, every warning class seen with the frames it touched, and progress lines that did not parse.

Failing warnings (missing footage, fonts, effects; not allowed by ``--allow``) are permanent failures: the node's
After Effects renders the same wrong frames on every retry.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Dict, Iterable, List, Optional, Sequence, Tuple

from stmpo.diagnosis import PERMANENT, TRANSIENT, Failure, classify_error, classify_invocation
from stmpo.framecheck import is_format_mismatch
from stmpo.frames import FrameSet

MAX_LINES = 5  # distinct lines kept per warning class / unparsed progress in the report
MAX_UNPARSED = 20


def invocation_failure(*, fatal_lines: Sequence[str] = (), failing_warning: Optional[Tuple[str, str]] = None,
                       stalled: Optional[str] = None, exit_code: Optional[int] = None, lingered: bool = False,
                       stopped: Optional[str] = None, incomplete: bool = False,
                       start_error: Optional[str] = None, rejected: Sequence[str] = ()) -> Optional[Failure]:
    """Why one invocation failed, or None.

    ``fatal_lines``: its fatal lines in order; ``failing_warning``: (class, line) of a warning that fails the chunk;
    ``stalled``: the watchdog's reason when it ended the tree; ``exit_code``: the launcher's status (negative: the
    signal that ended it); ``lingered``: the tree outlived the finish grace after the comp-finished lines and was
    ended by us (its status then says nothing); ``stopped``: the scheduler's reason when it had the chunk killed
    (a steal's split, a cancel, fail-fast); ``incomplete``: frames it was given are not delivered;
    ``start_error``: it could not be started at all; ``rejected``: why files it wrote failed the frame check.

    Precedence: a start error (permanent: the executable is missing or refused); the first permanent fatal line; a
    failing warning (permanent); a stop by the scheduler (only when frames are left); a stall; the first fatal line;
    a crash (non-zero status or a signal); incomplete output."""
    if start_error is not None:
        return Failure(PERMANENT, "could-not-start", start_error)
    for line in fatal_lines:
        failure = classify_error(line)
        if failure.permanent:
            return failure
    if failing_warning is not None:
        return Failure(PERMANENT, failing_warning[0], failing_warning[1])
    if stopped is not None:
        return Failure(TRANSIENT, "stopped", f"stopped: {stopped}") if incomplete else None
    if stalled is not None:
        return Failure(TRANSIENT, "stall", stalled)
    code = None if lingered else exit_code
    signal_number = -code if code is not None and code < 0 else None
    ended = classify_invocation(fatal_lines, exit_code=code if signal_number is None else None,
                                signal_number=signal_number, incomplete=incomplete)
    mismatch = next((why for why in rejected if is_format_mismatch(why)), None)
    if ended is not None and ended.reason == "incomplete" and mismatch is not None:
        # the output module writes another format than the output's extension names: a retry writes the same
        return Failure(PERMANENT, "output-format", f"{mismatch}: the output module's format does not match the "
                                                   "output's extension")
    return ended


def failure_json(failure: Optional[Failure]) -> Optional[Dict[str, str]]:
    return None if failure is None else {"kind": failure.kind, "reason": failure.reason, "text": failure.text}


@dataclass
class FailureLog:
    """Every distinct failure of the run once (by kind, reason and text, spaces folded), with the chunks it hit."""

    entries: List[Tuple[Failure, List[int]]] = field(default_factory=list)

    def add(self, failure: Failure, chunk: int) -> bool:
        """Record ``failure`` of ``chunk``; True when it is new (the first chunk to hit it)."""
        key = (failure.kind, failure.reason, " ".join(failure.text.split()))
        for known, chunks in self.entries:
            if (known.kind, known.reason, " ".join(known.text.split())) == key:
                if chunk not in chunks:
                    chunks.append(chunk)
                return False
        self.entries.append((failure, [chunk]))
        return True

    @property
    def permanent(self) -> List[Failure]:
        return [f for f, _ in self.entries if f.permanent]

    def kind(self) -> Optional[str]:
        """The run's failure classification: "permanent" when any permanent failure happened, else "transient"
        when any failure happened, else None."""
        if not self.entries:
            return None
        return PERMANENT if self.permanent else TRANSIENT

    def to_json(self) -> List[Dict[str, Any]]:
        return [dict(failure_json(f) or {}, chunks=list(chunks)) for f, chunks in self.entries]


@dataclass
class WarningLog:
    """Every warning class seen in the run: how often, a few of its lines, the frames it touched (the frames of the
    invocations that printed it), whether it failed chunks (not allowed) or only warned."""

    classes: Dict[str, Dict[str, Any]] = field(default_factory=dict)

    def add(self, warning_class: str, line: str, fails: bool, chunk: int, frames: Iterable[int]) -> bool:
        """Record one warning line; True when this class+line is new to the run (worth telling people)."""
        entry = self.classes.setdefault(warning_class, {"count": 0, "fails": fails, "lines": [], "frames": set(),
                                                        "chunks": []})
        entry["count"] += 1
        entry["fails"] = entry["fails"] or fails
        entry["frames"].update(frames)
        if chunk not in entry["chunks"]:
            entry["chunks"].append(chunk)
        text = " ".join(line.split())
        if text in entry["lines"]:
            return False
        if len(entry["lines"]) < MAX_LINES:
            entry["lines"].append(text)
        return True

    def to_json(self, allowed: Iterable[str]) -> Dict[str, Dict[str, Any]]:
        allowed = set(allowed)
        return {name: {"count": e["count"], "fails": e["fails"], "allowed": name in allowed,
                       "lines": list(e["lines"]), "frames": str(FrameSet.from_frames(sorted(e["frames"]))),
                       "chunks": list(e["chunks"])}
                for name, e in sorted(self.classes.items())}


@dataclass
class UnparsedLog:
    """Lines that look like frame progress but do not parse (``stmpo.lines.UnparsedProgress``): counted, named."""

    count: int = 0
    lines: List[str] = field(default_factory=list)

    def add(self, line: str) -> bool:
        """Count one; True for the first of the run (worth one message)."""
        self.count += 1
        if len(self.lines) < MAX_UNPARSED and line not in self.lines:
            self.lines.append(line)
        return self.count == 1

    def to_json(self) -> Dict[str, Any]:
        return {"count": self.count, "lines": list(self.lines)}
