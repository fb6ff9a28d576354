"""Geometry of the report's inline SVG charts (pure: numbers in, shapes out; the templates only draw them).

- ``timeline``: one lane per slot, one bar per aerender invocation from its start to its exit, split into its
  start-up (hatched) and rendering part with a tick per frame line; the outcome decides the colour and the end marker
  (crash/failure, stall, kill by the scheduler, still running); a retried chunk's bars are outlined. Two children
  briefly share a slot during a hand-off: the later one is drawn on a second track of the lane.
- ``frame_chart``: one bar per delivered frame (its time), the slowest marked, the median as a line; above
  ``MAX_FRAME_BARS`` frames, frames are grouped and each bar shows its group's slowest frame.
- ``breakdown``: where the slot-time went (frames, start-ups, waste, idle), as shares of slots x wall time.
"""
from __future__ import annotations

import math
import statistics
from dataclasses import dataclass, field
from typing import Dict, List, Optional, Sequence, Tuple

from stmpo import runstats
from stmpo.estimate import format_seconds

WIDTH = 1100.0
GUTTER = 64.0
LANE = 30.0
LANE_GAP = 6.0
AXIS = 26.0
MAX_TICKS_PER_BAR = 150
MAX_FRAME_BARS = 600


@dataclass
class Bar:
    x: float
    y: float
    w: float
    h: float
    outcome: str
    retry: bool
    chunk: int
    slot: int
    pid: Optional[int]
    frames: str
    start: float
    end: Optional[float]
    startup_w: float
    stall_x: Optional[float]  # where the stall began (last progress line), for the hatched stalled part
    ticks: List[float] = field(default_factory=list)
    label: str = ""
    title: str = ""


def nice_step(span: float, target: int = 8) -> float:
    """A 1/2/5 x 10^k step giving about ``target`` ticks over ``span`` seconds."""
    if span <= 0:
        return 1.0
    raw = span / target
    power = 10 ** math.floor(math.log10(raw))
    for mult in (1, 2, 5, 10):
        if raw <= mult * power:
            return mult * power
    return 10 * power


def axis_label(seconds: float) -> str:
    if seconds < 60:
        return f"{seconds:g}s"
    minutes, secs = divmod(int(round(seconds)), 60)
    if minutes < 60:
        return f"{minutes}m{secs:02d}" if secs else f"{minutes}m"
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}"


def timeline(views: Sequence[runstats.InvocationView], slots: int, t0: float, t1: float,
             width: float = WIDTH) -> dict:
    """{"lanes": [{slot, y, h}], "bars": [Bar], "axis": [(x, label)], "width", "height", "plot_x", "plot_w"}."""
    span = max(1e-6, t1 - t0)
    plot_w = width - GUTTER - 10.0

    def x_of(t: float) -> float:
        return GUTTER + max(0.0, min(1.0, (t - t0) / span)) * plot_w

    # tracks: a lane gets a second track when two invocations overlap in it (hand-off)
    placed: List[Tuple[runstats.InvocationView, int]] = []
    track_ends: Dict[int, List[float]] = {}
    for view in sorted(views, key=lambda v: (v.start, v.chunk)):
        ends = track_ends.setdefault(view.slot, [])
        end = view.end if view.end is not None else t1
        for track, busy_until in enumerate(ends):
            if busy_until <= view.start + 1e-3:
                ends[track] = end
                break
        else:
            track = len(ends)
            ends.append(end)
        placed.append((view, track))
    lanes = []
    for slot in range(max(1, slots)):
        lanes.append({"slot": slot, "y": AXIS * 0 + slot * (LANE + LANE_GAP) + 4.0, "h": LANE})
    bars = []
    for view, track in placed:
        lane = lanes[min(view.slot, len(lanes) - 1)]
        tracks = max(1, len(track_ends.get(view.slot, [])))
        h = (LANE - 2.0) / tracks
        y = lane["y"] + 1.0 + track * h
        end = view.end if view.end is not None else t1
        x0, x1 = x_of(view.start), x_of(end)
        w = max(1.5, x1 - x0)
        first = view.first_frame_at
        startup_end = (first - view.marks[0].seconds) if first is not None and view.marks else None
        startup_w = max(0.0, x_of(startup_end) - x0) if startup_end is not None else (w if not view.marks else 0.0)
        marks = view.marks
        if len(marks) > MAX_TICKS_PER_BAR:
            step = len(marks) / MAX_TICKS_PER_BAR
            marks = [marks[int(i * step)] for i in range(MAX_TICKS_PER_BAR)]
        ticks = [round(x_of(m.at), 2) for m in marks]
        stall_x = None
        if view.outcome == runstats.STALLED:
            stall_x = x_of(view.last_frame_at) if view.last_frame_at is not None else x0 + startup_w
        what = {"ok": "ok", "failed": "FAILED", "stalled": "STALLED", "killed": "stopped by the scheduler",
                "running": "running"}[view.outcome]
        duration = end - view.start
        title = (f"chunk {view.chunk}{' (retry)' if view.retry else ''} · slot {view.slot} · pid {view.pid}\n"
                 f"frames {view.frames} · {len(view.marks)} rendered · {format_seconds(duration)}\n"
                 f"start-up {format_seconds(view.startup) if view.startup is not None else '-'} · {what}"
                 + (f": {view.reason}" if view.reason else "")
                 + (f" · exit code {view.exit_code}" if view.exit_code not in (None, 0) else ""))
        label = f"c{view.chunk} {view.frames}"
        if len(label) * 6.2 > w - 6:
            label = f"c{view.chunk}" if w > 26 else ""
        bars.append(Bar(x=round(x0, 2), y=round(y, 2), w=round(w, 2), h=round(h, 2), outcome=view.outcome,
                        retry=view.retry, chunk=view.chunk, slot=view.slot, pid=view.pid, frames=view.frames,
                        start=view.start, end=view.end, startup_w=round(min(startup_w, w), 2),
                        stall_x=round(stall_x, 2) if stall_x is not None else None, ticks=ticks, label=label,
                        title=title))
    lanes_h = len(lanes) * (LANE + LANE_GAP) + 4.0
    step = nice_step(span)
    axis = []
    t = 0.0
    while t <= span + 1e-9:
        axis.append((round(x_of(t0 + t), 2), axis_label(round(t, 6))))
        t += step
    return {"lanes": lanes, "bars": bars, "axis": axis, "width": width, "height": lanes_h + AXIS,
            "axis_y": lanes_h, "plot_x": GUTTER, "plot_w": plot_w}


