"""What the children's events mean for the run: the executor's event handling (``stmpo.run.Executor`` owns one).

Reader and waiter threads put ``LineEvent``, ``LauncherExitEvent`` and ``ExitEvent`` on the executor's queue; here,
on the loop thread, each becomes its consequences: a frame line proves earlier frames closed (``stmpo.delivery``) and
opens the pilot gate; the comp-finished lines prove the last frame closed and start the finish grace; a fatal line
that will repeat, or a warning that makes the frames wrong (``stmpo.diagnosis``, unless ``--allow``ed), is a
*permanent* failure: what that invocation delivered is taken back, the failure is recorded once, and the run is
halted (no retry, no further launch); a line that looks like frame progress but does not parse is counted; the
whole tree's exit proves what had its line, and ``stmpo.outcome`` says whether and how the invocation failed.

Why apart from the loop: the loop (``stmpo.run``) decides *when* things happen -- launches, the watchdog, ticks,
snapshots, cancel -- and this decides what an aerender child's output *means*; each reads on its own. It works on
the executor's state (runs, delivery, scheduler, reporter, the run's logs of failures and warnings).
"""
from __future__ import annotations

import queue
import time
from typing import Callable, Dict, FrozenSet, List, Optional, Protocol, Sequence, Tuple

from stmpo.delivery import FrameDelivery
from stmpo.diagnosis import OTHER, Failure, classify_error, classify_warning, warning_fails
from stmpo.frames import FrameSet
from stmpo.invocation import (
    ChunkRun,
    ExitEvent,
    FrameTime,
    Invocation,
    LauncherExitEvent,
    LineEvent,
    LoopEvent,
    exit_reason,
)
from stmpo.lines import (
    AeWarning,
    CompFinished,
    CompStarted,
    FatalError,
    FrameRendered,
    TotalTime,
    UnparsedProgress,
    parse_line,
)
from stmpo.outcome import FailureLog, UnparsedLog, WarningLog, invocation_failure
from stmpo.scheduler import Scheduler
from stmpo.scheduler_types import Action
from stmpo.seams import RenderReporter
from stmpo.settings import RunOptions
from stmpo.stepped import SteppedPolicy
from stmpo.stepped_proof import TRUSTED
from stmpo.targets import FrameSpace, Target

FAILING_WARNINGS = ("missing-footage", "missing-fonts", "missing-effects")
# permanent failures every child of the run hits (the project, the comp, a template, the command line): the other
# running children are ended at once. File Not Found and missing footage may concern some frames only.
EVERY_CHILD = frozenset({"comp-not-found", "render-settings-template", "output-module-template", "project-too-new",
                         "project-unreadable", "bad-command-line", "could-not-start", "missing-fonts",
                         "missing-effects", "output-format"})


class RunState(Protocol):
    """What event handling reads and asks of the run (``stmpo.run.Executor`` provides it)."""

    events: "queue.SimpleQueue[LoopEvent]"
    options: RunOptions
    runs: Dict[int, ChunkRun]
    reporter: RenderReporter
    clock: Callable[[], float]
    space: FrameSpace
    allow: FrozenSet[str]
    failures: FailureLog
    warnings: WarningLog
    unparsed: UnparsedLog
    pilot: Optional[Tuple[int, int]]
    stepped: SteppedPolicy

    @property
    def active_scheduler(self) -> Scheduler: ...

    def apply_actions(self, actions: Sequence[Action]) -> None: ...

    def terminate(self, inv: Invocation) -> None: ...

    def end_chunk(self, run: ChunkRun, ok: bool, reason: str) -> List[Action]: ...

    def next_invocation(self, run: ChunkRun) -> bool: ...

    def open_gate(self, run: ChunkRun, inv: Invocation, why: str) -> None: ...

    def halt(self, run: ChunkRun, reason: str, everywhere: bool = False) -> None: ...

    def halted_for(self, run: ChunkRun) -> Optional[str]: ...

    def target_of(self, run: ChunkRun) -> Target: ...

    def rewind(self, run: ChunkRun, frames: Sequence[int]) -> None: ...


