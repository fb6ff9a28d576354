"""Deadline Cloud job bundles (`aefarm deadline bundle|submit`) and the worker-side template actions."""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from fonts_helpers import DEJAVU_SANS, child_env, copy_font, make_variant

from engines.aftereffects import deadline_actions as actions
from engines.aftereffects.deadline_bundle import (
    BundleError,
    BundleRequest,
    check_frames,
    check_output_pattern,
    parameter_values,
    template_path,
)
from engines.aftereffects.sample_project import write_sample_project
from stmpo.frames import FrameSet
from stmpo.plan import PlanSettings
from stmpo.settings import RunOptions

BIN = Path(sys.executable).parent


@pytest.fixture
def shot(tmp_path):
    """A project with an existing footage file, an existing sequence folder, a Windows path and a missing file."""
    media = tmp_path / "media"
    (media / "seq").mkdir(parents=True)
    (media / "seq" / "bg_0001.png").write_bytes(b"png")
    (media / "plate.mov").write_bytes(b"mov")
    footage = [str(media / "plate.mov"), str(media / "seq") + "/", "C:\\Shows\\logo.psd", "/nowhere/gone.wav"]
    project = write_sample_project(tmp_path / "shot.aepx", footage=footage)
    return {"root": tmp_path, "project": project, "media": media}


def read_yaml(path: Path) -> dict:
    return yaml.safe_load(path.read_text(encoding="utf-8"))


def values_of(bundle: Path) -> dict:
    return {v["name"]: v["value"] for v in read_yaml(bundle / "parameter_values.yaml")["parameterValues"]}


# --------------------------------------------------------------------------------------------------- validation
@pytest.mark.parametrize("kind, pattern", [
    ("image", "[compName]_[#####].png"), ("image", "sub/dir/f_[####].exr"),
    ("video", "[compName].mov"), ("video", "final/Shot.MP4"), ("video", "a.avi"),
])
def test_patterns_that_work(kind, pattern):
    assert check_output_pattern(kind, pattern) == pattern


@pytest.mark.parametrize("kind, pattern, message", [
    ("image", "shot.mov", "is a movie"), ("image", "", "empty"), ("image", "/abs/f_[#####].png", "absolute"),
    ("image", "C:\\out\\f_[#####].png", "absolute"), ("image", "../f_[#####].png", "inside OutputDir"),
    ("image", "a//f.png", "inside OutputDir"), ("image", "[compName]/f_[#####].png", "folder names"),
    ("video", "f_[#####].png", "not a movie"), ("video", "f_[#####].mov", "one file"),
    ("image", "x_[#####].[fileextension]", "instead of"), ("video", "x.[fileExtension]", "instead of"),
])
def test_patterns_that_cannot_work_are_named(kind, pattern, message):
    with pytest.raises(BundleError, match=message) as info:
        check_output_pattern(kind, pattern)
    assert "\n" not in str(info.value)


def test_frames_checks():
    assert check_frames("image", "1-10x2") == FrameSet.from_range(1, 9, 2)
    assert len(check_frames("video", "1-250")) == 250
    for kind, spec, message in (("image", "1-abc", "not a frame spec"), ("video", "1-9:2", "consecutive"),
                                ("video", "1-3,7-9", "consecutive")):
        with pytest.raises(BundleError, match=message):
            check_frames(kind, spec)


# --------------------------------------------------------------------------------------------------- content
def test_parameter_values_hold_our_parameters_and_deadlines(tmp_path):
    req = BundleRequest(project=tmp_path / "p.aepx", output_dir=tmp_path / "out", frames="1-100x5", comp="Main",
                        chunk_size=4, options={"mfr": False, "concurrency": 3, "stall_timeout": 90.5},
                        priority=70, max_retries_per_task=5)
    values = {v["name"]: v["value"] for v in parameter_values(req)["parameterValues"]}
    assert values["Frames"] == "1-96:5"  # converted to the OpenJD grammar the template's range needs
    assert values["ChunkSize"] == "4" and values["CompName"] == "Main" and values["RenderQueueIndex"] == "0"
    assert values["MultiFrameRendering"] == "false" and values["Concurrency"] == "3"
    assert values["StallTimeout"] == "90.5"
    assert values["deadline:priority"] == 70 and values["deadline:maxRetriesPerTask"] == 5
    assert "FailFast" not in values  # unset options keep the template default
    assert any("one task per frame" in w for w in req.warnings)


