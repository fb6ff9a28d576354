"""The executor on the aerender simulator (a test instrument): delivery, faults, cancel, orphans, scratch, movies."""
from __future__ import annotations

import io
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest

from aefarm_common import exitcodes
from aerender_sim.png import read_frame_png
from engines.aftereffects.job import Job
from engines.aftereffects.sample_project import write_sample_project
from stmpo import movies
from stmpo.frames import FrameSet
from stmpo.invocation import invocation_frames
from stmpo.plan import Plan, PlanSettings
from stmpo.progress import make_reporter
from stmpo.run import run
from stmpo.settings import RunOptions
from stmpo.writer import OutputWriter

pytestmark = pytest.mark.slow
FAST = {"AERENDER_SIM_FRAME_SECONDS": "0.01"}


@pytest.fixture
def project(tmp_path):
    return write_sample_project(tmp_path / "shot.aepx")


def _gone(proc: psutil.Process) -> bool:
    """The process has exited (or is a zombie nobody reaped yet); race-free against it exiting while we look."""
    try:
        return not proc.is_running() or proc.status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


def render(tmp_path, project, aerender, spec, children, env=None, pattern="[compName]_[#####].png", **opts):
    out = tmp_path / "out"
    out.mkdir(exist_ok=True)
    options = RunOptions(**{"startup_timeout": 30.0, "stall_timeout": 30.0, "kill_grace": 1.0,
                            "report": tmp_path / "report.json", **opts})
    job = Job(project=project, output=str(out / pattern), frames=FrameSet.parse(spec), comp="Main",
              aerender=aerender, settings=PlanSettings(mfr=False), options=options)
    stream = io.StringIO()
    writer = OutputWriter(stream)
    reporter = make_reporter("log", writer, len(job.frames), tmp_path / "logs")
    full_env = {**os.environ, **FAST, **(env or {})}
    report = run(Plan(concurrency=children, cpu_blocks=None), job, reporter, env=full_env, handle_signals=False)
    reporter.close()
    writer.close()
    return report, out, stream.getvalue()


def records(path):
    return [json.loads(line) for line in Path(path).read_text().splitlines() if line.strip()]


def assert_frames(out, frames, comp="Main"):
    for f in frames:
        info = read_frame_png(out / f"{comp}_{f:05d}.png")
        assert info["frame"] == f and info["comp"] == comp
    assert not [p for p in out.iterdir() if p.name.startswith(".aefarm-")], "staging left behind"


def test_invocation_frames():
    assert invocation_frames([3, 4, 5, 7], False) == ([3, 4, 5], 1)
    assert invocation_frames([1, 3, 5], False) == ([1], 1)
    assert invocation_frames([1, 3, 5, 6], True) == ([1, 3, 5], 2)
    assert invocation_frames([], False) == ([], 1)


def test_invocation_frames_reads_only_the_front_run():
    consumed = []

    def frames():
        for f in [3, 4, 5, 9, 10, 11]:
            consumed.append(f)
            yield f

    assert invocation_frames(frames(), False) == ([3, 4, 5], 1) and consumed == [3, 4, 5, 9]


def test_a_crash_early_in_a_huge_range_ends_at_once_with_the_exact_missing_set(tmp_path, project, aerender_sim):
    """A chunk of 300 000 frames whose aerender crashes at frame 10: the end of the invocation is linear in the
    chunk (it once compared every frame with a list of every frame: minutes here, hours at 10^6)."""
    env = {"AERENDER_SIM_CRASH_AT_FRAME": "10"}
    report, out, log = render(tmp_path, project, aerender_sim, "0-299999", 1, env=env, retries=0)
    assert not report.ok and report.exit_code == exitcodes.RENDER_FAILED
    assert str(report.missing) == "10-299999", log[-2000:]
    delivered = sorted(p.name for p in out.iterdir() if not p.name.startswith(".aefarm-"))
    assert delivered == [f"Main_{f:05d}.png" for f in range(10)]


