"""The one error of template jobs: a job file, a row or an action that cannot work (one line; exit 2)."""
from __future__ import annotations

from aefarm_common.errors import AefarmError


class JobError(AefarmError):
    """Bad input in a job file, its rows or its actions: one line naming the file and where in it; exit 2."""