def test_parameter_values_refuse_what_cannot_run(tmp_path):
    base = dict(project=tmp_path / "p.aepx", output_dir=tmp_path / "out", frames="1-10")
    with pytest.raises(BundleError, match="exactly one"):
        parameter_values(BundleRequest(**base))
    with pytest.raises(BundleError, match="priority"):
        parameter_values(BundleRequest(**base, comp="Main", priority=101))
    with pytest.raises(BundleError, match="--stall-timeout 29: expected seconds from 30 to 86400"):
        parameter_values(BundleRequest(**base, comp="Main", options={"stall_timeout": 29}))
    with pytest.raises(BundleError, match="--ffmpeg is for video bundles only"):
        parameter_values(BundleRequest(**base, comp="Main", options={"ffmpeg": "/usr/bin/ffmpeg"}))
    with pytest.raises(BundleError, match="--scratch is not passed to the Deadline task"):
        parameter_values(BundleRequest(**base, comp="Main", options={"scratch": "/tmp/s"}))
    with pytest.raises(BundleError, match=r"\[compName\]"):
        parameter_values(BundleRequest(**base, rqindex=2, video=True, pattern="[compName].mov"))
    rq_movie = {v["name"]: v["value"] for v in
                parameter_values(BundleRequest(**base, rqindex=2, video=True))["parameterValues"]}
    assert rq_movie["OutputPattern"] == "p_rq2.mov" and rq_movie["RenderQueueIndex"] == "2"


def test_bundle_command_writes_template_values_and_asset_references(shot, aefarm):
    bundle = shot["root"] / "bundle"
    done = aefarm("deadline", "bundle", shot["project"], "--comp", "Main", "--frames", "1-20", "--output-dir",
                  shot["root"] / "renders", "--chunk-size", "5", "-o", bundle, check=0)
    assert done.stdout.strip() == str(bundle)
    assert (bundle / "template.yaml").read_bytes() == template_path("image").read_bytes()
    values = values_of(bundle)
    assert values["ProjectFile"] == str(shot["project"]) and values["OutputDir"] == str(shot["root"] / "renders")
    assert values["Frames"] == "1-20" and values["ChunkSize"] == "5"
    refs = read_yaml(bundle / "asset_references.yaml")["assetReferences"]
    assert refs["inputs"]["filenames"] == [str(shot["project"]), str(shot["media"] / "plate.mov")]
    assert refs["inputs"]["directories"] == [str(shot["media"] / "seq")]
    assert refs["outputs"] == {"directories": [str(shot["root"] / "renders")]}
    assert refs["referencedPaths"] == ["C:\\Shows\\logo.psd", "/nowhere/gone.wav"]
    assert [p.name for p in shot["root"].iterdir() if p.name.startswith(".")] == []  # no temp folder left


def test_an_existing_bundle_is_replaced_only_with_force(shot, aefarm):
    bundle = shot["root"] / "b"
    args = ["deadline", "bundle", shot["project"], "--comp", "Main", "--frames", "1-4", "--output-dir",
            shot["root"] / "out", "-o", bundle]
    aefarm(*args, check=0)
    again = aefarm(*args, "--video", check=2)
    assert "already exists" in again.stderr and again.stderr.count("\n") == 1
    aefarm(*args, "--video", "--force", check=0)
    assert (bundle / "template.yaml").read_bytes() == template_path("video").read_bytes()
    assert values_of(bundle)["OutputPattern"] == "[compName].mov"
    assert sorted(p.name for p in shot["root"].iterdir() if p.name.startswith(".")) == []


