"""Drive the scheduler with real aerender children: the executor's loop, where decisions become effects.

One loop thread owns all state. Reader and waiter threads of the children only put typed events on a queue
(``LineEvent``, ``LauncherExitEvent``, ``ExitEvent``), so the scheduler, the reporter and the run report are touched
from one thread, in the order things happened. The loop applies the scheduler's actions (start a chunk, shrink it,
kill it), launches each chunk's aerender invocations (``stmpo.invocation``), runs the watchdog (a start-up allowance,
then a stall timeout from the last progress line, and the finish grace of a tree that lingers after the comp
finished), records each tree's descendants once a second (so orphans can be reaped), and turns a cancel
(``stmpo.cancel``: SIGINT/SIGTERM/CTRL_BREAK) into terminating every tree.

Around the loop: what each child's event means is ``stmpo.child_events``; which frames count as delivered is
``stmpo.delivery``'s decision (own line, file closed, file whole); what an invocation's end means (failed?
permanent or transient?) is ``stmpo.outcome``'s; the end of the run (verdict and report) is ``stmpo.run_end``'s,
judged by ``stmpo.accounting``; the JSON report's shape is ``stmpo.report``'s; process trees are
``stmpo.children`` on this OS's ``stmpo.proc`` control, orphans ``stmpo.orphans``.

Launch policy. A permanent failure (``stmpo.diagnosis``) halts the run: no retry and no further launch. When the
error is one every child hits (no such comp, an unknown template, an unreadable or too-new project, missing fonts or
effects, a command line aerender refuses), the other running children are ended at once: they are failing the same
way. When it may be local to some frames (File Not Found, missing footage), what already renders finishes its
invocation. With ``pilot`` (off by default) the run's first invocation starts alone and the others once it shows
the job is renderable (a comp start, a frame line, or its end without a permanent failure), so an error every child
would hit costs one After Effects launch instead of one per child; the price is that every render's other children
start one start-up later (benchmarks/bench_scheduler.py: uniform efficiency 0.97 -> 0.75 with a 1 s start-up).
"""
from __future__ import annotations

import os
import queue
import threading
import time
from collections import deque
from pathlib import Path
from typing import Callable, Deque, Dict, List, Mapping, Optional, Sequence, Tuple

from stmpo import handout, outputs
from stmpo.accounting import present_at_start
from stmpo.cancel import SignalCancel
from stmpo.child_events import ChildEvents
from stmpo.children import ChildProcess, TreeTags
from stmpo.diagnosis import effective_allow
from stmpo.errors import StmpoError
from stmpo.frames import FrameSet
from stmpo.host import Topology
from stmpo.invocation import (
    ChunkRun,
    ExitEvent,
    Invocation,
    LauncherExitEvent,
    LineEvent,
    LoopEvent,
    child_command,
)
from stmpo.movies import find_ffmpeg
from stmpo.orphans import RunOrphans
from stmpo.outcome import FailureLog, UnparsedLog, WarningLog
from stmpo.plan import Plan
from stmpo.proc import process_control
from stmpo.proc.base import ProcessControl
from stmpo.reader import LineMux
from stmpo.report import RunReport
from stmpo.run_end import finish_run
from stmpo.scheduler import Scheduler
from stmpo.scheduler_types import Action, ChunkFailed, Done, Fail, Kill, Start, StopAfter
from stmpo.seams import RenderJob, RenderReporter
from stmpo.settings import RunOptions
from stmpo.stepped import PER_FRAME, SteppedMemory, SteppedPolicy, mode_of
from stmpo.stepped_proof import SteppedProof, file_regex, numbers_in, remove_numbers
from stmpo.targets import FrameSpace, Target, make_targets

RECORD_INTERVAL = 1.0  # seconds between descendant snapshots
TICK_INTERVAL = 0.2  # seconds between scheduler ticks (hand-offs are decided on ticks and frame events)


