"""Several renders in one run: the executor's *targets*, and the one frame-index space its scheduler works in.

Why: a batch of template variants (``engines.aftereffects.jobs``) is many small renders of different projects to
different outputs. Rendered one after another, each leaves slots idle while its last chunk finishes and pays its
own run's start; rendered as targets of one run, they share one pool of aerender children, and a slot never sits
idle while a variant still has frames waiting.

How: every (target, comp frame) gets one global id, the scheduler's frame. Target k's frames are the ids
``offset[k] .. offset[k] + len(frames[k]) - 1`` in its frame order, and they form one scheduler *group*, so a chunk
never spans two targets (``stmpo.scheduler``). Each target keeps what was per run before: its output pattern, its
staging folders, its delivery rules, its accounting and report. With one target the id *is* the comp frame (the
identity space) and the run is exactly the single-job run it always was.
"""
from __future__ import annotations

import bisect
import threading
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Dict, List, Mapping, Optional, Sequence, Tuple

from stmpo.accounting import judge_run
from stmpo.delivery import FrameDelivery
from stmpo.frames import FrameSet
from stmpo.outputs import OutputPattern, Staging
from stmpo.report import RunReport
from stmpo.scheduler_types import Action, Done, Fail
from stmpo.seams import RenderJob


class FrameSpace:
    """Global frame ids <-> (target index, comp frame). One target: the identity (ids are comp frames)."""

    def __init__(self, frame_lists: Sequence[Sequence[int]]) -> None:
        if not frame_lists:
            raise ValueError("a run needs at least one target")
        self.frames: List[List[int]] = [list(f) for f in frame_lists]
        self.identity = len(self.frames) == 1
        self.offsets: List[int] = []
        total = 0
        for frames in self.frames:
            self.offsets.append(total)
            total += len(frames)
        self.total = total
        self._index: List[Dict[int, int]] = [] if self.identity else \
            [{frame: i for i, frame in enumerate(frames)} for frames in self.frames]

    def to_global(self, target: int, frame: int) -> int:
        if self.identity:
            return frame
        return self.offsets[target] + self._index[target][frame]

    def locate(self, ident: int) -> Tuple[int, int]:
        """(target index, comp frame) of a global id."""
        if self.identity:
            return 0, ident
        target = bisect.bisect_right(self.offsets, ident) - 1
        return target, self.frames[target][ident - self.offsets[target]]

    def target_of(self, ident: int) -> int:
        return self.locate(ident)[0]

    def globals_of(self, target: int, frames: Sequence[int]) -> List[int]:
        return [self.to_global(target, f) for f in frames]

    def all_globals(self) -> List[int]:
        return list(self.frames[0]) if self.identity else list(range(self.total))

    def groups(self, todo: Sequence[int]) -> Optional[List[List[int]]]:
        """The scheduler's groups of ``todo`` (global ids): one per target; None for the identity space."""
        if self.identity:
            return None
        out: List[List[int]] = [[] for _ in self.frames]
        for ident in todo:
            out[self.target_of(ident)].append(ident)
        return [g for g in out if g]


@dataclass
class Target:
    """One render of a run: its job, frames (comp frames), output pattern, staging folders and delivery rules."""

    index: int
    job: RenderJob
    frames: List[int]
    pattern: OutputPattern
    staging: Staging
    delivery: FrameDelivery
    ffmpeg: Optional[Tuple[str, str]] = None  # (ffmpeg, ffprobe) for a movie output
    skipped: List[int] = field(default_factory=list)  # comp frames --resume kept

    @property
    def movie(self) -> bool:
        return self.pattern.is_movie


def make_targets(jobs: Sequence[RenderJob], scratch: Optional[object], cancel: threading.Event,
                 warn: Callable[[str], None]) -> List[Target]:
    """A Target per job, each with its own staging folders and delivery rules."""
    out: List[Target] = []
    for index, job in enumerate(jobs):
        pattern = OutputPattern(str(job.output), comp=job.comp or job.comp_name or "")
        staging = Staging(pattern, scratch=scratch)  # type: ignore[arg-type]
        delivery = FrameDelivery(pattern, staging, cancel=cancel, warn=warn)
        out.append(Target(index, job, list(job.frames), pattern, staging, delivery))
    return out


def judge_targets(targets: Sequence[Target], space: FrameSpace, result: Optional[Action],
                  chunks: Mapping[int, Dict[str, Any]], chunk_target: Mapping[int, int], *, cancelled: bool,
                  cancel_event: threading.Event, cancel_reason: str, plan: Dict[str, Any],
                  started: float, halted: Optional[Mapping[int, str]] = None) -> Tuple[RunReport, List[RunReport]]:
    """(the run's report, one report per target): each target judged on its own by ``stmpo.accounting`` (its frames
    delivered by this run and on disk, its staging removed or kept). ``result`` is the scheduler's Done/Fail over
    global ids; ``chunks`` the chunk reports by chunk id, ``chunk_target`` each chunk's target index. A target whose
    every frame was verified before a cancel is delivered: the cancel cost it nothing. ``halted``: target index ->
    the permanent failure that halted it (its report says so even when it has no missing frame)."""
    missing_all = set(result.missing_list) if isinstance(result, Fail) else set()
    reports: List[RunReport] = []
    for target in targets:
        mine = [space.locate(g)[1] for g in space.globals_of(target.index, target.frames) if g in missing_all]
        own: Optional[Action] = result
        if isinstance(result, Fail):
            own = Fail(tuple(mine), result.reason) if mine else Done()
        verdict = judge_run(delivery=target.delivery, all_frames=target.frames, skipped=target.skipped, result=own,
                            cancelled=cancelled and bool(mine), cancel_event=cancel_event,
                            cancel_reason=cancel_reason, ffmpeg=target.ffmpeg,
                            failure_reason=(halted or {}).get(target.index, ""))
        reports.append(RunReport(
            ok=verdict.ok, missing=verdict.missing, cancelled=verdict.cancelled, reason=verdict.reason,
            summary=verdict.summary, chunks=[dict(chunks[c]) for c in sorted(chunks)
                                             if chunk_target[c] == target.index],
            frames=str(FrameSet.from_frames(target.frames)), output=str(target.job.output), started=started,
            ended=time.time(), skipped=str(FrameSet.from_frames(target.skipped)),
            staging_kept=[str(k) for k in verdict.kept], join=verdict.join))
    failed = [i for i, r in enumerate(reports) if not r.ok]
    missing = FrameSet.from_frames(sorted(missing_all | {space.to_global(i, f) for i in failed
                                                         for f in reports[i].missing}))
    cancelled = cancelled or any(r.cancelled for r in reports)
    names = ", ".join(str(targets[i].job.output) for i in failed[:5]) + (" ..." if len(failed) > 5 else "")
    summary = f"{len(reports) - len(failed)} of {len(reports)} renders verified" + (
        f"; failed: {names}" if failed else "")
    report = RunReport(
        ok=not failed and not cancelled, missing=missing, cancelled=cancelled,
        reason=cancel_reason if cancelled else (f"{len(failed)} renders failed" if failed else ""),
        summary=summary, chunks=[dict(chunks[c], target=chunk_target[c]) for c in sorted(chunks)], plan=plan,
        frames=f"{space.total} frames", output=f"{len(reports)} renders", started=started, ended=time.time(),
        targets=[dict(r.to_json(), project=str(targets[i].job.project), target=i) for i, r in enumerate(reports)])
    return report, reports