def test_all_frames_delivered_and_verified(tmp_path, project, aerender_sim):
    report, out, log = render(tmp_path, project, aerender_sim, "1-24", 3)
    assert report.ok and report.exit_code == 0 and not report.missing
    assert_frames(out, range(1, 25))
    data = json.loads((tmp_path / "report.json").read_text())
    assert data["ok"] and data["missing"] == "" and data["plan"]["concurrency"] == 3
    chunk = data["chunks"][0]
    assert chunk["pid"] and chunk["exit_code"] == 0 and chunk["frame_times"] and chunk["logs"]
    assert Path(chunk["logs"][0]).read_text().count("PROGRESS:") > 0
    assert "rendered 24 frames" in log


def test_crash_is_retried_and_delivered(tmp_path, project, aerender_sim):
    rec = tmp_path / "rec.jsonl"
    env = {"AERENDER_SIM_CRASH_AT_FRAME": "7", "AERENDER_SIM_FAULT_ONCE": str(tmp_path / "once"),
           "AERENDER_SIM_RECORD": str(rec)}
    report, out, log = render(tmp_path, project, aerender_sim, "1-16", 2, env=env, retries=1)
    assert report.ok, log
    assert_frames(out, range(1, 17))
    assert "failed" in log and "(retrying)" in log
    retried = [c for c in report.chunks if c["retry"]]
    # frame 6 had its line, the crash ended the whole tree (its file is closed) and it is whole: delivered; frame 7
    # (no line, a half file in staging) is rendered again
    assert retried and FrameSet.parse(retried[0]["frames"]).first == 7 and retried[0]["retries_before"] == 1
    first = next(c for c in report.chunks if not c["retry"] and "7" in c["frames"] or c["frames"] == "1-8")
    assert first["invocations"][0]["failure"]["reason"] == "crash"
    # the partial frame the crash left in staging never reached the final folder before the retry wrote it
    assert read_frame_png(out / "Main_00007.png")["frame"] == 7


def test_hang_is_killed_by_the_watchdog_and_retried(tmp_path, project, aerender_sim):
    env = {"AERENDER_SIM_HANG_AT_FRAME": "6", "AERENDER_SIM_FAULT_ONCE": str(tmp_path / "once")}
    report, out, log = render(tmp_path, project, aerender_sim, "1-8", 2, env=env, stall_timeout=1.0)
    assert report.ok, log
    assert_frames(out, range(1, 9))
    assert any("stalled" in c["reason"] for c in report.chunks)
    # the child of 5-8 reported 5, then hung at 6: its killed tree proves 5 closed (and it is whole), 6 renders again
    retried = [c for c in report.chunks if c["retry"]]
    assert retried and min(FrameSet.parse(c["frames"]).first for c in retried) == 6


def test_hang_at_startup_uses_the_startup_allowance(tmp_path, project, aerender_sim):
    env = {"AERENDER_SIM_HANG_AT_STARTUP": "1", "AERENDER_SIM_FAULT_ONCE": str(tmp_path / "once")}
    report, out, log = render(tmp_path, project, aerender_sim, "1-4", 1, env=env, startup_timeout=1.5)
    assert report.ok, log
    assert any("start-up allowance" in c["reason"] for c in report.chunks)


def test_error_line_with_exit_zero_is_a_failure(tmp_path, project, aerender_sim):
    report, out, log = render(tmp_path, project, aerender_sim, "1-10", 2, env={"AERENDER_SIM_ERROR_EXIT0": "8"},
                              retries=0)
    assert not report.ok and report.exit_code == exitcodes.RENDER_FAILED
    # 7 was the last frame reported before the fatal line: the tree's exit proves its file closed and it is whole
    assert list(report.missing) == [8, 9, 10]
    assert "missing frames: 8-10" in log
    failed = [c for c in report.chunks if c["status"] == "failed"]
    assert failed and "After Effects error" in failed[0]["reason"] and failed[0]["exit_code"] == 0
    assert not (out / "Main_00008.png").exists()
    assert json.loads((tmp_path / "report.json").read_text())["missing"] == "8-10"


