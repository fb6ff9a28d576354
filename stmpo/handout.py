"""Which frames a chunk hands to its next aerender invocation (pure: the executor's loop applies it).

A chunk's assignment (``ChunkRun.assigned``: global frame ids, ``stmpo.targets.FrameSpace``) is handed out front to
back: ``next_index`` is the position of the next id to hand out. Ids the scheduler already verified are skipped,
so a stepped invocation whose files could not be trusted (``stmpo.stepped_proof``) can hand its undelivered frames
back (``rewind``) and the chunk renders them again, one invocation per frame.
"""
from __future__ import annotations

import bisect
from itertools import islice
from typing import AbstractSet, Iterator, List, Sequence, Tuple

from stmpo.invocation import ChunkRun, invocation_frames
from stmpo.targets import FrameSpace


def remaining(run: ChunkRun, done: AbstractSet[int]) -> Iterator[int]:
    """The chunk's global ids not handed out yet, not past its (shrunk) end, not verified, front to back (lazy:
    ``assigned`` is ascending)."""
    for ident in islice(run.assigned, run.next_index, None):
        if ident > run.last:
            return
        if ident not in done:
            yield ident


def next_frames(run: ChunkRun, done: AbstractSet[int], space: FrameSpace, use_increment: bool
                ) -> Tuple[List[int], int]:
    """The comp frames (and step) of the chunk's next invocation: the front step-1 run of what remains, or its
    front constant-step run with ``use_increment`` (``invocation_frames``), mapped to the chunk's target."""
    left = remaining(run, done)
    if space.identity:
        return invocation_frames(left, use_increment)
    return invocation_frames((space.locate(g)[1] for g in left), use_increment)


def _position(run: ChunkRun, ident: int) -> int:
    """The index of ``ident`` in ``run.assigned`` (ascending), or -1 (a bisection: chunks can hold a million ids)."""
    at = bisect.bisect_left(run.assigned, ident)
    return at if at < len(run.assigned) and run.assigned[at] == ident else -1


def index_after(run: ChunkRun, ident: int) -> int:
    """The position in ``run.assigned`` just after global id ``ident`` (the last one handed out)."""
    at = _position(run, ident)
    return at + 1 if at >= 0 else len(run.assigned)


def kind_of(run: ChunkRun, space: FrameSpace, target: int, frames: Sequence[int]) -> str:
    """"per-frame" for a one-frame invocation of a stepped run (its neighbours in the chunk more than one comp frame
    away), else "contiguous" (the report's launch counts, ``stmpo.stepped``)."""
    if len(frames) != 1:
        return "contiguous"
    at = _position(run, space.to_global(target, frames[0]))
    near = [space.locate(run.assigned[i])[1] for i in (at - 1, at + 1) if at >= 0 and 0 <= i < len(run.assigned)]
    return "per-frame" if near and all(abs(f - frames[0]) > 1 for f in near) else "contiguous"


def rewind(run: ChunkRun, idents: Sequence[int]) -> None:
    """Hand global ids ``idents`` (handed out before, not verified) out again to the chunk's next invocations."""
    positions = [at for at in (_position(run, g) for g in idents) if at >= 0]
    if positions:
        run.next_index = min(run.next_index, min(positions))
