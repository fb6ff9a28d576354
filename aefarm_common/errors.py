"""The one error base of aefarm and the one place that turns an exception into an exit code and a line.

Every package's bad-input error derives from ``AefarmError``; its ``exit_code`` says how the process ends
(``exitcodes.BAD_INPUT`` unless a subclass says otherwise). The CLI and the accsyn app both call ``describe`` so a
failure reads and exits the same way whichever entry point hit it.
"""
from __future__ import annotations

from typing import NamedTuple

from aefarm_common import exitcodes


class AefarmError(Exception):
    """A known failure caused by the request or its inputs: one line naming what and where; ``exit_code`` 2."""

    exit_code: int = exitcodes.BAD_INPUT


class MissingInputError(AefarmError):
    """An input the request needs does not exist here (footage, aerender): exit 3."""

    exit_code = exitcodes.MISSING_INPUT


class Outcome(NamedTuple):
    """How a failed command ends: its exit code, the one line to show, and whether it is an internal error."""

    exit_code: int
    line: str
    internal: bool


def one_line(exc: BaseException) -> str:
    """The exception's message on one line (whitespace runs folded), or its type name when it has none."""
    return " ".join(str(exc).split()) or type(exc).__name__


def describe(exc: BaseException) -> Outcome:
    """The exit code and message for ``exc``: known failures (``AefarmError``, an OS error on a named file) are
    bad input; anything else is internal (exit 1, the line names the exception type)."""
    if isinstance(exc, AefarmError):
        return Outcome(int(exc.exit_code), one_line(exc), False)
    if isinstance(exc, OSError) and exc.filename is not None:
        return Outcome(exitcodes.BAD_INPUT, f"{exc.strerror or one_line(exc)}: {exc.filename}", False)
    return Outcome(exitcodes.INTERNAL, f"{type(exc).__name__}: {one_line(exc)}", True)