class ChildEvents:
    """The executor's handling of its children's events: ``pump()`` applies every queued event (``ex``: the
    executor whose state they change)."""

    def __init__(self, ex: RunState) -> None:
        self.ex = ex

    def pump(self) -> None:
        ex = self.ex
        try:
            event = ex.events.get(timeout=ex.options.tick)
        except queue.Empty:
            return
        while True:
            if isinstance(event, LineEvent):
                self._on_line(event)
            elif isinstance(event, LauncherExitEvent):
                self._on_launcher_exit(event)
            else:
                self._on_exit(event)
            try:
                event = ex.events.get_nowait()
            except queue.Empty:
                return

    def _current(self, chunk: int, seq: int) -> Tuple[Optional[ChunkRun], Optional[Invocation]]:
        ex = self.ex
        run = ex.runs.get(chunk)
        if run is None or run.current is None or run.current.seq != seq:
            return run, None
        return run, run.current

    def _on_line(self, event: LineEvent) -> None:
        ex = self.ex
        run, inv = self._current(event.chunk, event.seq)
        if run is None or inv is None:
            return
        ex.reporter.child_output(run.chunk, inv.pid or 0, event.text)
        if ex.stepped.version_line is None:
            ex.stepped.note_line(event.text)
        parsed = parse_line(event.text)
        if parsed is None:
            return
        now = ex.clock()
        if isinstance(parsed, FrameRendered):
            inv.launched, inv.last_progress = True, now
            inv.rendered += 1
            ex.open_gate(run, inv, "the pilot child renders")
            if not 1 <= parsed.index <= len(inv.frames):
                return
            frame = inv.frames[parsed.index - 1]
            run.frame_times[frame] = FrameTime(seconds=parsed.seconds, at=time.time(), pid=inv.pid)
            for proven in self._delivery(run).on_frame_line(inv, frame):
                self._deliver(run, inv, proven, now)
        elif isinstance(parsed, (CompFinished, TotalTime)):
            inv.last_progress = now
            if inv.finished_at is None or isinstance(parsed, TotalTime):
                inv.finished_at = now  # the finish grace counts from the last of the two lines seen
            for proven in self._delivery(run).on_comp_finished(inv):
                self._deliver(run, inv, proven, now)
        elif isinstance(parsed, CompStarted):
            inv.launched, inv.last_progress = True, now
            ex.open_gate(run, inv, "the pilot child started its comp")
        elif isinstance(parsed, FatalError):
            inv.fatal_lines.append(parsed.text)
            if inv.fatal is None:
                inv.fatal, inv.trusted_upto = parsed.text, len(inv.reported)
            failure = classify_error(parsed.text)
            if failure.permanent:
                self._permanent(run, inv, failure)
        elif isinstance(parsed, AeWarning):
            self._on_warning(run, inv, parsed.text)
        elif isinstance(parsed, UnparsedProgress):
            inv.unparsed += 1
            inv.launched, inv.last_progress = True, now  # it renders, in a shape we do not know: not a stall
            if ex.unparsed.add(parsed.text):
                ex.reporter.message(f"warning: [chunk {run.chunk} pid {inv.pid}] a line that looks like frame "
                                    f"progress does not parse (counted in the report; its frame is not delivered "
                                    f"from it): {parsed.text}", public=True)

    def _on_warning(self, run: ChunkRun, inv: Invocation, text: str) -> None:
        ex = self.ex
        warning_class = classify_warning(text)
        fails = warning_fails(warning_class, ex.allow)
        inv.warnings.append((warning_class, text, fails))
        if ex.warnings.add(warning_class, text, fails, run.chunk, inv.frames):
            how = (f"fails the chunk; --allow {warning_class} accepts it" if fails
                   else "allowed" if warning_class != OTHER else "warning")
            ex.reporter.message(f"[chunk {run.chunk} pid {inv.pid}] {warning_class} ({how}): {text}",
                                public=warning_class != OTHER)
        if fails and inv.failing_warning is None:
            inv.failing_warning = (warning_class, text)
            self._permanent(run, inv, Failure("permanent", warning_class, text))
            ex.terminate(inv)  # what it renders now is wrong anyway

    def _permanent(self, run: ChunkRun, inv: Invocation, failure: Failure) -> None:
        """A permanent failure of ``inv``: take back what it delivered, record the failure once, halt launches."""
        ex = self.ex
        taken = self._delivery(run).withdraw(run.chunk, inv)
        if taken:
            ex.reporter.message(f"[chunk {run.chunk}] frames {FrameSet.from_frames(sorted(taken))} taken back from "
                                f"their final names: {failure.reason}")
        if ex.failures.add(failure, run.chunk):
            ex.reporter.message(f"permanent failure ({failure.reason}): {failure.text} -- not retried; no further "
                                f"aerender launches", public=True)
        ex.open_gate(run, inv, "the pilot child failed")
        if ex.halted_for(run) is None:
            everywhere = failure.reason in EVERY_CHILD
            if failure.reason in FAILING_WARNINGS:
                ex.halt(run, f"warning {failure.reason} fails the render (--allow {failure.reason} accepts it): "
                        f"{failure.text}", everywhere)
            else:
                ex.halt(run, f"permanent failure ({failure.reason}): {failure.text}", everywhere)

    def _delivery(self, run: ChunkRun) -> FrameDelivery:
        return self.ex.target_of(run).delivery

    def _global(self, run: ChunkRun, frame: int) -> int:
        """The scheduler's id of ``frame`` (a comp frame of ``run``'s target; the same number with one target)."""
        return self.ex.space.to_global(self.ex.target_of(run).index, frame)

    def _deliver(self, run: ChunkRun, inv: Invocation, frame: int, now: float) -> None:
        """``frame`` (a comp frame of the chunk's target) is proven: deliver it, tell the reporter and scheduler."""
        ex = self.ex
        if inv.failing_warning is not None:
            return
        ident = self._global(run, frame)
        state = ex.active_scheduler.chunks.get(run.chunk)
        owned = state is not None and state.owns(ident) and ident not in state.done
        delivered = self._delivery(run).deliver(run.chunk, frame, owned, inv)
        proof = inv.proof
        if proof is not None and proof.verdict in TRUSTED and not proof.told:
            proof.told = True  # the gate of the probe opens before this frame's consequences
            ex.stepped.learned(proof.verdict, run.chunk, inv.seq)
        if delivered:
            ex.reporter.frame_done(ident)
            ex.apply_actions(ex.active_scheduler.frame_done(run.chunk, ident, now))

    def _stepped_fallback(self, run: ChunkRun, inv: Invocation, left: List[int]) -> bool:
        """A stepped invocation ended: tell the run's policy what its files showed; when it ended cleanly but its
        numbering cannot be trusted, hand its undelivered frames ``left`` back to the chunk (True)."""
        ex = self.ex
        proof = inv.proof
        if proof is None:
            return False
        ex.stepped.ended(run.chunk, inv.seq)
        if proof.verdict is None:
            return False  # a crash, kill or missing line: an ordinary failure, retried as any other
        if not proof.told:
            proof.told = True
            ex.stepped.learned(proof.verdict, run.chunk, inv.seq)
        if proof.verdict in TRUSTED or not left or inv.fatal_lines or inv.failing_warning is not None:
            return False
        ex.rewind(run, left)
        return True

    def _on_launcher_exit(self, event: LauncherExitEvent) -> None:
        run, inv = self._current(event.chunk, event.seq)
        if run is not None and inv is not None:
            inv.launcher_exit, inv.launcher_ended_wall = event.code, time.time()

    def _on_exit(self, event: ExitEvent) -> None:
        ex = self.ex
        run, inv = self._current(event.chunk, event.seq)
        if run is None or inv is None:
            return
        now = ex.clock()
        code = event.code
        inv.exit_code = code
        inv.ended_wall = time.time()
        if inv.pid is not None:
            ex.reporter.child_exited(run.chunk, inv.pid, code)
            if inv.launcher_ended_wall is not None and inv.ended_wall - inv.launcher_ended_wall > 1.0:
                ex.reporter.message(f"[chunk {run.chunk} pid {inv.pid}] its process tree outlived the launcher "
                                    f"(exit {code}) by {inv.ended_wall - inv.launcher_ended_wall:.1f} s")
        if inv.process is not None:
            inv.by_tag = sorted(inv.process.by_tag)
        quiet = not inv.fatal_lines and inv.stalled is None and inv.failing_warning is None and run.killed is None
        clean = quiet and (code == 0 or inv.lingered)
        for frame in self._delivery(run).on_tree_exit(inv, clean):
            self._deliver(run, inv, frame, now)
        for frame in self._delivery(run).settle_stepped(run.chunk, inv, clean):
            self._deliver(run, inv, frame, now)
        state = ex.active_scheduler.chunks.get(run.chunk)
        left = {g for g in (self._global(run, f) for f in inv.frames)
                if state is not None and state.owns(g) and g not in state.done}  # a set: inv.frames can be 10^6
        if self._stepped_fallback(run, inv, [f for f in inv.frames if self._global(run, f) in left]):
            left = set()  # handed back to the chunk's next invocations, one per frame: not a failure
        inv.failure = invocation_failure(
            fatal_lines=inv.fatal_lines, failing_warning=inv.failing_warning, stalled=inv.stalled, exit_code=code,
            lingered=inv.lingered, stopped=run.killed, incomplete=bool(left), start_error=inv.start_error,
            rejected=list(inv.rejected.values()))
        if inv.failure is not None:
            if inv.failure.permanent:
                self._permanent(run, inv, inv.failure)
            elif inv.failure.reason != "stopped":
                ex.failures.add(inv.failure, run.chunk)
        if ex.pilot == (run.chunk, inv.seq):
            ex.open_gate(run, inv, "the pilot child ended")
        run.current = None
        if state is None:
            return  # the scheduler already let go of it (e.g. its frames all verified and it was killed)
        ok = inv.failure is None
        if ok and run.killed is None and ex.halted_for(run) is None and ex.next_invocation(run):
            return
        ex.apply_actions(ex.end_chunk(run, ok=ok, reason=exit_reason(run, inv, ok)))
