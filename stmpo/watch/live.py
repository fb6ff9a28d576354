"""The live JSON report: the run report as the reporter's events build it, rewritten atomically while a render runs.

Why from the reporter's events: the executor already calls its reporter for everything that happens (a child
started, a line, a verified frame, an exit, a failed chunk, a message), so the live report needs no hook inside
the executor loop. ``WatchReporter`` (``stmpo.watch.tee``) forwards each call to the real reporter and to a
``LiveReport``; a ``LiveWriter`` thread writes ``LiveReport.to_json()`` to the report file at most once per
``min_interval`` seconds (longer when one write takes long: at most a tenth of the time goes to writing). When the
run ends the executor writes its final report over the same file.

Live fields (the final report's schema, ``stmpo.run.RunReport.to_json``, plus): ``status`` (``running`` | ``done``
| ``failed`` | ``cancelled``), ``ok`` (None while running), ``updated`` (wall time of this write), ``total_frames``,
``done_frames``, ``eta`` (seconds or None) and ``eta_source``, ``warnings`` [{chunk, pid, text, at}],
``messages`` [{text, at}], ``live`` (True), and the context given at construction (``job``, ``host``, ``pid``,
``estimate``). Chunks carry ``chunk``, ``slot`` (inferred: the executor does not report slots; the final report has
the scheduler's), ``slot_inferred``, ``frames``, ``retry``, ``status``, ``reason``, ``start``, ``end``, ``pid``,
``exit_code``, ``invocations`` [{pid, frames, start, end, exit_code, fatal, stalled, rendering}] and
``frame_times`` {frame: {seconds, at, pid}}. ``rendering`` is the wall time of the invocation's "Starting
composition" line (the end of its start-up); the watch also adds it to the final report's invocations.
"""
from __future__ import annotations

import json
import re
import threading
import time
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional, Set

from aefarm_common.atomic import atomic_write
from stmpo.estimate import eta_seconds
from stmpo.lines import AeWarning, CompStarted, FatalError, FrameRendered, parse_line

MAX_WARNINGS = 500
MAX_MESSAGES = 200
_STALL = re.compile(r"^\[chunk (\d+) pid (\d+)\] (.+): terminating its tree$")


def _frame_list(frames: Any) -> List[int]:
    if frames is None:
        return []
    if isinstance(frames, str):
        from stmpo.frames import FrameSet

        try:
            return list(FrameSet.parse(frames)) if frames.strip() else []
        except Exception:  # noqa: BLE001 - an unreadable spec only loses frame numbers in the live view
            return []
    return [int(f) for f in frames]


