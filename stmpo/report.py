"""The JSON run report (``--report FILE``): what was asked, what each chunk and invocation did, what is missing.

Why a module of its own: the report is a contract read by people and by farm tooling, so its shape is written in one
place (field names stay stable: ``chunks[].chunk``, ``slot``, ``invocations``), apart from the loop that gathers the
facts and the accounting that judges them. The file is written atomically: a temporary name in the same folder, then
a rename, so a reader never sees half a report.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional

from aefarm_common import exitcodes
from aefarm_common.atomic import atomic_write
from stmpo.frames import FrameSet
from stmpo.invocation import ChunkRun, Invocation
from stmpo.outcome import failure_json

JsonObject = Dict[str, Any]
LogPath = Callable[[int, int], Optional[Path]]  # (chunk id, pid) -> that child's log file, if any


@dataclass
class RunReport:
    """The outcome of one run: ``ok`` only when every expected frame is verified; ``exit_code`` follows."""

    ok: bool
    missing: FrameSet
    chunks: List[JsonObject]
    cancelled: bool = False
    reason: str = ""
    summary: str = ""
    plan: JsonObject = field(default_factory=dict)
    frames: str = ""
    output: str = ""
    started: float = 0.0
    ended: float = 0.0
    skipped: str = ""  # frames already present (--resume)
    staging_kept: List[str] = field(default_factory=list)
    join: Optional[str] = None  # movie join method
    failure_kind: Optional[str] = None  # "permanent" | "transient" when any invocation failed, else None
    failures: List[JsonObject] = field(default_factory=list)  # each distinct failure once: kind, reason, text, chunks
    warning_classes: JsonObject = field(default_factory=dict)  # class -> count, fails, allowed, lines, frames, chunks
    allow: List[str] = field(default_factory=list)  # warning classes in force as allowed
    unparsed_progress: JsonObject = field(default_factory=lambda: {"count": 0, "lines": []})
    frame_check: JsonObject = field(default_factory=dict)  # format, checked, rejected {frame: reason}, withdrawn
    orphans: JsonObject = field(default_factory=dict)  # adopted (re-parented to us), reaped, found_by_tag
    targets: List[JsonObject] = field(default_factory=list)  # a pool's renders, each its own report (stmpo.targets)
    launches: int = 0  # aerender invocations started in this run
    stepped: JsonObject = field(default_factory=dict)  # stepped ranges: option, what ran and why (stmpo.stepped)

    @property
    def exit_code(self) -> int:
        """0, 4 (frames missing) or 130 (cancelled)."""
        if self.ok:
            return exitcodes.OK
        return exitcodes.CANCELLED if self.cancelled else exitcodes.RENDER_FAILED

    def to_json(self) -> JsonObject:
        return {
            "ok": self.ok, "cancelled": self.cancelled, "reason": self.reason, "summary": self.summary,
            "frames": self.frames, "output": self.output, "missing": str(self.missing),
            "missing_count": len(self.missing), "skipped": self.skipped, "plan": self.plan,
            "started": self.started, "ended": self.ended, "chunks": self.chunks,
            "staging_kept": self.staging_kept, "join": self.join, "failure_kind": self.failure_kind,
            "failures": self.failures, "warning_classes": self.warning_classes, "allow": self.allow,
            "unparsed_progress": self.unparsed_progress, "frame_check": self.frame_check, "orphans": self.orphans,
            "launches": self.launches, "stepped": self.stepped,
            **({"targets": self.targets} if self.targets else {}),
        }


def invocation_json(inv: Invocation) -> JsonObject:
    """One aerender invocation: pid, frames, argv, wall-clock start/end (end: its whole tree gone), the launcher's
    exit code, fatal line, stall reason; its failure (kind, reason, text), the frames whose own line appeared and
    which it delivered, closed files that failed the check, warnings (class, line, fails), whether its tree
    lingered after the comp finished and was ended, when its launcher exited before the rest of its tree, the
    processes found only by their tree tag, and lines that looked like progress but did not parse."""
    return {"pid": inv.pid, "frames": str(FrameSet.from_frames(inv.frames)), "argv": inv.argv,
            "start": inv.started_wall, "end": inv.ended_wall, "exit_code": inv.exit_code,
            "fatal": inv.fatal, "stalled": inv.stalled, "failure": failure_json(inv.failure),
            "reported": str(FrameSet.from_frames(sorted(inv.reported))),
            "delivered": str(FrameSet.from_frames(sorted(inv.delivered))),
            "rejected": {str(k): v for k, v in sorted(inv.rejected.items())},
            "warnings": [{"class": c, "text": t, "fails": f} for c, t, f in inv.warnings],
            "lingered": inv.lingered, "launcher_exit": inv.launcher_exit,
            "launcher_end": inv.launcher_ended_wall, "found_by_tag": list(inv.by_tag), "unparsed": inv.unparsed}


def chunk_json(run: ChunkRun, logs: LogPath) -> JsonObject:
    """One chunk: its frames first and last (after a steal), status and reason, invocations, frame times, logs."""
    return {
        "chunk": run.chunk, "slot": run.slot, "frames": str(FrameSet.from_frames(run.initial)),
        "final_frames": str(FrameSet.from_frames(run.assigned)),
        "stolen_after": run.last if run.assigned != run.initial else None,
        "retry": run.retry, "retries_before": run.attempt, "status": run.status, "reason": run.reason,
        "start": run.started_wall, "end": run.ended_wall,
        "pid": run.invocations[0].pid if run.invocations else None,
        "exit_code": run.invocations[-1].exit_code if run.invocations else None,
        "invocations": [invocation_json(inv) for inv in run.invocations],
        "frame_times": {str(k): dict(v) for k, v in sorted(run.frame_times.items())},
        "logs": [str(p) for p in (logs(run.chunk, inv.pid) for inv in run.invocations if inv.pid) if p],
    }


def write_report(path: Path, report: RunReport) -> None:
    """The JSON run report, written atomically (temporary name in the same folder, then rename)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_write(path, mode="w") as handle:
        json.dump(report.to_json(), handle, indent=2, sort_keys=True)
        handle.write("\n")
