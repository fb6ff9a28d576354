"""The aerender simulator (a test instrument): every behaviour through the real console script as a subprocess."""
from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
import zlib
from pathlib import Path

import psutil
import pytest

from aerender_sim import png as sim_png
from aerender_sim import worker as sim_worker
from aerender_sim.launcher import KnobError, UsageError, parse_args, read_knobs, render_request
from aerender_sim.png import read_frame_png
from engines.aftereffects.sample_project import write_sample_project

POSIX = os.name == "posix"
KNOBS = ["AERENDER_SIM_STARTUP", "AERENDER_SIM_FRAME_SECONDS", "AERENDER_SIM_COST_MAP", "AERENDER_SIM_BURN_CPU",
         "AERENDER_SIM_FPS", "AERENDER_SIM_HANG_AT_STARTUP", "AERENDER_SIM_HANG_AT_FRAME",
         "AERENDER_SIM_CRASH_AT_FRAME", "AERENDER_SIM_LICENSE_ERROR", "AERENDER_SIM_ERROR_EXIT0",
         "AERENDER_SIM_MISSING_FONT", "AERENDER_SIM_IGNORE_SIGTERM", "AERENDER_SIM_GRANDCHILD",
         "AERENDER_SIM_FAULT_ONCE", "AERENDER_SIM_RECORD", "AERENDER_SIM_NEWLINE", "AERENDER_SIM_ENCODING",
         "AERENDER_SIM_COMP_FRAMES", "FFMPEG"]
RENDER_LINE = re.compile(r"^PROGRESS:  (\d+:\d\d:\d\d:\d\d) \((\d+)\): (\d+ Seconds|\d+ Min, \d+ Sec|\d+ Hr, \d+ Min)$")


def sim_env(**knobs):
    env = {k: v for k, v in os.environ.items() if not k.startswith("AERENDER_SIM_")}
    env.update({f"AERENDER_SIM_{k}": str(v) for k, v in knobs.items()})
    return env


@pytest.fixture
def work(tmp_path):
    """A project whose one footage file exists, an output folder, and a render-queue folder."""
    footage = tmp_path / "plate.png"
    footage.write_bytes(b"x")
    (tmp_path / "seq").mkdir()
    (tmp_path / "out").mkdir()
    (tmp_path / "rq").mkdir()
    write_sample_project(tmp_path / "p.aepx", footage=[str(footage), str(tmp_path / "seq") + os.sep],
                         comps=["Main", "Titles é"], output_folder=str(tmp_path / "rq") + os.sep)
    return tmp_path


@pytest.fixture
def sim(aerender_sim, work):
    def run(*args, env=None, timeout=30, text=True):
        return subprocess.run([aerender_sim, *map(str, args)], capture_output=True, text=text, cwd=work,
                              env=env or sim_env(), timeout=timeout)
    return run


def frames_in(folder, pattern="*.png"):
    return sorted(Path(folder).glob(pattern))


