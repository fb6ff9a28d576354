"""Template jobs on farms: a Deadline Cloud bundle whose task parameter runs over the rows, accsyn jobs whose items
are rows, and the accsyn app's side of running one.

Deadline (``write_job_bundle``): the bundle holds ``openjd/aftereffects-job/template.yaml``, a copy of the job file
with every path absolute (``inputs.portable_document``: the worker maps them with its path-mapping rules),
``parameter_values.yaml`` (``Rows`` = every row, ``RowsPerTask``) and ``asset_references.yaml`` (the job copy, the
template, the rows file, the audio, the footage the rows swap in with whole image sequences, the template's other
footage; the output folder as output).

accsyn (``job_payload``, ``run_job_item``): the job's ``range`` is the row numbers, so each work item is a row (or a
bucket of rows); ``input`` is the job file, ``parameters.job`` says so, ``dependencies`` are the same files as above.
The app runs ``aefarm job run`` for its item's rows and reports each delivered (or already delivered) variant as
its item done: ``{"taskstatus": true, "uri": "<row>", "status": "done"}``.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence, Tuple

from engines.aftereffects.jobs.batch import Checked, RunRequest, check
from engines.aftereffects.jobs.errors import JobError
from engines.aftereffects.jobs.inputs import job_files, job_references, portable_document
from stmpo.frames import FrameSet

JOB_FILE = "job.json"


def checked_job(job_file: Path) -> Checked:
    """The job checked and every row planned; JobError when a row cannot render (a farm job must not carry one)."""
    checked = check(RunRequest(job_file=job_file))
    if checked.failed:
        checked.template.close()
        more = f" (and {len(checked.failed) - 1} more rows)" if len(checked.failed) > 1 else ""
        raise JobError(f"{checked.failed[0].reason}{more}; fix the rows (aefarm job check {job_file})")
    return checked


def row_numbers(checked: Checked) -> FrameSet:
    return FrameSet.from_frames([row.number for row in checked.rows])


# ------------------------------------------------------------------------------------------------------ Deadline
def write_job_bundle(job_file: Path, dest: Optional[Path] = None, rows_per_task: int = 1,
                     aerender: Optional[str] = None, priority: int = 50, max_retries_per_task: int = 2,
                     force: bool = False) -> Tuple[Path, List[str]]:
    """Check the job, then write its bundle folder atomically; (the folder, warnings)."""
    from engines.aftereffects.deadline_bundle import (
        BundleError,
        _yaml_text,
        asset_references,
        template_path,
        write_bundle_folder,
    )

    if not 1 <= rows_per_task <= 100000:
        raise BundleError(f"--rows-per-task must be between 1 and 100000, got {rows_per_task}")
    checked = checked_job(job_file)
    try:
        spec = checked.spec
        dest = Path(dest) if dest is not None else Path.cwd() / f"{spec.path.stem}-job-bundle"
        dest = Path(dest).absolute()
        document = portable_document(spec)
        refs, warnings = job_references(checked)
        warnings = checked.warnings + warnings
        assets = asset_references(dest / JOB_FILE, refs, spec.output_dir, spec.fonts)
        inputs = assets["assetReferences"]["inputs"]  # type: ignore[index]
        for path in job_files(spec)[1:]:  # the job file travels as the bundle's copy
            if path not in inputs["filenames"] and Path(path).is_file():
                inputs["filenames"].append(path)
        values: List[Tuple[str, object]] = [
            ("JobFile", str(dest / JOB_FILE)), ("OutputDir", str(spec.output_dir)),
            ("Rows", row_numbers(checked).to_openjd()), ("RowsPerTask", str(rows_per_task))]
        if aerender:
            values.append(("AerenderPath", aerender))
        values += [("deadline:priority", priority), ("deadline:maxRetriesPerTask", max_retries_per_task)]
        texts = {JOB_FILE: json.dumps(document, indent=2, ensure_ascii=False) + "\n",
                 "parameter_values.yaml": _yaml_text({"parameterValues": [{"name": n, "value": v}
                                                                          for n, v in values]}),
                 "asset_references.yaml": _yaml_text(assets)}
        return write_bundle_folder(dest, template_path("job"), texts, force), warnings
    finally:
        checked.template.close()


# ------------------------------------------------------------------------------------------------------ accsyn
def job_dependencies(checked: Checked) -> Tuple[List[str], List[str]]:
    """(dependencies, warnings) of a job for accsyn: the job's own files and every reference that exists here."""
    from engines.aftereffects.accsyn_payload import dependencies_from_references

    refs, warnings = job_references(checked)
    deps, more = dependencies_from_references(str(checked.spec.template), refs)
    out = [p for p in job_files(checked.spec) if Path(p).is_file()]
    out += [d for d in deps if d not in out]
    return out, warnings + more


def job_payload(job_file: Path, engine: str, name: Optional[str] = None, filters: str = "",
                bucket_size: Optional[int] = None, remote_os: Optional[str] = None) -> Tuple[Dict[str, Any], List[str]]:
    """The accsyn payload of a template job: one item per row (see the module docstring)."""
    from engines.aftereffects.accsyn_errors import AccsynError
    from engines.aftereffects.accsyn_filters import normalize_filters
    from engines.aftereffects.envs import current_os

    if not engine or not engine.strip():
        raise AccsynError("--engine: expected the accsyn app name, e.g. aftereffects")
    if bucket_size is not None and bucket_size < 1:
        raise AccsynError(f"bucket size {bucket_size!r}: expected a whole number >= 1")
    checked = checked_job(job_file)
    try:
        spec = checked.spec
        deps, warnings = job_dependencies(checked)
        payload: Dict[str, Any] = {
            "name": name or f"{spec.path.stem}: {len(checked.rows)} variants of {spec.template.name}",
            "engine": engine.strip(), "input": str(spec.path), "output": str(spec.output_dir),
            "range": str(row_numbers(checked)), "dependencies": deps,
            "parameters": {"job": True, "remote_os": remote_os or current_os(), "input_conversion": "never"},
        }
        normalized = normalize_filters(filters or "")
        if normalized:
            payload["filters"] = normalized
        if bucket_size is not None:
            payload["settings"] = {"task_bucketsize": bucket_size}
        return payload, checked.warnings + warnings
    finally:
        checked.template.close()


def is_job_data(data: Any) -> bool:
    """Does an accsyn data.json describe a template job (``compute.parameters.job`` true)?"""
    compute = data.get("compute") if isinstance(data, dict) else None
    params = compute.get("parameters") if isinstance(compute, dict) else None
    return isinstance(params, dict) and params.get("job") is True


def run_job_item(data: Dict[str, Any], item: Optional[str], writer: Any, node_os: Optional[str] = None,
                 work: Optional[Path] = None) -> int:
    """The accsyn app's task for a template job: render the rows of ``item`` (all rows when unset or ``all``)."""
    from engines.aftereffects.accsyn_job import accsyn_rules, resolve_location
    from engines.aftereffects.envs import current_os
    from engines.aftereffects.jobs.batch import run_batch

    node = node_os or current_os()
    params = data["compute"].get("parameters", {})
    remote = params.get("remote_os") or None
    rules = accsyn_rules(data, node, remote)
    job_file = resolve_location(data["compute"].get("input"), "input", data, node, rules)
    rows = None if item in (None, "", "all") else str(item)
    request = RunRequest(job_file=Path(job_file), rows=rows, progress="accsyn", node_rules=rules,
                         variants_dir=(work / "variants") if work is not None else None)
    return run_batch(request, writer=writer)


def items_of(rows: Sequence[int]) -> str:
    return str(FrameSet.from_frames(list(rows)))
