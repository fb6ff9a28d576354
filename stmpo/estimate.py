"""Predict a render's wall time from the render history ("predict the future by reviewing the past").

Model, from the history records (``stmpo.history``) of the same comp:
- **frame cost**: a frame's time as ``stmpo.runstats`` measures it; a frame the history timed costs the median of
  its timings, another frame the mean of the nearest timed frames (a comp's cost changes along its timeline);
- **start-up** and **tail** per aerender invocation: medians over the matching records;
- **concurrency**: frame times grow when more children share a host; with history at two or more concurrencies on a
  host with this many CPUs the growth is fitted as ``time ~ concurrency ** b`` (``0 <= b <= 2``); with one, frame
  times are assumed not to change with the concurrency (the estimate says so);
- **wall time**: the real scheduler (``stmpo.scheduler.Scheduler``, the same dynamic work stealing and hand-off)
  is run on a virtual clock with those costs, one aerender invocation per step-1 run as the executor launches them;
- **overhead**: the median of (measured wall - simulated wall) of the records' successful runs, which calibrates
  what the model leaves out (process launch under load, verification, the executor's own ticks).

Matching: records of the same project bytes (SHA-256) and comp first; failing that, records of the same comp in a
project of the same file name (a re-saved project), and the estimate says which. Records from hosts with as many
CPUs as this one are preferred when there are any.
"""
from __future__ import annotations

import bisect
import heapq
import math
import statistics
from dataclasses import asdict, dataclass, field
from typing import Callable, Dict, List, Mapping, Optional, Sequence, Tuple

from stmpo.history import RenderRecord

NEAREST = 8  # timed frames averaged for a frame the history did not time
MAX_SIMULATED_FRAMES = 50_000  # beyond this the closed form is used (the simulation is linear in frames)
KILL_LATENCY = 0.05  # seconds between a Kill and the exit it causes in the simulation
CALIBRATION_RECORDS = 5


@dataclass
class Estimate:
    """A predicted wall time (seconds) for ``frames`` frames with ``concurrency`` children, and what it rests on."""

    seconds: float
    frames: int
    concurrency: int
    runs: int  # history records used
    timed_frames: int  # frame timings in those records
    startups_seen: int
    match: str  # "project": same project bytes and comp; "comp": same comp, project file of the same name
    frame_seconds: float  # median cost of the frames to render
    startup: float
    tail: float
    overhead: float
    exponent: Optional[float]  # b in time ~ concurrency ** b (None: history at one concurrency only)
    notes: List[str] = field(default_factory=list)
    best: Optional[Dict[str, float]] = None  # {"concurrency": n, "seconds": s} when asked and known

    def to_json(self) -> dict:
        return asdict(self)

    def describe(self, what: str = "") -> List[str]:
        lines = [f"estimate: {format_seconds(self.seconds)} wall for {self.frames} frames{what} with "
                 f"{self.concurrency} {'child' if self.concurrency == 1 else 'children'}"]
        source = "this project and comp" if self.match == "project" else "this comp in a project of the same name"
        lines.append(f"  history: {self.runs} earlier {'run' if self.runs == 1 else 'runs'} of {source} "
                     f"({self.timed_frames} frames timed, {self.startups_seen} start-ups)")
        lines.append(f"  model: {self.frame_seconds:.3g} s per frame (median), start-up {self.startup:.3g} s, "
                     f"exit {self.tail:.3g} s per invocation, overhead {self.overhead:+.3g} s")
        lines.extend(f"  note: {note}" for note in self.notes)
        if self.best is not None:
            lines.append(f"  best concurrency on this host: {int(self.best['concurrency'])} "
                         f"({format_seconds(self.best['seconds'])})")
        return lines


def format_seconds(seconds: Optional[float]) -> str:
    """``1h 02m 03s`` / ``2m 05s`` / ``4.2s``; ``-`` for None."""
    if seconds is None or math.isnan(seconds):
        return "-"
    seconds = max(0.0, seconds)
    if seconds < 60:
        return f"{seconds:.1f}s"
    whole = int(round(seconds))
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}h {minutes:02d}m {secs:02d}s" if hours else f"{minutes}m {secs:02d}s"


