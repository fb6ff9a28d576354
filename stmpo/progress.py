"""Progress reporting: reporters turn executor events into each farm's protocol, written through the one writer.

Every reporter writes through ``stmpo.writer.OutputWriter`` (one writer owns stdout, so protocol lines never
interleave with child output), redacts secrets (``stmpo.redact``) and keeps per-child logs (``stmpo.childlogs``).
The executor sees them through ``stmpo.seams.RenderReporter``.

Reporter methods are called by the executor from any thread (reader threads, the scheduler, signal handling).
Per-child logs: give a reporter `log_dir` and it writes every line of child `chunk_id`/`pid` to
`<log_dir>/chunk-<chunk_id:03d>-pid-<pid>.log` (from the calling reader thread, line-buffered, secrets redacted);
`log_path(chunk_id, pid)` tells the executor where, for its run report. `child_exited()` closes a child's file;
`close()` closes everything.
"""
from __future__ import annotations

import json
import os
import sys
import threading
from pathlib import Path
from typing import IO, Any, Iterable, List, Optional, Sequence, Set, Union

from stmpo.childlogs import ChildLogs
from stmpo.frames import FrameSet
from stmpo.lines import AeWarning, FatalError, parse_line
from stmpo.redact import Redactor
from stmpo.writer import OutputWriter

__all__ = [
    "Reporter", "LogReporter", "OpenJDReporter", "AccsynReporter", "BarReporter", "make_reporter", "REPORTER_KINDS",
    "format_percent",
]

REPORTER_KINDS = ("auto", "bar", "openjd", "accsyn", "log")


def _one_line(text: str) -> str:
    return " ".join(str(text).splitlines()) if ("\n" in text or "\r" in text) else text


def format_percent(tenths: int) -> str:
    """Tenths of a percent -> `12.5`, `50` (at most one decimal)."""
    whole, tenth = divmod(tenths, 10)
    return f"{whole}.{tenth}" if tenth else str(whole)


Frames = Union[FrameSet, str, None]  # what a reporter prints as a frame list


def _frames_text(frames: Frames) -> str:
    return str(frames) if frames is not None else ""