def test_fail_fast_stops_everything(tmp_path, project, aerender_sim):
    env = {"AERENDER_SIM_CRASH_AT_FRAME": "2", "AERENDER_SIM_FRAME_SECONDS": "0.2"}
    report, out, log = render(tmp_path, project, aerender_sim, "1-40", 2, env=env, retries=0, fail_fast=True)
    assert not report.ok and report.exit_code == exitcodes.RENDER_FAILED
    assert "fail-fast" in report.reason
    statuses = {c["chunk"]: c["status"] for c in report.chunks}
    assert statuses[1] == "failed" and statuses[2] == "stopped"
    assert len(report.chunks) == 2  # nothing was retried or started after the failure
    assert 40 in report.missing


def test_launcher_killed_orphaned_worker_is_reaped(tmp_path, project, aerender_sim):
    """SIGKILL the launcher: its worker (re-parented, still rendering) must be reaped; the chunk is retried."""
    import threading

    rec = tmp_path / "rec.jsonl"
    env = {"AERENDER_SIM_FRAME_SECONDS": "0.15", "AERENDER_SIM_IGNORE_SIGTERM": "1", "AERENDER_SIM_RECORD": str(rec)}
    victims = {}

    def killer():
        deadline = time.time() + 20
        me = psutil.Process()
        while time.time() < deadline:
            for launcher in me.children():
                workers = launcher.children()
                if workers:
                    time.sleep(1.2)  # let the executor record the tree once
                    victims["workers"] = launcher.children(recursive=True)
                    launcher.kill()
                    return
            time.sleep(0.05)

    thread = threading.Thread(target=killer)
    thread.start()
    report, out, log = render(tmp_path, project, aerender_sim, "1-16", 1, env=env)
    thread.join()
    assert victims.get("workers"), "no worker found to orphan"
    assert report.ok, log
    for worker in victims["workers"]:
        assert _gone(worker)
    assert any(c["exit_code"] == -9 for c in report.chunks)


def test_scratch_and_move_lose_nothing_under_16_children(tmp_path, project, aerender_sim):
    scratch = tmp_path / "scratch"
    report, out, log = render(tmp_path, project, aerender_sim, "1-64", 16, scratch=scratch, min_chunk=1)
    assert report.ok, log
    assert len(report.chunks) >= 16
    assert_frames(out, range(1, 65))
    assert sorted(p.name for p in out.iterdir()) == [f"Main_{f:05d}.png" for f in range(1, 65)]
    assert list(scratch.iterdir()) == []


def test_resume_keeps_only_frames_that_pass_the_check(tmp_path, project, aerender_sim):
    from aerender_sim.png import frame_png

    rec = tmp_path / "rec.jsonl"
    out = tmp_path / "out"
    out.mkdir()
    for f in range(1, 7):
        (out / f"Main_{f:05d}.png").write_bytes(frame_png(f, "shot.aepx", "Main"))
    (out / "Main_00007.png").write_bytes(frame_png(7, "shot.aepx", "Main")[:40])  # cut short
    (out / "Main_00008.png").write_bytes(b"previous run")  # not a PNG at all
    kept = (out / "Main_00001.png").read_bytes()
    report, out, log = render(tmp_path, project, aerender_sim, "1-12", 2, env={"AERENDER_SIM_RECORD": str(rec)},
                              resume=True)
    assert report.ok, log
    rendered = sorted(f for r in records(rec) for f in r["frames"])
    assert rendered == [7, 8, 9, 10, 11, 12]
    assert (out / "Main_00001.png").read_bytes() == kept
    assert report.skipped == "1-6"
    assert_frames(out, range(1, 13))


def test_frames_left_by_an_earlier_render_never_pass_for_this_one(tmp_path, project, aerender_sim):
    out = tmp_path / "out"
    out.mkdir()
    for f in range(1, 7):
        (out / f"Main_{f:05d}.png").write_bytes(b"an earlier render")
    report, out, log = render(tmp_path, project, aerender_sim, "1-6", 2, retries=0,
                              env={"AERENDER_SIM_LICENSE_ERROR": "1"})
    assert not report.ok and report.exit_code != 0
    assert str(report.missing) == "1-6"
    assert "frame" not in "".join(line for line in log.splitlines() if "verified" in line and "all" in line)
    assert (out / "Main_00001.png").read_bytes() == b"an earlier render"  # nothing was moved over it either


