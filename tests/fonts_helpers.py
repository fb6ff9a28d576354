"""Shared helpers for the fonts tests: real fonts from Debian's fonts-dejavu-core, renamed so fc-list can tell ours."""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Dict, Optional, Set

DEJAVU = Path("/usr/share/fonts/truetype/dejavu")
DEJAVU_SANS = DEJAVU / "DejaVuSans.ttf"
DEJAVU_SERIF = DEJAVU / "DejaVuSerif.ttf"
REPO = Path(__file__).resolve().parents[1]
XDG_VARIABLES = ("XDG_DATA_HOME", "XDG_STATE_HOME", "XDG_CACHE_HOME", "XDG_CONFIG_HOME", "XDG_DATA_DIRS",
                 "AEFARM_FONTS_DIR", "AEFARM_STATE_DIR", "FONTCONFIG_FILE", "FONTCONFIG_PATH")


def make_variant(source: Path, family: str, destination: Path, style: str = "Regular") -> Path:
    """Save ``source`` with its family renamed, so it is a font no system folder already has."""
    from fontTools.ttLib import TTFont

    font = TTFont(str(source))
    postscript = (family + "-" + style).replace(" ", "")
    names = font["name"]
    for record in list(names.names):
        if record.nameID in (16, 17, 18):
            names.removeNames(nameID=record.nameID)
    for name_id, value in ((1, family), (2, style), (3, f"aefarm-test:{postscript}"), (4, f"{family} {style}"),
                           (6, postscript)):
        names.setName(value, name_id, 3, 1, 0x409)
        names.setName(value, name_id, 1, 0, 0)
    destination.parent.mkdir(parents=True, exist_ok=True)
    font.save(str(destination))
    return destination


def child_env(home: Path) -> Dict[str, str]:
    """The environment of a child process that must see ``home`` as the user's home and nothing else."""
    env = {k: v for k, v in os.environ.items() if k not in XDG_VARIABLES}
    env["HOME"] = str(home)
    env["PYTHONPATH"] = str(REPO)
    return env


def fc_families(home: Path) -> Set[str]:
    """Families fontconfig lists for a user whose home is ``home`` (it reads ``~/.local/share/fonts``)."""
    out = subprocess.run(["fc-list", ":", "family"], capture_output=True, text=True, env=child_env(home), check=True)
    families: Set[str] = set()
    for line in out.stdout.splitlines():
        families.update(part.strip() for part in line.split(","))
    return families


def copy_font(source: Path, folder: Path, name: Optional[str] = None) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / (name or source.name)
    shutil.copyfile(source, target)
    return target


def python_child(code: str, home: Path, **kwargs) -> "subprocess.Popen[str]":
    """A Python process running ``code`` with ``home`` as HOME; stdin/stdout are pipes for a line protocol."""
    return subprocess.Popen([sys.executable, "-c", code], env=child_env(home), cwd=str(REPO), text=True,
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, **kwargs)
