"""Where a render's time went, read from its JSON run report (the live one written during the run, or the final one).

Pure functions over the report dict (``stmpo.run.RunReport.to_json`` plus the live fields of ``stmpo.watch.live``):
the HTML report, the watch board and the render history all read timings through here, so a "start-up" or a
"frame time" means the same everywhere.

Definitions (all in seconds, wall-clock ``time.time()`` values from the report):
- a frame's **time** is the gap between its progress line and the previous progress line of the same invocation
  (aerender prints frames in order and, in its own lines, only whole seconds, so the gaps are the precise measure);
  the first frame of an invocation has no previous line: it takes aerender's own figure when that is at least one
  second, else the median gap of the run (a run with no gap at all falls back to aerender's figure);
  when the report has the invocation's ``rendering`` time (its "Starting composition" line, recorded by the live
  report) the first frame's time runs from there instead;
- an invocation's **start-up** is from its start to its first progress line, less that first frame's time;
- its **tail** is from its last progress line to its exit (project close, process exit);
- the **ideal** wall time of a plan is ``sum of frame times / slots + one start-up``: every slot busy rendering
  frames from the first second to the last, each frame rendered once, with a single start-up paid;
  **efficiency** = ideal / actual wall time.
"""
from __future__ import annotations

import statistics
import time
from dataclasses import dataclass, field
from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple

RUNNING, OK, FAILED, STALLED, KILLED = "running", "ok", "failed", "stalled", "killed"
OUTCOMES = (RUNNING, OK, FAILED, STALLED, KILLED)


@dataclass
class FrameMark:
    frame: int
    at: float  # wall time of its progress line
    seconds: float  # its time (see the module docstring)
    reported: float  # aerender's own figure


@dataclass
class InvocationView:
    """One aerender invocation as the timeline draws it."""

    chunk: int
    slot: int
    index: int  # position within its chunk (0: the chunk's first invocation)
    pid: Optional[int]
    frames: str
    start: float
    end: Optional[float]
    exit_code: Optional[int]
    fatal: Optional[str]
    stalled: Optional[str]
    retry: bool
    outcome: str  # one of OUTCOMES
    reason: str  # why it failed, stalled or was stopped ("" when it ended well)
    marks: List[FrameMark] = field(default_factory=list)
    startup: Optional[float] = None
    tail: Optional[float] = None

    @property
    def first_frame_at(self) -> Optional[float]:
        return self.marks[0].at if self.marks else None

    @property
    def last_frame_at(self) -> Optional[float]:
        return self.marks[-1].at if self.marks else None


def _num(value: Any) -> Optional[float]:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return float(value)


def report_status(report: Mapping[str, Any]) -> str:
    """``running`` | ``done`` | ``failed`` | ``cancelled``: the live ``status`` field, else from the final fields."""
    status = report.get("status")
    if status in ("running", "done", "failed", "cancelled"):
        return str(status)
    if report.get("ok") is True:
        return "done"
    if report.get("cancelled"):
        return "cancelled"
    if report.get("ok") is False:
        return "failed"
    return "running"


def slots_of(report: Mapping[str, Any]) -> int:
    """The plan's slot count (``plan.concurrency``), at least one more than the highest slot a chunk used."""
    plan = report.get("plan") or {}
    planned = plan.get("concurrency") if isinstance(plan, Mapping) else None
    used = [int(c.get("slot", 0)) for c in report.get("chunks") or () if isinstance(c.get("slot"), int)]
    return max([int(planned) if isinstance(planned, int) and planned > 0 else 1] + [s + 1 for s in used])


def _frame_entries(chunk: Mapping[str, Any]) -> List[Tuple[int, float, float, Optional[int]]]:
    out = []
    for key, entry in (chunk.get("frame_times") or {}).items():
        try:
            frame = int(key)
        except (TypeError, ValueError):
            continue
        if not isinstance(entry, Mapping):
            continue
        at = _num(entry.get("at"))
        if at is None:
            continue
        out.append((frame, at, _num(entry.get("seconds")) or 0.0, entry.get("pid")))
    out.sort(key=lambda item: (item[1], item[0]))
    return out


def _outcome(inv: Mapping[str, Any], chunk: Mapping[str, Any], last_of_chunk: bool) -> Tuple[str, str]:
    if inv.get("end") is None:
        return RUNNING, ""
    if inv.get("stalled"):
        return STALLED, str(inv["stalled"])
    if inv.get("fatal"):
        return FAILED, str(inv["fatal"])
    code = inv.get("exit_code")
    reason = str(chunk.get("reason") or "")
    if last_of_chunk and reason.startswith("stopped:") and code != 0:
        return KILLED, reason[len("stopped:"):].strip()
    if code == 0:
        return OK, ""
    return FAILED, reason or f"exit code {code}"


