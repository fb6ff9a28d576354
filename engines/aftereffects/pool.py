"""Render several Jobs through one pool of aerender children (a batch of template variants).

The counterpart of ``render.render_job`` for many renders at once: remap each job's project (when it has rules),
install the fonts once, plan the children for all their frames together, and run them as *targets* of one executor
run (``stmpo.targets``): chunks never span two renders, and a slot that finishes takes the next render's frames at
once. The caller checks each job first (``preflight_job.check_job``), so one bad variant never reaches the pool.
"""
from __future__ import annotations

import dataclasses
import threading
from pathlib import Path
from typing import Any, List, Optional, Sequence, Tuple

from engines.aftereffects.job import Job
from engines.aftereffects.render import installed_fonts, remap_project, resolve_aerender
from stmpo.frames import FrameSet
from stmpo.host import Host, detect_host, load_numa_map
from stmpo.plan import Plan, make_plan
from stmpo.report import RunReport
from stmpo.run import Executor, run
from stmpo.settings import RunOptions
from stmpo.watch.session import watch_run


@dataclasses.dataclass(frozen=True)
class PoolView:
    """The pool as the render watch reads a job (``stmpo.watch.session``): its frames are the run's global frame
    ids (``stmpo.targets``), its output says how many renders; the report paths are the batch's."""

    project: Path
    frames: FrameSet
    output: str
    comp: Optional[str]
    rqindex: Optional[int]
    options: RunOptions


def plan_pool(jobs: Sequence[Job], host: Host) -> Plan:
    """The plan for every frame of ``jobs`` together (the first job's settings: one job file gave them all)."""
    first = jobs[0]
    if first.numa_map is not None:
        host = host.with_numa_nodes(load_numa_map(first.numa_map))
    total = sum(len(job.frames) for job in jobs)
    return make_plan(FrameSet.from_frames(range(total)), first.settings, host, min_chunk=first.options.min_chunk)


def render_pool(jobs: Sequence[Job], reporter: Any, *, cancel_event: Optional[threading.Event] = None,
                host: Optional[Host] = None, handle_signals: bool = True, report: Optional[Path] = None,
                template: Optional[Path] = None) -> Tuple[RunReport, List[RunReport]]:
    """(the run's report, one report per job in order). Jobs must share the run options and environment (they come
    from one job file); their fonts (the first job's) are installed once for the whole run.

    ``report``: the run's live report is written there while it lasts (``aefarm watch`` shows it), its final one
    with the render-watch fields at the end, and its HTML report beside it (``x.json`` -> ``x.html``); the caller
    may then replace the JSON with its own. A pool neither reads nor writes the render history (its frames are
    several renders', no comp's). ``template``: the project the jobs were made from (named in the report)."""
    if not jobs:
        raise ValueError("render_pool needs at least one job")
    aerender = resolve_aerender(jobs[0])
    host = host or detect_host()
    plan = plan_pool(jobs, host)
    converted = [remap_project(job, reporter) for job in jobs]
    first = converted[0]
    with installed_fonts(first.fonts, reporter, "batch"):
        executors: List[Executor] = []
        view = PoolView(project=Path(template or first.project),
                        frames=FrameSet.from_frames(range(sum(len(job.frames) for job in converted))),
                        output=f"{len(converted)} renders", comp=first.comp, rqindex=first.rqindex,
                        options=dataclasses.replace(first.options, report=report, report_html=None))
        with watch_run(view, plan, reporter, host, project=view.project, history=False) as watch:
            outcome = watch.finished(run(plan, first, watch.reporter, aerender=aerender, options=first.options,
                                         cancel_event=cancel_event, handle_signals=handle_signals,
                                         processor_groups=host.processor_groups, targets=converted,
                                         executor_out=executors))
        return outcome, list(executors[0].target_reports)
