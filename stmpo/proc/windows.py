"""Windows process control: a Job Object with kill-on-close per aerender child, CTRL_BREAK, TerminateJobObject.

Start: the child is created suspended in a new process group (``CREATE_SUSPENDED | CREATE_NEW_PROCESS_GROUP``), put in
a fresh Job Object marked ``JOB_OBJECT_LIMIT_KILL_ON_JOB_CLOSE`` (so After Effects, started later by aerender, is in
the job too, and closing our handle ends whatever is left), the job's group affinity is set to the child's CPU block
(``JobObjectGroupInformationEx``), and only then is the child resumed: its first instruction runs inside the job, on
its block. Popen does not keep the main thread's handle, so the resume is ``NtResumeProcess`` on the process.
When no Job Object can be made the child still runs, supervised, and its tree is ended with ``taskkill /T /F``.

End: the polite stop is ``CTRL_BREAK_EVENT`` to the child's process group; the hard end is ``TerminateJobObject``
(``taskkill /T /F /PID`` without a job), then ``TerminateProcess`` on every recorded descendant (``psutil``'s
``kill``). No POSIX signal is ever named here: ``signal.SIGKILL`` does not exist on Windows.

Every OS call goes through an ``os_calls`` object: ``Kernel32Calls`` (ctypes, imported only when called, so this module
imports on any OS) or a recording fake in tests. The ctypes path was written from the documented Win32 API and was
NOT run here (Linux CI); its call order is tested with a fake.
"""
from __future__ import annotations

import subprocess
import sys
from typing import Any, Callable, Mapping, Optional, Protocol, Sequence, Tuple

import psutil

from stmpo.affinity import windows_group_affinity
from stmpo.errors import StmpoError
from stmpo.host import Topology
from stmpo.proc.base import ProcessControl, Spawned, TreeMember, Warn

CREATE_NEW_PROCESS_GROUP = 0x00000200
CREATE_SUSPENDED = 0x00000004
JOB_OBJECT_LIMIT_KILL_ON_JOB_CLOSE = 0x00002000
JOB_OBJECT_BASIC_ACCOUNTING_INFORMATION = 1  # JOBOBJECTINFOCLASS: JOBOBJECT_BASIC_ACCOUNTING_INFORMATION
JOB_OBJECT_EXTENDED_LIMIT_INFORMATION = 9  # JOBOBJECTINFOCLASS: JOBOBJECT_EXTENDED_LIMIT_INFORMATION
JOB_OBJECT_GROUP_INFORMATION_EX = 14  # JOBOBJECTINFOCLASS: an array of GROUP_AFFINITY
PROCESS_TERMINATE = 0x0001
PROCESS_SET_QUOTA = 0x0100
PROCESS_SUSPEND_RESUME = 0x0800
JOB_KILLED_EXIT_CODE = 1

Popen = Callable[..., "subprocess.Popen[bytes]"]


class WindowsCalls(Protocol):
    """The Win32 calls process control needs; each raises OSError when the call fails."""

    def create_job_object(self) -> int: ...

    def set_kill_on_close(self, job: int) -> None: ...

    def assign_process(self, job: int, pid: int) -> None: ...

    def set_group_affinity(self, job: int, group: int, mask: int) -> None: ...

    def resume_process(self, pid: int) -> None: ...

    def terminate_job(self, job: int, exit_code: int) -> None: ...

    def close_handle(self, handle: int) -> None: ...

    def send_ctrl_break(self, pid: int) -> None: ...

    def taskkill_tree(self, pid: int) -> None: ...

    def job_active_processes(self, job: int) -> int: ...


