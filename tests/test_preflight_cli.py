"""Issue 12 as a new user meets it: every mistake the project file reveals ends before any aerender starts, with one
line and exit 2, and nothing written; `aefarm info` shows what the project holds; image sequences travel whole."""
from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
import yaml

from aefarm_common import exitcodes
from aerender_sim.png import read_frame_png
from engines.aftereffects.sample_project import CompSpec, QueueSpec, write_sample_project

FIXTURES = Path(__file__).parent / "fixtures" / "aeproject"
needs_posix = pytest.mark.skipif(os.name != "posix", reason="the node in these scenarios is a POSIX machine")


def tree(folder: Path) -> dict:
    return {str(p.relative_to(folder)): (p.stat().st_size if p.is_file() else None) for p in folder.rglob("*")}


@pytest.fixture
def studio(tmp_path):
    """A project with a 2-item render queue, two comps named alike and one other; a private work folder."""
    root = tmp_path / "studio"
    root.mkdir()
    comps = ["Main", "Titles", CompSpec("Shot", duration_frames=48), "Shot"]
    project = write_sample_project(root / "shot.aepx", comps=comps,
                                   queue=[QueueSpec("Main", output_folder="/renders/"), QueueSpec(2)])
    work = tmp_path / "work"
    record = tmp_path / "launches.jsonl"
    env = dict(os.environ, AEFARM_WORK_DIR=str(work), AERENDER_SIM_RECORD=str(record),
               AERENDER_SIM_FRAME_SECONDS="0.01")
    return {"root": root, "project": project, "work": work, "record": record, "env": env, "tmp": tmp_path}


def refused(aefarm, studio, *args, words=()):
    """Run in the studio folder; assert exit 2, one stderr line with ``words``, no launch, nothing written."""
    before = tree(studio["tmp"])
    proc = aefarm(*args, env=studio["env"], cwd=studio["root"])
    assert proc.returncode == exitcodes.BAD_INPUT, proc.stdout + proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in proc.stderr, proc.stderr
    for word in words:
        assert word in lines[0], lines[0]
    assert not studio["record"].exists(), "aerender was launched"
    assert tree(studio["tmp"]) == before, "something was written"
    return lines[0]


RENDER = ("render", "shot.aepx", "--output", "out/[compName]_[#####].png", "--frames", "1-3", "--aerender",
          "aerender-sim", "--concurrency", "1")


def test_comp_typo_names_the_closest_comp(aefarm, studio):
    refused(aefarm, studio, *RENDER, "--comp", "Mian", words=("comp 'Mian' not found", "closest: 'Main'"))


def test_rqindex_out_of_range(aefarm, studio):
    refused(aefarm, studio, *RENDER, "--rqindex", "7",
            words=("--rqindex 7 is out of range", "has 2 items (1: 'Main', 2: 'Shot')"))


def test_rqindex_on_an_empty_render_queue(aefarm, studio):
    write_sample_project(studio["root"] / "empty.aepx", comps=["Main"])
    refused(aefarm, studio, "render", "empty.aepx", *RENDER[2:], "--rqindex", "1", words=("is empty", "--comp"))


def test_two_comps_with_one_name_in_render_bundle_and_submit(aefarm, studio):
    words = ("comp 'Shot' is ambiguous", "2 comps have that name")
    refused(aefarm, studio, *RENDER, "--comp", "Shot", words=words)
    refused(aefarm, studio, "deadline", "bundle", "shot.aepx", "--comp", "Shot", "--frames", "1-10", "--output-dir",
            str(studio["tmp"] / "frames"), "-o", "bundle", words=words)
    refused(aefarm, studio, "accsyn", "submit", "shot.aepx", "--comp", "Shot", "--frames", "1-10", "--output",
            "/renders", "--engine", "ae", "--dry-run", words=words)
    refused(aefarm, studio, "deadline", "bundle", "shot.aepx", "--rqindex", "3", "--frames", "1-10", "--output-dir",
            str(studio["tmp"] / "frames"), "-o", "bundle", words=("--rqindex 3 is out of range",))


