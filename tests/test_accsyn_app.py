"""The accsyn compute app under the daemon's contract, end to end on the aerender simulator (a test instrument).

Every render goes through `aefarm accsyn run` (the local job runner: data.json wrapper, buckets in ACCSYN_ITEM, the
app as a subprocess) except the signal test, which runs the app directly the way the daemon does.
"""
from __future__ import annotations

import ast
import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest
from hypothesis import given
from hypothesis import strategies as st

from aerender_sim.png import read_frame_png
from engines.aftereffects.accsyn_errors import AccsynError
from engines.aftereffects.accsyn_job import (
    build_app_job,
    conversion_decision,
    parse_item,
    secrets_in,
    share_path_entries,
    split_arguments,
)
from engines.aftereffects.accsyn_local import APP_FILE, buckets, build_wrapper, read_engine_config, taskstatus_frame
from engines.aftereffects.sample_project import write_sample_project
from stmpo.frames import FrameSet

TASK_LINE = re.compile(r'^\[task [^\]]+\] (\{"taskstatus": true, "uri": "(-?\d+)", "status": "done"\})$')

SIM_ENV = {"AERENDER_SIM_FRAME_SECONDS": "0.01"}


# ------------------------------------------------------------------------------------------------ a studio
@pytest.fixture
def studio(tmp_path: Path):
    """A Windows-authored project: footage on C:\\proj (share 'projects') and a UNC plate sequence on
    \\\\srv\\share (share 'plates'); on this Linux node the shares live under tmp_path."""
    projects = tmp_path / "projects"
    plates = tmp_path / "plates"
    (projects / "scene").mkdir(parents=True)
    (projects / "foot").mkdir()
    (projects / "foot" / "logo.png").write_bytes(b"png")
    (plates / "sh010").mkdir(parents=True)
    (plates / "sh010" / "sh010.0001.exr").write_bytes(b"exr")
    project = projects / "scene" / "shot.aepx"
    write_sample_project(project, footage=["C:\\proj\\foot\\logo.png", "\\\\srv\\share\\sh010\\"])
    shares = [
        {"id": "1a", "code": "projects", "paths": {"windows": "C:\\proj", "linux": str(projects)}},
        {"id": "2b", "code": "plates", "paths": {"windows": "\\\\srv\\share", "linux": str(plates)}},
    ]
    shares_file = tmp_path / "shares.json"
    shares_file.write_text(json.dumps(shares))
    return {"root": tmp_path, "projects": projects, "plates": plates, "project": project, "shares": shares,
            "shares_file": shares_file}


def make_payload(studio, aerender: str, *, frames: str = "1-4", bucket: int = 10, conversion: str = "auto",
                 remote_os: str = "windows", mapped=None, input_path: str = "C:\\proj\\scene\\shot.aepx",
                 **parameters):
    params = {"input_conversion": conversion, "remote_os": remote_os, "comp": "Main", "aerender": aerender,
              "retries": 0, "mapped_share_paths": mapped if mapped is not None else []}
    params.update(parameters)
    return {"name": "shot", "engine": "aftereffects", "input": input_path, "output": "share=projects/renders",
            "range": frames, "settings": {"task_bucketsize": bucket}, "parameters": params,
            "envs": {"common": {"AERENDER_SIM_FRAME_SECONDS": "0.01"}}}


def run_local(aefarm, studio, payload, *extra):
    path = studio["root"] / "payload.json"
    path.write_text(json.dumps(payload))
    env = dict(os.environ, AEFARM_WORK_DIR=str(studio["root"] / "userwork"), **SIM_ENV)
    return aefarm("accsyn", "run", path, "--shares", studio["shares_file"], "--work", studio["root"] / "work",
                  "--node-os", "linux", *extra, env=env)


def reported(stdout: str):
    return sorted(int(m.group(2)) for m in map(TASK_LINE.match, stdout.splitlines()) if m)


def rendered(studio):
    folder = studio["projects"] / "renders"
    return sorted(read_frame_png(p)["frame"] for p in folder.glob("Main_*.png")) if folder.is_dir() else []


# ------------------------------------------------------------------------------------------------ end to end
needs_posix = pytest.mark.skipif(os.name != "posix", reason="the scenario is a Linux node")