class Executor:
    """One run of ``job`` on ``plan``: call ``execute()`` once; it returns the run report (it raises only for bad
    input found before any child starts, or an internal error, after stopping every tree).

    ``targets``: several jobs rendered by one pool of children (``stmpo.targets``; ``job`` is then the first of
    them and gives the environment); each target's outcome is in ``target_reports`` after ``execute()``. A permanent
    failure of one target halts that target only."""

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
        self.events: "queue.SimpleQueue[LoopEvent]" = queue.SimpleQueue()  # C-level: put/get per line, no Condition
        jobs = list(targets) if targets else [job]
        self.targets: List[Target] = make_targets(jobs, options.scratch, self.cancel_event,
                                                  lambda text: self.reporter.message(f"warning: {text}"))
        self.space = FrameSpace([t.frames for t in self.targets])
        self.target_reports: List[RunReport] = []
        first = self.targets[0]  # the single job's (one target: exactly the run it always was)
        self.pattern, self.staging, self.delivery = first.pattern, first.staging, first.delivery
        self.movie = any(t.movie for t in self.targets)
        self.ffmpeg: Optional[Tuple[str, str]] = None  # (ffmpeg, ffprobe) for movie outputs
        self.chunk_targets: Dict[int, Target] = {}
        self.allow = effective_allow(options.allow, bool(job.continue_on_missing_footage))
        self.tags = TreeTags(self.control, since=time.time())
        self.orphans = RunOrphans(self.control, self.tags, f"aefarm-{os.getpid()}-{self.staging.run_id}")
        self.failures, self.warnings, self.unparsed = FailureLog(), WarningLog(), UnparsedLog()
        self.halted: Dict[int, str] = {}  # target index -> the permanent failure that stopped its launches
        self.runs: Dict[int, ChunkRun] = {}
        self.scheduler: Optional[Scheduler] = None
        self.result: Optional[Action] = None
        self.pilot: Optional[Tuple[int, int]] = None  # (chunk, invocation seq) launched alone
        self._gate_open = not options.pilot
        self._seq = 0
        self._next_launch = 0.0
        self._last_record = 0.0
        self._last_tick = 0.0
        self._terminators: List[threading.Thread] = []
        self.mux = LineMux()
        mode = mode_of(options.stepped, options.use_increment)
        self.stepped = SteppedPolicy(
            mode, aerender, None if mode == PER_FRAME else SteppedMemory(warn=self._warn),
            say=lambda text: self.reporter.message(text, public=True))
        self.child_events = ChildEvents(self)

    def _warn(self, text: str) -> None:
        self.reporter.message(f"warning: {text}")

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
                plan_lines.append(f"resume: {len(skipped)} frames already present and whole, {len(todo)} to render")
        slots = max(1, int(self.plan.concurrency))
        mode = "static" if self.movie else opts.schedule
        plan_lines.append(f"schedule: {mode}, {slots} child slots, min chunk {opts.min_chunk}, retries "
                          f"{opts.retries}{', fail-fast' if opts.fail_fast else ''}"
                          f"{', pilot child first' if opts.pilot and slots > 1 else ''}; staging "
                          f"{'under ' + str(self.staging.root) if opts.scratch else 'next to the final files'}")
        if not self.movie and any(b - a > 1 for t in self.targets for a, b in zip(t.frames, t.frames[1:])):
            plan_lines.append(f"stepped frames: {self.stepped.why}")
        if self.allow:
            plan_lines.append(f"allowed warnings (they only warn): {', '.join(sorted(self.allow))}")
        self.reporter.run_started(len(all_frames), plan_lines)
        for f in skipped:
            self.reporter.frame_done(f)
        scheduler = self.scheduler = Scheduler(todo, slots, min_chunk=opts.min_chunk, mode=mode, retries=opts.retries,
                                               fail_fast=opts.fail_fast, steal=not self.movie, handoff=opts.handoff,
                                               groups=self.space.groups(todo))
        cancelled = False
        self.orphans.start()
        try:
            if self.cancel_event.is_set():  # cancelled before the run began (preflight, remap): start nothing
                cancelled = True
                self.reporter.message(f"{self.cancel_reason}: before any aerender started")
                self.apply_actions(scheduler.cancel(self.cancel_reason))
            else:
                self.apply_actions(scheduler.begin(self.clock()))
            while not scheduler.finished:
                self.child_events.pump()
                now = self.clock()
                if self.cancel_event.is_set() and not cancelled:
                    cancelled = True
                    self.reporter.message(f"{self.cancel_reason}: terminating every child process tree")
                    self.apply_actions(scheduler.cancel(self.cancel_reason))
                    continue
                self._launch_due(now)
                self._watchdog(now)
                if now - self._last_tick >= TICK_INTERVAL:
                    self._last_tick = now
                    self.apply_actions(scheduler.tick(now))
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
            self._sweep()
        return self._finish(all_frames, skipped, started_wall, cancelled)

    def _finish(self, all_frames: List[int], skipped: List[int], started_wall: float, cancelled: bool) -> RunReport:
        report, self.target_reports = finish_run(self, all_frames, skipped, started_wall, cancelled)
        return report

    # -------------------------------------------------------------------------------------------- actions
    @property
    def active_scheduler(self) -> Scheduler:
        assert self.scheduler is not None, "execute() creates the scheduler before any action"
        return self.scheduler

    def apply_actions(self, actions: Sequence[Action]) -> None:
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
        failures = self.active_scheduler.failures
        run = ChunkRun(chunk=action.chunk, slot=action.slot, assigned=list(action.frame_list), retry=action.retry,
                       last=action.frame_list[-1], launch_at=launch_at, initial=list(action.frame_list),
                       attempt=max(failures.get(f, 0) for f in action.frame_list))
        self.runs[action.chunk] = run
        self.chunk_targets[action.chunk] = self.targets[self.space.target_of(action.frame_list[0])]
        if launch_at <= now and self._may_launch(run):
            self.next_invocation(run)

    def _on_kill(self, action: Kill) -> List[Action]:
        run = self.runs[action.chunk]
        if run.killed is None:
            run.killed = action.reason
        inv = run.current
        if inv is None or inv.exit_code is not None:  # not launched yet, between invocations, or already exited
            return self.end_chunk(run, ok=False, reason=f"killed: {action.reason}")
        self.terminate(inv)
        return []

    def terminate(self, inv: Invocation) -> None:
        proc = inv.process
        if proc is None or proc.terminating:
            return
        proc.terminating = True
        thread = threading.Thread(target=proc.terminate_tree, args=(self.options.kill_grace,),
                                  name=f"stmpo-terminate-{inv.pid}", daemon=True)
        thread.start()
        self._terminators.append(thread)

    def end_chunk(self, run: ChunkRun, ok: bool, reason: str) -> List[Action]:
        run.status = "done" if ok else ("stopped" if run.killed else "failed")
        run.reason = reason
        run.ended_wall = time.time()
        state = self.active_scheduler.chunks.get(run.chunk)
        if state is not None and state.remaining_count == 0:
            run.status = "done"
        return self.active_scheduler.chunk_ended(run.chunk, ok, self.clock(), reason)

    def target_of(self, run: ChunkRun) -> Target:
        return self.chunk_targets[run.chunk]

    def halted_for(self, run: ChunkRun) -> Optional[str]:
        """The permanent failure that halted ``run``'s target (the whole run when it has one target), or None."""
        return self.halted.get(self.target_of(run).index)

    def halt(self, run: ChunkRun, reason: str, everywhere: bool = False) -> None:
        """A permanent failure of ``run``'s target: no further launch, no retry (``Scheduler.halt``). ``everywhere``:
        every child of the target hits this error, so its running ones are ended too (as fail-fast does). In a pool
        only that target halts, unless ``--fail-fast`` asks to stop the run at the first failure."""
        target = self.target_of(run)
        if target.index in self.halted:
            return
        self.halted[target.index] = reason
        kill = self.options.fail_fast or everywhere
        if self.space.identity or self.options.fail_fast:
            for other in self.targets:
                self.halted.setdefault(other.index, reason)
            self.apply_actions(self.active_scheduler.halt(reason, kill=kill))
        else:
            frames = self.space.globals_of(target.index, target.frames)
            self.apply_actions(self.active_scheduler.halt(reason, kill=kill, frames=frames))

    # -------------------------------------------------------------------------------------------- invocations
    def _may_launch(self, run: ChunkRun) -> bool:
        """Its target is not halted, and the pilot gate is open or no pilot is out yet."""
        if self.halted_for(run) is not None or not (self._gate_open or self.pilot is None):
            return False
        return not (self.stepped.gating and self.stepped.holds(run.chunk, self._next_frames(run)[1] > 1))

    def open_gate(self, run: ChunkRun, inv: Invocation, why: str) -> None:
        if not self._gate_open and self.pilot == (run.chunk, inv.seq):
            self._gate_open = True
            if len(self.runs) > 1:
                self.reporter.message(f"[chunk {run.chunk} pid {inv.pid}] {why}: starting the other children")

    def _launch_due(self, now: float) -> None:
        for run in list(self.runs.values()):
            if run.status != "pending" or run.current is not None or run.killed is not None:
                continue
            halted = self.halted_for(run)
            if halted is not None:  # a permanent failure: held chunks never start
                self.apply_actions(self.end_chunk(run, ok=False, reason=f"not started: {halted}"))
            elif run.launch_at <= now and self._may_launch(run):
                self.next_invocation(run)

    def next_invocation(self, run: ChunkRun) -> bool:
        """Start the next aerender invocation of ``run``; False when its assignment has no frames left to hand out."""
        target = self.target_of(run)
        frames, step = self._next_frames(run)
        if not frames:
            return False
        if self.stepped.holds(run.chunk, step > 1):  # the probe of -i's numbering is out: wait for it
            run.status = "pending"
            return True
        index = target.index
        kind = "increment" if step > 1 else handout.kind_of(run, self.space, index, frames)
        run.next_index = handout.index_after(run, self.space.to_global(index, frames[-1]))
        self._seq += 1
        folder = target.staging.folder(run.chunk)  # created now, just before its first use
        proof: Optional[SteppedProof] = None
        if step > 1 and not target.movie:
            # every file in the folder must be this invocation's own (stmpo.stepped_proof): earlier invocations of
            # the chunk left only what they did not deliver, which is rendered again anyway
            remove_numbers(str(folder), target.pattern, numbers_in(str(folder), file_regex(target.pattern)))
            proof = SteppedProof(frames=list(frames), step=step)
        output = target.staging.child_output_path(run.chunk, frames)
        argv = child_command(target.job, self.aerender, output, frames, step)
        now = self.clock()
        inv = Invocation(seq=self._seq, frames=frames, step=step, argv=argv, started=now, started_wall=time.time(),
                         last_progress=now, segment=Path(output) if target.movie else None,
                         tag=f"{self.orphans.run_tag}.{run.chunk}.{self._seq}", proof=proof)
        self.stepped.launched(run.chunk, inv.seq, kind)
        if run.started_wall is None:
            run.started_wall = inv.started_wall
            self.active_scheduler.launched(run.chunk, now)
        run.invocations.append(inv)
        run.current = inv
        run.status = "running"
        if self.pilot is None:
            self.pilot = (run.chunk, inv.seq)
        blocks = self.plan.cpu_blocks
        cpus = blocks[run.slot % len(blocks)] if blocks else None
        seq, chunk = inv.seq, run.chunk
        process = ChildProcess(
            argv, env=self.env, cpus=cpus, name=f"chunk{chunk}", mux=self.mux, control=self.control,
            tag=inv.tag, tags=self.tags,
            on_line=lambda stream, text: self.events.put(LineEvent(chunk, seq, stream, text)),
            on_launcher_exit=lambda code: self.events.put(LauncherExitEvent(chunk, seq, code)),
            on_exit=lambda code: self.events.put(ExitEvent(chunk, seq, code)),
            on_warning=lambda text: self.reporter.message(f"warning: chunk {chunk}: {text}"))
        inv.process = process
        try:
            inv.pid = process.start()
        except OSError as exc:
            inv.process = None
            inv.fatal = inv.start_error = f"could not start {argv[0]}: {exc.strerror or exc}"
            self.events.put(ExitEvent(chunk, seq, None))
            return True
        self.reporter.child_started(chunk, inv.pid, FrameSet.from_frames(frames))
        return True

    def _next_frames(self, run: ChunkRun) -> Tuple[List[int], int]:
        """The comp frames (and step) of ``run``'s next invocation (``stmpo.handout``; ``stmpo.stepped`` says
        whether a constant-step run is one -i invocation)."""
        state = self.scheduler.chunks.get(run.chunk) if self.scheduler is not None else None
        return handout.next_frames(run, state.done if state is not None else set(), self.space,
                                   self.stepped.use_increment)

    def rewind(self, run: ChunkRun, frames: Sequence[int]) -> None:
        """Hand ``frames`` (comp frames of ``run``'s target, not delivered) out again to the chunk's next
        invocations (a stepped invocation whose files could not be trusted)."""
        handout.rewind(run, self.space.globals_of(self.target_of(run).index, frames))

    # -------------------------------------------------------------------------------------------- watching
    def _watchdog(self, now: float) -> None:
        opts = self.options
        for run in self.runs.values():
            inv = run.current
            if inv is None or inv.process is None or inv.stalled or inv.process.terminating:
                continue
            if inv.finished_at is not None and now - inv.finished_at > opts.finish_grace:
                inv.lingered = True
                self.reporter.message(f"[chunk {run.chunk} pid {inv.pid}] the comp finished {opts.finish_grace:g} s "
                                      f"ago and its process tree has not exited: ending it (not a failure)")
                self.terminate(inv)
                continue
            if not inv.launched and now - inv.started > opts.startup_timeout:
                inv.stalled = f"no progress within the start-up allowance of {opts.startup_timeout:g} s"
            elif inv.launched and now - inv.last_progress > opts.stall_timeout:
                inv.stalled = f"stalled: no progress line for {opts.stall_timeout:g} s"
            if inv.stalled:
                self.reporter.message(f"[chunk {run.chunk} pid {inv.pid}] {inv.stalled}: terminating its tree")
                self.terminate(inv)

    def _live(self) -> List[ChildProcess]:
        return [r.current.process for r in self.runs.values()
                if r.current is not None and r.current.process is not None and not r.current.process.exited.is_set()]

    def _record_descendants(self) -> None:
        self.orphans.tick()
        live = self._live()
        if not live:
            return
        try:
            table = self.control.process_table()
        except Exception:  # noqa: BLE001 - a failed snapshot only delays recording
            return
        for proc in live:
            proc.record_descendants(table)

    def _sweep(self) -> None:
        """The run is over: end whatever of its trees is left (never a launcher a Popen still waits for)."""
        try:
            launchers = [proc.pid for proc in self._live() if proc.pid is not None]
            ended = self.orphans.sweep(grace=min(self.options.kill_grace, 2.0), exclude=launchers)
            if ended:
                self.reporter.message(f"ended {len(ended)} leftover process(es) of this run: {ended}")
        except Exception as exc:  # noqa: BLE001 - the run's result stands; say what could not be cleaned
            self.reporter.message(f"warning: could not sweep leftover processes: {exc}")
        finally:
            self.orphans.stop()

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
    """Render ``job.frames`` with ``plan.concurrency`` aerender children; ok only when every frame is proven.

    ``options`` default to ``job.options``, ``aerender`` to ``job.aerender``. ``handle_signals``: SIGINT/SIGTERM
    (CTRL_BREAK on Windows) cancel the run while it is in progress (main thread only), and a cancel signal the
    entry point latched before (``stmpo.cancel.LATCH``) cancels it before any child starts. Raises StmpoError for
    bad input (no aerender, bad output pattern, empty frame set) before anything starts.

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

