"""Cancel by signal: SIGINT/SIGTERM (and CTRL_BREAK on Windows) set the run's cancel event while a run is in progress.

Why a module of its own: signal handling is process-wide state (handlers are installed on the main thread and must be
put back afterwards), while the executor only needs to learn *that* and *why* it was cancelled. The handler does the
least a handler may do -- record the reason and set an event -- and the executor's loop turns that into terminating
every child process tree (``stmpo.children``) and a ``cancelled`` run report.
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


class SignalCancel:
    """While entered (on the main thread): a cancel signal calls ``on_cancel("cancelled by SIGTERM")``.

    Off the main thread Python cannot install handlers, so entering does nothing there. Leaving restores the
    previous handlers."""

    def __init__(self, on_cancel: Callable[[str], None]) -> None:
        self.on_cancel = on_cancel
        self.previous: Dict[int, Handler] = {}

    def __enter__(self) -> "SignalCancel":
        if threading.current_thread() is not threading.main_thread():
            return self
        for sig in cancel_signals():
            try:
                self.previous[sig] = signal.signal(sig, self._handle)
            except (ValueError, OSError):
                pass
        return self

    def _handle(self, signum: int, frame: Optional[FrameType]) -> None:
        try:
            name = signal.Signals(signum).name
        except ValueError:
            name = str(signum)
        self.on_cancel(f"cancelled by {name}")

    def __exit__(self, exc_type: Optional[Type[BaseException]], exc: Optional[BaseException],
                 tb: Optional[TracebackType]) -> None:
        for sig, handler in self.previous.items():
            try:
                signal.signal(sig, handler)
            except (ValueError, OSError, TypeError):
                pass
