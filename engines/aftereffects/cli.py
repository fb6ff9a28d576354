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
import os
import pkgutil
import re
import sys
import traceback
from typing import Any, List, NoReturn, Optional, Sequence

from aefarm_common import exitcodes
from aefarm_common.errors import describe
from engines.aftereffects import __version__, commands

PROG = "aefarm"
NEGATIVE_VALUE = re.compile(r"^-\d")
RENDERING = (("render",), ("deadline", "task"), ("demo",))  # commands that render: a cancel signal is latched


def renders(argv: Sequence[str]) -> bool:
    """Whether ``argv`` (without the program name) is a command that renders."""
    words = [a for a in argv if not a.startswith("-")][:2]
    return any(tuple(words[:len(command)]) == command for command in RENDERING)


class OneLineArgumentParser(argparse.ArgumentParser):
    """The parser of every aefarm command and subcommand (subparsers inherit the class):

    - an error is one line naming the problem (argparse prints usage plus the error; pipelines want one line);
    - no abbreviations: ``--frame`` is an error, never a silent ``--frames``;
    - a value starting with ``-`` and a digit is a value, not an option: ``--frames -5--1`` works without ``=``
      (no aefarm option starts with ``-<digit>``). Frame specs of negative frames are the reason."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs["allow_abbrev"] = False
        super().__init__(*args, **kwargs)
        self._negative_number_matcher = NEGATIVE_VALUE

    def error(self, message: str) -> NoReturn:
        self.exit(exitcodes.BAD_INPUT, f"{self.prog}: error: {message}\n")


def _debug_parent() -> argparse.ArgumentParser:
    parent = argparse.ArgumentParser(add_help=False)
    parent.add_argument("--debug", action="store_true", default=argparse.SUPPRESS,
                        help="show tracebacks for errors")
    return parent


def command_names() -> List[str]:
    """Every subcommand: one module of `engines.aftereffects.commands` each, named as the command."""
    return sorted(info.name for info in pkgutil.iter_modules(commands.__path__) if not info.name.startswith("_"))


def command_in(argv: Sequence[str]) -> Optional[str]:
    """The subcommand ``argv`` asks for: its first word that is not a top-level option (``--debug``, ``--version``,
    ``-h`` take no value), when that word names a command; else None."""
    for word in argv:
        if word == "--":
            return None
        if not word.startswith("-"):
            return word if word in command_names() else None
    return None


def build_parser(command: Optional[str] = None) -> argparse.ArgumentParser:
    """The whole `aefarm` parser; with ``command``, only that command's module is imported and the others are
    placeholders (same names, no arguments). Start-up matters: the submitter panel and pipelines call small commands
    (`aefarm frames`) often, and each command module imports what its work needs (lxml, psutil, openjd...)."""
    parser = OneLineArgumentParser(
        prog=PROG,
        description="Render Adobe After Effects projects on farms (accsyn, Deadline Cloud) and on one large machine.",
    )
    parser.add_argument("--version", action="version", version=f"{PROG} {__version__}")
    parser.add_argument("--debug", action="store_true", help="show tracebacks for errors")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=OneLineArgumentParser)
    sub.required = True
    parents = [_debug_parent()]
    for name in command_names():
        if command is not None and name != command:  # "" imports none
            sub.add_parser(name, add_help=False)
            continue
        module = importlib.import_module(f"{commands.__name__}.{name}")
        module.add_parser(sub, parents)
    return parser


def main(argv: Optional[Sequence[str]] = None) -> int:
    argv_list: List[str] = list(sys.argv[1:] if argv is None else argv)
    latch = None
    if renders(argv_list):  # first of all: a SIGTERM from now on cancels the render (exit 130, a report), no kill
        from stmpo.cancel import LATCH

        latch = LATCH.install()
    try:
        return _main(argv_list)
    finally:
        # argv None: this is the process's own command line (console script, ``python -m``), and the process ends
        # now: the latch stays, so a cancel signal that arrives after the render finished changes nothing (with
        # the default handler back it would kill the process: exit -15 after a verified render). Called with a
        # list (tests, embedding): the previous handlers are put back.
        if latch is not None and argv is not None:
            latch.restore()


def _main(argv_list: List[str]) -> int:
    debug = "--debug" in argv_list[: argv_list.index("--")] if "--" in argv_list else "--debug" in argv_list
    try:
        command = command_in(argv_list)
        if command is None and "--version" in argv_list and not {"-h", "--help"} & set(argv_list):
            command = ""  # the version needs no command module
        parser = build_parser(command)
        args = parser.parse_args(argv_list)
        code = int(args.func(args) or 0)
        sys.stdout.flush()  # a closed stdout shows here, not in the interpreter's own flush at exit
        return code
    except BrokenPipeError:
        return closed_stdout()
    except KeyboardInterrupt:
        print(f"{PROG}: cancelled", file=sys.stderr)
        return exitcodes.CANCELLED
    except SystemExit:  # --help, --version, argparse errors: what they printed must not fail at exit either
        try:
            sys.stdout.flush()
        except BrokenPipeError:
            raise SystemExit(closed_stdout()) from None
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


def closed_stdout() -> int:
    """The reader of our stdout went away (``aefarm frames ... | head -2``): stop quietly, as ``seq`` or ``cat``
    would, with the status a shell reports for them (128 + SIGPIPE = 141; on Windows, which has no SIGPIPE, too).

    What is still buffered can never be written: stdout is pointed at the null device so the interpreter's flush at
    exit does not print an "Exception ignored" traceback."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    except (OSError, ValueError, AttributeError):  # stdout without a file descriptor (tests, embedding)
        pass
    return exitcodes.CLOSED_STDOUT


if __name__ == "__main__":
    sys.exit(main())
