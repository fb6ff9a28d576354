"""Cancel by signal: SIGINT/SIGTERM (and CTRL_BREAK on Windows) set the run's cancel event while a run is in progress.

Why a module of its own: signal handling is process-wide state (handlers are installed on the main thread and must be
put back afterwards), while the executor only needs to learn *that* and *why* it was cancelled. The handler does the
least a handler may do -- record the reason and set an event -- and the executor's loop turns that into terminating
every child process tree (``stmpo.children``) and a ``cancelled`` run report.

Before a run exists (argument parsing, preflight, project conversion, font installation), a render entry point
installs ``CancelLatch`` handlers as its first act: a signal then only *latches* (the process is not killed by it and
nothing is interrupted half-way); the render goes on to the executor, which sees the latch when it enters
``SignalCancel``, starts no child, and writes its cancelled report (exit 130). A signal that arrives before the entry
point's first line (the interpreter's own start-up, about 0.1 s) still ends the process the OS's way: nothing has
started or been written by then.
"""
from __future__ import annotations

import signal
import sys
import threading
from types import FrameType, TracebackType
from typing import Callable, Dict, List, Optional, Type, Union

Handler = Union[Callable[[int, Optional[FrameType]], object], int, signal.Handlers, None]


def cancel_signals() -> List[signal.Signals]:
    """The signals that cancel a render on this OS."""
    signals = [signal.SIGINT, signal.SIGTERM]
    if sys.platform == "win32":
        signals.append(signal.SIGBREAK)  # CTRL_BREAK_EVENT, what a farm agent sends a console process group
    return signals


def _reason(signum: int) -> str:
    try:
        name = signal.Signals(signum).name
    except ValueError:
        name = str(signum)
    return f"cancelled by {name}"


class CancelLatch:
    """A cancel signal that arrived while no run was in progress: remembered until a run looks (process-wide).

    ``install()`` (main thread only; a no-op elsewhere) puts latching handlers on the cancel signals and arms the
    latch; ``restore()`` puts the previous handlers back and disarms it. Only an armed latch is tripped, so code
    that never installed it (tests, embedding) never sees a stale cancel."""

    def __init__(self) -> None:
        self.event = threading.Event()
        self.reason = ""
        self.armed = False
        self._previous: Dict[int, Handler] = {}

    @property
    def tripped(self) -> bool:
        return self.armed and self.event.is_set()

    def trip(self, reason: str) -> None:
        if self.armed and not self.event.is_set():
            self.reason = reason
            self.event.set()

    def install(self) -> "CancelLatch":
        if threading.current_thread() is not threading.main_thread():
            return self
        self.armed = True
        for sig in cancel_signals():
            try:
                self._previous[sig] = signal.signal(sig, self._handle)
            except (ValueError, OSError):
                pass
        return self

    def _handle(self, signum: int, frame: Optional[FrameType]) -> None:
        self.trip(_reason(signum))

    def restore(self) -> None:
        for sig, handler in self._previous.items():
            try:
                signal.signal(sig, handler)
            except (ValueError, OSError, TypeError):
                pass
        self._previous.clear()
        self.armed = False
        self.event.clear()
        self.reason = ""


LATCH = CancelLatch()
"""The process's one latch (installed by the render entry points: `aefarm render`, the OpenJD task, the accsyn app)."""


class SignalCancel:
    """While entered (on the main thread): a cancel signal calls ``on_cancel("cancelled by SIGTERM")``; a signal
    the armed ``LATCH`` caught before (preflight, remap) calls it at once on entering.

    Off the main thread Python cannot install handlers, so entering only consults the latch there. Leaving restores
    the previous handlers (the latch's, when it is installed: a signal after the run still latches)."""

    def __init__(self, on_cancel: Callable[[str], None], latch: Optional[CancelLatch] = None) -> None:
        self.on_cancel = on_cancel
        self.latch = latch if latch is not None else LATCH
        self.previous: Dict[int, Handler] = {}

    def __enter__(self) -> "SignalCancel":
        if threading.current_thread() is threading.main_thread():
            for sig in cancel_signals():
                try:
                    self.previous[sig] = signal.signal(sig, self._handle)
                except (ValueError, OSError):
                    pass
        if self.latch.tripped:
            self.on_cancel(self.latch.reason)
        return self

    def _handle(self, signum: int, frame: Optional[FrameType]) -> None:
        reason = _reason(signum)
        self.latch.trip(reason)
        self.on_cancel(reason)

    def __exit__(self, exc_type: Optional[Type[BaseException]], exc: Optional[BaseException],
                 tb: Optional[TracebackType]) -> None:
        for sig, handler in self.previous.items():
            try:
                signal.signal(sig, handler)
            except (ValueError, OSError, TypeError):
                pass
