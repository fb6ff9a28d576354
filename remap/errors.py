"""The one error type of the remap package.

Bad rules, bad shares tables and projects that cannot be converted safely are the user's input problems, not bugs:
the CLI prints the message as one line and exits with ``exit_code`` (2, bad input).
"""
from __future__ import annotations

from aefarm_common.errors import AefarmError


class RemapError(AefarmError, ValueError):
    """Bad mapping input. The message is one line and names what was wrong and where it came from."""
