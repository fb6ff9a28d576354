"""The frame proof of a stepped invocation (``aerender -s first -e last -i step``, step > 1): which of its files may
be trusted, decided from the file numbers it wrote (pure functions, plus one folder listing).

Why a proof of its own: how real aerender numbers the files of ``-i`` is not documented (docs/formats.md §3, §7: Adobe's
help says a higher increment "renders a frame and uses it increment times in output"; the render-queue item's
skip-frames setting says a sequence gets fewer frames; an output module can also number a sequence from its own
"Starting #"). Its progress lines do not settle it either: the ordinal in ``(n)`` counts frames within the render,
and nothing says which file name a line's frame went to. So nothing here trusts a numbering; each invocation proves
its own, from the numbers of the files in its staging folder (cleared before it starts, so every file there is its
own):

* **by comp frame** (``COMP``): the k-th rendered frame is written as ``first + (k-1)*step``. Proven incrementally,
  as soon as two ordinals are proven closed and every number seen is an expected frame (``comp_proven``): any
  numbering that gives a rendered frame a number that is not an expected frame -- consecutive numbers from any
  start (two closed ordinals = two adjacent numbers, and expected frames are ``step`` >= 2 apart), repeats (the
  frame's copies), every frame rendered (``-i`` ignored) -- shows a foreign number by then. Frames are then
  delivered as their lines prove them, as for a step-1 invocation.
* **repeated** (``REPEAT``): each rendered frame written ``step`` times, under its own number and the ``step - 1``
  after it. Decided only when the invocation ended cleanly with one line per expected frame (``classify``): every
  expected number present, every number inside an expected frame's block, more files than lines. The expected
  numbers are then delivered (their own lines, closed, whole) and the repeats discarded.
* anything else (``CONSECUTIVE``: exactly ``lines`` adjacent numbers; ``UNKNOWN``): nothing of the invocation is
  trusted (a file with an expected number may hold another frame's image); its frames are rendered again, one
  invocation per frame.

A frame proven closed while the numbering is still open is *held* (``held``), not delivered, until the end.
"""
from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from typing import Iterable, List, Optional, Pattern, Sequence, Set

from stmpo.outputs import OutputPattern

COMP = "comp-frame"
REPEAT = "repeat"
CONSECUTIVE = "consecutive"
UNKNOWN = "unknown"  # the numbering could not be told (crash, kill, missing lines, an unexpected file set)
TRUSTED = (COMP, REPEAT)


@dataclass
class SteppedProof:
    """What one stepped invocation's files showed: ``frames`` (expected comp frames, ascending, ``step`` apart),
    every file number seen in its staging folder (cumulative: a delivered file was seen before it moved), the
    numbering once decided, and frames proven closed but held until it is."""

    frames: List[int]
    step: int
    seen: Set[int] = field(default_factory=set)
    verdict: Optional[str] = None
    held: List[int] = field(default_factory=list)
    told: bool = False  # the run's policy (stmpo.stepped) heard the verdict

    @property
    def expected(self) -> Set[int]:
        return set(self.frames)

    def foreign(self) -> List[int]:
        """Numbers seen that are not expected frames (repeats, or another numbering's files)."""
        return sorted(self.seen - self.expected)


def comp_proven(frames: Sequence[int], closed: int, seen: Iterable[int]) -> bool:
    """Whether the files prove numbering by comp frame: at least two ordinals proven closed (``closed``: how many of
    the invocation's progress lines are proven closed), the files of those ordinals' frames seen, and no number
    seen that is not an expected frame (see the module docstring for why two is enough)."""
    if closed < 2 or len(frames) < 2:
        return False
    numbers = set(seen)
    return numbers <= set(frames) and all(f in numbers for f in frames[:closed])


def classify(frames: Sequence[int], step: int, seen: Iterable[int], lines: int) -> str:
    """The numbering of a stepped invocation that ended cleanly with ``lines`` frame lines, from every file number
    it wrote (``seen``): COMP, REPEAT, CONSECUTIVE or UNKNOWN (module docstring)."""
    numbers = set(seen)
    expected = set(frames)
    if lines != len(frames) or not numbers:
        return UNKNOWN
    if numbers == expected:
        return COMP
    blocks = {f + k for f in frames for k in range(step)}
    if expected <= numbers <= blocks and len(numbers) > lines:
        return REPEAT
    low = min(numbers)
    if numbers == set(range(low, low + lines)):
        return CONSECUTIVE
    return UNKNOWN


def file_regex(pattern: OutputPattern) -> Pattern[str]:
    """A regex for the file names of ``pattern``'s sequence, the frame number in group 1 (every frame token of a
    name holds the same number; aerender pads to the token's width and writes wider numbers whole)."""
    texts, widths = pattern._name_parts()  # noqa: SLF001 - the one parse of the name template
    parts = [re.escape(texts[0])]
    for index, text in enumerate(texts[1:]):
        parts.append(r"(-?\d+)" if index == 0 else r"-?\d+")
        parts.append(re.escape(text))
    return re.compile("^" + "".join(parts) + "$")


def numbers_in(folder: str, regex: Pattern[str]) -> Set[int]:
    """The frame numbers of the files in ``folder`` that match ``regex`` (an unreadable folder: none)."""
    try:
        names = os.listdir(folder)
    except OSError:
        return set()
    out: Set[int] = set()
    for name in names:
        match = regex.match(name)
        if match:
            out.add(int(match.group(1)))
    return out


def remove_numbers(folder: str, pattern: OutputPattern, numbers: Iterable[int]) -> List[int]:
    """Delete the files of ``numbers`` from ``folder`` (repeats, untrusted files); the numbers removed."""
    gone: List[int] = []
    for number in numbers:
        try:
            os.unlink(pattern.frame_file(number, folder))
            gone.append(number)
        except OSError:
            pass
    return gone