# ------------------------------------------------------------------------------------------------ frame costs
class FrameCosts:
    """Frame -> seconds: the timed value, else the mean of the ``NEAREST`` nearest timed frames."""

    def __init__(self, timed: Mapping[int, float], scale: float = 1.0) -> None:
        if not timed:
            raise ValueError("FrameCosts needs at least one timed frame")
        self.frames = sorted(timed)
        self.values = [float(timed[f]) for f in self.frames]
        self.scale = scale
        self._cache: Dict[int, float] = {}

    def __call__(self, frame: int) -> float:
        cached = self._cache.get(frame)
        if cached is not None:
            return cached
        pos = bisect.bisect_left(self.frames, frame)
        if pos < len(self.frames) and self.frames[pos] == frame:
            value = self.values[pos]
        else:
            lo, hi = pos - 1, pos
            picked: List[float] = []
            while len(picked) < NEAREST and (lo >= 0 or hi < len(self.frames)):
                if hi >= len(self.frames) or (lo >= 0 and frame - self.frames[lo] <= self.frames[hi] - frame):
                    picked.append(self.values[lo])
                    lo -= 1
                else:
                    picked.append(self.values[hi])
                    hi += 1
            value = sum(picked) / len(picked)
        value *= self.scale
        self._cache[frame] = value
        return value


# ------------------------------------------------------------------------------------------------ simulation
def invocation_runs(frames: Sequence[int], use_increment: bool) -> List[List[int]]:
    """The aerender invocations the executor launches for an ordered assignment (``stmpo.invocation``'s rule)."""
    from stmpo.invocation import invocation_frames  # the executor's own rule

    out, rest = [], list(frames)
    while rest:
        run, _ = invocation_frames(rest, use_increment)
        out.append(run)
        rest = rest[len(run):]
    return out


def closed_form(frames: Sequence[int], slots: int, cost: Callable[[int], float], startup: float, tail: float,
                use_increment: bool = False) -> float:
    """Perfectly balanced slots: the invocation overheads spread like work, plus one start-up that cannot be hidden."""
    invocations = len(invocation_runs(frames, use_increment)) if len(frames) <= MAX_SIMULATED_FRAMES else slots
    work = sum(cost(f) for f in frames) + max(0, invocations - slots) * (startup + tail)
    return startup + tail + work / max(1, slots)


@dataclass
class _SimChunk:
    chunk: int
    assigned: List[int]
    last: int
    next: int = 0  # position in `assigned` of the next frame to hand to an invocation
    inv: int = 0  # current invocation number (events of older ones are ignored)
    run: List[int] = field(default_factory=list)
    reported: Optional[int] = None
    killed: bool = False


def simulate(frames: Sequence[int], slots: int, cost: Callable[[int], float], startup: float, tail: float, *,
             min_chunk: int = 2, mode: str = "dynamic", handoff: bool = True, use_increment: bool = False) -> float:
    """Seconds the executor needs for ``frames`` on ``slots`` slots when every frame costs ``cost(frame)`` and every
    invocation pays ``startup`` before its first frame and ``tail`` after its last: the real Scheduler on a virtual
    clock. A frame counts as verified when the next frame's line arrives or its invocation exits, as in the executor.
    """
    from stmpo.invocation import invocation_frames
    from stmpo.run import TICK_INTERVAL
    from stmpo.scheduler import Scheduler
    from stmpo.scheduler_types import ChunkFailed, Done, Fail, Kill, Start, StopAfter

    frames = sorted(set(frames))
    if not frames:
        return 0.0
    if len(frames) > MAX_SIMULATED_FRAMES:
        return closed_form(frames, slots, cost, startup, tail, use_increment)
    sched = Scheduler(frames, slots, min_chunk=min_chunk, mode=mode, retries=0, handoff=handoff)
    heap: List[Tuple[float, int, str, int, int, int]] = []  # (time, order, kind, chunk, invocation, index)
    order = [0]
    sims: Dict[int, _SimChunk] = {}

    def push(at: float, kind: str, chunk: int, inv: int, index: int = 0) -> None:
        order[0] += 1
        heapq.heappush(heap, (at, order[0], kind, chunk, inv, index))

    def launch(sim: _SimChunk, now: float) -> None:
        remaining = [f for f in sim.assigned[sim.next:] if f <= sim.last]
        run, _ = invocation_frames(remaining, use_increment)
        if not run:
            apply(sched.chunk_ended(sim.chunk, True, now))
            return
        sim.next += len(run)
        sim.inv += 1
        sim.run, sim.reported = run, None
        at = now + startup
        for index, frame in enumerate(run):
            at += cost(frame)
            push(at, "frame", sim.chunk, sim.inv, index)
        push(at + tail, "exit", sim.chunk, sim.inv)

    def apply(actions: Sequence[object]) -> None:
        for action in actions:
            if isinstance(action, Start):
                sim = _SimChunk(action.chunk, list(action.frame_list), action.frame_list[-1])
                sims[action.chunk] = sim
                launch(sim, now)
            elif isinstance(action, StopAfter):
                sim = sims[action.chunk]
                sim.last = action.last_frame
                sim.assigned = [f for f in sim.assigned if f <= action.last_frame]
            elif isinstance(action, Kill):
                sim = sims[action.chunk]
                if not sim.killed:
                    sim.killed = True
                    sim.inv += 1  # the running invocation's later events no longer count
                    push(now + KILL_LATENCY, "killed", action.chunk, sim.inv)
            elif isinstance(action, (ChunkFailed, Done, Fail)):
                pass

    now = 0.0
    apply(sched.begin(now))
    next_tick = TICK_INTERVAL if handoff else math.inf
    tick = max(TICK_INTERVAL, closed_form(frames, slots, cost, startup, tail, use_increment) / 5000.0)
    while not sched.finished and (heap or next_tick < math.inf):
        if heap and heap[0][0] <= next_tick:
            now, _, kind, chunk, inv, index = heapq.heappop(heap)
            sim = sims[chunk]
            if inv != sim.inv:
                continue
            if kind == "frame":
                previous, sim.reported = sim.reported, sim.run[index]
                if previous is not None:
                    apply(sched.frame_done(chunk, previous, now))
            elif kind == "exit":
                for frame in sim.run:
                    apply(sched.frame_done(chunk, frame, now))
                launch(sim, now)
            else:  # killed
                apply(sched.chunk_ended(chunk, False, now, "stopped"))
        else:
            now = next_tick
            next_tick += tick
            apply(sched.tick(now))
            if not heap and not sched.chunks:
                break
    return now


