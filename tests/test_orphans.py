"""Process trees, orphans and cancel, all the way (issue 11): a child is finished when its WHOLE tree has exited; a
worker that left its process group and was orphaned before any snapshot is still found (its tree tag) and waited
for or ended; the executor is the subreaper of its orphans on Linux and reaps them without stealing the exit status
of its own children; a SIGTERM before any child started still ends with exit 130 and a report."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time

import psutil
import pytest

from aefarm_common import exitcodes
from engines.aftereffects.sample_project import write_sample_project
from stmpo.cancel import CancelLatch, SignalCancel
from stmpo.children import ChildProcess

POSIX = os.name == "posix"
LINUX = sys.platform.startswith("linux")

# the launcher starts a grandchild in a session of its own and exits 0 at once: orphaned before any snapshot
ESCAPE = r"""
import subprocess, sys
kid = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(float(__import__('sys').argv[1]))",
                        sys.argv[1]], start_new_session=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
print("grandchild", kid.pid, flush=True)
"""


def _start_escape(seconds: float):
    lines: list = []
    exits: list = []
    done = threading.Event()

    def on_exit(code):
        exits.append(code)
        done.set()

    child = ChildProcess([sys.executable, "-c", ESCAPE, str(seconds)], tag="test.1.1",
                         on_line=lambda stream, text: lines.append(text), on_exit=on_exit)
    child.start()
    return child, lines, exits, done


@pytest.mark.skipif(not POSIX, reason="sessions")
def test_a_grandchild_that_escaped_before_any_snapshot_is_found_by_its_tag_and_waited_for():
    started = time.monotonic()
    child, lines, exits, done = _start_escape(1.0)
    assert done.wait(20) and exits == [0]
    grandchild = int(lines[0].split()[1])
    assert grandchild in child.by_tag  # not by parentage: its launcher was gone before anyone looked
    assert time.monotonic() - started >= 0.9  # the exit came when the whole tree had exited, not the launcher
    assert not psutil.pid_exists(grandchild) or psutil.Process(grandchild).status() == psutil.STATUS_ZOMBIE


@pytest.mark.skipif(not POSIX, reason="sessions")
def test_terminating_a_tree_whose_launcher_is_gone_ends_the_escaped_grandchild():
    child, lines, exits, done = _start_escape(60.0)
    deadline = time.monotonic() + 20
    while not child.launcher_exited.is_set() and time.monotonic() < deadline:
        time.sleep(0.05)
    time.sleep(0.3)
    assert not done.is_set()  # the launcher exited 0 but its tree lives on: not finished
    grandchild = psutil.Process(int(lines[0].split()[1]))
    child.terminate_tree(grace=0.5)
    assert done.wait(20)
    assert not grandchild.is_running() or grandchild.status() == psutil.STATUS_ZOMBIE


@pytest.mark.skipif(not LINUX, reason="PR_SET_CHILD_SUBREAPER is Linux")
def test_the_subreaper_reaps_adopted_orphans_and_never_a_popen_childs_status():
    from stmpo.proc.posix import PosixProcessControl

    control = PosixProcessControl()
    assert control.adopt_orphans()
    try:
        ours = control.spawn([sys.executable, "-c", "import sys; sys.exit(3)"], env=None, cwd=None, cpus=None,
                             warn=lambda text: None)
        plain = subprocess.Popen([sys.executable, "-c", "import sys; sys.exit(5)"])  # our session: not adopted
        helper = subprocess.run([sys.executable, "-c", ESCAPE, "0.3"], capture_output=True, text=True, timeout=30)
        orphan = int(helper.stdout.split()[1])
        assert psutil.Process(orphan).ppid() == os.getpid()  # re-parented to us, not to init
        deadline = time.monotonic() + 20
        reaped = []
        while orphan not in reaped and time.monotonic() < deadline:
            reaped += control.reap_adopted()
            time.sleep(0.05)
        assert orphan in reaped and not psutil.pid_exists(orphan)  # no zombie left behind
        assert ours.popen.pid not in reaped and plain.pid not in reaped
        assert ours.popen.wait(timeout=20) == 3 and plain.wait(timeout=20) == 5  # their statuses were not stolen
        control.release(ours)
    finally:
        control.stop_adopting()


def test_the_latch_remembers_a_cancel_before_the_run_and_the_run_sees_it_on_entering():
    if threading.current_thread() is not threading.main_thread() or not hasattr(signal, "SIGTERM"):
        pytest.skip("signal handlers live on the main thread")
    latch = CancelLatch()
    before = signal.getsignal(signal.SIGTERM)
    latch.install()
    try:
        os.kill(os.getpid(), signal.SIGTERM)  # latched: this process goes on
        time.sleep(0.05)
        assert latch.tripped and latch.reason == "cancelled by SIGTERM"
        reasons = []
        with SignalCancel(reasons.append, latch=latch):
            assert reasons == ["cancelled by SIGTERM"]
    finally:
        latch.restore()
    assert signal.getsignal(signal.SIGTERM) is before and not latch.tripped


def _sigterm_handled(pid: int) -> bool:
    """Linux: the process has a handler for SIGTERM (its SigCgt mask), i.e. aefarm's first act is done."""
    try:
        with open(f"/proc/{pid}/status") as handle:
            for line in handle:
                if line.startswith("SigCgt:"):
                    return bool(int(line.split()[1], 16) & (1 << (signal.SIGTERM - 1)))
    except OSError:
        pass
    return False


@pytest.mark.skipif(not LINUX, reason="reads /proc/<pid>/status")
def test_sigterm_in_the_first_moment_of_aefarm_render_exits_130_with_a_report(tmp_path, aerender_sim):
    project = write_sample_project(tmp_path / "shot.aepx")
    report = tmp_path / "r.json"
    env = dict(os.environ, AERENDER_SIM_RECORD=str(tmp_path / "rec.jsonl"))
    proc = subprocess.Popen(
        [sys.executable, "-m", "engines.aftereffects", "render", str(project), "--comp", "Main", "--output",
         str(tmp_path / "out" / "[compName]_[#####].png"), "--frames", "1-20", "--concurrency", "2",
         "--aerender", aerender_sim, "--progress", "log", "--no-affinity", "--report", str(report)],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    deadline = time.monotonic() + 30
    while not _sigterm_handled(proc.pid) and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.001)
    proc.send_signal(signal.SIGTERM)  # before the parser, the preflight, the plan: no child exists yet
    output, _ = proc.communicate(timeout=60)
    assert proc.returncode == exitcodes.CANCELLED, output
    data = json.loads(report.read_text())
    assert data["cancelled"] and data["reason"] == "cancelled by SIGTERM" and data["missing"] == "1-20"
    assert data["chunks"] == [] and not (tmp_path / "rec.jsonl").exists()  # no aerender was started
    assert "before any aerender started" in output