@needs_posix
def test_a_windows_output_on_linux_is_refused_not_written_to_the_current_folder(aefarm, studio):
    """Was: exit 0 and files literally named 'D:\\renders\\shot_00001.png' in the working directory."""
    refused(aefarm, studio, *RENDER[:2], "--comp", "Main", "--output", "D:\\renders\\shot_[#####].png",
            *RENDER[4:], words=("'D:\\renders\\shot_[#####].png' is a Windows path", "no mapping rule"))


@needs_posix
def test_a_windows_output_is_mapped_through_the_rules(aefarm, studio):
    renders = studio["tmp"] / "renders"
    proc = aefarm(*RENDER[:2], "--comp", "Main", "--output", "D:\\renders\\shot_[#####].png", *RENDER[4:],
                  "--map", f"D:\\renders={renders}", "--progress", "log", env=studio["env"], cwd=studio["root"])
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "preflight: warning: --output 'D:\\renders\\shot_[#####].png' mapped to" in proc.stdout
    assert [read_frame_png(renders / f"shot_{f:05d}.png")["frame"] for f in (1, 2, 3)] == [1, 2, 3]
    assert sorted(p.name for p in studio["root"].iterdir()) == ["shot.aepx"]  # nothing beside the input
    assert len(list((studio["work"] / "converted").glob("shot.remap-*.aepx"))) == 1  # the per-user work folder


@needs_posix
def test_a_usage_error_leaves_no_converted_copy(aefarm, studio):
    """Was: the converted project was written beside the input before the request was checked."""
    refused(aefarm, studio, *RENDER, "--comp", "Mian", "--map", "P:\\show=/mnt/show", words=("Mian",))
    assert not studio["work"].exists()


@needs_posix
def test_footage_missing_after_mapping(aefarm, studio, tmp_path):
    write_sample_project(studio["root"] / "win.aepx", footage=["P:\\show\\plate.png"])
    refused(aefarm, studio, "render", "win.aepx", *RENDER[2:], "--comp", "Main", "--map",
            f"P:\\show={tmp_path / 'nowhere'}", words=("footage item missing on this node after mapping",
                                                       "P:\\show\\plate.png -> "))


def test_dry_run_prints_the_findings(aefarm, studio):
    proc = aefarm(*RENDER, "--comp", "Shot", "--dry-run", env=studio["env"], cwd=studio["root"])
    assert proc.returncode == exitcodes.BAD_INPUT
    assert proc.stdout == ""  # a refused request writes nothing on stdout; the error is the one stderr line
    assert proc.stderr.count("\n") == 1 and "comp 'Shot' is ambiguous" in proc.stderr
    proc = aefarm(*RENDER[:5], "1-5", *RENDER[6:], "--comp", "Main", "--output", "out/shot.png", "--frames",
                  "20000-20001", "--dry-run", env=studio["env"], cwd=studio["root"], check=0)
    lines = proc.stdout.splitlines()
    assert "has no [#####] frame token" in lines[0] and "frames 20000-20001 are outside comp 'Main'" in lines[1]
    assert "plan:" in lines and not studio["record"].exists()


# ------------------------------------------------------------------------------------------------ info
def test_info_lists_the_real_fixtures(aefarm):
    proc = aefarm("info", FIXTURES / "testProject-excerpt.aepx", check=0)
    assert "'Test-Comp-Animated'  id 24  2400x3840  29.97 fps  2894 frames (0-2893)" in proc.stdout
    assert "(After Effects 13.7x124, macOS)" in proc.stdout and "render queue (0 items)" in proc.stdout
    assert "footage (2 files, 1 solids/placeholders)" in proc.stdout and "(Footage)/out_to_idle.mov" in proc.stdout
    data = json.loads(aefarm("info", FIXTURES / "1layer-excerpt.aepx", "--json", check=0).stdout)
    assert data["fonts"] == ["TimesNewRomanPSMT"] and data["comps"][0]["frame_rate"] == 60
    assert data["comps"][0]["layers"][0]["name"] == "<empty text layer>"


