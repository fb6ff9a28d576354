"""Timings read from a run report (stmpo.runstats) and the chart geometry drawn from them (stmpo.watch.charts)."""
from __future__ import annotations

import pytest
from watch_helpers import T0, chunk, faulty_report, invocation, report

from stmpo import runstats
from stmpo.watch import charts


def test_frame_times_are_gaps_between_progress_lines_and_startup_ends_at_starting_composition():
    rep = report([chunk(1, 0, [invocation(7, "1-3", 0.0, 4.5, rendering=1.0)],
                        {1: (1.5, 7), 2: (2.5, 7), 3: (4.0, 7)})], "1-3", 1, wall=5.0)
    [view] = runstats.invocations(rep)
    assert [m.frame for m in view.marks] == [1, 2, 3]
    assert [m.seconds for m in view.marks] == pytest.approx([0.5, 1.0, 1.5])
    assert view.startup == pytest.approx(1.0) and view.tail == pytest.approx(0.5)
    assert view.outcome == runstats.OK


def test_without_starting_composition_the_first_frame_takes_the_median_gap_or_aerenders_figure():
    rep = report([chunk(1, 0, [invocation(7, "1-3", 0.0, 4.0)], {1: (2.0, 7), 2: (2.4, 7), 3: (2.8, 7)}),
                  chunk(2, 1, [invocation(8, "4-5", 0.0, 9.0)], {4: (5.0, 8, 3.0), 5: (5.4, 8)})],
                 "1-5", 2, wall=9.0)
    views = {v.chunk: v for v in runstats.invocations(rep)}
    assert views[1].marks[0].seconds == pytest.approx(0.4)  # aerender said 0 s: the run's median gap
    assert views[1].startup == pytest.approx(1.6)
    assert views[2].marks[0].seconds == pytest.approx(3.0)  # aerender's whole seconds when >= 1
    assert views[2].startup == pytest.approx(2.0)


def test_outcomes_of_a_faulty_run():
    views = runstats.invocations(faulty_report())
    outcome = {v.chunk: v.outcome for v in views}
    assert outcome == {1: runstats.FAILED, 2: runstats.STALLED, 3: runstats.OK, 4: runstats.KILLED}
    assert [v.retry for v in sorted(views, key=lambda v: v.chunk)] == [False, False, True, True]
    assert "crashed" in next(v.reason for v in views if v.chunk == 1)


def test_running_invocations_and_live_status():
    rep = report([chunk(1, 0, [invocation(7, "1-3", 0.0, None, exit_code=None)], {1: (1.0, 7)})], "1-3", 1, 2.0)
    rep.update({"status": "running", "ok": None, "ended": None, "done_frames": 1, "total_frames": 3})
    [view] = runstats.invocations(rep)
    assert view.outcome == runstats.RUNNING and view.end is None
    summary = runstats.summarize(rep, now=T0 + 4.0)
    assert summary.status == "running" and summary.verified == 1 and summary.missing == 0
    assert summary.wall == pytest.approx(4.0) and summary.efficiency is None
    assert runstats.live_children(rep) == 1


@pytest.mark.parametrize("fields, status", [({"ok": True}, "done"), ({"ok": False}, "failed"),
                                            ({"ok": False, "cancelled": True}, "cancelled"),
                                            ({"status": "running", "ok": None}, "running")])
def test_report_status(fields, status):
    assert runstats.report_status(fields) == status


def test_summary_ideal_and_efficiency_follow_their_definition():
    rep = faulty_report()
    views = runstats.invocations(rep)
    summary = runstats.summarize(rep, views)
    # delivered frames counted once (their last rendering): 1,2 from chunk 1; 3,4 from chunk 3; 5,6; 7,8
    marks = runstats.frame_times(views)
    assert sorted(marks) == list(range(1, 9))
    assert summary.frame_time == pytest.approx(sum(m.seconds for m in marks.values()))
    startups = sorted(v.startup for v in views)
    median = (startups[1] + startups[2]) / 2
    assert summary.startup_median == pytest.approx(median)
    assert summary.ideal == pytest.approx(summary.frame_time / 2 + median)
    assert summary.efficiency == pytest.approx(summary.ideal / 8.2)
    assert (summary.verified, summary.missing, summary.slots) == (8, 0, 2)
    assert (summary.failed, summary.stalled, summary.killed, summary.retries) == (1, 1, 1, 2)
    assert summary.idle == pytest.approx(max(0.0, 2 * 8.2 - summary.busy))


def test_slots_never_fewer_than_the_slots_used():
    rep = report([chunk(1, 3, [invocation(7, "1", 0.0, 1.0)], {1: (0.5, 7)})], "1", 2, 1.0)
    assert runstats.slots_of(rep) == 4


def test_timeline_has_one_lane_per_slot_and_one_bar_per_invocation():
    rep = faulty_report()
    views = runstats.invocations(rep)
    geometry = charts.timeline(views, 2, T0, T0 + 8.2)
    assert [lane["slot"] for lane in geometry["lanes"]] == [0, 1]
    assert len(geometry["bars"]) == len(views) == 4
    by_chunk = {b.chunk: b for b in geometry["bars"]}
    assert by_chunk[2].stall_x is not None and by_chunk[2].stall_x < by_chunk[2].x + by_chunk[2].w
    assert all(b.x >= geometry["plot_x"] and b.x + b.w <= geometry["plot_x"] + geometry["plot_w"] + 1.5
               for b in geometry["bars"])
    assert by_chunk[3].x > by_chunk[1].x  # later start, further right
    assert geometry["axis"][0][1] == "0s"


def test_a_hand_off_draws_the_overlapping_child_on_a_second_track():
    rep = report([chunk(1, 0, [invocation(7, "1-4", 0.0, 5.0)], {}),
                  chunk(2, 0, [invocation(8, "5-6", 4.0, 8.0)], {})], "1-6", 1, 8.0)
    bars = charts.timeline(runstats.invocations(rep), 1, T0, T0 + 8.0)["bars"]
    assert bars[0].y != bars[1].y and bars[0].h == bars[1].h < charts.LANE


def test_frame_chart_marks_the_slowest_frame_and_groups_long_runs():
    marks = {f: runstats.FrameMark(f, T0 + f, 1.0 + (f == 7), 0.0) for f in range(1, 11)}
    chart = charts.frame_chart(marks, retried=[3])
    assert len(chart["bars"]) == 10 and chart["slowest"] == 7
    assert [b["frame"] for b in chart["bars"] if b["slowest"]] == [7]
    assert [b["frame"] for b in chart["bars"] if b["retry"]] == [3]
    tall = max(chart["bars"], key=lambda b: b["h"])
    assert tall["frame"] == 7
    many = {f: runstats.FrameMark(f, T0 + f, 0.1, 0.0) for f in range(1, 5001)}
    assert len(charts.frame_chart(many)["bars"]) <= charts.MAX_FRAME_BARS


def test_breakdown_shares_add_up():
    summary = runstats.summarize(faulty_report())
    parts = charts.breakdown(summary)
    assert [p["css"] for p in parts] == ["frames", "startup", "waste", "idle"]
    assert sum(p["share"] for p in parts) == pytest.approx(1.0, abs=0.02)