def invocations(report: Mapping[str, Any]) -> List[InvocationView]:
    """Every invocation of every chunk, in start order, with its frames, start-up and tail measured."""
    views: List[InvocationView] = []
    gaps: List[float] = []
    pending_first: List[Tuple[InvocationView, float]] = []
    for chunk in report.get("chunks") or ():
        invs = [i for i in chunk.get("invocations") or () if _num(i.get("start")) is not None]
        entries = _frame_entries(chunk)
        for index, inv in enumerate(invs):
            start = float(inv["start"])
            end = _num(inv.get("end"))
            pid = inv.get("pid")
            outcome, reason = _outcome(inv, chunk, index == len(invs) - 1)
            view = InvocationView(
                chunk=int(chunk.get("chunk", 0)), slot=int(chunk.get("slot", 0) or 0), index=index, pid=pid,
                frames=str(inv.get("frames", "")), start=start, end=end, exit_code=inv.get("exit_code"),
                fatal=inv.get("fatal"), stalled=inv.get("stalled"), retry=bool(chunk.get("retry")),
                outcome=outcome, reason=reason)
            rendering = _num(inv.get("rendering"))
            mine = [e for e in entries if (pid is not None and e[3] == pid) or
                    (pid is None and e[1] >= start and (end is None or e[1] <= end + 1.0))]
            previous: Optional[float] = None
            for frame, at, reported, _ in mine:
                if previous is None and rendering is not None and at >= rendering:
                    view.marks.append(FrameMark(frame, at, at - rendering, reported))  # from "Starting composition"
                elif previous is None:
                    view.marks.append(FrameMark(frame, at, reported, reported))
                    pending_first.append((view, reported))
                else:
                    gap = max(0.0, at - previous)
                    gaps.append(gap)
                    view.marks.append(FrameMark(frame, at, gap, reported))
                previous = at
            views.append(view)
    typical = statistics.median(gaps) if gaps else None
    for view, reported in pending_first:
        first = view.marks[0]
        if reported < 1.0 and typical is not None:
            first.seconds = typical
        first.seconds = min(first.seconds, max(0.0, first.at - view.start))
    for view in views:
        if view.marks:
            view.startup = max(0.0, view.marks[0].at - view.start - view.marks[0].seconds)
            if view.end is not None:
                view.tail = max(0.0, view.end - view.marks[-1].at)
    views.sort(key=lambda v: (v.start, v.chunk, v.index))
    return views


def frame_times(views: Sequence[InvocationView], delivered_only: Optional[set] = None) -> Dict[int, FrameMark]:
    """Frame -> the mark of its last rendering (a frame rendered twice, e.g. retried, counts once)."""
    out: Dict[int, FrameMark] = {}
    for view in views:
        for mark in view.marks:
            if delivered_only is not None and mark.frame not in delivered_only:
                continue
            current = out.get(mark.frame)
            if current is None or mark.at >= current.at:
                out[mark.frame] = mark
    return out


@dataclass
class Summary:
    """The numbers of the report's summary cards (seconds unless named otherwise)."""

    status: str
    total: int
    verified: int
    missing: int
    slots: int
    started: Optional[float]
    ended: Optional[float]
    wall: Optional[float]
    frame_time: float  # sum of the delivered frames' times
    startups: List[float]
    startup_median: Optional[float]
    ideal: Optional[float]
    efficiency: Optional[float]  # ideal / wall, 0..1 (None while running or without timings)
    busy: float  # sum of invocation durations
    idle: float  # slots x wall - busy (never below 0)
    waste: float  # busy - frame time - start-ups: re-rendered and killed work, stalls, tails
    invocations: int
    failed: int
    stalled: int
    killed: int
    retries: int  # chunks that retried frames
    slowest: Optional[FrameMark]


def summarize(report: Mapping[str, Any], views: Optional[Sequence[InvocationView]] = None,
              now: Optional[float] = None) -> Summary:
    """The summary of a (live or final) report; ``now`` (default: the clock) ends a running report's wall time."""
    views = list(invocations(report) if views is None else views)
    status = report_status(report)
    total = _total_frames(report)
    missing_count = report.get("missing_count")
    if status != "running" and isinstance(missing_count, int):
        verified, missing = max(0, total - missing_count), missing_count
    else:
        verified = int(report.get("done_frames") or 0)
        missing = 0 if status == "running" else max(0, total - verified)
    started = _num(report.get("started"))
    ended = _num(report.get("ended"))
    if status == "running":
        ended = None
    end_of_window = ended if ended is not None else (now if now is not None else time.time())
    wall = (end_of_window - started) if started is not None else None
    slots = slots_of(report)
    marks = frame_times(views)
    frame_time = sum(m.seconds for m in marks.values())
    startups = [v.startup for v in views if v.startup is not None]
    startup_median = statistics.median(startups) if startups else None
    ideal = efficiency = None
    if marks and status != "running":
        ideal = frame_time / slots + (startup_median or 0.0)
        if wall and wall > 0:
            efficiency = min(1.0, ideal / wall)
    busy = sum(((v.end if v.end is not None else end_of_window) - v.start) for v in views)
    idle = max(0.0, slots * (wall or 0.0) - busy)
    waste = max(0.0, busy - frame_time - sum(startups))
    slowest = max(marks.values(), key=lambda m: m.seconds) if marks else None
    return Summary(
        status=status, total=total, verified=verified, missing=missing, slots=slots, started=started, ended=ended,
        wall=wall, frame_time=frame_time, startups=startups, startup_median=startup_median, ideal=ideal,
        efficiency=efficiency, busy=busy, idle=idle, waste=waste, invocations=len(views),
        failed=sum(v.outcome == FAILED for v in views), stalled=sum(v.outcome == STALLED for v in views),
        killed=sum(v.outcome == KILLED for v in views),
        retries=sum(1 for c in report.get("chunks") or () if c.get("retry")), slowest=slowest)


def _total_frames(report: Mapping[str, Any]) -> int:
    total = report.get("total_frames")
    if isinstance(total, int):
        return total
    spec = report.get("frames")
    if isinstance(spec, str) and spec.strip():
        from stmpo.frames import FrameSet  # the report's canonical spec

        try:
            return len(FrameSet.parse(spec))
        except Exception:  # noqa: BLE001 - a report from another version: unknown size
            return 0
    return 0


def live_children(report: Mapping[str, Any]) -> int:
    """Invocations running now (started, not ended)."""
    return sum(1 for c in report.get("chunks") or () for i in c.get("invocations") or ()
               if i.get("start") is not None and i.get("end") is None)
