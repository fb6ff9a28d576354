"""`aefarm render` and `aefarm demo` end to end (on the aerender simulator, a test instrument)."""
from __future__ import annotations

import json
import os

import pytest

from aefarm_common import exitcodes
from aerender_sim.png import read_frame_png
from engines.aftereffects.sample_project import write_sample_project


@pytest.fixture
def project(tmp_path):
    return write_sample_project(tmp_path / "shot.aepx")


def test_dry_run_prints_the_plan_and_child_commands(aefarm, project, aerender_sim, tmp_path):
    out = tmp_path / "out"
    proc = aefarm("render", project, "--comp", "Main", "--output", out / "[compName]_[#####].png",
                  "--frames", "1-100", "--concurrency", "3", "--aerender", aerender_sim, "--dry-run", check=0)
    text = proc.stdout
    assert "concurrency = " in text and "schedule: dynamic, 3 child slots" in text
    commands = [line for line in text.splitlines() if line.startswith("  ") and aerender_sim in line]
    assert len(commands) == 3
    assert "-s 1 -e 34" in commands[0] and "-s 35 -e 67" in commands[1] and "-s 68 -e 100" in commands[2]
    assert "-comp Main" in commands[0] and ".aefarm-RUNID-c001" in commands[0]
    assert not out.exists()  # nothing rendered, nothing written


def test_dry_run_with_aws_batch_renders_only_the_member_slice(aefarm, project, aerender_sim, tmp_path):
    env = dict(os.environ, AWS_BATCH_JOB_ARRAY_INDEX="1", AWS_BATCH_JOB_ARRAY_SIZE="2")
    proc = aefarm("render", project, "--comp", "Main", "--output", tmp_path / "x_[####].png", "--frames",
                      "1-10", "--concurrency", "1", "--aerender", aerender_sim, "--dry-run", "--aws-batch",
                      env=env, check=0)
    assert "-s 6 -e 10" in proc.stdout


@pytest.mark.parametrize("args, needle", [
    (["--frames", "1-x"], "frame"),
    (["--frames", "1-10", "--concurrency", "0"], "--concurrency"),
    (["--frames", "1-10", "--schedule", "greedy"], "--schedule"),
    (["--frames", "1-10", "--map", "relative=/x"], ""),
])
def test_bad_input_is_one_line_exit_2(aefarm, project, tmp_path, args, needle):
    proc = aefarm("render", project, "--comp", "Main", "--output", tmp_path / "x_[####].png", *args)
    assert proc.returncode == exitcodes.BAD_INPUT, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and needle in lines[0]
    assert "Traceback" not in proc.stderr


def test_missing_project_is_bad_input(aefarm, tmp_path):
    proc = aefarm("render", tmp_path / "nope.aepx", "--comp", "Main", "--output", tmp_path / "x.png",
                  "--frames", "1", check=exitcodes.BAD_INPUT)
    assert "project not found" in proc.stderr


def test_comp_and_rqindex_are_exclusive(aefarm, project, tmp_path):
    aefarm("render", project, "--comp", "Main", "--rqindex", "1", "--output", tmp_path / "x.png", "--frames", "1",
           check=exitcodes.BAD_INPUT)


def test_render_with_rules_remaps_and_delivers(aefarm, tmp_path, aerender_sim):
    footage = tmp_path / "local" / "plate.png"
    footage.parent.mkdir()
    footage.write_bytes(b"plate")
    project = write_sample_project(tmp_path / "win.aepx", footage=["P:\\show\\plate.png"])
    out = tmp_path / "out"
    report = tmp_path / "report.json"
    env = dict(os.environ, AERENDER_SIM_FRAME_SECONDS="0.01")
    proc = aefarm("render", project, "--comp", "Main", "--output", out / "[compName]_[###].png", "--frames",
                      "1-8", "--concurrency", "2", "--aerender", aerender_sim, "--map", f"P:\\show={tmp_path / 'local'}",
                      "--progress", "accsyn", "--report", report, "--log-dir", tmp_path / "logs", env=env)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert sum('"taskstatus": true' in line for line in proc.stdout.splitlines()) == 8
    assert [read_frame_png(out / f"Main_{f:03d}.png")["frame"] for f in range(1, 9)] == list(range(1, 9))
    assert json.loads(report.read_text())["ok"] is True
    assert b"P:\\show" in project.read_bytes()  # the input project is never modified


