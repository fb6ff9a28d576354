"""aefarm's names for operating systems (``windows``, ``mac``, ``linux``) and the one check of which one runs here.

Code that branches on the running OS writes ``sys.platform == "win32"`` / ``sys.platform == "darwin"`` directly
(a type checker understands those and checks each branch for its platform); everything that needs the *name* asks
``host_os()``.
"""
from __future__ import annotations

import sys

OS_NAMES = ("windows", "mac", "linux")

_OS_ALIASES = {
    "windows": "windows", "win": "windows", "win32": "windows", "win64": "windows", "nt": "windows",
    "mac": "mac", "macos": "mac", "darwin": "mac", "osx": "mac", "macosx": "mac",
    "linux": "linux", "linux2": "linux",
}


def normalize_os(name: str) -> str:
    """aefarm's OS name (``windows``/``mac``/``linux``) for common spellings; ValueError for anything else."""
    key = str(name).strip().lower()
    if key not in _OS_ALIASES:
        raise ValueError(f"unknown OS {name!r} (expected windows, mac or linux)")
    return _OS_ALIASES[key]


def host_os() -> str:
    """This machine's OS as aefarm names it."""
    if sys.platform == "win32":
        return "windows"
    if sys.platform == "darwin":
        return "mac"
    return "linux"
