"""What an image sequence on disk is: the one definition the farm submitters share (accsyn dependencies, Deadline
asset references).

After Effects often references a sequence by its first frame's file (``plate_0001.png``), not by its folder
(docs/formats.md §7): shipping that one file leaves the worker without the rest. A file is one frame of a sequence when
its name ends (before the extension) in a frame number and other files of the same folder differ from it only in
that number. Only image formats form sequences (a numbered movie is a file of its own).

Numbering: a number with a leading zero fixes the width (``0001`` and ``0002`` belong together, ``12`` does not);
unpadded numbers match any width without a leading zero (``frame9``, ``frame10``). Names compare exactly.
"""
from __future__ import annotations

import os
import re
from dataclasses import dataclass
from typing import Callable, Iterable, List, Optional, Tuple

IMAGE_EXTENSIONS = frozenset({
    ".png", ".jpg", ".jpeg", ".tif", ".tiff", ".exr", ".dpx", ".cin", ".tga", ".psd", ".bmp", ".sgi", ".rgb",
    ".iff", ".hdr", ".gif", ".webp", ".pic", ".pct", ".pict", ".heic", ".jp2", ".ai", ".eps", ".pdf", ".svg",
})

_NUMBERED = re.compile(r"\A(.*?)(\d+)(\D*)\Z", re.S)


class NumberedName(tuple):
    """``(prefix, digits, suffix)`` of a file name whose stem ends in a number; the suffix includes the extension."""

    @property
    def prefix(self) -> str:
        return str(self[0])

    @property
    def digits(self) -> str:
        return str(self[1])

    @property
    def suffix(self) -> str:
        return str(self[2])

    @property
    def padded(self) -> bool:
        return len(self.digits) > 1 and self.digits[0] == "0"


def numbered(name: str) -> Optional[NumberedName]:
    """The frame-number parts of ``name``, or None when its stem does not end in digits (``plate_0001.png`` ->
    ``('plate_', '0001', '.png')``; ``a.0001.exr`` -> ``('a.', '0001', '.exr')``)."""
    stem, ext = os.path.splitext(name)
    m = _NUMBERED.match(stem)
    if m is None:
        return None
    return NumberedName((m.group(1), m.group(2), m.group(3) + ext))


def _same_numbering(ref: NumberedName, other: NumberedName) -> bool:
    if ref.prefix != other.prefix or ref.suffix != other.suffix:
        return False
    if len(ref.digits) == len(other.digits):
        return True
    return not ref.padded and not other.padded


@dataclass(frozen=True)
class Sequence:
    """The frames of one sequence found in ``folder``: ``frames`` sorted, ``names`` in the same order.

    ``width`` is the zero-padded digit count (0: unpadded numbers). ``exclusive`` says every file of the folder
    belongs to the sequence, so the folder itself can stand for it."""

    folder: str
    prefix: str
    suffix: str
    width: int
    frames: Tuple[int, ...]
    names: Tuple[str, ...]
    exclusive: bool

    @property
    def pattern(self) -> str:
        """After Effects style: ``plate_[####].png`` (``[#]`` when unpadded)."""
        return f"{self.prefix}[{'#' * max(1, self.width)}]{self.suffix}"

    @property
    def first(self) -> int:
        return self.frames[0]

    @property
    def last(self) -> int:
        return self.frames[-1]

    @property
    def gaps(self) -> List[Tuple[int, int]]:
        """Missing frame runs ``(first, last)`` between the first and last frame on disk."""
        out: List[Tuple[int, int]] = []
        for a, b in zip(self.frames, self.frames[1:]):
            if b > a + 1:
                out.append((a + 1, b - 1))
        return out

    def paths(self, join: Callable[[str, str], str] = os.path.join) -> List[str]:
        return [join(self.folder, name) for name in self.names]

    def dependency_paths(self, join: Callable[[str, str], str] = os.path.join) -> List[str]:
        """What a farm must copy: the folder when it holds only this sequence, else every frame's file."""
        return [self.folder] if self.exclusive and self.folder else self.paths(join)

    def describe(self) -> str:
        gaps = self.gaps
        text = f"{self.pattern} frames {self.first}-{self.last} ({len(self.frames)} on disk"
        if gaps:
            shown = ", ".join(f"{a}" if a == b else f"{a}-{b}" for a, b in gaps[:5])
            text += f"; missing {shown}{' ...' if len(gaps) > 5 else ''}"
        return text + ")"


def detect_sequence(name: str, siblings: Iterable[str], folder: str = "") -> Optional[Sequence]:
    """The sequence ``name`` is a frame of, given the file names in its folder (``siblings``, which may include
    ``name``), or None when it is a single file. Pure: the caller lists the folder."""
    if os.path.splitext(name)[1].lower() not in IMAGE_EXTENSIONS:
        return None
    ref = numbered(name)
    if ref is None:
        return None
    members = {int(ref.digits): name}
    widths = {len(ref.digits)}
    others = 0
    for sibling in siblings:
        if sibling == name:
            continue
        parts = numbered(sibling)
        if parts is not None and _same_numbering(ref, parts):
            number = int(parts.digits)
            if number in members and members[number] != sibling:  # frame9 and frame09? keep the first spelling
                others += 1
                continue
            members[number] = sibling
            widths.add(len(parts.digits))
        else:
            others += 1
    if len(members) < 2:
        return None
    frames = tuple(sorted(members))
    width = widths.pop() if len(widths) == 1 else 0
    return Sequence(folder=folder, prefix=ref.prefix, suffix=ref.suffix, width=width, frames=frames,
                    names=tuple(members[f] for f in frames), exclusive=others == 0)


def list_files(folder: str) -> List[str]:
    """Names of the regular files in ``folder`` (empty when it cannot be listed)."""
    try:
        with os.scandir(folder) as entries:
            return [e.name for e in entries if e.is_file()]
    except OSError:
        return []


def sequence_on_disk(path: str, list_folder: Callable[[str], List[str]] = list_files) -> Optional[Sequence]:
    """The sequence the file at ``path`` is a frame of, looking at its folder through ``list_folder``."""
    folder, name = os.path.split(path)
    if not name:
        return None
    return detect_sequence(name, list_folder(folder or "."), folder)