@needs_posix
def test_windows_project_renders_on_linux_with_every_frame_reported(aefarm, studio, aerender_sim):
    mapped = [{"remote": "\\\\srv\\share", "local": "share=plates"}]
    proc = run_local(aefarm, studio, make_payload(studio, aerender_sim, frames="1-6", bucket=10, mapped=mapped))
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr
    assert reported(proc.stdout) == [1, 2, 3, 4, 5, 6]
    assert rendered(studio) == [1, 2, 3, 4, 5, 6]
    assert re.search(r"^\[task 1-6\] Accsyn PID\(\d+\)$", proc.stdout, re.M)
    assert re.search(r"^\[task 1-6\] Additional accsyn PID\(\d+\) - main process$", proc.stdout, re.M)
    assert "[task 1-6] !conversion: yes (input_conversion auto: the job has mapped_share_paths)" in proc.stdout
    assert "all 6 frames reported done by 1 tasks" in proc.stdout
    assert [p.name for p in (studio["projects"] / "scene").iterdir()] == ["shot.aepx"]  # nothing beside the input
    converted = list((studio["root"] / "userwork" / "converted").glob("shot.*.aepx"))
    assert len(converted) == 1  # in the user's work folder, deterministic name
    text = converted[0].read_text(encoding="utf-8")
    assert str(studio["plates"] / "sh010") in text and "C:\\proj" not in text
    assert "C:\\proj\\foot\\logo.png" in studio["project"].read_text(encoding="utf-8")  # input untouched


@needs_posix
def test_stepped_range_in_buckets_of_one_renders_only_its_frames(aefarm, studio, aerender_sim):
    proc = run_local(aefarm, studio, make_payload(studio, aerender_sim, frames="1-16x5", bucket=1))
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr
    assert reported(proc.stdout) == [1, 6, 11, 16]
    assert rendered(studio) == [1, 6, 11, 16]
    assert len(re.findall(r"^\[task (\d+)\] Accsyn PID\(\d+\)$", proc.stdout, re.M)) == 4


@needs_posix
def test_stepped_range_in_buckets_of_ten_intersects_the_item(aefarm, studio, aerender_sim):
    # 1-23x2 is 12 frames: buckets "1-19" (10 frames) and "21-23"; the app must not render the even frames.
    proc = run_local(aefarm, studio, make_payload(studio, aerender_sim, frames="1-23x2", bucket=10), "--parallel", "2")
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr
    assert "task 1-19: starting" in proc.stdout and "task 21-23: starting" in proc.stdout
    assert reported(proc.stdout) == list(range(1, 24, 2))
    assert rendered(studio) == list(range(1, 24, 2))


BOTH = [{"remote": "C:\\proj", "local": "share=projects"}, {"remote": "\\\\srv\\share", "local": "share=plates"}]


@needs_posix
@pytest.mark.parametrize("conversion, remote_os, mapped, converts", [
    ("always", "windows", [], True),
    ("platform", "windows", [], True),
    ("platform", "linux", [], False),
    ("never", "windows", [], False),
    ("auto", "windows", [], True),  # no mappings: like platform
    ("auto", "linux", BOTH, True),  # mappings given: like always, even on the same OS
    ("auto", "linux", [], False),
])
def test_input_conversion_modes(aefarm, studio, aerender_sim, conversion, remote_os, mapped, converts):
    payload = make_payload(studio, aerender_sim, frames="1-2", bucket=2, conversion=conversion,
                           remote_os=remote_os, mapped=mapped, input_path="share=projects/scene/shot.aepx")
    proc = run_local(aefarm, studio, payload)
    decision = re.search(r"^\[task 1-2\] !conversion: (yes|no) \((.*)\)$", proc.stdout, re.M)
    assert decision, proc.stdout[-3000:]
    assert decision.group(1) == ("yes" if converts else "no"), decision.group(0)
    assert decision.group(2).startswith(f"input_conversion {conversion}")
    if converts:
        assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr
        assert reported(proc.stdout) == [1, 2] and rendered(studio) == [1, 2]
    else:  # the Windows paths are not paths on Linux: the preflight refuses before aerender starts (was: launched,
        # File Not Found); the runner still names the frames
        assert proc.returncode == 4, proc.stdout[-3000:]
        assert re.search(r"^\[task 1-2\] !error: 2 footage paths are still Windows .*C:\\proj", proc.stdout, re.M)
        assert "Additional accsyn PID" not in proc.stdout  # no aerender was started
        assert "2 of 2 frames not reported done: 1-2" in proc.stdout
        assert reported(proc.stdout) == [] and rendered(studio) == []


