"""The OpenJD templates in openjd/: valid, chunked as expected, and run for real with `openjd run` and openjd-sessions
(the aerender simulator stands in for After Effects; it fails like aerender when a footage path does not exist)."""
from __future__ import annotations

import json
import logging
import os
import re
import subprocess
import sys
import time
from pathlib import Path, PurePosixPath, PureWindowsPath
from typing import Dict, List

import pytest
import yaml
from openjd.model import (
    RevisionExtensions,
    SpecificationRevision,
    StepParameterSpaceIterator,
    create_job,
    decode_job_template,
    preprocess_job_parameters,
)

from aerender_sim.png import read_frame_png
from engines.aftereffects.deadline_bundle import template_path
from engines.aftereffects.sample_project import write_sample_project
from stmpo.frames import FrameSet

REPO = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
OPENJD = str(BIN / "openjd")
TEMPLATES = {kind: template_path(kind) for kind in ("image", "video")}
COMMON_PARAMETERS = {"ProjectFile", "CompName", "RenderQueueIndex", "OutputDir", "OutputPattern", "Frames",
                     "ChunkSize", "Concurrency", "MaxConcurrency", "RamPerChildGB", "MultiFrameRendering",
                     "CpuAffinity", "Retries", "StallTimeout", "FailFast", "AllowWarnings", "AerenderPath", "FontsDir"}


def load(kind: str) -> dict:
    return yaml.safe_load(TEMPLATES[kind].read_text(encoding="utf-8"))


def decoded(kind: str):  # type: ignore[no-untyped-def]
    return decode_job_template(template=load(kind), supported_extensions=["TASK_CHUNKING"])


def job_params(kind: str, values: Dict[str, str]):  # type: ignore[no-untyped-def]
    return preprocess_job_parameters(job_template=decoded(kind), job_parameter_values=values,
                                     job_template_dir=TEMPLATES[kind].parent, current_working_dir=REPO)


def chunks_of(kind: str, frames: str, chunk_size: int) -> List[str]:
    params = job_params(kind, {"ProjectFile": "/p.aepx", "CompName": "Main", "OutputDir": "/out",
                               "Frames": frames, "ChunkSize": str(chunk_size)})
    job = create_job(job_template=decoded(kind), job_parameter_values=params)
    return [task["Frame"].value for task in StepParameterSpaceIterator(space=job.steps[0].parameterSpace)]


