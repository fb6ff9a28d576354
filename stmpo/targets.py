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
from dataclasses import dataclass, field
from typing import Callable, Dict, List, Optional, Sequence, Tuple

from stmpo.delivery import FrameDelivery
from stmpo.outputs import OutputPattern, Staging
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
        pattern = OutputPattern(str(job.output), comp=job.comp or "")
        staging = Staging(pattern, scratch=scratch)  # type: ignore[arg-type]
        delivery = FrameDelivery(pattern, staging, cancel=cancel, warn=warn)
        out.append(Target(index, job, list(job.frames), pattern, staging, delivery))
    return out
