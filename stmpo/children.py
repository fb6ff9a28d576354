"""One aerender child as a whole process tree: start it isolated, read its lines, know when ALL of it has exited, and
leave nothing behind.

aerender starts After Effects as a separate process; killing only aerender orphans AE, which keeps rendering and
holds its licence. So every child is started through the OS's process control (``stmpo.proc``: its own process
group/session on POSIX, a Job Object with kill-on-close on Windows), and termination is: a polite stop to the whole
tree, a grace period, then the hard end of the whole group or job AND of every descendant we have seen while it was
alive (recorded with its create time, so a reused pid is never hit).

Who belongs to the tree: the launcher, its descendants (found by parentage once a second), the members of its
group or job, and every process carrying the invocation's tree tag (``stmpo.proc.base.TREE_TAG``) in its
environment -- which finds a worker that left the group (``setsid``) and was orphaned before any snapshot, whoever
its parent is now (``TreeTags``).

When the child is finished: when its whole tree has exited, not when the launcher did (docs/formats.md §7: the launcher
can exit 0 while the After Effects process it started is still writing the last frame). After a launcher exit 0
the waiter waits for the rest of the tree, without a limit of its own: the executor bounds the wait (its stall
watchdog, the finish grace, a cancel) by calling ``terminate_tree``. After a launcher that failed (non-zero exit, a
signal) what is left is ended at once: its lines go nowhere, so nothing it writes could ever be proven.

Exit handling runs in a waiter thread per child: wait for the launcher, wait for (or end) the rest of the tree, join
the pipe readers, then report the exit -- so the exit always arrives after the child's last line.
"""
from __future__ import annotations

import os
import sys
import threading
import time
from typing import Callable, Dict, List, Mapping, Optional, Sequence, Set, Tuple, Union

import psutil

from stmpo.proc import process_control
from stmpo.proc.base import TREE_TAG, ProcessControl, ProcessTable, Spawned
from stmpo.reader import LineMux, ReaderHandle, start_pump

DEFAULT_GRACE = 5.0
TREE_POLL = 0.25  # seconds between looks at a tree whose launcher exited but whose other processes still run
TAG_SLACK = 2.0  # create times from the process table are offset by up to a second (boot time rounding)


_LAST_INDEX: List[Tuple[ProcessTable, Dict[int, List[int]]]] = []  # one snapshot serves every child: index it once


def _children_index(table: ProcessTable) -> Dict[int, List[int]]:
    last = _LAST_INDEX[:1]
    if last and last[0][0] is table:
        return last[0][1]
    children: Dict[int, List[int]] = {}
    for pid, (ppid, _) in table.items():
        children.setdefault(ppid, []).append(pid)
    _LAST_INDEX[:] = [(table, children)]
    return children


def descendants_in(table: ProcessTable, roots: Sequence[int]) -> Dict[int, float]:
    """Every process below ``roots`` in ``table`` (pid -> create time), roots excluded."""
    children = _children_index(table)
    found: Dict[int, float] = {}
    stack = list(roots)
    while stack:
        for kid in children.get(stack.pop(), ()):
            if kid not in found and kid not in roots:
                found[kid] = table[kid][1]
                stack.append(kid)
    return found


class TreeTags:
    """Which process carries which tree tag: each process's environment is read once (keyed by pid and create
    time), so a snapshot costs a read only for processes new since the last one. Shared by every child of a run."""

    def __init__(self, control: ProcessControl, since: Optional[float] = None) -> None:
        self.control = control
        self.since = time.time() if since is None else since  # processes older than this are never read
        self._seen: Dict[Tuple[int, float], Optional[str]] = {}
        self._lock = threading.Lock()
        self._last: Optional[Tuple[ProcessTable, Dict[int, Tuple[float, str]]]] = None

    def _tags(self, table: ProcessTable) -> Dict[int, Tuple[float, str]]:
        """pid -> (create time, tag) of the tagged processes of ``table`` (computed once per snapshot)."""
        if self._last is not None and self._last[0] is table:
            return self._last[1]
        tagged: Dict[int, Tuple[float, str]] = {}
        for pid, (_, created) in table.items():
            if created < self.since - TAG_SLACK:
                continue
            key = (pid, round(created, 2))
            if key not in self._seen:
                self._seen[key] = self.control.tree_tag(pid)
            tag = self._seen[key]
            if tag is not None:
                tagged[pid] = (created, tag)
        if len(self._seen) > 4 * max(64, len(table)):  # forget processes long gone
            alive = {(pid, round(created, 2)) for pid, (_, created) in table.items()}
            self._seen = {k: v for k, v in self._seen.items() if k in alive}
        self._last = (table, tagged)
        return tagged

    def tagged(self, table: ProcessTable, since: float, match: Callable[[str], bool]) -> Dict[int, float]:
        """pid -> create time of the processes in ``table`` created after ``since`` (seconds since the epoch) whose
        tag ``match`` accepts."""
        with self._lock:
            tags = self._tags(table)
        return {pid: created for pid, (created, tag) in tags.items()
                if created >= since - TAG_SLACK and match(tag)}


