"""``aefarm job run``: a job file's variants, checked, written, rendered through one pool, acted on, reported.

The order of effects (nothing is written before the job is checked; one bad variant never stops the others):

1. the job file (schema, paths, options), its rows and the template (its comp or render-queue item) are checked:
   any problem here is the job's, one line, exit 2, nothing written;
2. every selected row is planned (``variants.plan_row``): a row that cannot be (a missing photo, a field the
   templates name that it lacks, a layer the template does not have) fails alone, with its reason;
3. a variant delivered before with the same fingerprint, whose outputs are still whole, is skipped
   (``records.already_delivered``);
4. the others are written (data files, then the project), preflighted one by one like any render, and rendered
   together as targets of one executor run (``engines.aftereffects.pool``): one shared pool of aerender children;
5. each variant whose frames are verified runs its actions (encode, copy) in a small thread pool, gets its record,
   and then every variant rendered (delivered or failed) is notified;
6. the report lists every selected variant: delivered, skipped or failed, and why. Exit 0 when none failed, 4 when
   one did, 130 when cancelled.
"""
from __future__ import annotations

import concurrent.futures
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, List, Optional, Tuple

from aefarm_common import exitcodes
from aefarm_common.errors import AefarmError
from engines.aftereffects.jobs.actions import notify_all, variant_actions
from engines.aftereffects.jobs.errors import JobError
from engines.aftereffects.jobs.records import DELIVERED, FAILED, SKIPPED, Outcome, already_delivered, write_record
from engines.aftereffects.jobs.reporting import RowsAccsynReporter
from engines.aftereffects.jobs.rows import Row, make_rows, read_table, single_row
from engines.aftereffects.jobs.spec import JobSpec, load_job
from engines.aftereffects.jobs.variants import Template, Variant, plan_row, variants_root, write_variant
from remap.rules import RuleSet
from stmpo.errors import FrameSpecError
from stmpo.frames import FrameSet


@dataclass
class RunRequest:
    """``aefarm job run``'s arguments: the job file, which rows (row numbers, any frame-spec grammar; None: all),
    progress kind, report file, per-child log folder, a farm's path-mapping rules, where variants go, and
    whether delivered variants render again (``force``); ``output_dir``/``aerender`` replace the job file's (a farm
    task's mapped output folder, the worker's aerender)."""

    job_file: Path
    rows: Optional[str] = None
    progress: str = "auto"
    report: Optional[Path] = None
    log_dir: Optional[Path] = None
    node_rules: Optional[RuleSet] = None
    variants_dir: Optional[Path] = None
    output_dir: Optional[Path] = None
    aerender: Optional[str] = None
    force: bool = False


@dataclass
class Checked:
    """A job checked and planned: nothing written yet."""

    spec: JobSpec
    template: Template
    rows: List[Row]
    variants: List[Tuple[Variant, Outcome]] = field(default_factory=list)
    failed: List[Outcome] = field(default_factory=list)
    warnings: List[str] = field(default_factory=list)


def job_rows(spec: JobSpec) -> List[Row]:
    """Every row of the job (one row, id 1, for a job without rows)."""
    if spec.rows_file is not None:
        return make_rows(read_table(spec.rows_file), spec.rows_folder or spec.rows_file.parent, spec.id_field,
                         str(spec.rows_file))
    if spec.rows_inline is not None:
        return make_rows(spec.rows_inline, spec.rows_folder or spec.folder, spec.id_field, f"{spec.path}: $.rows")
    return single_row(spec.rows_folder or spec.folder)


def select_rows(rows: List[Row], text: Optional[str]) -> List[Row]:
    """The rows whose numbers ``text`` names (``1-3``, ``5``, ``1-20x2``); all when None."""
    if text is None or not str(text).strip():
        return rows
    try:
        wanted = FrameSet.parse(str(text))
    except FrameSpecError as exc:
        raise JobError(f"--rows {text!r}: {exc}") from None
    numbers = {row.number: row for row in rows}
    outside = [n for n in wanted if n not in numbers]
    if outside:
        raise JobError(f"--rows {text!r}: the batch has rows 1-{len(rows)}, not {outside[0]}")
    return [numbers[n] for n in wanted]


