"""The simulator (a test instrument) records in each frame what the comp used: the footage its layers show and
the data files its expressions read, each with its content's SHA-256, and its layer names."""
from __future__ import annotations

import hashlib
import os
import subprocess

from aerender_sim.png import BAND_ROWS, WIDTH, decode_png, read_frame_sources, sources_colour
from aerender_sim.project import comp_sources, load_project
from engines.aftereffects.sample_project import LayerSpec, write_sample_project


def test_frames_record_the_footage_and_data_the_comp_used(tmp_path, aerender_sim):
    for name, data in (("shown.png", b"photo"), ("data.json", b'{"a": 1}'), ("unused.png", b"not used")):
        (tmp_path / name).write_bytes(data)
    project = write_sample_project(
        tmp_path / "p.aepx", footage=[str(tmp_path / n) for n in ("shown.png", "data.json", "unused.png")],
        layers=[LayerSpec("Photo", source=0), LayerSpec("Reader", expressions=('footage("data.json").sourceData',)),
                LayerSpec("Title", text="x", expressions=("thisLayer.name",))])
    sources = comp_sources(load_project(str(project)), "Main")
    used = {f["name"]: f for f in sources["footage"]}
    assert used["shown.png"]["sha256"] == hashlib.sha256(b"photo").hexdigest()
    assert used["data.json"]["sha256"] == hashlib.sha256(b'{"a": 1}').hexdigest()
    assert {"Photo", "Reader", "Title"} <= set(sources["layers"])
    out = tmp_path / "out"
    out.mkdir()
    proc = subprocess.run([aerender_sim, "-project", str(project), "-comp", "Main", "-output",
                           str(out / "f_[#####].png"), "-s", "1", "-e", "1"], capture_output=True, text=True,
                          env=dict(os.environ, AERENDER_SIM_FRAME_SECONDS="0"), timeout=60)
    assert proc.returncode == 0, proc.stdout
    recorded = read_frame_sources(out / "f_00001.png")
    assert recorded == sources
    info = decode_png((out / "f_00001.png").read_bytes())
    raw, row = info["raw"], BAND_ROWS[0]
    start = row * (1 + WIDTH * 3) + 1
    assert tuple(raw[start:start + 3]) == sources_colour(sources)  # the band shows the sources' colour


def test_a_comp_without_footage_records_none(tmp_path):
    project = write_sample_project(tmp_path / "p.aepx")
    assert comp_sources(load_project(str(project)), "Main")["footage"] == []