def _warn_on_stderr(text: str) -> None:
    sys.stderr.write(f"aefarm: warning: {text}\n")


class ChildProcess:
    """A started aerender tree. ``on_line(stream, text)`` is called from reader threads; ``on_launcher_exit(code)``
    from the waiter when the launcher exits (the rest of the tree may still run); ``on_exit(code)`` from the waiter
    once the whole tree is gone, after the last line (``code``: the launcher's exit status). ``control`` is this OS's
    process control (default: ``process_control()``); ``on_warning(text)`` hears what degraded without stopping the
    child (not pinned, no Job Object). ``tag``: the tree tag put into the child's environment (None: no tag);
    ``tags``: the run's shared ``TreeTags``."""

    def __init__(self, argv: Sequence[str], *, env: Optional[Mapping[str, str]] = None, cwd: Optional[str] = None,
                 cpus: Optional[Sequence[int]] = None, on_line: Callable[[str, str], None],
                 on_exit: Optional[Callable[[Optional[int]], None]] = None, name: str = "child",
                 reap_grace: float = 2.0, mux: Optional[LineMux] = None, control: Optional[ProcessControl] = None,
                 on_warning: Callable[[str], None] = _warn_on_stderr, tag: Optional[str] = None,
                 tags: Optional[TreeTags] = None,
                 on_launcher_exit: Optional[Callable[[Optional[int]], None]] = None) -> None:
        self.argv = list(argv)
        self.env = dict(env) if env is not None else None
        self.tag = tag
        if tag is not None:
            self.env = dict(os.environ if self.env is None else self.env)
            self.env[TREE_TAG] = tag
        self.cwd = cwd
        self.cpus = tuple(cpus) if cpus else None
        self.on_line = on_line
        self.on_exit = on_exit
        self.on_launcher_exit = on_launcher_exit
        self.name = name
        self.reap_grace = reap_grace
        self.mux = mux  # one reader thread for every child's pipes (cheapest); None: a thread per pipe
        self.control = control if control is not None else process_control()
        self.tags = tags if tags is not None else (TreeTags(self.control) if tag is not None else None)
        self.on_warning = on_warning
        self.spawned: Optional[Spawned] = None
        self.pid: Optional[int] = None
        self.create_time: Optional[float] = None
        self.started_wall = 0.0
        self.returncode: Optional[int] = None
        self.launcher_exited = threading.Event()
        self.known: Dict[int, float] = {}  # descendants seen while alive: pid -> create time
        self.by_tag: Set[int] = set()  # of those, found only by their tree tag (they had left the tree's parentage)
        self._lock = threading.Lock()
        self._readers: List[Union[ReaderHandle, threading.Thread]] = []  # both have join(timeout)
        self._waiter: Optional[threading.Thread] = None
        self.exited = threading.Event()
        self.terminating = False

    # ---------------------------------------------------------------------------------------------- start
    def start(self) -> int:
        """Start the tree and its readers and waiter; the child's pid. OSError when it cannot be started."""
        self.started_wall = time.time()
        spawned = self.control.spawn(self.argv, env=self.env, cwd=self.cwd, cpus=self.cpus, warn=self.on_warning)
        self.spawned = spawned
        self.pid = spawned.pid
        try:
            self.create_time = psutil.Process(self.pid).create_time()
        except psutil.Error:
            self.create_time = None
        popen = spawned.popen
        assert popen.stdout is not None and popen.stderr is not None
        for stream, tag in ((popen.stdout, "stdout"), (popen.stderr, "stderr")):
            def callback(text: str, tag: str = tag) -> None:
                self.on_line(tag, text)

            if self.mux is not None:
                self._readers.append(self.mux.add(stream, callback, name=f"{self.name}-{tag}"))
            else:
                self._readers.append(start_pump(stream, callback, name=f"{self.name}-{tag}"))
        self._waiter = threading.Thread(target=self._wait, name=f"{self.name}-waiter", daemon=True)
        self._waiter.start()
        return self.pid

    def _wait(self) -> None:
        assert self.spawned is not None
        popen = self.spawned.popen
        code = popen.wait()
        self.returncode = code
        self.launcher_exited.set()
        if self.on_launcher_exit is not None:
            self.on_launcher_exit(code)
        self.record_descendants()
        if code == 0:
            # the launcher is done, the tree may not be: a worker still writing is waited for (the executor bounds
            # the wait by calling terminate_tree), never killed into a partial file
            while self.tree_alive():
                time.sleep(TREE_POLL)
                self.record_descendants()
                self.control.reap_adopted()
        # a failed launcher: what is left of its tree writes for nobody (its lines go nowhere); end it now
        self.kill_tree(grace=0.0)
        self.control.reap_adopted()
        finished = [reader.join(timeout=5.0) is not False for reader in self._readers]
        for stream, done in zip((popen.stdout, popen.stderr), finished):
            try:
                if stream is not None and done:  # a pipe still being read is left to the reader (never reuse an fd)
                    stream.close()
            except OSError:
                pass
        self.control.release(self.spawned)
        self.exited.set()
        if self.on_exit is not None:
            self.on_exit(code)

    # ---------------------------------------------------------------------------------------------- watching
    def poll(self) -> Optional[int]:
        return self.returncode if self.exited.is_set() else None

    def record_descendants(self, table: Optional[ProcessTable] = None) -> None:
        """Remember every current descendant (and descendants of those remembered) and every process carrying this
        tree's tag, with its create time."""
        if self.pid is None:
            return
        if table is None:
            try:
                table = self.control.process_table()
            except psutil.Error:
                return
        tagged: Dict[int, float] = {}
        if self.tag is not None and self.tags is not None:
            tag = self.tag
            tagged = self.tags.tagged(table, self.started_wall, lambda seen: seen == tag)
            tagged.pop(self.pid, None)
        with self._lock:
            roots = [self.pid, *self.known, *tagged]
        found = descendants_in(table, roots)
        by_parent = set(descendants_in(table, [self.pid, *self.known])) if tagged else set(found)
        found.update(tagged)
        with self._lock:
            self.by_tag.update(pid for pid in tagged if pid not in by_parent and pid not in self.known)
            self.known.update(found)

    def alive_tree(self) -> List[psutil.Process]:
        """Processes of this tree still running (the launcher and recorded descendants), zombies excluded."""
        alive: List[psutil.Process] = []
        with self._lock:
            candidates = dict(self.known)
        if self.pid is not None and self.create_time is not None:
            candidates[self.pid] = self.create_time
        for pid, created in candidates.items():
            proc = _same_process(pid, created)
            try:
                if proc is not None and proc.status() != psutil.STATUS_ZOMBIE:
                    alive.append(proc)
            except psutil.Error:
                continue
        return alive

    def tree_alive(self) -> bool:
        """Anything of this tree still runs: the launcher, a member of its group or job, or a recorded descendant."""
        if self.spawned is None:
            return False
        if self.spawned.popen.poll() is None:
            return True
        if self.control.group_alive(self.spawned):
            return True
        return bool(self.alive_tree())

    def _members(self) -> List[psutil.Process]:
        """Recorded descendants that are still the processes we saw (zombies included: ending them is harmless)."""
        with self._lock:
            candidates = dict(self.known)
        members = [_same_process(pid, created) for pid, created in candidates.items()]
        return [proc for proc in members if proc is not None]

    # ---------------------------------------------------------------------------------------------- termination
    def terminate_tree(self, grace: float = DEFAULT_GRACE) -> None:
        """Ask the whole tree to stop (SIGTERM / CTRL_BREAK), wait ``grace`` seconds, then end whatever is left."""
        self.terminating = True
        if self.spawned is None or self.exited.is_set():
            return  # the waiter already saw the whole tree gone
        self.record_descendants()
        self.control.stop(self.spawned, self._members())
        self.kill_tree(grace=grace)

    def kill_tree(self, grace: float = 0.0) -> None:
        """Wait up to ``grace`` for the tree to exit by itself, then end the group or job and every survivor."""
        if self.spawned is None:
            return
        deadline = time.monotonic() + max(0.0, grace)
        while time.monotonic() < deadline and self.tree_alive():
            time.sleep(0.05)
        if not self.tree_alive():
            return
        self.control.kill(self.spawned, self._members())
        for proc in self.alive_tree():
            if proc.pid == self.pid:
                continue  # the launcher is its Popen's to wait for: psutil would reap it and steal its exit status
            try:
                proc.wait(timeout=5.0)
            except (psutil.Error, psutil.TimeoutExpired):
                pass

    def join(self, timeout: Optional[float] = None) -> bool:
        return self.exited.wait(timeout)


def _same_process(pid: int, created: Optional[float]) -> Optional[psutil.Process]:
    """The process ``pid`` if it is still the one we saw (same create time), else None."""
    try:
        proc = psutil.Process(pid)
        if created is not None and abs(proc.create_time() - created) > 0.05:
            return None
        return proc
    except psutil.Error:
        return None
