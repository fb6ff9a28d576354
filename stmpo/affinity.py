"""Pin an aerender child to its CPU block, before it runs its first instruction where the OS allows it.

- Linux: ``os.sched_setaffinity`` inside the child between fork and exec (``pinning_preexec`` for Popen's
  ``preexec_fn``). The affinity survives exec and is inherited by After Effects and anything it starts, so the whole
  tree stays on the block. Because ``preexec_fn`` is documented as unsafe when the parent has threads (a lock held by
  another thread at fork time can deadlock the child), ``pinned_command`` offers the same through a tiny launcher
  (``python -m stmpo.affinity --cpus 0-3 -- aerender ...``) that pins itself and then execs: no code runs between
  fork and exec, at the cost of one short Python start-up per child (negligible next to After Effects' start-up).
- Windows: the child is created suspended, put in a Job Object whose group affinity is set
  (``JobObjectGroupInformationEx``), then resumed; ``windows_group_affinity`` computes the (group, mask) pair from
  data. The ctypes call path below is written from the documented Win32 API and was NOT run here (Linux CI).
- macOS: no API pins a process to CPUs (thread affinity tags are only hints), so the caller says once that children
  run unpinned.

Failure to pin never stops a render: the child writes one warning line to its stderr and runs unpinned.
"""
from __future__ import annotations

import os
import sys
from typing import Callable, Iterable, List, Optional, Sequence, Tuple

from stmpo.errors import StmpoError
from stmpo.host import Topology, format_cpus, parse_cpulist

WINDOWS_JOB_OBJECT_GROUP_INFORMATION_EX = 14  # JOBOBJECTINFOCLASS value taking an array of GROUP_AFFINITY


def affinity_support(os_name: str) -> Tuple[bool, str]:
    """Whether children can be pinned on ``os_name`` ("linux", "windows", "mac"), and how or why not."""
    if os_name == "linux":
        return True, "os.sched_setaffinity in the child before exec (inherited by After Effects)"
    if os_name == "windows":
        return True, ("processor group + mask through a Job Object on a suspended child "
                      "(logic tested here; the Win32 call path was not run on Linux CI)")
    if os_name == "mac":
        return False, "macOS has no API to pin a process to CPUs (thread affinity tags are hints only)"
    return False, f"no CPU affinity support known for {os_name!r}"


def _cpu_set(cpus: Iterable[int]) -> frozenset:
    result = frozenset(cpus)
    if not result or any(isinstance(c, bool) or not isinstance(c, int) or c < 0 for c in result):
        raise StmpoError(f"CPU block must be a non-empty set of CPU numbers >= 0, got {sorted(result, key=str)!r}")
    return result


def pinning_preexec(cpus: Optional[Iterable[int]]) -> Optional[Callable[[], None]]:
    """A ``preexec_fn`` pinning the child to ``cpus``; None when there is nothing to pin or the OS cannot do it here.

    The callable runs in the forked child: it only calls ``sched_setaffinity`` and, on failure, writes a prepared
    warning to fd 2 with ``os.write`` (no imports, no buffered I/O), then returns so the exec proceeds unpinned."""
    if cpus is None or not hasattr(os, "sched_setaffinity"):
        return None
    cpu_set = _cpu_set(cpus)
    prefix = f"aefarm: warning: could not pin to CPUs {format_cpus(cpu_set)}: ".encode()

    def pin() -> None:
        try:
            os.sched_setaffinity(0, cpu_set)
        except BaseException as exc:  # noqa: BLE001 - any failure must leave the child running, unpinned
            try:
                os.write(2, prefix + str(exc).encode("utf-8", "replace") + b"; running unpinned\n")
            except BaseException:  # noqa: BLE001 - stderr may be closed; still run the child
                pass

    return pin


def pinned_command(cpus: Optional[Iterable[int]], argv: Sequence[str],
                   python: Optional[str] = None) -> List[str]:
    """``argv`` wrapped in the pinning launcher (thread-safe alternative to ``pinning_preexec``); unchanged when
    ``cpus`` is None or this OS has no ``sched_setaffinity``."""
    if cpus is None or not hasattr(os, "sched_setaffinity"):
        return list(argv)
    cpu_set = _cpu_set(cpus)
    return [python or sys.executable, "-m", "stmpo.affinity", "--cpus", format_cpus(cpu_set), "--", *argv]


