"""Issue 11: "verified" means complete. The six reported cases, each with its expected outcome, and their variants,
on the aerender simulator (a test instrument; its fault knobs model real aerender behaviour, docs/formats.md §7).

1 half-written last frame (cut with exit 0; no line for it; the launcher exits while its worker writes): the frame
  is re-rendered and delivered whole, nothing partial ever reaches a final name;
2 a finished render that never exits: exit 0 after the finish grace, not the stall timeout;
3, 4 missing footage / fonts / effects reported as warnings: exit 4 naming the warning, or exit 0 with --allow;
5 field-rendered (and other) frame-line variants: progress per frame while the child runs;
6 errors that will repeat: one launch, exit 4, the aerender line in the message; transient ones are retried.
"""
from __future__ import annotations

import io
import json
import os

import psutil
import pytest
from test_run import assert_frames, records, render

from aefarm_common import exitcodes
from aerender_sim.png import read_frame_png
from engines.aftereffects.job import Job
from engines.aftereffects.sample_project import write_sample_project
from stmpo.frames import FrameSet
from stmpo.plan import Plan, PlanSettings
from stmpo.progress import make_reporter
from stmpo.run import run
from stmpo.settings import RunOptions
from stmpo.writer import OutputWriter

pytestmark = pytest.mark.slow


@pytest.fixture
def project(tmp_path):
    """A project with one footage file that exists (missing-footage knobs name it)."""
    plate = tmp_path / "plate.png"
    plate.write_bytes(b"plate")
    return write_sample_project(tmp_path / "shot.aepx", footage=[str(plate)])


def once(tmp_path, **knobs):
    """Simulator knobs that fire once (the retry runs clean), recording every invocation."""
    env = {f"AERENDER_SIM_{k}": str(v) for k, v in knobs.items()}
    env.update(AERENDER_SIM_FAULT_ONCE=str(tmp_path / "once"), AERENDER_SIM_RECORD=str(tmp_path / "rec.jsonl"))
    return env


def always(tmp_path, **knobs):
    env = {f"AERENDER_SIM_{k}": str(v) for k, v in knobs.items()}
    env["AERENDER_SIM_RECORD"] = str(tmp_path / "rec.jsonl")
    return env


def invocations(report):
    return [inv for chunk in report.chunks for inv in chunk["invocations"]]


def final_names_are_whole(out):
    """Every file at a final name is a whole frame that carries its own number; the staging folders are gone."""
    for path in out.iterdir():
        assert not path.name.startswith(".aefarm-"), f"staging left: {path}"
        assert read_frame_png(path)["frame"] == int(path.stem.rsplit("_", 1)[1]), path


# ------------------------------------------------------------------------------------------ 1: the last frame

@pytest.mark.parametrize("knobs,why", [
    ({"PARTIAL_LAST_FRAME": 8}, "cut short, its line printed, exit 0"),
    ({"NO_LAST_LINE": 1}, "whole file, no line"),
    ({"NO_LAST_LINE": 1, "PARTIAL_LAST_FRAME": 8}, "the issue's case: no line and cut short"),
])
def test_case1_a_half_written_last_frame_is_rendered_again_and_delivered_whole(tmp_path, project, aerender_sim,
                                                                                knobs, why):
    report, out, log = render(tmp_path, project, aerender_sim, "1-6", 1, env=once(tmp_path, **knobs))
    assert report.ok and report.exit_code == 0, log
    assert_frames(out, range(1, 7))
    first = report.chunks[0]["invocations"][0]
    assert first["delivered"] == "1-5" and first["failure"]["reason"] == "incomplete", (why, first)
    if "PARTIAL_LAST_FRAME" in knobs and "NO_LAST_LINE" not in knobs:
        assert "truncated" in first["rejected"]["6"]  # its closed file failed the check
    retry = next(c for c in report.chunks if c["retry"])
    assert retry["frames"] == "6" and retry["invocations"][0]["delivered"] == "6"
    assert len(records(tmp_path / "rec.jsonl")) == 2


def test_case1_without_a_retry_the_cut_frame_is_missing_and_never_at_its_final_name(tmp_path, project,
                                                                                   aerender_sim):
    report, out, log = render(tmp_path, project, aerender_sim, "1-6", 2,
                              env=always(tmp_path, PARTIAL_LAST_FRAME=8), retries=0)
    assert report.exit_code == exitcodes.RENDER_FAILED
    assert list(report.missing) == [3, 6]  # the last frame of each child's chunk
    finals = sorted(p for p in out.iterdir() if not p.name.startswith("."))
    assert [p.name for p in finals] == [f"Main_{f:05d}.png" for f in (1, 2, 4, 5)]
    assert [read_frame_png(p)["frame"] for p in finals] == [1, 2, 4, 5]
    assert json.loads((tmp_path / "report.json").read_text())["frame_check"]["rejected"].keys() == {"3", "6"}