@needs_posix
def test_missing_footage_fails_the_bucket_with_a_public_line(aefarm, studio, aerender_sim):
    write_sample_project(studio["project"], footage=["C:\\proj\\foot\\logo.png", "C:\\proj\\foot\\gone.png"])
    proc = run_local(aefarm, studio, make_payload(studio, aerender_sim, frames="1-3", bucket=10))
    assert proc.returncode == 4, proc.stdout[-3000:]
    gone = studio["projects"] / "foot" / "gone.png"
    # found by the preflight on the node, after mapping, before any aerender starts (was: File Not Found from aerender)
    assert re.search(rf"^\[task 1-3\] !error: 1 footage item missing on this node after mapping: "
                     rf"C:\\proj\\foot\\gone\.png -> {re.escape(str(gone))}", proc.stdout, re.M)
    assert "Additional accsyn PID" not in proc.stdout
    assert "tasks failed: 1-3 (exit code 2)" in proc.stdout
    assert reported(proc.stdout) == []


@needs_posix
def test_no_comp_and_an_empty_render_queue_fails_before_aerender(aefarm, studio, aerender_sim):
    """The app renders render-queue item 1 when no comp is named; an empty queue is found before any launch."""
    payload = make_payload(studio, aerender_sim, frames="1-2", bucket=2, comp=None)
    proc = run_local(aefarm, studio, payload)
    assert re.search(r"^\[task 1-2\] !no comp named: rendering render-queue item 1$", proc.stdout, re.M)
    assert re.search(r"^\[task 1-2\] !error: --rqindex 1: the render queue of .*shot\.aepx is empty; render a comp "
                     r"with --comp NAME \(its comps: 'Main'\)$", proc.stdout, re.M), proc.stdout[-3000:]
    assert "Additional accsyn PID" not in proc.stdout and "tasks failed: 1-2 (exit code 2)" in proc.stdout


@needs_posix
def test_secrets_never_reach_the_log(aefarm, studio, aerender_sim):
    payload = make_payload(studio, aerender_sim, frames="1", bucket=1, api_key="sk-live-0123456789",
                           arguments="-v ERRORS_AND_PROGRESS")
    payload["envs"]["common"]["STUDIO_API_TOKEN"] = "tok-9876543210"
    payload["envs"]["linux"] = {"RENDER_PASSWORD": "hunter2hunter2"}
    path = studio["root"] / "payload.json"
    path.write_text(json.dumps(payload))
    wrapper_dir = studio["root"] / "dev"
    wrapper_dir.mkdir()
    data = build_wrapper(payload, studio["shares"])
    (wrapper_dir / "data.json").write_text(json.dumps(data))
    env = dict(os.environ, ACCSYN_ITEM="1", AEFARM_NODE_OS="linux", **SIM_ENV)
    proc = subprocess.run([sys.executable, str(APP_FILE), "--dev", str(wrapper_dir / "data.json")],
                          capture_output=True, text=True, env=env, timeout=120)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr
    assert "dev: env = " in proc.stdout and "STUDIO_API_TOKEN" in proc.stdout  # names are shown...
    for secret in ("sk-live-0123456789", "tok-9876543210", "hunter2hunter2"):
        assert secret not in proc.stdout + proc.stderr  # ...values never
    assert "dev: extra_args = ['-v', 'ERRORS_AND_PROGRESS']" in proc.stdout
    assert (wrapper_dir / "process.pid").read_text().strip().isdigit()


