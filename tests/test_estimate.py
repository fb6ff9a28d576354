"""The render history (stmpo.history) and the estimates made from it (stmpo.estimate, `aefarm estimate`)."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from watch_helpers import faulty_report

from stmpo import estimate as est
from stmpo import history
from stmpo.scheduler_types import split_even

HOST = {"name": "node", "cpus": 2}


def record(frames, concurrency=2, seconds=0.2, startup=0.5, tail=0.1, comp="Main", project_hash="h", wall=0.0,
           cpus=2, name="shot.aepx"):
    return history.RenderRecord(
        project_hash=project_hash, project_name=name, comp=comp, rqindex=None, frames=f"{frames[0]}-{frames[-1]}",
        frame_count=len(frames), concurrency=concurrency, host={"name": "node", "cpus": cpus}, wall=wall,
        ok=wall > 0, frame_seconds={f: seconds for f in frames}, startups=[startup] * concurrency,
        tails=[tail] * concurrency, invocations=concurrency)


# ------------------------------------------------------------------------------------------------ history file
def test_history_round_trip_and_unreadable_lines_are_skipped(tmp_path):
    path = tmp_path / "h" / "renders.jsonl"
    first = record(list(range(1, 9)))
    history.append(first, path)
    with open(path, "a", encoding="utf-8") as handle:
        handle.write('{"v": 1, "truncated\n')
        handle.write(json.dumps({"v": 99, "project_hash": "x"}) + "\n")
    history.append(record(list(range(9, 13)), comp="Other"), path)
    loaded = history.load(path)
    assert [r.comp for r in loaded] == ["Main", "Other"]
    assert loaded[0].frame_seconds == first.frame_seconds and loaded[0].host == first.host


def test_history_compacts_to_the_newest_records(tmp_path, monkeypatch):
    monkeypatch.setattr(history, "MAX_RECORDS", 3)
    path = tmp_path / "renders.jsonl"
    for i in range(8):
        history.append(record([1, 2], comp=f"c{i}"), path)
    comps = [r.comp for r in history.load(path)]
    assert len(comps) <= 6 and comps[-1] == "c7" and comps == sorted(comps, key=lambda c: int(c[1:]))
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]


def test_concurrent_appends_from_processes_lose_no_record(tmp_path):
    path = tmp_path / "renders.jsonl"
    code = ("import sys; from stmpo import history; from tests_record import make; "
            "[history.append(make(int(sys.argv[1]) * 100 + i), __import__('pathlib').Path(sys.argv[2])) "
            "for i in range(20)]")
    helper = tmp_path / "tests_record.py"
    helper.write_text("from stmpo import history\n"
                      "def make(i):\n"
                      "    return history.RenderRecord(project_hash='h', project_name='p', comp=str(i), rqindex=None,"
                      " frames='1-400', frame_count=400, concurrency=2, host={}, wall=1.0, ok=True,"
                      " frame_seconds={f: 0.1 for f in range(1, 401)}, startups=[0.5], tails=[0.1])\n")
    env = {**os.environ, "PYTHONPATH": f"{tmp_path}{os.pathsep}{os.environ.get('PYTHONPATH', '')}"}
    procs = [subprocess.Popen([sys.executable, "-c", code, str(n), str(path)], env=env) for n in range(3)]
    assert [p.wait(timeout=120) for p in procs] == [0, 0, 0]
    comps = sorted(int(r.comp) for r in history.load(path))
    assert comps == sorted(n * 100 + i for n in range(3) for i in range(20))


def test_record_from_a_report_keeps_frame_times_startups_and_the_outcome():
    rec = history.record_from_report(faulty_report(), project_hash="abc", project_name="shot.aepx", comp="Main",
                                     rqindex=None, host=HOST, options={"schedule": "dynamic"})
    assert rec is not None and rec.project_hash == "abc" and rec.concurrency == 2 and rec.ok
    assert sorted(rec.frame_seconds) == list(range(1, 9))
    assert len(rec.startups) == 4 and rec.wall == pytest.approx(8.2)
    assert len(rec.tails) == 1  # only invocations that ended well have a meaningful exit time


def test_project_hash_changes_with_the_bytes(tmp_path):
    a = tmp_path / "a.aepx"
    a.write_bytes(b"<xml/>")
    first = history.project_hash(a)
    a.write_bytes(b"<xml />")
    assert history.project_hash(a) != first and len(first) == 64


# ------------------------------------------------------------------------------------------------ the model
def test_frame_costs_use_timed_frames_then_the_nearest_ones():
    costs = est.FrameCosts({1: 1.0, 2: 1.0, 3: 1.0, 100: 5.0}, scale=2.0)
    assert costs(2) == 2.0
    assert costs(4) == pytest.approx(2.0 * (1.0 * 3 + 5.0) / 4)  # 4 timed frames, fewer than NEAREST
    far = est.FrameCosts({f: 1.0 for f in range(1, 21)} | {f: 3.0 for f in range(200, 221)})
    assert far(230) == 3.0 and far(0) == 1.0


@pytest.mark.parametrize("mode", ["static", "dynamic"])
@pytest.mark.parametrize("frames, slots", [(24, 2), (25, 4), (7, 3)])
def test_simulation_of_even_frames_matches_the_equal_split(mode, frames, slots):
    cost, startup, tail = 0.2, 0.5, 0.1
    longest = max(len(part) for part in split_even(list(range(1, frames + 1)), slots))
    seconds = est.simulate(range(1, frames + 1), slots, lambda f: cost, startup, tail, min_chunk=2, mode=mode)
    assert seconds == pytest.approx(startup + longest * cost + tail, abs=0.25)


def test_simulation_runs_the_real_scheduler_which_steals_from_a_slow_chunk():
    cost = lambda f: 1.0 if f <= 10 else 0.1  # noqa: E731 - the first half is ten times slower
    static = est.simulate(range(1, 21), 2, cost, 0.2, 0.0, mode="static")
    dynamic = est.simulate(range(1, 21), 2, cost, 0.2, 0.0, mode="dynamic")
    assert static == pytest.approx(0.2 + 10.0, abs=0.05)
    # the idle slot steals frames 9-10 once the victim's rate is measured (its second frame verified at 3.2 s):
    # the victim renders 1-8 and is stopped after frame 9's line proves frame 8 (0.2 + 9 x 1.0 s) + the kill
    assert dynamic == pytest.approx(0.2 + 9.0 + est.KILL_LATENCY, abs=0.01)


def test_simulation_pays_a_startup_per_invocation_for_stepped_frames():
    stepped = est.simulate([1, 3, 5, 7], 1, lambda f: 0.1, 1.0, 0.0)
    together = est.simulate([1, 3, 5, 7], 1, lambda f: 0.1, 1.0, 0.0, use_increment=True)
    assert stepped == pytest.approx(4 * 1.1, abs=0.05) and together == pytest.approx(1.4, abs=0.05)


def test_matching_prefers_the_same_project_bytes_then_the_same_comp_name():
    records = [record([1, 2], project_hash="old"), record([1, 2], project_hash="new", comp="Other"),
               record([1, 2], project_hash="other", name="another.aepx")]
    found, how, notes = est.matching(records, "new", "shot.aepx", "Main", None)
    assert how == "comp" and [r.project_hash for r in found] == ["old"] and notes
    found, how, _ = est.matching(records, "old", "shot.aepx", "Main", None)
    assert how == "project" and len(found) == 1
    assert est.matching(records, "x", "unknown.aepx", "Main", None)[1] == ""


def test_no_history_no_estimate():
    assert est.estimate([], range(1, 10), 2, project_hash="h", project_name="p", comp="Main") is None
    assert est.estimate([record([1, 2], comp="B")], range(1, 10), 2, project_hash="h", project_name="shot.aepx",
                        comp="Main") is None


def test_contention_is_fitted_from_two_concurrencies_and_gives_a_best_concurrency():
    frames = list(range(1, 41))
    records = [record(frames, concurrency=1, seconds=1.0, startup=2.0, cpus=8),
               record(frames, concurrency=4, seconds=1.0 * 4 ** 0.5, startup=2.0, cpus=8)]
    result = est.estimate(records, frames, 2, project_hash="h", project_name="shot.aepx", comp="Main", cpus=8,
                          best_of=8)
    assert result is not None and result.exponent == pytest.approx(0.5, abs=0.01)
    assert result.frame_seconds == pytest.approx(2 ** 0.5, rel=0.01)
    # wall(n) ~ 2 + 40 * n**0.5 / n: falls with n, so the most children win
    assert result.best is not None and result.best["concurrency"] == 8
    single = est.estimate(records[:1], frames, 2, project_hash="h", project_name="shot.aepx", comp="Main", cpus=8,
                          best_of=8)
    assert single is not None and single.best is None and any("two or more" in n for n in single.notes)


def test_calibration_adds_what_the_model_misses():
    frames = list(range(1, 21))
    plain = record(frames, concurrency=2, seconds=0.2, startup=0.5, tail=0.1)
    simulated = est.simulate(frames, 2, lambda f: 0.2, 0.5, 0.1)
    slow = record(frames, concurrency=2, seconds=0.2, startup=0.5, tail=0.1, wall=simulated + 1.0)
    base = est.estimate([plain], range(21, 41), 2, project_hash="h", project_name="shot.aepx", comp="Main")
    calibrated = est.estimate([slow], range(21, 41), 2, project_hash="h", project_name="shot.aepx", comp="Main")
    assert base is not None and calibrated is not None
    assert calibrated.overhead == pytest.approx(1.0, abs=0.05)
    assert calibrated.seconds - base.seconds == pytest.approx(1.0, abs=0.05)


def test_eta_moves_from_history_to_the_measured_rate():
    assert est.eta_seconds(0.0, 0, 100, 50.0) == (50.0, "history")
    eta, source = est.eta_seconds(10.0, 50, 100, 50.0)  # half done: half history (40 s), half rate (10 s)
    assert source == "history+rate" and eta == pytest.approx(25.0)
    assert est.eta_seconds(10.0, 50, 100, None) == (pytest.approx(10.0), "rate")
    assert est.eta_seconds(10.0, 0, 100, None) == (None, "")
    assert est.eta_seconds(10.0, 100, 100, None)[0] == 0.0


def test_format_seconds():
    assert est.format_seconds(4.24) == "4.2s"
    assert est.format_seconds(125) == "2m 05s"
    assert est.format_seconds(3723) == "1h 02m 03s"
    assert est.format_seconds(None) == "-"


# ------------------------------------------------------------------------------------------------ the command
def test_estimate_command_without_history_says_so(aefarm, tmp_path):
    project = tmp_path / "shot.aepx"
    project.write_text("<xml/>")
    env = {**os.environ, "AEFARM_STATE_DIR": str(tmp_path / "state")}
    proc = aefarm("estimate", project, "--comp", "Main", "--frames", "1-10", env=env, check=0)
    assert proc.stdout.startswith("estimate: no render history for comp Main of shot.aepx")
    proc = aefarm("estimate", project, "--comp", "Main", "--frames", "1-10", "--json", env=env, check=0)
    assert json.loads(proc.stdout)["estimate"] is None


@pytest.mark.parametrize("args, words", [
    (["missing.aepx", "--comp", "Main", "--frames", "1-10"], "project not found"),
    (["PROJECT", "--comp", "Main", "--frames", "1-x"], "1-x"),
    (["PROJECT", "--comp", "Main", "--frames", "1-10", "--concurrency", "0"], "--concurrency"),
    (["PROJECT", "--comp", "Main", "--frames", "1-10", "--history", "nope.jsonl"], "nope.jsonl"),
])
def test_estimate_command_bad_input(aefarm, tmp_path, args, words):
    project = tmp_path / "shot.aepx"
    project.write_text("<xml/>")
    args = [str(project) if a == "PROJECT" else a for a in args]
    proc = aefarm("estimate", *args, cwd=tmp_path, check=2)
    assert words in proc.stderr and proc.stderr.count("\n") == 1 and not proc.stdout


# ------------------------------------------------------------------------------------------------ accuracy
@pytest.mark.slow
def test_estimate_from_simulator_history_is_within_15_percent_of_a_new_range(aefarm, tmp_path, monkeypatch,
                                                                              aerender_sim):
    """History of two simulator renders of frames 1-16; `aefarm estimate` for 17-46, then that render, measured."""
    from engines.aftereffects.job import Job
    from engines.aftereffects.render import render_job
    from engines.aftereffects.sample_project import write_sample_project
    from stmpo.frames import FrameSet
    from stmpo.plan import PlanSettings
    from stmpo.progress import make_reporter
    from stmpo.settings import RunOptions
    from stmpo.writer import OutputWriter

    state = tmp_path / "state"
    monkeypatch.setenv("AEFARM_STATE_DIR", str(state))
    project = write_sample_project(tmp_path / "shot.aepx")
    out = tmp_path / "out"
    out.mkdir()
    sim_env = {"AERENDER_SIM_FRAME_SECONDS": "0.2"}

    def render(spec: str) -> float:
        job = Job(project=project, output=str(out / "[compName]_[#####].png"), frames=FrameSet.parse(spec),
                  comp="Main", aerender=aerender_sim, env=sim_env, settings=PlanSettings(concurrency=2, mfr=False,
                                                                                         ram_per_child_gb=0.5),
                  options=RunOptions(startup_timeout=60.0, stall_timeout=60.0, kill_grace=1.0))
        writer = OutputWriter(open(os.devnull, "w"))
        reporter = make_reporter("log", writer, len(job.frames))
        began = time.monotonic()
        try:
            result = render_job(job, reporter, handle_signals=False)
        finally:
            reporter.close()
            writer.close()
        assert result.ok, result.summary
        return time.monotonic() - began

    render("1-16")
    render("1-16")
    assert len(history.load()) == 2
    proc = aefarm("estimate", project, "--comp", "Main", "--frames", "17-46", "--concurrency", "2", "--json",
                  env={**os.environ, "AEFARM_STATE_DIR": str(state)}, check=0)
    predicted = json.loads(proc.stdout)["estimate"]
    assert predicted["runs"] == 2 and predicted["match"] == "project" and predicted["concurrency"] == 2
    measured = render("17-46")
    error = abs(predicted["seconds"] - measured) / measured
    print(f"predicted {predicted['seconds']:.2f} s, measured {measured:.2f} s, error {100 * error:.1f} %")
    assert error <= 0.15, (predicted, measured)


def test_history_lock_timeout_never_fails_the_caller_silently(tmp_path, monkeypatch):
    from filelock import FileLock, Timeout

    path = tmp_path / "renders.jsonl"
    monkeypatch.setattr(history, "LOCK_TIMEOUT", 0.2)
    holder = FileLock(str(path) + ".lock")
    held = threading.Event()
    release = threading.Event()

    def hold() -> None:
        with holder:
            held.set()
            release.wait(10)

    thread = threading.Thread(target=hold)
    thread.start()
    held.wait(10)
    try:
        with pytest.raises(Timeout):
            history.append(record([1, 2]), path)
    finally:
        release.set()
        thread.join()
    assert not Path(path).exists() or history.load(path) == []


def test_estimate_checks_the_comp_when_the_project_can_be_read(tmp_path, capsys):
    """An unknown comp said "no render history ... render it once" (exit 0): now exit 2 naming the closest comps,
    and frames outside the comp are a warning; a project that cannot be read is estimated by name as before."""
    from engines.aftereffects.cli import main
    from engines.aftereffects.sample_project import write_sample_project

    project = write_sample_project(tmp_path / "p.aepx")
    history_file = tmp_path / "h.jsonl"
    history_file.write_text("")
    base = ["estimate", str(project), "--history", str(history_file)]
    assert main(base + ["--comp", "main", "--frames", "1-10"]) == 2
    out, err = capsys.readouterr()
    assert out == "" and err.count("\n") == 1 and "comp 'main' not found" in err and "closest: 'Main'" in err
    assert main(base + ["--comp", "Main", "--frames", "1-10"]) == 0
    out, err = capsys.readouterr()
    assert "no render history" in out and err == ""
    assert main(base + ["--comp", "Main", "--frames", "1-99999"]) == 0
    out, err = capsys.readouterr()
    assert "estimate: warning: frames " in err and "are outside comp 'Main'" in err
    assert main(base + ["--rqindex", "9", "--frames", "1-10"]) == 2
    capsys.readouterr()
    binary = tmp_path / "b.aep"
    binary.write_bytes(b"RIFX\x00\x00\x00\x20Egg!LIST" + bytes(32))
    assert main(["estimate", str(binary), "--history", str(history_file), "--comp", "X", "--frames", "1-10"]) == 0
