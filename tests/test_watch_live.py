"""The live report (stmpo.watch.live), the tee reporter that feeds it (stmpo.watch.tee) and the watch session in a
real render (stmpo.watch.session through engines.aftereffects.render.render_job)."""
from __future__ import annotations

import io
import json
import os
import threading
import time

import pytest

from stmpo.estimate import Estimate
from stmpo.frames import FrameSet
from stmpo.progress import make_reporter
from stmpo.watch.live import LiveReport, LiveWriter
from stmpo.watch.tee import WatchReporter
from stmpo.writer import OutputWriter


class Clock:
    def __init__(self, t: float = 1000.0) -> None:
        self.t = t

    def __call__(self) -> float:
        return self.t


def scripted(live: LiveReport, clock: Clock) -> None:
    live.run_started(8, ["plan"])
    live.child_started(1, 11, FrameSet.parse("1-4"))
    live.child_started(2, 12, FrameSet.parse("5-8"))
    clock.t += 1.0
    for chunk, pid in ((1, 11), (2, 12)):
        live.child_output(chunk, pid, 'PROGRESS:  1/1/2024 1:00:00 PM: Starting composition "Main".')
    clock.t += 0.5
    assert live.child_output(1, 11, "PROGRESS:  0:00:00:01 (1): 0 Seconds")
    assert live.child_output(2, 12, "PROGRESS:  0:00:00:05 (1): 0 Seconds")
    assert live.child_output(2, 12, "WARNING:After Effects warning: Project has missing fonts. key=SECRETVALUE1")
    assert not live.child_output(1, 11, "PROGRESS:  Render Settings: Best Settings")
    live.frame_done(1)
    clock.t += 0.5
    live.child_output(1, 11, "aerender ERROR: After Effects crashed (SECRETVALUE1)")
    live.child_exited(1, 11, 1)
    live.chunk_failed(1, "aerender ERROR: crashed", retrying=True)
    live.child_started(3, 13, FrameSet.parse("2-4"))  # the retry takes the free slot 0
    live.message("[chunk 2 pid 12] stalled: no progress line for 3 s: terminating its tree")
    clock.t += 1.0
    live.child_exited(2, 12, -15)


def test_live_report_from_reporter_events():
    clock = Clock()
    live = LiveReport({"frames": "1-8", "output": "/o/[#####].png", "plan": {"concurrency": 2}}, slots=2,
                      redact=lambda text: text.replace("SECRETVALUE1", "***"), clock=clock)
    scripted(live, clock)
    data = live.to_json()
    assert data["status"] == "running" and data["ok"] is None and data["live"] is True
    assert (data["total_frames"], data["done_frames"]) == (8, 1)
    assert data["updated"] == clock.t and data["started"] == 1000.0
    chunks = {c["chunk"]: c for c in data["chunks"]}
    assert [chunks[c]["slot"] for c in (1, 2, 3)] == [0, 1, 0]
    assert chunks[3]["retry"] and not chunks[1]["retry"] and chunks[1]["status"] == "failed"
    one = chunks[1]["invocations"][0]
    assert one["exit_code"] == 1 and "***" in one["fatal"] and one["rendering"] == 1001.0
    assert chunks[1]["frame_times"] == {"1": {"seconds": 0.0, "at": 1001.5, "pid": 11}}
    assert chunks[2]["invocations"][0]["stalled"] == "stalled: no progress line for 3 s"
    assert [w["text"] for w in data["warnings"]] == [
        "WARNING:After Effects warning: Project has missing fonts. key=***"]
    assert "SECRETVALUE1" not in json.dumps(data)
    live.run_finished(False, "FAILED: 2 of 8 frames missing")
    final = live.to_json()
    assert final["status"] == "failed" and final["ok"] is False and final["ended"] == clock.t
    assert final["eta"] is None


def test_lanes_during_a_hand_off_go_to_the_slot_closest_to_its_end():
    clock = Clock()
    live = LiveReport({}, slots=2, clock=clock)
    live.run_started(12)
    live.child_started(1, 11, FrameSet.parse("1-6"))
    live.child_started(2, 12, FrameSet.parse("7-12"))
    for frame in (7, 8, 9, 10, 11):
        live.frame_done(frame)
    live.child_started(3, 13, FrameSet.parse("5-6"))  # both busy: the thief starts in slot 1 (chunk 2 nearly done)
    assert {c["chunk"]: c["slot"] for c in live.to_json()["chunks"]} == {1: 0, 2: 1, 3: 1}


def test_live_writer_writes_at_a_bounded_rate_and_never_after_close(tmp_path):
    path = tmp_path / "live.json"
    counter = {"n": 0}

    def snapshot():
        counter["n"] += 1
        return {"n": counter["n"]}

    writer = LiveWriter(path, snapshot, min_interval=0.2).start()
    began = time.monotonic()
    while time.monotonic() - began < 1.0:
        writer.poke()
        time.sleep(0.005)
    elapsed = time.monotonic() - began
    writer.close()
    written = writer.writes
    assert 2 <= written <= elapsed / 0.2 + 2  # ~200 pokes, a handful of writes
    assert json.loads(path.read_text()) == {"n": counter["n"]}  # the last snapshot, written by close()
    writer.poke()
    time.sleep(0.3)
    assert writer.writes == written and not list(tmp_path.glob(".*.tmp"))


