"""`aefarm env`: show the environment a render child would get from an env dictionary file.

Prints only the variables the file sets, after choosing `common` + the OS section, expanding `${NAME}` and
(optionally) mapping path values with the usual rule options. Text output is one `NAME=value` line per variable in
file order; `--json` prints one JSON object. `--no-inherit` expands against the file alone (reproducible output).
"""
from __future__ import annotations

import argparse
import json
import os
import sys
from typing import Sequence

from engines.aftereffects.envs import SECTIONS, EnvError, load_env_file, resolve_envs
from remap.cli_args import add_rule_arguments, rules_from_args


def add_parser(subparsers: "argparse._SubParsersAction", parents: Sequence[argparse.ArgumentParser]
               ) -> argparse.ArgumentParser:
    parser = subparsers.add_parser(
        "env", parents=list(parents), help="resolve an env dictionary file for one OS",
        description="Resolve a JSON env dictionary (flat, or {common, linux, mac, windows}) for one OS: common "
                    "first, then the OS section; ${NAME} expands against the result, then the inherited "
                    "environment; an undefined ${NAME} is an error ($${NAME} is a literal).")
    parser.add_argument("file", metavar="FILE", help="JSON env dictionary")
    parser.add_argument("--os", choices=[s for s in SECTIONS if s != "common"], default=None,
                        help="target OS (default: this machine's)")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument("--no-inherit", action="store_true",
                        help="expand ${NAME} against the file only, not this process's environment")
    add_rule_arguments(parser)
    parser.set_defaults(func=run)
    return parser


def run(args: argparse.Namespace) -> int:
    data = load_env_file(args.file)
    rules = rules_from_args(args, node_os=args.os)
    try:
        resolved = resolve_envs(data, os_name=args.os, base_env={} if args.no_inherit else os.environ, rules=rules)
    except EnvError as exc:
        raise EnvError(f"env file {args.file}: {exc}") from None
    if args.json:
        sys.stdout.write(json.dumps(resolved, indent=2, ensure_ascii=False) + "\n")
    else:
        sys.stdout.write("".join(f"{name}={value}\n" for name, value in resolved.items()))
    return 0
