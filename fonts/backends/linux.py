"""Linux: our own sub-folder of the user's XDG fonts folder, then ``fc-cache`` so fontconfig sees the change at once.

Linux is not a render platform for After Effects; this backend is what CI verifies the shared logic with, end to end.
``fc-cache`` runs without ``-f``: fontconfig compares the folder's nanosecond mtime, and ``-f`` makes it sleep.
"""
from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path
from typing import Mapping, Optional

from fonts.backends.base import FontBackend


def default_fonts_dir(home: Optional[Path] = None, environ: Optional[Mapping[str, str]] = None) -> Path:
    """``$XDG_DATA_HOME/fonts/aefarm`` (``~/.local/share/fonts/aefarm``): fontconfig scans it by default."""
    env = os.environ if environ is None else environ
    data_home = env.get("XDG_DATA_HOME") if home is None else None
    base = Path(data_home) if data_home and os.path.isabs(data_home) else Path(home or Path.home()) / ".local" / "share"
    return base / "fonts" / "aefarm"


class LinuxOsCalls:
    """The only OS call this backend makes; replaceable by a recording fake."""

    def fc_cache(self, folder: Path) -> None:
        program = shutil.which("fc-cache")
        if program is None:
            return  # without fontconfig's tool, fontconfig still rescans folders whose mtime changed
        try:
            subprocess.run([program, str(folder)], stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                           stderr=subprocess.DEVNULL, timeout=120, check=False)
        except (OSError, subprocess.TimeoutExpired):
            pass  # a stale cache only costs fontconfig a rescan of this folder; never fail a render for it


class LinuxBackend(FontBackend):
    name = "linux"

    def __init__(self, home: Optional[Path] = None, fonts_dir: Optional[Path] = None,
                 os_calls: Optional[LinuxOsCalls] = None) -> None:
        super().__init__(fonts_dir or default_fonts_dir(home))
        self.os_calls = os_calls or LinuxOsCalls()

    def refresh(self) -> None:
        if self.fonts_dir.is_dir():
            self.os_calls.fc_cache(self.fonts_dir)
