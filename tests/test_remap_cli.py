"""`aefarm remap` and `aefarm scan` through the real command line (one line per error, exit codes)."""
from __future__ import annotations

import json

from remap_helpers import file_references, masked, parse_safely

from engines.aftereffects.sample_project import sample_project_text, write_sample_project


def test_remap_writes_output_and_report(aefarm, tmp_path):
    src = write_sample_project(tmp_path / "shot.aepx", footage=["P:\\JOB\\a b.png", "/Volumes/x/y.png"],
                               output_folder="P:\\renders\\")
    before = src.read_bytes()
    out = tmp_path / "out" / "shot_linux.aepx"
    report = tmp_path / "report.json"
    proc = aefarm("remap", src, "-o", out, "--map", "P:\\=/mnt/p", "--to-os", "linux", "--report", report,
                  check=0)
    assert proc.stdout == f"{out}\n"
    assert "mapped 2 reference(s)" in proc.stderr
    assert "no rule maps '/Volumes/x/y.png'" not in proc.stderr  # POSIX path on a linux target is not foreign
    data = json.loads(report.read_text(encoding="utf-8"))
    assert data["replaced"] == 2 and data["output"] == str(out) and data["kind"] == "aepx"
    assert src.read_bytes() == before
    result = out.read_bytes()
    assert masked(result) == masked(before)
    assert [p for _, p, _ in file_references(parse_safely(result))] == \
        ["/mnt/p/JOB/a b.png", "/Volumes/x/y.png", "/mnt/p/renders"]


def test_remap_deterministic_name_is_reused(aefarm, tmp_path):
    src = write_sample_project(tmp_path / "shot.aepx", footage=["P:\\a.png"])
    first = aefarm("remap", src, "--out-dir", tmp_path / "conv", "--map", "P:\\=/mnt/p", "--to-os", "windows",
                   check=0)
    second = aefarm("remap", src, "--out-dir", tmp_path / "conv", "--map", "p:/=/mnt/p", "--to-os", "windows",
                    check=0)
    assert first.stdout == second.stdout and first.stdout.startswith(str(tmp_path / "conv" / "shot.remap-"))
    assert "reused earlier conversion" in second.stderr


def test_remap_bad_input_is_one_line_exit_2_and_no_output(aefarm, tmp_path):
    src = tmp_path / "broken.aepx"
    src.write_text(sample_project_text(footage=["P:\\a.png"])[:300], encoding="utf-8")
    proc = aefarm("remap", src, "--map", "P:\\=/mnt/p", check=2)
    assert proc.stderr.count("\n") == 1 and "Traceback" not in proc.stderr
    assert "truncated XML: CDATA section at byte" in proc.stderr
    assert [p.name for p in tmp_path.iterdir()] == ["broken.aepx"]
    proc = aefarm("remap", src, check=2)  # no rules at all
    assert "needs mapping rules" in proc.stderr
    proc = aefarm("remap", src, "--map", "relative=/x", check=2)  # the rules owner's validation, one line
    assert proc.stderr.count("\n") == 1


def test_scan_json_and_strict(aefarm, tmp_path):
    there = tmp_path / "there.png"
    there.write_bytes(b"x")
    src = write_sample_project(tmp_path / "shot.aepx", footage=[str(there), "P:\\gone.png"])
    proc = aefarm("scan", src, "--json", check=0)
    data = json.loads(proc.stdout)
    assert [(r["raw"], r["exists"]) for r in data["references"]] == [(str(there), True), ("P:\\gone.png", False)]
    assert data["foreign"] == ["P:\\gone.png"]
    proc = aefarm("scan", src, "--strict", "--map", f"P:\\={tmp_path}", check=3)
    assert f"{tmp_path}/gone.png" in proc.stderr and "MISSING" in proc.stdout
    (tmp_path / "gone.png").write_bytes(b"x")
    proc = aefarm("scan", src, "--strict", "--map", f"P:\\={tmp_path}", check=0)
    assert "(--map #1)" in proc.stdout