def test_info_lists_queue_output_modules_footage_sequences_and_fonts(aefarm, tmp_path):
    seq = tmp_path / "plates"
    seq.mkdir()
    for frame in (1, 2, 3, 5):
        (seq / f"sh010_{frame:04d}.exr").write_bytes(b"exr")
    comps = [CompSpec("Main", fonts=("ArialMT",)), CompSpec("Titles", frame_rate=25, duration_frames=50)]
    project = write_sample_project(tmp_path / "p.aepx", comps=comps, footage=[
        str(seq / "sh010_0001.exr"), "C:\\plates\\sh020\\", str(tmp_path / "gone.mov")],
        queue=[QueueSpec(1, output_folder=str(tmp_path / "out") + "/", output_template="[compName]_[###].tif",
                         format="TIFF Sequence", format_id="TIF "), QueueSpec(0, queued=False)])
    proc = aefarm("info", project, "--map", f"C:\\plates={tmp_path}", check=0)
    out = proc.stdout
    assert "'Titles'  id 5  1920x1080  25 fps  50 frames (0-49)" in out
    assert f"  1  'Titles'  queued  frames 0-49  settings 'Best Settings'\n     output 1: {tmp_path / 'out'}/" \
           f"[compName]_[###].tif  (TIFF Sequence, TIF)" in out
    assert "  2  'Main'  unqueued" in out
    assert f"ok        {seq / 'sh010_0001.exr'}  sequence sh010_[####].exr frames 1-5 (4 on disk; missing 4)" in out
    assert f"missing   C:\\plates\\sh020 -> {tmp_path / 'sh020'}  (folder)" in out
    assert "fonts (1)\n  ArialMT\n" in out
    data = json.loads(aefarm("info", project, "--json", check=0).stdout)
    seq_entry = data["footage"][0]["sequence"]
    assert (seq_entry["first"], seq_entry["last"], seq_entry["count"], seq_entry["gaps"]) == (1, 5, 4, [[4, 4]])
    assert data["render_queue"][0]["output_modules"][0]["file_template"] == "[compName]_[###].tif"


def test_info_on_a_binary_aep_says_what_can_be_read(aefarm, tmp_path):
    path = tmp_path / "shot.aep"
    path.write_bytes(b"RIFX\x00\x00\x00\x20Egg!LIST" + bytes(32))
    proc = aefarm("info", path, check=exitcodes.BAD_INPUT)
    [line] = proc.stderr.strip().splitlines()
    assert "binary After Effects project" in line and "footage paths" in line and "save it as .aepx" in line


# ------------------------------------------------------------------------------------------------ sequences
@pytest.fixture
def sequence_project(tmp_path):
    plates = tmp_path / "plates"
    plates.mkdir()
    for frame in (1, 2, 3):
        (plates / f"plate_{frame:04d}.png").write_bytes(b"png")
    mixed = tmp_path / "mixed"
    mixed.mkdir()
    for frame in (10, 11):
        (mixed / f"bg.{frame:03d}.exr").write_bytes(b"exr")
    (mixed / "notes.txt").write_text("x")
    folder = tmp_path / "folder_seq"
    folder.mkdir()
    project = write_sample_project(tmp_path / "seq.aepx", footage=[
        str(plates / "plate_0001.png"), str(mixed / "bg.010.exr"), str(folder) + "/"])
    return {"project": project, "plates": plates, "mixed": mixed, "folder": folder}


@needs_posix
def test_sequences_travel_whole_in_accsyn_dependencies(aefarm, sequence_project):
    proc = aefarm("accsyn", "submit", sequence_project["project"], "--comp", "Main", "--frames", "1-3", "--output",
                  "/renders", "--engine", "ae", "--dry-run", check=0)
    deps = json.loads(proc.stdout)["dependencies"]
    mixed = sequence_project["mixed"]
    assert str(sequence_project["plates"]) in deps  # the folder holds only that sequence: the folder goes
    assert str(mixed / "bg.010.exr") in deps and str(mixed / "bg.011.exr") in deps
    assert str(mixed / "notes.txt") not in deps and str(mixed) not in deps
    assert str(sequence_project["folder"]) in deps  # folder references keep working


