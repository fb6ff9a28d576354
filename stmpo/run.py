"""Drive the scheduler with real aerender children: the executor's loop, where decisions become effects.

One loop thread owns all state. Reader and waiter threads of the children only put typed events on a queue
(``LineEvent``, ``ExitEvent``), so the scheduler, the reporter and the run report are touched from one thread, in the
order things happened. The loop applies the scheduler's actions (start a chunk, shrink it, kill it), launches each
chunk's aerender invocations (``stmpo.invocation``), runs the watchdog (a start-up allowance, then a stall timeout
from the last progress line), records each tree's descendants once a second (so orphans can be reaped), and turns a
cancel (``stmpo.cancel``: SIGINT/SIGTERM/CTRL_BREAK) into terminating every tree.

Around the loop: which frames count as delivered is ``stmpo.delivery``'s decision; the end-of-run verdict is
``stmpo.accounting``'s; the JSON report's shape is ``stmpo.report``'s; process trees are ``stmpo.children`` on this OS's
``stmpo.proc`` control.
"""
from __future__ import annotations

import os
import queue
import threading
import time
from collections import deque
from pathlib import Path
from typing import Callable, Deque, Dict, List, Mapping, Optional, Sequence, Tuple

from stmpo import outputs
from stmpo.accounting import judge_run, present_at_start
from stmpo.cancel import SignalCancel
from stmpo.children import ChildProcess
from stmpo.errors import StmpoError
from stmpo.frames import FrameSet
from stmpo.host import Topology
from stmpo.invocation import (
    ChunkRun,
    ExitEvent,
    FrameTime,
    Invocation,
    LineEvent,
    LoopEvent,
    child_command,
    exit_reason,
    invocation_frames,
)
from stmpo.lines import CompStarted, FatalError, FrameRendered, parse_line
from stmpo.movies import find_ffmpeg
from stmpo.plan import Plan
from stmpo.proc import process_control
from stmpo.proc.base import ProcessControl
from stmpo.reader import LineMux
from stmpo.report import RunReport, chunk_json, write_report
from stmpo.scheduler import Action, ChunkFailed, Done, Fail, Kill, Scheduler, Start, StopAfter
from stmpo.seams import RenderJob, RenderReporter
from stmpo.settings import RunOptions
from stmpo.targets import FrameSpace, Target, judge_targets, make_targets

RECORD_INTERVAL = 1.0  # seconds between descendant snapshots
TICK_INTERVAL = 0.2  # seconds between scheduler ticks (hand-offs are decided on ticks and frame events)


