"""macOS: fonts in ``~/Library/Fonts`` are activated for the user by the system font daemon, no call needed."""
from __future__ import annotations

from pathlib import Path
from typing import Optional

from fonts.backends.base import FontBackend


def default_fonts_dir(home: Path) -> Path:
    return Path(home) / "Library" / "Fonts"


class MacBackend(FontBackend):
    name = "mac"

    def __init__(self, home: Optional[Path] = None, fonts_dir: Optional[Path] = None) -> None:
        super().__init__(fonts_dir or default_fonts_dir(home or Path.home()))