class Reporter:
    """Base reporter: thread-safe bookkeeping (verified frames, per-child logs) and plain-log defaults.

    Subclasses change how things are shown, through `_show_*` hooks called with the lock held (so the order of
    lines queued to the writer is the order of events).
    """

    kind = "log"

    def __init__(self, writer: OutputWriter, total: int = 0, log_dir: "os.PathLike[str] | str | None" = None,
                 redactor: Optional[Redactor] = None) -> None:
        self.writer = writer
        self.total = max(0, int(total))
        self.logs: Optional[ChildLogs] = ChildLogs(log_dir) if log_dir is not None else None
        self.redact = redactor if redactor is not None else Redactor.from_env()
        self._lock = threading.RLock()
        self._done: Set[int] = set()

    # -- the executor's API ---------------------------------------------------------------------------------
    def run_started(self, total_frames: int, plan_lines: Sequence[str]) -> None:
        with self._lock:
            self.total = max(0, int(total_frames))
            self._show_run_started(list(plan_lines))

    def child_started(self, chunk_id: int, pid: int, frames: Frames) -> None:
        if self.logs is not None:
            self.logs.open(chunk_id, pid)
        with self._lock:
            self._show_child_started(chunk_id, pid, _frames_text(frames))

    def child_output(self, chunk_id: int, pid: int, line: str) -> None:
        line = self.redact(line)
        if self.logs is not None:
            self.logs.write(chunk_id, pid, line)
        with self._lock:
            self._show_child_output(chunk_id, pid, line)

    def child_exited(self, chunk_id: int, pid: int, exit_code: Optional[int]) -> None:
        """The child's tree is gone: closes its log file."""
        if self.logs is not None:
            self.logs.write(chunk_id, pid, f"[aefarm] exit code {exit_code}")
            self.logs.close(chunk_id, pid)

    def frame_done(self, frame: int) -> None:
        with self._lock:
            if frame in self._done:
                return
            self._done.add(frame)
            self._show_frame_done(frame)

    def chunk_failed(self, chunk_id: int, reason: str, retrying: bool) -> None:
        with self._lock:
            self._show_chunk_failed(chunk_id, _one_line(self.redact(reason)), retrying)

    def message(self, text: str, public: bool = False) -> None:
        with self._lock:
            self._show_message(self.redact(text), public)

    def run_finished(self, ok: bool, missing: Frames, summary: str) -> None:
        with self._lock:
            self._show_run_finished(ok, _frames_text(missing) if missing else "", _one_line(self.redact(summary)))

    def close(self) -> None:
        """Close per-child logs and wait until every queued line is written (the writer stays open)."""
        if self.logs is not None:
            self.logs.close_all()
        self.writer.flush(timeout=10.0)

    def log_path(self, chunk_id: int, pid: int) -> Optional[Path]:
        return self.logs.path(chunk_id, pid) if self.logs is not None else None

    @property
    def frames_done(self) -> int:
        return len(self._done)

    def _tenths(self) -> int:
        """Progress in tenths of a percent, rounded down (100 only when every frame is verified)."""
        if self.total <= 0:
            return 0
        return min(1000, len(self._done) * 1000 // self.total)

    # -- how things are shown (plain log) --------------------------------------------------------------------
    def _out(self, text: str) -> None:
        self.writer.line(text)

    def _show_run_started(self, plan_lines: List[str]) -> None:
        for line in plan_lines:
            self._out(self.redact(line))
        self._out(f"rendering {self.total} frames")

    def _show_child_started(self, chunk_id: int, pid: int, frames: str) -> None:
        self._out(f"[chunk {chunk_id} pid {pid}] started, frames {frames}")

    def _show_child_output(self, chunk_id: int, pid: int, line: str) -> None:
        self._out(f"[chunk {chunk_id} pid {pid}] {line}")

    def _show_frame_done(self, frame: int) -> None:
        pass

    def _show_chunk_failed(self, chunk_id: int, reason: str, retrying: bool) -> None:
        self._out(f"[chunk {chunk_id}] failed: {reason}" + (" (retrying)" if retrying else ""))

    def _show_message(self, text: str, public: bool) -> None:
        self._out(text)

    def _show_run_finished(self, ok: bool, missing: str, summary: str) -> None:
        if missing:
            self._out(f"missing frames: {missing}")
        self._out(summary)


class LogReporter(Reporter):
    """Plain prefixed logs (`[chunk 3 pid 1234] line`) plus a progress line each time the whole percent grows."""

    kind = "log"

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._last_percent = -1

    def _show_frame_done(self, frame: int) -> None:
        percent = self._tenths() // 10
        if percent > self._last_percent:
            self._last_percent = percent
            self._out(f"progress: {self.frames_done}/{self.total} frames ({percent}%)")


class OpenJDReporter(Reporter):
    """Open Job Description stdout protocol (docs/formats.md §5, §15), every protocol line whole and at column 0.

    `openjd_progress:` only ever grows (floor to 0.1 of verified/total); milestones go out as `openjd_status:`;
    a failed run says why in `openjd_fail:` (the exit code still decides). Child output stays plain, prefixed, so
    a child can never emit a protocol line.
    """

    kind = "openjd"

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._last_tenths = 0

    def _status(self, text: str) -> None:
        self._out(f"openjd_status: {_one_line(text)}")

    def _progress(self) -> None:
        tenths = self._tenths()
        if tenths > self._last_tenths:
            self._last_tenths = tenths
            self._out(f"openjd_progress: {format_percent(tenths)}")

    def _show_run_started(self, plan_lines: List[str]) -> None:
        for line in plan_lines:
            self._out(self.redact(line))
        self._status(f"Rendering {self.total} frames")

    def _show_child_started(self, chunk_id: int, pid: int, frames: str) -> None:
        self._out(f"[chunk {chunk_id} pid {pid}] started, frames {frames}")

    def _show_frame_done(self, frame: int) -> None:
        self._progress()

    def _show_chunk_failed(self, chunk_id: int, reason: str, retrying: bool) -> None:
        self._status(f"chunk {chunk_id} failed: {reason}" + ("; retrying" if retrying else ""))

    def _show_message(self, text: str, public: bool) -> None:
        if public:
            self._status(text)
        else:
            self._out(text)

    def _show_run_finished(self, ok: bool, missing: str, summary: str) -> None:
        if ok:  # every expected frame verified (frames kept by --resume may never have been reported)
            if self._last_tenths < 1000:
                self._last_tenths = 1000
                self._out("openjd_progress: 100")
            self._status(summary)
        else:
            self._out(f"openjd_fail: {summary}" + (f" (missing frames: {missing})" if missing else ""))


def accsyn_frame_line(frame: int) -> str:
    """The line accsyn reads as 'this frame is done' (exact key order and spacing matter)."""
    return json.dumps({"taskstatus": True, "uri": str(frame), "status": "done"})


class AccsynReporter(Reporter):
    """accsyn compute-app markers (docs/formats.md §4, §15): a JSON line per verified frame, the PID line per child,
    user-visible lines prefixed `!`. Child output stays plain, prefixed."""

    kind = "accsyn"

    def announce_app(self, pid: Optional[int] = None) -> None:
        """`Accsyn PID(<pid>)`: tells the daemon which process is the app (default: this one)."""
        with self._lock:
            self._out(f"Accsyn PID({os.getpid() if pid is None else pid})")

    def _public(self, text: str) -> None:
        self._out("!" + _one_line(text))

    def _show_run_started(self, plan_lines: List[str]) -> None:
        for line in plan_lines:
            self._out(self.redact(line))
        self._public(f"Rendering {self.total} frames")

    def _show_child_started(self, chunk_id: int, pid: int, frames: str) -> None:
        self._out(f"Additional accsyn PID({pid}) - main process")
        self._out(f"[chunk {chunk_id} pid {pid}] started, frames {frames}")

    def _show_frame_done(self, frame: int) -> None:
        self._out(accsyn_frame_line(frame))

    def _show_chunk_failed(self, chunk_id: int, reason: str, retrying: bool) -> None:
        self._public(f"chunk {chunk_id} failed: {reason}" + ("; retrying" if retrying else ""))

    def _show_message(self, text: str, public: bool) -> None:
        if public:
            self._public(text)
        else:
            self._out(text)

    def _show_run_finished(self, ok: bool, missing: str, summary: str) -> None:
        if missing:
            self._public(f"missing frames: {missing}")
        self._public(summary)


class BarReporter(Reporter):
    """A tqdm progress bar with ETA on stderr, for people at a terminal.

    stdout stays clean: child output goes only to the per-child log files (give `log_dir`), except aerender's
    fatal and warning lines, which are shown above the bar. Messages are written above the bar on stderr; the final
    summary goes to stdout through the writer so scripts can still capture it.
    """

    kind = "bar"
    # with an ETA from the render history (``show_eta``) the bar shows that one instead of tqdm's own remaining time
    ETA_FORMAT = "{desc}: {percentage:3.0f}%|{bar}| {n_fmt}/{total_fmt} [{elapsed}, {rate_fmt}{postfix}]"

    def __init__(self, writer: OutputWriter, total: int = 0, log_dir: "os.PathLike[str] | str | None" = None,
                 redactor: Optional[Redactor] = None, stream: Optional[IO[str]] = None) -> None:
        super().__init__(writer, total, log_dir, redactor)
        self._stream = stream if stream is not None else sys.stderr
        self._bar: Any = None
        self._eta = ""
        self._status = ""

    def show_eta(self, text: str) -> None:
        """``text`` (e.g. ``ETA 1m20s (history)``, from ``stmpo.estimate`` through the render watch) becomes the
        bar's ETA, in place of tqdm's rate-only remaining time."""
        with self._lock:
            bar = self._ensure_bar()
            bar.bar_format = self.ETA_FORMAT
            self._eta = text
            self._postfix(bar)

    def _postfix(self, bar: Any) -> None:
        bar.set_postfix_str(", ".join(t for t in (self._eta, self._status) if t), refresh=False)

    def _ensure_bar(self) -> Any:
        if self._bar is None:
            from tqdm import tqdm  # imported lazily: only a terminal run pays for it
            self._bar = tqdm(total=self.total or None, file=self._stream, unit="frame", dynamic_ncols=True,
                             smoothing=0.1, desc="render", leave=True)
        return self._bar

    def _above(self, text: str) -> None:
        from tqdm import tqdm
        tqdm.write(text, file=self._stream)

    def _show_run_started(self, plan_lines: List[str]) -> None:
        for line in plan_lines:
            self._above(self.redact(line))
        bar = self._ensure_bar()
        bar.total = self.total
        bar.refresh()

    def _show_child_started(self, chunk_id: int, pid: int, frames: str) -> None:
        self._status = f"chunk {chunk_id} started ({frames})"
        self._postfix(self._ensure_bar())

    def _show_child_output(self, chunk_id: int, pid: int, line: str) -> None:
        if "rror" in line or "arn" in line or "ISSING" in line:
            event = parse_line(line)
            if isinstance(event, (FatalError, AeWarning)):
                self._above(f"[chunk {chunk_id} pid {pid}] {line}")

    def _show_frame_done(self, frame: int) -> None:
        self._ensure_bar().update(1)

    def _show_chunk_failed(self, chunk_id: int, reason: str, retrying: bool) -> None:
        self._above(f"chunk {chunk_id} failed: {reason}" + (" (retrying)" if retrying else ""))

    def _show_message(self, text: str, public: bool) -> None:
        self._above(text)

    def _show_run_finished(self, ok: bool, missing: str, summary: str) -> None:
        if self._bar is not None:
            self._bar.close()
            self._bar = None
        if missing:
            self._out(f"missing frames: {missing}")
        self._out(summary)

    def close(self) -> None:
        with self._lock:
            if self._bar is not None:
                self._bar.close()
                self._bar = None
        super().close()


def make_reporter(kind: str, writer: OutputWriter, total: int = 0,
                  log_dir: "os.PathLike[str] | str | None" = None, *, tty: Optional[bool] = None,
                  secrets: Iterable[str] = ()) -> Reporter:
    """`auto` = a bar when stderr is a terminal, else plain logs. `tty` overrides the terminal check (tests).
    ``secrets``: values to hide besides this process's secret-named variables (e.g. those of the job's env file)."""
    if kind == "auto":
        if tty is None:
            try:
                tty = sys.stderr.isatty()
            except (AttributeError, ValueError):
                tty = False
        kind = "bar" if tty else "log"
    classes = {"bar": BarReporter, "openjd": OpenJDReporter, "accsyn": AccsynReporter, "log": LogReporter}
    cls = classes.get(kind)
    if cls is None:
        raise ValueError(f"unknown progress kind {kind!r}: choose one of {', '.join(REPORTER_KINDS)}")
    return cls(writer, total, log_dir, redactor=Redactor.from_env(extra=secrets))