def test_bad_values_write_no_bundle(shot, aefarm):
    bundle = shot["root"] / "bad"
    done = aefarm("deadline", "bundle", shot["project"], "--comp", "Main", "--frames", "1-4", "--output-dir",
                  shot["root"] / "out", "--pattern", "movie.mov", "-o", bundle, check=2)
    assert "is a movie" in done.stderr and done.stderr.count("\n") == 1 and "Traceback" not in done.stderr
    assert not bundle.exists()


def test_fonts_folder_travels_with_the_job(shot, aefarm):
    fonts = shot["root"] / "fonts"
    fonts.mkdir()
    bundle = shot["root"] / "fb"
    aefarm("deadline", "bundle", shot["project"], "--comp", "Main", "--frames", "1", "--output-dir",
           shot["root"] / "out", "--fonts", fonts, "-o", bundle, check=0)
    assert values_of(bundle)["FontsDir"] == str(fonts)
    assert str(fonts) in read_yaml(bundle / "asset_references.yaml")["assetReferences"]["inputs"]["directories"]


def test_binary_aep_bundle_lists_the_project_alone_with_a_warning(tmp_path, aefarm):
    project = tmp_path / "bin.aep"
    project.write_bytes(b"RIFX\x00\x00\x00\x10Egg!" + bytes(64))
    bundle = tmp_path / "bb"
    done = aefarm("deadline", "bundle", project, "--rqindex", "1", "--frames", "1-3", "--output-dir",
                  tmp_path / "out", "-o", bundle, check=0)
    assert "save it as .aepx" in done.stderr
    refs = read_yaml(bundle / "asset_references.yaml")["assetReferences"]
    assert refs["inputs"]["filenames"] == [str(project)]


def test_deadline_bundle_info_reads_a_generated_bundle(shot, aefarm):
    bundle = shot["root"] / "info"
    aefarm("deadline", "bundle", shot["project"], "--comp", "Main", "--frames", "1-30", "--output-dir",
           shot["root"] / "out", "-o", bundle, check=0)
    proc = subprocess.run([str(BIN / "deadline"), "bundle", "info", str(bundle), "--output", "json"],
                          capture_output=True, text=True, timeout=60,
                          env={**os.environ, "HOME": str(shot["root"])})  # offline: no profile, no credentials
    assert proc.returncode == 0, proc.stdout + proc.stderr
    info = json.loads(proc.stdout)
    assert info["steps"] == ["Render"]
    shown = {p["name"]: p.get("_display_value") for p in info["parameters"]}
    assert shown["ProjectFile"] == str(shot["project"]) and shown["Frames"] == "1-30" and shown["CompName"] == "Main"


# --------------------------------------------------------------------------------------------------- submit
def test_submit_without_the_deadline_cli_says_how_to_install_it(shot, monkeypatch):
    from engines.aftereffects.cli import build_parser
    from engines.aftereffects.commands import deadline as command

    monkeypatch.setattr(command, "deadline_cli", lambda: None)
    args = build_parser().parse_args(["deadline", "submit", str(shot["project"]), "--comp", "Main", "--frames",
                                      "1-3", "--output-dir", str(shot["root"] / "o"), "-o",
                                      str(shot["root"] / "s")])
    with pytest.raises(BundleError, match=r"pip install 'aefarm\[deadline\]'"):
        args.func(args)
    assert not (shot["root"] / "s").exists()


def test_submit_runs_deadline_bundle_submit_on_the_written_bundle(shot, monkeypatch):
    from engines.aftereffects.cli import build_parser
    from engines.aftereffects.commands import deadline as command

    record = shot["root"] / "argv.json"
    fake = shot["root"] / "deadline"
    fake.write_text(f"#!{sys.executable}\nimport json, sys\njson.dump(sys.argv[1:], open({str(record)!r}, 'w'))\n")
    fake.chmod(0o755)
    monkeypatch.setattr(command, "deadline_cli", lambda: str(fake))
    bundle = shot["root"] / "s"
    args = build_parser().parse_args(["deadline", "submit", str(shot["project"]), "--comp", "Main", "--frames",
                                      "1-3", "--output-dir", str(shot["root"] / "o"), "-o", str(bundle),
                                      "--deadline-arg=--yes"])
    assert args.func(args) == 0
    assert json.loads(record.read_text()) == ["bundle", "submit", str(bundle), "--yes"]
    assert (bundle / "parameter_values.yaml").is_file()


