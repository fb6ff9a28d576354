"""The `aefarm` command line.

Error contract (every subcommand follows it, so pipelines can rely on it):
- bad arguments or bad input: exactly one line on stderr naming the problem, exit 2 (``exitcodes.BAD_INPUT``);
- an ``aefarm_common.errors.AefarmError`` (every package's error derives from it) is a known failure: its message is
  printed as one line and the process exits with its ``exit_code``; ``describe`` is the one translator;
- anything else is an internal error: one line, exit 1; ``--debug`` shows the traceback.
"""
from __future__ import annotations

import argparse
import importlib
import pkgutil
import sys
import traceback
from typing import List, Optional, Sequence

from aefarm_common import exitcodes
from aefarm_common.errors import describe
from engines.aftereffects import __version__, commands

PROG = "aefarm"


class OneLineArgumentParser(argparse.ArgumentParser):
    """argparse prints usage plus the error; pipelines want one line that names the problem."""

    def error(self, message: str) -> "argparse.NoReturn":  # type: ignore[override]
        self.exit(exitcodes.BAD_INPUT, f"{self.prog}: error: {message}\n")


def _debug_parent() -> argparse.ArgumentParser:
    parent = argparse.ArgumentParser(add_help=False)
    parent.add_argument("--debug", action="store_true", default=argparse.SUPPRESS,
                        help="show tracebacks for errors")
    return parent


def build_parser() -> argparse.ArgumentParser:
    parser = OneLineArgumentParser(
        prog=PROG,
        description="Render Adobe After Effects projects on farms (accsyn, Deadline Cloud) and on one large machine.",
    )
    parser.add_argument("--version", action="version", version=f"{PROG} {__version__}")
    parser.add_argument("--debug", action="store_true", help="show tracebacks for errors")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=OneLineArgumentParser)
    sub.required = True
    parents = [_debug_parent()]
    for info in sorted(pkgutil.iter_modules(commands.__path__), key=lambda m: m.name):
        if info.name.startswith("_"):
            continue
        module = importlib.import_module(f"{commands.__name__}.{info.name}")
        module.add_parser(sub, parents)
    return parser


def main(argv: Optional[Sequence[str]] = None) -> int:
    argv_list: List[str] = list(sys.argv[1:] if argv is None else argv)
    debug = "--debug" in argv_list[: argv_list.index("--")] if "--" in argv_list else "--debug" in argv_list
    try:
        parser = build_parser()
        args = parser.parse_args(argv_list)
        return int(args.func(args) or 0)
    except KeyboardInterrupt:
        print(f"{PROG}: cancelled", file=sys.stderr)
        return exitcodes.CANCELLED
    except SystemExit:
        raise
    except Exception as exc:
        if debug:
            traceback.print_exc()
        outcome = describe(exc)  # the one translator of exceptions into exit codes (the accsyn app uses it too)
        if outcome.internal:
            hint = "" if debug else " (run with --debug for the traceback)"
            print(f"{PROG}: internal error: {outcome.line}{hint}", file=sys.stderr)
        else:
            print(f"{PROG}: error: {outcome.line}", file=sys.stderr)
        return outcome.exit_code

if __name__ == "__main__":
    sys.exit(main())