def test_case1_a_launcher_that_exits_while_its_worker_writes_is_waited_for_never_killed(tmp_path, project,
                                                                                      aerender_sim):
    """The launcher exits 0 as the worker starts the last frame; the worker keeps it half written for 1 s, then
    completes it. The executor waits for the whole tree (it does not kill the worker into a partial file); the last
    frame printed no line in that invocation, so it is rendered again and delivered whole."""
    env = once(tmp_path, LAUNCHER_EXIT_AT_LAST_FRAME=1.0)
    report, out, log = render(tmp_path, project, aerender_sim, "1-4", 1, env=env)
    assert report.ok, log
    assert_frames(out, range(1, 5))
    first = report.chunks[0]["invocations"][0]
    assert first["launcher_exit"] == 0 and first["end"] - first["launcher_end"] >= 0.5  # it outlived the launcher
    assert first["stalled"] is None and first["delivered"] == "1-3"
    orphan = next(r for r in records(tmp_path / "rec.jsonl") if r.get("orphaned"))
    assert orphan["worker_exit_code"] == 0 and orphan["frames"] == [1, 2, 3, 4]  # it finished: it was not killed
    assert "outlived the launcher" in log


def test_case1_a_worker_that_left_its_group_and_outlived_an_early_launcher_is_waited_for(tmp_path, project,
                                                                                       aerender_sim):
    """The launcher exits 0 at once; its setsid worker renders on with nobody reading its lines (found by parentage
    or, when it was orphaned before the first snapshot, by its tree tag: see test_orphans). The executor waits for
    it; its frames got no line: all are rendered again."""
    env = once(tmp_path, LAUNCHER_EXIT_AFTER=0, WORKER_SETSID=1, FRAME_SECONDS=0.1)
    report, out, log = render(tmp_path, project, aerender_sim, "1-4", 1, env=env)
    assert report.ok, log
    assert_frames(out, range(1, 5))
    first = report.chunks[0]["invocations"][0]
    assert first["launcher_exit"] == 0 and first["delivered"] == "" and first["failure"]["reason"] == "incomplete"
    orphan = next(r for r in records(tmp_path / "rec.jsonl") if r.get("orphaned"))
    assert orphan["worker_exit_code"] == 0 and orphan["frames"] == [1, 2, 3, 4]  # waited for, not killed
    assert first["end"] >= first["launcher_end"] + 0.3  # the invocation ended with its worker, not its launcher
    assert not psutil.pid_exists(orphan["worker_pid"])  # and it was reaped: no zombie left


# ------------------------------------------------------------------------------------------ 2: finished, never exits

def test_case2_a_finished_render_that_never_exits_succeeds_after_the_finish_grace(tmp_path, project, aerender_sim):
    """Every invocation prints the finish lines and hangs (no FAULT_ONCE): each tree is ended after the grace, not
    the 600 s stall timeout, and the run succeeds."""
    report, out, log = render(tmp_path, project, aerender_sim, "1-6", 2, env=always(tmp_path, HANG_AFTER_FINISH=1),
                              stall_timeout=600.0, finish_grace=0.5, retries=0)
    assert report.ok and report.exit_code == 0, log
    assert_frames(out, range(1, 7))
    for inv in invocations(report):
        assert inv["lingered"] and inv["stalled"] is None and inv["failure"] is None, inv
    assert "has not exited: ending it (not a failure)" in log


# ------------------------------------------------------------------------------------------ 3, 4: warnings

