"""``WatchReporter``: a reporter that forwards every executor event to the real reporter and keeps the live report.

It sits between the executor and the progress reporter (bar, OpenJD, accsyn, log), so neither changes: every call
goes to the real reporter first (its protocol lines keep their order; stdout still has one writer), then updates
the ``LiveReport`` and pokes the ``LiveWriter``. With an estimate from the history it also says the predicted wall
time once when the run starts, and an ETA at most every ``eta_every`` seconds through the real reporter's public
messages (OpenJD ``openjd_status:``, accsyn ``!`` lines, log lines); on a terminal bar the same ETA replaces tqdm's
own rate-based one (``show_eta``, at most every ``BAR_ETA_EVERY`` seconds). Attributes it does not define
(``kind``, ``announce_app``, ``log_path`` ...) are the real reporter's.
"""
from __future__ import annotations

import time
from typing import Any, Callable, Optional

from stmpo.estimate import Estimate, format_seconds
from stmpo.watch.live import LiveReport, LiveWriter

BAR_ETA_EVERY = 1.0  # seconds between ETA updates of a terminal bar (messages: ``eta_every``)


class WatchReporter:
    def __init__(self, inner: Any, live: Optional[LiveReport] = None, live_writer: Optional[LiveWriter] = None,
                 estimate: Optional[Estimate] = None, eta_every: float = 30.0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.inner = inner
        self.live = live
        self.live_writer = live_writer
        self.estimate = estimate
        self.eta_every = eta_every
        self.clock = clock
        self._last_eta = clock()
        self._started_at = clock()
        self._done = 0
        self._total = 0

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    def _poke(self) -> None:
        if self.live_writer is not None:
            self.live_writer.poke()

    # -- the executor's API ---------------------------------------------------------------------------------
    def run_started(self, total_frames: int, plan_lines: Any) -> None:
        self.inner.run_started(total_frames, plan_lines)
        self._total, self._started_at = int(total_frames), self.clock()
        self._last_eta = self._started_at
        if self.live is not None:
            self.live.run_started(total_frames, plan_lines)
            self._poke()
        if self.estimate is not None:
            self.inner.message(self.estimate.describe()[0] + f" (from {self.estimate.runs} earlier "
                               f"{'run' if self.estimate.runs == 1 else 'runs'})", public=True)

    def child_started(self, chunk_id: int, pid: int, frames: Any) -> None:
        self.inner.child_started(chunk_id, pid, frames)
        if self.live is not None:
            self.live.child_started(chunk_id, pid, frames)
            self._poke()

    def child_output(self, chunk_id: int, pid: int, line: str) -> None:
        self.inner.child_output(chunk_id, pid, line)
        if self.live is not None and self.live.child_output(chunk_id, pid, line):
            self._poke()

    def child_exited(self, chunk_id: int, pid: int, exit_code: Optional[int]) -> None:
        closer = getattr(self.inner, "child_exited", None)
        if closer is not None:
            closer(chunk_id, pid, exit_code)
        if self.live is not None:
            self.live.child_exited(chunk_id, pid, exit_code)
            self._poke()

    def frame_done(self, frame: int) -> None:
        self.inner.frame_done(frame)
        self._done += 1
        if self.live is not None:
            self.live.frame_done(frame)
            self._poke()
        self._maybe_eta()

    def chunk_failed(self, chunk_id: int, reason: str, retrying: bool) -> None:
        self.inner.chunk_failed(chunk_id, reason, retrying)
        if self.live is not None:
            self.live.chunk_failed(chunk_id, reason, retrying)
            self._poke()

    def message(self, text: str, public: bool = False) -> None:
        self.inner.message(text, public)
        if self.live is not None:
            self.live.message(text)
            self._poke()

    def run_finished(self, ok: bool, missing: Any, summary: str) -> None:
        self.inner.run_finished(ok, missing, summary)
        if self.live is not None:
            self.live.run_finished(ok, summary)
        if self.live_writer is not None:
            self.live_writer.close()  # the last live write happens before the executor writes its final report

    def fail(self, reason: str) -> None:
        """The run stopped on an error: the live report says so and stops."""
        if self.live is not None:
            self.live.fail(reason)
        if self.live_writer is not None:
            self.live_writer.close()

    # -- the ETA through the real reporter -------------------------------------------------------------------
    def _maybe_eta(self) -> None:
        if self.estimate is None:
            return
        bar = getattr(self.inner, "kind", "log") == "bar"
        now = self.clock()
        if now - self._last_eta < (BAR_ETA_EVERY if bar else self.eta_every) or self._done >= self._total:
            return
        self._last_eta = now
        if self.live is not None:
            eta, source = self.live.eta()
        else:
            from stmpo.estimate import eta_seconds

            eta, source = eta_seconds(now - self._started_at, self._done, self._total, self.estimate.seconds)
        if eta is None:
            return
        if bar:
            self.inner.show_eta(f"ETA {format_seconds(eta)}" + (f" ({source})" if source else ""))
        else:
            self.inner.message(f"ETA {format_seconds(eta)} ({self._done}/{self._total} frames verified)",
                               public=True)
