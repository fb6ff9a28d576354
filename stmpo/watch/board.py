"""The render-watch board: every run report in a folder, one row each (status, progress, elapsed, ETA, children).

A file is a run report when it is a JSON object with a ``chunks`` list and an ``ok`` or ``status`` field (the final
report of ``stmpo.run`` or the live one of ``stmpo.watch.live``). Reports are found in the folder and its
subfolders up to ``MAX_DEPTH`` levels, at most ``MAX_REPORTS`` of them, newest first. A report still ``running``
whose process is gone from this host (it was killed before it could write its end) is shown as ``lost``.
"""
from __future__ import annotations

import json
import os
import platform
import time
from pathlib import Path
from typing import Any, Dict, List, Mapping, Optional, Tuple

from stmpo import runstats

MAX_DEPTH = 2
MAX_REPORTS = 500
MAX_REPORT_BYTES = 256 * 1024 * 1024


def read_report(path: Path) -> Tuple[Optional[dict], str]:
    """(the report, "") or (None, why it is not one). Never raises for a bad file."""
    try:
        if path.stat().st_size > MAX_REPORT_BYTES:
            return None, "too large"
        data = json.loads(path.read_bytes().decode("utf-8-sig"))
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        return None, f"unreadable: {exc}"
    if not is_report(data):
        return None, "not a run report"
    return data, ""


def is_report(data: Any) -> bool:
    return isinstance(data, dict) and isinstance(data.get("chunks"), list) and ("ok" in data or "status" in data)


def scan_reports(folder: Path, max_depth: int = MAX_DEPTH, limit: int = MAX_REPORTS) -> List[Tuple[Path, dict]]:
    """(path, report) of the ``*.json`` files under ``folder`` (hidden ones skipped) that are run reports, newest
    first."""
    found: List[Tuple[float, Path, dict]] = []
    root = Path(folder)
    for current, dirs, files in os.walk(root):
        depth = len(Path(current).relative_to(root).parts)
        dirs[:] = sorted(d for d in dirs if not d.startswith(".")) if depth < max_depth else []
        for name in files:
            if not name.endswith(".json") or name.startswith("."):
                continue
            path = Path(current) / name
            data, _ = read_report(path)
            if data is None:
                continue
            try:
                found.append((path.stat().st_mtime, path, data))
            except OSError:
                continue
    found.sort(key=lambda item: (-item[0], str(item[1])))
    return [(path, data) for _, path, data in found[:limit]]


def find_reports(folder: Path) -> List[Path]:
    return [path for path, _ in scan_reports(folder)]


def run_id(folder: Path, path: Path) -> str:
    """The id of a report in the board's links: its path relative to the folder, with ``/``."""
    return Path(path).relative_to(folder).as_posix()


def shown_status(report: Mapping[str, Any], this_host: Optional[str] = None) -> str:
    """The report's status, or ``lost`` for a running report whose process no longer exists on this host."""
    status = runstats.report_status(report)
    if status != "running":
        return status
    host = (report.get("host") or {}).get("name")
    pid = report.get("pid")
    if isinstance(pid, int) and host and host == (this_host or platform.node()):
        import psutil

        if not psutil.pid_exists(pid):
            return "lost"
    return status


def board_row(folder: Path, path: Path, report: Mapping[str, Any], now: Optional[float] = None) -> Dict[str, Any]:
    now = time.time() if now is None else now
    status = shown_status(report)
    summary = runstats.summarize(report, now=now)
    eta = report.get("eta")
    updated = report.get("updated")
    if status == "running" and isinstance(eta, (int, float)) and isinstance(updated, (int, float)):
        eta = max(0.0, float(eta) - max(0.0, now - float(updated)))
    elif status != "running":
        eta = None
    return {
        "id": run_id(folder, path), "name": run_id(folder, path), "path": str(path), "status": status,
        "done": summary.verified, "total": summary.total, "missing": summary.missing if status != "running" else 0,
        "progress": (summary.verified / summary.total) if summary.total else 0.0,
        "elapsed": summary.wall, "eta": eta, "children": runstats.live_children(report) if status == "running" else 0,
        "slots": summary.slots, "comp": (report.get("job") or {}).get("comp"),
        "host": (report.get("host") or {}).get("name"), "started": summary.started, "updated": updated, "error": "",
    }


def board_rows(folder: Path, now: Optional[float] = None) -> List[Dict[str, Any]]:
    """One row per run report under ``folder`` (see ``board_row`` for the keys), newest first."""
    return [board_row(folder, path, report, now) for path, report in scan_reports(folder)]
