"""When a rendered frame counts as delivered: the one place that decides, for image sequences and movies.

Why one place: "delivered" is the executor's promise (a render reports success only when every expected frame is
proven), and its rules will keep growing (a frame's own progress line, proof that its file is closed, a structural
check of the file). Today's rules:

- Image sequences: aerender may print a frame's ``PROGRESS`` line before its output module has closed the file, so a
  frame's file counts as closed only once the NEXT frame's line arrives (``on_frame_line``) or the invocation exits
  0 without a fatal line, a stall or a kill (``on_clean_exit``). A proven frame is then moved from the chunk's staging
  folder to its final name, and only if it is still in that chunk's (possibly shrunk) assignment and not verified
  yet (``deliver``), so a stopped victim's half-written frame can never replace a thief's finished one.
- Movies: an invocation renders a whole numbered segment; it counts when the invocation exited cleanly and ffprobe
  counts exactly its frames in the segment; the segments are joined at the end (``stmpo.accounting``).

The caller (the executor's loop) tells the reporter and the scheduler about each frame ``deliver`` returns True for.
"""
from __future__ import annotations

import threading
from pathlib import Path
from typing import Callable, List, NamedTuple, Optional, Set

from stmpo.errors import StmpoError
from stmpo.invocation import Invocation
from stmpo.movies import movie_frame_count
from stmpo.outputs import OutputPattern, Staging


class Segment(NamedTuple):
    """An accepted movie segment: its first comp frame, its file, its frame count (sorts in render order)."""

    first: int
    path: Path
    frames: int


class FrameDelivery:
    """Proofs and delivery for one run. ``ffprobe`` is needed for movie outputs; ``cancel`` interrupts a segment
    check; ``warn(text)`` hears a frame that was proven but could not be moved."""

    def __init__(self, pattern: OutputPattern, staging: Staging, *, ffprobe: Optional[str] = None,
                 cancel: Optional[threading.Event] = None, warn: Callable[[str], None] = lambda text: None) -> None:
        self.pattern = pattern
        self.staging = staging
        self.movie = pattern.is_movie
        self.ffprobe = ffprobe
        self.cancel = cancel
        self.warn = warn
        self.delivered: Set[int] = set()  # image frames this run moved into place and verified
        self.segments: List[Segment] = []  # accepted movie segments

    def on_frame_line(self, inv: Invocation, frame: int) -> List[int]:
        """``inv`` printed the progress line of ``frame``: the frames whose files that line proves closed."""
        if self.movie:
            return []
        previous, inv.reported = inv.reported, frame
        return [] if previous is None else [previous]

    def on_clean_exit(self, inv: Invocation) -> List[int]:
        """``inv`` exited 0 without a fatal line, a stall or a kill: the frames that proves. A movie segment must hold
        exactly the invocation's frames; when it does not, ``inv.fatal`` says why and nothing is proven."""
        if not self.movie:
            return list(inv.frames)
        return list(inv.frames) if self._accept_segment(inv) else []

    def deliver(self, chunk: int, frame: int, owned: bool) -> bool:
        """Deliver a proven ``frame`` of ``chunk``; ``owned``: it is still in the chunk's assignment and not verified
        yet. True only when this call delivered it: an image moved into place and verified there, a movie frame
        held by its accepted segment."""
        if not owned:
            return False  # outside the (shrunk) assignment, or another chunk's already: never moved
        if self.movie:
            return True
        try:
            ok = self.staging.deliver(chunk, frame)
        except OSError as exc:
            self.warn(f"[chunk {chunk}] could not move frame {frame} into place: {exc}")
            ok = False
        if ok:
            self.delivered.add(frame)
        return ok

    def _accept_segment(self, inv: Invocation) -> bool:
        segment = inv.segment
        if segment is None or self.ffprobe is None:
            raise RuntimeError("a movie invocation needs its segment path and ffprobe")
        try:
            count = movie_frame_count(segment, self.ffprobe, cancel=self.cancel)
        except StmpoError as exc:  # cancelled or timed out: the segment is not accepted
            inv.fatal = f"movie segment {segment.name}: {exc}"
            return False
        if count != len(inv.frames):
            inv.fatal = f"movie segment {segment.name} has {count} frames, expected {len(inv.frames)}"
            return False
        self.segments.append(Segment(inv.frames[0], segment, len(inv.frames)))
        return True
