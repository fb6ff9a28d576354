"""`aefarm info PROJECT [--json] [rule options]`: what a project holds, read from its XML without After Effects.

Lists the comps (name, item id, size, frame rate, duration and work area in frames), the render-queue items (index,
comp, queued or not, time span) with their output modules (folder, file template, format), the footage (where it
resolves on this machine after the mapping rules; image sequences with their frames on disk) and the fonts the text
layers use. A binary .aep gets one line saying what can be read from it and to save it as .aepx (exit 2).
"""
from __future__ import annotations

import argparse
import json
import sys
from typing import Sequence

from aefarm_common import exitcodes
from remap.cli_args import add_rule_arguments, rules_from_args


def add_parser(subparsers: "argparse._SubParsersAction", parents: Sequence[argparse.ArgumentParser]
               ) -> argparse.ArgumentParser:
    parser = subparsers.add_parser(
        "info", parents=list(parents), help="list a project's comps, render queue, footage and fonts",
        description="Read an After Effects XML project (.aepx) and list its comps, render-queue items and output "
                    "modules, footage (mapped and checked on this machine) and the fonts its text layers use.")
    parser.add_argument("project", metavar="PROJECT", help="the .aepx project")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    add_rule_arguments(parser)
    parser.set_defaults(func=run)
    return parser


def run(args: argparse.Namespace) -> int:
    from aeproject.footage import check_footage
    from aeproject.reader import read_project
    from engines.aftereffects.project_info import info_json, info_lines

    rules = rules_from_args(args)
    project = read_project(args.project)
    footage = check_footage(project, rules, sequences=True)
    if args.json:
        sys.stdout.write(json.dumps(info_json(project, footage), indent=2, ensure_ascii=False) + "\n")
    else:
        sys.stdout.write("".join(line + "\n" for line in info_lines(project, footage)))
    return exitcodes.OK
