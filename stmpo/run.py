"""Drive the scheduler with real aerender children: the executor's effects live here, its decisions do not.

One loop thread owns all state. Reader and waiter threads of the children only put events on a queue (lines, exits),
so the scheduler, the reporter and the run report are touched from one thread, in the order things happened. The
loop also runs the watchdog (a start-up allowance, then a stall timeout from the last progress line), records each
tree's descendants once a second (so orphans can be reaped), and turns SIGINT/SIGTERM into a cancel that terminates
every tree and ends with ``cancelled``.

A scheduler *child* owns a contiguous, ordered assignment and runs one aerender *invocation* per step-1 run of it
(``-s first -e last``). Stepped frame sets (``1-48x2``) therefore run each frame as its own ``-s N -e N`` invocation
inside the same child slot, because real aerender's ``-i`` semantics for image sequences are uncertain (FORMATS.md
§3); ``use_increment=True`` opts into one ``-s -e -i`` invocation per constant-step run instead.
"""
from __future__ import annotations

import json
import os
import queue
import signal
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Deque, Dict, List, Mapping, Optional, Sequence, Set, Tuple

from aefarm_common import exitcodes
from aefarm_common.atomic import atomic_write
from stmpo import movies, outputs
from stmpo.aerender import build_command
from stmpo.affinity import windows_group_affinity
from stmpo.children import ChildProcess, process_table
from stmpo.errors import StmpoError
from stmpo.frames import FrameSet
from stmpo.lines import CompStarted, FatalError, FrameRendered, parse_line
from stmpo.reader import LineMux
from stmpo.scheduler import ChunkFailed, Done, Fail, Kill, Scheduler, Start, StopAfter
from stmpo.settings import RunOptions

RECORD_INTERVAL = 1.0  # seconds between descendant snapshots
TICK_INTERVAL = 0.2  # seconds between scheduler ticks (hand-offs are decided on ticks and frame events)


@dataclass
class RunReport:
    ok: bool
    missing: FrameSet
    chunks: List[dict]
    cancelled: bool = False
    reason: str = ""
    summary: str = ""
    plan: dict = field(default_factory=dict)
    frames: str = ""
    output: str = ""
    started: float = 0.0
    ended: float = 0.0
    skipped: str = ""  # frames already present (--resume)
    staging_kept: List[str] = field(default_factory=list)
    join: Optional[str] = None  # movie join method

    @property
    def exit_code(self) -> int:
        """0, 4 (frames missing) or 130 (cancelled)."""
        if self.ok:
            return exitcodes.OK
        return exitcodes.CANCELLED if self.cancelled else exitcodes.RENDER_FAILED

    def to_json(self) -> dict:
        return {
            "ok": self.ok, "cancelled": self.cancelled, "reason": self.reason, "summary": self.summary,
            "frames": self.frames, "output": self.output, "missing": str(self.missing),
            "missing_count": len(self.missing), "skipped": self.skipped, "plan": self.plan,
            "started": self.started, "ended": self.ended, "chunks": self.chunks,
            "staging_kept": self.staging_kept, "join": self.join,
        }


# ------------------------------------------------------------------------------------------------ per child
@dataclass
class Invocation:
    seq: int
    frames: List[int]  # in render order
    step: int
    argv: List[str]
    started: float  # monotonic
    started_wall: float
    process: Optional[ChildProcess] = None
    pid: Optional[int] = None
    launched: bool = False  # AE reported a comp start or a frame: the start-up allowance is over
    last_progress: float = 0.0
    rendered: int = 0
    fatal: Optional[str] = None
    stalled: Optional[str] = None
    exit_code: Optional[int] = None
    ended_wall: Optional[float] = None
    segment: Optional[Path] = None
    # the last frame reported but not yet delivered: aerender may print a frame's PROGRESS line before its output
    # module has closed the file, so a frame moves into place only once the NEXT frame is reported (or on exit 0)
    reported: Optional[int] = None

    def to_json(self) -> dict:
        return {"pid": self.pid, "frames": str(FrameSet.from_frames(self.frames)), "argv": self.argv,
                "start": self.started_wall, "end": self.ended_wall, "exit_code": self.exit_code,
                "fatal": self.fatal, "stalled": self.stalled}