def test_unmapped_windows_footage_is_refused_before_aerender_starts(aefarm, tmp_path, aerender_sim):
    """Was: aerender launched, File Not Found, exit 4. The preflight finds it first: exit 2, no launch."""
    project = write_sample_project(tmp_path / "win.aepx", footage=["P:\\show\\plate.png"])
    record = tmp_path / "launches.jsonl"
    proc = aefarm("render", project, "--comp", "Main", "--output", tmp_path / "o" / "[compName]_[###].png",
                  "--frames", "1-4", "--concurrency", "1", "--aerender", aerender_sim, "--retries", "0",
                  "--progress", "openjd", "--log-dir", tmp_path / "logs",
                  env=dict(os.environ, AERENDER_SIM_RECORD=str(record)))
    assert proc.returncode == exitcodes.BAD_INPUT, proc.stdout + proc.stderr
    fail = [line for line in proc.stdout.splitlines() if line.startswith("openjd_fail:")]
    assert len(fail) == 1 and "P:\\show\\plate.png" in fail[0] and "no mapping rule" in fail[0]
    assert not record.exists() and not (tmp_path / "o").exists()


def test_a_failed_render_prints_one_openjd_fail_naming_the_frames(aefarm, tmp_path, aerender_sim):
    project = write_sample_project(tmp_path / "p.aepx")
    proc = aefarm("render", project, "--comp", "Main", "--output", tmp_path / "o" / "[compName]_[###].png",
                  "--frames", "1-4", "--concurrency", "1", "--aerender", aerender_sim, "--retries", "0",
                  "--progress", "openjd", "--log-dir", tmp_path / "logs",
                  env=dict(os.environ, AERENDER_SIM_LICENSE_ERROR="1"))
    assert proc.returncode == exitcodes.RENDER_FAILED
    fail = [line for line in proc.stdout.splitlines() if line.startswith("openjd_fail:")]
    assert len(fail) == 1 and "1-4" in fail[0]


def test_openjd_fail_line_for_bad_input(aefarm, tmp_path):
    proc = aefarm("render", tmp_path / "missing.aepx", "--comp", "Main", "--output", tmp_path / "x.png",
                      "--frames", "1", "--progress", "openjd")
    assert proc.returncode == exitcodes.BAD_INPUT
    assert proc.stdout.startswith("openjd_fail: project not found")


def test_demo(aefarm, tmp_path):
    proc = aefarm("demo", "--dir", tmp_path / "demo", "--progress", "log", "--frame-seconds", "0.01", check=0)
    frames = tmp_path / "demo" / "frames"
    assert sorted(p.name for p in frames.iterdir()) == [f"Main_{f:05d}.png" for f in range(1, 49, 2)]
    assert f"demo: 24 frames in {frames}" in proc.stdout
    assert all(read_frame_png(frames / f"Main_{f:05d}.png")["frame"] == f for f in range(1, 49, 2))
    assert "remap: mapped 3 reference(s) in aepx" in proc.stdout
    report = json.loads((tmp_path / "demo" / "report.json").read_text())
    assert report["ok"] and report["plan"]["concurrency"] == 4
    html = tmp_path / "demo" / "report.html"
    assert f"demo: HTML report {html}" in proc.stdout and report["html"] == str(html)
    page = html.read_text()
    # stepped 1-48x2: one -i invocation per child (stmpo.stepped), not one per frame
    assert report["stepped"]["ran"] == "increment" and report["launches"] < 24
    assert page.count('class="lane"') == 4 and page.count('class="inv ') == report["launches"]


def _job(tmp_path, project, aerender_sim, **kw):
    from engines.aftereffects.job import Job
    from stmpo.frames import FrameSet
    from stmpo.plan import PlanSettings
    from stmpo.settings import RunOptions

    return Job(project=project, output=str(tmp_path / "out" / "[compName]_[####].png"), frames=FrameSet.parse("1-4"),
               comp="Main", aerender=aerender_sim, settings=PlanSettings(concurrency=2, affinity=False),
               options=RunOptions(retries=0, kill_grace=0.5), **kw)


class _Recorder:
    def __init__(self):
        self.calls = []

    def redact(self, text):  # the watch redacts with the reporter's redactor: keep text as it is
        return text

    def __getattr__(self, name):
        return lambda *args, **kw: self.calls.append((name, args))


