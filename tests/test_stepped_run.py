"""Stepped frame ranges through the real executor and the simulator's three `-i` numberings (issue 14)."""
from __future__ import annotations

import json

import pytest
from test_run import assert_frames, project, records, render  # noqa: F401 - the fixture and helpers

pytestmark = pytest.mark.slow


@pytest.fixture(autouse=True)
def state_dir(tmp_path, monkeypatch):
    """Each test its own memory of what aerender did (never the suite's shared state folder)."""
    folder = tmp_path / "state"
    monkeypatch.setenv("AEFARM_STATE_DIR", str(folder))
    return folder


def stepped_render(tmp_path, project, aerender_sim, semantics, spec="1-23x2", children=2, **opts):
    rec = tmp_path / f"rec-{semantics}-{len(list(tmp_path.glob('rec-*')))}.jsonl"
    env = {"AERENDER_SIM_RECORD": str(rec), "AERENDER_SIM_INCREMENT": semantics, "AERENDER_SIM_COMP_FRAMES": "60"}
    report, out, log = render(tmp_path, project, aerender_sim, spec, children, env=env, **opts)
    data = json.loads((tmp_path / "report.json").read_text())
    return report, out, log, records(rec), data


def stepped(runs):
    return [r for r in runs if "-i" in r["argv"]]


@pytest.mark.parametrize("semantics", ["comp", "consecutive", "repeat"])
def test_every_semantics_delivers_every_frame_right(tmp_path, project, aerender_sim, semantics, state_dir):
    report, out, log, runs, data = stepped_render(tmp_path, project, aerender_sim, semantics)
    assert report.ok, log
    frames = list(range(1, 24, 2))
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
            assert len(runs) == 2  # one -i invocation per child
    memory = json.loads((state_dir / "stepped.json").read_text())
    assert memory["versions"]["aerender version 24.6x67"]["numbering"] == info["numbering"]
