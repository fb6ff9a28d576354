"""`aefarm accsyn run`: play accsyn's queue and daemon on this machine for one payload.

It writes the daemon's data.json per work item, runs the compute app (`engines/aftereffects/accsyn_app.py`, with this
Python) once per bucket with ACCSYN_ITEM set, at most ``--parallel`` at once, and checks that every frame of the
range came back as a `taskstatus` line. Exit 0 only then; 4 naming the missing frames otherwise; 130 when cancelled
(each app is sent SIGTERM, or CTRL_BREAK on Windows, and terminates its own aerender trees). The plain-data part
(payload, buckets, wrapper, `taskstatus` lines) is ``engines.aftereffects.accsyn_local``.
"""
from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, List, Optional, Set

from aefarm_common import exitcodes
from engines.aftereffects.accsyn_errors import AccsynError

PROG_RUN = "aefarm accsyn run"


@dataclass
class TaskResult:
    item: str
    exit_code: Optional[int] = None
    reported: Set[int] = field(default_factory=set)
    started: bool = False


class LocalRunner:
    """Runs the app once per work item, at most ``parallel`` at once; SIGTERM/SIGINT forward SIGTERM to each app."""

    def __init__(self, wrapper: Dict[str, Any], items: List[str], work: Path, writer: Any, parallel: int = 1,
                 env: Optional[Dict[str, str]] = None) -> None:
        self.wrapper, self.items, self.work, self.writer = wrapper, items, work, writer
        self.parallel = max(1, parallel)
        self.env = dict(os.environ if env is None else env)
        self.cancelled = threading.Event()
        self._lock = threading.Lock()
        self._live: Set[subprocess.Popen] = set()

    def cancel(self) -> None:
        self.cancelled.set()
        with self._lock:
            live = list(self._live)
        for proc in live:
            _stop(proc)

    def run(self) -> List[TaskResult]:
        from aefarm_common.atomic import atomic_write
        from engines.aftereffects.accsyn_local import APP_FILE

        self.app = APP_FILE
        self.data_files: List[Path] = []
        for number, _item in enumerate(self.items, 1):
            folder = self.work / f"task-{number:04d}"
            folder.mkdir(parents=True, exist_ok=True)
            data_file = folder / "data.json"
            with atomic_write(data_file, mode="w") as handle:
                json.dump(self.wrapper, handle, indent=2)
            self.data_files.append(data_file)
        with ThreadPoolExecutor(max_workers=self.parallel) as pool:
            return list(pool.map(self._task, range(len(self.items))))

    def _task(self, index: int) -> TaskResult:
        item = self.items[index]
        result = TaskResult(item)
        if self.cancelled.is_set():
            return result
        env = dict(self.env)
        env["ACCSYN_ITEM"] = item
        argv = [sys.executable, str(self.app), str(self.data_files[index])]
        popen_extra: Dict[str, Any] = {}
        if sys.platform == "win32":  # CTRL_BREAK reaches only a group of its own; the app turns it into a cancel
            popen_extra["creationflags"] = subprocess.CREATE_NEW_PROCESS_GROUP
        else:
            popen_extra["start_new_session"] = True  # a terminal's Ctrl-C reaches us; we forward SIGTERM once
        self.writer.line(f"task {item}: starting the accsyn app")
        proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                env=env, cwd=str(self.data_files[index].parent), **popen_extra)
        result.started = True
        with self._lock:
            self._live.add(proc)
        if self.cancelled.is_set():
            _stop(proc)
        from engines.aftereffects.accsyn_local import taskstatus_frame
        from stmpo.lines import LineSplitter

        splitter = LineSplitter()
        assert proc.stdout is not None
        while True:
            chunk = proc.stdout.read1(65536) if hasattr(proc.stdout, "read1") else proc.stdout.read(4096)
            lines = splitter.feed(chunk) if chunk else splitter.flush()
            for line in lines:
                frame = taskstatus_frame(line)
                if frame is not None:
                    result.reported.add(frame)
                self.writer.line(f"[task {item}] {line}")
            if not chunk:
                break
        result.exit_code = proc.wait()
        with self._lock:
            self._live.discard(proc)
        self.writer.line(f"task {item}: app exited with code {result.exit_code}, "
                         f"{len(result.reported)} frames reported done")
        return result


