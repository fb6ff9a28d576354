"""The `aefarm` command line.

Error contract (every subcommand follows it, so pipelines can rely on it):
- bad arguments or bad input: exactly one line on stderr naming the problem, exit 2 (``exitcodes.BAD_INPUT``);
- an exception carrying an ``exit_code`` attribute is a known failure: its message is printed as one line and the
  process exits with that code (each package defines its own error base class with ``exit_code = 2``);
- anything else is an internal error: one line, exit 1; ``--debug`` shows the traceback.
"""
from __future__ import annotations

import argparse
import importlib
import pkgutil
import sys
import traceback
from typing import List, Optional, Sequence

from engines.aftereffects import __version__, commands, exitcodes

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


def one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split()) or type(exc).__name__
    return text


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
    except Exception as exc:  # the one place that turns exceptions into exit codes
        if debug:
            traceback.print_exc()
        code = getattr(exc, "exit_code", None)
        if isinstance(code, int):
            print(f"{PROG}: error: {one_line(exc)}", file=sys.stderr)
            return code
        if isinstance(exc, OSError) and exc.filename is not None:
            print(f"{PROG}: error: {exc.strerror or one_line(exc)}: {exc.filename}", file=sys.stderr)
            return exitcodes.BAD_INPUT
        hint = "" if debug else " (run with --debug for the traceback)"
        print(f"{PROG}: internal error: {type(exc).__name__}: {one_line(exc)}{hint}", file=sys.stderr)
        return exitcodes.INTERNAL


if __name__ == "__main__":
    sys.exit(main())