@needs_posix
def test_sigterm_kills_the_whole_tree(studio, aerender_sim, tmp_path):
    payload = make_payload(studio, aerender_sim, frames="1-40", bucket=40)
    payload["envs"]["common"]["AERENDER_SIM_FRAME_SECONDS"] = "2"
    data_file = tmp_path / "task" / "data.json"
    data_file.parent.mkdir()
    data_file.write_text(json.dumps(build_wrapper(payload, studio["shares"])))
    env = dict(os.environ, ACCSYN_ITEM="1-40", AEFARM_NODE_OS="linux", AERENDER_SIM_GRANDCHILD="1")
    app = subprocess.Popen([sys.executable, str(APP_FILE), str(data_file)], stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, text=True, env=env)
    try:
        lines = []
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            line = app.stdout.readline()
            if not line:
                break
            lines.append(line)
            if "PROGRESS:  0:00:00:01 (1)" in line or "Starting composition" in line:
                break
        assert any(line.startswith("Additional accsyn PID(") for line in lines), "".join(lines)
        assert (data_file.parent / "process.pid").read_text().strip() == str(app.pid)
        assert lines[0].strip() == f"Accsyn PID({app.pid})"
        tree = []
        for _ in range(100):  # aerender launcher, its worker (After Effects' stand-in) and the worker's child
            tree = psutil.Process(app.pid).children(recursive=True)
            if len(tree) >= 3:
                break
            time.sleep(0.1)
        assert len(tree) >= 3
        app.send_signal(signal.SIGTERM)
        rest, _ = app.communicate(timeout=60)
    finally:
        if app.poll() is None:
            app.kill()
            app.wait()
    assert app.returncode == 130, rest[-2000:]
    gone, alive = psutil.wait_procs(tree, timeout=10)
    assert not alive, [p.pid for p in alive]
    assert "!cancelled" in rest


def test_probe_reports_whether_this_node_can_render(aerender_sim, tmp_path):
    good = subprocess.run([sys.executable, str(APP_FILE), "--probe"], capture_output=True, text=True,
                          env=dict(os.environ, AERENDER_PATH=aerender_sim), timeout=60)
    assert good.returncode == 0, good.stdout + good.stderr
    assert f"aerender {aerender_sim}" in good.stdout
    bad = subprocess.run([sys.executable, str(APP_FILE), "--probe"], capture_output=True, text=True,
                         env=dict(os.environ, AERENDER_PATH=str(tmp_path / "no-aerender")), timeout=60)
    assert bad.returncode == 1
    assert "!aerender not found" in bad.stdout and "no-aerender" in bad.stdout


def test_probe_without_aefarm_says_so(tmp_path):
    published = tmp_path / "aftereffects.py"  # published alone, run by a Python without aefarm (-S: no site)
    published.write_bytes(APP_FILE.read_bytes())
    proc = subprocess.run([sys.executable, "-S", str(published), "--probe"], capture_output=True, text=True,
                          cwd=str(tmp_path), timeout=60)
    assert proc.returncode == 1
    assert proc.stdout.startswith("!aefarm is not installed in this Python")


def test_bad_data_file_is_one_public_line(tmp_path):
    data_file = tmp_path / "data.json"
    data_file.write_text("{not json")
    proc = subprocess.run([sys.executable, str(APP_FILE), str(data_file)], capture_output=True, text=True,
                          timeout=60)
    assert proc.returncode == 2
    lines = proc.stdout.splitlines()
    assert lines[0] == f"Accsyn PID({lines[0][11:-1]})" and lines[0][11:-1].isdigit()
    assert lines[-1].startswith("!error: accsyn data file") and "invalid JSON" in lines[-1]
    assert "Traceback" not in proc.stdout + proc.stderr


# ------------------------------------------------------------------------------------------------ pure parts
def test_engine_config_block_is_literal():
    text = APP_FILE.read_text(encoding="utf-8")
    block = text.split("# -- ENGINE CONFIG START --")[1].split("# -- ENGINE CONFIG END --")[0]
    for line in block.split("\n\n"):
        if "=" in line:
            ast.literal_eval(line.split("=", 1)[1].strip())
    settings, parameters = read_engine_config()
    assert settings["items"] is True and settings["filename_extensions"] == ".aepx,.aep"
    assert settings["binary_filename_extensions"] == ".aep"
    assert {"default_range", "default_bucketsize", "max_bucketsize", "vendor", "color"} <= set(settings)
    assert parameters["input_conversion"] == "auto" and parameters["arguments"] == ""
    assert {"concurrency", "mfr", "retries", "min_chunk", "stall_timeout"} <= set(parameters)