def _stop(proc: subprocess.Popen) -> None:
    """Ask an app to cancel: it terminates its aerender trees and exits 130 (never a hard kill from here)."""
    try:
        if sys.platform == "win32":
            proc.send_signal(signal.CTRL_BREAK_EVENT)
        else:
            proc.send_signal(signal.SIGTERM)
    except (OSError, ValueError):
        pass


def run_command(args: argparse.Namespace) -> int:
    from engines.aftereffects.accsyn_local import (
        bucket_size,
        buckets,
        build_wrapper,
        load_payload,
        payload_range,
        read_engine_config,
    )
    from remap.shares import load_node_sharepaths, load_shares
    from stmpo.frames import FrameSet
    from stmpo.writer import OutputWriter

    settings, _defaults = read_engine_config()
    payload = load_payload(args.payload)
    for key in ("input", "output"):  # every task would fail on it: say so once, before starting any
        if not isinstance(payload.get(key), str) or not payload[key].strip():
            raise AccsynError(f"payload {args.payload}: '{key}' is missing or not a path")
    frames = payload_range(payload, settings.get("default_range"))
    size = bucket_size(payload, settings)
    items = buckets(frames, size)
    shares = node_paths = None
    if args.shares:
        shares = load_shares(args.shares)
        node_paths = load_node_sharepaths(args.shares) if _is_data_file(args.shares) else None
    wrapper = build_wrapper(payload, shares, node_paths)
    work = Path(args.work) if args.work else Path(tempfile.mkdtemp(prefix="aefarm-accsyn-"))
    env = dict(os.environ)
    if args.node_os:
        env["AEFARM_NODE_OS"] = args.node_os
    writer = OutputWriter()
    runner = LocalRunner(wrapper, items, work, writer, parallel=args.parallel, env=env)
    previous = _install_signals(runner)
    try:
        writer.line(f"{PROG_RUN}: {len(frames)} frames ({frames}) in {len(items)} tasks of up to {size} frames; "
                    f"task folders under {work}")
        results = runner.run()
    finally:
        _restore_signals(previous)
    reported: Set[int] = set()
    for result in results:
        reported |= result.reported
    missing = frames - FrameSet.from_frames(reported)
    outside = FrameSet.from_frames(reported) - frames
    failed = [r for r in results if r.started and r.exit_code != 0]
    problems: List[str] = []
    if failed:
        problems.append("tasks failed: " + ", ".join(f"{r.item} (exit code {r.exit_code})" for r in failed))
    if outside:
        problems.append(f"frames reported outside the range: {outside}")
    if runner.cancelled.is_set():
        writer.line(f"{PROG_RUN}: cancelled; frames not reported: {missing or 'none'}")
        writer.close()
        return exitcodes.CANCELLED
    if missing or problems:
        if missing:
            problems.insert(0, f"{len(missing)} of {len(frames)} frames not reported done: {missing}")
        writer.line(f"{PROG_RUN}: FAILED: " + "; ".join(problems))
        writer.close()
        return exitcodes.RENDER_FAILED
    writer.line(f"{PROG_RUN}: all {len(frames)} frames reported done by {len(items)} tasks")
    writer.close()
    return exitcodes.OK


def _is_data_file(path: str) -> bool:
    try:
        return isinstance(json.loads(Path(path).read_text(encoding="utf-8-sig")), dict)
    except (OSError, ValueError):
        return False


def _install_signals(runner: LocalRunner) -> Dict[int, Any]:
    previous: Dict[int, Any] = {}
    if threading.current_thread() is not threading.main_thread():
        return previous

    def handle(signum: int, frame: Any) -> None:
        runner.cancel()

    signals = [signal.SIGINT, signal.SIGTERM]
    if sys.platform == "win32":
        signals.append(signal.SIGBREAK)  # Ctrl-Break
    for sig in signals:
        try:
            previous[sig] = signal.signal(sig, handle)
        except (ValueError, OSError):
            pass
    return previous


def _restore_signals(previous: Dict[int, Any]) -> None:
    for sig, handler in previous.items():
        try:
            signal.signal(sig, handler)
        except (ValueError, OSError):
            pass
