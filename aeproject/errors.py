"""The error ``aeproject`` raises for a project it cannot read: one line, exit code 2."""
from __future__ import annotations

from aefarm_common.errors import AefarmError


class ProjectError(AefarmError):
    """A project file that cannot be read as an After Effects XML project (names the file and the problem)."""