def launcher_main(argv: Optional[Sequence[str]] = None) -> int:
    """``python -m stmpo.affinity --cpus LIST -- COMMAND...``: pin this process, then exec COMMAND in place."""
    args = list(sys.argv[1:] if argv is None else argv)
    if len(args) < 4 or args[0] != "--cpus" or args[2] != "--":
        os.write(2, b"usage: python -m stmpo.affinity --cpus LIST -- COMMAND [ARGS...]\n")
        return 2
    try:
        cpus = parse_cpulist(args[1])
    except ValueError as exc:
        os.write(2, f"stmpo.affinity: bad --cpus {args[1]!r}: {exc}\n".encode())
        return 2
    pin = pinning_preexec(cpus) if cpus else None
    if pin is not None:
        pin()
    command = args[3:]
    try:
        os.execvp(command[0], command)
    except OSError as exc:
        os.write(2, f"stmpo.affinity: cannot run {command[0]!r}: {exc.strerror or exc}\n".encode())
        return 127
    return 0  # pragma: no cover - execvp does not return


# --------------------------------------------------------------------------------------------------------------------
# Windows


def windows_group_affinity(cpus: Iterable[int], groups: Topology) -> Tuple[int, int]:
    """(processor group, KAFFINITY mask) for a CPU block given the host's groups (global indices per group).

    Bit i of the mask is the group's i-th processor. A block must lie in one group: a Windows affinity names one."""
    cpu_set = _cpu_set(cpus)
    for group_index, members in enumerate(groups):
        position = {cpu: bit for bit, cpu in enumerate(members)}
        inside = [cpu for cpu in cpu_set if cpu in position]
        if not inside:
            continue
        if len(inside) != len(cpu_set):
            outside = sorted(cpu_set - set(inside))
            raise StmpoError(f"CPU block {format_cpus(cpu_set)} spans processor groups (CPUs "
                             f"{format_cpus(outside)} are not in group {group_index}): one affinity names one group")
        if len(members) > 64:
            raise StmpoError(f"processor group {group_index} has {len(members)} CPUs; Windows groups hold at most 64")
        mask = 0
        for cpu in inside:
            mask |= 1 << position[cpu]
        return group_index, mask
    raise StmpoError(f"CPU block {format_cpus(cpu_set)} is in no processor group of this host")


def windows_set_job_affinity(job_handle: int, group: int, mask: int) -> None:  # pragma: no cover - Windows only
    """Restrict every process of a Job Object to (group, mask). NOT run on the Linux CI.

    Call on a job the child was assigned to while created with CREATE_SUSPENDED, then resume it
    (``windows_resume_process``) so the first instruction already runs on the block."""
    import ctypes
    from ctypes import wintypes

    class GROUP_AFFINITY(ctypes.Structure):  # noqa: N801 - Win32 name
        _fields_ = [("Mask", ctypes.c_size_t), ("Group", wintypes.WORD), ("Reserved", wintypes.WORD * 3)]

    kernel32 = ctypes.WinDLL("kernel32", use_last_error=True)
    info = GROUP_AFFINITY(Mask=mask, Group=group)
    ok = kernel32.SetInformationJobObject(wintypes.HANDLE(job_handle), WINDOWS_JOB_OBJECT_GROUP_INFORMATION_EX,
                                          ctypes.byref(info), ctypes.sizeof(info))
    if not ok:
        raise ctypes.WinError(ctypes.get_last_error())


def windows_resume_process(pid: int) -> None:  # pragma: no cover - Windows only
    """Resume a process created suspended (Popen does not keep the main thread handle). NOT run on the Linux CI."""
    import ctypes
    from ctypes import wintypes

    PROCESS_SUSPEND_RESUME = 0x0800
    kernel32 = ctypes.WinDLL("kernel32", use_last_error=True)
    ntdll = ctypes.WinDLL("ntdll")
    handle = kernel32.OpenProcess(PROCESS_SUSPEND_RESUME, False, wintypes.DWORD(pid))
    if not handle:
        raise ctypes.WinError(ctypes.get_last_error())
    try:
        status = ntdll.NtResumeProcess(wintypes.HANDLE(handle))
        if status != 0:
            raise OSError(f"NtResumeProcess failed with NTSTATUS {status & 0xFFFFFFFF:#010x}")
    finally:
        kernel32.CloseHandle(wintypes.HANDLE(handle))


if __name__ == "__main__":
    sys.exit(launcher_main())
