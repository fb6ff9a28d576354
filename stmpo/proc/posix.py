"""POSIX process control (Linux, macOS): a session and process group per aerender child, signals to the group.

- Isolation: ``start_new_session`` gives the child its own session and process group whose id is the child's pid, so
  one ``killpg`` reaches aerender, After Effects and everything they started that stayed in the group. Descendants
  that left it (``setsid``) are reached through the recorded tree members the caller passes in.
- Pinning (Linux): the child is started through the small launcher of ``stmpo.affinity`` that pins itself and execs
  aerender in place (same pid), so aerender's first instruction already runs on its CPU block. Not Popen's
  ``preexec_fn``: Python documents it as unsafe in a parent with threads, and the executor has several. macOS has no
  API to pin a process, so there the command is left unchanged (the plan says once that children run unpinned).
- Snapshot: Linux reads ``/proc`` directly (about ten times cheaper than building psutil objects; this runs every
  second), other systems use psutil.
"""
from __future__ import annotations

import os
import signal
import subprocess
import sys
from typing import Mapping, Optional, Sequence

import psutil

from stmpo.affinity import pinned_command
from stmpo.proc.base import ProcessControl, ProcessTable, Spawned, TreeMember, Warn, psutil_process_table

assert sys.platform != "win32", "stmpo.proc.posix is the POSIX process control"  # also tells mypy: not on Windows

_CLOCK_TICKS = os.sysconf("SC_CLK_TCK") if "SC_CLK_TCK" in os.sysconf_names else 100


class PosixProcessControl(ProcessControl):
    """Process groups and signals."""

    name = "posix"

    def spawn(self, argv: Sequence[str], *, env: Optional[Mapping[str, str]], cwd: Optional[str],
              cpus: Optional[Sequence[int]], warn: Warn) -> Spawned:
        command = pinned_command(cpus, argv) if cpus else list(argv)
        popen = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                 env=env, cwd=cwd, close_fds=True, start_new_session=True)
        return Spawned(popen)

    def stop(self, child: Spawned, members: Sequence[TreeMember]) -> None:
        _signal_group(child.pid, signal.SIGTERM)
        for member in members:
            try:
                member.terminate()
            except psutil.Error:
                pass

    def kill(self, child: Spawned, members: Sequence[TreeMember]) -> None:
        _signal_group(child.pid, signal.SIGKILL)
        for member in members:
            try:
                member.kill()
            except psutil.Error:
                pass

    def group_alive(self, child: Spawned) -> Optional[bool]:
        return group_alive(child.pid)

    def process_table(self) -> ProcessTable:
        if sys.platform.startswith("linux"):
            fast = linux_process_table()
            if fast is not None:
                return fast
        return psutil_process_table()


def _signal_group(pgid: int, sig: int) -> None:
    try:
        os.killpg(pgid, sig)  # the group id is the child's pid (start_new_session)
    except (ProcessLookupError, PermissionError, OSError):
        pass


def group_alive(pgid: int) -> bool:
    """A live (non-zombie) member of process group ``pgid`` exists. Zombies do not count: an orphan re-parented to
    a PID 1 that never reaps stays a zombie forever, and it holds nothing."""
    try:
        os.killpg(pgid, 0)
    except (ProcessLookupError, PermissionError, OSError):
        return False
    for proc in psutil.process_iter(["pid", "status"]):
        try:
            if proc.info["status"] != psutil.STATUS_ZOMBIE and os.getpgid(proc.info["pid"]) == pgid:
                return True
        except (OSError, psutil.Error):
            continue
    return False


def linux_process_table(proc_root: str = "/proc") -> Optional[ProcessTable]:
    """Every process's parent and create time read from ``/proc/<pid>/stat``; None when ``proc_root`` is unreadable."""
    try:
        names = os.listdir(proc_root)
    except OSError:
        return None
    boot = psutil.boot_time()
    table: ProcessTable = {}
    for name in names:
        if not name.isdigit():
            continue
        try:
            with open(f"{proc_root}/{name}/stat", "rb") as handle:
                data = handle.read()
        except OSError:
            continue
        # the command name (field 2) may hold spaces and parentheses: fields after the last ')' are fixed
        fields = data[data.rfind(b")") + 2:].split()
        try:
            table[int(name)] = (int(fields[1]), boot + int(fields[19]) / _CLOCK_TICKS)
        except (IndexError, ValueError):
            continue
    return table