@pytest.mark.parametrize("knob,value,cls", [
    ("MISSING_FOOTAGE_WARNING", "1", "missing-footage"),  # the wording, printed after Total Time Elapsed
    ("MISSING_FOOTAGE_WARNING", "pt", "missing-footage"),  # Portuguese: the path decides
    ("MISSING_FONT", "1", "missing-fonts"),
    ("MISSING_FONT", "grouped", "missing-fonts"),
    ("MISSING_EFFECT", "plugin", "missing-effects"),
])  # every wording is classified in tests/test_diagnosis.py; these go through the executor
def test_cases3_and_4_a_warning_that_makes_frames_wrong_fails_naming_it(tmp_path, project, aerender_sim, knob,
                                                                        value, cls):
    report, out, log = render(tmp_path, project, aerender_sim, "1-6", 2, env=always(tmp_path, **{knob: value}))
    assert report.exit_code == exitcodes.RENDER_FAILED, log
    assert cls in report.reason and f"--allow {cls}" in report.reason
    assert str(report.missing) == "1-6" and [p for p in out.iterdir() if not p.name.startswith(".")] == []
    data = json.loads((tmp_path / "report.json").read_text())
    assert data["failure_kind"] == "permanent" and data["warning_classes"][cls]["fails"] is True
    assert data["warning_classes"][cls]["frames"]  # the frames of the invocations that printed it
    assert [f["reason"] for f in data["failures"]] == [cls]  # reported once
    assert not any(c["retry"] for c in data["chunks"])  # never retried


@pytest.mark.parametrize("knob,value,cls", [
    ("MISSING_FOOTAGE_WARNING", "1", "missing-footage"), ("MISSING_FONT", "1", "missing-fonts"),
    ("MISSING_EFFECT", "1", "missing-effects"),
])
def test_cases3_and_4_allowed_warnings_only_warn_and_the_report_names_the_frames_they_touched(
        tmp_path, project, aerender_sim, knob, value, cls):
    report, out, log = render(tmp_path, project, aerender_sim, "1-6", 2, env=always(tmp_path, **{knob: value}),
                              allow=(cls,))
    assert report.ok, log
    assert_frames(out, range(1, 7))
    data = json.loads((tmp_path / "report.json").read_text())
    assert data["allow"] == [cls] and data["failure_kind"] is None
    entry = data["warning_classes"][cls]
    assert entry["fails"] is False and entry["allowed"] is True and entry["frames"] == "1-6"
    assert entry["count"] == 2 and sorted(entry["chunks"]) == [1, 2]


def test_case3_continue_on_missing_footage_keeps_its_meaning(tmp_path, project, aerender_sim):
    out = tmp_path / "out"
    out.mkdir()
    job = Job(project=project, output=str(out / "[compName]_[#####].png"), frames=FrameSet.parse("1-4"), comp="Main",
              aerender=aerender_sim, settings=PlanSettings(mfr=False), continue_on_missing_footage=True,
              options=RunOptions(startup_timeout=30.0, stall_timeout=30.0, kill_grace=1.0))
    reporter = make_reporter("log", OutputWriter(io.StringIO()), 4)
    env = {**os.environ, "AERENDER_SIM_MISSING_FOOTAGE_WARNING": "1", "AERENDER_SIM_FRAME_SECONDS": "0.01"}
    report = run(Plan(concurrency=1, cpu_blocks=None), job, reporter, env=env, handle_signals=False)
    assert report.ok and report.allow == ["missing-footage"]
    assert report.warning_classes["missing-footage"]["allowed"] is True


def test_cases3_and_4_through_the_command_line_exit_4_naming_the_warning_or_0_with_allow(tmp_path, project,
                                                                                        aerender_sim, fast_render):
    out = tmp_path / "out"
    args = [project, "--comp", "Main", "--output", out / "[compName]_[#####].png", "--frames", "1-4", "--concurrency",
            "2", "--no-mfr", "--aerender", aerender_sim, "--kill-grace", "1", "--progress", "log", "--no-affinity"]
    env = {**os.environ, "AERENDER_SIM_MISSING_FONT": "1", "AERENDER_SIM_FRAME_SECONDS": "0.01"}
    failed = fast_render(*args, env=env)
    assert failed.returncode == exitcodes.RENDER_FAILED, failed.stdout[-2000:] + failed.stderr
    assert "missing-fonts" in failed.stdout.splitlines()[-1] and "--allow missing-fonts" in failed.stdout
    allowed = fast_render(*args, "--allow", "missing-fonts", env=env)
    assert allowed.returncode == 0, allowed.stdout[-2000:] + allowed.stderr
    finals = sorted(p.name for p in out.iterdir() if not p.name.startswith("."))  # the failed run's staging is kept
    assert finals == [f"Main_{f:05d}.png" for f in range(1, 5)]


# ------------------------------------------------------------------------------------------ 5: frame lines

class Order:
    """A reporter wrapper recording when frames were delivered against when children exited."""

    def __init__(self, inner):
        self.inner, self.events = inner, []

    def __getattr__(self, name):
        return getattr(self.inner, name)

    def frame_done(self, frame):
        self.events.append(("frame", frame))
        self.inner.frame_done(frame)

    def child_exited(self, chunk_id, pid, exit_code):
        self.events.append(("exit", chunk_id))
        self.inner.child_exited(chunk_id, pid, exit_code)


