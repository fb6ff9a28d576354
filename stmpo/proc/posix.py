"""POSIX process control (Linux, macOS): a session and process group per aerender child, signals to the group.

- Isolation: ``start_new_session`` gives the child its own session and process group whose id is the child's pid, so
  one ``killpg`` reaches aerender, After Effects and everything they started that stayed in the group. Descendants
  that left it (``setsid``) are reached through the recorded tree members the caller passes in.
- Pinning (Linux): the child is started through the small launcher of ``stmpo.affinity`` that pins itself and execs
  aerender in place (same pid), so aerender's first instruction already runs on its CPU block. Not Popen's
  ``preexec_fn``: Python documents it as unsafe in a parent with threads, and the executor has several. macOS has no
  API to pin a process, so there the command is left unchanged (the plan says once that children run unpinned).
- Snapshot: Linux reads ``/proc`` directly (about ten times cheaper than building psutil objects; this runs every
  second), and only the processes new since the last snapshot (``linux_process_table``); other systems use psutil.
- Orphans (Linux): while a run is in progress this process is a child subreaper (``prctl(PR_SET_CHILD_SUBREAPER)``,
  counted so nested runs share it), so a worker whose launcher died is re-parented to us, not to init. Adopted
  processes that die are reaped here: ``waitpid(pid, WNOHANG)`` on each child of ours that this module did not spawn
  (``_SPAWNED``: their ``Popen`` waits for them) and that lives in another session than ours (the children of
  ``ffprobe``-like helpers started without a session of their own stay ours to ``wait``). macOS has no subreaper:
  orphans go to launchd, which reaps them; the executor still finds live ones by their tree tag (``base.TREE_TAG``).
"""
from __future__ import annotations

import ctypes
import ctypes.util
import os
import signal
import subprocess
import sys
import threading
import time
from typing import Dict, List, Mapping, Optional, Sequence, Set, Tuple

import psutil

from stmpo.affinity import pinned_command
from stmpo.proc.base import (
    TREE_TAG,
    ProcessControl,
    ProcessTable,
    Spawned,
    TreeMember,
    Warn,
    psutil_process_table,
)

assert sys.platform != "win32", "stmpo.proc.posix is the POSIX process control"  # also tells mypy: not on Windows

_CLOCK_TICKS = os.sysconf("SC_CLK_TCK") if "SC_CLK_TCK" in os.sysconf_names else 100
PR_SET_CHILD_SUBREAPER = 36  # <linux/prctl.h>
PR_GET_CHILD_SUBREAPER = 37
_LINUX = sys.platform.startswith("linux")
_TAG_PREFIX = TREE_TAG.encode("ascii") + b"="

_lock = threading.Lock()
_SPAWNED: Set[int] = set()  # pids of the children spawn() started and release() has not let go of yet
_adoption = {"count": 0, "ours": False}  # nested adopt_orphans() calls; whether we switched the subreaper on


class PosixProcessControl(ProcessControl):
    """Process groups and signals."""

    name = "posix"

    def spawn(self, argv: Sequence[str], *, env: Optional[Mapping[str, str]], cwd: Optional[str],
              cpus: Optional[Sequence[int]], warn: Warn) -> Spawned:
        command = pinned_command(cpus, argv) if cpus else list(argv)
        with _lock:  # registered before a reaper can look: spawn and registration are one step for it
            popen = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, env=env, cwd=cwd, close_fds=True,
                                     start_new_session=True)
            _SPAWNED.add(popen.pid)
        return Spawned(popen)

    def release(self, child: Spawned) -> None:
        if child.popen.returncode is not None:  # reaped by its Popen: the pid may be reused from now on
            with _lock:
                _SPAWNED.discard(child.pid)

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
        if _LINUX:
            fast = linux_process_table()
            if fast is not None:
                return fast
        return psutil_process_table()

    def tree_tag(self, pid: int) -> Optional[str]:
        if not _LINUX:
            return super().tree_tag(pid)
        try:
            with open(f"/proc/{pid}/environ", "rb") as handle:
                data = handle.read()
        except OSError:
            return None
        for item in data.split(b"\0"):
            if item.startswith(_TAG_PREFIX):
                return item[len(_TAG_PREFIX):].decode("utf-8", "replace")
        return None

    def adopt_orphans(self) -> bool:
        if not _LINUX:
            return False
        with _lock:
            if _adoption["count"] == 0:
                already = _prctl_get_subreaper()
                if already is None:
                    return False
                if not already:
                    if not _prctl(PR_SET_CHILD_SUBREAPER, 1):
                        return False
                    _adoption["ours"] = True
            _adoption["count"] += 1
        return True

    def stop_adopting(self) -> None:
        if not _LINUX:
            return
        with _lock:
            if _adoption["count"] == 0:
                return
            _adoption["count"] -= 1
            if _adoption["count"] == 0 and _adoption["ours"]:
                _prctl(PR_SET_CHILD_SUBREAPER, 0)
                _adoption["ours"] = False

    def adopted(self) -> List[int]:
        if not _LINUX:
            return []
        return [pid for pid, zombie in self._adopted() if not zombie]

    def _adopted(self) -> List[Tuple[int, bool]]:
        """(pid, is a zombie) of our children that spawn() did not start and that live in another session."""
        my_sid = os.getsid(0)
        out: List[Tuple[int, bool]] = []
        for pid, sid, zombie in adopted_children():
            with _lock:
                ours = pid in _SPAWNED
            if not ours and sid != my_sid:
                out.append((pid, zombie))
        return out

    def reap_adopted(self) -> List[int]:
        if not _LINUX:
            return []
        reaped: List[int] = []
        for pid, _zombie in self._adopted():
            try:
                done, _status = os.waitpid(pid, os.WNOHANG)
            except (ChildProcessError, OSError):
                continue
            if done:
                reaped.append(pid)
        return reaped


