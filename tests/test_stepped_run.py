"""Stepped frame ranges through the real executor and the simulator's three `-i` numberings (issue 14)."""
from __future__ import annotations

import json

import pytest
from test_run import assert_frames, records, render

from aerender_sim.png import read_frame_png
from engines.aftereffects.sample_project import write_sample_project
from stmpo.frames import FrameSet

pytestmark = pytest.mark.slow


@pytest.fixture
def project(tmp_path):
    return write_sample_project(tmp_path / "shot.aepx")


@pytest.fixture(autouse=True)
def state_dir(tmp_path, monkeypatch):
    """Each test its own memory of what aerender did (never the suite's shared state folder)."""
    folder = tmp_path / "state"
    monkeypatch.setenv("AEFARM_STATE_DIR", str(folder))
    return folder


def stepped_render(tmp_path, project, aerender_sim, semantics, spec="1-23x2", children=2, env_extra=None, **opts):
    rec = tmp_path / f"rec-{semantics}-{len(list(tmp_path.glob('rec-*')))}.jsonl"
    env = {"AERENDER_SIM_RECORD": str(rec), "AERENDER_SIM_INCREMENT": semantics, "AERENDER_SIM_COMP_FRAMES": "60",
           **(env_extra or {})}
    report, out, log = render(tmp_path, project, aerender_sim, spec, children, env=env, **opts)
    data = json.loads((tmp_path / "report.json").read_text())
    return report, out, log, records(rec), data


def stepped(runs):
    return [r for r in runs if "-i" in r["argv"]]


@pytest.mark.parametrize("semantics,spec,children", [
    ("comp", "1-23x2", 2), ("consecutive", "1-23x2", 2), ("repeat", "1-23x2", 2),
    ("comp", "1-46x5", 3), ("consecutive", "1-46x5", 3), ("repeat", "1-46x5", 3)])
def test_every_semantics_delivers_every_frame_right(tmp_path, project, aerender_sim, semantics, spec, children,
                                                    state_dir):
    report, out, log, runs, data = stepped_render(tmp_path, project, aerender_sim, semantics, spec, children)
    assert report.ok, log
    frames = list(FrameSet.parse(spec))
    assert_frames(out, frames)  # each file holds its own comp frame's image
    assert sorted(int(p.stem.split("_")[-1]) for p in out.glob("*.png")) == frames  # no repeat left behind
    assert data["launches"] == len(runs)
    wasted = [r for r in stepped(runs) if semantics == "consecutive"]
    assert len(wasted) <= 1
    info = data["stepped"]
    assert info["option"] == "auto" and info["invocations"]["increment"] == len(stepped(runs))
    if semantics == "consecutive":
        assert info["numbering"] == "consecutive" and "falling back" in info["why"]
        assert info["invocations"]["per-frame"] >= 1
        assert log.count("numbered the files consecutively") == 1  # said once
    else:
        assert info["numbering"] == ("comp-frame" if semantics == "comp" else "repeat")
        assert len(runs) == len(stepped(runs)) and info["invocations"]["per-frame"] == 0  # nothing per frame
        if semantics == "comp":
            assert len(runs) == children  # one -i invocation per child
    memory = json.loads((state_dir / "stepped.json").read_text())
    assert memory["versions"]["aerender version 24.6x67"]["numbering"] == info["numbering"]


def test_later_runs_choose_at_once_from_the_memory(tmp_path, project, aerender_sim, state_dir):
    stepped_render(tmp_path, project, aerender_sim, "consecutive", "1-11x2", 2)
    report, out, log, runs, data = stepped_render(tmp_path, project, aerender_sim, "consecutive", "1-11x2", 2)
    assert report.ok, log
    assert_frames(out, range(1, 12, 2))
    assert not stepped(runs) and len(runs) == 6  # per frame straight away: nothing wasted this time
    assert data["stepped"]["remembered"] and "remembered" in data["stepped"]["why"]
    assert data["stepped"]["ran"] == "per-frame" and data["launches"] == 6


def test_a_remembered_comp_numbering_needs_no_probe(tmp_path, project, aerender_sim, state_dir):
    stepped_render(tmp_path, project, aerender_sim, "comp", "1-11x2", 2)
    report, out, log, runs, data = stepped_render(tmp_path, project, aerender_sim, "comp", "1-11x2", 2)
    assert report.ok and data["stepped"]["remembered"] and data["stepped"]["numbering"] == "comp-frame"
    assert len(stepped(runs)) == len(runs) == 2


@pytest.mark.parametrize("opts,minus_i", [({"use_increment": True}, True), ({"stepped": "per-frame"}, False),
                                          ({"stepped": "per-frame", "use_increment": True}, False)])