def test_live_writer_survives_an_unwritable_folder(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    writer = LiveWriter(blocker / "report.json", lambda: {"a": 1}, min_interval=0.0)
    writer.write_now()
    assert writer.error and writer.writes == 0


class Recorder:
    kind = "openjd"

    def __init__(self) -> None:
        self.calls: list = []

    def __getattr__(self, name):
        if name.startswith("_"):
            raise AttributeError(name)
        return lambda *args, **kwargs: self.calls.append((name, args, kwargs))


def test_tee_forwards_every_call_and_adds_eta_lines():
    inner = Recorder()
    clock = Clock(0.0)
    estimate = Estimate(seconds=100.0, frames=10, concurrency=2, runs=3, timed_frames=30, startups_seen=6,
                        match="project", frame_seconds=1.0, startup=2.0, tail=0.1, overhead=0.0, exponent=None)
    tee = WatchReporter(inner, estimate=estimate, eta_every=30.0, clock=clock)
    tee.run_started(10, ["plan line"])
    tee.child_started(1, 11, "1-10")
    tee.child_output(1, 11, "PROGRESS:  0:00:00:01 (1): 0 Seconds")
    clock.t = 10.0
    tee.frame_done(1)  # too soon after the start for an ETA line
    clock.t = 50.0
    tee.frame_done(2)
    tee.child_exited(1, 11, 0)
    tee.chunk_failed(1, "why", False)
    tee.message("hello", public=False)
    tee.run_finished(True, None, "ok")
    names = [c[0] for c in inner.calls]
    assert names == ["run_started", "message", "child_started", "child_output", "frame_done", "frame_done",
                     "message", "child_exited", "chunk_failed", "message", "run_finished"]
    first, eta = inner.calls[1], inner.calls[6]
    assert first[1][0].startswith("estimate: 1m 40s wall for 10 frames") and first[2] == {"public": True}
    # 2 of 10 frames after 50 s: 80% of the history's 50 s left + 20% of the rate's 200 s
    assert eta[1][0] == "ETA 1m 20s (2/10 frames verified)" and eta[2] == {"public": True}
    assert tee.kind == "openjd"  # attributes it does not define are the real reporter's


def test_a_terminal_bar_shows_the_estimates_eta_instead_of_tqdms():
    """Over a bar no ETA message lines: the bar's own ETA is the estimate's (history blended with the rate)."""
    from stmpo.estimate import eta_seconds, format_seconds
    from stmpo.progress import BarReporter

    stream = io.StringIO()
    bar = BarReporter(OutputWriter(io.StringIO()), 10, stream=stream)
    clock = Clock(0.0)
    estimate = Estimate(seconds=100.0, frames=10, concurrency=2, runs=3, timed_frames=30, startups_seen=6,
                        match="project", frame_seconds=1.0, startup=2.0, tail=0.1, overhead=0.0, exponent=None)
    tee = WatchReporter(bar, estimate=estimate, eta_every=30.0, clock=clock)
    tee.run_started(10, [])
    clock.t = 50.0
    tee.frame_done(1)
    tee.frame_done(2)  # within a second of the last update: no new ETA
    assert bar._bar.bar_format == BarReporter.ETA_FORMAT
    # the update came at the first frame: 1 of 10 after 50 s: 90% of the history's 50 s left + 10% of the rate's 450 s
    assert bar._eta == "ETA 1m 30s (history+rate)", bar._eta
    clock.t = 60.0
    tee.frame_done(3)
    seconds, source = eta_seconds(60.0, 3, 10, 100.0)
    assert bar._eta == f"ETA {format_seconds(seconds)} ({source})" != "ETA 1m 30s (history+rate)"
    bar._bar.refresh()
    assert bar._eta in stream.getvalue()
    tee.run_finished(True, None, "done")
    assert "ETA " not in "".join(line for line in stream.getvalue().splitlines() if "estimate:" not in line
                                 and "|" not in line)  # never a message line, only in the bar


# ------------------------------------------------------------------------------------------------ a real render
@pytest.mark.slow
def test_render_writes_a_live_report_then_the_final_one_with_the_watch_fields(tmp_path, monkeypatch, aerender_sim):
    from engines.aftereffects.job import Job
    from engines.aftereffects.render import render_job
    from engines.aftereffects.sample_project import write_sample_project
    from stmpo import history
    from stmpo.plan import PlanSettings
    from stmpo.settings import RunOptions

    monkeypatch.setenv("AEFARM_STATE_DIR", str(tmp_path / "state"))
    project = write_sample_project(tmp_path / "shot.aepx")
    out = tmp_path / "out"
    out.mkdir()
    report_path = tmp_path / "reports" / "run.json"
    job = Job(project=project, output=str(out / "[compName]_[#####].png"), frames=FrameSet.parse("1-16"),
              comp="Main", aerender=aerender_sim,
              env={"AERENDER_SIM_FRAME_SECONDS": "0.15", "AERENDER_SIM_MISSING_FONT": "1"},
              settings=PlanSettings(concurrency=2, mfr=False, ram_per_child_gb=0.5),
              options=RunOptions(report=report_path, startup_timeout=60.0, stall_timeout=60.0, kill_grace=1.0,
                                 allow=("missing-fonts",)))  # missing fonts would fail the render: allowed here
    stream = io.StringIO()
    writer = OutputWriter(stream)
    reporter = make_reporter("log", writer, len(job.frames), tmp_path / "logs")
    seen = []
    stop = threading.Event()

    def poll() -> None:
        while not stop.is_set():
            if report_path.exists():
                seen.append(json.loads(report_path.read_text()))  # every read is whole JSON: atomic writes
            time.sleep(0.05)

    watcher = threading.Thread(target=poll)
    watcher.start()
    try:
        result = render_job(job, reporter, handle_signals=False)
    finally:
        stop.set()
        watcher.join()
        reporter.close()
        writer.close()
    assert result.ok, stream.getvalue()
    running = [r for r in seen if r.get("status") == "running"]
    assert running and all(r["live"] is True and r["ok"] is None for r in running)
    assert any(r["done_frames"] > 0 for r in running) or len(running) >= 1
    assert [r["done_frames"] for r in running] == sorted(r["done_frames"] for r in running)
    final = json.loads(report_path.read_text())
    assert final["status"] == "done" and final["live"] is False and final["ok"] is True
    assert final["done_frames"] == final["total_frames"] == 16 and final["missing_count"] == 0
    assert final["job"]["comp"] == "Main" and final["host"]["cpus"] >= 1 and final["pid"] == os.getpid()
    assert final["warnings"] and "missing fonts" in final["warnings"][0]["text"]
    invocations = [i for c in final["chunks"] for i in c["invocations"]]
    assert invocations and all(i["rendering"] and i["start"] < i["rendering"] < i["end"] for i in invocations)
    html = report_path.with_suffix(".html")
    assert html.is_file() and f"HTML report: {html}" in stream.getvalue()
    text = html.read_text()
    assert "missing fonts" in text and 'data-outcome="ok"' in text
    [rec] = history.load()
    assert rec.comp == "Main" and rec.concurrency == 2 and sorted(rec.frame_seconds) == list(range(1, 17))
    assert all(0.1 <= s <= 1.0 for s in rec.frame_seconds.values())  # 0.15 s per frame, measured


def _small_job(tmp_path, aerender_sim, output, report_path, frames="1-4"):
    from engines.aftereffects.job import Job
    from engines.aftereffects.sample_project import write_sample_project
    from stmpo.plan import PlanSettings
    from stmpo.settings import RunOptions

    project = write_sample_project(tmp_path / "shot.aepx")
    return Job(project=project, output=output, frames=FrameSet.parse(frames), comp="Main", aerender=aerender_sim,
               env={"AERENDER_SIM_FRAME_SECONDS": "0.05"}, settings=PlanSettings(concurrency=1, mfr=False),
               options=RunOptions(report=report_path, startup_timeout=60.0, kill_grace=1.0))


@pytest.mark.slow
def test_a_refused_render_writes_no_report(tmp_path, aerender_sim):
    from engines.aftereffects.render import render_job

    report_path = tmp_path / "run.json"
    job = _small_job(tmp_path, aerender_sim, str(tmp_path / "[compName]_[fileextension]"), report_path)
    writer = OutputWriter(io.StringIO())
    with pytest.raises(Exception, match="fileextension"):
        render_job(job, make_reporter("log", writer, 4), handle_signals=False)
    writer.close()
    assert not report_path.exists() and not report_path.with_suffix(".html").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["shot.aepx"]


@pytest.mark.slow
def test_a_render_that_breaks_mid_run_leaves_a_failed_live_report(tmp_path, aerender_sim):
    from engines.aftereffects.render import render_job

    report_path = tmp_path / "run.json"
    out = tmp_path / "out"
    out.mkdir()
    job = _small_job(tmp_path, aerender_sim, str(out / "[compName]_[#####].png"), report_path)
    writer = OutputWriter(io.StringIO())
    reporter = make_reporter("log", writer, 4)

    def broken(frame):
        raise RuntimeError("reporter broke")

    reporter.frame_done = broken  # an internal error inside the executor loop, after the run started
    with pytest.raises(RuntimeError, match="reporter broke"):
        render_job(job, reporter, handle_signals=False)
    writer.close()
    data = json.loads(report_path.read_text())
    assert data["status"] == "failed" and "reporter broke" in data["summary"] and data["ended"]
    assert "reporter broke" in report_path.with_suffix(".html").read_text()