class WindowsProcessControl(ProcessControl):
    """Job Objects; ``processor_groups`` (CPUs of each processor group) turn a CPU block into (group, mask)."""

    name = "windows"

    def __init__(self, os_calls: Optional[WindowsCalls] = None, processor_groups: Optional[Topology] = None,
                 popen: Optional[Popen] = None) -> None:
        self.calls: WindowsCalls = os_calls if os_calls is not None else Kernel32Calls()
        self.processor_groups = processor_groups
        self.popen: Popen = popen if popen is not None else subprocess.Popen

    def spawn(self, argv: Sequence[str], *, env: Optional[Mapping[str, str]], cwd: Optional[str],
              cpus: Optional[Sequence[int]], warn: Warn) -> Spawned:
        affinity = self._group_affinity(cpus, warn)
        popen = self.popen(list(argv), stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           env=env, cwd=cwd, close_fds=True,
                           creationflags=CREATE_NEW_PROCESS_GROUP | CREATE_SUSPENDED)
        child = Spawned(popen)
        child.job = self._job_for(popen.pid, warn)
        if child.job is not None and affinity is not None:
            try:
                self.calls.set_group_affinity(child.job, *affinity)
            except OSError as exc:
                warn(f"could not pin child {popen.pid}: {exc}; running unpinned")
        try:
            self.calls.resume_process(popen.pid)
        except OSError as exc:
            self._abandon(child)  # never leave a suspended child behind
            raise OSError(f"could not resume {argv[0]} (pid {popen.pid}): {exc}") from exc
        return child

    def stop(self, child: Spawned, members: Sequence[TreeMember]) -> None:
        # TerminateProcess is not polite, so recorded members are left to the hard end that follows the grace
        try:
            self.calls.send_ctrl_break(child.pid)
        except OSError:
            pass

    def kill(self, child: Spawned, members: Sequence[TreeMember]) -> None:
        ended = False
        if child.job is not None:
            try:
                self.calls.terminate_job(child.job, JOB_KILLED_EXIT_CODE)
                ended = True
            except OSError:
                pass
        if not ended:
            self.calls.taskkill_tree(child.pid)
        for member in members:
            try:
                member.kill()
            except psutil.Error:
                pass

    def group_alive(self, child: Spawned) -> Optional[bool]:
        """Processes still in the child's Job Object (the launcher, After Effects and anything they started)."""
        if child.job is None:
            return None
        try:
            return self.calls.job_active_processes(child.job) > 0
        except OSError:
            return None

    def release(self, child: Spawned) -> None:
        job, child.job = child.job, None
        if job is not None:
            try:
                self.calls.close_handle(job)  # kill-on-close ends anything still in the job
            except OSError:
                pass

    # ---------------------------------------------------------------------------------------------- internals
    def _group_affinity(self, cpus: Optional[Sequence[int]], warn: Warn) -> Optional[Tuple[int, int]]:
        if not cpus or not self.processor_groups:
            return None
        try:
            return windows_group_affinity(cpus, self.processor_groups)
        except StmpoError as exc:
            warn(f"not pinned: {exc}")
            return None

    def _job_for(self, pid: int, warn: Warn) -> Optional[int]:
        """A kill-on-close Job Object holding ``pid``, or None (with a warning) when one cannot be made."""
        job: Optional[int] = None
        try:
            job = self.calls.create_job_object()
            self.calls.set_kill_on_close(job)
            self.calls.assign_process(job, pid)
            return job
        except OSError as exc:
            if job is not None:
                try:
                    self.calls.close_handle(job)
                except OSError:
                    pass
            # the child exists: it must stay supervised (readers, waiter, cancel) even without a Job Object
            warn(f"no Job Object for child {pid} ({exc}); cancel falls back to taskkill /T /F")
            return None

    def _abandon(self, child: Spawned) -> None:
        self.kill(child, ())
        if child.job is None:
            try:
                child.popen.kill()
            except OSError:
                pass
        try:
            child.popen.wait(timeout=5.0)
        except subprocess.TimeoutExpired:
            pass
        for stream in (child.popen.stdout, child.popen.stderr):
            if stream is not None:
                stream.close()
        self.release(child)


