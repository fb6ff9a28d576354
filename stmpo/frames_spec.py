"""The frame-spec grammar: reading accsyn and Open Job Description frame specs, and writing them.

Farms describe frames differently: accsyn ``1-100x5, 200 -3--1``, Open Job Description ``1-100:5`` and ``10-1:-3``,
OpenJD chunk parameters ``7-7``. ``parse_pieces`` reads all of them into pieces ``(start, step, count)`` (overlaps
allowed; ``stmpo.frames.FrameSet.parse`` unions them) and names the column of any error; ``format_runs`` writes
canonical runs back with the step marker of either farm (``x`` accsyn, ``:`` OpenJD).
"""
from __future__ import annotations

from typing import List, Optional, Sequence, Tuple

from stmpo.errors import FrameSpecError
from stmpo.frames_runs import Piece, Run

INT64_MAX = 2 ** 63 - 1
INT64_MIN = -(2 ** 63)


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

    def entry(self) -> Piece:
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

    def parse(self) -> List[Piece]:
        entries: List[Piece] = []
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



def parse_pieces(text: str) -> List[Piece]:
    """The pieces ``(start, step >= 1, count)`` of a frame spec, ascending within each entry, in the spec's order.

    Raises FrameSpecError naming the column (1-based) of the offending character."""
    return _Parser(text).parse()


def format_runs(runs: Sequence[Run], step_marker: str) -> str:
    """``runs`` as a spec: ``5``, ``1-10``, ``1,3`` (two frames), else ``1-96<step_marker>5``, joined by commas."""
    parts = []
    for run in runs:
        if run.start == run.end:
            parts.append(str(run.start))
        elif run.step == 1:
            parts.append(f"{run.start}-{run.end}")
        elif run.count == 2:
            parts.append(f"{run.start},{run.end}")
        else:
            parts.append(f"{run.start}-{run.end}{step_marker}{run.step}")
    return ",".join(parts)
