"""The executor's parts apart from its loop: delivery proofs, the end-of-run verdict, the report's shape, cancel by
signal. No aerender runs here: staged files are written by hand."""
from __future__ import annotations

import os
import signal
import sys
import threading

import pytest

from stmpo.accounting import judge_run, present_at_start
from stmpo.cancel import SignalCancel, cancel_signals
from stmpo.delivery import FrameDelivery
from stmpo.invocation import ChunkRun, Invocation, exit_reason
from stmpo.outputs import OutputPattern, Staging
from stmpo.report import chunk_json
from stmpo.scheduler_types import Done, Fail


def invocation(frames, seq=1):
    return Invocation(seq=seq, frames=list(frames), step=1, argv=["aerender"], started=0.0, started_wall=0.0)


@pytest.fixture
def setup(tmp_path):
    pattern = OutputPattern(str(tmp_path / "out" / "[compName]_[#####].png"), comp="Main")
    (tmp_path / "out").mkdir()
    staging = Staging(pattern, run_id="test")
    warnings = []
    delivery = FrameDelivery(pattern, staging, warn=warnings.append)
    return pattern, staging, delivery, warnings


def png(frame):
    from aerender_sim.png import frame_png

    return frame_png(frame, "shot.aepx", "Main")


def stage(staging, pattern, chunk, frame, data=None):
    path = pattern.frame_path(frame, staging.folder(chunk))
    path.write_bytes(png(frame) if data is None else data)
    return path


def test_a_later_line_proves_every_frame_reported_before_it_and_nothing_proves_a_frame_without_a_line(setup):
    pattern, staging, delivery, _ = setup
    inv = invocation([5, 6, 7, 8])
    assert delivery.on_frame_line(inv, 5) == []  # its own line is not proof its file is closed
    assert delivery.on_frame_line(inv, 6) == [5]
    assert delivery.on_frame_line(inv, 6) == []  # a repeated line proves nothing new
    assert delivery.on_frame_line(inv, 8) == [6]  # 7 printed no line: it is never proven
    assert delivery.on_tree_exit(inv, clean=True) == [8]
    assert delivery.on_tree_exit(inv, clean=True) == []


def test_the_comp_finished_lines_prove_the_last_frame_and_a_killed_tree_proves_what_had_its_line(setup):
    pattern, staging, delivery, _ = setup
    inv = invocation([1, 2])
    delivery.on_frame_line(inv, 1)
    delivery.on_frame_line(inv, 2)
    assert delivery.on_comp_finished(inv) == [2]
    other = invocation([3, 4], seq=2)
    delivery.on_frame_line(other, 3)
    assert delivery.on_tree_exit(other, clean=False) == [3]  # crashed or killed: closed all the same (then checked)


def test_frames_reported_after_a_fatal_line_are_never_delivered(setup):
    pattern, staging, delivery, _ = setup
    inv = invocation([1, 2, 3])
    proven = delivery.on_frame_line(inv, 1)
    inv.trusted_upto = len(inv.reported)  # the executor marks the first fatal line here
    proven += delivery.on_frame_line(inv, 2)
    proven += delivery.on_frame_line(inv, 3)
    proven += delivery.on_tree_exit(inv, clean=False)
    assert proven == [1] and inv.closed == 3


def test_deliver_checks_the_staged_file_and_moves_only_owned_whole_frames(setup):
    pattern, staging, delivery, warnings = setup
    stage(staging, pattern, 1, 5)
    assert not delivery.deliver(1, 5, owned=False)  # a thief's frame now: the victim's copy never moves
    assert not pattern.frame_path(5).exists()
    assert delivery.deliver(1, 5, owned=True) and pattern.frame_path(5).read_bytes() == png(5)
    assert not delivery.deliver(1, 6, owned=True)  # nothing staged
    stage(staging, pattern, 1, 7, data=png(7)[:40])  # cut short: the PNG walk finds it
    inv = invocation([7])
    assert not delivery.deliver(1, 7, owned=True, inv=inv)
    assert not pattern.frame_path(7).exists() and "7" not in str(delivery.delivered)
    assert "PNG" in inv.rejected[7], inv.rejected
    assert delivery.delivered == {5} and set(delivery.rejected) == {6, 7}
    assert any("frame 7 not delivered" in w for w in warnings)