def frame_chart(marks: Dict[int, runstats.FrameMark], retried: Sequence[int] = (), width: float = WIDTH,
                height: float = 200.0) -> Optional[dict]:
    """{"bars": [{x, y, w, h, frame, seconds, slowest, retry, title}], "yticks", "median_y", ...}; None if no frame."""
    if not marks:
        return None
    frames = sorted(marks)
    groups: List[List[int]] = [[f] for f in frames]
    if len(frames) > MAX_FRAME_BARS:
        size = math.ceil(len(frames) / MAX_FRAME_BARS)
        groups = [frames[i:i + size] for i in range(0, len(frames), size)]
    top = max(m.seconds for m in marks.values()) or 1.0
    ystep = nice_step(top, 4)
    ymax = math.ceil(top / ystep) * ystep
    plot_h = height - 30.0
    plot_w = width - GUTTER - 10.0
    bw = plot_w / len(groups)
    slowest = max(frames, key=lambda f: marks[f].seconds)
    retried_set = set(retried)
    bars = []
    for i, group in enumerate(groups):
        frame = max(group, key=lambda f: marks[f].seconds)
        seconds = marks[frame].seconds
        h = plot_h * seconds / ymax
        label = f"frame {frame}" if len(group) == 1 else f"frames {group[0]}-{group[-1]} (slowest {frame})"
        bars.append({"x": round(GUTTER + i * bw + (0.5 if bw > 3 else 0.0), 2), "w": round(max(0.6, bw - (1.0 if bw > 3
                     else 0.0)), 2), "y": round(10.0 + plot_h - h, 2), "h": round(max(0.5, h), 2), "frame": frame,
                     "seconds": seconds, "slowest": slowest in group, "retry": any(f in retried_set for f in group),
                     "title": f"{label}: {seconds:.3g} s"})
    median = statistics.median(marks[f].seconds for f in frames)
    yticks = []
    v = 0.0
    while v <= ymax + 1e-9:
        yticks.append((round(10.0 + plot_h - plot_h * v / ymax, 2), f"{v:g}s"))
        v += ystep
    xlabels = [(round(GUTTER + i * bw + bw / 2, 2), str(groups[i][0]))
               for i in sorted({0, len(groups) // 2, len(groups) - 1})]
    return {"bars": bars, "yticks": yticks, "median_y": round(10.0 + plot_h - plot_h * median / ymax, 2),
            "median": median, "slowest": slowest, "slowest_seconds": marks[slowest].seconds, "width": width,
            "height": height, "plot_x": GUTTER, "plot_w": plot_w, "base_y": 10.0 + plot_h, "xlabels": xlabels,
            "grouped": len(groups) != len(frames)}


def breakdown(summary: runstats.Summary) -> List[dict]:
    """[{name, seconds, share, css}] of slots x wall time: frames, start-ups, waste, idle (shares sum to ~1)."""
    total = summary.slots * (summary.wall or 0.0)
    if total <= 0:
        return []
    parts = [("frames", summary.frame_time, "frames"), ("start-ups", sum(summary.startups), "startup"),
             ("waste (re-rendered, stopped, stalled, exits)", summary.waste, "waste"), ("idle slots", summary.idle,
                                                                                      "idle")]
    return [{"name": name, "seconds": seconds, "share": max(0.0, min(1.0, seconds / total)), "css": css}
            for name, seconds, css in parts]
