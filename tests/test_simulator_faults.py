"""The simulator's issue-11 fault knobs (a test instrument), each tested directly against `aerender-sim`.

Every knob stands for a documented real aerender behaviour (docs/formats.md §7) that the executor must survive; these
tests pin what the simulator does so the executor's tests can rely on it.
"""
from __future__ import annotations

import json
import os
import signal
import subprocess

import psutil
import pytest
import test_simulator as base
from test_simulator import frames_in, kill_group, sim_env, tree, wait_for

from aerender_sim.png import read_frame_png
from stmpo.lines import AeWarning, FatalError, FrameRendered, LineSplitter, parse_line, timecode_to_frame

POSIX = os.name == "posix"
work = base.work  # the fixtures of tests/test_simulator.py: a project with footage and output folders, a runner
sim = base.sim
ARGS = ("-project", "p.aepx", "-comp", "Main", "-output", "out/f_[#####].png", "-s", 1, "-e", 3)
NEW_KNOBS = ["AERENDER_SIM_MISSING_EFFECT", "AERENDER_SIM_MISSING_FOOTAGE_WARNING", "AERENDER_SIM_PARTIAL_LAST_FRAME",
             "AERENDER_SIM_NO_LAST_LINE", "AERENDER_SIM_HANG_AFTER_FINISH", "AERENDER_SIM_LAUNCHER_EXIT_AT_LAST_FRAME",
             "AERENDER_SIM_LAUNCHER_EXIT_AFTER", "AERENDER_SIM_WORKER_SETSID", "AERENDER_SIM_ANOTHER_INSTANCE",
             "AERENDER_SIM_FIELDS", "AERENDER_SIM_LANGUAGE", "AERENDER_SIM_INCREMENT"]


def run_detached(aerender_sim, work, *args, env):
    """Run until the LAUNCHER exits: stderr is not captured, because an orphaned worker keeps the launcher's
    stderr open (a captured stderr would wait for the worker too)."""
    return subprocess.run([aerender_sim, *map(str, args)], cwd=work, env=env, stdout=subprocess.PIPE,
                          stderr=subprocess.DEVNULL, text=True, timeout=60)


def whole(path):
    try:
        read_frame_png(path)
        return True
    except (ValueError, OSError):
        return False


def events(stdout):
    return [parse_line(line) for line in stdout.splitlines()]


def records(work):
    return [json.loads(x) for x in (work / "rec.jsonl").read_text().splitlines()]


def test_help_documents_every_new_knob(sim):
    text = sim("-help").stdout
    for knob in NEW_KNOBS:
        assert knob in text, knob


@pytest.mark.parametrize("env,message", [
    ({"FIELDS": "X"}, "AERENDER_SIM_FIELDS"), ({"PARTIAL_LAST_FRAME": "-1"}, "AERENDER_SIM_PARTIAL_LAST_FRAME"),
    ({"LANGUAGE": "fr"}, "AERENDER_SIM_LANGUAGE"), ({"MISSING_FONT": "serif"}, "AERENDER_SIM_MISSING_FONT"),
    ({"LAUNCHER_EXIT_AFTER": "soon"}, "AERENDER_SIM_LAUNCHER_EXIT_AFTER"), ({"NO_LAST_LINE": "2"}, "NO_LAST_LINE"),
    ({"INCREMENT": "skip"}, "AERENDER_SIM_INCREMENT"),
])
def test_bad_new_knobs_are_named(sim, env, message):
    proc = sim(*ARGS, env=sim_env(**env))
    assert proc.returncode == 2 and message in proc.stderr


# ------------------------------------------------------------------------------------------ the last frame

def test_partial_last_frame_with_its_line_and_exit_0(sim, work):
    proc = sim(*ARGS, env=sim_env(PARTIAL_LAST_FRAME=8))
    assert proc.returncode == 0
    assert [e.index for e in events(proc.stdout) if isinstance(e, FrameRendered)] == [1, 2, 3]
    assert "Finished composition" in proc.stdout and "Total Time Elapsed" in proc.stdout
    assert [whole(work / "out" / f"f_{n:05d}.png") for n in (1, 2, 3)] == [True, True, False]
    assert (work / "out" / "f_00003.png").stat().st_size == 8


def test_no_progress_line_for_the_last_frame(sim, work):
    proc = sim(*ARGS, env=sim_env(NO_LAST_LINE=1))
    assert proc.returncode == 0
    assert [e.index for e in events(proc.stdout) if isinstance(e, FrameRendered)] == [1, 2]
    assert "Finished composition" in proc.stdout
    assert all(whole(work / "out" / f"f_{n:05d}.png") for n in (1, 2, 3))


