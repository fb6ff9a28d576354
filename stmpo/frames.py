"""Frame specs: one FrameSet type understood by every grammar aefarm meets.

Farms describe frames differently (accsyn `1-100x5, 200 -3--1`, Open Job Description `1-100:5` and `10-1:-3`, OpenJD
chunk parameters `7-7`), and a frame range can be enormous (`0-999999999`). A FrameSet therefore stores arithmetic
runs, never a list of frames, and every operation works on runs: length, membership, set algebra (for resuming),
balanced chunking (for fan-out) and AWS Batch array slicing.

The parts: ``stmpo.frames_runs`` (the canonical run form and set algebra on runs), ``stmpo.frames_spec`` (the spec
grammar: parser and formatters); this module is the FrameSet type over them and AWS Batch array slicing. Errors are
``stmpo.errors.FrameSpecError``.
"""
from __future__ import annotations

import bisect
from typing import Dict, Iterable, Iterator, List, Mapping, Optional, Sequence, Tuple

from stmpo.errors import FrameSpecError
from stmpo.frames_runs import Piece, Run, canonical, combine, piece_last
from stmpo.frames_spec import format_runs, parse_pieces


def _balanced_bounds(total: int, pieces: int, index: int) -> Tuple[int, int]:
    """[begin, end) of piece `index` when `total` items split into `pieces` contiguous parts differing by <= 1."""
    base, extra = divmod(total, pieces)
    begin = index * base + min(index, extra)
    return begin, begin + base + (1 if index < extra else 0)