def test_stepped_frames_run_one_invocation_per_frame(tmp_path, project, aerender_sim):
    rec = tmp_path / "rec.jsonl"
    report, out, log = render(tmp_path, project, aerender_sim, "1-11x2", 2, env={"AERENDER_SIM_RECORD": str(rec)},
                              stepped="per-frame")
    assert report.ok, log
    runs = records(rec)
    assert sorted(f for r in runs for f in r["frames"]) == [1, 3, 5, 7, 9, 11]
    for r in runs:
        argv = r["argv"]
        assert argv[argv.index("-s") + 1] == argv[argv.index("-e") + 1] and "-i" not in argv


def test_work_stealing_delivers_every_frame_once(tmp_path, project, aerender_sim):
    rec = tmp_path / "rec.jsonl"
    env = {"AERENDER_SIM_COST_MAP": json.dumps({"13-24": 0.3}), "AERENDER_SIM_RECORD": str(rec)}
    # both children start at once (no pilot): this is about stealing, not about launch order
    report, out, log = render(tmp_path, project, aerender_sim, "1-24", 2, env=env, min_chunk=1, pilot=False)
    assert report.ok, log
    assert_frames(out, range(1, 25))
    assert len(report.chunks) > 2, "the idle slot never stole from the slow child"
    victims = [c for c in report.chunks if c["stolen_after"] is not None]
    assert victims, "no child's assignment was shrunk"
    for victim in victims:
        assert FrameSet.parse(victim["final_frames"]).last == victim["stolen_after"]
        assert victim["status"] == "done"  # killed at its split with every frame of its shrunk share verified
    # every frame was written into place by exactly one child (the record lists what each invocation wrote)
    delivered = sorted(f for c in report.chunks for f in FrameSet.parse(c["final_frames"] or "") if True)
    assert delivered == list(range(1, 25))


@pytest.mark.skipif(shutil.which("ffmpeg") is None, reason="ffmpeg not installed")
def test_movie_segments_joined_by_ffmpeg(tmp_path, project, aerender_sim):
    report, out, log = render(tmp_path, project, aerender_sim, "1-20", 3, pattern="[compName].mov")
    assert report.ok, log
    movie = out / "Main.mov"
    ffmpeg, ffprobe = movies.find_ffmpeg()
    assert movies.movie_frame_count(movie, ffprobe) == 20
    assert sorted(p.name for p in out.iterdir()) == ["Main.mov"]
    assert report.join in ("copy", "reencode")


