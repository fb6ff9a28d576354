"""Per-user folders of aefarm: state (font manifest, learned aerender behaviour, render history) and work (converted
projects).

``AEFARM_STATE_DIR`` and ``AEFARM_WORK_DIR`` override them (tests, shared nodes). Nothing here creates a folder: the
writer creates what it writes, when it writes it.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Mapping, Optional

from aefarm_common.platforms import host_os

STATE_DIR_ENV = "AEFARM_STATE_DIR"
WORK_DIR_ENV = "AEFARM_WORK_DIR"


def default_state_dir(os_name: Optional[str] = None, home: Optional[Path] = None,
                      environ: Optional[Mapping[str, str]] = None) -> Path:
    """``$AEFARM_STATE_DIR``, else the per-user state folder of the OS (``home`` replaces the user's home):
    Windows ``%LOCALAPPDATA%\\aefarm``, macOS ``~/Library/Application Support/aefarm``, Linux
    ``$XDG_STATE_HOME/aefarm`` or ``~/.local/state/aefarm``."""
    env = os.environ if environ is None else environ
    if env.get(STATE_DIR_ENV):
        return Path(env[STATE_DIR_ENV])
    os_name = os_name or host_os()
    base_home = Path(home) if home is not None else Path.home()
    if os_name == "windows":
        local = env.get("LOCALAPPDATA") if home is None else None
        return (Path(local) if local else base_home / "AppData" / "Local") / "aefarm"
    if os_name == "mac":
        return base_home / "Library" / "Application Support" / "aefarm"
    state_home = env.get("XDG_STATE_HOME") if home is None else None
    if state_home and os.path.isabs(state_home):
        return Path(state_home) / "aefarm"
    return base_home / ".local" / "state" / "aefarm"


def default_work_dir(os_name: Optional[str] = None, home: Optional[Path] = None,
                     environ: Optional[Mapping[str, str]] = None) -> Path:
    """``$AEFARM_WORK_DIR``, else ``work`` under the state folder: where converted projects are written when the
    request names no folder (never the project's own, often read-only, share)."""
    env = os.environ if environ is None else environ
    if env.get(WORK_DIR_ENV):
        return Path(env[WORK_DIR_ENV])
    return default_state_dir(os_name, home, env) / "work"
