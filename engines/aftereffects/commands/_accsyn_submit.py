"""`aefarm accsyn submit`: build the accsyn payload from a project and create the compute job.

The payload gets the dependencies from a scan of the project, validated filters and range, the mappings and the
render options; the job is created with accsyn-python-api (``engines.aftereffects.accsyn_client``). ``--dry-run``
prints the payload instead. Missing credentials are one line and exit 2 (nothing is sent); an accsyn API error is one
line and exit 1.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import List

from aefarm_common import exitcodes
from engines.aftereffects.accsyn_client import api_error_line, create_compute_job, job_id_of, open_session
from engines.aftereffects.accsyn_errors import AccsynError
from engines.aftereffects.commands._options import option_values
from engines.aftereffects.options import on_surface

PROG_SUBMIT = "aefarm accsyn submit"


def build_submission(args: argparse.Namespace) -> tuple:
    """``(payload, warnings)`` from the submit options. Bad input raises an exit_code-2 error (one line)."""
    from engines.aftereffects.accsyn_payload import (
        build_payload,
        dependencies_from_references,
        mapped_share_paths_from_rules,
    )
    from engines.aftereffects.envs import current_os, load_env_file
    from remap.cli_args import load_accsyn_mappings, rules_from_args
    from remap.errors import RemapError
    from remap.rules import RuleSet

    project = Path(args.project)
    if not project.is_file():
        raise AccsynError(f"project not found: {project}")
    project_path = str(project.resolve())
    rules_from_args(args)  # validates every mapping option together (conflicts are errors)
    insensitive = bool(getattr(args, "case_insensitive_posix", False))
    rules = RuleSet.from_cli(list(args.map or []), case_insensitive_posix=insensitive)
    if args.rules:
        rules = rules.merged(RuleSet.from_openjd_file(args.rules, case_insensitive_posix=insensitive))
    mapped = mapped_share_paths_from_rules(rules)
    if args.accsyn_mappings:  # kept as written: share=<id|code> locals resolve on each node, not here
        entries, _shares, _node = load_accsyn_mappings(args.accsyn_mappings)
        mapped += [dict(e) for e in entries]
    warnings: List[str] = []
    from engines.aftereffects.preflight_job import check_submission

    warnings += check_submission(project_path, args.comp, args.rqindex, args.frames)  # a wrong comp: exit 2 here
    try:
        from remap.scan import scan

        references = scan(project)
    except RemapError as exc:
        references = []
        warnings.append(f"dependencies not listed: {exc}")
    dependencies, dep_warnings = dependencies_from_references(project_path, references)
    warnings += dep_warnings
    envs = load_env_file(args.env_file) if args.env_file else None
    output = args.output
    if not output.strip():
        raise AccsynError("--output is empty; give the folder the frames go to")
    if not output.lower().startswith("share=") and not os.path.isabs(output) and not output.startswith("\\\\"):
        output = os.path.abspath(output)
    payload = build_payload(
        project=project_path, frames=args.frames, output=output, remote_os=current_os(), comp=args.comp,
        rqindex=args.rqindex, engine=args.engine, name=args.name, filters=args.filters,
        mapped_share_paths=mapped, envs=envs, bucket_size=args.bucket_size, dependencies=dependencies,
        arguments=args.arguments, input_conversion=args.input_conversion,
        options=option_values(args, on_surface("accsyn")))
    return payload, warnings


JOB_REFUSES = ("project", "comp", "rqindex", "frames", "output", "env_file", "arguments", "input_conversion",
               "rules", "accsyn_mappings", "shares")


def build_job_submission(args: argparse.Namespace) -> tuple:
    """``(payload, warnings)`` of a template job (``--job``): one item per row."""
    from engines.aftereffects.jobs.farm import job_payload

    given = [name for name in JOB_REFUSES if getattr(args, name, None) not in (None, False, "")]
    given += [name for name, value in option_values(args, on_surface("accsyn")).items() if value is not None]
    if getattr(args, "map", None):
        given.append("map")
    if given:
        flag = "PROJECT" if given[0] == "project" else "--" + given[0].replace("_", "-")
        raise AccsynError(f"{flag}: a template job's render is in its job file; give --job with --engine "
                          "(and --filters, --bucket-size, --name, --dry-run)")
    return job_payload(Path(args.job), args.engine, args.name, args.filters, args.bucket_size)


def submit_command(args: argparse.Namespace) -> int:
    if args.job:
        payload, warnings = build_job_submission(args)
    else:
        target = None if args.comp is None and args.rqindex is None else True
        missing = [name for name, value in (("PROJECT", args.project), ("--comp or --rqindex", target),
                                            ("--frames", args.frames), ("--output", args.output)) if value is None]
        if missing:
            raise AccsynError(f"the following arguments are required: {', '.join(missing)} (or --job JOB.json)")
        payload, warnings = build_submission(args)
    if not args.dry_run:
        try:
            session = open_session()  # before anything is printed: missing credentials are one line, exit 2
        except AccsynError:
            raise
        except Exception as exc:  # accsyn API errors (AccsynException, AssertionError, transport): one line
            print(f"{PROG_SUBMIT}: accsyn error: {api_error_line(exc)}", file=sys.stderr)
            return exitcodes.INTERNAL
    for warning in warnings:
        print(f"{PROG_SUBMIT}: warning: {warning}", file=sys.stderr)
    if args.dry_run:
        print(json.dumps(payload, indent=2))
        return exitcodes.OK
    try:
        result = create_compute_job(payload, session)
        job_id = job_id_of(result)
    except AccsynError:
        raise  # not an API answer: bad input (exit 2, printed by the CLI)
    except Exception as exc:  # accsyn API errors (AccsynException, AssertionError, transport): one line
        print(f"{PROG_SUBMIT}: accsyn error: {api_error_line(exc)}", file=sys.stderr)
        return exitcodes.INTERNAL
    print(job_id)
    return exitcodes.OK
