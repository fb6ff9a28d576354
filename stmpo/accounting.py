"""What a run finds on disk: at the start (``--resume``) and at the end (missing frames, movie join, verdict).

Why a module of its own: this is where the executor's promise is judged -- a render is ok only when every expected
frame is proven -- so it must be readable on its own, apart from the loop that gathered the facts. A frame counts
only when this run delivered it (proven by ``stmpo.delivery``: its own line, its file closed, the file whole) and the
final file is still the one delivered, or ``--resume`` kept it (a file that passes the same structural check,
``stmpo.framecheck``; for a format without one, any non-empty file). Files an earlier render left at the final names
never pass for this render's frames. The missing set is exact: every expected frame not counted, whatever mix of
faults happened. A movie counts only when its joined file holds every frame (ffprobe). Staging folders are removed
after success and kept (named in the summary) after a failure.
"""
from __future__ import annotations

import threading
from dataclasses import dataclass
from pathlib import Path
from typing import List, Optional, Sequence, Tuple

from stmpo import outputs
from stmpo.delivery import FrameDelivery
from stmpo.errors import StmpoError
from stmpo.framecheck import MOVIE, UNKNOWN, check_frame, format_of
from stmpo.frames import FrameSet
from stmpo.movies import join_segments, movie_frame_count
from stmpo.scheduler_types import Action, Done, Fail


@dataclass(frozen=True)
class Verdict:
    """The judged outcome: ``ok`` only without missing frames, cancel or scheduler failure."""

    ok: bool
    missing: FrameSet
    cancelled: bool
    reason: str
    summary: str
    kept: Tuple[Path, ...]  # staging folders kept after a failure
    join: Optional[str]  # how a movie was joined ("copy", "reencode"), None otherwise


def present_at_start(pattern: outputs.OutputPattern, all_frames: Sequence[int], ffprobe: Optional[str]
                     ) -> Tuple[List[int], List[int]]:
    """``--resume``: (frames still to render, frames already present). A frame is kept only when its file passes
    the structural check of its format (``check_frame``; a format without a check: not empty). A movie (``ffprobe``
    given) is all or nothing: kept only when its file holds exactly ``all_frames`` frames."""
    if ffprobe is not None:
        if movie_frame_count(pattern.movie_path(), ffprobe) == len(all_frames):
            return [], list(all_frames)
        return list(all_frames), []
    fmt = format_of(pattern.frame_name(0))
    present = set()
    for frame in all_frames:
        path = pattern.frame_file(frame)
        if fmt in (UNKNOWN, MOVIE):
            whole = outputs.frame_ok(path)
        else:
            whole = check_frame(path, fmt).ok
        if whole:
            present.add(frame)
    return [f for f in all_frames if f not in present], [f for f in all_frames if f in present]


def judge_run(*, delivery: FrameDelivery, all_frames: Sequence[int], skipped: Sequence[int],
              result: Optional[Action], cancelled: bool, cancel_event: threading.Event, cancel_reason: str,
              ffmpeg: Optional[Tuple[str, str]], failure_reason: str = "") -> Verdict:
    """Verify what the run left on disk and say so in one line. ``result`` is the scheduler's ``Done``/``Fail``;
    ``ffmpeg`` the (ffmpeg, ffprobe) pair for movie outputs; ``failure_reason`` names a permanent failure (an
    aerender error that repeats, a failing warning): the run then fails whatever was delivered, and it is the reason
    given.
    Joins the movie segments (a cancel during the join kills ffmpeg: no movie), then removes or keeps the staging
    folders."""
    pattern = delivery.pattern
    reason = result.reason if isinstance(result, Fail) else ""
    join_how: Optional[str] = None
    if delivery.movie:
        missing_list, join_how, reason, cancelled = _judge_movie(
            delivery, all_frames, skipped, isinstance(result, Done) and not failure_reason, cancelled, cancel_event,
            ffmpeg, reason)
    else:
        kept_by_resume = set(skipped)
        missing_list = [f for f in all_frames if not (
            delivery.still_delivered(f) or (f in kept_by_resume and outputs.frame_ok(pattern.frame_file(f))))]
    ok = not missing_list and not cancelled and not isinstance(result, Fail) and not failure_reason
    kept = delivery.staging.cleanup(success=ok)
    missing = FrameSet.from_frames(missing_list)
    if cancelled:
        reason = cancel_reason
    elif failure_reason and not ok:
        reason = failure_reason
    elif missing_list and not reason:
        reason = "frames missing after the render"
    total = len(all_frames)
    rendered = total - len(skipped) - len(missing_list)
    if ok:
        where = pattern.movie_path() if delivery.movie else pattern.folder
        summary = f"rendered {rendered} frames ({len(skipped)} already present), all {total} verified at {where}"
    else:
        summary = (f"{'cancelled' if cancelled else 'FAILED'}: {len(missing_list)} of {total} frames "
                   f"missing ({missing}){': ' + reason if reason else ''}")
        if kept:
            summary += f"; unmoved output kept in {', '.join(str(k) for k in kept)}"
    return Verdict(ok=ok, missing=missing, cancelled=cancelled, reason=reason, summary=summary, kept=tuple(kept),
                   join=join_how)


def _judge_movie(delivery: FrameDelivery, all_frames: Sequence[int], skipped: Sequence[int], done: bool,
                 cancelled: bool, cancel_event: threading.Event, ffmpeg: Optional[Tuple[str, str]],
                 reason: str) -> Tuple[List[int], Optional[str], str, bool]:
    """(missing frames, join method, reason, cancelled) for a movie output."""
    final = delivery.pattern.movie_path()
    join_how: Optional[str] = None
    if ffmpeg is not None and done and delivery.segments and not cancelled:
        ordered = [segment.path for segment in sorted(delivery.segments)]
        try:
            join_how = join_segments(ordered, final, ffmpeg[0], ffmpeg[1], len(all_frames), cancel=cancel_event)
        except (StmpoError, OSError) as exc:
            reason = str(exc)
    cancelled = cancelled or cancel_event.is_set()  # a cancel during the join kills ffmpeg: no movie
    count = None
    if ffmpeg is not None and not cancelled:
        try:
            count = movie_frame_count(final, ffmpeg[1], cancel=cancel_event)
        except StmpoError as exc:
            reason = str(exc)
    cancelled = cancelled or cancel_event.is_set()
    missing = [] if count == len(all_frames) and (join_how or skipped) else list(all_frames)
    return missing, join_how, reason, cancelled