class Executor:
    """One run of ``job`` on ``plan``: call ``execute()`` once; it returns the run report (it raises only for bad
    input found before any child starts, or an internal error, after stopping every tree).

    ``targets``: several jobs rendered by one pool of children (``stmpo.targets``; ``job`` is then the first of
    them and gives the environment); each target's outcome is in ``target_reports`` after ``execute()``."""

    def __init__(self, plan: Plan, job: RenderJob, reporter: RenderReporter, options: RunOptions, aerender: str,
                 env: Optional[Mapping[str, str]] = None, cancel_event: Optional[threading.Event] = None,
                 clock: Callable[[], float] = time.monotonic, processor_groups: Optional[Topology] = None,
                 control: Optional[ProcessControl] = None, targets: Optional[Sequence[RenderJob]] = None) -> None:
        self.plan, self.job, self.reporter, self.options = plan, job, reporter, options
        self.control = control if control is not None else process_control(processor_groups)
        self.aerender = aerender
        self.env = dict(os.environ if env is None else env)
        self.env.update({str(k): str(v) for k, v in job.env.items()})
        self.cancel_event = cancel_event or threading.Event()
        self.cancel_reason = "cancelled"
        self.clock = clock
        self.events: "queue.Queue[LoopEvent]" = queue.Queue()
        jobs = list(targets) if targets else [job]
        self.targets: List[Target] = make_targets(jobs, options.scratch, self.cancel_event, self.reporter.message)
        self.space = FrameSpace([t.frames for t in self.targets])
        self.target_reports: List[RunReport] = []
        first = self.targets[0]  # the single job's (one target: exactly the run it always was)
        self.pattern, self.staging, self.delivery = first.pattern, first.staging, first.delivery
        self.movie = any(t.movie for t in self.targets)
        self.ffmpeg: Optional[Tuple[str, str]] = None  # (ffmpeg, ffprobe) for movie outputs
        self._chunk_target: Dict[int, Target] = {}
        self.runs: Dict[int, ChunkRun] = {}
        self.scheduler: Optional[Scheduler] = None
        self.result: Optional[Action] = None
        self._seq = 0
        self._next_launch = 0.0
        self._last_record = 0.0
        self._last_tick = 0.0
        self._terminators: List[threading.Thread] = []
        self.mux = LineMux()

    def cancel(self, reason: str) -> None:
        """Ask the run to stop (any thread, a signal handler too): every tree is terminated, the run is cancelled."""
        self.cancel_reason = reason
        self.cancel_event.set()

    # -------------------------------------------------------------------------------------------- main
    def execute(self) -> RunReport:
        opts = self.options
        started_wall = time.time()
        all_frames = self.space.all_globals()
        plan_lines = list(self.plan.explanation) + [f"warning: {w}" for w in self.plan.warnings]
        if self.movie:
            self.ffmpeg = find_ffmpeg(opts.ffmpeg)  # before any child starts: fail early and cleanly
            for target in self.targets:
                if target.movie:
                    target.ffmpeg = self.ffmpeg
                    target.delivery.ffprobe = self.ffmpeg[1]
                    plan_lines.append(f"movie output {target.pattern.movie_path()}: segments rendered in parallel, "
                                      "joined with ffmpeg (work stealing is off for movies: a stopped child cannot "
                                      "finish its segment)")
        if not self.space.identity:
            plan_lines.append(f"pool: {len(self.targets)} renders share the child slots (a chunk never spans two)")
        todo: List[int] = all_frames
        skipped: List[int] = []
        if opts.resume:
            todo, skipped = [], []
            for target in self.targets:
                left, kept = present_at_start(target.pattern, target.frames,
                                              target.ffmpeg[1] if target.ffmpeg else None)
                target.skipped = kept
                todo += self.space.globals_of(target.index, left)
                skipped += self.space.globals_of(target.index, kept)
            if skipped:
                plan_lines.append(f"resume: {len(skipped)} frames already present, {len(todo)} to render")
        slots = max(1, int(self.plan.concurrency))
        mode = "static" if self.movie else opts.schedule
        plan_lines.append(f"schedule: {mode}, {slots} child slots, min chunk {opts.min_chunk}, retries "
                          f"{opts.retries}{', fail-fast' if opts.fail_fast else ''}; staging "
                          f"{'under ' + str(self.staging.root) if opts.scratch else 'next to the final files'}")
        self.reporter.run_started(len(all_frames), plan_lines)
        for f in skipped:
            self.reporter.frame_done(f)
        scheduler = self.scheduler = Scheduler(todo, slots, min_chunk=opts.min_chunk, mode=mode, retries=opts.retries,
                                               fail_fast=opts.fail_fast, steal=not self.movie, handoff=opts.handoff,
                                               groups=self.space.groups(todo))
        cancelled = False
        try:
            self._apply(scheduler.begin(self.clock()))
            while not scheduler.finished:
                self._pump_events()
                now = self.clock()
                if self.cancel_event.is_set() and not cancelled:
                    cancelled = True
                    self.reporter.message(f"{self.cancel_reason}: terminating every child process tree")
                    self._apply(scheduler.cancel(self.cancel_reason))
                    continue
                self._launch_due(now)
                self._watchdog(now)
                if now - self._last_tick >= TICK_INTERVAL:
                    self._last_tick = now
                    self._apply(scheduler.tick(now))
                if now - self._last_record >= RECORD_INTERVAL:
                    self._last_record = now
                    self._record_descendants()
        except BaseException:
            self._emergency_stop()
            for target in self.targets:  # e.g. a child command line refused: no empty staging folders left
                target.staging.cleanup(success=False)
            raise
        finally:
            for thread in self._terminators:
                thread.join(timeout=opts.kill_grace + 10.0)
            self.mux.close()
        return self._finish(all_frames, skipped, started_wall, cancelled)

    def _finish(self, all_frames: List[int], skipped: List[int], started_wall: float, cancelled: bool) -> RunReport:
        if not self.space.identity:
            return self._finish_targets(started_wall, cancelled)
        verdict = judge_run(delivery=self.delivery, all_frames=all_frames, skipped=skipped, result=self.result,
                            cancelled=cancelled, cancel_event=self.cancel_event, cancel_reason=self.cancel_reason,
                            ffmpeg=self.ffmpeg)
        chunks = [chunk_json(self.runs[c], self.reporter.log_path) for c in sorted(self.runs)]
        report = RunReport(
            ok=verdict.ok, missing=verdict.missing, cancelled=verdict.cancelled, reason=verdict.reason,
            summary=verdict.summary, chunks=chunks, plan=self.plan.to_dict(), frames=str(self.job.frames),
            output=str(self.job.output), started=started_wall, ended=time.time(),
            skipped=str(FrameSet.from_frames(skipped)), staging_kept=[str(k) for k in verdict.kept], join=verdict.join)
        self.reporter.run_finished(verdict.ok, verdict.missing, verdict.summary)
        if self.options.report is not None:
            write_report(Path(self.options.report), report)
        self.target_reports = [report]
        return report

    def _finish_targets(self, started_wall: float, cancelled: bool) -> RunReport:
        """A pool's end: each target judged on its own, then one report of the run (``stmpo.targets``)."""
        chunks = {c: chunk_json(self.runs[c], self.reporter.log_path) for c in sorted(self.runs)}
        report, self.target_reports = judge_targets(
            self.targets, self.space, self.result, chunks, {c: t.index for c, t in self._chunk_target.items()},
            cancelled=cancelled, cancel_event=self.cancel_event, cancel_reason=self.cancel_reason,
            plan=self.plan.to_dict(), started=started_wall)
        self.reporter.run_finished(report.ok, report.missing, report.summary)
        if self.options.report is not None:
            write_report(Path(self.options.report), report)
        return report

    # -------------------------------------------------------------------------------------------- actions
    @property
    def _scheduler(self) -> Scheduler:
        assert self.scheduler is not None, "execute() creates the scheduler before any action"
        return self.scheduler

    def _apply(self, actions: Sequence[Action]) -> None:
        todo: Deque[Action] = deque(actions)
        while todo:
            action = todo.popleft()
            if isinstance(action, Start):
                self._on_start(action)
            elif isinstance(action, StopAfter):
                self.runs[action.chunk].stop_after(action.last_frame)
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
        failures = self._scheduler.failures
        run = ChunkRun(chunk=action.chunk, slot=action.slot, assigned=list(action.frame_list), retry=action.retry,
                       last=action.frame_list[-1], launch_at=launch_at, initial=list(action.frame_list),
                       attempt=max(failures.get(f, 0) for f in action.frame_list))
        self.runs[action.chunk] = run
        self._chunk_target[action.chunk] = self.targets[self.space.target_of(action.frame_list[0])]
        if launch_at <= now:
            self._next_invocation(run)

    def _on_kill(self, action: Kill) -> List[Action]:
        run = self.runs[action.chunk]
        if run.killed is None:
            run.killed = action.reason
        inv = run.current
        if inv is None or inv.exit_code is not None:  # not launched yet, between invocations, or already exited
            return self._chunk_ended(run, ok=False, reason=f"killed: {action.reason}")
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

    def _chunk_ended(self, run: ChunkRun, ok: bool, reason: str) -> List[Action]:
        run.status = "done" if ok else ("stopped" if run.killed else "failed")
        run.reason = reason
        run.ended_wall = time.time()
        state = self._scheduler.chunks.get(run.chunk)
        if state is not None and state.remaining_count == 0:
            run.status = "done"
        return self._scheduler.chunk_ended(run.chunk, ok, self.clock(), reason)

    # -------------------------------------------------------------------------------------------- invocations
    def _launch_due(self, now: float) -> None:
        for run in list(self.runs.values()):
            if run.status == "pending" and run.current is None and run.launch_at <= now and run.killed is None:
                self._next_invocation(run)

    def _next_invocation(self, run: ChunkRun) -> bool:
        """Start the next aerender invocation of ``run``; False when its assignment has no frames left to hand out."""
        target = self._chunk_target[run.chunk]
        frames, step = self._next_frames(run)
        if not frames:
            return False
        run.next_index += len(frames)
        self._seq += 1
        target.staging.folder(run.chunk)  # created now, just before its first use
        output = target.staging.child_output_path(run.chunk, frames)
        argv = child_command(target.job, self.aerender, output, frames, step)
        now = self.clock()
        inv = Invocation(seq=self._seq, frames=frames, step=step, argv=argv, started=now, started_wall=time.time(),
                         last_progress=now, segment=Path(output) if target.movie else None)
        run.invocations.append(inv)
        run.current = inv
        run.status = "running"
        if run.started_wall is None:
            run.started_wall = inv.started_wall
        blocks = self.plan.cpu_blocks
        cpus = blocks[run.slot % len(blocks)] if blocks else None
        seq, chunk = inv.seq, run.chunk
        process = ChildProcess(
            argv, env=self.env, cpus=cpus, name=f"chunk{chunk}", mux=self.mux, control=self.control,
            on_line=lambda stream, text: self.events.put(LineEvent(chunk, seq, stream, text)),
            on_exit=lambda code: self.events.put(ExitEvent(chunk, seq, code)),
            on_warning=lambda text: self.reporter.message(f"warning: chunk {chunk}: {text}"))
        inv.process = process
        try:
            inv.pid = process.start()
        except OSError as exc:
            inv.process = None
            inv.fatal = f"could not start {argv[0]}: {exc.strerror or exc}"
            self.events.put(ExitEvent(chunk, seq, None))
            return True
        self.reporter.child_started(chunk, inv.pid, FrameSet.from_frames(frames))
        return True

    def _next_frames(self, run: ChunkRun) -> Tuple[List[int], int]:
        """The comp frames (and step) of ``run``'s next invocation: the chunk's global ids mapped to its target."""
        if self.space.identity:
            return run.next_frames(self.options.use_increment)
        remaining = [g for g in run.assigned[run.next_index:] if g <= run.last]
        return invocation_frames([self.space.locate(g)[1] for g in remaining], self.options.use_increment)

    # -------------------------------------------------------------------------------------------- events
    def _pump_events(self) -> None:
        try:
            event = self.events.get(timeout=self.options.tick)
        except queue.Empty:
            return
        while True:
            if isinstance(event, LineEvent):
                self._on_line(event)
            else:
                self._on_exit(event)
            try:
                event = self.events.get_nowait()
            except queue.Empty:
                return

    def _current(self, chunk: int, seq: int) -> Tuple[Optional[ChunkRun], Optional[Invocation]]:
        run = self.runs.get(chunk)
        if run is None or run.current is None or run.current.seq != seq:
            return run, None
        return run, run.current

    def _on_line(self, event: LineEvent) -> None:
        run, inv = self._current(event.chunk, event.seq)
        if run is None or inv is None:
            return
        self.reporter.child_output(run.chunk, inv.pid or 0, event.text)
        parsed = parse_line(event.text)
        if parsed is None:
            return
        now = self.clock()
        if isinstance(parsed, FatalError):
            if inv.fatal is None:
                inv.fatal = parsed.text
        elif isinstance(parsed, CompStarted):
            inv.launched, inv.last_progress = True, now
        elif isinstance(parsed, FrameRendered):
            inv.launched, inv.last_progress = True, now
            inv.rendered += 1
            if not 1 <= parsed.index <= len(inv.frames):
                return
            frame = inv.frames[parsed.index - 1]
            run.frame_times[frame] = FrameTime(seconds=parsed.seconds, at=time.time(), pid=inv.pid)
            for proven in self._chunk_target[run.chunk].delivery.on_frame_line(inv, frame):
                self._deliver(run, proven, now)

    def _deliver(self, run: ChunkRun, frame: int, now: float) -> None:
        """``frame`` (a comp frame of the chunk's target) is proven: deliver it, tell the reporter and scheduler."""
        target = self._chunk_target[run.chunk]
        ident = self.space.to_global(target.index, frame)
        state = self._scheduler.chunks.get(run.chunk)
        owned = state is not None and state.owns(ident) and ident not in state.done
        if target.delivery.deliver(run.chunk, frame, owned):
            self.reporter.frame_done(ident)
            self._apply(self._scheduler.frame_done(run.chunk, ident, now))

    def _on_exit(self, event: ExitEvent) -> None:
        run, inv = self._current(event.chunk, event.seq)
        if run is None or inv is None:
            return
        now = self.clock()
        code = event.code
        inv.exit_code = code
        inv.ended_wall = time.time()
        if inv.pid is not None:
            self.reporter.child_exited(run.chunk, inv.pid, code)
        clean = code == 0 and inv.fatal is None and inv.stalled is None and run.killed is None
        if clean:
            proven = self._chunk_target[run.chunk].delivery.on_clean_exit(inv)
            clean = inv.fatal is None  # a movie segment that does not hold its frames is a failure
            for frame in proven:
                self._deliver(run, frame, now)
        run.current = None
        if self._scheduler.chunks.get(run.chunk) is None:
            return  # the scheduler already let go of it (e.g. its frames all verified and it was killed)
        if clean and run.killed is None and self._next_invocation(run):
            return
        self._apply(self._chunk_ended(run, ok=clean, reason=exit_reason(run, inv, clean)))

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
                self.reporter.message(f"[chunk {run.chunk} pid {inv.pid}] {inv.stalled}: terminating its tree")
                self._terminate(inv)

    def _record_descendants(self) -> None:
        live = [r.current.process for r in self.runs.values()
                if r.current is not None and r.current.process is not None and not r.current.process.exited.is_set()]
        if not live:
            return
        try:
            table = self.control.process_table()
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


