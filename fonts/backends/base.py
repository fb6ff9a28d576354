"""The one interface every OS's font installation sits behind.

The shared logic (verification, unique names, copying, reference counting) lives in ``fonts.install``; a backend only
says where user fonts go and how the OS is told about a file that arrived or is about to leave.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any, Dict, Mapping

from fonts.inspect import FontFile


class FontBackend:
    """Base backend: fonts copied into ``fonts_dir`` are picked up by the OS without further calls."""

    name = "base"

    def __init__(self, fonts_dir: Path) -> None:
        self.fonts_dir = Path(fonts_dir)

    def register(self, path: Path, font: FontFile) -> Dict[str, Any]:
        """Tell the OS about ``path`` (already in ``fonts_dir``); the returned data is kept for :meth:`unregister`."""
        return {}

    def unregister(self, path: Path, registration: Mapping[str, Any]) -> None:
        """Undo :meth:`register` before ``path`` is deleted."""

    def refresh(self) -> None:
        """Make a batch of changes visible to programs started from now on (After Effects reads fonts at launch)."""

    def __repr__(self) -> str:
        return f"{type(self).__name__}({str(self.fonts_dir)!r})"
