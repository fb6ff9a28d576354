"""When a rendered frame counts as delivered: the one place that decides, for image sequences and movies.

Why one place: "delivered" is the executor's promise (a render reports success only when every expected frame is
proven), so its rules are written once. A frame of an image sequence is delivered only when ALL of:

(a) **its own progress line** appeared in this invocation (a frame without one -- aerender died before printing it,
    or never prints it -- is never delivered, whatever its file looks like);
(b) **its file is proven closed**: a later frame's line arrived (``on_frame_line``: aerender reports frames in
    order, so the output module has moved on), or the comp-finished lines (``on_comp_finished``: ``Finished
    composition`` / ``Total Time Elapsed``), or the child's WHOLE process tree exited (``on_tree_exit``: nothing of
    it can write any more; the launcher's own exit proves nothing, docs/formats.md §7);
(c) **the file is structurally whole** for its format (``stmpo.framecheck.check_frame``: PNG, JPEG, TIFF, TGA,
    PSD, OpenEXR, DPX, Cineon).

Only then is it moved from the chunk's staging folder to its final name, and only if it is still in that chunk's
(possibly shrunk) assignment and not delivered yet (``deliver``), so an unproven file never reaches a final name
and a stopped victim's half-written frame can never replace a thief's finished one. A frame that fails (a), (b) or
(c) stays in the scheduler's remaining work: its chunk ends incomplete and a retry renders it again.

Output formats without a structural check (After Effects also writes SGI, IFF, Radiance...): decided here, and
said once per run -- such a frame is delivered when (a) holds, its file is not empty, and it is proven closed by a
later line or the comp-finished lines or a *clean* exit of the whole tree (exit 0, no fatal line, no stall, no
kill): without a check there is nothing else to tell a file cut short by a crash from a whole one.

Stepped invocations (``-s first -e last -i step``): on top of (a)-(c), the numbering of their files must be
proven (``stmpo.stepped_proof``): a frame is held until the invocation's file numbers show they are named by comp
frame (two frames in) or, at its clean end, that each rendered frame was repeated; files of other numbers are
discarded, and an invocation whose numbering cannot be trusted delivers nothing (``settle_stepped``).

Movies: an invocation renders a whole numbered segment; it counts when the invocation printed the line of every
one of its frames, its whole tree exited, no fatal line or failing warning was seen, and ``check_frame`` (ffprobe)
counts exactly its frames in the segment; segments are joined at the end (``stmpo.accounting``).

Warnings that make output wrong (``stmpo.diagnosis``) can arrive after the frames were delivered (real aerender
prints missing footage after ``Total Time Elapsed``): ``withdraw`` moves that invocation's frames back into its
staging folder, so they count as missing and nothing wrong stays at a final name.

The caller (the executor's loop) tells the reporter and the scheduler about each frame ``deliver`` returns True for.
"""
from __future__ import annotations

import functools
import os
import threading
from pathlib import Path
from typing import Callable, Dict, List, NamedTuple, Optional, Set, Tuple

from stmpo.framecheck import MOVIE, UNKNOWN, Verdict, check_frame, format_of
from stmpo.invocation import Invocation
from stmpo.movies import movie_frame_count
from stmpo.outputs import OutputPattern, Staging, frame_ok, move_into_place
from stmpo.stepped_proof import COMP, REPEAT, TRUSTED, classify, comp_proven, file_regex, numbers_in, remove_numbers


class Segment(NamedTuple):
    """An accepted movie segment: its first comp frame, its file, its frame count (sorts in render order)."""

    first: int
    path: Path
    frames: int


