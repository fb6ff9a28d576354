"""Process control per OS: the Windows Job Object calls in order (a recording fake of kernel32), the POSIX group.

The Windows backend was NOT run on Windows here: these tests check which Win32 calls it makes, in which order, and what
it does when one fails, with a recording fake of the calls and a fake Popen. POSIX signals are removed from the
`signal` and `os` modules while the Windows paths run, so any use of one (``signal.SIGKILL`` does not exist on
Windows) fails here as it would there.
"""
from __future__ import annotations

import io
import os
import shutil
import signal
import subprocess
import sys
import threading
import time

import psutil
import pytest

from stmpo.children import ChildProcess
from stmpo.host import windows_groups_from_sizes
from stmpo.proc import process_control
from stmpo.proc.base import Spawned
from stmpo.proc.windows import (
    CREATE_NEW_PROCESS_GROUP,
    CREATE_SUSPENDED,
    JOB_KILLED_EXIT_CODE,
    Kernel32Calls,
    WindowsProcessControl,
)

FAKE_PID = 999_999_001  # no such process: psutil finds nothing, so nothing real is ever signalled
JOB = 0x1F4


class RecordingKernel32:
    """Records every call; ``fail`` names calls that raise OSError. ``on_end`` runs when the tree is ended."""

    def __init__(self, fail=(), on_end=None):
        self.calls = []
        self.ended = False
        self.fail = set(fail)
        self.on_end = on_end or (lambda: None)

    def _call(self, name, *args):
        self.calls.append((name, *args))
        if name in self.fail:
            raise OSError(f"{name} failed (fake)")

    def create_job_object(self):
        self._call("create_job_object")
        return JOB

    def set_kill_on_close(self, job):
        self._call("set_kill_on_close", job)

    def assign_process(self, job, pid):
        self._call("assign_process", job, pid)

    def set_group_affinity(self, job, group, mask):
        self._call("set_group_affinity", job, group, mask)

    def resume_process(self, pid):
        self._call("resume_process", pid)

    def terminate_job(self, job, exit_code):
        self._call("terminate_job", job, exit_code)
        self.on_end()

    def close_handle(self, handle):
        self._call("close_handle", handle)

    def send_ctrl_break(self, pid):
        self._call("send_ctrl_break", pid)

    def taskkill_tree(self, pid):
        self._call("taskkill_tree", pid)
        self.on_end()
        self.ended = True

    def job_active_processes(self, job):  # a query, not recorded: the job empties once the tree was ended
        return 0 if self.ended or "terminate_job" in [c[0] for c in self.calls] else 1


class FakePopen:
    """A suspended-then-running child that runs until its tree is ended; stdout holds ``output``."""

    def __init__(self, argv, output=b"", **kwargs):
        self.argv, self.kwargs = argv, kwargs
        self.pid = FAKE_PID
        self.stdout = io.BytesIO(output)
        self.stderr = io.BytesIO(b"")
        self.returncode = None
        self._ended = threading.Event()

    def end(self, code=JOB_KILLED_EXIT_CODE):
        self.returncode = code
        self._ended.set()

    def poll(self):
        return self.returncode

    def wait(self, timeout=None):
        if not self._ended.wait(timeout):
            raise subprocess.TimeoutExpired(self.argv, timeout)
        return self.returncode

    def kill(self):
        self.end()


class Member:
    """A recorded descendant (stands in for psutil.Process)."""

    def __init__(self, pid, log):
        self.pid, self.log = pid, log

    def terminate(self):
        self.log.append(("terminate", self.pid))

    def kill(self):
        self.log.append(("kill", self.pid))


def windows(calls, groups=None, output=b""):
    made = []

    def popen(argv, **kwargs):
        proc = FakePopen(argv, output, **kwargs)
        made.append(proc)
        return proc

    return WindowsProcessControl(os_calls=calls, processor_groups=groups, popen=popen), made


@pytest.fixture
def no_posix_signals(monkeypatch):
    """What Windows lacks: a Windows code path naming one of these fails with AttributeError, as on Windows."""
    for name in ("SIGKILL", "SIGSTOP", "SIGHUP", "SIGQUIT", "SIGUSR1"):
        monkeypatch.delattr(signal, name, raising=False)
    for name in ("killpg", "getpgid", "setsid"):
        monkeypatch.delattr(os, name, raising=False)


