"""Render one Job on this machine: remap the project, install fonts, plan the children, run them, clean up.

Every entry point (CLI, accsyn app, OpenJD task) ends here, so the order of effects is written once: fonts are
removed and temporary state cleaned even when the render fails or is cancelled.
"""
from __future__ import annotations

import shlex
import threading
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Iterator, Optional

from aefarm_common.userdirs import default_work_dir
from engines.aftereffects.job import Job
from engines.aftereffects.preflight_job import check_job, preflight_job
from stmpo.aerender import find_aerender
from stmpo.errors import StmpoError
from stmpo.host import Host, detect_host, load_numa_map
from stmpo.outputs import OutputPattern, Staging
from stmpo.plan import Plan, make_plan
from stmpo.run import RunReport, child_command, invocation_frames, run
from stmpo.scheduler import Scheduler, Start


@dataclass
class Prepared:
    job: Job
    plan: Plan
    aerender: str
    host: Host


def resolve_aerender(job: Job) -> str:
    """The aerender to run: ``job.aerender``, AERENDER_PATH, PATH, install folders (``aefarm doctor`` explains)."""
    return find_aerender(explicit=job.aerender, query_version=False).require()


def plan_job(job: Job, host: Optional[Host] = None) -> Plan:
    host = host or detect_host()
    if job.numa_map is not None:
        host = host.with_numa_nodes(load_numa_map(job.numa_map))
    return make_plan(job.frames, job.settings, host, min_chunk=job.options.min_chunk)


def converted_dir(job: Job) -> Path:
    """Where the converted project goes: ``--converted-dir``, else the per-user work folder (never the project's
    own folder, which is often a read-only share; on Deadline the task passes the session folder)."""
    return Path(job.converted_dir) if job.converted_dir is not None else default_work_dir() / "converted"


def remap_project(job: Job, reporter: Any = None) -> Job:
    """The job on a converted copy of its project when it has rules (the input is never modified)."""
    if not len(job.rules):
        return job
    from remap.convert import convert  # the converter owner's module; imported when there are rules to apply

    result = convert(job.project, rules=job.rules, target_os=job.target_os, out_dir=converted_dir(job))
    if reporter is not None:
        how = "reused cached" if getattr(result, "cached", False) else "wrote"
        reporter.message(f"remap: {how} {result.output} ({result.replaced} paths mapped by {len(job.rules)} rules)")
        for item in getattr(result, "unsafe", None) or ():
            reporter.message(f"remap: warning: not rewritten: {item}")
    return job.with_project(Path(result.output))


def dry_run_lines(job: Job, plan: Plan, aerender: str) -> Iterator[str]:
    """The preflight's findings, then the plan arithmetic and the command line of each child of the initial split
    (nothing is started or written). After printing the findings, a failed preflight raises PreflightError."""
    result = preflight_job(job)
    for finding in result.findings:
        yield finding.line()
    result.raise_for_errors()
    if result.output is not None and result.output != job.output:
        job = replace(job, output=result.output)
    lines = ["plan:"] + [f"  {line}" for line in plan.explanation]
    lines += [f"  warning: {w}" for w in plan.warnings]
    options = job.options
    pattern = OutputPattern(job.output, comp=job.comp or "")
    mode = "static" if pattern.is_movie else options.schedule
    lines.append(f"schedule: {mode}, {plan.concurrency} child slots, min chunk {options.min_chunk}, "
                 f"retries {options.retries}{', fail-fast' if options.fail_fast else ''}")
    if len(job.rules):
        lines.append(f"remap: {len(job.rules)} rules would be applied to a converted copy of {job.project} "
                     f"(in {converted_dir(job)})")
    staging = Staging(pattern, scratch=options.scratch, run_id="RUNID")
    scheduler = Scheduler(list(job.frames), plan.concurrency, min_chunk=options.min_chunk, mode=mode)
    for action in scheduler.begin(0.0):
        if not isinstance(action, Start):
            continue
        frames, step = invocation_frames(list(action.frame_list), options.use_increment)
        argv = child_command(job, aerender, staging.child_output_path(action.child, frames), frames, step)
        cpus = plan.cpu_blocks[action.slot] if plan.cpu_blocks else None
        invocations = len(action.frame_list) // max(1, len(frames))
        more = f" (+{invocations - 1} more invocations, one per frame)" if len(frames) < len(action.frame_list) else ""
        lines.append(f"child {action.child} slot {action.slot} frames {action.frames}"
                     f"{' cpus ' + ','.join(map(str, cpus)) if cpus else ''}{more}:")
        lines.append("  " + " ".join(shlex.quote(a) for a in argv))
    yield from lines



def render_job(job: Job, reporter: Any, *, cancel_event: Optional[threading.Event] = None,
               host: Optional[Host] = None, handle_signals: bool = True) -> RunReport:
    """Preflight -> remap (when rules are given) -> install fonts (when given) -> plan -> run; fonts removed in every
    case. The preflight runs before anything is started or written: a request the project cannot satisfy ends here
    with PreflightError (exit 2)."""
    aerender = resolve_aerender(job)
    project = Path(job.project)
    if not project.is_file():
        raise StmpoError(f"project not found: {project}")
    job = check_job(job, reporter)
    host = host or detect_host()
    plan = plan_job(job, host)
    job = remap_project(job, reporter)
    token = None
    if job.fonts is not None:
        from fonts.install import install

        token = install(job.fonts)
        reporter.message(f"fonts: installed the fonts of {job.fonts} for this render")
    try:
        return run(plan, job, reporter, aerender=aerender, options=job.options, cancel_event=cancel_event,
                   handle_signals=handle_signals, processor_groups=host.processor_groups)
    finally:
        if token is not None:
            from fonts.install import remove

            try:
                remove(token)
            except Exception as exc:  # noqa: BLE001 - a failed font removal must not hide the render's result
                reporter.message(f"fonts: warning: could not remove the render's fonts: {exc}")