# ------------------------------------------------------------------------------------------------ history
def matching(records: Sequence[RenderRecord], project_hash: str, project_name: str, comp: Optional[str],
             rqindex: Optional[int], cpus: Optional[int] = None) -> Tuple[List[RenderRecord], str, List[str]]:
    """The records to learn from, how they match (``project`` | ``comp`` | ``""``) and notes on the choice."""
    def same_target(r: RenderRecord) -> bool:
        return (comp is not None and r.comp == comp) or (comp is None and rqindex is not None and r.rqindex == rqindex)

    timed = [r for r in records if r.frame_seconds and same_target(r)]
    found = [r for r in timed if r.project_hash == project_hash]
    how = "project"
    if not found:
        found = [r for r in timed if r.project_name == project_name]
        how = "comp" if found else ""
    notes: List[str] = []
    if how == "comp":
        notes.append("the project changed since these runs (different bytes, same file name)")
    if found and cpus is not None:
        same_host = [r for r in found if r.cpus == cpus]
        if same_host:
            found = same_host
        else:
            seen = sorted({r.cpus for r in found if r.cpus})
            notes.append(f"no run on a host with {cpus} CPUs; using runs on hosts with {seen} CPUs")
    return found, how, notes


def fit_exponent(records: Sequence[RenderRecord]) -> Optional[float]:
    """b in ``frame time ~ concurrency ** b`` from the median frame time per concurrency; None with one concurrency."""
    by_concurrency: Dict[int, List[float]] = {}
    for record in records:
        by_concurrency.setdefault(record.concurrency, []).extend(record.frame_seconds.values())
    points = [(math.log(n), math.log(max(1e-6, statistics.median(v)))) for n, v in by_concurrency.items() if v]
    if len(points) < 2:
        return None
    mx = sum(x for x, _ in points) / len(points)
    my = sum(y for _, y in points) / len(points)
    sxx = sum((x - mx) ** 2 for x, _ in points)
    slope = sum((x - mx) * (y - my) for x, y in points) / sxx if sxx else 0.0
    return min(2.0, max(0.0, slope))


def _normalized_timings(records: Sequence[RenderRecord], exponent: Optional[float]) -> Dict[int, float]:
    """Frame -> median time, each timing divided by its run's ``concurrency ** b`` (b = 0 when unknown)."""
    per_frame: Dict[int, List[float]] = {}
    for record in records:
        scale = record.concurrency ** (exponent or 0.0)
        for frame, seconds in record.frame_seconds.items():
            per_frame.setdefault(frame, []).append(seconds / scale)
    return {frame: statistics.median(values) for frame, values in per_frame.items()}


def _median(values: Sequence[float], default: float = 0.0) -> float:
    return statistics.median(values) if values else default




