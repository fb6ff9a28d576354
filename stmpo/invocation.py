"""Chunks as the executor runs them: aerender invocations, their command lines, and what each one did.

A scheduler *chunk* owns a contiguous, ordered assignment and runs one aerender *invocation* per step-1 run of it
(``-s first -e last``). A stepped frame set (``1-48x2``) runs as one ``-s first -e last -i step`` invocation per
constant-step run (``use_increment=True``; its files are proven by ``stmpo.stepped_proof``, because real aerender's
``-i`` numbering is undocumented, docs/formats.md §3), or each frame as its own ``-s N -e N`` invocation
(``use_increment=False``); ``stmpo.stepped`` decides which.

Why a module of its own: the executor's loop and ``--dry-run`` must build exactly the same command lines, and the
per-invocation state (pid, start, progress, fatal line, stall, exit) is read by the loop, the delivery rules, the
end-of-run accounting and the run report; here it is plain data, with no effects.
"""
from __future__ import annotations

import itertools
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, Iterable, List, Optional, Sequence, Set, Tuple, TypedDict, Union

from stmpo.aerender import build_command
from stmpo.children import ChildProcess
from stmpo.diagnosis import Failure
from stmpo.seams import RenderJob
from stmpo.stepped_proof import SteppedProof


class FrameTime(TypedDict):
    """When a frame's progress line arrived: aerender's own seconds for it, wall-clock time, the child's pid."""

    seconds: float
    at: float
    pid: Optional[int]


@dataclass
class Invocation:
    """One aerender launch (one process tree) rendering ``frames`` of a chunk, in render order."""

    seq: int
    frames: List[int]  # in render order
    step: int
    argv: List[str]
    started: float  # monotonic
    started_wall: float
    tag: Optional[str] = None  # the tree tag in its environment (stmpo.proc.base.TREE_TAG)
    process: Optional[ChildProcess] = None
    pid: Optional[int] = None
    launched: bool = False  # AE reported a comp start or a frame: the start-up allowance is over
    last_progress: float = 0.0
    rendered: int = 0
    fatal: Optional[str] = None  # the first fatal line (or why it could not start)
    fatal_lines: List[str] = field(default_factory=list)
    trusted_upto: Optional[int] = None  # frames reported after its first fatal line are never delivered
    start_error: Optional[str] = None  # it could not be started
    stalled: Optional[str] = None
    exit_code: Optional[int] = None  # the launcher's exit status
    ended_wall: Optional[float] = None
    segment: Optional[Path] = None
    # frame proof (stmpo.delivery): frames whose own progress line appeared, in line order; how many of those are
    # proven closed; which this invocation delivered; which closed files failed the structural check, and why
    reported: List[int] = field(default_factory=list)
    reported_set: Set[int] = field(default_factory=set)  # the same frames, for membership
    closed: int = 0
    delivered: List[int] = field(default_factory=list)
    rejected: Dict[int, str] = field(default_factory=dict)
    finished_at: Optional[float] = None  # monotonic time of its first "Finished composition"/"Total Time Elapsed"
    lingered: bool = False  # its tree outlived the finish grace and was ended by us (not a failure by itself)
    launcher_exit: Optional[int] = None  # the launcher's status when it exited before the rest of its tree
    launcher_ended_wall: Optional[float] = None
    warnings: List[Tuple[str, str, bool]] = field(default_factory=list)  # (class, line, fails the chunk)
    failing_warning: Optional[Tuple[str, str]] = None  # (class, line) of the first warning that fails it
    unparsed: int = 0  # lines that look like frame progress but do not parse
    by_tag: List[int] = field(default_factory=list)  # processes of its tree found only by their tree tag
    failure: Optional[Failure] = None  # why it failed (stmpo.outcome), None when it did not
    proof: Optional[SteppedProof] = None  # a stepped (-i) invocation's file-numbering proof (stmpo.stepped_proof)


