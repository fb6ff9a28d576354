"""One aerender child as a whole process tree: start it isolated, read its lines, and leave nothing behind.

aerender starts After Effects as a separate process; killing only aerender orphans AE, which keeps rendering and
holds its licence. So every child gets its own process group/session (POSIX) or a Job Object with kill-on-close
(Windows), and termination is: polite signal to the whole group, a grace period, then kill the whole group AND every
descendant we have seen while it was alive (recorded with its create time, so a reused pid is never hit). The
recording matters when a launcher dies first: its worker is re-parented to init and invisible to a tree walk from the
launcher; a worker that left the process group (setsid) is invisible to killpg. Either way it is still reaped.

Exit handling runs in a waiter thread per child: wait for the launcher, reap leftovers of the tree, join the pipe
readers, then report the exit -- so the exit always arrives after the child's last line.
"""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from typing import Callable, Dict, List, Mapping, Optional, Sequence, Tuple

import psutil

from stmpo.affinity import pinned_command
from stmpo.reader import LineMux, start_pump

IS_WINDOWS = os.name == "nt"
DEFAULT_GRACE = 5.0

# Windows constants (the logic below is NOT run on the Linux CI)
CREATE_NEW_PROCESS_GROUP = 0x00000200
CREATE_SUSPENDED = 0x00000004
JOB_OBJECT_LIMIT_KILL_ON_JOB_CLOSE = 0x00002000
JOB_OBJECT_EXTENDED_LIMIT_INFORMATION_CLASS = 9

ProcessTable = Dict[int, Tuple[int, float]]  # pid -> (ppid, create_time)


_CLOCK_TICKS = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") and "SC_CLK_TCK" in os.sysconf_names else 100


def _linux_process_table() -> Optional[ProcessTable]:
    """/proc read directly: ~10x cheaper than building psutil.Process objects (this runs every second)."""
    try:
        names = os.listdir("/proc")
    except OSError:
        return None
    boot = psutil.boot_time()
    table: ProcessTable = {}
    for name in names:
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/stat", "rb") as handle:
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


def process_table() -> ProcessTable:
    """One snapshot of every process's parent and create time (one scan shared by every child per tick)."""
    if sys.platform.startswith("linux"):
        fast = _linux_process_table()
        if fast is not None:
            return fast
    table: ProcessTable = {}
    for proc in psutil.process_iter(["pid", "ppid", "create_time"]):
        info = proc.info
        if info.get("ppid") is not None and info.get("create_time") is not None:
            table[info["pid"]] = (info["ppid"], info["create_time"])
    return table


def descendants_in(table: ProcessTable, roots: Sequence[int]) -> Dict[int, float]:
    """Every process below ``roots`` in ``table`` (pid -> create time), roots excluded."""
    children: Dict[int, List[int]] = {}
    for pid, (ppid, _) in table.items():
        children.setdefault(ppid, []).append(pid)
    found: Dict[int, float] = {}
    stack = list(roots)
    while stack:
        for kid in children.get(stack.pop(), ()):
            if kid not in found and kid not in roots:
                found[kid] = table[kid][1]
                stack.append(kid)
    return found