@dataclass
class ChildRun:
    child: int
    slot: int
    assigned: List[int]
    retry: bool
    last: int
    launch_at: float
    invocations: List[Invocation] = field(default_factory=list)
    current: Optional[Invocation] = None
    next_index: int = 0  # position in `assigned` of the next frame to hand to an invocation
    killed: Optional[str] = None
    frame_times: Dict[int, dict] = field(default_factory=dict)
    status: str = "pending"
    reason: str = ""
    initial: List[int] = field(default_factory=list)
    attempt: int = 0  # failed attempts its frames had before (0: first try)
    started_wall: Optional[float] = None
    ended_wall: Optional[float] = None

    def to_json(self, logs: Callable[[int, int], Optional[Path]]) -> dict:
        return {
            "chunk": self.child, "slot": self.slot, "frames": str(FrameSet.from_frames(self.initial)),
            "final_frames": str(FrameSet.from_frames(self.assigned)),
            "stolen_after": self.last if self.assigned != self.initial else None,
            "retry": self.retry, "retries_before": self.attempt, "status": self.status, "reason": self.reason,
            "start": self.started_wall, "end": self.ended_wall,
            "pid": self.invocations[0].pid if self.invocations else None,
            "exit_code": self.invocations[-1].exit_code if self.invocations else None,
            "invocations": [inv.to_json() for inv in self.invocations],
            "frame_times": {str(k): v for k, v in sorted(self.frame_times.items())},
            "logs": [str(p) for p in (logs(self.child, inv.pid) for inv in self.invocations if inv.pid) if p],
        }


def invocation_frames(remaining: Sequence[int], use_increment: bool) -> Tuple[List[int], int]:
    """The frames of the next aerender invocation: the longest step-1 run at the front of ``remaining`` (or the
    longest constant-step run with ``use_increment``), and its step."""
    if not remaining:
        return [], 1
    if len(remaining) == 1:
        return [remaining[0]], 1
    step = remaining[1] - remaining[0]
    if step != 1 and not use_increment:
        return [remaining[0]], 1
    out = [remaining[0]]
    for frame in remaining[1:]:
        if frame - out[-1] != step:
            break
        out.append(frame)
    return out, step