class FrameSet:
    """An immutable, sorted set of unique frames stored as canonical arithmetic runs."""

    __slots__ = ("_runs", "_offsets", "_starts")

    def __init__(self, runs: Iterable[Run] = ()) -> None:
        if isinstance(runs, str):
            raise TypeError("FrameSet(runs) takes Run values; use FrameSet.parse(text) for a spec")
        pieces = []
        for run in runs:
            start, end, step = run
            if step < 1 or end < start:
                raise FrameSpecError(f"bad run {start}-{end}x{step}: needs step >= 1 and end >= start")
            pieces.append((start, step, (end - start) // step + 1))
        self._runs: Tuple[Run, ...] = FrameSet._from_pieces(pieces)._runs
        self._offsets: Optional[List[int]] = None
        self._starts: Optional[List[int]] = None

    @classmethod
    def _from_canonical(cls, runs: Tuple[Run, ...]) -> "FrameSet":
        self = cls.__new__(cls)
        self._runs, self._offsets, self._starts = runs, None, None
        return self

    @classmethod
    def _from_pieces(cls, pieces: Iterable[Piece]) -> "FrameSet":
        """Pieces in any order, possibly overlapping: their union."""
        result: List[Piece] = []  # ascending, span-disjoint
        reach: Optional[int] = None
        for piece in sorted(p for p in pieces if p[2] > 0):
            if reach is not None and piece[0] <= reach:  # overlaps an earlier piece: real set algebra
                merged = combine("or", canonical(result), canonical([piece]))
                result = [(r.start, r.step, r.count) for r in merged]
            else:
                result.append(piece)
            reach = piece_last(piece) if reach is None else max(reach, piece_last(piece))
        return cls._from_canonical(canonical(result))

    # constructors ----------------------------------------------------------------------------------------------
    @classmethod
    def parse(cls, text: str) -> "FrameSet":
        """accsyn `1-100x5, 200 -3--1`, OpenJD `1-100:5` / `10-1:-3` / comma lists, chunks `7-7`; overlaps union."""
        if not isinstance(text, str):
            raise FrameSpecError(f"bad frame spec {text!r}: expected text")
        return cls._from_pieces(parse_pieces(text))

    @classmethod
    def from_range(cls, start: int, end: int, step: int = 1) -> "FrameSet":
        """start..end inclusive (end need not be a member); empty when end < start."""
        if step < 1:
            raise FrameSpecError(f"bad frame range {start}-{end}x{step}: step must be >= 1")
        if end < start:
            return cls._from_canonical(())
        return cls._from_canonical(canonical([(start, step, (end - start) // step + 1)]))

    @classmethod
    def from_frames(cls, frames: Iterable[int]) -> "FrameSet":
        return cls._from_canonical(canonical((f, 1, 1) for f in sorted(set(int(f) for f in frames))))

    # basics ----------------------------------------------------------------------------------------------------
    @property
    def runs(self) -> Tuple[Run, ...]:
        return self._runs

    def _prefix(self) -> List[int]:
        if self._offsets is None:
            offsets, total = [0], 0
            for run in self._runs:
                total += run.count
                offsets.append(total)
            self._offsets = offsets
        return self._offsets

    def __len__(self) -> int:
        return self._prefix()[-1]

    def __bool__(self) -> bool:
        return bool(self._runs)

    def __iter__(self) -> Iterator[int]:
        for run in self._runs:
            yield from range(run.start, run.end + 1, run.step)

    def __contains__(self, frame: object) -> bool:
        if not isinstance(frame, int):
            return False
        if self._starts is None:
            self._starts = [r.start for r in self._runs]
        i = bisect.bisect_right(self._starts, frame) - 1
        if i < 0:
            return False
        run = self._runs[i]
        return frame <= run.end and (frame - run.start) % run.step == 0

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, FrameSet):
            return NotImplemented
        return self._runs == other._runs

    def __hash__(self) -> int:
        return hash(self._runs)

    def __repr__(self) -> str:
        return f"FrameSet.parse({self.to_accsyn()!r})"

    def __str__(self) -> str:
        return self.to_accsyn()

    @property
    def first(self) -> int:
        if not self._runs:
            raise FrameSpecError("empty frame set has no first frame")
        return self._runs[0].start

    @property
    def last(self) -> int:
        if not self._runs:
            raise FrameSpecError("empty frame set has no last frame")
        return self._runs[-1].end

    # algebra ---------------------------------------------------------------------------------------------------
    def union(self, other: "FrameSet") -> "FrameSet":
        return FrameSet._from_canonical(combine("or", self._runs, other._runs))

    def intersection(self, other: "FrameSet") -> "FrameSet":
        return FrameSet._from_canonical(combine("and", self._runs, other._runs))

    def difference(self, other: "FrameSet") -> "FrameSet":
        """Frames still to render when `other` is what is already on disk (resuming)."""
        return FrameSet._from_canonical(combine("sub", self._runs, other._runs))

    __or__ = union
    __and__ = intersection
    __sub__ = difference

    # positional access -----------------------------------------------------------------------------------------
    def _between(self, begin: int, end: int) -> "FrameSet":
        """Frames at sorted positions [begin, end)."""
        offsets = self._prefix()
        if begin >= end:
            return FrameSet._from_canonical(())
        pieces: List[Piece] = []
        i = bisect.bisect_right(offsets, begin) - 1
        while i < len(self._runs) and offsets[i] < end:
            run = self._runs[i]
            lo = max(begin, offsets[i]) - offsets[i]
            hi = min(end, offsets[i + 1]) - offsets[i]
            pieces.append((run.start + lo * run.step, run.step, hi - lo))
            i += 1
        return FrameSet._from_canonical(canonical(pieces))

    def chunks(self, size: Optional[int] = None, count: Optional[int] = None) -> List["FrameSet"]:
        """Balanced contiguous slices of the sorted frames: sizes differ by at most one.

        `size=K` gives ceil(len/K) chunks (as OpenJD TASK_CHUNKING balances a target chunk size); `count=N` gives
        min(N, len) chunks. A chunk may span several runs (a gap or a step change) without losing a frame.
        """
        if (size is None) == (count is None):
            raise FrameSpecError("give exactly one of chunk size or chunk count")
        total = len(self)
        if size is not None:
            if size < 1:
                raise FrameSpecError(f"chunk size must be >= 1, got {size}")
            pieces = -(-total // size)
        else:
            assert count is not None
            if count < 1:
                raise FrameSpecError(f"chunk count must be >= 1, got {count}")
            pieces = min(count, total)
        return [self._between(*_balanced_bounds(total, pieces, k)) for k in range(pieces)]

    def slice(self, index: int, size: int) -> "FrameSet":
        """The share of member `index` (0-based) of an array job of `size` members; shares partition the set."""
        if size < 1:
            raise FrameSpecError(f"array size must be >= 1, got {size}")
        if not 0 <= index < size:
            raise FrameSpecError(f"array index {index} is outside 0..{size - 1}")
        return self._between(*_balanced_bounds(len(self), size, index))

    # formatting ------------------------------------------------------------------------------------------------
    def to_accsyn(self) -> str:
        """accsyn form, e.g. `1-96x5,200,-3--1` ordered ascending; empty set -> ''."""
        return format_runs(self._runs, "x")

    def to_openjd(self) -> str:
        """Open Job Description range expression, e.g. `1-96:5,200`; empty set -> ''."""
        return format_runs(self._runs, ":")


# ----------------------------------------------------------------------------------------------------- AWS Batch
AWS_BATCH_INDEX = "AWS_BATCH_JOB_ARRAY_INDEX"
AWS_BATCH_SIZE = "AWS_BATCH_JOB_ARRAY_SIZE"


def aws_batch_slice_from_env(env: Mapping[str, str]) -> Tuple[int, int]:
    """(index, size) of this AWS Batch array child.

    AWS Batch sets only AWS_BATCH_JOB_ARRAY_INDEX in array children; the size must come from the job definition's
    environment, so its absence gets its own message.
    """
    values: Dict[str, int] = {}
    for name, hint in ((AWS_BATCH_INDEX, "not running as an AWS Batch array child?"),
                       (AWS_BATCH_SIZE, "set it to the array size in the job's environment")):
        raw = env.get(name)
        if raw is None or not raw.strip():
            raise FrameSpecError(f"{name} is not set ({hint})")
        try:
            values[name] = int(raw.strip())
        except ValueError:
            raise FrameSpecError(f"{name}={raw!r} is not an integer") from None
    index, size = values[AWS_BATCH_INDEX], values[AWS_BATCH_SIZE]
    if size < 1:
        raise FrameSpecError(f"{AWS_BATCH_SIZE}={size} must be >= 1")
    if not 0 <= index < size:
        raise FrameSpecError(f"{AWS_BATCH_INDEX}={index} is outside 0..{size - 1} "
                             f"(inconsistent with {AWS_BATCH_SIZE}={size})")
    return index, size

__all__: Sequence[str] = ("FrameSet", "aws_batch_slice_from_env", "AWS_BATCH_INDEX", "AWS_BATCH_SIZE")