def check(request: RunRequest) -> Checked:
    """Steps 1 and 2 of the module docstring. JobError/ProjectError/PreflightError for the job's own problems."""
    from engines.aftereffects.preflight_job import check_submission

    spec = load_job(request.job_file, request.node_rules)
    if request.variants_dir is not None:
        spec.variants_dir = Path(os.path.abspath(request.variants_dir))
    if request.output_dir is not None:
        spec.output_dir = Path(os.path.abspath(request.output_dir))
    if request.aerender:
        spec.options["aerender"] = request.aerender
    rows = select_rows(job_rows(spec), request.rows)
    if not spec.template.is_file():
        raise JobError(f"{spec.path}: $.template: not found: {spec.template}")
    warnings = check_submission(spec.template, spec.comp, spec.rqindex, str(spec.frames))
    template = Template(spec)
    checked = Checked(spec, template, rows, warnings=warnings)
    try:
        if spec.encode is not None and template.comp is None:
            raise JobError(f"{spec.path}: $.actions.encode: the comp's frame rate cannot be read from the template")
        root = variants_root(spec, template)
        for row in rows:
            outcome = Outcome(row.number, row.id, row=row.own)
            try:
                variant = plan_row(spec, template, row, root)
            except AefarmError as exc:
                outcome.reason = " ".join(str(exc).split())
                checked.failed.append(outcome)
                continue
            outcome.project, outcome.output = str(variant.project), variant.output
            outcome.frames = str(spec.frames)
            outcome.changes = [c.to_json() for c in variant.changes]
            checked.variants.append((variant, outcome))
    except BaseException:
        template.close()
        raise
    return checked


def run_batch(request: RunRequest, writer: Any = None) -> int:
    """The whole of ``aefarm job run`` after argument parsing; the exit code. ``writer``: the one stdout writer
    when the caller owns it (the accsyn app); else one is made and closed here."""
    from stmpo.progress import make_reporter
    from stmpo.redact import Redactor
    from stmpo.writer import OutputWriter

    checked = check(request)
    spec = checked.spec
    own_writer = writer is None
    writer = OutputWriter() if writer is None else writer
    started = time.time()
    try:
        total = len(spec.frames) * len(checked.variants)
        if request.progress == "accsyn":
            reporter: Any = RowsAccsynReporter(writer, total, request.log_dir, redactor=Redactor.from_env())
        else:
            reporter = make_reporter(request.progress, writer, total, request.log_dir)
        try:
            for line in checked.warnings:
                reporter.message(line)
            report = _run(checked, request, reporter)
        finally:
            reporter.close()
    finally:
        checked.template.close()
        if own_writer:
            writer.close()
    report["started"], report["ended"] = started, time.time()
    if request.report is not None:
        from engines.aftereffects.jobs.records import write_report

        write_report(request.report, report)
    if report["cancelled"]:
        return exitcodes.CANCELLED
    return exitcodes.OK if report["ok"] else exitcodes.RENDER_FAILED


def _tools(spec: JobSpec) -> Optional[Tuple[str, str]]:
    if spec.encode is None:
        return None
    from stmpo.errors import StmpoError
    from stmpo.movies import find_ffmpeg

    try:
        return find_ffmpeg(spec.options.get("ffmpeg"))
    except StmpoError as exc:
        raise JobError(f"{spec.path}: $.actions.encode: {exc}") from None


