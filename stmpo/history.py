"""The per-user render history: one small JSON record per finished render, appended to a JSON-lines file.

Why: a producer asks "when will it be done?" and a pipeline engineer asks "how many children on this node?"; both
are answered from how the same comp rendered before (``stmpo.estimate``). The history lives in
``<state dir>/history/renders.jsonl`` (``aefarm_common.userdirs.default_state_dir``; ``AEFARM_STATE_DIR``
overrides). Concurrent renders of one user append under a file lock (``filelock``), each record as one whole
line written with one call; a line that cannot be read (a crash mid-write on a file system without atomic appends)
is skipped. When the file holds more than ``MAX_RECORDS`` records, the oldest are dropped by an atomic rewrite.

Record (version 1), keys of ``RenderRecord.to_json``: ``v``, ``at`` (wall time the render ended), ``project_hash``
(SHA-256 of the input project's bytes), ``project_name``, ``comp``, ``rqindex``, ``frames`` (spec), ``frame_count``,
``concurrency`` (slots), ``host`` {``name``, ``cpus``}, ``options`` {``schedule``, ``min_chunk``, ``handoff``,
``use_increment``}, ``wall`` (seconds), ``ok``, ``frame_seconds`` {frame: seconds} (at most ``MAX_TIMED_FRAMES``,
evenly sampled), ``startups`` and ``tails`` (seconds per invocation, at most ``MAX_INVOCATIONS``), ``invocations``.
Times are measured as ``stmpo.runstats`` defines them.
"""
from __future__ import annotations

import hashlib
import json
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Dict, List, Mapping, Optional, Union

from aefarm_common.atomic import atomic_write
from aefarm_common.userdirs import default_state_dir
from stmpo import runstats

VERSION = 1
MAX_RECORDS = 500  # kept after a compaction (the file may grow to twice this before one)
MAX_TIMED_FRAMES = 500  # a render start reads the whole history: records stay small (~10 kB)
MAX_INVOCATIONS = 500
LOCK_TIMEOUT = 10.0  # seconds; a render never waits longer than this to record its history


@dataclass
class RenderRecord:
    project_hash: str
    project_name: str
    comp: Optional[str]
    rqindex: Optional[int]
    frames: str
    frame_count: int
    concurrency: int
    host: Dict[str, Any]
    wall: float
    ok: bool
    frame_seconds: Dict[int, float]
    startups: List[float]
    tails: List[float] = field(default_factory=list)
    invocations: int = 0
    options: Dict[str, Any] = field(default_factory=dict)
    at: float = 0.0
    v: int = VERSION

    def to_json(self) -> dict:
        data = asdict(self)
        data["frame_seconds"] = {str(k): v for k, v in sorted(self.frame_seconds.items())}
        return data

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Optional["RenderRecord"]:
        """A record from one history line; None when it is not a version-1 record this module can use."""
        try:
            if data.get("v") != VERSION:
                return None
            return cls(
                project_hash=str(data["project_hash"]), project_name=str(data.get("project_name", "")),
                comp=data.get("comp"), rqindex=data.get("rqindex"), frames=str(data.get("frames", "")),
                frame_count=int(data.get("frame_count", 0)), concurrency=max(1, int(data["concurrency"])),
                host=dict(data.get("host") or {}), wall=float(data.get("wall") or 0.0), ok=bool(data.get("ok")),
                frame_seconds={int(k): float(v) for k, v in (data.get("frame_seconds") or {}).items()},
                startups=[float(s) for s in data.get("startups") or ()],
                tails=[float(s) for s in data.get("tails") or ()], invocations=int(data.get("invocations", 0)),
                options=dict(data.get("options") or {}), at=float(data.get("at") or 0.0))
        except (KeyError, TypeError, ValueError, AttributeError):
            return None

    @property
    def cpus(self) -> Optional[int]:
        cpus = self.host.get("cpus")
        return cpus if isinstance(cpus, int) else None


def history_path(state_dir: Optional[Path] = None) -> Path:
    """``<state dir>/history/renders.jsonl``."""
    return Path(state_dir if state_dir is not None else default_state_dir()) / "history" / "renders.jsonl"


def project_hash(path: Union[str, Path]) -> str:
    """SHA-256 (hex) of the project file's bytes: a re-saved project is a new project for the history."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _sample(items: List[Any], limit: int) -> List[Any]:
    if len(items) <= limit:
        return items
    step = len(items) / limit
    return [items[int(i * step)] for i in range(limit)]


def record_from_report(report: Mapping[str, Any], *, project_hash: str, project_name: str, comp: Optional[str],
                       rqindex: Optional[int], host: Mapping[str, Any],
                       options: Optional[Mapping[str, Any]] = None) -> Optional[RenderRecord]:
    """The history record of a finished run report; None when the run timed no frame (nothing to learn)."""
    views = runstats.invocations(report)
    delivered = runstats.frame_times(views)
    if not delivered:
        return None
    summary = runstats.summarize(report, views)
    timed = _sample(sorted(delivered.items()), MAX_TIMED_FRAMES)
    startups = [round(v.startup, 4) for v in views if v.startup is not None]
    tails = [round(v.tail, 4) for v in views if v.tail is not None and v.outcome == runstats.OK]
    return RenderRecord(
        project_hash=project_hash, project_name=project_name, comp=comp, rqindex=rqindex,
        frames=str(report.get("frames", "")), frame_count=summary.total, concurrency=summary.slots,
        host=dict(host), wall=round(summary.wall or 0.0, 4), ok=summary.status == "done",
        frame_seconds={frame: round(mark.seconds, 4) for frame, mark in timed},
        startups=_sample(startups, MAX_INVOCATIONS), tails=_sample(tails, MAX_INVOCATIONS),
        invocations=len(views), options=dict(options or {}), at=float(report.get("ended") or 0.0))


def append(record: RenderRecord, path: Optional[Path] = None) -> Path:
    """Append ``record`` as one line under the history's lock; compacts the file past ``2 * MAX_RECORDS``.

    Raises OSError (folder not writable, disk full) or ``filelock.Timeout``; the caller decides what a failed
    recording means (a render only reports it)."""
    from filelock import FileLock

    path = Path(path) if path is not None else history_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    line = json.dumps(record.to_json(), sort_keys=True, separators=(",", ":")) + "\n"
    with FileLock(str(path) + ".lock", timeout=LOCK_TIMEOUT):
        with open(path, "a", encoding="utf-8") as handle:
            handle.write(line)
            handle.flush()
            os.fsync(handle.fileno())
        lines = _lines(path)
        if len(lines) > 2 * MAX_RECORDS:
            with atomic_write(path, mode="w") as out:
                out.writelines(lines[-MAX_RECORDS:])
    return path


def _lines(path: Path) -> List[str]:
    try:
        with open(path, encoding="utf-8", errors="replace") as handle:
            return [line if line.endswith("\n") else line + "\n" for line in handle if line.strip()]
    except FileNotFoundError:
        return []


def load(path: Optional[Path] = None) -> List[RenderRecord]:
    """Every readable record, oldest first (unreadable lines and other versions are skipped)."""
    path = Path(path) if path is not None else history_path()
    records: List[RenderRecord] = []
    for line in _lines(path):
        try:
            data = json.loads(line)
        except ValueError:
            continue
        if isinstance(data, dict):
            record = RenderRecord.from_json(data)
            if record is not None:
                records.append(record)
    return records
