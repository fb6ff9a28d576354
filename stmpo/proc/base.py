"""The one interface every OS's process control sits behind: start an aerender child so that its whole process tree
can be ended as one, end that tree politely or at once, list the processes of the machine, pin a child to CPUs.

Why an interface: aerender starts After Effects as a separate process, and killing only aerender orphans After
Effects, which keeps rendering and holds its licence. How a tree is held together and ended is entirely the OS's
business (a POSIX process group/session and signals; a Windows Job Object, CTRL_BREAK and TerminateJobObject), while
what to do with a tree (read its pipes, wait for it, remember its descendants, give it a grace period, then end it)
is the same everywhere and lives in ``stmpo.children``. Each OS gets one small module here, like ``fonts.backends``;
the Windows one takes its OS calls injected so its call order is tested on any OS.

Finding every process of a tree, whatever it did:

- ``group_alive``: whether anything of a child's group (POSIX) or Job Object (Windows) is left -- a child is finished
  only when its whole tree has exited, not when the launcher did.
- Tree tags: every child is started with ``TREE_TAG=<tag>`` in its environment, which every process it starts inherits
  (After Effects included). ``tree_tag(pid)`` reads it back, so a worker that left the process group (``setsid``)
  and was orphaned before any descendant snapshot is still found: by its tag, not by its parentage. (The same idea
  as Jenkins' ProcessTreeKiller, which finds a build's processes by an environment cookie.) A process that clears
  its environment escapes this; none of After Effects' is known to.
- Adoption (Linux): ``adopt_orphans`` makes this process a child subreaper (``prctl(PR_SET_CHILD_SUBREAPER)``), so an
  orphaned descendant is re-parented to us instead of init; ``reap_adopted`` collects the exit status of those that
  died (``waitpid`` on each adopted pid, never ``waitpid(-1)``: the ``Popen`` objects of our own children keep
  theirs). Elsewhere orphans go to init/launchd, which reaps them; tags still find them while they live.
"""
from __future__ import annotations

import abc
import subprocess
from dataclasses import dataclass
from typing import Callable, Dict, List, Mapping, Optional, Protocol, Sequence, Tuple

import psutil

TREE_TAG = "AEFARM_TREE"
"""The environment variable that marks every process of one aerender invocation's tree (value: the invocation's tag,
``<run id>.<chunk>.<invocation>``)."""

ProcessTable = Dict[int, Tuple[int, float]]
"""One snapshot of the machine's processes: pid -> (parent pid, create time in seconds since the epoch)."""

Warn = Callable[[str], None]
"""Where a backend says that something degraded but the child runs (not pinned, no Job Object): one line of text."""


class TreeMember(Protocol):
    """A recorded descendant of a child that is still the process we saw (a ``psutil.Process``)."""

    @property
    def pid(self) -> int: ...

    def terminate(self) -> None:
        """Ask it to end (POSIX: SIGTERM)."""

    def kill(self) -> None:
        """End it now (POSIX: SIGKILL; Windows: TerminateProcess)."""


@dataclass
class Spawned:
    """A started child: its ``Popen`` (stdout and stderr are binary pipes) and the OS object holding its tree
    (``job``: a Windows Job Object handle; None on POSIX, where the group id is the child's pid)."""

    popen: "subprocess.Popen[bytes]"
    job: Optional[int] = None

    @property
    def pid(self) -> int:
        return self.popen.pid


class ProcessControl(abc.ABC):
    """Start, end and observe aerender child trees on one OS. Methods are called from the executor's loop thread and
    from a child's waiter and terminator threads; a backend keeps no per-child state besides ``Spawned``."""

    name = "base"

    @abc.abstractmethod
    def spawn(self, argv: Sequence[str], *, env: Optional[Mapping[str, str]], cwd: Optional[str],
              cpus: Optional[Sequence[int]], warn: Warn) -> Spawned:
        """Start ``argv`` (stdin closed, stdout/stderr piped) isolated so its whole tree can be ended as one, and
        pinned to ``cpus`` (CPU indices) where this OS can pin before the child's first instruction. A failure to
        isolate or pin is reported through ``warn`` and the child runs anyway: it exists and must stay supervised.
        Raises OSError when ``argv`` cannot be started (nothing is left running then)."""

    @abc.abstractmethod
    def stop(self, child: Spawned, members: Sequence[TreeMember]) -> None:
        """Ask the tree to end (POSIX: SIGTERM to the group and to ``members``; Windows: CTRL_BREAK to the group).
        ``members``: recorded descendants still running, including those that left the group."""

    @abc.abstractmethod
    def kill(self, child: Spawned, members: Sequence[TreeMember]) -> None:
        """End the whole tree now, whatever it is doing (the group or job, then every one of ``members``)."""

    def group_alive(self, child: Spawned) -> Optional[bool]:
        """Whether a live process is left in the child's group or job; None when this OS cannot tell (the caller then
        goes by the child itself and its recorded descendants)."""
        return None

    def release(self, child: Spawned) -> None:  # noqa: B027 - an optional hook: POSIX holds nothing to free
        """Free what ``spawn`` took (a Job Object handle) once the tree is gone."""

    def process_table(self) -> ProcessTable:
        """One snapshot of every process's parent and create time (one scan serves every child)."""
        return psutil_process_table()

    def tree_tag(self, pid: int) -> Optional[str]:
        """The ``TREE_TAG`` value in the environment process ``pid`` started with; None when it has none, is gone, or
        cannot be read (another user's process, a zombie)."""
        try:
            value = psutil.Process(pid).environ().get(TREE_TAG)
        except (psutil.Error, OSError, ValueError):
            return None
        return value if isinstance(value, str) else None

    def adopt_orphans(self) -> bool:
        """Make this process the parent of its orphaned descendants (until ``stop_adopting``); False when this OS
        cannot (then orphans go to init/launchd)."""
        return False

    def stop_adopting(self) -> None:  # noqa: B027 - optional: only Linux adopts
        """Undo ``adopt_orphans`` (counted: the last of nested callers undoes it)."""

    def reap_adopted(self) -> List[int]:
        """Collect the exit status of adopted orphans that died (never of a child this process started itself); the
        pids reaped."""
        return []

    def adopted(self) -> List[int]:
        """Adopted orphans still alive (children of ours that this process did not start)."""
        return []


def psutil_process_table() -> ProcessTable:
    """The portable snapshot (psutil on any OS)."""
    table: ProcessTable = {}
    for proc in psutil.process_iter(["pid", "ppid", "create_time"]):
        info = proc.info
        if info.get("ppid") is not None and info.get("create_time") is not None:
            table[info["pid"]] = (info["ppid"], info["create_time"])
    return table