def wait_for(predicate, timeout=20.0):
    """A safety net for polling (never a timing assertion): fail loudly instead of hanging the suite."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError("condition not reached in time")
        time.sleep(0.02)


def tree(pid):
    try:
        parent = psutil.Process(pid)
        return [parent] + parent.children(recursive=True)
    except psutil.NoSuchProcess:
        return []


def kill_group(proc):
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
    proc.wait(timeout=10)


# ---------------------------------------------------------------- the "done when" render

def test_renders_ten_valid_pngs_with_aerender_stdout(sim, work):
    proc = sim("-project", "p.aepx", "-comp", "Main", "-output", "out/f_[#####].png", "-s", 1, "-e", 10)
    assert proc.returncode == 0, proc.stdout
    files = frames_in(work / "out")
    assert [f.name for f in files] == [f"f_{n:05d}.png" for n in range(1, 11)]
    for n, f in enumerate(files, 1):
        assert read_frame_png(f) == {"frame": n, "project": "p.aepx", "comp": "Main", "missing_footage": False,
                                     "width": 64, "height": 36}
    lines = proc.stdout.split("\n")
    assert lines[:4] == ["aerender version 24.6x67", "PROGRESS: Launching After Effects...",
                         "PROGRESS: ...After Effects successfully launched",
                         "PROGRESS: Adding specified comp to Render Queue"]
    assert re.match(r'^PROGRESS:  \d+/\d+/\d{4} \d+:\d\d:\d\d [AP]M: Starting composition "Main"\.$', lines[4])
    assert "PROGRESS:  Start: 0:00:00:01" in lines and "PROGRESS:  Output To: out/f_[#####].png" in lines
    renders = [RENDER_LINE.match(line) for line in lines if RENDER_LINE.match(line)]
    assert [(m.group(1), int(m.group(2))) for m in renders] == [(f"0:00:00:{n:02d}", n) for n in range(1, 11)]
    assert re.match(r'^PROGRESS:  .* Finished composition "Main"\.$', lines[-4])
    assert lines[-2] == "PROGRESS:  Total Time Elapsed: 0 Seconds" and lines[-1] == ""


def test_missing_footage_fails_like_aerender(sim, work):
    write_sample_project(work / "bad.aepx", footage=["D:\\Projects\\x\\nm.png", str(work / "plate.png")])
    proc = sim("-project", "bad.aepx", "-comp", "Main", "-output", "out/f_[#####].png", "-s", 1, "-e", 10)
    assert proc.returncode == 1
    assert "After Effects error: Unable to Render: File Not Found D:\\Projects\\x\\nm.png" in proc.stdout.splitlines()
    assert frames_in(work / "out") == []


def test_sequence_folder_must_be_a_folder(sim, work):
    write_sample_project(work / "bad.aepx", footage=[str(work / "plate.png") + "/"])  # a file, flagged a folder
    proc = sim("-project", "bad.aepx", "-comp", "Main", "-output", "out/f_[#####].png", "-s", 1, "-e", 1)
    assert proc.returncode == 1 and f"File Not Found {work / 'plate.png'}" in proc.stdout


def test_continue_on_missing_footage_draws_color_bars(sim, work):
    write_sample_project(work / "bad.aepx", footage=["/no/such/plate.exr"])
    proc = sim("-project", "bad.aepx", "-comp", "Main", "-output", "out/f_[#####].png", "-s", 1, "-e", 2,
               "-continueOnMissingFootage")
    assert proc.returncode == 0
    assert "MISSING FOOTAGE, drawing color bars: File Not Found /no/such/plate.exr" in proc.stdout.splitlines()
    assert [read_frame_png(f)["missing_footage"] for f in frames_in(work / "out")] == [True, True]


# ---------------------------------------------------------------- flags and project errors

def test_unknown_comp(sim):
    proc = sim("-project", "p.aepx", "-comp", "Nope", "-output", "out/f_[#####].png")
    assert proc.returncode == 1
    assert "aerender ERROR: No comp was found with the given name." in proc.stdout.splitlines()


@pytest.mark.parametrize("args, message", [
    (["-project", "p.aepx", "-frobnicate"], "Unknown flag: -frobnicate"),
    (["-project", "p.aepx", "-v", "LOUD"], "-v must be one of"),
    (["-project", "p.aepx", "-mem_usage", "50"], "-mem_usage needs 2 arguments"),
    (["-project", "p.aepx", "-s", "x"], "-s needs an integer"),
    (["-project", "p.aepx", "-mfr", "ON", "0"], "-mfr is out of range"),
    (["-comp", "Main"], "No project file was specified"),
    (["-teamproject", "T", "-comp", "Main"], "-teamproject is not supported"),
])
def test_bad_flags_print_aerender_error_and_usage(sim, args, message):
    proc = sim(*args)
    assert proc.returncode == 1
    first = proc.stdout.splitlines()[0]
    assert first.startswith("aerender ERROR: ") and message in first
    assert "Usage: aerender-sim" in proc.stdout


def test_help_names_a_test_instrument_and_every_knob(sim):
    proc = sim("-help")
    assert proc.returncode == 0
    assert "TEST INSTRUMENT" in proc.stdout and "Adobe's aerender" in proc.stdout
    for knob in KNOBS:
        assert knob in proc.stdout, knob
    for flag in ("-project", "-teamproject", "-rqindex", "-RStemplate", "-OMtemplate", "-mem_usage", "-close",
                 "-sound", "-reuse", "-continueOnMissingFootage", "-mfr", "-log", "-i"):
        assert flag in proc.stdout
    assert sim().stdout == proc.stdout  # no arguments prints usage too


def test_version_and_module_entry_point(work):
    proc = subprocess.run([sys.executable, "-m", "aerender_sim.launcher", "-version"], capture_output=True, text=True,
                          cwd=work, env=sim_env())
    assert proc.returncode == 0 and proc.stdout == "aerender version 24.6x67\n"


def test_binary_and_missing_projects(sim, work):
    (work / "b.aep").write_bytes(b"RIFX\x00\x00\x10\x00Egg!" + b"\x00" * 64)
    proc = sim("-project", "b.aep", "-comp", "Main", "-output", "out/f_[#].png")
    assert proc.returncode == 1 and "aerender ERROR:" in proc.stdout and "binary .aep" in proc.stdout
    proc = sim("-project", "nope.aepx", "-comp", "Main", "-output", "out/f_[#].png")
    assert proc.returncode == 1 and "aerender ERROR: No project file found" in proc.stdout
    (work / "broken.aepx").write_text("<AfterEffectsProject><Fold>")
    proc = sim("-project", "broken.aepx", "-comp", "Main", "-output", "out/f_[#].png")
    assert proc.returncode == 1 and "damaged" in proc.stdout


def test_entities_are_not_resolved(sim, work):
    secret = work / "secret.txt"
    secret.write_text("TOPSECRET")
    (work / "xxe.aepx").write_text(
        f'<?xml version="1.0"?><!DOCTYPE r [<!ENTITY x SYSTEM "file://{secret}">]>'
        '<AfterEffectsProject xmlns="http://www.adobe.com/products/aftereffects"><Fold><Item>'
        '<idta bdata="0004"/><string>&x;</string></Item></Fold></AfterEffectsProject>')
    proc = sim("-project", "xxe.aepx", "-comp", "TOPSECRET", "-output", "out/f_[#].png", "-s", 0, "-e", 0)
    assert proc.returncode == 1 and "No comp was found" in proc.stdout


def test_missing_output_folder_is_an_error(sim, work):
    proc = sim("-project", "p.aepx", "-comp", "Main", "-output", "nowhere/f_[#####].png", "-s", 1, "-e", 2)
    assert proc.returncode == 1
    assert f"After Effects error: Unable to Render: the output folder does not exist: {work / 'nowhere'}" \
        in proc.stdout.splitlines()


# ---------------------------------------------------------------- outputs and frame ranges

def test_increment_and_hash_count(sim, work):
    proc = sim("-project", "p.aepx", "-comp", "Main", "-output", "out/x.[###].png", "-s", 0, "-e", 9, "-i", 3)
    assert proc.returncode == 0
    assert [f.name for f in frames_in(work / "out")] == ["x.000.png", "x.003.png", "x.006.png", "x.009.png"]
    counts = [m.group(2) for m in map(RENDER_LINE.match, proc.stdout.splitlines()) if m]
    assert counts == ["1", "2", "3", "4"]


def test_name_without_hashes_gets_frame_number_and_comp_name_expands(sim, work):
    proc = sim("-project", "p.aepx", "-comp", "Titles é", "-output", "out/[compName].png", "-s", 5, "-e", 6)
    assert proc.returncode == 0, proc.stdout
    assert [f.name for f in frames_in(work / "out")] == ["Titles é_00005.png", "Titles é_00006.png"]
    assert read_frame_png(work / "out" / "Titles é_00005.png")["comp"] == "Titles é"


def test_whole_render_queue_uses_the_queue_output(sim, work):
    proc = sim("-project", "p.aepx", "-s", 100, "-e", 200, env=sim_env(COMP_FRAMES=3))
    assert proc.returncode == 0, proc.stdout
    assert "Adding specified comp" not in proc.stdout
    assert [f.name for f in frames_in(work / "rq")] == ["Main_00000.png", "Main_00001.png", "Main_00002.png"]


def test_comp_without_output_uses_its_queue_item_or_fails(sim, work):
    proc = sim("-project", "p.aepx", "-comp", "Main", "-s", 7, "-e", 7)
    assert proc.returncode == 0 and [f.name for f in frames_in(work / "rq")] == ["Main_00007.png"]
    proc = sim("-project", "p.aepx", "-comp", "Titles é", "-s", 7, "-e", 7)
    assert proc.returncode == 1 and "aerender ERROR: No output file was specified" in proc.stdout


def test_rqindex_renders_queue_item_with_range(sim, work):
    proc = sim("-project", "p.aepx", "-rqindex", 1, "-s", 4, "-e", 5)
    assert proc.returncode == 0, proc.stdout
    assert [f.name for f in frames_in(work / "rq")] == ["Main_00004.png", "Main_00005.png"]
    assert sim("-project", "p.aepx", "-rqindex", 2).returncode == 1


@pytest.mark.parametrize("ext, codec", [("mov", "png"), ("mp4", "mpeg4"), ("avi", "mjpeg")])
def test_movies_have_one_video_frame_per_rendered_frame(sim, work, ext, codec):
    proc = sim("-project", "p.aepx", "-comp", "Main", "-output", f"out/m.{ext}", "-s", 3, "-e", 9,
               env=sim_env(FPS=25))
    assert proc.returncode == 0, proc.stdout
    assert [f.name for f in frames_in(work / "out", "*")] == [f"m.{ext}"]
    probe = subprocess.run(["ffprobe", "-v", "error", "-count_frames", "-select_streams", "v:0", "-show_entries",
                            "stream=nb_read_frames,codec_name,r_frame_rate", "-of", "json", str(work / "out" / f"m.{ext}")],
                           capture_output=True, text=True, check=True)
    stream = json.loads(probe.stdout)["streams"][0]
    assert stream["codec_name"] == codec and int(stream["nb_read_frames"]) == 7
    assert stream["r_frame_rate"] == "25/1"


# ---------------------------------------------------------------- stdout shape knobs and logs

def test_errors_only_hides_progress_and_log_has_no_prefix(sim, work):
    proc = sim("-project", "p.aepx", "-comp", "Main", "-output", "out/f_[#####].png", "-s", 1, "-e", 2,
               "-v", "ERRORS", "-log", "render.log", env=sim_env(MISSING_FONT=1))
    assert proc.returncode == 0
    assert proc.stdout.splitlines() == ["aerender version 24.6x67",
                                        "WARNING:After Effects warning: Project has missing fonts."]
    proc = sim("-project", "p.aepx", "-comp", "Main", "-output", "out/f_[#####].png", "-s", 1, "-e", 2,
               "-log", "render.log")
    log = (work / "render.log").read_text(encoding="utf-8").splitlines()
    assert "Launching After Effects..." in log and "0:00:00:01 (1): 0 Seconds" in log
    assert not any(line.startswith("PROGRESS:") for line in log)
    assert len(log) == len(proc.stdout.splitlines())


@pytest.mark.parametrize("newline, sep", [("crlf", b"\r\n"), ("cr", b"\r")])
def test_windows_line_ends_and_cp1252(sim, work, newline, sep):
    proc = sim("-project", "p.aepx", "-comp", "Titles é", "-output", "out/f_[#####].png", "-s", 1, "-e", 1,
               env=sim_env(NEWLINE=newline, ENCODING="cp1252"), text=False)
    assert proc.returncode == 0
    assert b'Starting composition "Titles \xe9".' + sep in proc.stdout
    lines = proc.stdout.split(sep)
    assert lines[-1] == b"" and all(b"\n" not in line and b"\r" not in line for line in lines)


def test_bad_knob_is_named(sim):
    proc = sim("-project", "p.aepx", env=sim_env(FPS="fast"))
    assert proc.returncode == 2 and "AERENDER_SIM_FPS" in proc.stderr


# ---------------------------------------------------------------- faults

def test_crash_at_frame_kills_worker_and_leaves_partial_frame(sim, work):
    record = work / "rec.jsonl"
    proc = sim("-project", "p.aepx", "-comp", "Main", "-output", "out/f_[#####].png", "-s", 1, "-e", 6,
               env=sim_env(CRASH_AT_FRAME=4, RECORD=record))
    assert proc.returncode != 0
    assert "aerender ERROR: After Effects quit unexpectedly" in proc.stdout
    assert [read_frame_png(work / "out" / f"f_{n:05d}.png")["frame"] for n in (1, 2, 3)] == [1, 2, 3]
    with pytest.raises(ValueError):
        read_frame_png(work / "out" / "f_00004.png")
    assert not (work / "out" / "f_00005.png").exists()
    (line,) = record.read_text().splitlines()
    rec = json.loads(line)
    assert rec["frames"] == [1, 2, 3] and rec["exit_code"] == proc.returncode
    assert rec["start"] == 1 and rec["end"] == 6 and rec["argv"][1:] == [
        "-project", "p.aepx", "-comp", "Main", "-output", "out/f_[#####].png", "-s", "1", "-e", "6"]
    assert rec["worker_pid"] != rec["launcher_pid"]


def test_fault_once_fires_only_in_the_first_invocation(sim, work):
    marker = work / "fault.marker"
    env = sim_env(CRASH_AT_FRAME=2, FAULT_ONCE=marker, RECORD=work / "rec.jsonl")
    args = ("-project", "p.aepx", "-comp", "Main", "-output", "out/f_[#####].png", "-s", 1, "-e", 3)
    assert sim(*args, env=env).returncode != 0 and marker.exists()
    assert sim(*args, env=env).returncode == 0
    records = [json.loads(x) for x in (work / "rec.jsonl").read_text().splitlines()]
    assert [r["frames"] for r in records] == [[1], [1, 2, 3]]
    assert [r["exit_code"] == 0 for r in records] == [False, True]


def test_error_line_but_exit_0(sim, work):
    proc = sim("-project", "p.aepx", "-comp", "Main", "-output", "out/f_[#####].png", "-s", 1, "-e", 5,
               env=sim_env(ERROR_EXIT0=3))
    assert proc.returncode == 0
    assert any(line.startswith("aerender Error: After Effects error:") for line in proc.stdout.splitlines())
    assert [f.name for f in frames_in(work / "out")] == ["f_00001.png", "f_00002.png"]


def test_license_error(sim, work):
    proc = sim("-project", "p.aepx", "-comp", "Main", "-output", "out/f_[#####].png", env=sim_env(LICENSE_ERROR=1))
    assert proc.returncode == 1 and "aerender ERROR: After Effects error: Unable to obtain a license" in proc.stdout
    assert "successfully launched" not in proc.stdout and frames_in(work / "out") == []


@pytest.mark.skipif(not POSIX, reason="process groups")
def test_hang_at_frame_is_silent_and_lines_are_flushed(aerender_sim, work):
    proc = subprocess.Popen([aerender_sim, "-project", "p.aepx", "-comp", "Main", "-output", "out/f_[#####].png",
                             "-s", "1", "-e", "5"], cwd=work, env=sim_env(HANG_AT_FRAME=3), stdout=subprocess.PIPE,
                            text=True, start_new_session=True)
    try:
        seen = []
        while not seen or "(2):" not in seen[-1]:
            seen.append(proc.stdout.readline())
            assert seen[-1], "stdout closed early"
        assert proc.poll() is None  # the line arrived while the render is still running: flushed per line
        assert [f.name for f in frames_in(work / "out")] == ["f_00001.png", "f_00002.png"]
    finally:
        kill_group(proc)


@pytest.mark.skipif(not POSIX, reason="process groups")
def test_killing_the_process_group_leaves_no_process(aerender_sim, work):
    proc = subprocess.Popen([aerender_sim, "-project", "p.aepx", "-comp", "Main", "-output", "out/f_[#####].png",
                             "-s", "1", "-e", "1000"], cwd=work, env=sim_env(GRANDCHILD=1, FRAME_SECONDS=0.05),
                            stdout=subprocess.DEVNULL, start_new_session=True)
    try:
        wait_for(lambda: (work / "out" / "f_00001.png").exists())
        procs = tree(proc.pid)
        cmdlines = [" ".join(p.cmdline()) for p in procs]
        assert len(procs) == 3 and "aerender_sim.worker" in cmdlines[1] and "aerender-sim-grandchild" in cmdlines[2]
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=10)
        gone, alive = psutil.wait_procs(procs, timeout=10)
        assert alive == []
    finally:
        kill_group(proc)


@pytest.mark.skipif(not POSIX, reason="signals")
def test_ignore_sigterm_needs_sigkill(aerender_sim, work):
    proc = subprocess.Popen([aerender_sim, "-project", "p.aepx", "-comp", "Main", "-output", "out/f_[#####].png"],
                            cwd=work, env=sim_env(IGNORE_SIGTERM=1, HANG_AT_STARTUP=1), stdout=subprocess.PIPE,
                            text=True, start_new_session=True)
    try:
        assert proc.stdout.readline() == "aerender version 24.6x67\n"
        wait_for(lambda: len(tree(proc.pid)) == 2)
        procs = tree(proc.pid)
        os.killpg(proc.pid, signal.SIGTERM)
        gone, alive = psutil.wait_procs(procs, timeout=0.5)
        assert len(alive) == 2  # both ignored SIGTERM
        os.killpg(proc.pid, signal.SIGKILL)
        gone, alive = psutil.wait_procs(procs, timeout=10)
        assert alive == []
    finally:
        kill_group(proc)


@pytest.mark.skipif(not POSIX, reason="signals")
def test_sigkill_of_launcher_orphans_a_worker_that_keeps_rendering(aerender_sim, work):
    record = work / "rec.jsonl"
    proc = subprocess.Popen([aerender_sim, "-project", "p.aepx", "-comp", "Main", "-output", "out/f_[#####].png",
                             "-s", "1", "-e", "8"], cwd=work, env=sim_env(FRAME_SECONDS=0.1, RECORD=record),
                            stdout=subprocess.PIPE, start_new_session=True)
    try:
        wait_for(lambda: (work / "out" / "f_00001.png").exists())
        launcher, worker = tree(proc.pid)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)
        proc.stdout.close()
        assert worker.is_running()
        worker.wait(timeout=20)  # the orphan finishes the whole range on its own
        assert [read_frame_png(f)["frame"] for f in frames_in(work / "out")] == list(range(1, 9))
        (line,) = record.read_text().splitlines()
        rec = json.loads(line)
        assert rec["orphaned"] is True and rec["exit_code"] is None and rec["worker_pid"] == worker.pid
        assert rec["launcher_pid"] == launcher.pid and rec["frames"][-1] == 8
    finally:
        kill_group(proc)  # the worker is still in the launcher's process group


def test_cost_map_and_burn_cpu_units():
    knobs = read_knobs({"AERENDER_SIM_COST_MAP": '{"181-240": 0.25, "7": 2, "1-9x2": 0.5}',
                        "AERENDER_SIM_FRAME_SECONDS": "0.1"})
    cost = [sim_worker.frame_cost(f, knobs["frame_seconds"], knobs["cost_map"]) for f in (181, 240, 241, 7, 3, 4)]
    assert cost == [0.25, 0.25, 0.1, 2.0, 0.5, 0.1]
    for bad in ('{"a-b": 1}', '{"5-1": 1}', '[1]', '{"1": -1}'):
        with pytest.raises(KnobError):
            read_knobs({"AERENDER_SIM_COST_MAP": bad})
    before = time.process_time()
    sim_worker.spend(0.05, burn=False)
    slept = time.process_time() - before
    before = time.process_time()
    sim_worker.spend(0.05, burn=True)
    burned = time.process_time() - before
    assert burned > slept


def test_timecodes_and_elapsed_text():
    assert sim_worker.timecode(0, 24) == "0:00:00:00"
    assert sim_worker.timecode(24 * 3661 + 5, 24) == "1:01:01:05"
    assert sim_worker.timecode(1800, 29.97) == "0;01;00;02"  # drop-frame skips ;00 and ;01 each minute
    assert sim_worker.timecode(17982, 29.97) == "0;10;00;00"
    assert [sim_worker.elapsed_text(s) for s in (0, 59.9, 62, 94500)] == [
        "0 Seconds", "59 Seconds", "1 Min, 2 Sec", "26 Hr, 15 Min"]


def test_parse_args_units():
    found = parse_args(["-project", "p", "-comp", "A", "-s", "-5", "-e", "3", "-mfr", "ON", "90"])
    request = render_request(found)
    assert (request["start"], request["end"], request["increment"]) == (-5, 3, 1)
    for bad in (["-project", "p", "-s", "1", "-s", "2"], ["-project", "p", "-comp", "A", "-rqindex", "1"],
                ["-project", "p", "-s", "5", "-e", "1"], ["-project", "p", "-i", "0"], ["-project"]):
        with pytest.raises(UsageError):
            render_request(parse_args(bad))


# ---------------------------------------------------------------- PNG frames

def test_png_reader_checks_signature_crc_and_completeness(tmp_path):
    data = sim_png.frame_png(42, "shot ü.aepx", "Main & co")
    path = tmp_path / "f.png"
    path.write_bytes(data)
    assert read_frame_png(path)["frame"] == 42 and read_frame_png(path)["project"] == "shot ü.aepx"
    # the CRC of every chunk matches an independent computation
    pos = 8
    while pos < len(data):
        length = int.from_bytes(data[pos:pos + 4], "big")
        body = data[pos + 4:pos + 8 + length]
        assert zlib.crc32(body) == int.from_bytes(data[pos + 8 + length:pos + 12 + length], "big")
        pos += 12 + length
    for broken in (data[:-1], data[: len(data) // 2], b"GIF89a" + data[6:], data + b"junk",
                   data[:40] + bytes([data[40] ^ 1]) + data[41:]):
        path.write_bytes(broken)
        with pytest.raises(ValueError):
            read_frame_png(path)


def test_frames_are_written_progressively(tmp_path, monkeypatch):
    path = tmp_path / "f.png"
    seen = []

    def look(_seconds):
        seen.append(path.exists())
        with pytest.raises(ValueError):
            read_frame_png(path)

    monkeypatch.setattr(sim_worker.time, "sleep", look)
    sim_worker.write_frame_file(str(path), sim_png.frame_png(1, "p.aepx", "Main"), 0.01)
    assert seen == [True] and read_frame_png(path)["frame"] == 1


def test_frames_differ_visibly():
    a = sim_png.frame_pixels(1, "p.aepx", "Main")
    b = sim_png.frame_pixels(2, "p.aepx", "Main")
    c = sim_png.frame_pixels(1, "q.aepx", "Main")
    assert a != b and a != c