def test_the_old_use_increment_still_works(tmp_path, project, aerender_sim, opts, minus_i):
    report, out, log, runs, data = stepped_render(tmp_path, project, aerender_sim, "comp", "1-7x2", 1, **opts)
    assert report.ok, log
    assert bool(stepped(runs)) == minus_i and len(runs) == (1 if minus_i else 4)
    assert data["stepped"]["option"] == ("increment" if minus_i else "per-frame")


def test_a_thief_takes_the_back_of_a_stepped_chunk_as_one_invocation(tmp_path, project, aerender_sim):
    # frames 1-29x2 split into two chunks; the second chunk's frames are slow, so the first slot steals its back
    cost = json.dumps({"31-59": 0.25})
    report, out, log, runs, data = stepped_render(tmp_path, project, aerender_sim, "comp", "1-59x2", 2,
                                                  min_chunk=1, env_extra={"AERENDER_SIM_COST_MAP": cost})
    assert report.ok, log
    assert_frames(out, range(1, 60, 2))
    victims = [c for c in data["chunks"] if c["stolen_after"] is not None]
    assert victims, "nothing was stolen"
    initial = {c["chunk"]: set(FrameSet.parse(c["frames"])) for c in data["chunks"]}
    thieves = [c for c in data["chunks"] if any(initial[c["chunk"]] <= initial[v["chunk"]] for v in victims
                                                if v["chunk"] != c["chunk"])]
    assert thieves
    for thief in thieves:
        first = thief["invocations"][0]
        assert "-i" in first["argv"] and first["argv"][first["argv"].index("-i") + 1] == "2"
        assert FrameSet.parse(first["frames"]) == FrameSet.parse(thief["frames"])  # the whole back part at once
    assert data["stepped"]["invocations"]["per-frame"] == 0


@pytest.mark.parametrize("flags,expect", [((), "-s 1 -e 7 -i 2"), (("--stepped", "per-frame"), "-s 1 -e 1"),
                                          (("--use-increment",), "-s 1 -e 7 -i 2")])
def test_dry_run_shows_the_stepped_command_lines(aefarm, project, aerender_sim, tmp_path, flags, expect):
    out = tmp_path / "out"
    proc = aefarm("render", project, "--comp", "Main", "--output", out / "[compName]_[#####].png", "--frames",
                  "1-15x2", "--concurrency", "2", "--aerender", aerender_sim, "--dry-run", *flags, check=0)
    commands = [line for line in proc.stdout.splitlines() if line.startswith("  ") and aerender_sim in line]
    assert expect in commands[0] and "stepped frames:" in proc.stdout
    assert ("-i" in commands[0].split()) == ("-i" in expect.split())
    assert not out.exists()


def test_a_crash_inside_a_stepped_invocation_is_retried_and_proven(tmp_path, project, aerender_sim):
    once = tmp_path / "once"
    report, out, log, runs, data = stepped_render(
        tmp_path, project, aerender_sim, "comp", "1-15x2", 1,
        env_extra={"AERENDER_SIM_CRASH_AT_FRAME": "9", "AERENDER_SIM_FAULT_ONCE": str(once)})
    assert report.ok, log
    assert_frames(out, range(1, 16, 2))
    first = data["chunks"][0]["invocations"][0]
    # 7 had its line and its whole file (closed: the tree exited); the half-written 9 had no line: never delivered
    assert FrameSet.parse(first["delivered"]) == FrameSet.parse("1-7x2")
    assert data["stepped"]["numbering"] == "comp-frame" and data["stepped"]["fallback_invocations"] == 0
    assert all("-i" in r["argv"] for r in runs)  # the retry is a stepped invocation again


@pytest.mark.parametrize("semantics", ["consecutive", "repeat"])
def test_a_pool_of_stepped_targets_under_each_numbering(tmp_path, aerender_sim, monkeypatch, semantics):
    from test_pool import job_for, pool_run

    monkeypatch.setenv("AERENDER_SIM_INCREMENT", semantics)
    jobs = [job_for(tmp_path, "a", "0-6x3", aerender_sim), job_for(tmp_path, "b", "1-9x2", aerender_sim),
            job_for(tmp_path, "c", "20-21", aerender_sim)]
    report, executor, log = pool_run(tmp_path, jobs, 2)
    assert report.ok, log[-3000:]
    for job in jobs:
        folder = tmp_path / job.output.split("/")[-2]
        assert sorted(p.name for p in folder.iterdir()) == [f"Main_{f:05d}.png" for f in job.frames]
        for f in job.frames:
            assert read_frame_png(folder / f"Main_{f:05d}.png")["frame"] == f
    data = report.to_json()
    increments = [inv for c in data["chunks"] for inv in c["invocations"] if "-i" in inv["argv"]]
    if semantics == "consecutive":
        assert len(increments) == 1 and data["stepped"]["numbering"] == "consecutive"  # one wasted, then per frame
    else:
        assert data["stepped"]["invocations"]["per-frame"] == 0 and data["stepped"]["numbering"] == "repeat"
