"""Frame specs: one FrameSet type understood by every grammar aefarm meets.

Farms describe frames differently (accsyn `1-100x5, 200 -3--1`, Open Job Description `1-100:5` and `10-1:-3`, OpenJD
chunk parameters `7-7`), and a frame range can be enormous (`0-999999999`). A FrameSet therefore stores arithmetic
runs, never a list of frames, and every operation works on runs: length, membership, set algebra (for resuming),
balanced chunking (for fan-out) and AWS Batch array slicing.

The runs are canonical - a function of the set of frames alone - so equality and hashing compare runs:
1. every maximal interval of consecutive frames with at least two frames is one step-1 run;
2. the remaining (isolated) frames between two such intervals are grouped greedily from the left: a run starts at
   the smallest isolated frame, takes its step from the next isolated frame, and extends while the step holds.
"""
from __future__ import annotations

import bisect
import math
from collections import deque
from typing import Deque, Dict, Iterable, Iterator, List, Mapping, NamedTuple, Optional, Sequence, Tuple

from aefarm_common.errors import AefarmError

INT64_MAX = 2 ** 63 - 1
INT64_MIN = -(2 ** 63)

# Set algebra between two interleaved runs falls back to listing frames when the result has no compact form; such a
# result needs about one run per frame anyway. This bound keeps a pathological request from eating the machine.
MATERIALISE_LIMIT = 1_000_000
# Largest period (lcm of two steps) for which the periodic pattern of a union/difference is inspected.
_PERIOD_LIMIT = 1 << 16


class FrameSpecError(AefarmError, ValueError):
    """Bad frame spec or bad frame-set request (bad input: exit code 2)."""


class Run(NamedTuple):
    """Frames start, start+step, ..., end (end is inclusive and a member; step >= 1; a single frame has step 1)."""

    start: int
    end: int
    step: int

    @property
    def count(self) -> int:
        return (self.end - self.start) // self.step + 1


# --------------------------------------------------------------------------------------------------- canonical form
# A "piece" is (start, step, count) with count >= 1; producers emit pieces in ascending order with disjoint spans.
_Piece = Tuple[int, int, int]


def _last(piece: _Piece) -> int:
    return piece[0] + (piece[2] - 1) * piece[1]


def _normalise_piece(start: int, step: int, count: int) -> _Piece:
    return (start, 1 if count == 1 else step, count)


def _resolve_adjacency(pieces: Iterable[_Piece]) -> List[_Piece]:
    """Make dense intervals maximal so every frame left in a run of step >= 2 is isolated."""
    out: List[_Piece] = []
    queue: Deque[_Piece] = deque(_normalise_piece(*p) for p in pieces if p[2] > 0)
    while queue:
        item = queue.popleft()
        if out and item[0] == _last(out[-1]) + 1:
            prev = out.pop()
            if prev[1] == 1 and prev[2] >= 2:  # dense interval
                dense_start = prev[0]
            else:
                if prev[2] > 1:
                    out.append(_normalise_piece(prev[0], prev[1], prev[2] - 1))
                dense_start = _last(prev)
            if item[1] == 1 and item[2] >= 2:
                out.append((dense_start, 1, _last(item) - dense_start + 1))
            else:
                out.append((dense_start, 1, item[0] - dense_start + 1))
                if item[2] > 1:
                    queue.appendleft(_normalise_piece(item[0] + item[1], item[1], item[2] - 1))
        else:
            out.append(item)
    return out


def _canonical(pieces: Iterable[_Piece]) -> Tuple[Run, ...]:
    """Canonical runs (see the module docstring) of ascending, span-disjoint pieces."""
    resolved = _resolve_adjacency(pieces)
    out: List[List[int]] = []  # [start, step, count, is_dense]
    for start, step, count in resolved:
        if step == 1 and count >= 2:
            out.append([start, 1, count, 1])
            continue
        pending: Optional[_Piece] = (start, step, count)
        while pending is not None:
            prev = out[-1] if out else None
            if prev is None or prev[3]:
                out.append([pending[0], pending[1], pending[2], 0])
                pending = None
            elif prev[2] == 1:  # a lone isolated frame takes its step from the next one
                prev[1] = pending[0] - prev[0]
                prev[2] = 2
                pending = (pending[0] + pending[1], pending[1], pending[2] - 1) if pending[2] > 1 else None
            elif pending[0] == prev[0] + prev[2] * prev[1]:  # continues the run under construction
                if pending[2] == 1 or pending[1] == prev[1]:
                    prev[2] += pending[2]
                    pending = None
                else:
                    prev[2] += 1
                    pending = (pending[0] + pending[1], pending[1], pending[2] - 1)
            else:
                out.append([pending[0], pending[1], pending[2], 0])
                pending = None
    return tuple(Run(s, s + (n - 1) * st, st if n > 1 else 1) for s, st, n, _ in out)