class LiveReport:
    """Reporter events -> the live report dict. Thread-safe; ``to_json`` is a consistent snapshot."""

    def __init__(self, context: Dict[str, Any], slots: int, total: int = 0,
                 redact: Callable[[str], str] = lambda text: text, clock: Callable[[], float] = time.time,
                 predicted: Optional[float] = None) -> None:
        self.context = dict(context)
        self.slots = max(1, int(slots))
        self.total = max(0, int(total))
        self.redact = redact
        self.clock = clock
        self.predicted = predicted
        self.lock = threading.RLock()
        self.started = clock()
        self.ended: Optional[float] = None
        self.status = "running"
        self.ok: Optional[bool] = None
        self.summary = ""
        self.done: Set[int] = set()
        self.chunks: Dict[int, dict] = {}
        self.inv_frames: Dict[tuple, List[int]] = {}
        self.retry_frames: Set[int] = set()
        self.warnings: List[dict] = []
        self.messages: List[dict] = []

    # -- reporter events ----------------------------------------------------------------------------------
    def rendering_times(self) -> Dict[tuple, float]:
        """(chunk, pid) -> wall time of the invocation's "Starting composition" line."""
        with self.lock:
            return {(chunk_id, inv["pid"]): inv["rendering"] for chunk_id, chunk in self.chunks.items()
                    for inv in chunk["invocations"] if inv.get("rendering") is not None}

    def run_started(self, total_frames: int, plan_lines: Any = ()) -> None:
        with self.lock:
            self.total = max(0, int(total_frames))
            self.started = self.clock()

    def child_started(self, chunk_id: int, pid: int, frames: Any) -> None:
        with self.lock:
            now = self.clock()
            frame_list = _frame_list(frames)
            chunk = self.chunks.get(chunk_id)
            if chunk is None:
                retry = bool(self.retry_frames.intersection(frame_list))
                self.retry_frames.difference_update(frame_list)
                chunk = {"chunk": chunk_id, "slot": self._free_slot(), "slot_inferred": True, "frames": str(frames),
                         "retry": retry, "status": "running", "reason": "", "start": now, "end": None, "pid": pid,
                         "exit_code": None, "invocations": [], "frame_times": {}}
                self.chunks[chunk_id] = chunk
            chunk["status"], chunk["end"] = "running", None
            chunk["invocations"].append({"pid": pid, "frames": str(frames), "start": now, "end": None,
                                         "exit_code": None, "fatal": None, "stalled": None, "rendering": None})
            self.inv_frames[(chunk_id, pid)] = frame_list

    def child_output(self, chunk_id: int, pid: int, line: str) -> bool:
        """True when the line changed the report (a frame, a fatal error, a warning)."""
        event = parse_line(line)
        if event is None:
            return False
        with self.lock:
            inv = self._invocation(chunk_id, pid)
            if isinstance(event, FrameRendered):
                frames = self.inv_frames.get((chunk_id, pid)) or []
                if inv is None or not 1 <= event.index <= len(frames):
                    return False
                frame = frames[event.index - 1]
                self.chunks[chunk_id]["frame_times"][str(frame)] = {
                    "seconds": event.seconds, "at": self.clock(), "pid": pid}
                return True
            if isinstance(event, CompStarted):
                if inv is not None and inv.get("rendering") is None:
                    inv["rendering"] = self.clock()
                return True
            if isinstance(event, FatalError):
                if inv is not None and inv["fatal"] is None:
                    inv["fatal"] = self.redact(event.text)
                return True
            if isinstance(event, AeWarning) and len(self.warnings) < MAX_WARNINGS:
                self.warnings.append({"chunk": chunk_id, "pid": pid, "text": self.redact(line.strip()),
                                      "at": self.clock()})
                return True
        return False

    def frame_done(self, frame: int) -> None:
        with self.lock:
            self.done.add(frame)

    def child_exited(self, chunk_id: int, pid: int, exit_code: Optional[int]) -> None:
        with self.lock:
            inv = self._invocation(chunk_id, pid)
            if inv is None:
                return
            inv["end"], inv["exit_code"] = self.clock(), exit_code
            chunk = self.chunks[chunk_id]
            chunk["end"], chunk["exit_code"] = inv["end"], exit_code
            if chunk["status"] == "running":
                chunk["status"] = "done" if exit_code == 0 and not inv["fatal"] and not inv["stalled"] else "exited"

    def chunk_failed(self, chunk_id: int, reason: str, retrying: bool) -> None:
        with self.lock:
            chunk = self.chunks.get(chunk_id)
            if chunk is None:
                return
            chunk["status"], chunk["reason"] = "failed", self.redact(reason)
            if retrying:
                for inv in chunk["invocations"]:
                    frames = self.inv_frames.get((chunk_id, inv["pid"])) or []
                    self.retry_frames.update(f for f in frames if f not in self.done)

    def message(self, text: str) -> None:
        text = self.redact(text)
        with self.lock:
            stall = _STALL.match(text)
            if stall:
                inv = self._invocation(int(stall.group(1)), int(stall.group(2)))
                if inv is not None and not inv["stalled"]:
                    inv["stalled"] = stall.group(3)
            self.messages.append({"text": text, "at": self.clock()})
            del self.messages[:-MAX_MESSAGES]

    def run_finished(self, ok: bool, summary: str, cancelled: bool = False) -> None:
        with self.lock:
            self.ok = bool(ok)
            self.ended = self.clock()
            self.summary = self.redact(summary)
            self.status = "done" if ok else ("cancelled" if cancelled or summary.startswith("cancelled") else
                                             "failed")

    def fail(self, reason: str) -> None:
        """The run stopped on an error before its end (no final report will follow)."""
        with self.lock:
            if self.status == "running":
                self.ok, self.ended, self.status = False, self.clock(), "failed"
                self.summary = self.redact(f"FAILED: {reason}")

    # -- the report ---------------------------------------------------------------------------------------
    def eta(self, now: Optional[float] = None) -> tuple:
        with self.lock:
            if self.status != "running":
                return (0.0, "") if self.status == "done" else (None, "")
            now = self.clock() if now is None else now
            return eta_seconds(now - self.started, len(self.done), self.total, self.predicted)

    def to_json(self) -> dict:
        with self.lock:
            now = self.clock()
            eta, source = self.eta(now)
            chunks = []
            for chunk_id in sorted(self.chunks):
                chunk = dict(self.chunks[chunk_id])
                chunk["invocations"] = [dict(inv) for inv in chunk["invocations"]]
                chunk["frame_times"] = dict(chunk["frame_times"])
                chunks.append(chunk)
            report = dict(self.context)
            report.update({
                "status": self.status, "ok": self.ok, "cancelled": self.status == "cancelled",
                "summary": self.summary, "started": self.started, "ended": self.ended, "updated": now,
                "total_frames": self.total, "done_frames": len(self.done), "eta": eta, "eta_source": source,
                "chunks": chunks, "warnings": list(self.warnings), "messages": list(self.messages), "live": True})
            return report

    # -- internals ----------------------------------------------------------------------------------------
    def _invocation(self, chunk_id: int, pid: int) -> Optional[dict]:
        chunk = self.chunks.get(chunk_id)
        if chunk is None:
            return None
        for inv in reversed(chunk["invocations"]):
            if inv["pid"] == pid:
                return inv
        return None

    def _free_slot(self) -> int:
        """The lowest slot without a running chunk, as the scheduler picks; during a hand-off (every slot busy) the
        slot of the running chunk closest to its end."""
        busy: Dict[int, dict] = {}
        for chunk in self.chunks.values():
            if chunk["invocations"] and chunk["invocations"][-1]["end"] is None:
                busy[chunk["slot"]] = chunk
        for slot in range(self.slots):
            if slot not in busy:
                return slot

        def progress(chunk: dict) -> float:
            inv = chunk["invocations"][-1]
            frames = self.inv_frames.get((chunk["chunk"], inv["pid"])) or []
            return sum(1 for f in frames if f in self.done) / max(1, len(frames))

        return max(busy.values(), key=lambda c: (progress(c), -c["slot"]))["slot"]