# --------------------------------------------------------------------------------------------------- static
@pytest.mark.parametrize("kind", ["image", "video"])
def test_template_validates_with_openjd_model_and_openjd_check(kind):
    template = decoded(kind)
    assert template.specificationVersion.value == "jobtemplate-2023-09"
    assert list(template.extensions) == ["TASK_CHUNKING"]
    proc = subprocess.run([OPENJD, "check", str(TEMPLATES[kind])], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "passes validation" in proc.stdout


def test_templates_are_found_in_the_source_tree_not_in_a_python_package():
    assert not (REPO / "openjd" / "__init__.py").exists()  # it would shadow openjd-model/openjd-sessions
    for kind, path in TEMPLATES.items():
        assert path == REPO / "openjd" / f"aftereffects-{kind}" / "template.yaml"


@pytest.mark.parametrize("kind", ["image", "video"])
def test_each_parameter_is_defined_once_with_a_label_and_a_group(kind):
    names = [p["name"] for p in load(kind)["parameterDefinitions"]]
    assert len(names) == len(set(names))
    expected = COMMON_PARAMETERS | ({"FfmpegPath"} if kind == "video" else {"SteppedFrames"})
    assert set(names) == expected
    for definition in load(kind)["parameterDefinitions"]:
        ui = definition["userInterface"]
        assert ui["label"] and ui["groupLabel"], definition["name"]


def test_parameter_kinds_and_ranges():
    params = {p["name"]: p for p in load("image")["parameterDefinitions"]}
    project = params["ProjectFile"]
    assert (project["type"], project["objectType"], project["dataFlow"]) == ("PATH", "FILE", "IN")
    patterns = {pat for f in project["userInterface"]["fileFilters"] for pat in f["patterns"]}
    assert {"*.aepx", "*.aep"} <= patterns
    assert (params["OutputDir"]["objectType"], params["OutputDir"]["dataFlow"]) == ("DIRECTORY", "OUT")
    assert (params["FontsDir"]["objectType"], params["FontsDir"]["dataFlow"]) == ("DIRECTORY", "IN")
    assert params["ChunkSize"]["minValue"] == 1 and params["Concurrency"]["minValue"] == 0
    assert params["AerenderPath"]["dataFlow"] == "NONE"  # never uploaded as a job attachment
    for name in ("MultiFrameRendering", "CpuAffinity", "FailFast"):
        assert params[name]["userInterface"]["control"] == "CHECK_BOX"


@pytest.mark.parametrize("kind", ["image", "video"])
def test_render_step_runs_aefarm_with_the_chunk_the_rules_and_openjd_progress(kind):
    step = load(kind)["steps"][0]
    chunk = step["parameterSpace"]["taskParameterDefinitions"][0]
    assert chunk == {"name": "Frame", "type": "CHUNK[INT]", "range": "{{Param.Frames}}",
                     "chunks": {"defaultTaskCount": "{{Param.ChunkSize}}", "rangeConstraint": "CONTIGUOUS"}}
    run = step["script"]["actions"]["onRun"]
    assert run["command"] == "aefarm"
    assert {"--frames={{Task.Param.Frame}}", "--rules={{Session.PathMappingRulesFile}}",
            "--progress=openjd"} <= set(run["args"])
    assert run["timeout"] > 0 and run["cancelation"]["mode"] == "NOTIFY_THEN_TERMINATE"
    families = step["hostRequirements"]["attributes"][0]
    assert families == {"name": "attr.worker.os.family", "anyOf": ["windows", "macos"]}


def test_video_join_step_depends_on_the_segments():
    steps = load("video")["steps"]
    assert [s["name"] for s in steps] == ["RenderSegments", "JoinSegments"]
    assert steps[1]["dependencies"] == [{"dependsOn": "RenderSegments"}]
    assert steps[1]["script"]["actions"]["onRun"]["args"][:2] == ["deadline", "join"]


@pytest.mark.parametrize("kind", ["image", "video"])
def test_job_environment_prepares_outputs_and_fonts(kind):
    env = load(kind)["jobEnvironments"][0]["script"]["actions"]
    assert env["onEnter"]["args"][:2] == ["deadline", "session-enter"]
    assert "--fonts-dir={{Param.FontsDir}}" in env["onEnter"]["args"]
    token = "--token-file={{Session.WorkingDirectory}}/aefarm-fonts.token"
    assert token in env["onEnter"]["args"] and token in env["onExit"]["args"]


@pytest.mark.parametrize("frames, size, expected", [
    ("1-10", 3, ["1-3", "4-5", "6-8", "9-10"]),
    ("1-10", 10, ["1-10"]),
    ("7", 1, ["7-7"]),
    ("1-5,8-12", 4, ["1-3", "4-5", "8-10", "11-12"]),
    ("-5-5", 4, ["-5--2", "-1-2", "3-5"]),
    ("1-9:4", 5, ["1-1", "5-5", "9-9"]),  # CONTIGUOUS: stepped frames become one-frame chunks
])
def test_step_parameter_space_yields_the_expected_chunks(frames, size, expected):
    chunks = chunks_of("image", frames, size)
    assert chunks == expected
    # every chunk parses in aefarm's grammar, and together they are exactly the frames
    union = FrameSet()
    for chunk in chunks:
        part = FrameSet.parse(chunk)
        assert len(part) <= size and not len(union & part)
        union = union | part
    assert union == FrameSet.parse(frames)


def test_frames_openjd_cannot_parse_are_refused_before_any_task_exists():
    with pytest.raises(Exception, match=r"(?s)range:.*1-10x2"):
        chunks_of("image", "1-10x2", 2)


# --------------------------------------------------------------------------------------------------- end to end
@pytest.fixture
def studio(tmp_path):
    """A project whose footage lives under /mnt/aefarm-studio (not on this host) and the real copies under dst/."""
    dst = tmp_path / "dst"
    (dst / "footage").mkdir(parents=True)
    (dst / "footage" / "plate.mov").write_bytes(b"not really a movie")
    (dst / "seq").mkdir()
    (dst / "seq" / "bg_0001.png").write_bytes(b"png")
    project = write_sample_project(tmp_path / "shot.aepx",
                                   footage=["/mnt/aefarm-studio/footage/plate.mov", "/mnt/aefarm-studio/seq/"])
    rules = tmp_path / "rules.json"
    rules.write_text(json.dumps({"version": "pathmapping-1.0", "path_mapping_rules": [
        {"source_path_format": "POSIX", "source_path": "/mnt/aefarm-studio", "destination_path": str(dst)}]}))
    return {"root": tmp_path, "project": project, "rules": rules, "dst": dst}


def openjd_run(kind: str, params: Dict[str, str], *extra: str, env=None) -> subprocess.CompletedProcess:
    argv = [OPENJD, "run", str(TEMPLATES[kind])]
    for key, value in params.items():
        argv += ["-p", f"{key}={value}"]
    return subprocess.run(argv + list(extra), capture_output=True, text=True, timeout=180, env=env)


def progress_per_task(output: str) -> List[List[float]]:
    tasks: List[List[float]] = []
    for line in output.splitlines():
        if "Running Task" in line:
            tasks.append([])
        match = re.search(r"\topenjd_progress: ([0-9.]+)$", line)
        if match:
            tasks[-1].append(float(match.group(1)))
    return tasks


def base_params(studio, out: Path, frames: str, chunk: int) -> Dict[str, str]:
    return {"ProjectFile": str(studio["project"]), "CompName": "Main", "OutputDir": str(out), "Frames": frames,
            "ChunkSize": str(chunk), "AerenderPath": str(BIN / "aerender-sim")}


@pytest.mark.slow
def test_openjd_run_image_bundle_renders_every_frame_only_with_path_mapping(studio):
    out = studio["root"] / "out"
    params = base_params(studio, out, "1-5", 2)

    # without rules the footage paths inside the project do not exist here: the task fails and says so
    failed = openjd_run("image", params)
    assert failed.returncode != 0
    assert re.search(r"\topenjd_fail: .*(missing|File Not Found)", failed.stdout), failed.stdout[-3000:]
    assert not list(out.glob("Main_*.png"))

    proc = openjd_run("image", params, "--path-mapping-rules", f"file://{studio['rules']}")
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-2000:]
    assert "Chunks run: 3" in proc.stdout
    frames = sorted(out.glob("Main_*.png"))
    assert [p.name for p in frames] == [f"Main_{i:05d}.png" for i in range(1, 6)]
    assert [read_frame_png(p)["frame"] for p in frames] == [1, 2, 3, 4, 5]
    progress = progress_per_task(proc.stdout)
    assert len(progress) == 3
    for values in progress:
        assert values and values == sorted(values) and values[-1] == 100
    assert "remap: mapped" in proc.stdout or "remap: reused" in proc.stdout
    # the remapped copy goes to the session's working directory, never beside the input on its share
    assert sorted(p.name for p in studio["root"].iterdir() if p.suffix == ".aepx") == ["shot.aepx"]