# ------------------------------------------------------------------------------------------------------ set algebra
def _clip(piece: Optional[_Piece], lo: int, hi: int) -> Optional[_Piece]:
    """The members of `piece` within [lo, hi]."""
    if piece is None or lo > hi:
        return None
    start, step, count = piece
    first_k = 0 if lo <= start else -(-(lo - start) // step)
    last_k = min(count - 1, (hi - start) // step) if hi >= start else -1
    if first_k > last_k:
        return None
    return (start + first_k * step, step, last_k - first_k + 1)


def _crt(a: int, m: int, b: int, n: int) -> Optional[Tuple[int, int]]:
    """x = a (mod m) and x = b (mod n) -> (x0, lcm) or None."""
    g = math.gcd(m, n)
    if (b - a) % g:
        return None
    lcm = m // g * n
    m_g, n_g = m // g, n // g
    k = ((b - a) // g) * pow(m_g, -1, n_g) % n_g if n_g > 1 else 0
    return ((a + m * k) % lcm, lcm)


def _first_at_least(residue: int, modulus: int, lo: int) -> int:
    return lo + (residue - lo) % modulus


def _ap_frames(piece: Optional[_Piece]) -> Iterator[int]:
    if piece is not None:
        yield from range(piece[0], _last(piece) + 1, piece[1])


def _middle(op: str, a: _Piece, b: _Piece, lo: int, hi: int) -> List[_Piece]:
    """Result of `op` for two arithmetic progressions that both span [lo, hi]."""
    crt = _crt(a[0], a[1], b[0], b[1])
    if op == "and":
        if crt is None:
            return []
        first = _first_at_least(crt[0], crt[1], lo)
        return [] if first > hi else [(first, crt[1], (hi - first) // crt[1] + 1)]
    if op == "sub" and crt is None:
        return [a]
    lcm = a[1] // math.gcd(a[1], b[1]) * b[1]
    if lcm <= _PERIOD_LIMIT:
        res_a = {(a[0] + k * a[1]) % lcm for k in range(lcm // a[1])}
        res_b = {(b[0] + k * b[1]) % lcm for k in range(lcm // b[1])}
        residues = sorted(res_a | res_b if op == "or" else res_a - res_b)
        if not residues:
            return []
        gaps = {(residues[(i + 1) % len(residues)] - r) % lcm or lcm for i, r in enumerate(residues)}
        if len(gaps) == 1:  # the periodic pattern is one arithmetic progression
            step = gaps.pop()
            first = _first_at_least(residues[0] % step, step, lo)
            return [] if first > hi else [(first, step, (hi - first) // step + 1)]
    return _walk_sparser(op, a, b)


def _member(piece: _Piece, frame: int) -> bool:
    return piece[0] <= frame <= _last(piece) and (frame - piece[0]) % piece[1] == 0


def _walk_sparser(op: str, a: _Piece, b: _Piece) -> List[_Piece]:
    """Union or difference with no single-progression form: one piece per frame of the sparser operand."""
    if min(a[2], b[2]) > MATERIALISE_LIMIT:
        raise FrameSpecError(
            f"frame set too irregular: the result has no compact form and over {MATERIALISE_LIMIT} runs")
    if op == "sub" and a[2] <= b[2]:  # few frames to keep or drop one by one
        return [(f, 1, 1) for f in _ap_frames(a) if not _member(b, f)]
    dense, sparse = (a, b) if op == "sub" or a[2] >= b[2] else (b, a)
    pieces: List[_Piece] = []
    previous = dense[0] - 1
    for frame in _ap_frames(sparse):
        between = _clip(dense, previous + 1, frame - 1)
        if between is not None:
            pieces.append(between)
        if op == "or":
            pieces.append((frame, 1, 1))
        previous = frame
    tail = _clip(dense, previous + 1, _last(dense))
    if tail is not None:
        pieces.append(tail)
    return pieces


def _combine(op: str, a: Optional[_Piece], b: Optional[_Piece]) -> List[_Piece]:
    """Result of `op` for (at most) one piece per operand, both clipped to the same segment."""
    if a is None or b is None:
        if op == "and":
            return []
        if op == "sub":
            return [a] if a is not None else []
        only = a if a is not None else b
        return [only] if only is not None else []
    m0 = max(a[0], b[0])
    m1 = min(_last(a), _last(b))
    keep_b = op == "or"
    pieces: List[_Piece] = []
    if op != "and":
        for head in (_clip(a, a[0], m0 - 1), _clip(b, b[0], m0 - 1) if keep_b else None):
            if head is not None:
                pieces.append(head)
    mid_a, mid_b = _clip(a, m0, m1), _clip(b, m0, m1)
    if mid_a is not None and mid_b is not None:
        pieces.extend(_middle(op, mid_a, mid_b, m0, m1))
    elif op != "and":
        pieces.extend(p for p in (mid_a, mid_b if keep_b else None) if p is not None)
    if op != "and":
        tails = (_clip(a, m1 + 1, _last(a)), _clip(b, m1 + 1, _last(b)) if keep_b else None)
        pieces.extend(t for t in tails if t is not None)
    return pieces


def _apply(op: str, left: Tuple[Run, ...], right: Tuple[Run, ...]) -> Tuple[Run, ...]:
    """Sweep the boundaries of both run lists; inside one segment each side has at most one active run."""
    points = sorted({r.start for r in left + right} | {r.end + 1 for r in left + right})
    pieces: List[_Piece] = []
    ia = ib = 0
    for lo, nxt in zip(points, points[1:]):
        hi = nxt - 1
        while ia < len(left) and left[ia].end < lo:
            ia += 1
        while ib < len(right) and right[ib].end < lo:
            ib += 1
        ra = left[ia] if ia < len(left) and left[ia].start <= lo else None
        rb = right[ib] if ib < len(right) and right[ib].start <= lo else None
        pa = _clip((ra.start, ra.step, ra.count), lo, hi) if ra else None
        pb = _clip((rb.start, rb.step, rb.count), lo, hi) if rb else None
        pieces.extend(_combine(op, pa, pb))
    return _canonical(pieces)


# ----------------------------------------------------------------------------------------------------------- parser
def _error(text: str, why: str, column: int) -> FrameSpecError:
    return FrameSpecError(f"bad frame spec {text!r}: {why} at column {column}")


class _Parser:
    """Hand-written scanner so every error can name the column (1-based) of the offending character."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.pos = 0

    def peek(self) -> str:
        return self.text[self.pos] if self.pos < len(self.text) else ""

    def fail(self, why: str, pos: Optional[int] = None) -> FrameSpecError:
        return _error(self.text, why, (self.pos if pos is None else pos) + 1)

    def describe_here(self) -> str:
        char = self.peek()
        return "unexpected end of spec" if not char else f"unexpected character {char!r}"

    def number(self, what: str, signed: bool = True) -> Tuple[int, int]:
        start = self.pos
        if signed and self.peek() == "-":
            self.pos += 1
        digits_at = self.pos
        while self.peek().isdigit() and self.peek() in "0123456789":
            self.pos += 1
        if self.pos == digits_at:
            if not self.peek():
                raise self.fail(f"expected {what}, got end of spec")
            raise self.fail(f"expected {what}, got {self.peek()!r}")
        value = int(self.text[start:self.pos])
        if not INT64_MIN <= value <= INT64_MAX:
            noun = what[2:] if what.startswith("a ") else what
            raise self.fail(f"{noun} {self.text[start:self.pos]} is out of the 64-bit range", start)
        return value, start

    def skip_separators(self) -> bool:
        """Skip spaces and at most one comma; True when something separated the entries."""
        start = self.pos
        comma_seen = False
        while self.peek() and (self.peek().isspace() or self.peek() == ","):
            if self.peek() == ",":
                if comma_seen:
                    raise self.fail("empty entry between commas")
                comma_seen = True
            self.pos += 1
        return self.pos > start

    def entry(self) -> _Piece:
        first, first_at = self.number("a frame number")
        if self.peek() != "-":
            return (first, 1, 1)
        self.pos += 1
        last, last_at = self.number("a frame number after '-'")
        marker = self.peek()
        if marker in ("x", "X"):
            self.pos += 1
            step, step_at = self.number("a step after 'x'")
            if step < 1:
                raise self.fail("step must be >= 1", step_at)
            if last < first:
                raise self.fail(f"range end {last} is before its start {first}", last_at)
            return (first, step, (last - first) // step + 1)
        if marker == ":":
            self.pos += 1
            step, step_at = self.number("a step after ':'")
            if step == 0:
                raise self.fail("step must not be 0", step_at)
            if (last < first and step > 0) or (last > first and step < 0):
                raise self.fail(f"step {step} goes the wrong way from {first} to {last}", step_at)
            if step < 0:  # OpenJD descending range: the same frames, ascending
                count = (first - last) // -step + 1
                return (first + (count - 1) * step, -step, count)
            return (first, step, (last - first) // step + 1)
        if last < first:
            raise self.fail(f"range end {last} is before its start {first} (descending needs a step, "
                            f"e.g. {first}-{last}:-1)", last_at)
        return (first, 1, last - first + 1)

    def parse(self) -> List[_Piece]:
        entries: List[_Piece] = []
        self.skip_separators_leading()
        if not self.peek():
            raise self.fail("no frames given")
        while True:
            entries.append(self.entry())
            at = self.pos
            separated = self.skip_separators()
            if not self.peek():
                if "," in self.text[at:]:
                    raise self.fail("expected a frame number after ','", len(self.text.rstrip()))
                return entries
            if not separated:
                raise self.fail(self.describe_here())

    def skip_separators_leading(self) -> None:
        while self.peek().isspace():
            self.pos += 1
        if self.peek() == ",":
            raise self.fail("expected a frame number, got ','")


# --------------------------------------------------------------------------------------------------------- FrameSet
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
    def _from_pieces(cls, pieces: Iterable[_Piece]) -> "FrameSet":
        """Pieces in any order, possibly overlapping: their union."""
        result: List[_Piece] = []  # ascending, span-disjoint
        reach: Optional[int] = None
        for piece in sorted(p for p in pieces if p[2] > 0):
            if reach is not None and piece[0] <= reach:  # overlaps an earlier piece: real set algebra
                merged = _apply("or", _canonical(result), _canonical([piece]))
                result = [(r.start, r.step, r.count) for r in merged]
            else:
                result.append(piece)
            reach = _last(piece) if reach is None else max(reach, _last(piece))
        return cls._from_canonical(_canonical(result))

    # constructors ----------------------------------------------------------------------------------------------
    @classmethod
    def parse(cls, text: str) -> "FrameSet":
        """accsyn `1-100x5, 200 -3--1`, OpenJD `1-100:5` / `10-1:-3` / comma lists, chunks `7-7`; overlaps union."""
        if not isinstance(text, str):
            raise FrameSpecError(f"bad frame spec {text!r}: expected text")
        return cls._from_pieces(_Parser(text).parse())

    @classmethod
    def from_range(cls, start: int, end: int, step: int = 1) -> "FrameSet":
        """start..end inclusive (end need not be a member); empty when end < start."""
        if step < 1:
            raise FrameSpecError(f"bad frame range {start}-{end}x{step}: step must be >= 1")
        if end < start:
            return cls._from_canonical(())
        return cls._from_canonical(_canonical([(start, step, (end - start) // step + 1)]))

    @classmethod
    def from_frames(cls, frames: Iterable[int]) -> "FrameSet":
        return cls._from_canonical(_canonical((f, 1, 1) for f in sorted(set(int(f) for f in frames))))

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
        return FrameSet._from_canonical(_apply("or", self._runs, other._runs))

    def intersection(self, other: "FrameSet") -> "FrameSet":
        return FrameSet._from_canonical(_apply("and", self._runs, other._runs))

    def difference(self, other: "FrameSet") -> "FrameSet":
        """Frames still to render when `other` is what is already on disk (resuming)."""
        return FrameSet._from_canonical(_apply("sub", self._runs, other._runs))

    __or__ = union
    __and__ = intersection
    __sub__ = difference

    # positional access -----------------------------------------------------------------------------------------
    def _between(self, begin: int, end: int) -> "FrameSet":
        """Frames at sorted positions [begin, end)."""
        offsets = self._prefix()
        if begin >= end:
            return FrameSet._from_canonical(())
        pieces: List[_Piece] = []
        i = bisect.bisect_right(offsets, begin) - 1
        while i < len(self._runs) and offsets[i] < end:
            run = self._runs[i]
            lo = max(begin, offsets[i]) - offsets[i]
            hi = min(end, offsets[i + 1]) - offsets[i]
            pieces.append((run.start + lo * run.step, run.step, hi - lo))
            i += 1
        return FrameSet._from_canonical(_canonical(pieces))

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
    def _format(self, step_marker: str) -> str:
        parts = []
        for run in self._runs:
            if run.start == run.end:
                parts.append(str(run.start))
            elif run.step == 1:
                parts.append(f"{run.start}-{run.end}")
            elif run.count == 2:
                parts.append(f"{run.start},{run.end}")
            else:
                parts.append(f"{run.start}-{run.end}{step_marker}{run.step}")
        return ",".join(parts)

    def to_accsyn(self) -> str:
        """accsyn form, e.g. `1-96x5,200,-3--1` ordered ascending; empty set -> ''."""
        return self._format("x")

    def to_openjd(self) -> str:
        """Open Job Description range expression, e.g. `1-96:5,200`; empty set -> ''."""
        return self._format(":")


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


__all__: Sequence[str] = ("FrameSet", "FrameSpecError", "Run", "aws_batch_slice_from_env",
                          "AWS_BATCH_INDEX", "AWS_BATCH_SIZE")