def test_remapped_project_renders_with_the_simulator(aefarm, aerender_sim, tmp_path):
    """Done-when of issue 4: Windows/UNC/macOS footage mapped to this host's prefixes is all found by a render."""
    import subprocess

    local = tmp_path / "mnt"
    (local / "p" / "JOB").mkdir(parents=True)
    (local / "p" / "JOB" / "a.png").write_bytes(b"x")
    (local / "fs" / "plates" / "sh010").mkdir(parents=True)
    (local / "vol" / "Ünï &amp").mkdir(parents=True)
    (local / "vol" / "Ünï &amp" / "c.mov").write_bytes(b"x")
    (tmp_path / "out").mkdir()
    src = write_sample_project(tmp_path / "shot.aepx", footage=[
        "P:\\JOB\\a.png", "\\\\fileserver\\projects\\plates\\sh010\\", "/Volumes/projects/Ünï &amp/c.mov"])
    rules = ["--map", f"P:\\={local / 'p'}", "--map", f"\\\\fileserver\\projects={local / 'fs'}",
             "--map", f"/Volumes/projects={local / 'vol'}"]
    render = [aerender_sim, "-comp", "Main", "-s", "0", "-e", "1", "-output", tmp_path / "out" / "f_[#####].png"]
    before = subprocess.run([*map(str, render), "-project", str(src)], capture_output=True, text=True,
                            timeout=60)
    assert before.returncode != 0 and "File Not Found" in before.stdout + before.stderr
    converted = aefarm("remap", src, "-o", tmp_path / "linux.aepx", *rules, check=0).stdout.strip()
    after = subprocess.run([*map(str, render), "-project", converted], capture_output=True, text=True,
                           timeout=60)
    assert after.returncode == 0, after.stdout + after.stderr
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["f_00000.png", "f_00001.png"]
    assert masked((tmp_path / "linux.aepx").read_bytes()) == masked(src.read_bytes())


def test_render_says_what_the_remap_did(aefarm, tmp_path, aerender_sim):
    """A reused copy claimed "0 paths mapped"; a binary .aep claimed it was written (it is used as it is)."""
    import os

    project = write_sample_project(tmp_path / "p.aepx", footage=["P:\\a.png", "P:\\b.png"])
    env = dict(os.environ, AEFARM_WORK_DIR=str(tmp_path / "work"))
    base = ["--comp", "Main", "--frames", "1", "--aerender", aerender_sim, "--progress", "log", "--map",
            "P:\\=/mnt/p", "--continue-on-missing-footage"]
    first = aefarm("render", project, "--output", tmp_path / "o1" / "x_[####].png", *base, env=env, check=0)
    assert "remap: mapped 2 reference(s) in aepx -> " in first.stdout
    second = aefarm("render", project, "--output", tmp_path / "o2" / "x_[####].png", *base, env=env, check=0)
    reused = [line for line in second.stdout.splitlines() if line.startswith("remap: ")]
    assert len(reused) == 1 and reused[0].startswith("remap: reused earlier conversion ")
    assert "0 " not in reused[0].split(".aepx", 1)[1]  # no count is claimed for a reused copy
    aep = tmp_path / "real.aep"
    aep.write_bytes(b"RIFX\x00\x00\x00\x20Egg!LIST" + bytes(32))
    proc = aefarm("render", aep, "--output", tmp_path / "o3" / "x_[####].png", *base, env=env)
    said = [line for line in proc.stdout.splitlines() if line.startswith("remap: ")]
    assert said == [f"remap: binary .aep needs no mapping; use it as it is: {aep}"], proc.stdout


def test_a_binary_project_without_rifx_header_gets_the_save_as_aepx_advice(aefarm, tmp_path):
    src = tmp_path / "bin.aep"
    src.write_bytes(b"XXXX\x00\x00\x00\x00Egg!" + bytes(32))
    proc = aefarm("remap", src, "--map", "P:\\=/mnt/p", check=2)
    assert proc.stderr.count("\n") == 1 and "save it as .aepx" in proc.stderr, proc.stderr
    assert "not a text file" not in proc.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bin.aep"]
