"""Which frames a chunk hands to its next aerender invocation (pure: the executor's loop applies it).

A chunk's assignment (``ChunkRun.assigned``: global frame ids, ``stmpo.targets.FrameSpace``) is handed out front to
back: ``next_index`` is the position of the next id to hand out. Ids the scheduler already verified are skipped,
so a stepped invocation whose files could not be trusted (``stmpo.stepped_proof``) can hand its undelivered frames
back (``rewind``) and the chunk renders them again, one invocation per frame.
"""
from __future__ import annotations

from typing import AbstractSet, List, Sequence, Tuple

from stmpo.invocation import ChunkRun, invocation_frames
from stmpo.targets import FrameSpace


def remaining(run: ChunkRun, done: AbstractSet[int]) -> List[int]:
    """The chunk's global ids not handed out yet, not past its (shrunk) end, not verified."""
    return [g for g in run.assigned[run.next_index:] if g <= run.last and g not in done]


def next_frames(run: ChunkRun, done: AbstractSet[int], space: FrameSpace, use_increment: bool
                ) -> Tuple[List[int], int]:
    """The comp frames (and step) of the chunk's next invocation: the front step-1 run of what remains, or its
    front constant-step run with ``use_increment`` (``invocation_frames``), mapped to the chunk's target."""
    left = remaining(run, done)
    if space.identity:
        return invocation_frames(left, use_increment)
    return invocation_frames([space.locate(g)[1] for g in left], use_increment)


def index_after(run: ChunkRun, ident: int) -> int:
    """The position in ``run.assigned`` just after global id ``ident`` (the last one handed out)."""
    return run.assigned.index(ident) + 1 if ident in run.assigned else len(run.assigned)


def kind_of(run: ChunkRun, space: FrameSpace, target: int, frames: Sequence[int]) -> str:
    """"per-frame" for a one-frame invocation of a stepped run (its neighbours in the chunk more than one comp frame
    away), else "contiguous" (the report's launch counts, ``stmpo.stepped``)."""
    if len(frames) != 1:
        return "contiguous"
    ident = space.to_global(target, frames[0])
    at = run.assigned.index(ident) if ident in run.assigned else -1
    near = [space.locate(run.assigned[i])[1] for i in (at - 1, at + 1) if at >= 0 and 0 <= i < len(run.assigned)]
    return "per-frame" if near and all(abs(f - frames[0]) > 1 for f in near) else "contiguous"


def rewind(run: ChunkRun, idents: Sequence[int]) -> None:
    """Hand global ids ``idents`` (handed out before, not verified) out again to the chunk's next invocations."""
    positions = [run.assigned.index(g) for g in idents if g in run.assigned]
    if positions:
        run.next_index = min(run.next_index, min(positions))