def test_both_together_is_the_issue_case(sim, work):
    proc = sim(*ARGS, env=sim_env(NO_LAST_LINE=1, PARTIAL_LAST_FRAME=8))
    assert proc.returncode == 0 and "(3)" not in proc.stdout
    assert not whole(work / "out" / "f_00003.png")


@pytest.mark.skipif(not POSIX, reason="process groups")
def test_hang_after_finish_prints_the_finish_lines_and_never_exits(aerender_sim, work):
    proc = subprocess.Popen([aerender_sim, *map(str, ARGS)], cwd=work, env=sim_env(HANG_AFTER_FINISH=1),
                            stdout=subprocess.PIPE, text=True, start_new_session=True)
    try:
        seen = []
        while not seen or "Total Time Elapsed" not in seen[-1]:
            seen.append(proc.stdout.readline())
            assert seen[-1], "stdout closed before the finish lines"
        assert any("Finished composition" in line for line in seen)
        assert all(whole(work / "out" / f"f_{n:05d}.png") for n in (1, 2, 3))
        with pytest.raises(subprocess.TimeoutExpired):
            proc.wait(timeout=1.5)  # finished, and still there
        assert len(tree(proc.pid)) == 2  # launcher and worker both linger
    finally:
        kill_group(proc)


@pytest.mark.skipif(not POSIX, reason="process groups")
def test_launcher_exits_0_while_the_worker_writes_the_last_frame(aerender_sim, work):
    proc = run_detached(aerender_sim, work, *ARGS, env=sim_env(LAUNCHER_EXIT_AT_LAST_FRAME=3,
                                                               RECORD=work / "rec.jsonl"))
    assert proc.returncode == 0
    assert [e.index for e in events(proc.stdout) if isinstance(e, FrameRendered)] == [1, 2]
    assert "Finished composition" not in proc.stdout
    (launcher_record,) = records(work)
    worker = psutil.Process(launcher_record["worker_pid"])
    assert worker.is_running()                       # the launcher is gone, its worker is not
    assert not whole(work / "out" / "f_00003.png")   # and the last frame is not whole yet
    worker.wait(timeout=30)
    assert whole(work / "out" / "f_00003.png")       # the orphan completes it on its own
    assert records(work)[-1]["orphaned"] is True and records(work)[-1]["frames"] == [1, 2, 3]


@pytest.mark.skipif(not POSIX, reason="setsid")
def test_worker_that_leaves_its_group_and_is_orphaned_quickly(aerender_sim, work):
    proc = run_detached(aerender_sim, work, "-project", "p.aepx", "-comp", "Main", "-output", "out/f_[#####].png",
                        "-s", 1, "-e", 6, env=sim_env(WORKER_SETSID=1, LAUNCHER_EXIT_AFTER=0, FRAME_SECONDS=0.1,
                                                      RECORD=work / "rec.jsonl"))
    assert proc.returncode == 0
    (launcher_record,) = records(work)
    worker = psutil.Process(launcher_record["worker_pid"])
    try:
        assert os.getsid(worker.pid) == worker.pid != os.getsid(0)  # its own session, not the test's
        assert os.getpgid(worker.pid) == worker.pid      # its own group: killing the launcher's group misses it
        assert worker.ppid() != launcher_record["launcher_pid"]  # re-parented
        worker.wait(timeout=30)
        assert [read_frame_png(f)["frame"] for f in frames_in(work / "out")] == [1, 2, 3, 4, 5, 6]
        assert records(work)[-1]["orphaned"] is True
    finally:
        if worker.is_running():
            worker.kill()


@pytest.mark.skipif(not POSIX, reason="process groups")
def test_a_setsid_worker_survives_a_kill_of_the_launchers_group(aerender_sim, work):
    proc = subprocess.Popen([aerender_sim, "-project", "p.aepx", "-comp", "Main", "-output", "out/f_[#####].png",
                             "-s", "1", "-e", "500"], cwd=work, env=sim_env(WORKER_SETSID=1, FRAME_SECONDS=0.05),
                            stdout=subprocess.DEVNULL, start_new_session=True)
    worker = None
    try:
        wait_for(lambda: len(tree(proc.pid)) == 2)
        worker = tree(proc.pid)[1]
        wait_for(lambda: os.getpgid(worker.pid) == worker.pid)
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)
        assert worker.is_running()
    finally:
        kill_group(proc)
        if worker is not None and worker.is_running():
            worker.kill()
            worker.wait(timeout=10)


