"""A static check, run by mypy (not pytest): the engine's Job and the reporters satisfy the executor's protocols.

`.venv/bin/mypy --follow-imports=silent tests/seam_types.py` fails when a field the executor reads
(``stmpo.seams.RenderJob``) or a reporter method it calls (``stmpo.seams.RenderReporter``) goes missing or changes
type. The engine passes its reporter typed ``Any``, so without this nothing would check that seam.
"""
from __future__ import annotations

from engines.aftereffects.job import Job
from stmpo.progress import AccsynReporter, BarReporter, LogReporter, OpenJDReporter, Reporter
from stmpo.seams import RenderJob, RenderReporter


def job_is_a_render_job(job: Job) -> RenderJob:
    return job


def reporters_are_render_reporters(base: Reporter, log: LogReporter, openjd: OpenJDReporter,
                                   accsyn: AccsynReporter, bar: BarReporter) -> list[RenderReporter]:
    return [base, log, openjd, accsyn, bar]