# --------------------------------------------------------------------------------------------------- actions
TEMPLATE_DEFAULTS = {"concurrency": "0", "max_concurrency": "0", "ram_per_child_gb": "0", "mfr": "true",
                     "affinity": "true", "retries": "1", "stall_timeout": "1800", "fail_fast": "false",
                     "aerender": ""}  # what the template passes when nothing was set


def task(**changes) -> actions.TaskValues:
    options = dict(TEMPLATE_DEFAULTS, **changes.pop("options", {}))
    base = dict(kind="image", project="/p/shot.aepx", comp_name="Main", rq_index=0, output_dir="/out",
                pattern="[compName]_[#####].png", frames="1-5", options=options)
    base.update(changes)
    return actions.TaskValues(**base)


def test_task_job_is_built_from_the_template_values(tmp_path):
    rules = tmp_path / "rules.json"
    rules.write_text(json.dumps({"version": "pathmapping-1.0", "path_mapping_rules": [
        {"source_path_format": "WINDOWS", "source_path": "P:\\", "destination_path": "/mnt/p"}]}))
    job = actions.task_job(task(rules=str(rules), converted_dir=str(tmp_path)))
    assert (job.project, job.comp, job.rqindex) == (Path("/p/shot.aepx"), "Main", None)
    assert job.output == os.path.join("/out", "[compName]_[#####].png") and job.frames == FrameSet.parse("1-5")
    assert job.rules.map("P:\\a.png") == "/mnt/p/a.png" and job.converted_dir == tmp_path
    # the template's "not set" values are the table's defaults, which are the executor's own
    assert job.settings == PlanSettings() and job.options == RunOptions() and job.aerender is None
    job = actions.task_job(task(comp_name="", rq_index=3, options={"concurrency": "4", "mfr": "false",
                                                                   "fail_fast": "true", "stall_timeout": "90",
                                                                   "aerender": "/opt/aerender"}))
    assert (job.comp, job.rqindex) == (None, 3) and len(job.rules) == 0
    assert job.settings.concurrency == 4 and job.settings.mfr is False and job.options.fail_fast is True
    assert job.options.stall_timeout == 90.0 and job.aerender == "/opt/aerender"


def test_task_job_refuses_values_that_cannot_work(tmp_path):
    for values, message in ((task(comp_name="", rq_index=0), "CompName or RenderQueueIndex"),
                            (task(rq_index=2), "CompName or RenderQueueIndex .* got both"),
                            (task(pattern="x.mov"), "is a movie"),
                            (task(kind="video", pattern="m.mov", frames="1-5", job_frames="3-9"), "not inside"),
                            (task(options={"mfr": "maybe"}), "MultiFrameRendering 'maybe': expected true or false"),
                            (task(options={"stall_timeout": "5"}), "StallTimeout '5': expected seconds from 30"),
                            (task(options={"retries": "11"}), "Retries '11'"),
                            (task(converted_dir=str(tmp_path / "nope")), "converted-dir"),
                            (task(project=" "), "ProjectFile is empty")):
        with pytest.raises(BundleError, match=message):
            actions.task_job(values)


def test_the_printed_render_command_renders_the_same_job(tmp_path):
    """The task prints the `aefarm render` command that does what it does: parsed by the CLI, it is the same Job."""
    import shlex

    from engines.aftereffects.cli import build_parser
    from engines.aftereffects.commands.render import build_job

    project = write_sample_project(tmp_path / "shot.aepx")
    values = task(project=str(project), comp_name="", rq_index=2, output_dir=str(tmp_path / "out"),
                  converted_dir=str(tmp_path), options={"concurrency": "3", "mfr": "false", "retries": "0",
                                                        "ram_per_child_gb": "2.5", "stall_timeout": "600"})
    job = actions.task_job(values)
    argv = actions.render_command(job, values)
    assert "--frames=1-5" in argv and "--no-mfr" in argv and "--affinity" not in argv  # defaults are not written
    line = shlex.join(["render", *argv])
    args = build_parser().parse_args(shlex.split(line))
    again = build_job(args)
    for name in ("project", "comp", "rqindex", "output", "frames", "settings", "options", "aerender",
                 "converted_dir"):
        assert getattr(again, name) == getattr(job, name), name


