"""`aefarm accsyn run|submit`: test an accsyn job locally under the daemon's contract, or submit it to accsyn.

`run` plays accsyn's part on this machine: it writes the daemon's data.json per work item, runs the compute app
(`engines/aftereffects/accsyn_app.py`, with this Python) once per bucket with ACCSYN_ITEM set, and checks that every
frame of the range came back as a `taskstatus` line. Exit 0 only then; 4 naming the missing frames otherwise; 130
when cancelled (each app is sent SIGTERM and terminates its own aerender trees).

`submit` builds the payload (dependencies from a scan of the project, validated filters and range) and creates the
job with accsyn-python-api (credentials from ACCSYN_WORKSPACE / ACCSYN_API_USER / ACCSYN_API_KEY or its .env file);
`--dry-run` prints the payload instead. Missing credentials are one line and exit 2 (nothing is sent); an accsyn API
error is one line and exit 1.

This module is the two actions' arguments; `run` is ``commands._accsyn_run``, `submit` is ``commands._accsyn_submit``
(with ``engines.aftereffects.accsyn_client`` for the accsyn API).
"""
from __future__ import annotations

import argparse
from typing import Sequence

from engines.aftereffects.commands._accsyn_run import run_command
from engines.aftereffects.commands._accsyn_submit import submit_command
from engines.aftereffects.commands._argtypes import whole_number
from engines.aftereffects.commands._options import add_option_arguments, add_target_arguments
from engines.aftereffects.options import on_surface

OS_NAMES = ("linux", "mac", "windows")
_positive_int = whole_number(1)


def add_parser(subparsers: "argparse._SubParsersAction", parents: Sequence[argparse.ArgumentParser]
               ) -> argparse.ArgumentParser:
    parser = subparsers.add_parser("accsyn", parents=list(parents), help="accsyn: run a job locally, or submit it",
                                   description="accsyn compute jobs: test a payload locally through the compute app "
                                               "(run) or submit a project to accsyn (submit).")
    sub = parser.add_subparsers(dest="accsyn_command", metavar="ACTION")
    sub.required = True

    run = sub.add_parser("run", parents=list(parents), help="run a payload locally through the accsyn compute app",
                         description="Run an accsyn payload on this machine as accsyn's queue and daemon would: "
                                     "one app process per bucket, every frame checked as reported done.")
    run.add_argument("payload", metavar="PAYLOAD.json", help="the submission payload (as sent to accsyn)")
    run.add_argument("--shares", metavar="FILE",
                     help="shares table: JSON list of {id, code, paths} or an accsyn data.json")
    run.add_argument("--node-os", choices=OS_NAMES, default=None,
                     help="OS the app acts as (default: this machine's)")
    run.add_argument("--work", metavar="DIR", help="folder for the per-task data.json files (default: temporary)")
    run.add_argument("--parallel", type=_positive_int, default=1, metavar="N", help="tasks at once (default 1)")
    run.set_defaults(func=run_command)

    submit = sub.add_parser("submit", parents=list(parents), help="submit a project to accsyn",
                            description="Build the accsyn payload (dependencies, filters, mappings) and create the "
                                        "compute job, or print it with --dry-run.")
    submit.add_argument("project", metavar="PROJECT", nargs="?", help="the .aepx/.aep project (not with --job)")
    add_target_arguments(submit, required=False)
    submit.add_argument("--frames", metavar="SPEC", help="range, e.g. 1-100, 1-100x5, '1-10 20'")
    submit.add_argument("--output", metavar="DIR",
                        help="output folder (or folder/name_[#####].ext, or share=<id|code>/path)")
    submit.add_argument("--job", metavar="JOB.json",
                        help="a template job instead of PROJECT: each row is an item (the job file says the rest)")
    submit.add_argument("--engine", required=True, metavar="NAME", help="the accsyn app name the job runs")
    submit.add_argument("--filters", default="", metavar="LIST",
                        help="node filters, e.g. 'ram:>32g,site:sthlm,hostname:-a-b'")
    from remap.cli_args import add_rule_arguments

    add_rule_arguments(submit)
    submit.add_argument("--env-file", metavar="FILE", help="JSON envs, flat or {common, linux, mac, windows}")
    submit.add_argument("--bucket-size", type=_positive_int, metavar="N", help="frames per task")
    submit.add_argument("--name", metavar="NAME", help="job name (default: project, comp and range)")
    submit.add_argument("--arguments", default="", metavar="ARGS", help="extra aerender arguments (one string)")
    submit.add_argument("--input-conversion", choices=("auto", "always", "platform", "never"), default=None,
                        help="default: always when mappings are given, else auto")
    submit.add_argument("--dry-run", action="store_true", help="print the payload JSON, submit nothing")
    add_option_arguments(submit, on_surface("accsyn"),
                         title="render options on the nodes (not given: the app's default, the same as render's)")
    submit.set_defaults(func=submit_command)
    return parser