@pytest.mark.parametrize("fail", [False, True])
def test_render_job_installs_fonts_before_and_removes_them_after(monkeypatch, tmp_path, project, aerender_sim, fail):
    import fonts.install
    from engines.aftereffects import render

    events = []
    monkeypatch.setattr(fonts.install, "install", lambda folder, scope="user": events.append(("install", folder))
                        or "f" * 32)
    monkeypatch.setattr(fonts.install, "remove", lambda token: events.append(("remove", token)))
    real_run = render.run

    def fake_run(*args, **kwargs):
        events.append(("run",))
        if fail:
            raise RuntimeError("boom")
        return real_run(*args, **kwargs)

    monkeypatch.setattr(render, "run", fake_run)
    monkeypatch.setenv("AERENDER_SIM_FRAME_SECONDS", "0")
    (tmp_path / "fonts").mkdir()
    job = _job(tmp_path, project, aerender_sim, fonts=tmp_path / "fonts")
    if fail:
        with pytest.raises(RuntimeError):
            render.render_job(job, _Recorder(), handle_signals=False)
    else:
        assert render.render_job(job, _Recorder(), handle_signals=False).ok
    assert events == [("install", tmp_path / "fonts"), ("run",), ("remove", "f" * 32)]


def test_env_file_reaches_the_children(aefarm, project, aerender_sim, tmp_path):
    env_file = tmp_path / "env.json"
    env_file.write_text(json.dumps({"common": {"AERENDER_SIM_ERROR_EXIT0": "3"}}))
    proc = aefarm("render", project, "--comp", "Main", "--output", tmp_path / "o" / "x_[####].png", "--frames",
                  "1-4", "--concurrency", "1", "--aerender", aerender_sim, "--retries", "0", "--env-file", env_file,
                  "--progress", "log", "--log-dir", tmp_path / "logs")
    assert proc.returncode == exitcodes.RENDER_FAILED  # the variable made the simulator fail at frame 3
    # 2 was reported before the fatal line; the tree's exit proves its file closed and it is whole: delivered
    assert "missing frames: 3-4" in proc.stdout


def test_secrets_of_the_env_file_never_reach_the_logs(aefarm, project, aerender_sim, tmp_path):
    secret = "s3cr3t-f0r-the-farm"
    env_file = tmp_path / "env.json"
    env_file.write_text(json.dumps({"common": {"SHOT_API_TOKEN": secret}}))
    out = tmp_path / secret  # the simulator echoes its output path, as aerender does ("Output To: ...")
    out.mkdir()
    logs = tmp_path / "logs"
    proc = aefarm("render", project, "--comp", "Main", "--output", out / "x_[####].png", "--frames", "1-2",
                  "--concurrency", "1", "--aerender", aerender_sim, "--env-file", env_file, "--progress", "log",
                  "--log-dir", logs)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "Output To: " in proc.stdout and "***" in proc.stdout
    assert secret not in proc.stdout
    child_logs = list(logs.rglob("*.log"))
    assert child_logs and all(secret not in p.read_text() for p in child_logs)


def test_converted_dir_keeps_the_remapped_project_off_the_input_folder(aefarm, tmp_path, aerender_sim):
    footage = tmp_path / "local" / "plate.png"
    footage.parent.mkdir()
    footage.write_bytes(b"plate")
    shared = tmp_path / "share"
    shared.mkdir()
    project = write_sample_project(shared / "win.aepx", footage=["P:\\show\\plate.png"])
    work = tmp_path / "work"
    work.mkdir()
    out = tmp_path / "out"
    proc = aefarm("render", project, "--comp", "Main", "--output", out / "[compName]_[###].png", "--frames", "1-2",
                  "--concurrency", "1", "--aerender", aerender_sim, "--map", f"P:\\show={tmp_path / 'local'}",
                  "--converted-dir", work, "--progress", "log")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert [p.name for p in shared.iterdir()] == ["win.aepx"]
    converted = list(work.glob("*.aepx"))
    assert len(converted) == 1 and str(tmp_path / "local") in converted[0].read_text(encoding="utf-8")
    missing = aefarm("render", project, "--comp", "Main", "--output", out / "x_[###].png", "--frames", "1",
                     "--converted-dir", tmp_path / "nope", "--map", f"P:\\show={tmp_path / 'local'}")
    assert missing.returncode == 2 and "--converted-dir" in missing.stderr


def test_a_refused_child_command_line_leaves_no_staging_folder(aefarm, project, aerender_sim, tmp_path):
    out = tmp_path / "out"
    proc = aefarm("render", project, "--comp", "Main", "--output", out / "[#####].png", "--frames", "1-4",
                  "--concurrency", "1", "--aerender", aerender_sim, "--aerender-arg=-output", "--aerender-arg",
                  "/x", "--progress", "log", check=2)
    assert "-output" in proc.stderr.strip() and len(proc.stderr.strip().splitlines()) == 1
    assert not out.exists() or list(out.iterdir()) == []  # was: out/.aefarm-<run>-c001 left behind
