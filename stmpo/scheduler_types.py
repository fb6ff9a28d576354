"""The scheduler's vocabulary: the actions it tells the executor (``Action``), a live chunk's state, the even split.

Apart from ``stmpo.scheduler`` (the state machine that decides) so that what reads its decisions -- the executor
(``stmpo.run``, ``stmpo.child_events``), the accounting, the pool's targets, the estimator's virtual run -- depends on
these small types only. Pure data: no processes, no clock.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, List, Optional, Sequence, Set, Tuple, Union

if TYPE_CHECKING:  # the scheduler works on plain ints; FrameSet only shapes the convenience properties
    from stmpo.frames import FrameSet


def _to_frameset(frames: Sequence[int]) -> "FrameSet":
    from stmpo.frames import FrameSet  # imported late: the scheduler itself only needs plain ints

    return FrameSet.from_frames(frames)


# ---------------------------------------------------------------------------------------------------------- actions
@dataclass(frozen=True)
class Start:
    """Start chunk ``chunk`` in slot ``slot``: render ``frame_list`` in ascending order."""

    chunk: int
    slot: int
    frame_list: Tuple[int, ...]
    retry: bool = False  # True when some of these frames failed before

    @property
    def frames(self) -> "FrameSet":
        return _to_frameset(self.frame_list)


@dataclass(frozen=True)
class StopAfter:
    """``chunk``'s assignment now ends at ``last_frame``; frames after it belong to another chunk."""

    chunk: int
    last_frame: int


@dataclass(frozen=True)
class Kill:
    """End ``chunk``: terminate the process tree rendering it (it reached its split, or the run is stopping)."""

    chunk: int
    reason: str


@dataclass(frozen=True)
class ChunkFailed:
    """Information for the reporter: ``chunk`` failed; its unverified frames are retried (a new chunk) or lost."""

    chunk: int
    frame_list: Tuple[int, ...]
    retrying: bool
    reason: str

    @property
    def frames(self) -> "FrameSet":
        return _to_frameset(self.frame_list)


@dataclass(frozen=True)
class Done:
    """Every frame is verified and no chunk is live."""


@dataclass(frozen=True)
class Fail:
    """The run is over with frames missing (hard failures, fail-fast or cancel); no chunk is live."""

    missing_list: Tuple[int, ...]
    reason: str

    @property
    def missing(self) -> "FrameSet":
        return _to_frameset(self.missing_list)


Action = Union[Start, StopAfter, Kill, ChunkFailed, Done, Fail]
"""Everything the scheduler tells the executor, in the order the executor must apply it."""


# ------------------------------------------------------------------------------------------------------------ state
@dataclass
class ChunkState:
    """One live chunk: its slot, its (shrinking) assignment, what of it is verified, and its measured rate."""

    chunk: int
    slot: int
    assigned: List[int]  # ascending; shrinks from the back when stolen from
    started_at: float
    rate_hint: Optional[float] = None  # seconds per frame inherited from the chunk these frames came from
    done: Set[int] = field(default_factory=set)
    first_done_at: Optional[float] = None
    last_done_at: Optional[float] = None
    done_events: int = 0
    shrunk: bool = False
    killing: bool = False
    _owned: Optional[Set[int]] = field(default=None, repr=False)

    def owns(self, frame: int) -> bool:
        if self._owned is None:
            self._owned = set(self.assigned)
        return frame in self._owned

    def shrink_to(self, frames: List[int]) -> None:
        self.assigned = list(frames)
        self._owned = None
        self.shrunk = True

    @property
    def remaining(self) -> List[int]:
        return [f for f in self.assigned if f not in self.done]

    @property
    def remaining_count(self) -> int:
        return len(self.assigned) - len(self.done)

    def own_rate(self) -> Optional[float]:
        if self.done_events >= 2 and self.first_done_at is not None and self.last_done_at is not None:
            return max(0.0, (self.last_done_at - self.first_done_at) / (self.done_events - 1))
        return None


def split_even(frames: Sequence[int], parts: int) -> List[List[int]]:
    """Contiguous parts whose sizes differ by at most one (bigger parts first)."""
    parts = max(1, min(parts, len(frames)))
    size, extra = divmod(len(frames), parts)
    out: List[List[int]] = []
    pos = 0
    for i in range(parts):
        n = size + (1 if i < extra else 0)
        out.append(list(frames[pos:pos + n]))
        pos += n
    return out