@pytest.mark.slow
def test_openjd_run_video_bundle_joins_segments_into_one_movie(studio):
    from stmpo.movies import find_ffmpeg, movie_frame_count

    out = studio["root"] / "movie"
    params = base_params(studio, out, "1-7", 3)
    proc = openjd_run("video", params, "--path-mapping-rules", f"file://{studio['rules']}")
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-2000:]
    assert proc.stdout.count("Running Task") == 4  # three segment chunks, then the join
    movie = out / "Main.mov"
    assert movie_frame_count(movie, find_ffmpeg()[1]) == 7
    assert not (out / ".aefarm-segments").exists()  # segments removed once joined


@pytest.mark.slow
@pytest.mark.parametrize("kind, changes, message", [
    ("image", {"OutputPattern": "shot.mov"}, "is a movie"),
    ("image", {"OutputPattern": "../escape_[####].png"}, "inside OutputDir"),
    ("video", {"OutputPattern": "shot_[####].mov"}, "one file"),
    ("video", {"Frames": "1-9:2"}, "consecutive frames"),
])
def test_values_that_cannot_work_fail_first_with_openjd_fail(studio, kind, changes, message):
    out = studio["root"] / "out"
    params = base_params(studio, out, "1-4", 2)
    params.update(changes)
    proc = openjd_run(kind, params)
    assert proc.returncode != 0
    fails = [line for line in proc.stdout.splitlines() if "\topenjd_fail: " in line]
    assert fails and message in fails[0], proc.stdout[-3000:]
    assert "aefarm render" not in proc.stdout  # nothing rendered


