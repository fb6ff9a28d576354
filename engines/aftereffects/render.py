"""Render one Job on this machine: remap the project, install fonts, plan the children, run them, clean up.

Every entry point (CLI, accsyn app, OpenJD task) ends here, so the order of effects is written once: fonts are
removed and temporary state cleaned even when the render fails or is cancelled.
"""
from __future__ import annotations

import contextlib
import os
import shlex
import tempfile
import threading
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterator, Optional

from aefarm_common.exitcodes import RENDER_FAILED
from aefarm_common.userdirs import default_work_dir
from engines.aftereffects.job import Job
from engines.aftereffects.preflight_job import check_job, preflight_job
from stmpo.aerender import find_aerender
from stmpo.cancel import LATCH
from stmpo.errors import StmpoError
from stmpo.host import Host, detect_host, load_numa_map
from stmpo.invocation import child_command, invocation_frames
from stmpo.outputs import OutputPattern, Staging
from stmpo.plan import Plan, make_plan
from stmpo.report import RunReport
from stmpo.run import run
from stmpo.scheduler import Scheduler
from stmpo.scheduler_types import Start
from stmpo.stepped import AUTO, SteppedMemory, SteppedPolicy, mode_of
from stmpo.watch.session import watch_run

if TYPE_CHECKING:
    from aeproject.model import Comp


@dataclass
class Prepared:
    job: Job
    plan: Plan
    aerender: str
    host: Host


def resolve_aerender(job: Job) -> str:
    """The aerender to run: ``job.aerender``, AERENDER_PATH, PATH, install folders (``aefarm doctor`` explains).

    Looked up in the environment the children get (this one plus ``job.env``), so an ``AERENDER_PATH`` or ``PATH``
    set by an env file or accsyn ``envs`` is the one used."""
    env = dict(os.environ)
    env.update(job.env)
    return find_aerender(explicit=job.aerender, env=env, query_version=False).require()


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
        reporter.message(f"remap: {result.summary()}")
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
    pattern = OutputPattern(job.output, comp=job.comp or job.comp_name or "")
    mode = "static" if pattern.is_movie else options.schedule
    lines.append(f"schedule: {mode}, {plan.concurrency} child slots, min chunk {options.min_chunk}, "
                 f"retries {options.retries}{', fail-fast' if options.fail_fast else ''}")
    if len(job.rules):
        lines.append(f"remap: {len(job.rules)} rules would be applied to a converted copy of {job.project} "
                     f"(in {converted_dir(job)})")
    staging = Staging(pattern, scratch=options.scratch, run_id="RUNID")
    scheduler = Scheduler(list(job.frames), plan.concurrency, min_chunk=options.min_chunk, mode=mode)
    stepped_mode = mode_of(options.stepped, options.use_increment)
    stepped = SteppedPolicy(stepped_mode, aerender, SteppedMemory() if stepped_mode == AUTO else None)
    if any(b - a > 1 for a, b in zip(list(job.frames), list(job.frames)[1:])):
        lines.append(f"stepped frames: {stepped.why}")
    for action in scheduler.begin(0.0):
        if not isinstance(action, Start):
            continue
        frames, step = invocation_frames(list(action.frame_list), stepped.use_increment)
        argv = child_command(job, aerender, staging.child_output_path(action.chunk, frames), frames, step)
        cpus = plan.cpu_blocks[action.slot] if plan.cpu_blocks else None
        invocations = len(action.frame_list) // max(1, len(frames))
        more = f" (+{invocations - 1} more invocations, one per frame)" if len(frames) < len(action.frame_list) else ""
        lines.append(f"child {action.chunk} slot {action.slot} frames {action.frames}"
                     f"{' cpus ' + ','.join(map(str, cpus)) if cpus else ''}{more}:")
        lines.append("  " + " ".join(shlex.quote(a) for a in argv))
    yield from lines