class Kernel32Calls:
    """The real calls (kernel32, ntdll, taskkill). ctypes is imported inside each call. NOT run on the Linux CI."""

    def create_job_object(self) -> int:
        kernel32 = _kernel32()
        job = kernel32.CreateJobObjectW(None, None)
        if not job:
            raise _last_error()
        return int(job)

    def set_kill_on_close(self, job: int) -> None:
        if sys.platform != "win32":
            raise OSError("Job Objects exist only on Windows")
        import ctypes
        from ctypes import wintypes

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

        info = EXTENDED()
        info.BasicLimitInformation.LimitFlags = JOB_OBJECT_LIMIT_KILL_ON_JOB_CLOSE
        if not _kernel32().SetInformationJobObject(wintypes.HANDLE(job), JOB_OBJECT_EXTENDED_LIMIT_INFORMATION,
                                                   ctypes.byref(info), ctypes.sizeof(info)):
            raise _last_error()

    def assign_process(self, job: int, pid: int) -> None:
        if sys.platform != "win32":
            raise OSError("Job Objects exist only on Windows")
        from ctypes import wintypes

        kernel32 = _kernel32()
        handle = kernel32.OpenProcess(PROCESS_SET_QUOTA | PROCESS_TERMINATE, False, wintypes.DWORD(pid))
        if not handle:
            raise _last_error()
        try:
            if not kernel32.AssignProcessToJobObject(wintypes.HANDLE(job), wintypes.HANDLE(handle)):
                raise _last_error()
        finally:
            kernel32.CloseHandle(wintypes.HANDLE(handle))

    def set_group_affinity(self, job: int, group: int, mask: int) -> None:
        if sys.platform != "win32":
            raise OSError("Job Objects exist only on Windows")
        import ctypes
        from ctypes import wintypes

        class GROUP_AFFINITY(ctypes.Structure):  # noqa: N801 - Win32 name
            _fields_ = [("Mask", ctypes.c_size_t), ("Group", wintypes.WORD), ("Reserved", wintypes.WORD * 3)]

        info = GROUP_AFFINITY(Mask=mask, Group=group)
        if not _kernel32().SetInformationJobObject(wintypes.HANDLE(job), JOB_OBJECT_GROUP_INFORMATION_EX,
                                                   ctypes.byref(info), ctypes.sizeof(info)):
            raise _last_error()

    def resume_process(self, pid: int) -> None:
        if sys.platform != "win32":
            raise OSError("NtResumeProcess exists only on Windows")
        import ctypes
        from ctypes import wintypes

        kernel32 = _kernel32()
        handle = kernel32.OpenProcess(PROCESS_SUSPEND_RESUME, False, wintypes.DWORD(pid))
        if not handle:
            raise _last_error()
        try:
            status = ctypes.WinDLL("ntdll").NtResumeProcess(wintypes.HANDLE(handle))
            if status != 0:
                raise OSError(f"NtResumeProcess failed with NTSTATUS {status & 0xFFFFFFFF:#010x}")
        finally:
            kernel32.CloseHandle(wintypes.HANDLE(handle))

    def terminate_job(self, job: int, exit_code: int) -> None:
        if sys.platform != "win32":
            raise OSError("Job Objects exist only on Windows")
        from ctypes import wintypes

        if not _kernel32().TerminateJobObject(wintypes.HANDLE(job), wintypes.UINT(exit_code)):
            raise _last_error()

    def close_handle(self, handle: int) -> None:
        if sys.platform != "win32":
            raise OSError("handles exist only on Windows")
        from ctypes import wintypes

        if not _kernel32().CloseHandle(wintypes.HANDLE(handle)):
            raise _last_error()

    def send_ctrl_break(self, pid: int) -> None:
        if sys.platform != "win32":
            raise OSError("CTRL_BREAK_EVENT exists only on Windows")
        import os
        import signal

        os.kill(pid, signal.CTRL_BREAK_EVENT)  # GenerateConsoleCtrlEvent to the group whose id is ``pid``

    def taskkill_tree(self, pid: int) -> None:
        subprocess.run(["taskkill", "/T", "/F", "/PID", str(pid)], capture_output=True)

    def job_active_processes(self, job: int) -> int:
        if sys.platform != "win32":
            raise OSError("Job Objects exist only on Windows")
        import ctypes
        from ctypes import wintypes

        class ACCOUNTING(ctypes.Structure):  # JOBOBJECT_BASIC_ACCOUNTING_INFORMATION
            _fields_ = [("TotalUserTime", ctypes.c_int64), ("TotalKernelTime", ctypes.c_int64),
                        ("ThisPeriodTotalUserTime", ctypes.c_int64), ("ThisPeriodTotalKernelTime", ctypes.c_int64),
                        ("TotalPageFaultCount", wintypes.DWORD), ("TotalProcesses", wintypes.DWORD),
                        ("ActiveProcesses", wintypes.DWORD), ("TotalTerminatedProcesses", wintypes.DWORD)]

        info = ACCOUNTING()
        if not _kernel32().QueryInformationJobObject(wintypes.HANDLE(job), JOB_OBJECT_BASIC_ACCOUNTING_INFORMATION,
                                                     ctypes.byref(info), ctypes.sizeof(info), None):
            raise _last_error()
        return int(info.ActiveProcesses)


def _kernel32() -> Any:
    """kernel32 with the handle-returning functions declared (a HANDLE is pointer-sized: never truncate it)."""
    if sys.platform != "win32":
        raise OSError("kernel32 exists only on Windows")
    import ctypes
    from ctypes import wintypes

    kernel32 = ctypes.WinDLL("kernel32", use_last_error=True)
    kernel32.CreateJobObjectW.restype = wintypes.HANDLE
    kernel32.CreateJobObjectW.argtypes = [ctypes.c_void_p, wintypes.LPCWSTR]
    kernel32.OpenProcess.restype = wintypes.HANDLE
    kernel32.OpenProcess.argtypes = [wintypes.DWORD, wintypes.BOOL, wintypes.DWORD]
    return kernel32


def _last_error() -> OSError:
    if sys.platform != "win32":
        return OSError("not on Windows")
    import ctypes

    return ctypes.WinError(ctypes.get_last_error())