# --------------------------------------------------------------------------------------------------- sessions API
def run_action(session, start, timeout: float = 120.0):  # type: ignore[no-untyped-def]
    from openjd.sessions import ActionState, SessionState

    start()
    deadline = time.monotonic() + timeout
    while session.state == SessionState.RUNNING and time.monotonic() < deadline:
        time.sleep(0.05)
    status = session.action_status
    assert status is not None and status.state == ActionState.SUCCESS, status
    return status


@pytest.mark.slow
def test_windows_source_rule_through_openjd_sessions(tmp_path):
    """A project made on Windows (C:\\ footage) rendered on this host: Deadline's Windows-source rule is applied
    inside the project by the task (the `openjd run -p` CLI would take a Windows path as relative on Linux)."""
    from openjd.sessions import LOG, PathFormat, PathMappingRule, Session

    dst = tmp_path / "dst"
    (dst / "footage").mkdir(parents=True)
    (dst / "footage" / "plate.mov").write_bytes(b"x")
    project = write_sample_project(tmp_path / "win.aepx", footage=["C:\\Studio\\footage\\plate.mov"])
    out = tmp_path / "out"
    template = decoded("image")
    params = job_params("image", {"ProjectFile": str(project), "CompName": "Main", "OutputDir": str(out),
                                  "Frames": "1-3", "ChunkSize": "3", "AerenderPath": str(BIN / "aerender-sim")})
    job = create_job(job_template=template, job_parameter_values=params)
    rule = PathMappingRule(source_path_format=PathFormat.WINDOWS, source_path=PureWindowsPath("C:\\Studio"),
                           destination_path=PurePosixPath(str(dst)))
    lines: List[str] = []

    class Collect(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            lines.append(record.getMessage())

    handler = Collect()
    LOG.addHandler(handler)
    old_level = LOG.level
    LOG.setLevel(logging.INFO)
    try:
        extensions = RevisionExtensions(spec_rev=SpecificationRevision.v2023_09,
                                        supported_extensions=["TASK_CHUNKING"])
        with Session(session_id="aefarm-test", job_parameter_values=params, path_mapping_rules=[rule],
                     revision_extensions=extensions) as session:
            env_id = None

            def enter() -> None:
                nonlocal env_id
                env_id = session.enter_environment(environment=job.jobEnvironments[0])
            run_action(session, enter)
            step = job.steps[0]
            [task] = list(StepParameterSpaceIterator(space=step.parameterSpace))
            status = run_action(session, lambda: session.run_task(step_script=step.script,
                                                                  task_parameter_values=task))
            assert status.progress == 100
            run_action(session, lambda: session.exit_environment(identifier=env_id))
    finally:
        LOG.removeHandler(handler)
        LOG.setLevel(old_level)
    assert sorted(p.name for p in out.glob("Main_*.png")) == ["Main_00001.png", "Main_00002.png", "Main_00003.png"]
    text = "\n".join(lines)
    assert "--frames=1-3" in text and "mapped 1 reference(s)" in text, text[-3000:]


@pytest.mark.slow
def test_canceling_a_task_stops_every_aerender_process(tmp_path):
    """NOTIFY_THEN_TERMINATE: the session's SIGTERM reaches `aefarm` (OpenJD execs the command), which terminates
    every child tree before the notify period ends; no simulator process of this task survives."""
    import psutil
    from openjd.sessions import ActionState, Session, SessionState

    project = write_sample_project(tmp_path / "cancel.aepx")
    out = tmp_path / "out"
    params = job_params("image", {"ProjectFile": str(project), "CompName": "Main", "OutputDir": str(out),
                                  "Frames": "1-40", "ChunkSize": "40", "Concurrency": "2",
                                  "AerenderPath": str(BIN / "aerender-sim")})
    job = create_job(job_template=decoded("image"), job_parameter_values=params)
    extensions = RevisionExtensions(spec_rev=SpecificationRevision.v2023_09, supported_extensions=["TASK_CHUNKING"])

    def ours() -> List[psutil.Process]:
        found = []
        for proc in psutil.process_iter(["cmdline"]):
            try:
                if any(str(project) in part for part in proc.info["cmdline"] or ()):
                    found.append(proc)
            except psutil.Error:
                pass
        return [p for p in found if p.pid != os.getpid()]

    with Session(session_id="aefarm-cancel", job_parameter_values=params, revision_extensions=extensions) as session:
        step = job.steps[0]
        [task] = list(StepParameterSpaceIterator(space=step.parameterSpace))
        session.run_task(step_script=step.script, task_parameter_values=task,
                         os_env_vars={"AERENDER_SIM_FRAME_SECONDS": "0.5"})
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and not list(out.glob("Main_*.png")):
            time.sleep(0.1)
        assert any("aerender-sim" in " ".join(p.cmdline()) for p in ours() if p.is_running())
        session.cancel_action()
        while session.state == SessionState.RUNNING and time.monotonic() < deadline:
            time.sleep(0.05)
        assert session.action_status.state in (ActionState.CANCELED, ActionState.FAILED)
    gone_by = time.monotonic() + 10
    while ours() and time.monotonic() < gone_by:
        time.sleep(0.1)
    assert ours() == []
    assert len(list(out.glob("Main_*.png"))) < 40


@pytest.mark.slow
@pytest.mark.skipif(not Path("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf").exists(), reason="needs DejaVu")
def test_openjd_run_installs_fonts_for_the_session_and_removes_them(studio):
    from fonts_helpers import DEJAVU_SANS, child_env, copy_font, make_variant

    home = studio["root"] / "home"
    home.mkdir()
    fonts = studio["root"] / "fonts"
    copy_font(make_variant(DEJAVU_SANS, "AefarmJob Sans", studio["root"] / "v" / "AefarmJob.ttf"), fonts)
    params = base_params(studio, studio["root"] / "out", "1-2", 2)
    params["FontsDir"] = str(fonts)
    env = child_env(home)
    env["PATH"] = os.environ["PATH"]
    proc = openjd_run("image", params, "--path-mapping-rules", f"file://{studio['rules']}", env=env)
    assert proc.returncode == 0, proc.stdout[-3000:]
    text = proc.stdout
    assert text.index("installed for this session") < text.index("aefarm render") < text.index("fonts removed")
    assert list((home / ".local" / "share" / "fonts" / "aefarm").iterdir()) == []