# ------------------------------------------------------------------------------------------------ the executor
class Executor:
    def __init__(self, plan: Any, job: Any, reporter: Any, options: RunOptions, aerender: str,
                 env: Optional[Mapping[str, str]] = None, cancel_event: Optional[threading.Event] = None,
                 clock: Callable[[], float] = time.monotonic, processor_groups: Any = None) -> None:
        self.plan, self.job, self.reporter, self.options = plan, job, reporter, options
        self.processor_groups = processor_groups  # Windows: (group -> CPUs) to turn a CPU block into a group mask
        self.aerender = aerender
        self.env = dict(os.environ if env is None else env)
        self.env.update({str(k): str(v) for k, v in (getattr(job, "env", None) or {}).items()})
        self.cancel_event = cancel_event or threading.Event()
        self.cancel_reason = "cancelled"
        self.clock = clock
        self.events: "queue.Queue[tuple]" = queue.Queue()
        self.pattern = outputs.OutputPattern(str(job.output), comp=job.comp or "")
        self.movie = self.pattern.is_movie
        self.staging = outputs.Staging(self.pattern, scratch=options.scratch)
        self.runs: Dict[int, ChildRun] = {}
        self.segments: List[Tuple[int, Path, int]] = []  # (first frame, path, frames) of good movie segments
        self.delivered: Set[int] = set()  # frames this run moved into place and verified
        self.result: Any = None
        self._seq = 0
        self._next_launch = 0.0
        self._last_record = 0.0
        self._last_tick = 0.0
        self._terminators: List[threading.Thread] = []
        self.ffmpeg: Optional[Tuple[str, str]] = None
        self.mux = LineMux()

    # -------------------------------------------------------------------------------------------- main
    def execute(self) -> RunReport:
        opts, job = self.options, self.job
        started_wall = time.time()
        frames = job.frames
        all_frames = list(frames)
        plan_lines = list(getattr(self.plan, "explanation", ())) + [
            f"warning: {w}" for w in getattr(self.plan, "warnings", ())]
        if self.movie:
            self.ffmpeg = movies.find_ffmpeg(opts.ffmpeg)  # before any child starts: fail early and cleanly
            plan_lines.append(f"movie output {self.pattern.movie_path()}: segments rendered in parallel, joined with "
                              f"ffmpeg (work stealing is off for movies: a stopped child cannot finish its segment)")
        todo = all_frames
        skipped: List[int] = []
        if opts.resume:
            if self.movie:
                count = movies.movie_frame_count(self.pattern.movie_path(), self.ffmpeg[1])  # type: ignore[index]
                if count == len(all_frames):
                    skipped, todo = all_frames, []
            else:
                present = set(outputs.present_frames(self.pattern, all_frames))
                skipped = [f for f in all_frames if f in present]
                todo = [f for f in all_frames if f not in present]
            if skipped:
                plan_lines.append(f"resume: {len(skipped)} frames already present, {len(todo)} to render")
        slots = max(1, int(getattr(self.plan, "concurrency", 1)))
        mode = "static" if self.movie else opts.schedule
        plan_lines.append(f"schedule: {mode}, {slots} child slots, min chunk {opts.min_chunk}, retries "
                          f"{opts.retries}{', fail-fast' if opts.fail_fast else ''}; staging "
                          f"{'under ' + str(self.staging.root) if opts.scratch else 'next to the final files'}")
        self.reporter.run_started(len(all_frames), plan_lines)
        for f in skipped:
            self.reporter.frame_done(f)
        self.scheduler = Scheduler(todo, slots, min_chunk=opts.min_chunk, mode=mode, retries=opts.retries,
                                   fail_fast=opts.fail_fast, steal=not self.movie, handoff=opts.handoff)
        cancelled = False
        try:
            self._apply(self.scheduler.begin(self.clock()))
            while not self.scheduler.finished:
                self._pump_events()
                now = self.clock()
                if self.cancel_event.is_set() and not cancelled:
                    cancelled = True
                    self.reporter.message(f"{self.cancel_reason}: terminating every child process tree")
                    self._apply(self.scheduler.cancel(self.cancel_reason))
                    continue
                self._launch_due(now)
                self._watchdog(now)
                if now - self._last_tick >= TICK_INTERVAL:
                    self._last_tick = now
                    self._apply(self.scheduler.tick(now))
                if now - self._last_record >= RECORD_INTERVAL:
                    self._last_record = now
                    self._record_descendants()
        except BaseException:
            self._emergency_stop()
            self.staging.cleanup(success=False)  # e.g. a child command line refused: no empty staging folders left
            raise
        finally:
            for thread in self._terminators:
                thread.join(timeout=opts.kill_grace + 10.0)
            self.mux.close()
        return self._finish(all_frames, skipped, started_wall, cancelled)

    # -------------------------------------------------------------------------------------------- actions
    def _apply(self, actions: Sequence[Any]) -> None:
        todo: Deque[Any] = deque(actions)
        while todo:
            action = todo.popleft()
            if isinstance(action, Start):
                self._on_start(action)
            elif isinstance(action, StopAfter):
                run = self.runs[action.chunk]
                run.last = action.last_frame
                run.assigned = [f for f in run.assigned if f <= action.last_frame]
            elif isinstance(action, Kill):
                todo.extend(self._on_kill(action))
            elif isinstance(action, ChunkFailed):
                self.reporter.chunk_failed(action.chunk, action.reason, action.retrying)
            elif isinstance(action, (Done, Fail)):
                self.result = action

    def _on_start(self, action: Start) -> None:
        now = self.clock()
        launch_at = max(now, self._next_launch)
        if self.options.stagger > 0:
            self._next_launch = launch_at + self.options.stagger
        run = ChildRun(child=action.chunk, slot=action.slot, assigned=list(action.frame_list), retry=action.retry,
                       last=action.frame_list[-1], launch_at=launch_at, initial=list(action.frame_list),
                       attempt=max(self.scheduler.failures.get(f, 0) for f in action.frame_list))
        self.runs[action.chunk] = run
        if launch_at <= now:
            self._next_invocation(run)

    def _on_kill(self, action: Kill) -> List[Any]:
        run = self.runs[action.chunk]
        if run.killed is None:
            run.killed = action.reason
        inv = run.current
        if inv is None or inv.exit_code is not None:  # not launched yet, between invocations, or already exited
            return self._child_finished(run, ok=False, reason=f"killed: {action.reason}")
        self._terminate(inv)
        return []

    def _terminate(self, inv: Invocation) -> None:
        proc = inv.process
        if proc is None or proc.terminating:
            return
        proc.terminating = True
        thread = threading.Thread(target=proc.terminate_tree, args=(self.options.kill_grace,),
                                  name=f"stmpo-terminate-{inv.pid}", daemon=True)
        thread.start()
        self._terminators.append(thread)

    # -------------------------------------------------------------------------------------------- invocations
    def _launch_due(self, now: float) -> None:
        for run in list(self.runs.values()):
            if run.status == "pending" and run.current is None and run.launch_at <= now and run.killed is None:
                self._next_invocation(run)

    def _next_invocation(self, run: ChildRun) -> bool:
        """Start the next aerender invocation of ``run``; False when its assignment has no frames left to hand out."""
        remaining = [f for f in run.assigned[run.next_index:] if f <= run.last]
        frames, step = invocation_frames(remaining, self.options.use_increment)
        if not frames:
            return False
        run.next_index += len(frames)
        self._seq += 1
        self.staging.folder(run.child)  # created now, just before its first use
        output = self.staging.child_output_path(run.child, frames)
        segment = Path(output) if self.movie else None
        argv = child_command(self.job, self.aerender, output, frames, step)
        now = self.clock()
        inv = Invocation(seq=self._seq, frames=frames, step=step, argv=argv, started=now, started_wall=time.time(),
                         last_progress=now, segment=segment)
        run.invocations.append(inv)
        run.current = inv
        run.status = "running"
        if run.started_wall is None:
            run.started_wall = inv.started_wall
        cpus = None
        blocks = getattr(self.plan, "cpu_blocks", None)
        if blocks:
            cpus = blocks[run.slot % len(blocks)]
        windows_affinity = None
        if cpus and os.name == "nt" and self.processor_groups:  # pragma: no cover - Windows only
            try:
                windows_affinity = windows_group_affinity(cpus, self.processor_groups)
            except StmpoError as exc:
                self.reporter.message(f"warning: child {run.child} not pinned: {exc}")
        seq, child = inv.seq, run.child
        process = ChildProcess(
            argv, env=self.env, cpus=cpus, name=f"chunk{child}", mux=self.mux, windows_affinity=windows_affinity,
            on_line=lambda stream, text: self.events.put(("line", child, seq, stream, text)),
            on_exit=lambda code: self.events.put(("exit", child, seq, code)))
        inv.process = process
        try:
            inv.pid = process.start()
        except OSError as exc:
            inv.process = None
            inv.fatal = f"could not start {argv[0]}: {exc.strerror or exc}"
            self.events.put(("exit", child, seq, None))
            return True
        self.reporter.child_started(child, inv.pid, FrameSet.from_frames(frames))
        return True

    # -------------------------------------------------------------------------------------------- events
    def _pump_events(self) -> None:
        try:
            item = self.events.get(timeout=self.options.tick)
        except queue.Empty:
            return
        while True:
            if item[0] == "line":
                self._on_line(*item[1:])
            else:
                self._on_exit(*item[1:])
            try:
                item = self.events.get_nowait()
            except queue.Empty:
                return

    def _current(self, child: int, seq: int) -> Tuple[Optional[ChildRun], Optional[Invocation]]:
        run = self.runs.get(child)
        if run is None or run.current is None or run.current.seq != seq:
            return run, None
        return run, run.current

    def _on_line(self, child: int, seq: int, stream: str, text: str) -> None:
        run, inv = self._current(child, seq)
        if run is None or inv is None:
            return
        self.reporter.child_output(child, inv.pid or 0, text)
        event = parse_line(text)
        if event is None:
            return
        now = self.clock()
        if isinstance(event, FatalError):
            if inv.fatal is None:
                inv.fatal = event.text
        elif isinstance(event, CompStarted):
            inv.launched, inv.last_progress = True, now
        elif isinstance(event, FrameRendered):
            inv.launched, inv.last_progress = True, now
            inv.rendered += 1
            if not 1 <= event.index <= len(inv.frames):
                return
            frame = inv.frames[event.index - 1]
            run.frame_times[frame] = {"seconds": event.seconds, "at": time.time(), "pid": inv.pid}
            if not self.movie:
                previous, inv.reported = inv.reported, frame
                if previous is not None:
                    self._deliver(run, previous, now)

    def _deliver(self, run: ChildRun, frame: int, now: float) -> None:
        state = self.scheduler.chunks.get(run.child)
        if state is None or not state.owns(frame) or frame in state.done:
            return  # outside the (shrunk) assignment: never moved
        try:
            ok = self.staging.deliver(run.child, frame)
        except OSError as exc:
            self.reporter.message(f"[chunk {run.child}] could not move frame {frame} into place: {exc}")
            ok = False
        if ok:
            self.delivered.add(frame)
            self.reporter.frame_done(frame)
            self._apply(self.scheduler.frame_done(run.child, frame, now))

    def _on_exit(self, child: int, seq: int, code: Optional[int]) -> None:
        run, inv = self._current(child, seq)
        if run is None or inv is None:
            return
        now = self.clock()
        inv.exit_code = code
        inv.ended_wall = time.time()
        if inv.pid is not None:
            closer = getattr(self.reporter, "child_exited", None)
            if closer is not None:
                closer(child, inv.pid, code)
        clean = code == 0 and inv.fatal is None and inv.stalled is None and run.killed is None
        if clean:
            if self.movie:
                self._accept_segment(run, inv, now)
                clean = inv.fatal is None
            else:
                for frame in inv.frames:
                    self._deliver(run, frame, now)
        run.current = None
        if self.scheduler.chunks.get(child) is None:
            return  # the scheduler already let go of it (e.g. its frames all verified and it was killed)
        if clean and run.killed is None and self._next_invocation(run):
            return
        if run.killed is not None and not clean:
            reason = f"stopped: {run.killed}"
        elif inv.stalled:
            reason = inv.stalled
        elif inv.fatal:
            reason = inv.fatal + ("" if code not in (0,) else " (exit code 0)")
        elif code != 0:
            reason = f"exit code {code}"
        else:
            reason = ""
        self._apply(self._child_finished(run, ok=clean, reason=reason))

    def _accept_segment(self, run: ChildRun, inv: Invocation, now: float) -> None:
        assert inv.segment is not None and self.ffmpeg is not None
        try:
            count = movies.movie_frame_count(inv.segment, self.ffmpeg[1], cancel=self.cancel_event)
        except StmpoError as exc:  # cancelled or timed out: the segment is not accepted
            inv.fatal = f"movie segment {inv.segment.name}: {exc}"
            return
        if count != len(inv.frames):
            inv.fatal = f"movie segment {inv.segment.name} has {count} frames, expected {len(inv.frames)}"
            return
        self.segments.append((inv.frames[0], inv.segment, len(inv.frames)))
        for frame in inv.frames:
            self.reporter.frame_done(frame)
            self._apply(self.scheduler.frame_done(run.child, frame, now))

    def _child_finished(self, run: ChildRun, ok: bool, reason: str) -> List[Any]:
        run.status = "done" if ok else ("stopped" if run.killed else "failed")
        run.reason = reason
        run.ended_wall = time.time()
        state = self.scheduler.chunks.get(run.child)
        if state is not None and state.remaining_count == 0:
            run.status = "done"
        return self.scheduler.chunk_ended(run.child, ok, self.clock(), reason)

    # -------------------------------------------------------------------------------------------- watching
    def _watchdog(self, now: float) -> None:
        opts = self.options
        for run in self.runs.values():
            inv = run.current
            if inv is None or inv.process is None or inv.stalled or inv.process.terminating:
                continue
            if not inv.launched and now - inv.started > opts.startup_timeout:
                inv.stalled = f"no progress within the start-up allowance of {opts.startup_timeout:g} s"
            elif inv.launched and now - inv.last_progress > opts.stall_timeout:
                inv.stalled = f"stalled: no progress line for {opts.stall_timeout:g} s"
            if inv.stalled:
                self.reporter.message(f"[chunk {run.child} pid {inv.pid}] {inv.stalled}: terminating its tree")
                self._terminate(inv)

    def _record_descendants(self) -> None:
        live = [r.current.process for r in self.runs.values()
                if r.current is not None and r.current.process is not None and not r.current.process.exited.is_set()]
        if not live:
            return
        try:
            table = process_table()
        except Exception:  # noqa: BLE001 - a failed snapshot only delays recording
            return
        for proc in live:
            proc.record_descendants(table)

    def _emergency_stop(self) -> None:
        """An exception in the loop itself: never leave a tree behind."""
        for run in self.runs.values():
            if run.current is not None and run.current.process is not None:
                try:
                    run.current.process.terminate_tree(grace=min(self.options.kill_grace, 2.0))
                except Exception:  # noqa: BLE001
                    pass

    # -------------------------------------------------------------------------------------------- the end
    def _finish(self, all_frames: List[int], skipped: List[int], started_wall: float, cancelled: bool) -> RunReport:
        result = self.result
        reason = getattr(result, "reason", "") if isinstance(result, Fail) else ""
        join_how: Optional[str] = None
        if self.movie:
            final = self.pattern.movie_path()
            if isinstance(result, Done) and self.segments and not cancelled:
                ordered = [path for _, path, _ in sorted(self.segments)]
                try:
                    join_how = movies.join_segments(ordered, final, self.ffmpeg[0], self.ffmpeg[1],  # type: ignore
                                                     len(all_frames), cancel=self.cancel_event)
                except (StmpoError, OSError) as exc:
                    reason = str(exc)
            cancelled = cancelled or self.cancel_event.is_set()  # a cancel during the join kills ffmpeg: no movie
            count = None
            if self.ffmpeg and not cancelled:
                try:
                    count = movies.movie_frame_count(final, self.ffmpeg[1], cancel=self.cancel_event)  # type: ignore
                except StmpoError as exc:
                    reason = str(exc)
            cancelled = cancelled or self.cancel_event.is_set()
            missing_list = [] if count == len(all_frames) and (join_how or skipped) else list(all_frames)
        else:
            # a frame counts only when this run delivered it (or --resume kept it) AND it is on disk now: files an
            # earlier render left at the final names must never pass for this render's frames
            accounted = self.delivered.union(skipped)
            on_disk = set(outputs.present_frames(self.pattern, all_frames))
            missing_list = [f for f in all_frames if f not in accounted or f not in on_disk]
        ok = not missing_list and not cancelled and not isinstance(result, Fail)
        kept = self.staging.cleanup(success=ok)
        missing = FrameSet.from_frames(missing_list)
        if cancelled:
            reason = self.cancel_reason
        elif missing_list and not reason:
            reason = "frames missing after the render"
        rendered = len(all_frames) - len(skipped) - len(missing_list)
        if ok:
            summary = (f"rendered {rendered} frames ({len(skipped)} already present), all {len(all_frames)} verified "
                       f"at {self.pattern.movie_path() if self.movie else self.pattern.folder}")
        else:
            summary = (f"{'cancelled' if cancelled else 'FAILED'}: {len(missing_list)} of {len(all_frames)} frames "
                       f"missing ({missing}){': ' + reason if reason else ''}")
            if kept:
                summary += f"; unmoved output kept in {', '.join(str(k) for k in kept)}"
        logs = getattr(self.reporter, "log_path", lambda chunk, pid: None)
        report = RunReport(
            ok=ok, missing=missing, cancelled=cancelled, reason=reason, summary=summary,
            chunks=[self.runs[c].to_json(logs) for c in sorted(self.runs)],
            plan=self.plan.to_dict() if hasattr(self.plan, "to_dict") else {},
            frames=str(self.job.frames), output=str(self.job.output), started=started_wall, ended=time.time(),
            skipped=str(FrameSet.from_frames(skipped)), staging_kept=[str(k) for k in kept], join=join_how)
        self.reporter.run_finished(ok, missing, summary)
        if self.options.report is not None:
            write_report(Path(self.options.report), report)
        return report