def test_video_tasks_render_named_segments_into_one_folder_per_job():
    one = actions.task_job(task(kind="video", pattern="m.mov", frames="1-3", job_frames="1-6")).output
    two = actions.task_job(task(kind="video", pattern="m.mov", frames="4-6", job_frames="1-6")).output
    a, b = Path(one), Path(two)
    assert a.parent == b.parent and a.parent.parent == Path("/out") / actions.SEGMENTS_FOLDER
    assert (a.name, b.name) == ("segment_000001_000003.mov", "segment_000004_000006.mov")
    other = actions.task_job(task(kind="video", pattern="m.mov", frames="1-3", job_frames="1-7")).output
    assert Path(other).parent != a.parent  # another job, another folder


def test_segments_dir_is_the_same_for_a_windows_and_a_mac_worker():
    win = actions.segments_dir("/out", "m.mov", "Main", 0, "1-6", "C:\\jobs\\shot.aepx")
    mac = actions.segments_dir("/out", "m.mov", "Main", 0, "1-6", "/Volumes/jobs/shot.aepx")
    assert win == mac


def make_segments(folder: Path, *ranges):
    """Segments written in the order given (explicit, increasing modification times: later = newer)."""
    folder.mkdir(parents=True, exist_ok=True)
    for order, (a, b) in enumerate(ranges):
        path = folder / f"segment_{a:06d}_{b:06d}.mov"
        path.write_bytes(b"x")
        stamp = 1_700_000_000_000_000_000 + order * 1_000_000_000
        os.utime(path, ns=(stamp, stamp))


def test_tile_segments_finds_the_exact_cover(tmp_path):
    make_segments(tmp_path, (1, 3), (4, 6), (7, 7), (1, 6), (4, 9))  # leftovers of another chunking
    tiles = actions.tile_segments(tmp_path, FrameSet.parse("1-7"), ".mov")
    assert [p.name for p in tiles] == ["segment_000001_000006.mov", "segment_000007_000007.mov"]
    assert [p.name for p in actions.tile_segments(tmp_path, FrameSet.parse("4-9"), ".mov")] == [
        "segment_000004_000009.mov"]
    with pytest.raises(BundleError, match="missing for frames 10-12 "):
        actions.tile_segments(tmp_path, FrameSet.parse("1-12"), ".mov")
    with pytest.raises(BundleError, match="missing for frames 1-7 "):
        actions.tile_segments(tmp_path, FrameSet.parse("1-7"), ".mp4")  # other container: not ours
    overlapping = tmp_path / "overlap"
    make_segments(overlapping, (1, 4), (3, 6))
    with pytest.raises(BundleError, match="do not line up"):
        actions.tile_segments(overlapping, FrameSet.parse("1-6"), ".mov")


def test_tile_segments_never_mixes_in_an_earlier_jobs_segments(tmp_path):
    # an earlier job (chunk size 20) was cancelled before its join; this job (chunk size 10) wrote 1-10 and 11-20
    make_segments(tmp_path, (1, 20), (1, 10), (11, 20))
    tiles = actions.tile_segments(tmp_path, FrameSet.parse("1-20"), ".mov")
    assert [p.name for p in tiles] == ["segment_000001_000010.mov", "segment_000011_000020.mov"]
    # and the other way round: the newer single segment wins over older pieces
    other = tmp_path / "other"
    make_segments(other, (1, 10), (11, 20), (1, 20))
    assert [p.name for p in actions.tile_segments(other, FrameSet.parse("1-20"), ".mov")] == [
        "segment_000001_000020.mov"]


