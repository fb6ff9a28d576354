"""What a batch knows about each variant: its outcome for the report, and the record that lets a rerun skip it.

A variant is *delivered* when its frames were verified, its actions (encode, copy) succeeded, and its record was
written: ``<output_dir>/.aefarm-job/<id>.json`` holding the variant's fingerprint (template, edits, data files,
frames, outputs: ``variants.fingerprint``) and what it delivered. A rerun skips a variant only when its record
matches the fingerprint it would have now AND its outputs are still there and whole (every frame passes its
structural check, the movie holds every frame and its audio stream, copies match): an output deleted or damaged
since, a changed row, template or job, and the variant renders again.
"""
from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, List, Optional

from aefarm_common.atomic import atomic_write
from engines.aftereffects.jobs.variants import Variant
from stmpo.framecheck import UNKNOWN, check_frame
from stmpo.outputs import OutputPattern, frame_ok

RECORDS = ".aefarm-job"
DELIVERED, SKIPPED, FAILED = "delivered", "skipped", "failed"


@dataclass
class Outcome:
    """One variant in the batch report."""

    number: int
    id: str
    status: str = FAILED  # delivered | skipped | failed
    reason: str = ""
    project: Optional[str] = None
    output: Optional[str] = None
    frames: str = ""
    missing: str = ""
    movie: Optional[Dict[str, Any]] = None
    copied: List[str] = field(default_factory=list)
    notify: List[Dict[str, Any]] = field(default_factory=list)
    changes: List[Dict[str, Any]] = field(default_factory=list)
    row: Dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> Dict[str, Any]:
        return {"row": self.number, "id": self.id, "status": self.status, "reason": self.reason or None,
                "project": self.project, "output": self.output, "frames": self.frames,
                "missing": self.missing or None, "movie": self.movie, "copied": self.copied, "notify": self.notify,
                "changes": self.changes, "fields": self.row}


def record_path(output_dir: Path, variant: Variant) -> Path:
    return output_dir / RECORDS / f"{variant.key}.json"


def frame_whole(path: Path) -> bool:
    """A frame file that passes its format's structural check (one with no check: exists and is not empty)."""
    verdict = check_frame(path)
    return verdict.ok or (verdict.format == UNKNOWN and frame_ok(path))


def outputs_whole(variant: Variant, frames: List[int], comp: str, ffprobe: Optional[str], audio: bool,
                  record: Dict[str, Any]) -> Optional[str]:
    """None when everything ``record`` says was delivered is still there and whole, else what is not."""
    pattern = OutputPattern(variant.output, comp=comp)
    for frame in frames:
        if not frame_whole(pattern.frame_path(frame)):
            return f"frame {frame} is missing or damaged"
    if variant.movie is not None:
        from engines.aftereffects.jobs.encode import verify_movie

        if ffprobe is None:
            return "ffprobe is needed to check the movie"
        problem = verify_movie(variant.movie, ffprobe, len(frames), audio)
        if problem:
            return problem
    for copied in record.get("copied", []):
        source = record.get("copied_from", {}).get(copied)
        if not Path(copied).is_file() or (source and Path(source).is_file()
                                          and os.path.getsize(copied) != os.path.getsize(source)):
            return f"the copy {copied} is missing or differs"
    return None


def read_record(path: Path) -> Optional[Dict[str, Any]]:
    try:
        with open(path, "r", encoding="utf-8") as handle:
            data = json.load(handle)
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def already_delivered(output_dir: Path, variant: Variant, frames: List[int], comp: str, ffprobe: Optional[str],
                      audio: bool) -> Optional[Dict[str, Any]]:
    """The variant's record when a rerun may skip it (see the module docstring), else None."""
    record = read_record(record_path(output_dir, variant))
    if record is None or record.get("fingerprint") != variant.fingerprint:
        return None
    if outputs_whole(variant, frames, comp, ffprobe, audio, record) is not None:
        return None
    return record


def write_record(output_dir: Path, variant: Variant, outcome: Outcome, copied_from: Dict[str, str]) -> None:
    """The delivered record (atomically): fingerprint, outputs, copies."""
    path = record_path(output_dir, variant)
    path.parent.mkdir(parents=True, exist_ok=True)
    data = {"fingerprint": variant.fingerprint, "id": variant.row.id, "row": variant.row.number,
            "output": variant.output, "movie": outcome.movie, "copied": outcome.copied, "copied_from": copied_from}
    with atomic_write(path, mode="w") as handle:
        json.dump(data, handle, indent=2, sort_keys=True, ensure_ascii=False)
        handle.write("\n")


def write_report(path: Path, report: Dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_write(path, mode="w") as handle:
        json.dump(report, handle, indent=2, sort_keys=True, ensure_ascii=False)
        handle.write("\n")