def test_a_format_without_a_check_is_delivered_when_closed_and_not_empty_and_said_once(tmp_path):
    pattern = OutputPattern(str(tmp_path / "out" / "[compName]_[#####].sgi"), comp="Main")
    (tmp_path / "out").mkdir()
    staging = Staging(pattern, run_id="test")
    warnings = []
    delivery = FrameDelivery(pattern, staging, warn=warnings.append)
    assert not delivery.checked
    inv = invocation([1, 2])
    delivery.on_frame_line(inv, 1)
    delivery.on_frame_line(inv, 2)
    assert delivery.on_tree_exit(inv, clean=False) == []  # a crash could have cut frame 2 short: not proven
    assert delivery.on_tree_exit(inv, clean=True) == [2]
    for frame in (1, 2):
        pattern.frame_path(frame, staging.folder(1)).write_bytes(b"SGI" * frame)
        assert delivery.deliver(1, frame, owned=True)
    pattern.frame_path(3, staging.folder(1)).write_bytes(b"")
    assert not delivery.deliver(1, 3, owned=True)
    assert len([w for w in warnings if "no structural check" in w]) == 1


def test_a_frame_that_cannot_be_moved_is_not_delivered_and_says_why(setup, monkeypatch):
    pattern, staging, delivery, warnings = setup
    stage(staging, pattern, 2, 3)

    def refuse(*args, **kwargs):
        raise PermissionError("read-only output folder")

    monkeypatch.setattr(staging, "move_checked", refuse)
    assert not delivery.deliver(2, 3, owned=True)
    assert delivery.delivered == set() and len(warnings) == 1 and "[chunk 2]" in warnings[0]


def test_withdraw_takes_an_invocations_frames_back_into_staging(setup):
    pattern, staging, delivery, _ = setup
    inv = invocation([1, 2])
    for frame in (1, 2):
        stage(staging, pattern, 1, frame)
        assert delivery.deliver(1, frame, owned=True, inv=inv)
    assert delivery.withdraw(1, inv) == [1, 2]
    assert not pattern.frame_path(1).exists() and pattern.frame_path(1, staging.folder(1)).read_bytes() == png(1)
    assert delivery.delivered == set() and delivery.withdrawn == {1, 2} and inv.delivered == []


def test_verdict_counts_only_frames_this_run_delivered_that_are_still_the_files_delivered(setup):
    pattern, staging, delivery, _ = setup
    for frame in (1, 2, 4):
        stage(staging, pattern, 1, frame)
        assert delivery.deliver(1, frame, owned=True)
    pattern.frame_path(3).write_bytes(png(3))  # on disk but not delivered: proves nothing
    pattern.frame_path(2).unlink()  # delivered, then gone
    pattern.frame_path(4).write_bytes(png(4)[:50])  # delivered, then replaced by a cut file
    verdict = judge_run(delivery=delivery, all_frames=[1, 2, 3, 4], skipped=[], result=Done(), cancelled=False,
                        cancel_event=threading.Event(), cancel_reason="cancelled", ffmpeg=None)
    assert not verdict.ok and str(verdict.missing) == "2-4"
    assert verdict.reason == "frames missing after the render"
    assert verdict.summary.startswith("FAILED: 3 of 4 frames missing (2-4)")


def test_verdict_ok_and_cancelled(setup):
    pattern, staging, delivery, _ = setup
    stage(staging, pattern, 1, 1)
    delivery.deliver(1, 1, owned=True)
    pattern.frame_path(2).write_bytes(b"kept by --resume")
    ok = judge_run(delivery=delivery, all_frames=[1, 2], skipped=[2], result=Done(), cancelled=False,
                   cancel_event=threading.Event(), cancel_reason="cancelled", ffmpeg=None)
    assert ok.ok and not ok.missing and ok.summary.startswith("rendered 1 frames (1 already present), all 2 verified")
    assert not staging.folder_path(1).exists()  # removed after success
    stopped = judge_run(delivery=delivery, all_frames=[1, 2], skipped=[2], result=Fail((), "cancelled by SIGTERM"),
                        cancelled=True, cancel_event=threading.Event(), cancel_reason="cancelled by SIGTERM",
                        ffmpeg=None)
    assert not stopped.ok and stopped.cancelled and stopped.reason == "cancelled by SIGTERM"