@needs_posix
def test_sequences_travel_whole_in_deadline_asset_references(aefarm, sequence_project, tmp_path):
    aefarm("deadline", "bundle", sequence_project["project"], "--comp", "Main", "--frames", "1-3", "--output-dir",
           tmp_path / "frames", "-o", tmp_path / "bundle", check=0)
    inputs = yaml.safe_load((tmp_path / "bundle" / "asset_references.yaml").read_text())["assetReferences"]["inputs"]
    mixed = sequence_project["mixed"]
    assert str(sequence_project["plates"]) in inputs["directories"]
    assert str(sequence_project["folder"]) in inputs["directories"]
    assert {str(mixed / "bg.010.exr"), str(mixed / "bg.011.exr")} <= set(inputs["filenames"])
    assert str(mixed / "notes.txt") not in inputs["filenames"]


def test_a_render_queue_item_fills_compname_in_the_output(aefarm, studio):
    """Was: with --rqindex, [compName] was filled with nothing: every frame looked for at '_00001.png', all lost."""
    proc = aefarm(*RENDER, "--rqindex", "1", "--progress", "log", env=studio["env"], cwd=studio["root"])
    assert proc.returncode == 0, proc.stdout + proc.stderr
    out = studio["root"] / "out"
    assert sorted(p.name for p in out.iterdir()) == [f"Main_{f:05d}.png" for f in (1, 2, 3)]
    assert [read_frame_png(out / f"Main_{f:05d}.png")["comp"] for f in (1, 2, 3)] == ["Main"] * 3


def test_compname_with_rqindex_of_a_binary_aep_is_refused(aefarm, studio):
    (studio["root"] / "shot.aep").write_bytes(b"RIFX\x00\x00\x10\x00Egg!" + bytes(64))
    refused(aefarm, studio, "render", "shot.aep", *RENDER[2:], "--rqindex", "1",
            words=("uses [compName]", "binary .aep", "--comp NAME"))


@pytest.mark.parametrize("content, words", [
    (b"", ("not an After Effects project",)),
    (b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "b">]><x/>', ("not an After Effects project",)),
    (b"\x00\x01binary\x00", ("empty.aepx",)),
])
def test_a_file_that_is_no_project_is_refused_before_aerender(aefarm, studio, content, words):
    """Was: a warning, then aerender launched on it (exit 4)."""
    (studio["root"] / "empty.aepx").write_bytes(content)
    refused(aefarm, studio, "render", "empty.aepx", *RENDER[2:], "--comp", "Main", words=words)


@pytest.mark.parametrize("option", ["--output", "--report"])
def test_an_output_or_report_that_cannot_be_written_is_refused_before_rendering(aefarm, studio, option):
    """Was: the whole render ran, then exit 2 from the report's write (or a staging folder named in the error)."""
    (studio["root"] / "afile").write_text("x")
    args = list(RENDER) + ["--comp", "Main"]
    if option == "--output":
        args[args.index("--output") + 1] = str(studio["root"] / "afile" / "sub" / "[compName]_[#####].png")
    else:
        args += ["--report", str(studio["root"] / "afile" / "r.json")]
    refused(aefarm, studio, *args, words=(option, "afile is a file, not a folder"))


def test_unwritable_names_the_folder_a_read_only_file_system_refuses(tmp_path, monkeypatch):
    from engines.aftereffects import preflight_job

    assert preflight_job.unwritable(tmp_path / "new" / "deeper") is None  # created later, under a writable folder
    monkeypatch.setattr(preflight_job.os, "access", lambda path, mode: False)  # as a read-only mount answers
    assert preflight_job.unwritable(tmp_path) == "not writable"
    assert preflight_job.unwritable(tmp_path / "new") == f"{tmp_path} is not writable"