def test_windows_spawn_makes_the_job_object_calls_in_order(no_posix_signals):
    calls = RecordingKernel32()
    control, made = windows(calls, groups=windows_groups_from_sizes([64, 64]))
    warnings = []
    child = control.spawn(["aerender.exe", "-project", "p.aepx"], env={"A": "1"}, cwd=None, cpus=range(64, 68),
                          warn=warnings.append)
    assert calls.calls == [
        ("create_job_object",),
        ("set_kill_on_close", JOB),
        ("assign_process", JOB, FAKE_PID),
        ("set_group_affinity", JOB, 1, 0b1111),  # CPUs 64-67 are the first four of processor group 1
        ("resume_process", FAKE_PID),  # last: the first instruction already runs in the job, on the block
    ]
    assert made[0].kwargs["creationflags"] == CREATE_NEW_PROCESS_GROUP | CREATE_SUSPENDED
    assert "start_new_session" not in made[0].kwargs and made[0].kwargs["env"] == {"A": "1"}
    assert child.job == JOB and child.pid == FAKE_PID and warnings == []


def test_windows_spawn_without_cpus_or_groups_sets_no_affinity():
    for cpus, groups in ((None, windows_groups_from_sizes([8])), ((0, 1), None)):
        calls = RecordingKernel32()
        control, _ = windows(calls, groups=groups)
        control.spawn(["aerender.exe"], env=None, cwd=None, cpus=cpus, warn=lambda text: None)
        assert [c[0] for c in calls.calls] == ["create_job_object", "set_kill_on_close", "assign_process",
                                               "resume_process"]


@pytest.mark.parametrize("failing, closed", [("create_job_object", False), ("set_kill_on_close", True),
                                             ("assign_process", True)])
def test_windows_child_without_a_job_still_runs_and_falls_back_to_taskkill(failing, closed, no_posix_signals):
    calls = RecordingKernel32(fail={failing})
    control, made = windows(calls, groups=windows_groups_from_sizes([8]))
    warnings = []
    child = control.spawn(["aerender.exe"], env=None, cwd=None, cpus=(0, 1), warn=warnings.append)
    names = [c[0] for c in calls.calls]
    assert child.job is None
    assert ("close_handle", JOB) in calls.calls if closed else "close_handle" not in names  # no leaked handle
    assert "set_group_affinity" not in names  # the affinity belongs to the job: no job, no pinning
    assert names[-1] == "resume_process"  # the child exists: it is resumed and stays supervised
    assert len(warnings) == 1 and "taskkill /T /F" in warnings[0]
    calls.on_end = made[0].end
    control.kill(child, [])
    assert calls.calls[-1] == ("taskkill_tree", FAKE_PID)


def test_windows_failed_pin_warns_and_keeps_the_job():
    calls = RecordingKernel32(fail={"set_group_affinity"})
    control, _ = windows(calls, groups=windows_groups_from_sizes([8]))
    warnings = []
    child = control.spawn(["aerender.exe"], env=None, cwd=None, cpus=(2, 3), warn=warnings.append)
    assert child.job == JOB and calls.calls[-1] == ("resume_process", FAKE_PID)
    assert len(warnings) == 1 and "running unpinned" in warnings[0]


def test_windows_block_spanning_groups_is_not_pinned():
    calls = RecordingKernel32()
    control, _ = windows(calls, groups=windows_groups_from_sizes([64, 64]))
    warnings = []
    control.spawn(["aerender.exe"], env=None, cwd=None, cpus=(63, 64), warn=warnings.append)
    assert "set_group_affinity" not in [c[0] for c in calls.calls]
    assert len(warnings) == 1 and "spans processor groups" in warnings[0]


def test_windows_failed_resume_ends_the_suspended_child_and_raises(no_posix_signals):
    calls = RecordingKernel32(fail={"resume_process"})
    control, made = windows(calls)
    calls.on_end = lambda: made[0].end()
    with pytest.raises(OSError, match="could not resume"):
        control.spawn(["aerender.exe"], env=None, cwd=None, cpus=None, warn=lambda text: None)
    assert [c[0] for c in calls.calls][-3:] == ["resume_process", "terminate_job", "close_handle"]
    assert made[0].poll() is not None and made[0].stdout.closed and made[0].stderr.closed


