"""The one error type of the fonts package.

Bad input (a file that is not a font, an unsafe name, an unknown token, a font that cannot be found) must reach the
user as one line and exit code 2, so pipelines can tell it from an internal failure.
"""
from __future__ import annotations

from aefarm_common.errors import AefarmError


class FontError(AefarmError):
    """A font problem caused by the input or the host state; the message is one line naming what and where."""