def _run(checked: Checked, request: RunRequest, reporter: Any) -> Dict[str, Any]:
    from engines.aftereffects.job import Job
    from engines.aftereffects.pool import render_pool
    from engines.aftereffects.preflight_job import check_job
    from engines.aftereffects.render import resolve_aerender

    spec, template = checked.spec, checked.template
    tools = _tools(spec)
    if checked.variants:  # the renderer is part of the request: found before any variant is written
        resolve_aerender(Job.from_options(spec.options, project=spec.template, output=str(spec.output_dir / "x"),
                                          frames=spec.frames, comp=spec.comp, rqindex=spec.rqindex))
    comp = template.comp.name if template.comp is not None else (spec.comp or "")
    frames = list(spec.frames)
    outcomes: List[Outcome] = list(checked.failed)
    for outcome in checked.failed:
        reporter.message(f"variant {outcome.id}: FAILED: {outcome.reason}", public=True)
    todo: List[Tuple[Variant, Outcome, Any]] = []
    for variant, outcome in checked.variants:
        outcomes.append(outcome)
        audio = spec.encode is not None and spec.encode.audio is not None
        if not request.force and already_delivered(spec.output_dir, variant, frames, comp,
                                                   tools[1] if tools else None, audio) is not None:
            outcome.status = SKIPPED
            outcome.reason = "already delivered (its outputs are present and whole)"
            reporter.message(f"variant {outcome.id}: skipped: {outcome.reason}")
            if isinstance(reporter, RowsAccsynReporter):
                reporter.row_done(outcome.number)
            continue
        try:
            write_variant(template, variant)
            job = Job.from_options(spec.options, project=variant.project, output=variant.output, frames=spec.frames,
                                   comp=spec.comp, rqindex=spec.rqindex, rules=spec.rules, target_os=spec.target_os,
                                   fonts=spec.fonts, converted_dir=variant.folder)
            job = check_job(job, reporter)
        except AefarmError as exc:
            outcome.reason = " ".join(str(exc).split())
            reporter.message(f"variant {outcome.id}: FAILED: {outcome.reason}", public=True)
            continue
        todo.append((variant, outcome, job))
    pool: Dict[str, Any] = {}
    cancelled = False
    if todo:
        reporter.message(f"rendering {len(todo)} variants through one pool ({len(frames)} frames each)")
        run_report, reports = render_pool([job for _, _, job in todo], reporter, report=request.report,
                                          template=spec.template)
        pool = run_report.to_json()
        cancelled = run_report.cancelled
        _finish(spec, todo, reports, frames, comp, template, tools, reporter)
    outcomes.sort(key=lambda o: o.number)
    counts = {state: sum(1 for o in outcomes if o.status == state) for state in (DELIVERED, SKIPPED, FAILED)}
    summary = (f"{counts[DELIVERED]} delivered, {counts[SKIPPED]} skipped (already delivered), "
               f"{counts[FAILED]} failed of {len(outcomes)} variants")
    reporter.message(summary, public=True)
    return {"job": str(spec.path), "template": str(spec.template), "output_dir": str(spec.output_dir),
            "ok": counts[FAILED] == 0 and not cancelled, "cancelled": cancelled, "summary": summary,
            "counts": counts, "variants": [o.to_json() for o in outcomes], "pool": pool}


def _finish(spec: JobSpec, todo: List[Tuple[Variant, Outcome, Any]], reports: List[Any], frames: List[int],
            comp: str, template: Template, tools: Optional[Tuple[str, str]], reporter: Any) -> None:
    """Actions, records and notifications for every rendered variant (actions in parallel, a few at a time)."""
    fps = template.comp.frame_rate if template.comp is not None else None

    def one(item: Tuple[Tuple[Variant, Outcome, Any], Any]) -> None:
        (variant, outcome, job), report = item
        outcome.output = str(job.output)
        if not report.ok:
            outcome.status, outcome.missing = FAILED, str(report.missing)
            outcome.reason = " ".join(report.summary.split())
        else:
            try:
                copied_from = variant_actions(spec, variant, outcome, frames, comp, fps, tools)
                outcome.status = DELIVERED
                write_record(spec.output_dir, variant, outcome, copied_from)
            except (AefarmError, OSError) as exc:
                outcome.status, outcome.reason = FAILED, " ".join(str(exc).split())
        state = outcome.status if outcome.status != FAILED else f"FAILED: {outcome.reason}"
        reporter.message(f"variant {outcome.id}: {state}", public=outcome.status == FAILED)
        if outcome.status == DELIVERED and isinstance(reporter, RowsAccsynReporter):
            reporter.row_done(outcome.number)
        payload = dict(outcome.to_json(), job=str(spec.path))
        for result in notify_all(spec.notify, payload, variant.notify_command):
            outcome.notify.append(result.to_json())
            if not result.ok:
                reporter.message(f"variant {outcome.id}: notify {result.target}: FAILED after {result.attempts} "
                                 f"attempts: {result.error} (the variant's outcome stands)")

    workers = max(1, min(4, os.cpu_count() or 1, len(todo)))
    with concurrent.futures.ThreadPoolExecutor(max_workers=workers, thread_name_prefix="aefarm-actions") as pool:
        list(pool.map(one, zip(todo, reports)))