def _libc() -> "ctypes.CDLL":
    return ctypes.CDLL(ctypes.util.find_library("c") or None, use_errno=True)


def _prctl(option: int, value: int) -> bool:
    try:
        return int(_libc().prctl(option, value, 0, 0, 0)) == 0
    except (OSError, AttributeError):
        return False


def _prctl_get_subreaper() -> Optional[bool]:
    flag = ctypes.c_int(0)
    try:
        ok = int(_libc().prctl(PR_GET_CHILD_SUBREAPER, ctypes.byref(flag), 0, 0, 0)) == 0
    except (OSError, AttributeError):
        return None
    return bool(flag.value) if ok else None


def adopted_children(proc_root: str = "/proc") -> List[Tuple[int, int, bool]]:
    """(pid, session id, is a zombie) of every child of this process (Linux ``/proc``: the threads' ``children``
    lists, or a scan of every process when the kernel does not provide them)."""
    me = os.getpid()
    kids: Set[int] = set()
    try:
        tasks = os.listdir(f"{proc_root}/{me}/task")
        for tid in tasks:
            with open(f"{proc_root}/{me}/task/{tid}/children", "rb") as handle:
                kids.update(int(x) for x in handle.read().split())
    except (OSError, ValueError):
        kids = {pid for pid, (ppid, _) in (linux_process_table(proc_root) or {}).items() if ppid == me}
    out: List[Tuple[int, int, bool]] = []
    for pid in sorted(kids):
        fields = _stat_fields(pid, proc_root)
        if fields is not None and int(fields[1]) == me:
            out.append((pid, int(fields[3]), fields[0] == b"Z"))
    return out


def _stat_fields(pid: int, proc_root: str = "/proc") -> Optional[List[bytes]]:
    """Fields 3.. of ``/proc/<pid>/stat`` (state, ppid, pgrp, session, ...); None when it is gone."""
    try:
        with open(f"{proc_root}/{pid}/stat", "rb") as handle:
            data = handle.read()
    except OSError:
        return None
    # the command name (field 2) may hold spaces and parentheses: the fields after the last ')' are fixed
    fields = data[data.rfind(b")") + 2:].split()
    return fields if len(fields) > 20 else None


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
    if _LINUX:
        found = _linux_group_alive(pgid)
        if found is not None:
            return found
    for proc in psutil.process_iter(["pid", "status"]):
        try:
            if proc.info["status"] != psutil.STATUS_ZOMBIE and os.getpgid(proc.info["pid"]) == pgid:
                return True
        except (OSError, psutil.Error):
            continue
    return False


def _linux_group_alive(pgid: int, proc_root: str = "/proc") -> Optional[bool]:
    """``group_alive`` from one pass over ``/proc/*/stat`` (state and process group); None when unreadable."""
    try:
        names = os.listdir(proc_root)
    except OSError:
        return None
    wanted = str(pgid).encode("ascii")
    for name in names:
        if name.isdigit():
            fields = _stat_fields(int(name), proc_root)
            if fields is not None and fields[2] == wanted and fields[0] not in (b"Z", b"X"):
                return True
    return False


SNAPSHOT_REUSE = 2.0  # seconds: a snapshot older than this is never built upon (pids may have been reused since)
_snapshot_lock = threading.Lock()
_snapshots: Dict[str, Tuple[float, ProcessTable]] = {}  # proc root -> (monotonic time, the last table)


def linux_process_table(proc_root: str = "/proc", reuse: float = SNAPSHOT_REUSE) -> Optional[ProcessTable]:
    """Every process's parent and create time read from ``/proc/<pid>/stat``; None when ``proc_root`` is unreadable.

    Incremental (this runs every second with 16 trees, and reading one ``stat`` costs ~35 us): when the last table
    is less than ``reuse`` seconds old, only processes new since then are read, plus those whose recorded parent is
    gone (they were re-parented); the rest keep their entries (a pid's create time never changes, and its parent
    changes only when that parent exits). When no process started or ended since, the last table itself is
    returned: callers must not change it. ``reuse=0``: read every process."""
    try:
        names = os.listdir(proc_root)
    except OSError:
        return None
    now = time.monotonic()
    pids = {int(name) for name in names if name.isdigit()}
    with _snapshot_lock:
        last = _snapshots.get(proc_root)
    previous = last[1] if last is not None and now - last[0] < reuse else None
    if previous is not None and previous.keys() == pids:
        table = previous
    else:
        gone = set(previous).difference(pids) if previous is not None else set()
        boot: List[float] = []
        table = {}
        for pid in pids:
            entry = previous.get(pid) if previous is not None else None
            if entry is None or entry[0] in gone:
                entry = _read_entry(proc_root, pid, boot)
            if entry is not None:
                table[pid] = entry
    with _snapshot_lock:
        _snapshots[proc_root] = (now, table)
    return table


def _read_entry(proc_root: str, pid: int, boot: List[float]) -> Optional[Tuple[int, float]]:
    """(parent pid, create time) of ``pid`` from its ``stat``; None when it is gone or unreadable. ``boot``: the boot
    time, read on first need and kept in the list for the rest of the snapshot."""
    fields = _stat_fields(pid, proc_root)  # fields 3..: [1] is the ppid, [19] the start time in clock ticks
    if fields is None:
        return None
    try:
        ppid, ticks = int(fields[1]), int(fields[19])
    except (IndexError, ValueError):
        return None
    if not boot:
        boot.append(psutil.boot_time())
    return (ppid, boot[0] + ticks / _CLOCK_TICKS)
