"""`aefarm scan`: list every path a project references, mapped and checked on this host.

Text output is one line per reference: ``kind  status  raw [-> mapped  (rule)]`` where status is ``ok``,
``MISSING``, ``FOREIGN`` (another OS's path that no rule maps) or ``-`` (cannot be told). ``--json`` prints one
object. ``--strict`` exits 3 (missing input) when any footage or sequence is missing.
"""
from __future__ import annotations

import argparse
import json
import sys
from typing import Sequence

from aefarm_common import exitcodes
from remap.cli_args import add_rule_arguments, rules_from_args
from remap.scan import Reference, missing_footage, scan


def add_parser(subparsers: "argparse._SubParsersAction", parents: Sequence[argparse.ArgumentParser]
               ) -> argparse.ArgumentParser:
    parser = subparsers.add_parser(
        "scan", parents=list(parents), help="list the paths a project references",
        description="List every reference of an .aepx project (footage, image sequences, render outputs, "
                    "expression paths, text-layer paths): raw path, mapped path, whether it exists here and "
                    "which rule applied.")
    parser.add_argument("project", metavar="PROJECT", help=".aepx project (or a text file)")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument("--strict", action="store_true",
                        help="exit 3 when any footage or sequence does not exist on this host")
    add_rule_arguments(parser)
    parser.set_defaults(func=run)
    return parser


def _status(ref: Reference) -> str:
    if ref.foreign:
        return "FOREIGN"
    if ref.exists is None:
        return "-"
    return "ok" if ref.exists else "MISSING"


def run(args: argparse.Namespace) -> int:
    rules = rules_from_args(args)
    refs = scan(args.project, rules)
    missing = missing_footage(refs)
    if args.json:
        payload = {
            "project": str(args.project),
            "references": [r.to_json() for r in refs],
            "missing_footage": [r.effective for r in missing],
            "foreign": [r.raw for r in refs if r.foreign],
        }
        sys.stdout.write(json.dumps(payload, indent=2, ensure_ascii=False) + "\n")
    else:
        lines = []
        for r in refs:
            line = f"{r.kind:<10}  {_status(r):<7}  {r.raw}"
            if r.mapped is not None and r.mapped != r.raw:
                line += f" -> {r.mapped}  ({r.rule})"
            lines.append(line + "\n")
        sys.stdout.write("".join(lines))
        print(f"aefarm: {len(refs)} reference(s), {len(missing)} missing footage, "
              f"{sum(1 for r in refs if r.foreign)} unmapped foreign", file=sys.stderr)
    if args.strict and missing:
        print("aefarm: error: missing footage: " + ", ".join(r.effective for r in missing[:10])
              + (" ..." if len(missing) > 10 else ""), file=sys.stderr)
        return exitcodes.MISSING_INPUT
    return exitcodes.OK