class LiveWriter:
    """Writes ``snapshot()`` as JSON to ``path`` (atomically) at a bounded rate from its own thread.

    ``poke()`` says something changed (cheap; any thread). ``close()`` stops the thread, waits for a write in
    progress and writes the last snapshot: after it returns nothing more is written, so the executor's final report
    cannot be overwritten by a late live one. Write errors never reach the render: the last one is kept in
    ``error``."""

    def __init__(self, path: Path, snapshot: Callable[[], dict], min_interval: float = 1.0) -> None:
        self.path = Path(path)
        self.snapshot = snapshot
        self.min_interval = max(0.0, float(min_interval))
        self.error: Optional[str] = None
        self.writes = 0
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._write_lock = threading.Lock()
        self._closed = False
        self._thread = threading.Thread(target=self._run, name="stmpo-live-report", daemon=True)

    def start(self) -> "LiveWriter":
        self._thread.start()
        return self

    def poke(self) -> None:
        self._wake.set()

    def close(self, final_write: bool = True) -> None:
        if self._closed:
            return
        self._closed = True
        self._stop.set()
        self._wake.set()
        if self._thread.is_alive():
            self._thread.join(timeout=30.0)
        if final_write:
            self.write_now()

    def write_now(self) -> float:
        """Write one snapshot now; returns the seconds it took."""
        began = time.monotonic()
        with self._write_lock:
            try:
                data = json.dumps(self.snapshot(), indent=1, sort_keys=True)
                self.path.parent.mkdir(parents=True, exist_ok=True)
                with atomic_write(self.path, mode="w") as handle:
                    handle.write(data + "\n")
                self.writes += 1
            except (OSError, ValueError, TypeError) as exc:
                self.error = str(exc)
        return time.monotonic() - began

    def _run(self) -> None:
        while not self._stop.is_set():
            self._wake.wait()
            if self._stop.is_set():
                return
            self._wake.clear()
            took = self.write_now()
            # bounded rate: nothing sooner than min_interval, and at most a tenth of the time spent writing
            if self._stop.wait(max(self.min_interval, 10.0 * took)):
                return
