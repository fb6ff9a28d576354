"""The error base of the `stmpo` package.

Bad input to planning, affinity or aerender handling (a malformed NUMA map, an impossible setting, a wrong aerender
path) raises ``StmpoError`` with one line naming what and where; the `aefarm` CLI prints that line and exits with
``exit_code`` instead of showing a traceback. A bad frame spec or frame-set request raises ``FrameSpecError``
(also a ValueError).
"""
from __future__ import annotations

from aefarm_common.errors import AefarmError


class StmpoError(AefarmError):
    """Bad input for STMPO (settings, topology map, aerender command); exit code 2 like every aefarm package."""


class FrameSpecError(AefarmError, ValueError):
    """Bad frame spec or bad frame-set request (bad input: exit code 2)."""