def child_command(job: Any, aerender: str, output: str, frames: Sequence[int], step: int) -> List[str]:
    """The aerender command line of one invocation (the executor and `--dry-run` both use this one)."""
    settings = getattr(job, "settings", None)
    mfr = None
    if settings is not None and getattr(settings, "mfr", None) is not None:
        mfr = (bool(settings.mfr), int(getattr(settings, "mfr_max_cpu_percent", 90)))
    return build_command(
        aerender, project=str(job.project), comp=job.comp, rqindex=job.rqindex, output=output,
        start=frames[0], end=frames[-1], increment=step if step != 1 else None, mfr=mfr,
        mem_usage=getattr(job, "mem_usage", None), rs_template=getattr(job, "rs_template", None),
        om_template=getattr(job, "om_template", None),
        continue_on_missing_footage=bool(getattr(job, "continue_on_missing_footage", False)),
        extra_args=list(getattr(job, "extra_args", None) or ()))


def write_report(path: Path, report: RunReport) -> None:
    """The JSON run report, written atomically (temporary name in the same folder, then rename)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_write(path, mode="w") as handle:
        json.dump(report.to_json(), handle, indent=2, sort_keys=True)
        handle.write("\n")


class _SignalCancel:
    """SIGINT/SIGTERM (and CTRL_BREAK on Windows) set the cancel event while a run is in progress."""

    def __init__(self, executor: Executor) -> None:
        self.executor = executor
        self.previous: Dict[int, Any] = {}

    def __enter__(self) -> "_SignalCancel":
        if threading.current_thread() is not threading.main_thread():
            return self
        names = ["SIGINT", "SIGTERM", "SIGBREAK"]
        for name in names:
            sig = getattr(signal, name, None)
            if sig is None:
                continue
            try:
                self.previous[sig] = signal.signal(sig, self._handle)
            except (ValueError, OSError):
                pass
        return self

    def _handle(self, signum: int, frame: Any) -> None:
        try:
            name = signal.Signals(signum).name
        except ValueError:
            name = str(signum)
        self.executor.cancel_reason = f"cancelled by {name}"
        self.executor.cancel_event.set()

    def __exit__(self, *exc: Any) -> None:
        for sig, handler in self.previous.items():
            try:
                signal.signal(sig, handler)
            except (ValueError, OSError):
                pass


def run(plan: Any, job: Any, reporter: Any, *, aerender: Optional[str] = None,
        options: Optional[RunOptions] = None, env: Optional[Mapping[str, str]] = None,
        cancel_event: Optional[threading.Event] = None, handle_signals: bool = True,
        processor_groups: Any = None) -> RunReport:
    """Render ``job.frames`` with ``plan.concurrency`` aerender children; ok only when every frame is verified.

    ``job`` needs: project, comp, rqindex, output, frames, env, extra_args (optional: settings, mem_usage,
    rs_template, om_template, continue_on_missing_footage, options). ``aerender`` defaults to ``job.aerender``."""
    options = options or getattr(job, "options", None) or RunOptions()
    exe = aerender or getattr(job, "aerender", None)
    if not exe:
        raise StmpoError("no aerender to run: pass --aerender PATH or set AERENDER_PATH")
    outputs.check_pattern(str(job.output))
    if not len(job.frames):
        raise StmpoError("nothing to render: the frame set is empty")
    executor = Executor(plan, job, reporter, options, exe, env=env, cancel_event=cancel_event,
                        processor_groups=processor_groups)
    if handle_signals:
        with _SignalCancel(executor):
            return executor.execute()
    return executor.execute()