def render_job(job: Job, reporter: Any, *, cancel_event: Optional[threading.Event] = None,
               host: Optional[Host] = None, handle_signals: bool = True) -> RunReport:
    """Preflight -> remap (when rules are given) -> install fonts (when given) -> plan -> run; fonts removed in every
    case. The preflight runs before anything is started or written: a request the project cannot satisfy ends here
    with PreflightError (exit 2). A cancel (``cancel_event``, or a signal the entry point latched: ``stmpo.cancel``)
    that arrives before the run skips the project conversion and the fonts; the executor then starts no child and
    reports the render cancelled (exit 130)."""

    def cancelled() -> bool:
        return (cancel_event is not None and cancel_event.is_set()) or (handle_signals and LATCH.tripped)

    aerender = resolve_aerender(job)
    project = Path(job.project)
    if not project.is_file():
        raise StmpoError(f"project not found: {project}")
    job = check_job(job, reporter)
    host = host or detect_host()
    plan = plan_job(job, host)
    if not cancelled():
        job = remap_project(job, reporter)
    with installed_fonts(job.fonts if not cancelled() else None, reporter, "render"), \
            watch_run(job, plan, reporter, host, project=project) as watch:  # live/HTML report, history, ETA
        return watch.finished(run(plan, job, watch.reporter, aerender=aerender, options=job.options,
                                  cancel_event=cancel_event, handle_signals=handle_signals,
                                  processor_groups=host.processor_groups))


@contextlib.contextmanager
def installed_fonts(folder: Optional[Path], reporter: Any, what: str) -> Iterator[None]:
    """The fonts of ``folder`` installed while the block runs (nothing when None) and removed after it, also on
    failure and cancel; a failed removal is said (``what``: "render", "batch") and never hides the result."""
    if folder is None:
        yield
        return
    from fonts.install import install, remove

    token = install(folder)
    reporter.message(f"fonts: installed the fonts of {folder} for this {what}")
    try:
        yield
    finally:
        try:
            remove(token)
        except Exception as exc:  # noqa: BLE001 - a failed font removal must not hide the render's result
            reporter.message(f"fonts: warning: could not remove the {what}'s fonts: {exc}")


def default_log_dir() -> Path:
    """A fresh folder for the per-child logs of one render (under the temporary folder)."""
    return Path(tempfile.gettempdir()) / "aefarm-logs" / f"{time.strftime('%Y%m%d-%H%M%S')}-{os.getpid()}"


def target_comp(job: Job) -> Optional["Comp"]:
    """The comp ``job`` renders (its ``comp``, or its render-queue item's), read from its project (None when it
    cannot be read)."""
    from aeproject.errors import ProjectError
    from aeproject.reader import read_project

    try:
        project = read_project(job.project)
    except ProjectError:
        return None
    if job.comp is not None:
        comps = project.comps_named(job.comp)
        return comps[0] if comps else None
    items = [i for i in project.render_queue if i.index == job.rqindex]
    return project.queue_comp(items[0]) if items else None


def render_with_progress(job: Job, progress: str, log_dir: Optional[Path] = None) -> int:
    """`aefarm render` and the OpenJD task: render ``job`` reporting as ``progress`` says; the exit code.

    With ``progress="openjd"`` a known failure (an error with an exit code) also prints its `openjd_fail:` line
    through the one stdout writer, before the error goes on to the caller's one-line message."""
    from stmpo.held import HeldMessages
    from stmpo.progress import make_reporter
    from stmpo.redact import secret_values
    from stmpo.writer import OutputWriter

    writer = OutputWriter()
    log_dir = log_dir or default_log_dir()
    # held until the run starts: a refused request writes only its error (stmpo.held)
    reporter = HeldMessages(make_reporter(progress, writer, len(job.frames), log_dir, secrets=secret_values(job.env)))
    try:
        reporter.message(f"per-child logs: {log_dir}")
        report = render_job(job, reporter)
        if job.encode or job.notify:  # post-render actions (--encode, --notify), after the frames are verified
            from engines.aftereffects.jobs.actions import render_actions

            comp = target_comp(job)
            if job.comp is None and comp is not None:
                job = replace(job, comp_name=comp.name)  # [compName] of a render-queue item's output
            ok, _ = render_actions(job, report, reporter, comp.frame_rate if comp is not None else None)
            if not ok:
                return RENDER_FAILED
        return report.exit_code
    except Exception as exc:
        if progress == "openjd" and getattr(exc, "exit_code", None) is not None:
            writer.line(f"openjd_fail: {' '.join(str(exc).split())}")
        raise
    finally:
        reporter.close()
        writer.close()