def test_a_permanent_failure_fails_the_verdict_even_with_every_frame_delivered(setup):
    pattern, staging, delivery, _ = setup
    stage(staging, pattern, 1, 1)
    delivery.deliver(1, 1, owned=True)
    verdict = judge_run(delivery=delivery, all_frames=[1], skipped=[], result=Done(), cancelled=False,
                        cancel_event=threading.Event(), cancel_reason="", ffmpeg=None,
                        failure_reason="permanent failure (comp-not-found): aerender ERROR: No comp was found")
    assert not verdict.ok and "comp-not-found" in verdict.summary and not verdict.missing


def test_resume_keeps_only_whole_frames(setup):
    pattern, _, _, _ = setup
    pattern.frame_path(2).write_bytes(png(2))
    pattern.frame_path(3).write_bytes(png(3)[:-5])  # the end is missing
    pattern.frame_path(4).write_bytes(b"x")
    assert present_at_start(pattern, [1, 2, 3, 4], None) == ([1, 3, 4], [2])


def test_exit_reasons():
    run = ChunkRun(chunk=1, slot=0, assigned=[1], retry=False, last=1, launch_at=0.0)
    inv = invocation([1])
    inv.exit_code, inv.fatal = 0, "After Effects error: no comp"
    assert exit_reason(run, inv, clean=False) == "After Effects error: no comp (exit code 0)"
    inv.exit_code, inv.fatal = 3, None
    assert exit_reason(run, inv, clean=False) == "exit code 3"
    run.killed = "cancelled"
    assert exit_reason(run, inv, clean=False) == "stopped: cancelled"


def test_report_chunk_fields_keep_their_names(tmp_path):
    run = ChunkRun(chunk=3, slot=1, assigned=[1, 2], retry=True, last=2, launch_at=0.0, initial=[1, 2, 3, 4])
    inv = invocation([1, 2])
    inv.pid, inv.exit_code = 4242, 0
    run.invocations.append(inv)
    data = chunk_json(run, lambda chunk, pid: tmp_path / f"chunk-{chunk:03d}-pid-{pid}.log")
    assert set(data) == {"chunk", "slot", "frames", "final_frames", "stolen_after", "retry", "retries_before",
                         "status", "reason", "start", "end", "pid", "exit_code", "invocations", "frame_times", "logs"}
    assert (data["chunk"], data["slot"], data["frames"], data["final_frames"], data["stolen_after"]) == (
        3, 1, "1-4", "1-2", 2)
    assert set(data["invocations"][0]) == {"pid", "frames", "argv", "start", "end", "exit_code", "fatal", "stalled",
                                           "failure", "reported", "delivered", "rejected", "warnings", "lingered",
                                           "launcher_exit", "launcher_end", "found_by_tag", "unparsed"}
    assert data["logs"] == [str(tmp_path / "chunk-003-pid-4242.log")]


def test_cancel_signals_of_this_os():
    names = [s.name for s in cancel_signals()]
    assert names[:2] == ["SIGINT", "SIGTERM"]
    assert ("SIGBREAK" in names) == (sys.platform == "win32")


@pytest.mark.skipif(sys.platform == "win32", reason="sends SIGTERM to itself")
def test_sigterm_cancels_with_its_name_and_the_previous_handler_comes_back():
    reasons = []
    before = signal.getsignal(signal.SIGTERM)
    with SignalCancel(reasons.append):
        assert signal.getsignal(signal.SIGTERM) is not before
        os.kill(os.getpid(), signal.SIGTERM)  # Python runs the handler before the next line
    assert reasons == ["cancelled by SIGTERM"]
    assert signal.getsignal(signal.SIGTERM) is before


def test_signal_handlers_are_left_alone_off_the_main_thread():
    reasons = []
    entered = []

    def worker():
        with SignalCancel(reasons.append) as cancel:
            entered.append(dict(cancel.previous))

    thread = threading.Thread(target=worker)
    thread.start()
    thread.join(10)
    assert entered == [{}]

