"""The accsyn integration's error class, shared by the app, the payload builder, the filters and the commands.

Separate module so that the pure parts (filters, payload) do not import the executor just to raise an error.
"""
from __future__ import annotations

from aefarm_common.errors import AefarmError


class AccsynError(AefarmError, ValueError):
    """Bad accsyn input (payload, data.json, filter, work item): one line naming what and where."""