def test_windows_stop_is_ctrl_break_and_kill_terminates_the_job_then_every_member(no_posix_signals):
    calls = RecordingKernel32()
    control, made = windows(calls)
    child = control.spawn(["aerender.exe"], env=None, cwd=None, cpus=None, warn=lambda text: None)
    log = []
    members = [Member(11, log), Member(12, log)]
    calls.calls.clear()
    control.stop(child, members)
    assert calls.calls == [("send_ctrl_break", FAKE_PID)] and log == []  # TerminateProcess is not a polite stop
    control.kill(child, members)
    assert calls.calls[-1] == ("terminate_job", JOB, JOB_KILLED_EXIT_CODE)
    assert log == [("kill", 11), ("kill", 12)]
    control.release(child)
    assert calls.calls[-1] == ("close_handle", JOB) and child.job is None
    control.release(child)  # twice is harmless: the handle is closed once
    assert [c for c in calls.calls if c[0] == "close_handle"] == [("close_handle", JOB)]


def test_windows_kill_falls_back_to_taskkill_when_terminating_the_job_fails():
    calls = RecordingKernel32(fail={"terminate_job"})
    control, _ = windows(calls)
    child = control.spawn(["aerender.exe"], env=None, cwd=None, cpus=None, warn=lambda text: None)
    control.kill(child, [])
    assert [c[0] for c in calls.calls][-2:] == ["terminate_job", "taskkill_tree"]


def test_cancel_on_windows_ends_the_job_without_posix_signals(no_posix_signals):
    """The whole cancel path of a child (stop, grace, hard end, reap, release) on the Windows backend: before the
    backend split, this path sent ``signal.SIGKILL`` right after TerminateJobObject (AttributeError on Windows)."""
    calls = RecordingKernel32()
    control, made = windows(calls, output=b"PROGRESS: Launching After Effects...\r\n")
    calls.on_end = lambda: made[0].end()
    lines, exits = [], []
    done = threading.Event()
    child = ChildProcess(["aerender.exe", "-project", "p.aepx"], control=control, reap_grace=0.1,
                         on_line=lambda stream, text: lines.append(text),
                         on_exit=lambda code: (exits.append(code), done.set()))
    assert child.start() == FAKE_PID
    assert child.tree_alive()
    child.terminate_tree(grace=0.1)
    assert done.wait(10) and exits == [JOB_KILLED_EXIT_CODE]
    assert lines == ["PROGRESS: Launching After Effects..."] and not child.tree_alive()
    assert [c[0] for c in calls.calls] == ["create_job_object", "set_kill_on_close", "assign_process",
                                           "resume_process", "send_ctrl_break", "terminate_job", "close_handle"]


def test_windows_backend_is_chosen_on_windows(monkeypatch):
    monkeypatch.setattr(sys, "platform", "win32")
    groups = windows_groups_from_sizes([4])
    control = process_control(groups)
    assert isinstance(control, WindowsProcessControl) and isinstance(control.calls, Kernel32Calls)
    assert control.processor_groups == groups


def test_real_windows_calls_refuse_to_run_elsewhere():
    if sys.platform == "win32":
        pytest.skip("this checks the guard on other OSes")
    with pytest.raises(OSError):
        Kernel32Calls().create_job_object()
    with pytest.raises(OSError):
        Kernel32Calls().send_ctrl_break(FAKE_PID)


# ------------------------------------------------------------------------------------------------ POSIX
posix_only = pytest.mark.skipif(sys.platform == "win32", reason="POSIX process groups")


@posix_only
def test_posix_spawn_isolates_the_child_in_its_own_group_and_kill_ends_it():
    control = process_control()
    assert control.name == "posix"
    child = control.spawn([sys.executable, "-c", "import time; time.sleep(30)"], env=None, cwd=None, cpus=None,
                          warn=lambda text: None)
    try:
        assert os.getpgid(child.pid) == child.pid != os.getpgid(0)
        assert control.group_alive(child) is True
        control.kill(child, [])
        assert child.popen.wait(10) == -signal.SIGKILL
        deadline = time.monotonic() + 5
        while control.group_alive(child) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert control.group_alive(child) is False
    finally:
        child.popen.kill()
        child.popen.wait()
        for stream in (child.popen.stdout, child.popen.stderr):
            stream.close()


