"""The edge of the preflight: read the project, ask the disk, run the pure checks of ``preflight`` for a Job (render
time, on the render node) or for a submission (on the submitting machine), and report.

Nothing here writes: it runs before the converted project, the output folders or any log exist.
"""
from __future__ import annotations

import os
import re
from dataclasses import replace
from pathlib import Path
from typing import Any, List, Optional, Tuple, Union

from aeproject.footage import Disk, check_footage
from aeproject.model import Project
from aeproject.reader import project_kind, read_project
from engines.aftereffects.preflight import WARNING, Finding, PreflightError, Request, Result, check
from stmpo.errors import FrameSpecError
from stmpo.frames import FrameSet

_COMP_TOKEN = re.compile(r"\[compname\]", re.IGNORECASE)  # aerender's token, case as aerender accepts it


def _parent(path: Optional[Union[str, Path]]) -> Optional[Path]:
    return Path(path).parent if path else None


def unwritable(folder: Path) -> Optional[str]:
    """Why no file could be created in ``folder`` (created first if missing), or None when it can: its nearest
    existing ancestor must be a folder this process may write to (a read-only file system says so even to root)."""
    existing = folder
    while not existing.exists():
        if existing.parent == existing:
            return "no folder of it exists"
        existing = existing.parent
    if not existing.is_dir():
        return f"{existing} is a file, not a folder"
    if not os.access(existing, os.W_OK | os.X_OK):
        return "not writable" if existing == folder else f"{existing} is not writable"
    return None


def load_model(project: Union[str, Path]) -> Tuple[Optional[Project], List[Finding]]:
    """The project model, or None with a warning saying why nothing inside the project is checked. A malformed
    .aepx raises ProjectError (bad input, exit 2)."""
    kind = project_kind(project)
    if kind == "aep":
        return None, [Finding(WARNING, f"{project} is a binary .aep: its comps, render queue and footage are not "
                                       "checked before rendering (save it as .aepx to have them checked)")]
    return read_project(project), []  # anything but a binary .aep or an .aepx: ProjectError, one line, exit 2


def preflight_job(job: Any, disk: Optional[Disk] = None) -> Result:
    """All findings for a Job rendering on this machine (footage for ``job.target_os`` when the project is converted
    for another OS: then it is not looked for here)."""
    project, notes = load_model(job.project)
    target_os = job.target_os or None
    request = Request(comp=job.comp, rqindex=job.rqindex, frames=job.frames, output=job.output, rules=job.rules,
                      target_os=target_os, allow_missing_footage=bool(job.continue_on_missing_footage))
    states = check_footage(project, job.rules, target_os, disk) if project is not None else []
    result = check(request, project, states)
    result.findings[:0] = notes
    return result


def check_job(job: Any, reporter: Any = None, disk: Optional[Disk] = None) -> Any:
    """Run the preflight for ``job``: warnings go to ``reporter``; the first error raises PreflightError (exit 2).
    Returns the job to render (with the mapped output when a rule mapped a foreign ``--output``)."""
    result = preflight_job(job, disk)
    if reporter is not None:
        for finding in result.warnings:
            reporter.message(finding.line())
    result.raise_for_errors()
    if result.output is not None and result.output != job.output:
        job = replace(job, output=result.output)
    if job.comp is None and result.comp is not None:
        job = replace(job, comp_name=result.comp.name)  # what aerender puts for [compName]: the item's comp
    for what, path in (("--output", Path(str(job.output)).parent), ("--report", _parent(job.options.report)),
                       ("--report-html", _parent(job.options.report_html))):
        why = unwritable(path) if path is not None else None
        if why is not None:
            raise PreflightError(f"{what} {path}: {why}: nothing would be written there")
    if not (job.comp or job.comp_name) and _COMP_TOKEN.search(str(job.output)):
        raise PreflightError(f"--output {job.output!r} uses [compName], but the comp of render-queue item "
                             f"{job.rqindex} cannot be read from {job.project} (a binary .aep): give --comp NAME, or "
                             f"an output without [compName], or save the project as .aepx")
    return job


def check_submission(project: Union[str, Path], comp: Optional[str] = None, rqindex: Optional[int] = None,
                     frames: Optional[str] = None) -> List[str]:
    """The preflight of a farm submission (``aefarm accsyn submit``, ``aefarm deadline bundle|submit``), run on the
    submitting machine before anything is written or sent: a comp that does not exist or is ambiguous, a
    render-queue item out of range or not queued raise PreflightError (exit 2); frames outside the comp are a
    warning. Footage is left to the submitters' dependency lists (the render node has its own disks and mappings).
    Returns the warning lines; nothing to say when the project is not a file (the submitter's own validation names
    that)."""
    if not Path(project).is_file():
        return []
    project_model, notes = load_model(project)
    try:
        frame_set = FrameSet.parse(frames) if frames else None
    except FrameSpecError:
        frame_set = None  # the submitter's own validation names a bad spec
    result = check(Request(comp=comp, rqindex=rqindex, frames=frame_set, footage_is_local=False), project_model, [])
    result.raise_for_errors()
    return [f"preflight: {f.message}" for f in notes + result.warnings]