@pytest.mark.parametrize("item, job, expected", [
    (None, "1-10", "1-10"), ("all", "1-10", "1-10"), ("ALL", "1-10", "1-10"), ("4", "1-10", "4"),
    ("3-7", "1-10", "3-7"), ("1-10", "1-100x5", "1,6"), ("2-4", "1-100x5", ""), ("8-12", "1-10", "8-10"),
    ("1-3 7", "1-10", "1-3,7"), ("5", None, "5"),
])
def test_item_is_intersected_with_the_job_range(item, job, expected):
    got = parse_item(item, FrameSet.parse(job) if job else None)
    assert list(got) == (list(FrameSet.parse(expected)) if expected else [])


def test_bad_item_is_one_line():
    with pytest.raises(AccsynError, match="ACCSYN_ITEM 'x-y'"):
        parse_item("x-y", FrameSet.parse("1-10"))
    with pytest.raises(AccsynError, match="no range"):
        parse_item("all", None)


def test_buckets_follow_the_range_members():
    assert buckets(FrameSet.parse("1-10"), 4) == ["1-4", "5-8", "9-10"]
    assert buckets(FrameSet.parse("1-100x5"), 2)[:2] == ["1-6", "11-16"]
    assert buckets(FrameSet.parse("7"), 10) == ["7"]
    assert taskstatus_frame('{"taskstatus": true, "uri": "12", "status": "done"}') == 12
    assert taskstatus_frame('{"taskstatus": true, "uri": "12", "status": "failed"}') is None
    assert taskstatus_frame("[chunk 1] {not json") is None


@pytest.mark.parametrize("mode, remote, mapped, expected", [
    ("always", "linux", [], True), ("never", "windows", [{"remote": "C:\\", "local": "/x"}], False),
    ("platform", "windows", [], True), ("platform", "linux", [{"remote": "C:\\", "local": "/x"}], False),
    ("platform", None, [], False), ("auto", "linux", [{"remote": "C:\\", "local": "/x"}], True),
    ("auto", "mac", [], True), ("auto", "linux", [], False), (None, "windows", [], True),
])
def test_conversion_decision(mode, remote, mapped, expected):
    assert conversion_decision(mode, remote, "linux", mapped)[0] is expected


def test_bad_conversion_mode():
    with pytest.raises(AccsynError, match="input_conversion 'sometimes'"):
        conversion_decision("sometimes", "windows", "linux", [])


def _data(**compute):
    base = {"input": "share=projects/a.aepx", "output": "share=projects/out", "range": "1-5",
            "parameters": {"comp": "Main"}}
    base.update(compute)
    return {"compute": base, "shares": [{"id": "1a", "code": "projects",
                                         "paths": {"windows": "P:\\", "linux": "/mnt/projects"}}]}


def test_share_notation_resolution_order():
    data = _data()
    assert str(build_app_job(data, "1", node_os="linux").job.project) == "/mnt/projects/a.aepx"
    data["compute"]["share_paths"] = [{"share": "1a", "path": "/job/projects"}]
    assert str(build_app_job(data, "1", node_os="linux").job.project) == "/job/projects/a.aepx"
    data["client"] = {"config": {"sharepaths": [{"share": "1a", "share_hr": "projects", "path": "/node/p"}]}}
    app = build_app_job(data, "1", node_os="linux")
    assert str(app.job.project) == "/node/p/a.aepx"
    assert app.job.output == "/node/p/out/[compName]_[#####].png"
    assert [e["path"] for e in share_path_entries(data, "linux")] == ["/node/p", "/job/projects"]


def test_remote_os_paths_need_a_rule():
    data = _data(input="Q:\\elsewhere\\a.aepx")
    data["compute"]["parameters"]["remote_os"] = "windows"
    with pytest.raises(AccsynError, match="compute.input 'Q:.*no share or mapped_share_paths"):
        build_app_job(data, "1", node_os="linux")
    data["compute"]["input"] = "P:\\shots\\a.aepx"  # the share's Windows path maps to this node's
    assert str(build_app_job(data, "1", node_os="linux").job.project) == "/mnt/projects/shots/a.aepx"