def test_sigterm_to_aefarm_render_leaves_no_process(tmp_path, project, aerender_sim):
    env = dict(os.environ, AERENDER_SIM_FRAME_SECONDS="0.2", AERENDER_SIM_IGNORE_SIGTERM="1",
               AERENDER_SIM_GRANDCHILD="1")
    out = tmp_path / "out"
    proc = subprocess.Popen(
        [sys.executable, "-m", "engines.aftereffects", "render", str(project), "--comp", "Main", "--output",
         str(out / "[compName]_[#####].png"), "--frames", "1-200", "--concurrency", "3", "--aerender", aerender_sim,
         "--kill-grace", "1", "--progress", "log", "--no-affinity", "--report", str(tmp_path / "r.json"),
         "--log-dir", str(tmp_path / "logs")],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    me = psutil.Process(proc.pid)
    tree = []
    deadline = time.time() + 30
    while time.time() < deadline:
        tree = me.children(recursive=True)
        if len(tree) >= 9:  # 3 launchers + 3 workers + 3 grandchildren
            break
        time.sleep(0.1)
    assert len(tree) >= 9
    time.sleep(0.5)
    proc.send_signal(signal.SIGTERM)
    output, _ = proc.communicate(timeout=60)
    assert proc.returncode == exitcodes.CANCELLED, output
    survivors = [p for p in tree if p.is_running() and p.status() != psutil.STATUS_ZOMBIE]
    assert survivors == []
    data = json.loads((tmp_path / "r.json").read_text())
    assert data["cancelled"] and "SIGTERM" in data["reason"]


# ------------------------------------------------------------------------------------------------ children.py
LAUNCHER = r"""
import signal, subprocess, sys, time
signal.signal(signal.SIGTERM, signal.SIG_IGN)
kid = subprocess.Popen([sys.executable, "-c", "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); "
                        "time.sleep(60)"], start_new_session=sys.argv[1] == "escape")
print("ready", kid.pid, flush=True)
time.sleep(60)
"""


def _start_tree(mode):
    import threading

    from stmpo.children import ChildProcess

    lines, ready = [], threading.Event()

    def on_line(stream, text):
        lines.append(text)
        if text.startswith("ready"):
            ready.set()

    child = ChildProcess([sys.executable, "-c", LAUNCHER, mode], on_line=on_line, reap_grace=0.5)
    child.start()
    assert ready.wait(20), lines
    grandchild = psutil.Process(int(lines[0].split()[1]))
    return child, grandchild


def test_descendants_in_follows_reparented_known_processes():
    from stmpo.children import descendants_in

    table = {10: (1, 1.0), 11: (10, 2.0), 12: (11, 3.0), 20: (1, 4.0), 21: (20, 5.0)}
    assert descendants_in(table, [10]) == {11: 2.0, 12: 3.0}
    # 11 was re-parented to init after 10 died: remembered roots still find its children
    table = {11: (1, 2.0), 12: (11, 3.0)}
    assert descendants_in(table, [10, 11]) == {12: 3.0}


def test_terminate_tree_kills_processes_ignoring_sigterm():
    child, grandchild = _start_tree("group")
    child.terminate_tree(grace=0.5)
    assert child.join(10)
    assert _gone(grandchild)
    assert child.alive_tree() == []


def test_a_grandchild_that_left_the_group_is_reaped_through_the_recorded_descendants():
    """The launcher dies by SIGKILL; its child had called setsid (killpg cannot reach it) and is re-parented."""
    child, grandchild = _start_tree("escape")
    child.record_descendants()
    assert grandchild.pid in child.known
    os.kill(child.pid, signal.SIGKILL)
    assert child.join(15)  # the waiter reaps what is left of the tree before reporting the exit
    assert _gone(grandchild)


@pytest.mark.skipif(not hasattr(os, "sched_getaffinity"), reason="Linux CPU affinity")
def test_children_are_pinned_before_they_run():
    import threading

    from stmpo.children import ChildProcess

    lines, done = [], threading.Event()
    child = ChildProcess([sys.executable, "-c", "import os; print(sorted(os.sched_getaffinity(0)))"], cpus=(0,),
                         on_line=lambda stream, text: lines.append(text), on_exit=lambda code: done.set())
    child.start()
    assert done.wait(20)
    assert lines == ["[0]"]


def test_report_exit_codes_are_the_cli_exit_codes():
    from stmpo.frames import FrameSet
    from stmpo.report import RunReport

    def code(**kw):
        return RunReport(missing=FrameSet.from_frames([]), chunks=[], **kw).exit_code

    assert (code(ok=True), code(ok=False), code(ok=False, cancelled=True)) == (
        exitcodes.OK, exitcodes.RENDER_FAILED, exitcodes.CANCELLED)


def test_write_report_leaves_no_temporary_file_when_it_fails(tmp_path):
    from stmpo.report import write_report

    class Unserializable:
        def to_json(self):
            return {"frames": {1, 2}}  # a set: json.dump fails half-way

    with pytest.raises(TypeError):
        write_report(tmp_path / "report.json", Unserializable())  # type: ignore[arg-type]
    assert list(tmp_path.iterdir()) == []


def test_an_output_module_writing_another_format_is_not_retried(tmp_path, project, aerender_sim):
    """`x_[#####].exr` while the output module writes PNG: every retry would write PNG again (was: retried)."""
    report, out, log = render(tmp_path, project, aerender_sim, "1-4", 1, pattern="[compName]_[#####].exr",
                              retries=2)
    assert not report.ok and str(report.missing) == "1-4"
    data = json.loads((tmp_path / "report.json").read_text())
    assert data["failure_kind"] == "permanent" and data["launches"] == 1, log[-2000:]
    assert [f["reason"] for f in data["failures"]] == ["output-format"]
    assert "the file is PNG, not EXR" in data["failures"][0]["text"]
    assert not [p for p in out.iterdir() if not p.name.startswith(".aefarm-")]  # nothing at a final name