# ------------------------------------------------------------------------------------------ warnings and errors

@pytest.mark.parametrize("wording,text", [
    ("1", "WARNING:After Effects warning: logged one error  error: Unable to Render: File Not Found "),
    ("missing", "WARNING:After Effects warning: missing footage "),
    ("cannot", "WARNING:After Effects warning: Cannot find the file "),
    ("pt", "WARNING:Aviso do After Effects: registrado um erro"),
])
def test_missing_footage_only_as_a_warning_and_frames_rendered_anyway(sim, work, wording, text):
    proc = sim(*ARGS, env=sim_env(MISSING_FOOTAGE_WARNING=wording))
    assert proc.returncode == 0
    lines = proc.stdout.splitlines()
    warning = next(i for i, line in enumerate(lines) if line.startswith(text))
    assert str(work / "plate.png") in lines[warning]
    assert warning > next(i for i, line in enumerate(lines) if "Total Time Elapsed" in line)
    assert isinstance(parse_line(lines[warning]), AeWarning)
    assert not any(isinstance(e, FatalError) for e in events(proc.stdout))
    assert [read_frame_png(f)["missing_footage"] for f in frames_in(work / "out")] == [True, True, True]


@pytest.mark.parametrize("knob,value,text", [
    ("MISSING_FONT", "1", "WARNING:After Effects warning: Project has missing fonts."),
    ("MISSING_FONT", "grouped", "Font family: Bebas"),
    ("MISSING_FONT", "pt", "WARNING:Aviso do After Effects: O projeto tem fontes ausentes."),
    ("MISSING_EFFECT", "1", "WARNING:After Effects warning: The effect \u201cDeep Glow\u201d is missing."),
    ("MISSING_EFFECT", "plugin", "could not be loaded"),
])
def test_font_and_effect_warning_wordings(sim, work, knob, value, text):
    proc = sim(*ARGS, env=sim_env(**{knob: value}))
    assert proc.returncode == 0 and text in proc.stdout
    assert len(frames_in(work / "out")) == 3


def test_another_instance_of_aerender(sim, work):
    proc = sim(*ARGS, env=sim_env(ANOTHER_INSTANCE=1))
    assert proc.returncode == 1
    assert "aerender ERROR: After Effects can not render for aerender. Another instance of aerender" in proc.stdout
    assert frames_in(work / "out") == []


# ------------------------------------------------------------------------------------------ frame lines, locales

@pytest.mark.parametrize("field", ["U", "L"])
def test_field_rendered_frame_lines(sim, field):
    proc = sim(*ARGS, env=sim_env(FIELDS=field))
    frames = [e for e in events(proc.stdout) if isinstance(e, FrameRendered)]
    assert [(e.index, e.field) for e in frames] == [(1, field), (2, field), (3, field)]
    assert f"(1{field}): " in proc.stdout


def test_drop_frame_timecodes(sim):
    proc = sim("-project", "p.aepx", "-comp", "Main", "-output", "out/f_[#####].png", "-s", 1798, "-e", 1801,
               env=sim_env(FPS=29.97, COMP_FRAMES=2000))
    frames = [e for e in events(proc.stdout) if isinstance(e, FrameRendered)]
    assert [e.timecode for e in frames] == ["0;00;59;28", "0;00;59;29", "0;01;00;02", "0;01;00;03"]
    assert [timecode_to_frame(e.timecode, 29.97) for e in frames] == [1798, 1799, 1800, 1801]


def test_portuguese_errors_and_date_stamps(sim, work):
    (work / "plate.png").unlink()
    proc = sim(*ARGS, env=sim_env(LANGUAGE="pt"))
    assert proc.returncode == 1
    line = next(x for x in proc.stdout.splitlines() if "plate.png" in x)
    assert line.startswith("aerender Error: Erro do After Effects:") and isinstance(parse_line(line), FatalError)
    (work / "plate.png").write_bytes(b"x")
    ok = sim(*ARGS, env=sim_env(LANGUAGE="pt"))
    started = next(x for x in ok.stdout.splitlines() if "Starting composition" in x)
    assert started[len("PROGRESS:  "):][2] == "/" and started[len("PROGRESS:  "):][5] == "/"  # dd/mm/yyyy
    assert parse_line(started).stamp.count(":") == 2


