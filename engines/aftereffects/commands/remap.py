"""`aefarm remap`: convert a project (.aepx) or a text file with path-mapping rules.

stdout gets one line, the output file's path, so scripts can use it; the summary and warnings go to stderr.
Without ``-o`` the output is named deterministically beside the input (or in ``--out-dir``) and an earlier identical
conversion is reused.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import Sequence

from aefarm_common import exitcodes
from aefarm_common.atomic import atomic_write
from remap.cli_args import add_rule_arguments, rules_from_args
from remap.convert import convert
from remap.errors import RemapError

OS_NAMES = ("windows", "mac", "linux")
WARNINGS_SHOWN = 20  # the rest is in the --report file


def add_parser(subparsers: "argparse._SubParsersAction", parents: Sequence[argparse.ArgumentParser]
               ) -> argparse.ArgumentParser:
    parser = subparsers.add_parser(
        "remap", parents=list(parents), help="map paths in an .aepx project or a text file",
        description="Rewrite the paths of an After Effects XML project (.aepx) or a text file (script, JSON, "
                    "CSV) with mapping rules. Only mapped path bytes change; the input is never modified and the "
                    "output is written atomically. Binary .aep projects are refused when they need mapping "
                    "(save them as .aepx).")
    parser.add_argument("input", metavar="INPUT", help=".aepx project or text file")
    where = parser.add_mutually_exclusive_group()
    where.add_argument("-o", "--output", metavar="OUT", default=None, help="output file")
    where.add_argument("--out-dir", metavar="DIR", default=None,
                       help="folder for the deterministically named output (default: beside the input)")
    parser.add_argument("--to-os", choices=OS_NAMES, default=None,
                        help="OS the output is for (default: this machine's); selects accsyn rules for that OS "
                             "and flags paths of the other OS family that no rule maps")
    parser.add_argument("--report", metavar="JSON", default=None, help="write a JSON report of what changed")
    parser.add_argument("--xml-check", choices=("fast", "full", "none"), default="fast",
                        help=".aepx well-formedness check: fast (default: UTF-8, NUL bytes and the closing root tag "
                             "during the pass; libxml2 when in doubt), full (libxml2 over the whole file, in "
                             "parallel), none")
    add_rule_arguments(parser)
    parser.set_defaults(func=run)
    return parser


def _has_rule_option(args: argparse.Namespace) -> bool:
    return bool(args.map or args.rules or args.accsyn_mappings)


def _same_file(a: str, b: str) -> bool:
    return os.path.abspath(a) == os.path.abspath(b) or (
        os.path.exists(a) and os.path.exists(b) and os.path.samefile(a, b))


def _check_report_path(args: argparse.Namespace) -> None:
    """Refuse a --report that would overwrite the input or the output, or cannot be written, before converting."""
    report = args.report
    for other, what in ((args.input, "the input"), (args.output, "the output")):
        if other and _same_file(report, other):
            raise RemapError(f"--report {report}: is {what}; give another file")
    if os.path.isdir(report):
        raise RemapError(f"--report {report}: is a folder, not a file")
    if not os.path.isdir(Path(report).parent):
        raise RemapError(f"--report {report}: folder {Path(report).parent} does not exist")


def run(args: argparse.Namespace) -> int:
    if not _has_rule_option(args):
        raise RemapError("remap needs mapping rules: give --map SRC=DST, --rules FILE or --accsyn-mappings FILE")
    rules = rules_from_args(args, node_os=args.to_os)
    if args.report:
        _check_report_path(args)
    result = convert(args.input, dst=args.output, rules=rules, target_os=args.to_os, out_dir=args.out_dir,
                     xml_check=args.xml_check)
    warnings = [f"not rewritten: {note}" for note in result.unsafe]
    warnings += [f"no rule maps {path!r} (a {args.to_os} render cannot open it)" for path in result.unmapped]
    for text in warnings[:WARNINGS_SHOWN]:
        print(f"aefarm: warning: {text}", file=sys.stderr)
    if len(warnings) > WARNINGS_SHOWN:
        print(f"aefarm: warning: ... and {len(warnings) - WARNINGS_SHOWN} more (see --report)", file=sys.stderr)
    print(f"aefarm: {result.summary()}", file=sys.stderr)
    if args.report:
        with atomic_write(args.report, "w") as f:
            f.write(json.dumps(result.report(), indent=2, ensure_ascii=False) + "\n")
    sys.stdout.write(f"{result.output}\n")
    return exitcodes.OK