class ChildProcess:
    """A started aerender tree. ``on_line(stream, text)`` is called from reader threads; ``on_exit(code)`` from the
    waiter thread after the last line."""

    def __init__(self, argv: Sequence[str], *, env: Optional[Mapping[str, str]] = None, cwd: Optional[str] = None,
                 cpus: Optional[Sequence[int]] = None, on_line: Callable[[str, str], None],
                 on_exit: Optional[Callable[[Optional[int]], None]] = None, name: str = "child",
                 windows_affinity: Optional[Tuple[int, int]] = None, reap_grace: float = 2.0,
                 mux: Optional[LineMux] = None) -> None:
        self.argv = list(argv)
        self.env = dict(env) if env is not None else None
        self.cwd = cwd
        self.cpus = tuple(cpus) if cpus else None
        self.on_line = on_line
        self.on_exit = on_exit
        self.name = name
        self.windows_affinity = windows_affinity
        self.reap_grace = reap_grace
        self.mux = mux  # one reader thread for every child's pipes (cheapest); None: a thread per pipe
        self.proc: Optional[subprocess.Popen] = None
        self.pid: Optional[int] = None
        self.create_time: Optional[float] = None
        self.returncode: Optional[int] = None
        self.known: Dict[int, float] = {}  # descendants seen while alive: pid -> create time
        self._lock = threading.Lock()
        self._readers: List = []  # reader threads or LineMux handles; both have join(timeout)
        self._waiter: Optional[threading.Thread] = None
        self._job = None  # Windows Job Object handle
        self.exited = threading.Event()
        self.terminating = False

    # ---------------------------------------------------------------------------------------------- start
    def start(self) -> int:
        kwargs: dict = dict(stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            env=self.env, cwd=self.cwd, close_fds=True)
        if IS_WINDOWS:  # pragma: no cover - Windows only
            kwargs["creationflags"] = CREATE_NEW_PROCESS_GROUP | CREATE_SUSPENDED
        else:
            kwargs["start_new_session"] = True  # own session + process group: the group id is the child's pid
        argv = self.argv
        if self.cpus and not IS_WINDOWS:
            # pinned before aerender's first instruction by a tiny launcher that pins itself and execs aerender in
            # place (same pid). Not `preexec_fn`: Python documents it as unsafe in a parent with threads, and the
            # executor has several (pipe reader, waiters, output writer).
            argv = pinned_command(self.cpus, argv)
        self.proc = subprocess.Popen(argv, **kwargs)
        self.pid = self.proc.pid
        try:
            self.create_time = psutil.Process(self.pid).create_time()
        except psutil.Error:
            self.create_time = None
        if IS_WINDOWS:  # pragma: no cover - Windows only
            self._windows_attach_and_resume()
        assert self.proc.stdout is not None and self.proc.stderr is not None
        for stream, tag in ((self.proc.stdout, "stdout"), (self.proc.stderr, "stderr")):
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
        assert self.proc is not None
        code = self.proc.wait()
        # the launcher is gone: anything left of its tree (a worker still writing, a re-parented orphan) goes too
        self.record_descendants()
        self.kill_tree(grace=self.reap_grace if code == 0 else 0.0)
        finished = [reader.join(timeout=5.0) is not False for reader in self._readers]
        for stream, done in zip((self.proc.stdout, self.proc.stderr), finished):
            try:
                if stream is not None and done:  # a pipe still being read is left to the reader (never reuse an fd)
                    stream.close()
            except OSError:
                pass
        self.returncode = code
        self._windows_close()
        self.exited.set()
        if self.on_exit is not None:
            self.on_exit(code)

    # ---------------------------------------------------------------------------------------------- watching
    def poll(self) -> Optional[int]:
        return self.returncode if self.exited.is_set() else None

    def record_descendants(self, table: Optional[ProcessTable] = None) -> None:
        """Remember every current descendant (and descendants of those remembered) with its create time."""
        if self.pid is None:
            return
        if table is None:
            try:
                table = process_table()
            except psutil.Error:
                return
        found = descendants_in(table, [self.pid, *self.known])
        with self._lock:
            self.known.update(found)

    def alive_tree(self) -> List[psutil.Process]:
        """Processes of this tree still running (the launcher, recorded descendants, and group members)."""
        alive: List[psutil.Process] = []
        with self._lock:
            candidates = dict(self.known)
        if self.pid is not None and self.create_time is not None:
            candidates[self.pid] = self.create_time
        for pid, created in candidates.items():
            proc = _same_process(pid, created)
            if proc is not None and proc.status() != psutil.STATUS_ZOMBIE:
                alive.append(proc)
        return alive

    # ---------------------------------------------------------------------------------------------- termination
    def terminate_tree(self, grace: float = DEFAULT_GRACE) -> None:
        """SIGTERM (CTRL_BREAK) to the whole tree, wait ``grace`` seconds, then kill whatever is left."""
        self.terminating = True
        if self.proc is None or self.exited.is_set():
            return  # the waiter already reaped the whole tree when the launcher exited
        self.record_descendants()
        if IS_WINDOWS:  # pragma: no cover - Windows only
            try:
                os.kill(self.proc.pid, signal.CTRL_BREAK_EVENT)  # type: ignore[attr-defined]
            except OSError:
                pass
        else:
            self._signal_group(signal.SIGTERM)
            self._signal_known(signal.SIGTERM)
        self.kill_tree(grace=grace)

    def kill_tree(self, grace: float = 0.0) -> None:
        """Wait up to ``grace`` for the tree to exit by itself, then SIGKILL the group and every survivor."""
        deadline = time.monotonic() + max(0.0, grace)
        while time.monotonic() < deadline and self._tree_alive():
            time.sleep(0.05)
        if not self._tree_alive():
            return
        if IS_WINDOWS:  # pragma: no cover - Windows only
            self._windows_terminate_job()
        else:
            self._signal_group(signal.SIGKILL)
        self._signal_known(signal.SIGKILL)
        for proc in self.alive_tree():
            try:
                proc.wait(timeout=5.0)
            except (psutil.Error, psutil.TimeoutExpired):
                pass

    def _tree_alive(self) -> bool:
        if self.proc is not None and self.proc.poll() is None:
            return True
        if not IS_WINDOWS and self.pid is not None and _group_alive(self.pid):
            return True
        return bool(self.alive_tree())

    def _signal_group(self, sig: int) -> None:
        if self.pid is None:
            return
        try:
            os.killpg(self.pid, sig)  # the group id is the child's pid (start_new_session)
        except (ProcessLookupError, PermissionError, OSError):
            pass

    def _signal_known(self, sig: int) -> None:
        with self._lock:
            candidates = dict(self.known)
        for pid, created in candidates.items():
            proc = _same_process(pid, created)
            if proc is None:
                continue
            try:
                proc.send_signal(sig)
            except psutil.Error:
                pass

    def join(self, timeout: Optional[float] = None) -> bool:
        return self.exited.wait(timeout)

    # ---------------------------------------------------------------------------------------------- Windows
    def _windows_attach_and_resume(self) -> None:  # pragma: no cover - Windows only, NOT run on the Linux CI
        """Put the suspended child in a kill-on-close Job Object (so AfterFX started later joins it), restrict the
        job's affinity, then resume. Falls back to a running child without a job (taskkill /T /F on cancel)."""
        import ctypes
        from ctypes import wintypes

        from stmpo.affinity import windows_resume_process, windows_set_job_affinity

        class IO_COUNTERS(ctypes.Structure):  # noqa: N801 - Win32 names
            _fields_ = [(n, ctypes.c_ulonglong) for n in (
                "ReadOperationCount", "WriteOperationCount", "OtherOperationCount",
                "ReadTransferCount", "WriteTransferCount", "OtherTransferCount")]

        class BASIC(ctypes.Structure):
            _fields_ = [("PerProcessUserTimeLimit", ctypes.c_int64), ("PerJobUserTimeLimit", ctypes.c_int64),
                        ("LimitFlags", wintypes.DWORD), ("MinimumWorkingSetSize", ctypes.c_size_t),
                        ("MaximumWorkingSetSize", ctypes.c_size_t), ("ActiveProcessLimit", wintypes.DWORD),
                        ("Affinity", ctypes.c_size_t), ("PriorityClass", wintypes.DWORD),
                        ("SchedulingClass", wintypes.DWORD)]

        class EXTENDED(ctypes.Structure):
            _fields_ = [("BasicLimitInformation", BASIC), ("IoInfo", IO_COUNTERS),
                        ("ProcessMemoryLimit", ctypes.c_size_t), ("JobMemoryLimit", ctypes.c_size_t),
                        ("PeakProcessMemoryUsed", ctypes.c_size_t), ("PeakJobMemoryUsed", ctypes.c_size_t)]

        kernel32 = ctypes.WinDLL("kernel32", use_last_error=True)
        try:
            job = kernel32.CreateJobObjectW(None, None)
            if not job:
                raise ctypes.WinError(ctypes.get_last_error())
            info = EXTENDED()
            info.BasicLimitInformation.LimitFlags = JOB_OBJECT_LIMIT_KILL_ON_JOB_CLOSE
            if not kernel32.SetInformationJobObject(job, JOB_OBJECT_EXTENDED_LIMIT_INFORMATION_CLASS,
                                                    ctypes.byref(info), ctypes.sizeof(info)):
                raise ctypes.WinError(ctypes.get_last_error())
            assert self.proc is not None
            if not kernel32.AssignProcessToJobObject(job, wintypes.HANDLE(int(self.proc._handle))):
                raise ctypes.WinError(ctypes.get_last_error())
            self._job = job
            if self.windows_affinity is not None:
                try:
                    windows_set_job_affinity(job, *self.windows_affinity)
                except OSError as exc:
                    sys.stderr.write(f"aefarm: warning: could not pin child {self.pid}: {exc}; running unpinned\n")
        except OSError as exc:
            # the child exists: it must stay supervised (readers, waiter, cancel) even without a Job Object, so
            # this is a warning and the tree is later killed with the `taskkill /T /F` fallback
            self._job = None
            sys.stderr.write(f"aefarm: warning: no Job Object for child {self.pid} ({exc}); cancel falls back to "
                             "taskkill /T /F\n")
        finally:
            windows_resume_process(self.pid)  # type: ignore[arg-type]

    def _windows_terminate_job(self) -> None:  # pragma: no cover - Windows only, NOT run on the Linux CI
        if self._job is not None:
            import ctypes

            ctypes.WinDLL("kernel32").TerminateJobObject(self._job, 1)
        elif self.pid is not None:
            subprocess.run(["taskkill", "/T", "/F", "/PID", str(self.pid)], capture_output=True)

    def _windows_close(self) -> None:
        if self._job is not None:  # pragma: no cover - Windows only
            import ctypes

            ctypes.WinDLL("kernel32").CloseHandle(self._job)  # kill-on-close reaps anything left
            self._job = None


def _same_process(pid: int, created: Optional[float]) -> Optional[psutil.Process]:
    """The process ``pid`` if it is still the one we saw (same create time), else None."""
    try:
        proc = psutil.Process(pid)
        if created is not None and abs(proc.create_time() - created) > 0.05:
            return None
        return proc
    except psutil.Error:
        return None


def _group_alive(pgid: int) -> bool:
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
