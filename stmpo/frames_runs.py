"""Frame runs: the canonical form of a set of frames, and set algebra on it (the pure core of ``stmpo.frames``).

A frame range can be enormous (``0-999999999``), so a set of frames is stored as arithmetic runs, never as a list of
frames, and union, intersection and difference work on runs.

The runs are canonical - a function of the set of frames alone - so equality and hashing compare runs:
1. every maximal interval of consecutive frames with at least two frames is one step-1 run;
2. the remaining (isolated) frames between two such intervals are grouped greedily from the left: a run starts at
   the smallest isolated frame, takes its step from the next isolated frame, and extends while the step holds.

Producers hand ``canonical`` *pieces* ``(start, step, count)``; ``combine`` sweeps two canonical run lists.
"""
from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass
from typing import Deque, Iterable, Iterator, List, Optional, Tuple

from stmpo.errors import FrameSpecError

# Set algebra between two interleaved runs falls back to listing frames when the result has no compact form; such a
# result needs about one run per frame anyway. This bound keeps a pathological request from eating the machine.
MATERIALISE_LIMIT = 1_000_000
# Largest period (lcm of two steps) for which the periodic pattern of a union/difference is inspected.
_PERIOD_LIMIT = 1 << 16


@dataclass(frozen=True)
class Run:
    """Frames start, start+step, ..., end (end is inclusive and a member; step >= 1; a single frame has step 1).

    Not a tuple (a tuple's ``count`` is a method), but it unpacks as one: ``start, end, step = run``."""

    __slots__ = ("start", "end", "step")
    start: int
    end: int
    step: int

    @property
    def count(self) -> int:
        """How many frames the run holds."""
        return (self.end - self.start) // self.step + 1

    def __iter__(self) -> Iterator[int]:
        return iter((self.start, self.end, self.step))

    def __reduce__(self) -> Tuple[type, Tuple[int, int, int]]:
        return Run, (self.start, self.end, self.step)  # pickle/copy through the constructor (the fields are frozen)


# --------------------------------------------------------------------------------------------------- canonical form
# A "piece" is (start, step, count) with count >= 1; producers emit pieces in ascending order with disjoint spans.
Piece = Tuple[int, int, int]


def piece_last(piece: Piece) -> int:
    return piece[0] + (piece[2] - 1) * piece[1]


def _normalise_piece(start: int, step: int, count: int) -> Piece:
    return (start, 1 if count == 1 else step, count)


def _resolve_adjacency(pieces: Iterable[Piece]) -> List[Piece]:
    """Make dense intervals maximal so every frame left in a run of step >= 2 is isolated."""
    out: List[Piece] = []
    queue: Deque[Piece] = deque(_normalise_piece(*p) for p in pieces if p[2] > 0)
    while queue:
        item = queue.popleft()
        if out and item[0] == piece_last(out[-1]) + 1:
            prev = out.pop()
            if prev[1] == 1 and prev[2] >= 2:  # dense interval
                dense_start = prev[0]
            else:
                if prev[2] > 1:
                    out.append(_normalise_piece(prev[0], prev[1], prev[2] - 1))
                dense_start = piece_last(prev)
            if item[1] == 1 and item[2] >= 2:
                out.append((dense_start, 1, piece_last(item) - dense_start + 1))
            else:
                out.append((dense_start, 1, item[0] - dense_start + 1))
                if item[2] > 1:
                    queue.appendleft(_normalise_piece(item[0] + item[1], item[1], item[2] - 1))
        else:
            out.append(item)
    return out


def canonical(pieces: Iterable[Piece]) -> Tuple[Run, ...]:
    """Canonical runs (see the module docstring) of ascending, span-disjoint pieces."""
    resolved = _resolve_adjacency(pieces)
    out: List[List[int]] = []  # [start, step, count, is_dense]
    for start, step, count in resolved:
        if step == 1 and count >= 2:
            out.append([start, 1, count, 1])
            continue
        pending: Optional[Piece] = (start, step, count)
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
def _clip(piece: Optional[Piece], lo: int, hi: int) -> Optional[Piece]:
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


def _ap_frames(piece: Optional[Piece]) -> Iterator[int]:
    if piece is not None:
        yield from range(piece[0], piece_last(piece) + 1, piece[1])


def _middle(op: str, a: Piece, b: Piece, lo: int, hi: int) -> List[Piece]:
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


def _member(piece: Piece, frame: int) -> bool:
    return piece[0] <= frame <= piece_last(piece) and (frame - piece[0]) % piece[1] == 0


def _walk_sparser(op: str, a: Piece, b: Piece) -> List[Piece]:
    """Union or difference with no single-progression form: one piece per frame of the sparser operand."""
    if min(a[2], b[2]) > MATERIALISE_LIMIT:
        raise FrameSpecError(
            f"frame set too irregular: the result has no compact form and over {MATERIALISE_LIMIT} runs")
    if op == "sub" and a[2] <= b[2]:  # few frames to keep or drop one by one
        return [(f, 1, 1) for f in _ap_frames(a) if not _member(b, f)]
    dense, sparse = (a, b) if op == "sub" or a[2] >= b[2] else (b, a)
    pieces: List[Piece] = []
    previous = dense[0] - 1
    for frame in _ap_frames(sparse):
        between = _clip(dense, previous + 1, frame - 1)
        if between is not None:
            pieces.append(between)
        if op == "or":
            pieces.append((frame, 1, 1))
        previous = frame
    tail = _clip(dense, previous + 1, piece_last(dense))
    if tail is not None:
        pieces.append(tail)
    return pieces


def _combine_segment(op: str, a: Optional[Piece], b: Optional[Piece]) -> List[Piece]:
    """Result of `op` for (at most) one piece per operand, both clipped to the same segment."""
    if a is None or b is None:
        if op == "and":
            return []
        if op == "sub":
            return [a] if a is not None else []
        only = a if a is not None else b
        return [only] if only is not None else []
    m0 = max(a[0], b[0])
    m1 = min(piece_last(a), piece_last(b))
    keep_b = op == "or"
    pieces: List[Piece] = []
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
        tails = (_clip(a, m1 + 1, piece_last(a)), _clip(b, m1 + 1, piece_last(b)) if keep_b else None)
        pieces.extend(t for t in tails if t is not None)
    return pieces


def combine(op: str, left: Tuple[Run, ...], right: Tuple[Run, ...]) -> Tuple[Run, ...]:
    """Sweep the boundaries of both run lists; inside one segment each side has at most one active run."""
    points = sorted({r.start for r in left + right} | {r.end + 1 for r in left + right})
    pieces: List[Piece] = []
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
        pieces.extend(_combine_segment(op, pa, pb))
    return canonical(pieces)