class FrameDelivery:
    """Proofs and delivery for one run. ``ffprobe`` is needed for movie outputs; ``cancel`` interrupts a segment
    check; ``warn(text)`` hears a frame that was proven but refused or could not be moved, once per reason."""

    def __init__(self, pattern: OutputPattern, staging: Staging, *, ffprobe: Optional[str] = None,
                 cancel: Optional[threading.Event] = None, warn: Callable[[str], None] = lambda text: None) -> None:
        self.pattern = pattern
        self.staging = staging
        self.movie = pattern.is_movie
        self.format = MOVIE if self.movie else format_of(pattern.frame_name(0))
        self.ffprobe = ffprobe
        self.cancel = cancel
        self.warn = warn
        self.delivered: Set[int] = set()  # image frames this run moved into place after proving them
        self.stamps: Dict[int, Tuple[int, int]] = {}  # frame -> (size, mtime ns) of the file as delivered
        self.rejected: Dict[int, str] = {}  # frame -> why its closed file failed the check (last seen)
        self.withdrawn: Set[int] = set()  # frames delivered, then taken back for a failing warning
        self.segments: List[Segment] = []  # accepted movie segments
        self._said_unknown = False

    @property
    def checked(self) -> bool:
        """Whether this output format has a structural check (False: non-empty + closed is all we can prove)."""
        return self.format != UNKNOWN

    # ------------------------------------------------------------------------------------------------ proofs
    def on_frame_line(self, inv: Invocation, frame: int) -> List[int]:
        """``inv`` printed the progress line of ``frame``: the frames whose files that line proves closed (every
        frame reported before it and not proven yet). A repeated line changes nothing."""
        if frame in inv.reported_set:
            return []
        inv.reported.append(frame)
        inv.reported_set.add(frame)
        if self.movie:
            return []
        return self._close(inv, len(inv.reported) - 1)

    def on_comp_finished(self, inv: Invocation) -> List[int]:
        """``Finished composition`` or ``Total Time Elapsed``: every reported frame's file is closed."""
        return [] if self.movie else self._close(inv, len(inv.reported))

    def on_tree_exit(self, inv: Invocation, clean: bool) -> List[int]:
        """The whole tree of ``inv`` exited (``clean``: exit 0, no fatal line, no stall, no kill but a finished
        tree's): the frames that proves. A movie segment is checked here; when it is refused ``inv.rejected`` and
        ``self.rejected`` say why and nothing is proven."""
        if self.movie:
            return list(inv.frames) if self._accept_segment(inv) else []
        if not self.checked and not clean:
            return []  # no check: a crash or kill may have cut the file short, and nothing could tell
        return self._close(inv, len(inv.reported))

    def _close(self, inv: Invocation, upto: int) -> List[int]:
        """Mark ``inv.reported[:upto]`` closed; the newly closed frames that may be delivered (frames reported after
        the invocation's first fatal line never are: After Effects itself said the render failed)."""
        if upto <= inv.closed:
            return []
        start, inv.closed = inv.closed, upto
        trusted = upto if inv.trusted_upto is None else min(upto, inv.trusted_upto)
        return list(inv.reported[start:trusted]) if trusted > start else []

    # ------------------------------------------------------------------------------------------------ delivery
    def deliver(self, chunk: int, frame: int, owned: bool, inv: Optional[Invocation] = None) -> bool:
        """Deliver a proven ``frame`` of ``chunk``; ``owned``: it is still in the chunk's assignment and not
        delivered yet. Checks the staged file, then moves it into place. True only when this call delivered it (a
        movie frame: held by its accepted segment)."""
        if not owned:
            return False  # outside the (shrunk) assignment, or another chunk's already: never moved
        if self.movie:
            return True
        if inv is not None and inv.proof is not None and not self._stepped_allows(chunk, frame, inv):
            return False
        staged = self.staging.staged_file(chunk, frame)
        verdict = self.check(staged, pillow=inv is None or not inv.delivered)
        if not verdict.ok:
            self.rejected[frame] = verdict.reason
            if inv is not None:
                inv.rejected[frame] = verdict.reason
            self.warn(f"[chunk {chunk}] frame {frame} not delivered: {verdict.reason} ({staged})")
            return False
        try:
            final = self.staging.move_checked(staged, self.pattern.frame_file(frame), verdict.stamp)
        except OSError as exc:
            self.warn(f"[chunk {chunk}] could not move frame {frame} into place: {exc}")
            final = None
        if final is None:
            return False
        self.delivered.add(frame)
        self.withdrawn.discard(frame)
        self.rejected.pop(frame, None)
        self.stamps[frame] = final
        if inv is not None:
            inv.delivered.append(frame)
        return True

    # ------------------------------------------------------------------------------------------------ stepped
    def _scan(self, chunk: int, inv: Invocation) -> str:
        """Add the file numbers now in ``chunk``'s staging folder to ``inv``'s proof; the folder."""
        assert inv.proof is not None
        folder = str(self.staging.folder(chunk))
        regex = self.__dict__.get("_regex")
        if regex is None:
            regex = self.__dict__["_regex"] = file_regex(self.pattern)
        inv.proof.seen |= numbers_in(folder, regex)
        return folder

    def _stepped_allows(self, chunk: int, frame: int, inv: Invocation) -> bool:
        """Whether the numbering of stepped ``inv``'s files is proven, so its proven ``frame`` may be delivered;
        when not (yet), the frame is held until the invocation ends (``settle_stepped``)."""
        proof = inv.proof
        assert proof is not None
        self._scan(chunk, inv)
        if proof.verdict == REPEAT or (proof.verdict == COMP and not proof.foreign()):
            return True
        if proof.verdict is None and comp_proven(proof.frames, inv.closed, proof.seen):
            proof.verdict = COMP
            return True
        if frame not in proof.held:
            proof.held.append(frame)
        return False

    def settle_stepped(self, chunk: int, inv: Invocation, clean: bool) -> List[int]:
        """Stepped ``inv``'s whole tree exited (after ``on_tree_exit``'s frames were offered): decide its numbering
        when still open -- only from a ``clean`` end with every expected frame's line, one line each (else it stays
        None: nothing held is trusted) -- then discard the files of other numbers (every file, when the numbering
        is not trusted). The held frames that may now be delivered."""
        proof = inv.proof
        if proof is None or self.movie:
            return []
        folder = self._scan(chunk, inv)
        if proof.verdict is None and clean and len(inv.reported) == len(inv.frames):
            proof.verdict = classify(proof.frames, proof.step, proof.seen, inv.rendered)
        release = list(proof.held) if proof.verdict in TRUSTED else []
        proof.held = []
        strays = proof.foreign() if proof.verdict in TRUSTED else sorted(proof.seen - set(release))
        remove_numbers(folder, self.pattern, strays)
        return release

    def check(self, path: str, pillow: bool = True) -> Verdict:
        """The structural check of one staged frame (``check_frame``); for a format without one: not empty.
        ``pillow=False`` (the later frames of one invocation, whose first frame Pillow read): PNG and JPEG frames get
        our complete structural walk without Pillow's header parse (the same writer, the same settings)."""
        if self.format == UNKNOWN:
            if not self._said_unknown:
                self._said_unknown = True
                self.warn(f"no structural check for {os.path.splitext(path)[1] or 'files without an extension'} "
                          f"frames: they are delivered when closed and not empty (docs/formats.md §7)")
            return Verdict(True, UNKNOWN) if frame_ok(path) else Verdict(False, UNKNOWN, "missing or empty file")
        return check_frame(path, self.format, pillow=pillow)

    def withdraw(self, chunk: int, inv: Invocation) -> List[int]:
        """Take back what ``inv`` delivered (its output is wrong: a failing warning): each frame goes back into
        the chunk's staging folder (removed if that fails), a movie segment is dropped. The frames taken back."""
        if self.movie:
            self.segments = [s for s in self.segments if s.first != (inv.frames[0] if inv.frames else None)]
            return list(inv.frames)
        taken: List[int] = []
        for frame in inv.delivered:
            final = self.pattern.frame_file(frame)
            try:
                move_into_place(final, self.pattern.frame_file(frame, str(self.staging.folder(chunk))))
            except OSError:
                try:
                    os.unlink(final)
                except OSError as exc:
                    self.warn(f"[chunk {chunk}] frame {frame} could not be taken back from {final}: {exc}")
                    continue
            self.delivered.discard(frame)
            self.stamps.pop(frame, None)
            self.withdrawn.add(frame)
            taken.append(frame)
        gone = set(taken)
        inv.delivered = [f for f in inv.delivered if f not in gone]
        return taken

    def still_delivered(self, frame: int) -> bool:
        """``frame`` was delivered by this run and its final file is still the one delivered (same size and
        modification time: nothing replaced or cut it since; a stat, not a second read)."""
        stamp = self.stamps.get(frame)
        return frame in self.delivered and stamp is not None and _stamp(self.pattern.frame_file(frame)) == stamp

    # ------------------------------------------------------------------------------------------------ movies
    def _accept_segment(self, inv: Invocation) -> bool:
        segment = inv.segment
        if segment is None or self.ffprobe is None:
            raise RuntimeError("a movie invocation needs its segment path and ffprobe")
        missing = [f for f in inv.frames if f not in inv.reported_set]
        if missing or inv.fatal_lines or inv.failing_warning is not None:
            why = (f"no progress line for {len(missing)} of its frames" if missing
                   else "the invocation failed")
            inv.rejected[inv.frames[0]] = f"movie segment {segment.name}: {why}"
            return False
        count = functools.partial(movie_frame_count, ffprobe=self.ffprobe, cancel=self.cancel)
        verdict = check_frame(segment, MOVIE, count_movie_frames=count, expected_frames=len(inv.frames))
        if not verdict.ok:
            reason = f"movie segment {segment.name}: {verdict.reason}"
            inv.rejected[inv.frames[0]] = reason
            for frame in inv.frames:
                self.rejected[frame] = reason
            self.warn(reason)
            return False
        self.segments.append(Segment(inv.frames[0], segment, len(inv.frames)))
        return True


def _stamp(path: str) -> Tuple[int, int]:
    try:
        st = os.stat(path)
    except OSError:
        return (-1, -1)
    return (st.st_size, st.st_mtime_ns)
