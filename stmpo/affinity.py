"""Pin an aerender child to its CPU block, before it runs its first instruction where the OS allows it.

- Linux: ``os.sched_setaffinity`` inside the child between fork and exec (``pinning_preexec`` for Popen's
  ``preexec_fn``). The affinity survives exec and is inherited by After Effects and anything it starts, so the whole
  tree stays on the block. Because ``preexec_fn`` is documented as unsafe when the parent has threads (a lock held by
  another thread at fork time can deadlock the child), ``pinned_command`` offers the same through a tiny launcher
  (``python -m stmpo.affinity --cpus 0-3 -- aerender ...``) that pins itself and then execs: no code runs between
  fork and exec, at the cost of one short Python start-up per child (negligible next to After Effects' start-up).
- Windows: the child is created suspended, put in a Job Object whose group affinity is set
  (``JobObjectGroupInformationEx``), then resumed (``stmpo.proc.windows``); ``windows_group_affinity`` here computes
  the (group, mask) pair from data.
- macOS: no API pins a process to CPUs (thread affinity tags are only hints), so the caller says once that children
  run unpinned.

Failure to pin never stops a render: the child writes one warning line to its stderr and runs unpinned.
"""
from __future__ import annotations

import os
import sys
from typing import Callable, FrozenSet, Iterable, List, Optional, Sequence, Tuple

from stmpo.errors import StmpoError
from stmpo.host import Topology, format_cpus, parse_cpulist


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


def _has_affinity_api() -> bool:
    """``os.sched_setaffinity`` exists here (Linux and a few other POSIX systems; never Windows or macOS)."""
    return sys.platform != "win32" and sys.platform != "darwin" and hasattr(os, "sched_setaffinity")


def _cpu_set(cpus: Iterable[int]) -> FrozenSet[int]:
    result = frozenset(cpus)
    if not result or any(isinstance(c, bool) or not isinstance(c, int) or c < 0 for c in result):
        raise StmpoError(f"CPU block must be a non-empty set of CPU numbers >= 0, got {sorted(result, key=str)!r}")
    return result


def pinning_preexec(cpus: Optional[Iterable[int]]) -> Optional[Callable[[], None]]:
    """A ``preexec_fn`` pinning the child to ``cpus``; None when there is nothing to pin or the OS cannot do it here.

    The callable runs in the forked child: it only calls ``sched_setaffinity`` and, on failure, writes a prepared
    warning to fd 2 with ``os.write`` (no imports, no buffered I/O), then returns so the exec proceeds unpinned."""
    if cpus is None or not _has_affinity_api():
        return None
    cpu_set = _cpu_set(cpus)
    prefix = f"aefarm: warning: could not pin to CPUs {format_cpus(cpu_set)}: ".encode()

    def pin() -> None:
        try:
            if sys.platform != "win32" and sys.platform != "darwin":
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
    if cpus is None or not _has_affinity_api():
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


if __name__ == "__main__":
    sys.exit(launcher_main())