def test_chinese_errors_in_the_ansi_code_page_arrive_as_mojibake(sim, work):
    (work / "plate.png").unlink()
    proc = sim(*ARGS, env=sim_env(LANGUAGE="zh", ENCODING="cp936"), text=False)
    assert proc.returncode == 1
    raw = next(x for x in proc.stdout.split(b"\n") if b"plate.png" in x)
    with pytest.raises(UnicodeDecodeError):
        raw.decode("utf-8")
    (line,) = LineSplitter().feed(raw + b"\n")
    assert "\u9519\u8bef" not in line and line.startswith("aerender Error: After Effects ")  # mojibake
    assert isinstance(parse_line(line), FatalError)
    no_comp = sim("-project", "p.aepx", "-comp", "Nope", "-output", "out/f_[#####].png",
                  env=sim_env(LANGUAGE="zh", ENCODING="cp936"), text=False)
    assert no_comp.stdout.splitlines()[-1].startswith(b"aerender ERROR: ")


# ------------------------------------------------------------------------------------------ once

@pytest.mark.parametrize("knob,value,first_fails", [
    ("PARTIAL_LAST_FRAME", "8", lambda p, w: not whole(w / "out" / "f_00003.png")),
    ("NO_LAST_LINE", "1", lambda p, w: "(3):" not in p.stdout),
    ("MISSING_FOOTAGE_WARNING", "1", lambda p, w: "File Not Found" in p.stdout),
    ("MISSING_FONT", "1", lambda p, w: "missing fonts" in p.stdout),
    ("MISSING_EFFECT", "1", lambda p, w: "is missing" in p.stdout),
    ("ANOTHER_INSTANCE", "1", lambda p, w: p.returncode == 1),
])
def test_new_faults_fire_once(sim, work, knob, value, first_fails):
    env = sim_env(**{knob: value, "FAULT_ONCE": work / "once.marker"})
    first = sim(*ARGS, env=env)
    assert first_fails(first, work) and (work / "once.marker").exists()
    for f in frames_in(work / "out"):
        f.unlink()
    second = sim(*ARGS, env=env)
    assert second.returncode == 0 and not first_fails(second, work)
    assert all(whole(f) for f in frames_in(work / "out")) and len(frames_in(work / "out")) == 3


@pytest.mark.skipif(not POSIX, reason="process groups")
def test_hang_after_finish_and_launcher_exits_fire_once(aerender_sim, sim, work):
    marker = work / "once.marker"
    proc = subprocess.Popen([aerender_sim, *map(str, ARGS)], cwd=work, env=sim_env(HANG_AFTER_FINISH=1,
                            FAULT_ONCE=marker), stdout=subprocess.PIPE, text=True, start_new_session=True)
    try:
        while "Total Time Elapsed" not in proc.stdout.readline():
            pass
        wait_for(marker.exists)  # the hang fired (it is decided just after that line)
    finally:
        kill_group(proc)
    assert sim(*ARGS, env=sim_env(HANG_AFTER_FINISH=1, FAULT_ONCE=marker), timeout=30).returncode == 0
    marker2 = work / "once2.marker"
    env = sim_env(LAUNCHER_EXIT_AT_LAST_FRAME=0.2, FAULT_ONCE=marker2)
    assert "(3):" not in run_detached(aerender_sim, work, *ARGS, env=env).stdout
    assert "(3):" in run_detached(aerender_sim, work, *ARGS, env=env).stdout


# ------------------------------------------------------------------------------------------ -i semantics
@pytest.mark.parametrize("semantics,numbers", [
    ("comp", [1, 4, 7]), ("consecutive", [1, 2, 3]), ("repeat", [1, 2, 3, 4, 5, 6, 7]), ("", [1, 4, 7])])
def test_increment_file_numbering(sim, work, semantics, numbers):
    """-s 1 -e 7 -i 3 renders comp frames 1, 4, 7 (three progress lines, ordinals 1-3) under every semantics; only
    the file numbers differ, and under repeat every copy holds its rendered frame's image."""
    proc = sim("-project", "p.aepx", "-comp", "Main", "-output", "out/f_[#####].png", "-s", 1, "-e", 7, "-i", 3,
               env=sim_env(INCREMENT=semantics, COMP_FRAMES=10))
    assert proc.returncode == 0, proc.stderr
    lines = [e for e in events(proc.stdout) if isinstance(e, FrameRendered)]
    assert [e.index for e in lines] == [1, 2, 3]
    assert [timecode_to_frame(e.timecode, 24) for e in lines] == [1, 4, 7]
    assert [int(p.stem.split("_")[-1]) for p in frames_in(work / "out")] == numbers
    if semantics == "repeat":
        assert read_frame_png(work / "out" / "f_00005.png")["frame"] == 4
    if semantics == "consecutive":
        assert read_frame_png(work / "out" / "f_00002.png")["frame"] == 4