def test_explicit_mapping_wins_over_a_share_rule():
    data = _data()
    data["compute"]["parameters"].update(remote_os="windows",
                                         mapped_share_paths=[{"remote": "P:\\", "local": "/fast/projects"}])
    app = build_app_job(data, "1", node_os="linux")
    assert app.rules.map("P:\\x.png") == "/fast/projects/x.png"
    assert app.job.target_os == "linux" and len(app.job.rules) == 1


def test_envs_arguments_and_options_reach_the_job():
    data = _data(envs={"common": {"A": "1", "B": "x"}, "linux": {"B": "lin"}, "windows": {"B": "win"}})
    data["compute"]["parameters"].update(arguments="-mem_usage 40 80 -RStemplate 'Best Settings'",
                                         retries="3", concurrency=2, mfr="false", rqindex=0)
    app = build_app_job(data, "2-3", node_os="linux", defaults={"min_chunk": 4, "retries": 1})
    assert app.job.env == {"A": "1", "B": "lin"}
    assert app.job.extra_args == ["-mem_usage", "40", "80", "-RStemplate", "Best Settings"]
    assert app.job.options.retries == 3 and app.job.options.min_chunk == 4
    assert app.job.settings.concurrency == 2 and app.job.settings.mfr is False
    assert list(app.job.frames) == [2, 3] and app.job.comp == "Main" and app.job.rqindex is None


def test_every_render_option_is_a_job_parameter_with_the_tables_bounds():
    from engines.aftereffects.options import on_surface

    data = _data()
    data["compute"]["parameters"].update(schedule="static", handoff="false", fail_fast=True, kill_grace="0",
                                         stagger=2, use_increment="yes", continue_on_missing_footage=1,
                                         startup_timeout="30", stall_timeout=86400, concurrency="auto")
    job = build_app_job(data, "1", node_os="linux").job
    assert (job.options.schedule, job.options.handoff, job.options.fail_fast) == ("static", False, True)
    assert (job.options.kill_grace, job.options.stagger, job.options.use_increment) == (0.0, 2.0, True)
    assert (job.options.startup_timeout, job.options.stall_timeout) == (30.0, 86400.0)
    assert job.continue_on_missing_footage is True and job.settings.concurrency is None
    names = {o.accsyn for o in on_surface("accsyn")}
    assert {"schedule", "handoff", "fail_fast", "kill_grace", "use_increment", "continue_on_missing_footage",
            "concurrency", "stall_timeout", "aerender"} <= names
    for key, value, message in (("stall_timeout", 29, "parameters.stall_timeout 29: expected seconds from 30"),
                                ("startup_timeout", "5", "parameters.startup_timeout '5'"),
                                ("retries", 11, "parameters.retries 11"), ("schedule", "greedy", "one of dynamic"),
                                ("concurrency", 257, "from 1 to 256"), ("mfr", "maybe", "true or false")):
        bad = _data()
        bad["compute"]["parameters"][key] = value
        with pytest.raises(AccsynError, match=message):
            build_app_job(bad, "1", node_os="linux")


def test_comp_and_rqindex_together_are_one_line():
    data = _data()
    data["compute"]["parameters"].update(rqindex=2)
    with pytest.raises(AccsynError, match="exactly one of parameters.comp or parameters.rqindex is needed, got both"):
        build_app_job(data, "1", node_os="linux")


def test_aerender_path_from_the_nodes_envs_is_the_one_looked_up(tmp_path, monkeypatch, aerender_sim):
    from engines.aftereffects.render import resolve_aerender

    monkeypatch.delenv("AERENDER_PATH", raising=False)
    monkeypatch.setenv("PATH", str(tmp_path))  # nothing to find on PATH
    data = _data(envs={"linux": {"AERENDER_PATH": aerender_sim}, "windows": {"AERENDER_PATH": "C:\\ae.exe"}})
    job = build_app_job(data, "1", node_os="linux").job
    assert job.aerender is None and job.env["AERENDER_PATH"] == aerender_sim
    assert resolve_aerender(job) == aerender_sim