def test_join_with_a_missing_segment_fails_with_openjd_fail(tmp_path, aefarm):
    folder = actions.segments_dir(str(tmp_path), "m.mov", "Main", 0, "1-6", "/p/shot.aepx")
    make_segments(folder, (1, 3))
    done = aefarm("deadline", "join", "--project", "/p/shot.aepx", "--comp-name", "Main", "--output-dir", tmp_path,
                  "--pattern", "m.mov", "--frames", "1-6", check=2)
    assert "openjd_fail: movie segments missing for frames 4-6" in done.stdout
    assert not (tmp_path / "m.mov").exists()


def test_task_action_refuses_before_rendering_with_openjd_fail(tmp_path, aefarm):
    done = aefarm("deadline", "task", "--kind", "image", f"--project={tmp_path / 'p.aepx'}", "--comp-name=Main",
                  f"--output-dir={tmp_path}", "--pattern=m.mov", "--frames=1-3", check=2)
    assert done.stdout.startswith("openjd_fail: OutputPattern 'm.mov' is a movie")
    assert "aefarm render" not in done.stdout and done.stderr.count("\n") == 1


def test_session_enter_refuses_before_creating_anything(tmp_path, aefarm):
    done = aefarm("deadline", "session-enter", "--kind", "image", "--output-dir", tmp_path / "o", "--pattern",
                  "m.mov", "--frames", "1-3", "--token-file", tmp_path / "t", check=2)
    assert done.stdout.startswith("openjd_fail: OutputPattern 'm.mov' is a movie")
    assert not (tmp_path / "o").exists()


@pytest.mark.skipif(shutil.which("fc-list") is None or not DEJAVU_SANS.exists(), reason="needs fontconfig")
def test_session_installs_fonts_until_exit(tmp_path, aefarm):
    home = tmp_path / "home"
    home.mkdir()
    env = child_env(home)
    fonts = tmp_path / "fonts"
    copy_font(make_variant(DEJAVU_SANS, "AefarmDeadline Sans", tmp_path / "v" / "AefarmDeadline.ttf"), fonts)
    token = tmp_path / "session" / "aefarm-fonts.token"
    token.parent.mkdir()
    installed = home / ".local" / "share" / "fonts" / "aefarm"
    aefarm("deadline", "session-enter", "--kind", "image", "--output-dir", tmp_path / "o", "--pattern",
           "sub/f_[#####].png", "--frames", "1-3", f"--fonts-dir={fonts}", "--token-file", token, env=env, check=0)
    assert (tmp_path / "o" / "sub").is_dir()
    assert len(token.read_text().strip()) == 32
    assert [p.name for p in installed.iterdir()] == ["AefarmDeadline.ttf"]  # held after the action process ended
    aefarm("deadline", "session-exit", "--token-file", token, env=env, check=0)
    assert not token.exists() and list(installed.iterdir()) == []
    aefarm("deadline", "session-exit", "--token-file", token, env=env, check=0)  # nothing left to do


def test_session_without_fonts_writes_no_token(tmp_path, aefarm):
    token = tmp_path / "t"
    aefarm("deadline", "session-enter", "--kind", "video", "--output-dir", tmp_path / "o", "--pattern", "m.mov",
           "--frames", "1-3", "--fonts-dir=", "--token-file", token, check=0)
    assert (tmp_path / "o").is_dir() and not token.exists()


def test_a_video_task_refused_by_preflight_writes_nothing(tmp_path, aefarm, aerender_sim):
    """Nothing is written before the request is checked: not even the movie segments' folder."""
    project = write_sample_project(tmp_path / "p.aepx")
    out = tmp_path / "o"
    done = aefarm("deadline", "task", "--kind", "video", f"--project={project}", "--comp-name=Mian",
                  f"--output-dir={out}", "--pattern=m.mov", "--frames=1-3",
                  env={**os.environ, "AERENDER_PATH": aerender_sim}, check=2)
    assert "Mian" in done.stdout and "Main" in done.stdout  # the typo, and the closest existing comp
    assert not out.exists()