@posix_only
def test_posix_stop_and_kill_reach_members_outside_the_group():
    control = process_control()
    log = []
    child = Spawned(popen=subprocess.Popen([sys.executable, "-c", "pass"]))
    child.popen.wait()
    control.stop(child, [Member(1, log)])
    control.kill(child, [Member(2, log)])
    assert log == [("terminate", 1), ("kill", 2)]


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="/proc")
def test_linux_process_table_agrees_with_psutil():
    from stmpo.proc.posix import linux_process_table

    table = linux_process_table()
    me = psutil.Process()
    assert table is not None and table[me.pid][0] == me.ppid()
    assert abs(table[me.pid][1] - me.create_time()) < 0.05
    assert linux_process_table("/nonexistent-proc") is None


def _fake_stat(root, pid, ppid, ticks):
    (root / str(pid)).mkdir(exist_ok=True)
    rest = " ".join(["0"] * 17)  # pgrp .. itrealvalue, then starttime (field 22 of stat) and one more
    (root / str(pid) / "stat").write_text(f"{pid} (a (b) c) S {ppid} {rest} {ticks} 9\n")


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="/proc")
def test_linux_process_table_reads_only_what_changed(tmp_path, monkeypatch):
    """The incremental snapshot: new processes are read, processes whose parent is gone are read again (they were
    re-parented), an unchanged set of processes gives the last table back, an old snapshot is never built upon."""
    from stmpo.proc import posix

    root = tmp_path / "proc"
    root.mkdir()
    clock = {"now": 100.0}
    monkeypatch.setattr(posix.time, "monotonic", lambda: clock["now"])
    _fake_stat(root, 10, 1, 500)
    _fake_stat(root, 11, 10, 600)
    _fake_stat(root, 12, 1, 700)
    first = posix.linux_process_table(str(root))
    assert first is not None and {pid: entry[0] for pid, entry in first.items()} == {10: 1, 11: 10, 12: 1}
    assert first[11][1] - first[10][1] == pytest.approx(100 / posix._CLOCK_TICKS)
    _fake_stat(root, 12, 77, 700)  # a change no snapshot can attribute to a start or an exit: not read again
    clock["now"] += 1.0
    assert posix.linux_process_table(str(root)) is first
    _fake_stat(root, 13, 11, 800)  # a new process is read
    shutil.rmtree(root / "10")  # 11's parent exited: 11 was re-parented (to 1)
    _fake_stat(root, 11, 1, 600)
    clock["now"] += 1.0
    second = posix.linux_process_table(str(root))
    assert second is not None and {pid: entry[0] for pid, entry in second.items()} == {11: 1, 12: 1, 13: 11}
    clock["now"] += posix.SNAPSHOT_REUSE + 0.5  # too old to build upon: every process is read
    assert posix.linux_process_table(str(root))[12][0] == 77
    _fake_stat(root, 12, 78, 700)
    assert posix.linux_process_table(str(root), reuse=0)[12][0] == 78


def test_windows_a_child_is_finished_when_its_job_is_empty_not_when_aerender_exits(no_posix_signals):
    """aerender.exe exits 0 while AfterFX.exe (in the same Job Object) still writes: the exit is reported only once
    the job holds no process, and the job handle is closed (kill-on-close) only then."""
    calls = RecordingKernel32()
    active = {"count": 2}
    calls.job_active_processes = lambda job: active["count"]  # type: ignore[method-assign]
    control, made = windows(calls)
    exits = []
    done = threading.Event()
    child = ChildProcess(["aerender.exe", "-project", "p.aepx"], control=control,
                         on_line=lambda stream, text: None, on_exit=lambda code: (exits.append(code), done.set()))
    child.start()
    made[0].end(0)  # aerender.exe exits 0
    active["count"] = 1  # AfterFX.exe is still in the job
    assert child.launcher_exited.wait(10)
    assert not done.wait(0.8) and child.tree_alive()
    assert "close_handle" not in [c[0] for c in calls.calls]
    active["count"] = 0  # AfterFX.exe finished writing
    assert done.wait(10) and exits == [0]
    assert [c[0] for c in calls.calls][-1] == "close_handle" and "terminate_job" not in [c[0] for c in calls.calls]
