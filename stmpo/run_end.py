"""The end of a run: its verdict and its report, from the state the executor's loop leaves (``stmpo.run`` calls
``finish_run`` once, after every process tree is gone).

Why apart from the loop: the loop (``stmpo.run``) decides *when* things happen while children run; this reads the
final state once -- what was delivered (``stmpo.delivery``), the scheduler's result, the failures, warnings and
orphans logged on the way -- has ``stmpo.accounting`` (one render) or ``stmpo.targets`` (a pool) judge it, and
writes the JSON report (``stmpo.report``; its fields: docs/formats.md §10).
"""
from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Dict, FrozenSet, List, Optional, Protocol, Sequence, Tuple

from stmpo.accounting import judge_run
from stmpo.delivery import FrameDelivery
from stmpo.frames import FrameSet
from stmpo.invocation import ChunkRun
from stmpo.orphans import RunOrphans
from stmpo.outcome import FailureLog, UnparsedLog, WarningLog
from stmpo.plan import Plan
from stmpo.report import RunReport, chunk_json, write_report
from stmpo.scheduler_types import Action
from stmpo.seams import RenderJob, RenderReporter
from stmpo.settings import RunOptions
from stmpo.stepped import SteppedPolicy
from stmpo.targets import FrameSpace, Target, judge_targets


class EndState(Protocol):
    """What the end of a run reads (``stmpo.run.Executor`` provides it)."""

    job: RenderJob
    plan: Plan
    options: RunOptions
    reporter: RenderReporter
    runs: Dict[int, ChunkRun]
    delivery: FrameDelivery
    result: Optional[Action]
    cancel_event: threading.Event
    cancel_reason: str
    ffmpeg: Optional[Tuple[str, str]]
    halted: Dict[int, str]
    space: FrameSpace
    targets: List[Target]
    chunk_targets: Dict[int, Target]
    failures: FailureLog
    warnings: WarningLog
    unparsed: UnparsedLog
    allow: FrozenSet[str]
    orphans: RunOrphans
    stepped: SteppedPolicy


def finish_run(ex: EndState, all_frames: Sequence[int], skipped: Sequence[int], started_wall: float,
               cancelled: bool) -> Tuple[RunReport, List[RunReport]]:
    """(the run's report, one report per target) -- one target: the same report. The reporter is told the verdict
    and the report is written to ``options.report`` when set."""
    if not ex.space.identity:
        return _finish_targets(ex, started_wall, cancelled)
    verdict = judge_run(delivery=ex.delivery, all_frames=all_frames, skipped=skipped, result=ex.result,
                        cancelled=cancelled, cancel_event=ex.cancel_event, cancel_reason=ex.cancel_reason,
                        ffmpeg=ex.ffmpeg, failure_reason=ex.halted.get(0, ""))
    chunks = [chunk_json(ex.runs[c], ex.reporter.log_path) for c in sorted(ex.runs)]
    report = RunReport(
        ok=verdict.ok, missing=verdict.missing, cancelled=verdict.cancelled, reason=verdict.reason,
        summary=verdict.summary, chunks=chunks, plan=ex.plan.to_dict(), frames=str(ex.job.frames),
        output=str(ex.job.output), started=started_wall, ended=time.time(),
        skipped=str(FrameSet.from_frames(skipped)), staging_kept=[str(k) for k in verdict.kept], join=verdict.join,
        frame_check=frame_check_json(ex.delivery))
    _add_outcomes(ex, report)
    ex.reporter.run_finished(verdict.ok, verdict.missing, verdict.summary)
    _write(ex.options, report)
    return report, [report]


def _finish_targets(ex: EndState, started_wall: float, cancelled: bool) -> Tuple[RunReport, List[RunReport]]:
    """A pool's end: each target judged on its own, then one report of the run (``stmpo.targets``)."""
    chunks = {c: chunk_json(ex.runs[c], ex.reporter.log_path) for c in sorted(ex.runs)}
    report, target_reports = judge_targets(
        ex.targets, ex.space, ex.result, chunks, {c: t.index for c, t in ex.chunk_targets.items()},
        cancelled=cancelled, cancel_event=ex.cancel_event, cancel_reason=ex.cancel_reason,
        plan=ex.plan.to_dict(), started=started_wall, halted=ex.halted)
    for target, own in zip(ex.targets, target_reports):
        own.frame_check = frame_check_json(target.delivery)
    _add_outcomes(ex, report)
    ex.reporter.run_finished(report.ok, report.missing, report.summary)
    _write(ex.options, report)
    return report, target_reports


def _add_outcomes(ex: EndState, report: RunReport) -> None:
    """The run's failures, warnings, unparsed progress, orphans, launches and stepped mode (one set per run)."""
    invocations = [inv for run in ex.runs.values() for inv in run.invocations]
    report.failure_kind, report.failures = ex.failures.kind(), ex.failures.to_json()
    report.warning_classes, report.allow = ex.warnings.to_json(ex.allow), sorted(ex.allow)
    report.unparsed_progress = ex.unparsed.to_json()
    report.orphans = ex.orphans.to_json(sum(len(inv.by_tag) for inv in invocations))
    report.launches = sum(1 for inv in invocations if inv.start_error is None)
    report.stepped = ex.stepped.to_json()


def _write(options: RunOptions, report: RunReport) -> None:
    if options.report is not None:
        write_report(Path(options.report), report)


def frame_check_json(delivery: FrameDelivery) -> Dict[str, object]:
    """The report's ``frame_check``: the format checked, how many files, those rejected (not later delivered) and
    frames taken back from their final names."""
    return {"format": delivery.format, "checked": delivery.checked,
            "rejected": {str(k): v for k, v in sorted(delivery.rejected.items()) if not delivery.still_delivered(k)},
            "withdrawn": str(FrameSet.from_frames(sorted(delivery.withdrawn)))}