@needs_posix
def test_app_renders_with_the_aerender_its_envs_name(aefarm, studio, aerender_sim, tmp_path):
    """No aerender parameter and none on PATH: the AERENDER_PATH of the job's linux envs is used."""
    payload = make_payload(studio, "", frames="1-2", conversion="always",
                           mapped=[{"remote": "\\\\srv\\share", "local": "share=plates"}])
    payload["envs"]["linux"] = {"AERENDER_PATH": aerender_sim}
    path = studio["root"] / "payload.json"
    path.write_text(json.dumps(payload))
    env = {k: v for k, v in os.environ.items() if k != "AERENDER_PATH"}
    env.update(SIM_ENV, PATH="/usr/bin:/bin")  # the venv's bin (with aerender-sim) is not on PATH
    proc = aefarm("accsyn", "run", path, "--shares", studio["shares_file"], "--work", studio["root"] / "work",
                  "--node-os", "linux", env=env)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr
    assert reported(proc.stdout) == [1, 2] and rendered(studio) == [1, 2]


def test_windows_arguments_keep_backslashes():
    assert split_arguments('-log "C:\\logs\\a b.txt" -v ERRORS', "windows") == ["-log", "C:\\logs\\a b.txt",
                                                                                  "-v", "ERRORS"]
    with pytest.raises(AccsynError, match="parameters.arguments"):
        split_arguments('-log "unterminated', "linux")


def test_bad_parameters_are_one_line():
    data = _data()
    data["compute"]["parameters"]["retries"] = "many"
    with pytest.raises(AccsynError, match="parameters.retries 'many'"):
        build_app_job(data, "1", node_os="linux")


def test_secrets_in_data():
    data = {"compute": {"parameters": {"api_key": "abc123456", "n": 1}, "envs": {"common": {"X_TOKEN": "t0k3n"}}},
            "other": [{"password": "pw"}], "safe": "visible"}
    assert sorted(secrets_in(data)) == ["abc123456", "pw", "t0k3n"]


@needs_posix
def test_sigterm_to_the_local_runner_cancels_every_task(studio, aerender_sim, tmp_path):
    payload = make_payload(studio, aerender_sim, frames="1-40", bucket=20)
    payload["envs"]["common"]["AERENDER_SIM_FRAME_SECONDS"] = "2"
    path = tmp_path / "payload.json"
    path.write_text(json.dumps(payload))
    runner = subprocess.Popen(
        [sys.executable, "-m", "engines.aftereffects", "accsyn", "run", str(path), "--shares",
         str(studio["shares_file"]), "--work", str(tmp_path / "work"), "--parallel", "2"],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        started = 0
        seen = []
        deadline = time.monotonic() + 60
        while started < 2 and time.monotonic() < deadline:
            line = runner.stdout.readline()
            if not line:
                break
            seen.append(line)
            started += "Additional accsyn PID(" in line
        assert started == 2, "".join(seen)[-4000:]
        tree = []
        for _ in range(100):  # two apps, each with an aerender launcher and its worker (started a moment later)
            tree = psutil.Process(runner.pid).children(recursive=True)
            if len(tree) >= 6:
                break
            time.sleep(0.1)
        assert len(tree) >= 6
        runner.send_signal(signal.SIGTERM)
        rest, _ = runner.communicate(timeout=60)
    finally:
        if runner.poll() is None:
            runner.kill()
            runner.wait()
    assert runner.returncode == 130, rest[-2000:]
    assert "aefarm accsyn run: cancelled" in rest
    gone, alive = psutil.wait_procs(tree, timeout=10)
    assert not alive, [p.pid for p in alive]



@given(st.integers(-50, 50), st.integers(0, 60), st.integers(1, 7), st.integers(1, 12))
def test_buckets_partition_the_range(start, count, step, size):
    frames = FrameSet.from_range(start, start + count * step, step)
    items = buckets(frames, size)
    parts = [parse_item(item, frames) for item in items]
    assert sum(len(p) for p in parts) == len(frames)  # disjoint...
    union = FrameSet()
    for part in parts:
        assert 1 <= len(part) <= size
        union = union | part
    assert union == frames  # ...and complete
