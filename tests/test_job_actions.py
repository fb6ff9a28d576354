"""Post-render actions: encode (real ffmpeg and ffprobe), copy (atomic), notify (a real HTTP server on 127.0.0.1,
bounded retries and timeouts; a command); `aefarm render --encode --notify`."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from job_helpers import write_audio
from webhook import Webhook, closed_port_url

from aerender_sim.png import frame_png
from engines.aftereffects.jobs.copy import copy_results
from engines.aftereffects.jobs.encode import encode, encode_command, frame_rate, stream_types
from engines.aftereffects.jobs.errors import JobError
from engines.aftereffects.jobs.notify import post_json, run_command
from engines.aftereffects.sample_project import write_sample_project
from stmpo.movies import find_ffmpeg, movie_frame_count
from stmpo.outputs import OutputPattern

TOOLS = find_ffmpeg()


def frames_at(folder: Path, frames, name: str = "shot_[#####].png") -> OutputPattern:
    folder.mkdir(parents=True, exist_ok=True)
    pattern = OutputPattern(str(folder / name), comp="Main")
    for f in frames:
        pattern.frame_path(f).write_bytes(frame_png(f, "p.aepx", "Main"))
    return pattern


def probe(path: Path, entry: str) -> str:
    return subprocess.run([TOOLS[1], "-v", "error", "-select_streams", "v:0", "-show_entries", f"stream={entry}",
                           "-of", "default=noprint_wrappers=1:nokey=1", str(path)],
                          capture_output=True, text=True, check=True).stdout.strip()


@pytest.mark.parametrize("preset, name, codec", [("h264", "m.mp4", "h264"), ("prores", "m.mov", "prores")])
def test_encode_presets_with_audio_checked_by_ffprobe(tmp_path, preset, name, codec):
    pattern = frames_at(tmp_path / "f", range(10, 13))
    audio = write_audio(tmp_path / "music.wav", 2.0)
    result = encode(pattern, [10, 11, 12], 24.0, preset, tmp_path / "d" / name, *TOOLS, audio=audio)
    movie = tmp_path / "d" / name
    assert result.path == movie and result.frames == 3 and result.audio
    assert movie_frame_count(movie, TOOLS[1]) == 3
    assert stream_types(movie, TOOLS[1]) == ["video", "audio"]
    assert probe(movie, "codec_name") == codec and probe(movie, "r_frame_rate") == "24/1"
    assert sorted(p.name for p in movie.parent.iterdir()) == [name]  # no temporary file left


def test_encode_takes_the_comps_rate():
    assert frame_rate(29.97) == frame_rate(29.970029) and str(frame_rate(29.97)) == "30000/1001"
    assert str(frame_rate(25.0)) == "25" and str(frame_rate(23.976)) == "24000/1001"
    argv = encode_command("ffmpeg", OutputPattern("/o/a%b_[###].png"), [5, 6], 29.97, "h264", Path("/d/x.mp4"))
    assert argv[argv.index("-framerate") + 1] == "30000/1001" and argv[argv.index("-start_number") + 1] == "5"
    assert argv[argv.index("-i") + 1] == "/o/a%%b_%03d.png"
    with pytest.raises(JobError, match="consecutive"):
        encode_command("ffmpeg", OutputPattern("/o/x_[###].png"), [1, 3], 24, "h264", Path("/d/x.mp4"))


def test_a_failed_encode_leaves_nothing(tmp_path):
    pattern = frames_at(tmp_path / "f", [1, 3])  # frame 2 missing: ffmpeg stops early, the count is wrong
    with pytest.raises(JobError, match="encode m.mp4"):
        encode(pattern, [1, 2, 3], 24.0, "h264", tmp_path / "d" / "m.mp4", *TOOLS)
    assert list((tmp_path / "d").iterdir()) == []
    with pytest.raises(JobError, match="audio file not found"):
        encode(pattern, [1], 24.0, "h264", tmp_path / "d" / "m.mp4", *TOOLS, audio=tmp_path / "none.wav")


def test_copy_is_atomic_and_leaves_identical_files(tmp_path):
    src = tmp_path / "a.mp4"
    src.write_bytes(b"x" * 1000)
    dest = tmp_path / "deliver" / "v1"
    assert copy_results([src], dest) == [dest / "a.mp4"]
    assert (dest / "a.mp4").read_bytes() == src.read_bytes()
    mtime = (dest / "a.mp4").stat().st_mtime_ns
    copy_results([src], dest)
    assert (dest / "a.mp4").stat().st_mtime_ns == mtime  # the same content is not rewritten
    src.write_bytes(b"y" * 10)
    copy_results([src], dest)
    assert (dest / "a.mp4").read_bytes() == b"y" * 10
    assert sorted(p.name for p in dest.iterdir()) == ["a.mp4"]


# ------------------------------------------------------------------------------------------------------ notify
def test_webhook_retries_server_errors_then_delivers():
    with Webhook(fail_first=2) as hook:
        outcome = post_json(hook.url, {"id": "1", "status": "delivered"}, retries=3, timeout=5, sleep=lambda s: None)
    assert outcome.ok and outcome.attempts == 3 and outcome.status == 200
    assert hook.bodies == [{"id": "1", "status": "delivered"}] and hook.requests == 3


def test_webhook_retries_are_bounded_and_a_client_error_is_final():
    with Webhook(fail_first=99) as hook:
        outcome = post_json(hook.url, {}, retries=2, timeout=5, sleep=lambda s: None)
    assert not outcome.ok and outcome.attempts == 3 and hook.requests == 3 and "503" in outcome.error
    with Webhook(fail_first=99, fail_status=404) as hook:
        outcome = post_json(hook.url, {}, retries=5, timeout=5, sleep=lambda s: None)
    assert not outcome.ok and outcome.attempts == 1 and outcome.status == 404


def test_webhook_timeout_and_refused_connection_are_reported():
    with Webhook(delay=1.0) as hook:
        outcome = post_json(hook.url, {}, retries=1, timeout=0.2, sleep=lambda s: None)
    assert not outcome.ok and outcome.attempts == 2 and "timed out" in outcome.error
    outcome = post_json(closed_port_url(), {}, retries=1, timeout=2, sleep=lambda s: None)
    assert not outcome.ok and outcome.attempts == 2 and outcome.error


def test_notify_command_gets_the_json_on_stdin(tmp_path):
    target = tmp_path / "got.json"
    script = f"import sys; open({str(target)!r}, 'w').write(sys.stdin.read())"
    outcome = run_command([sys.executable, "-c", script], {"id": "7"}, timeout=30)
    assert outcome.ok and json.loads(target.read_text()) == {"id": "7"}
    failing = run_command([sys.executable, "-c", "import sys; sys.exit(3)"], {}, retries=1, timeout=30,
                          sleep=lambda s: None)
    assert not failing.ok and failing.attempts == 2 and failing.status == 3
    missing = run_command([str(tmp_path / "nope")], {}, retries=3, sleep=lambda s: None)
    assert not missing.ok and missing.attempts == 1 and "could not start" in missing.error


# ------------------------------------------------------------------------------------------------------ render
@pytest.mark.slow
def test_render_encode_and_notify_options(tmp_path, aefarm, aerender_sim):
    from engines.aftereffects.sample_project import CompSpec

    project = write_sample_project(tmp_path / "p.aepx", comps=[CompSpec("Main", frame_rate=25.0)])
    out = tmp_path / "out"
    with Webhook() as hook:
        proc = aefarm("render", project, "--comp", "Main", "--output", out / "shot_[#####].png", "--frames",
                        "0-3", "--aerender", aerender_sim, "--no-mfr", "--encode", "h264", "--notify", hook.url,
                        "--progress", "log", env=dict(__import__("os").environ, AERENDER_SIM_FRAME_SECONDS="0.01"))
    assert proc.returncode == 0, proc.stderr + proc.stdout[-2000:]
    movie = out / "shot.mp4"
    assert movie_frame_count(movie, TOOLS[1]) == 4 and probe(movie, "r_frame_rate") == "25/1"
    assert len(hook.bodies) == 1
    body = hook.bodies[0]
    assert body["ok"] is True and body["actions"]["movie"]["frames"] == 4 and body["missing_count"] == 0


def test_a_notification_that_fails_never_fails_the_render(tmp_path):
    from engines.aftereffects.job import Job
    from engines.aftereffects.jobs.actions import render_actions
    from stmpo.frames import FrameSet
    from stmpo.report import RunReport

    report = RunReport(ok=True, missing=FrameSet.from_frames([]), chunks=[])
    said = []

    class Reporter:
        def message(self, text, public=False):
            said.append(text)

    with Webhook(fail_first=99, fail_status=410) as hook:  # the server refuses: final at once
        job = Job(project=tmp_path / "p.aepx", output=str(tmp_path / "s_[#####].png"),
                  frames=FrameSet.parse("1-2"), comp="Main", notify=hook.url)
        ok, done = render_actions(job, report, Reporter(), 24.0)
    assert ok and done["notify"][0]["ok"] is False and done["notify"][0]["status"] == 410
    assert said and said[-1].startswith("notify: ") and "FAILED after 1 attempts: HTTP 410" in said[-1]


@pytest.mark.parametrize("extra, words", [
    (["--encode", "h264", "--frames", "0-6x2"], "stepped"),
    (["--encode", "gif", "--frames", "0-1"], "expected one of h264, prores"),
    (["--notify", "file:///etc/passwd", "--frames", "0-1"], "http"),
])
def test_render_action_options_are_checked_first(tmp_path, aefarm, aerender_sim, extra, words):
    project = write_sample_project(tmp_path / "p.aepx")
    proc = aefarm("render", project, "--comp", "Main", "--output", tmp_path / "o" / "s_[#####].png",
                    "--aerender", aerender_sim, *extra)
    assert proc.returncode == 2 and proc.stderr.count("\n") == 1 and words in proc.stderr
    assert not (tmp_path / "o").exists()