def run(plan: Plan, job: RenderJob, reporter: RenderReporter, *, aerender: Optional[str] = None,
        options: Optional[RunOptions] = None, env: Optional[Mapping[str, str]] = None,
        cancel_event: Optional[threading.Event] = None, handle_signals: bool = True,
        processor_groups: Optional[Topology] = None, targets: Optional[Sequence[RenderJob]] = None,
        executor_out: Optional[List["Executor"]] = None) -> RunReport:
    """Render ``job.frames`` with ``plan.concurrency`` aerender children; ok only when every frame is verified.

    ``options`` default to ``job.options``, ``aerender`` to ``job.aerender``. ``handle_signals``: SIGINT/SIGTERM
    (CTRL_BREAK on Windows) cancel the run while it is in progress (main thread only). Raises StmpoError for bad
    input (no aerender, bad output pattern, empty frame set) before anything starts.

    ``targets``: render these jobs (``job`` among them, first) through one pool of children (``stmpo.targets``);
    the returned report then has one entry per target in ``targets`` and ``executor_out`` (a list) receives the
    executor, whose ``target_reports`` hold each target's own report."""
    options = options or job.options
    exe = aerender or job.aerender
    if not exe:
        raise StmpoError("no aerender to run: pass --aerender PATH or set AERENDER_PATH")
    for each in targets or [job]:
        outputs.check_pattern(str(each.output))
        if not len(each.frames):
            raise StmpoError(f"nothing to render: the frame set of {each.output} is empty")
    executor = Executor(plan, job, reporter, options, exe, env=env, cancel_event=cancel_event,
                        processor_groups=processor_groups, targets=targets)
    if executor_out is not None:
        executor_out.append(executor)
    if handle_signals:
        with SignalCancel(executor.cancel):
            return executor.execute()
    return executor.execute()