def estimate(records: Sequence[RenderRecord], frames: Sequence[int], concurrency: int, *, project_hash: str,
             project_name: str, comp: Optional[str], rqindex: Optional[int] = None, cpus: Optional[int] = None,
             min_chunk: int = 2, mode: str = "dynamic", handoff: bool = True, use_increment: bool = False,
             best_of: Optional[int] = None) -> Optional[Estimate]:
    """The predicted wall time of rendering ``frames`` with ``concurrency`` children; None without matching history.

    ``best_of``: also search concurrencies 1..best_of for the shortest wall time (needs history at two or more
    concurrencies; otherwise a note says why there is no answer)."""
    found, how, notes = matching(records, project_hash, project_name, comp, rqindex, cpus)
    frame_list = sorted(set(frames))
    if not found or not frame_list:
        return None
    exponent = fit_exponent(found)
    if exponent is None:
        notes.append(f"history has runs at concurrency {found[0].concurrency} only: frame times are assumed not to "
                     "change with the concurrency")
    base = _normalized_timings(found, exponent)
    startup = _median([s for r in found for s in r.startups])
    tail = _median([t for r in found for t in r.tails])

    residuals = []
    for record in [r for r in found if r.ok and r.wall > 0][-CALIBRATION_RECORDS:]:
        try:
            from stmpo.frames import FrameSet

            record_frames = list(FrameSet.parse(record.frames)) if record.frame_count <= MAX_SIMULATED_FRAMES else []
        except Exception:  # noqa: BLE001 - a record whose spec this version cannot read is not used to calibrate
            record_frames = []
        if not record_frames:
            continue
        own = FrameCosts(record.frame_seconds)
        opts = record.options
        simulated = simulate(record_frames, record.concurrency, own, _median(record.startups, startup),
                             _median(record.tails, tail), min_chunk=int(opts.get("min_chunk", 2)),
                             mode=str(opts.get("schedule", "dynamic")), handoff=bool(opts.get("handoff", True)),
                             use_increment=bool(opts.get("use_increment", False)))
        residuals.append(record.wall - simulated)

    def predict(slots: int) -> Tuple[float, float]:
        costs = FrameCosts(base, scale=slots ** (exponent or 0.0))
        simulated = simulate(frame_list, slots, costs, startup, tail, min_chunk=min_chunk, mode=mode,
                             handoff=handoff, use_increment=use_increment)
        overhead = _median(residuals)
        overhead = max(overhead, -0.25 * simulated)  # a calibration never removes more than a quarter
        return simulated + overhead, overhead

    seconds, overhead = predict(concurrency)
    best = None
    if best_of is not None:
        if exponent is None:
            notes.append("best concurrency: needs history at two or more concurrencies on this host")
        else:
            limit = max(1, min(best_of, len(frame_list)))
            trials = [(predict(n)[0], n) for n in range(1, limit + 1)]
            best_seconds, best_n = min(trials)
            best = {"concurrency": float(best_n), "seconds": best_seconds}
    costs_now = FrameCosts(base, scale=concurrency ** (exponent or 0.0))
    return Estimate(
        seconds=seconds, frames=len(frame_list), concurrency=concurrency, runs=len(found),
        timed_frames=sum(len(r.frame_seconds) for r in found), startups_seen=sum(len(r.startups) for r in found),
        match=how, frame_seconds=statistics.median(costs_now(f) for f in frame_list[:MAX_SIMULATED_FRAMES]),
        startup=startup, tail=tail, overhead=overhead, exponent=exponent, notes=notes, best=best)


# ------------------------------------------------------------------------------------------------ while rendering
def eta_seconds(elapsed: float, done: int, total: int, predicted: Optional[float]) -> Tuple[Optional[float], str]:
    """Seconds left and where the figure comes from (``history``, ``history+rate``, ``rate`` or ``""``).

    With a prediction from history, the remaining time starts as ``predicted - elapsed`` and moves towards the rate
    measured so far (``elapsed / done * left``) as the share of verified frames grows, so a host that is slower than
    its history corrects the figure as evidence comes in. Without history it is the measured rate alone."""
    left = max(0, total - done)
    if total <= 0:
        return None, ""
    if left == 0:
        return 0.0, "history" if predicted is not None else "rate"
    rate = elapsed / done * left if done > 0 else None
    if predicted is None:
        return rate, "rate" if rate is not None else ""
    from_history = max(0.0, predicted - elapsed)
    if rate is None:
        return from_history, "history"
    weight = done / total
    return (1.0 - weight) * from_history + weight * rate, "history+rate"
