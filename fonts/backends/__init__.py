"""Per-OS font backends behind one interface (``fonts.backends.base.FontBackend``), chosen at run time."""
from __future__ import annotations

import os
from pathlib import Path
from typing import Optional

from aefarm_common.platforms import host_os
from fonts.backends.base import FontBackend
from fonts.errors import FontError

FONTS_DIR_ENV = "AEFARM_FONTS_DIR"




def backend_for(os_name: Optional[str] = None, home: Optional[Path] = None,
                fonts_dir: Optional[Path] = None) -> FontBackend:
    """The backend for ``os_name`` (default: this OS). ``fonts_dir`` or ``$AEFARM_FONTS_DIR`` overrides the folder."""
    os_name = os_name or host_os()
    override = fonts_dir or (Path(os.environ[FONTS_DIR_ENV]) if os.environ.get(FONTS_DIR_ENV) else None)
    if os_name == "linux":
        from fonts.backends.linux import LinuxBackend
        return LinuxBackend(home=home, fonts_dir=override)
    if os_name == "mac":
        from fonts.backends.mac import MacBackend
        return MacBackend(home=home, fonts_dir=override)
    if os_name == "windows":
        from fonts.backends.windows import WindowsBackend
        return WindowsBackend(home=home, fonts_dir=override)
    raise FontError(f"no font backend for OS {os_name!r} (expected windows, mac or linux)")