@pytest.mark.parametrize("knobs", [
    {"FIELDS": "U"}, {"FIELDS": "L", "NEWLINE": "cr"}, {"FPS": "29.97", "COMP_FRAMES": "40"},
    {"LANGUAGE": "pt", "NEWLINE": "crlf", "ENCODING": "cp1252"}, {"LANGUAGE": "zh", "ENCODING": "cp936"},
], ids=["field-U", "field-L-cr-only", "drop-frame", "portuguese-crlf-cp1252", "chinese-cp936"])
def test_case5_every_frame_line_variant_gives_progress_per_frame(tmp_path, project, aerender_sim, knobs):
    out = tmp_path / "out"
    out.mkdir()
    job = Job(project=project, output=str(out / "[compName]_[#####].png"), frames=FrameSet.parse("1-5"), comp="Main",
              aerender=aerender_sim, settings=PlanSettings(mfr=False),
              options=RunOptions(startup_timeout=30.0, stall_timeout=30.0, kill_grace=1.0))
    reporter = Order(make_reporter("log", OutputWriter(io.StringIO()), 5))
    env = {**os.environ, "AERENDER_SIM_FRAME_SECONDS": "0.05", **{f"AERENDER_SIM_{k}": v for k, v in knobs.items()}}
    report = run(Plan(concurrency=1, cpu_blocks=None), job, reporter, env=env, handle_signals=False)
    assert report.ok, report.summary
    exit_at = reporter.events.index(("exit", 1))
    # frames 1-4 were delivered while the child still ran (a later frame's line proved each), 5 by the finish lines
    assert [e for e in reporter.events[:exit_at] if e[0] == "frame"] == [("frame", f) for f in range(1, 6)]
    assert report.unparsed_progress["count"] == 0


def test_case5_a_frame_line_that_does_not_parse_is_counted_and_named(tmp_path, project, aerender_sim):
    wrapper = tmp_path / "aerender-x"
    wrapper.write_text(f"""#!/bin/sh
{aerender_sim} "$@" | sed -u 's/(\\([0-9]*\\)):/(\\1X):/'
""")
    wrapper.chmod(0o755)
    report, out, log = render(tmp_path, project, str(wrapper), "1-3", 1, retries=0)
    assert report.exit_code == exitcodes.RENDER_FAILED
    assert report.unparsed_progress["count"] == 3 and "(1X)" in report.unparsed_progress["lines"][0]
    assert "does not parse" in log


# ------------------------------------------------------------------------------------------ 6: retry policy

def test_case6_a_typo_in_the_comp_name_costs_one_launch_with_three_children(tmp_path, project, aerender_sim):
    """With the pilot: one launch. (The preflight of every entry point refuses an unknown comp before any launch;
    this runs the executor directly, as an error the preflight cannot see would reach it.)"""
    out = tmp_path / "out"
    out.mkdir()
    job = Job(project=project, output=str(out / "[compName]_[#####].png"), frames=FrameSet.parse("1-30"),
              comp="Mian", aerender=aerender_sim, settings=PlanSettings(mfr=False),
              options=RunOptions(startup_timeout=30.0, stall_timeout=30.0, kill_grace=1.0, retries=3, pilot=True,
                                 report=tmp_path / "report.json"))
    stream = io.StringIO()
    reporter = make_reporter("log", OutputWriter(stream), 30)
    env = {**os.environ, "AERENDER_SIM_RECORD": str(tmp_path / "rec.jsonl")}
    report = run(Plan(concurrency=3, cpu_blocks=None), job, reporter, env=env, handle_signals=False)
    assert report.exit_code == exitcodes.RENDER_FAILED
    assert len(invocations(report)) == 1  # one After Effects launch
    assert "aerender ERROR: No comp was found with the given name." in report.summary
    assert report.failure_kind == "permanent" and len(report.failures) == 1
    assert report.failures[0]["reason"] == "comp-not-found" and str(report.missing) == "1-30"


