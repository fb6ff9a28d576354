"""Per-OS process control behind one interface (``stmpo.proc.base.ProcessControl``), chosen at run time.

``stmpo.proc.posix``: a process group/session per aerender child, signals to the group, the Linux pinning launcher.
``stmpo.proc.windows``: a Job Object with kill-on-close per child, CTRL_BREAK, TerminateJobObject; OS calls injected.
"""
from __future__ import annotations

import sys
from typing import Optional

from stmpo.host import Topology
from stmpo.proc.base import ProcessControl


def process_control(processor_groups: Optional[Topology] = None) -> ProcessControl:
    """The process control of this OS. ``processor_groups`` (Windows: CPUs of each processor group, from
    ``Host.processor_groups``) turn a CPU block into the group affinity a Job Object takes; POSIX ignores them."""
    if sys.platform == "win32":
        from stmpo.proc.windows import WindowsProcessControl

        return WindowsProcessControl(processor_groups=processor_groups)
    else:
        from stmpo.proc.posix import PosixProcessControl

        return PosixProcessControl()