@dataclass
class ChunkRun:
    """The executor's record of one chunk: its assignment as it shrinks, its invocations, its outcome."""

    chunk: int
    slot: int
    assigned: List[int]
    retry: bool
    last: int
    launch_at: float
    invocations: List[Invocation] = field(default_factory=list)
    current: Optional[Invocation] = None
    next_index: int = 0  # position in `assigned` of the next frame to hand to an invocation
    killed: Optional[str] = None
    frame_times: Dict[int, FrameTime] = field(default_factory=dict)
    status: str = "pending"  # pending, running, done, failed, stopped
    reason: str = ""
    initial: List[int] = field(default_factory=list)
    attempt: int = 0  # failed attempts its frames had before (0: first try)
    started_wall: Optional[float] = None
    ended_wall: Optional[float] = None

    def stop_after(self, last_frame: int) -> None:
        """The scheduler moved this chunk's end to ``last_frame`` (a thief took the frames after it)."""
        self.last = last_frame
        self.assigned = [f for f in self.assigned if f <= last_frame]

    def next_frames(self, use_increment: bool) -> Tuple[List[int], int]:
        """The frames (and step) of this chunk's next invocation, without handing them out."""
        return invocation_frames(itertools.takewhile(lambda f: f <= self.last,
                                                     itertools.islice(self.assigned, self.next_index, None)),
                                 use_increment)


@dataclass(frozen=True)
class LineEvent:
    """A whole line (``stream``: "stdout" or "stderr") from invocation ``seq`` of chunk ``chunk`` (a reader thread)."""

    chunk: int
    seq: int
    stream: str
    text: str


@dataclass(frozen=True)
class LauncherExitEvent:
    """The launcher of invocation ``seq`` of chunk ``chunk`` exited with ``code``; the rest of its tree may still
    run (the waiter thread)."""

    chunk: int
    seq: int
    code: Optional[int]


@dataclass(frozen=True)
class ExitEvent:
    """Invocation ``seq`` of chunk ``chunk`` ended: its tree is gone and its last line was queued before this (the
    waiter thread). ``code`` None when it never started."""

    chunk: int
    seq: int
    code: Optional[int]


LoopEvent = Union[LineEvent, LauncherExitEvent, ExitEvent]
"""What the children's threads put on the executor's queue, in the order it happened."""


def exit_reason(run: ChunkRun, inv: Invocation, clean: bool) -> str:
    """Why a chunk ended with this invocation's exit ("" when it ended well)."""
    failure = inv.failure
    if run.killed is not None and not clean and (failure is None or not failure.permanent):
        return f"stopped: {run.killed}"
    if failure is not None and failure.reason in ("stall", "crash", "incomplete", "stopped"):
        return failure.text
    if failure is not None:
        text = failure.text + (" (exit code 0)" if inv.exit_code == 0 and failure.text in inv.fatal_lines else "")
        return f"{failure.kind} failure ({failure.reason}): {text}"
    if inv.stalled:
        return inv.stalled
    if inv.fatal:
        return inv.fatal + ("" if inv.exit_code not in (0,) else " (exit code 0)")
    if inv.exit_code != 0 and not inv.lingered:
        return f"exit code {inv.exit_code}"
    return ""


def invocation_frames(remaining: Iterable[int], use_increment: bool) -> Tuple[List[int], int]:
    """The frames of the next aerender invocation: the longest step-1 run at the front of ``remaining`` (ascending),
    or the longest constant-step run with ``use_increment``, and its step. ``remaining`` is read only as far as
    that run goes (an iterator over a million-frame chunk costs its front run, not the chunk)."""
    it = iter(remaining)
    first = next(it, None)
    if first is None:
        return [], 1
    second = next(it, None)
    if second is None:
        return [first], 1
    step = second - first
    if step != 1 and not use_increment:
        return [first], 1
    out = [first, second]
    for frame in it:
        if frame - out[-1] != step:
            break
        out.append(frame)
    return out, step


def child_command(job: RenderJob, aerender: str, output: str, frames: Sequence[int], step: int) -> List[str]:
    """The aerender command line of one invocation (the executor and `--dry-run` both use this one)."""
    settings = job.settings
    return build_command(
        aerender, project=os.fspath(job.project), comp=job.comp, rqindex=job.rqindex, output=output,
        start=frames[0], end=frames[-1], increment=step if step != 1 else None,
        mfr=(bool(settings.mfr), int(settings.mfr_max_cpu_percent)), mem_usage=job.mem_usage,
        rs_template=job.rs_template, om_template=job.om_template,
        continue_on_missing_footage=bool(job.continue_on_missing_footage), extra_args=list(job.extra_args))