def test_case6_two_children_that_start_at_once_report_the_error_once_and_retry_nothing(tmp_path, aerender_sim):
    """Without the pilot both children start at once and both hit File Not Found: both launches are paid, the error
    is reported once (naming both chunks), and nothing is retried or launched after them."""
    project = write_sample_project(tmp_path / "shot.aepx", footage=[str(tmp_path / "gone.png")])
    report, out, log = render(tmp_path, project, aerender_sim, "1-8", 2, retries=2, pilot=False,
                              env=always(tmp_path))
    launches = records(tmp_path / "rec.jsonl")
    assert report.exit_code == exitcodes.RENDER_FAILED, log
    assert len(launches) == 2
    assert len(report.failures) == 1 and sorted(report.failures[0]["chunks"]) == [1, 2]
    assert report.failures[0]["kind"] == "permanent" and "File Not Found" in report.failures[0]["text"]
    assert log.count("-- not retried; no further aerender launches") == 1
    assert not any(c["retry"] for c in report.chunks) and str(report.missing) == "1-8"


def test_case6_an_error_every_child_hits_ends_the_others_at_once_and_the_report_says_it_once(tmp_path, project,
                                                                                         aerender_sim):
    """No pilot (the default): three children start at once; one of them reports missing fonts (an error of the
    project: every child renders with substitutes). The other two are ended at once instead of rendering on."""
    report, out, log = render(tmp_path, project, aerender_sim, "1-30", 3, retries=2,
                              env=once(tmp_path, MISSING_FONT=1, FRAME_SECONDS=0.2))
    assert report.exit_code == exitcodes.RENDER_FAILED and "missing-fonts" in report.reason
    assert len(invocations(report)) == 3 and not any(c["retry"] for c in report.chunks)
    failed = [c for c in report.chunks if c["invocations"][0]["failure"]
              and c["invocations"][0]["failure"]["kind"] == "permanent"]
    others = [c for c in report.chunks if c not in failed]
    assert len(failed) == 1 and len(others) == 2
    for chunk in others:  # stopped long before their 10 frames of 0.2 s
        assert chunk["status"] == "stopped" and "missing-fonts" in chunk["reason"], chunk
        delivered = chunk["invocations"][0]["delivered"]
        assert not delivered or len(FrameSet.parse(delivered)) < 10
    assert len(report.failures) == 1 and log.count("-- not retried; no further aerender launches") == 1
    delivered = {int(p.stem.split("_")[1]) for p in out.iterdir() if not p.name.startswith(".")}
    assert set(report.missing) == set(range(1, 31)) - delivered  # what the stopped children proved stays


@pytest.mark.parametrize("knobs,reason", [
    ({"ANOTHER_INSTANCE": 1}, "another-instance"), ({"LICENSE_ERROR": 1}, "licence"),
    ({"CRASH_AT_FRAME": 2}, "crash"), ({"HANG_AT_FRAME": 2}, "stall"),
])
def test_case6_transient_failures_are_retried(tmp_path, project, aerender_sim, knobs, reason):
    report, out, log = render(tmp_path, project, aerender_sim, "1-4", 1, env=once(tmp_path, **knobs),
                              stall_timeout=1.0)
    assert report.ok, log
    assert_frames(out, range(1, 5))
    assert report.failure_kind == "transient" and report.failures[0]["reason"] == reason
    assert any(c["retry"] for c in report.chunks)


@pytest.mark.parametrize("kind", ["accsyn", "openjd"])
def test_the_farm_reporters_count_only_proven_frames(tmp_path, project, aerender_sim, kind):
    out = tmp_path / "out"
    out.mkdir()
    job = Job(project=project, output=str(out / "[compName]_[#####].png"), frames=FrameSet.parse("1-4"), comp="Main",
              aerender=aerender_sim, settings=PlanSettings(mfr=False),
              options=RunOptions(startup_timeout=30.0, stall_timeout=30.0, kill_grace=1.0, retries=0))
    stream = io.StringIO()
    writer = OutputWriter(stream)
    reporter = make_reporter(kind, writer, 4)
    env = {**os.environ, "AERENDER_SIM_PARTIAL_LAST_FRAME": "8", "AERENDER_SIM_FRAME_SECONDS": "0.01"}
    report = run(Plan(concurrency=1, cpu_blocks=None), job, reporter, env=env, handle_signals=False)
    reporter.close()
    writer.close()
    text = stream.getvalue()
    assert report.exit_code == exitcodes.RENDER_FAILED and list(report.missing) == [4]
    if kind == "accsyn":
        done = [json.loads(line)["uri"] for line in text.splitlines() if line.startswith('{"taskstatus"')]
        assert done == ["1", "2", "3"]
    else:
        progress = [float(line.split()[1]) for line in text.splitlines() if line.startswith("openjd_progress:")]
        assert max(progress) == 75.0 and "openjd_fail:" in text
