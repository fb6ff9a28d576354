"""The scheduler's laws, checked without processes: a discrete-event model of aerender children drives it."""
from __future__ import annotations

import heapq
import os
from typing import Callable, Dict, List, Optional, Set

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from stmpo.scheduler import Scheduler
from stmpo.scheduler_types import ChunkFailed, Done, Fail, Kill, Start, StopAfter, split_even


# --------------------------------------------------------------------------------------------- a model of aerender
class Model:
    """Children render their original -s..-e range in order (aerender cannot be told to stop); faults by frame."""

    def __init__(self, sched: Scheduler, startup: float, cost: Callable[[int], float],
                 crash: Optional[Callable[[int, int], bool]] = None,
                 hang: Optional[Callable[[int, int], bool]] = None, stall_timeout: float = 50.0):
        self.s, self.startup, self.cost = sched, startup, cost
        self.crash = crash or (lambda child, frame: False)
        self.hang = hang or (lambda child, frame: False)
        self.stall_timeout = stall_timeout
        self.queue: list = []
        self.seq = 0
        self.alive: Dict[int, bool] = {}
        self.verified_by: Dict[int, List[int]] = {}
        self.kills: Set[int] = set()
        self.starts: List[Start] = []
        self.now = 0.0
        self.result = None
        self.events = 0

    def push(self, t, kind, child, frame=None):
        self.seq += 1
        heapq.heappush(self.queue, (t, self.seq, kind, child, frame))

    def apply(self, actions):
        for a in actions:
            if isinstance(a, Start):
                self.starts.append(a)
                self.alive[a.chunk] = True
                t = self.now + self.startup
                for f in a.frame_list:
                    if self.hang(a.chunk, f):
                        self.push(t + self.stall_timeout, "exit", a.chunk, False)
                        break
                    t += self.cost(f)
                    if self.crash(a.chunk, f):
                        self.push(t, "exit", a.chunk, False)
                        break
                    self.push(t, "frame", a.chunk, f)
                else:
                    self.push(t, "exit", a.chunk, True)
            elif isinstance(a, Kill):
                self.kills.add(a.chunk)
                self.push(self.now, "exit", a.chunk, False)
            elif isinstance(a, (Done, Fail)):
                assert self.result is None, "the run ended twice"
                self.result = a
            self.s.check_invariants()
        # work conservation: queued frames never wait while a slot is idle
        assert not (self.s.pending and self.s.stopping is None and self.s._free_slots())

    def run(self, max_events=200000, tick=0.1):
        self.apply(self.s.begin(0.0))
        if tick:
            self.push(tick, "tick", None)
        while self.queue:
            t, _, kind, child, payload = heapq.heappop(self.queue)
            if kind == "tick":
                if not self.s.finished:
                    self.now = t
                    self.apply(self.s.tick(t))
                    self.push(t + tick, "tick", None)
                continue
            if not self.alive.get(child):
                continue
            self.now = t
            self.events += 1
            assert self.events < max_events, "the run does not end"
            if kind == "frame":
                if child in self.s.chunks and self.s.chunks[child].owns(payload):
                    self.verified_by.setdefault(payload, []).append(child)
                self.apply(self.s.frame_done(child, payload, t))
            else:
                self.alive[child] = False
                self.apply(self.s.chunk_ended(child, payload, t))
        assert self.result is not None, "no Done/Fail"
        assert self.s.finished and not self.s.chunks
        return self.result


def makespan_efficiency(frames, slots, startup, cost, mode, handoff=True):
    s = Scheduler(frames, slots, min_chunk=1, mode=mode, handoff=handoff)
    m = Model(s, startup, cost)
    assert isinstance(m.run(), Done)
    m.now = max(m.now, max((st.last_done_at or 0) for st in s.history.values()))
    ideal = startup + sum(cost(f) for f in frames) / slots
    return ideal / m.now


def skewed(f):
    return 0.05 if f <= 180 else 0.25


# --------------------------------------------------------------------------------------------- examples
def test_split_even_sizes_differ_by_at_most_one():
    parts = split_even(list(range(10)), 3)
    assert [len(p) for p in parts] == [4, 3, 3]
    assert sum(parts, []) == list(range(10))
    assert split_even([1, 2], 5) == [[1], [2]]


def test_begin_is_an_equal_contiguous_split():
    s = Scheduler(range(1, 101), 4)
    actions = s.begin(0.0)
    starts = [a for a in actions if isinstance(a, Start)]
    assert [a.slot for a in starts] == [0, 1, 2, 3]
    assert [(a.frame_list[0], a.frame_list[-1]) for a in starts] == [(1, 25), (26, 50), (51, 75), (76, 100)]


def test_min_chunk_limits_the_number_of_children():
    s = Scheduler(range(1, 11), 8, min_chunk=4)
    starts = [a for a in s.begin(0.0) if isinstance(a, Start)]
    assert [len(a.frame_list) for a in starts] == [5, 5]


def test_no_frames_is_done_at_once():
    assert Scheduler([], 4).begin(0.0) == [Done()]


def test_idle_slot_steals_the_back_of_the_longest_remainder():
    s = Scheduler(range(1, 21), 2, handoff=False)
    s.begin(0.0)
    for t, f in enumerate(range(11, 21)):
        s.frame_done(2, f, 1.0 + t)
    s.frame_done(1, 1, 1.0)
    actions = s.chunk_ended(2, True, 11.0)
    stop = [a for a in actions if isinstance(a, StopAfter)]
    start = [a for a in actions if isinstance(a, Start)]
    assert len(stop) == 1 and stop[0].chunk == 1 and len(start) == 1
    assert start[0].slot == 1 and start[0].frame_list[-1] == 10
    assert stop[0].last_frame == start[0].frame_list[0] - 1
    s.check_invariants()
    # the victim is killed once its shrunk assignment is verified
    kills = []
    for f in range(2, stop[0].last_frame + 1):
        kills += [a for a in s.frame_done(1, f, 12.0 + f) if isinstance(a, Kill)]
    assert [k.chunk for k in kills] == [1]


def test_no_steal_when_the_remainder_is_shorter_than_a_start_up():
    s = Scheduler(range(1, 9), 2, handoff=False)
    s.begin(0.0)
    # start-up 5 s, frames 0.1 s: child 1 has 3 frames (0.3 s) left, not worth a new child
    for i, f in enumerate(range(1, 2)):
        s.frame_done(1, f, 5.0)
    s.frame_done(1, 2, 5.1)
    for i, f in enumerate(range(5, 9)):
        s.frame_done(2, f, 5.0 + i * 0.1)
    actions = s.chunk_ended(2, True, 5.4)
    assert not [a for a in actions if isinstance(a, (Start, StopAfter))]


def test_static_never_steals():
    s = Scheduler(range(1, 101), 2, mode="static")
    s.begin(0.0)
    for f in range(51, 101):
        s.frame_done(2, f, 1.0)
    assert not [a for a in s.chunk_ended(2, True, 2.0) if isinstance(a, Start)]


def test_failed_child_frames_are_retried_then_lost():
    s = Scheduler(range(1, 11), 1, retries=1)
    s.begin(0.0)
    s.frame_done(1, 1, 1.0)
    actions = s.chunk_ended(1, False, 2.0, "crashed")
    fails = [a for a in actions if isinstance(a, ChunkFailed)]
    assert fails and fails[0].retrying and fails[0].frame_list == tuple(range(2, 11))
    start = [a for a in actions if isinstance(a, Start)]
    assert start and start[0].frame_list == tuple(range(2, 11)) and start[0].retry
    actions = s.chunk_ended(start[0].chunk, False, 3.0, "crashed again")
    assert [a for a in actions if isinstance(a, ChunkFailed)][0].retrying is False
    end = actions[-1]
    assert isinstance(end, Fail) and end.missing_list == tuple(range(2, 11))


def test_exit_zero_with_frames_missing_is_a_failure():
    s = Scheduler(range(1, 4), 1, retries=0)
    s.begin(0.0)
    s.frame_done(1, 1, 1.0)
    actions = s.chunk_ended(1, True, 2.0)
    assert isinstance(actions[-1], Fail) and actions[-1].missing_list == (2, 3)


def test_fail_fast_kills_everyone_and_fails():
    s = Scheduler(range(1, 41), 4, retries=0, fail_fast=True)
    s.begin(0.0)
    actions = s.chunk_ended(1, False, 1.0, "crashed")
    assert sorted(a.chunk for a in actions if isinstance(a, Kill)) == [2, 3, 4]
    assert not [a for a in actions if isinstance(a, Start)]
    for c in (2, 3):
        assert not [a for a in s.chunk_ended(c, False, 2.0) if isinstance(a, Start)]
    end = s.chunk_ended(4, False, 2.0)
    assert isinstance(end[-1], Fail) and end[-1].missing_list == tuple(range(1, 41))
    assert "fail-fast" in end[-1].reason


def test_cancel_kills_live_children_and_ends_with_fail():
    s = Scheduler(range(1, 11), 2)
    s.begin(0.0)
    s.frame_done(1, 1, 1.0)
    kills = s.cancel("cancelled by SIGTERM")
    assert sorted(k.chunk for k in kills) == [1, 2]
    s.chunk_ended(1, False, 2.0)
    end = s.chunk_ended(2, False, 2.0)
    assert isinstance(end[-1], Fail) and end[-1].missing_list == tuple(range(2, 11))


def test_halt_starts_nothing_more_lets_live_chunks_finish_and_fails_with_the_reason():
    s = Scheduler(range(1, 31), 3, retries=3)
    s.begin(0.0)
    s.frame_done(2, 11, 1.0)
    actions = s.halt("permanent failure (comp-not-found): aerender ERROR: No comp was found")
    assert not [a for a in actions if isinstance(a, (Kill, Start))]  # live chunks are not killed
    assert not [a for a in s.chunk_ended(1, False, 2.0, "no comp") if isinstance(a, Start)]  # no retry
    assert s.failures == {} and set(range(1, 11)) <= s.lost
    for f in range(12, 21):
        assert not [a for a in s.frame_done(2, f, 3.0) if isinstance(a, Start)]  # and no steal for the idle slot
    s.chunk_ended(2, True, 4.0)
    end = s.chunk_ended(3, False, 4.0)
    assert isinstance(end[-1], Fail) and end[-1].missing_list == tuple(range(1, 11)) + tuple(range(21, 31))
    assert end[-1].reason.startswith("permanent failure (comp-not-found)")
    s.check_invariants()


def test_halt_with_kill_stops_live_chunks_too():
    s = Scheduler(range(1, 21), 2)
    s.begin(0.0)
    assert sorted(a.chunk for a in s.halt("warning missing-fonts", kill=True) if isinstance(a, Kill)) == [1, 2]


def test_a_chunk_launched_late_measures_its_start_up_from_its_launch():
    s = Scheduler(range(1, 21), 2)
    s.begin(0.0)
    s.launched(2, 5.0)  # held behind a pilot until t=5
    s.frame_done(2, 11, 6.0)
    s.frame_done(1, 1, 1.0)
    assert sorted(s._startups) == [1.0, 1.0]


def test_frames_outside_the_assignment_are_ignored():
    s = Scheduler(range(1, 11), 2)
    s.begin(0.0)
    assert s.frame_done(1, 9, 1.0) == []
    assert 9 not in s.verified


def test_stepped_frames_are_split_in_order():
    s = Scheduler(range(1, 49, 2), 4)
    starts = [a for a in s.begin(0.0) if isinstance(a, Start)]
    assert starts[0].frame_list == (1, 3, 5, 7, 9, 11)


def test_bad_arguments():
    with pytest.raises(ValueError):
        Scheduler([1], 0)
    with pytest.raises(ValueError):
        Scheduler([1], 1, mode="greedy")


# --------------------------------------------------------------------------------------------- efficiency (model)
def test_dynamic_beats_static_on_the_skewed_scenario_in_the_model():
    frames = range(1, 241)
    dynamic = makespan_efficiency(frames, 4, 1.0, skewed, "dynamic")
    no_handoff = makespan_efficiency(frames, 4, 1.0, skewed, "dynamic", handoff=False)
    static = makespan_efficiency(frames, 4, 1.0, skewed, "static")
    assert static < 0.5
    assert no_handoff >= 0.85
    assert dynamic > no_handoff  # the thieves' start-up overlaps the end of the children they replace


def test_handoff_starts_a_thief_in_the_slot_of_a_finishing_child():
    s = Scheduler(range(1, 41), 2)
    s.begin(0.0)
    # start-up 1 s; child 1 renders 0.1 s frames, child 2 (frames 21-40) renders 1 s frames
    actions = []
    for i, f in enumerate(range(1, 12)):
        actions += s.frame_done(1, f, 1.0 + 0.1 * i)
    actions += s.frame_done(2, 21, 1.0)
    assert not [a for a in actions if isinstance(a, Start)]  # child 2's rate is not known yet
    actions += s.frame_done(2, 22, 2.0)
    actions += s.tick(2.05)  # child 1 has 9 frames (0.9 s) left: less than one start-up
    starts = [a for a in actions if isinstance(a, Start)]
    assert len(starts) == 1 and starts[0].slot == 0 and 1 in s.chunks
    assert [a.chunk for a in actions if isinstance(a, StopAfter)] == [2]
    s.check_invariants()
    assert s.tick(2.1) == []  # one hand-off per slot


def test_dynamic_does_not_hurt_the_uniform_scenario_in_the_model():
    assert makespan_efficiency(range(1, 241), 4, 1.0, lambda f: 0.05, "dynamic") >= 0.95


# --------------------------------------------------------------------------------------------- laws (hypothesis)
@settings(max_examples=int(os.environ.get("AEFARM_HYPOTHESIS_EXAMPLES", "300")))
@given(
    n_frames=st.integers(0, 60),
    step=st.integers(1, 3),
    slots=st.integers(1, 6),
    min_chunk=st.integers(1, 5),
    mode=st.sampled_from(["dynamic", "static"]),
    retries=st.integers(0, 2),
    fail_fast=st.booleans(),
    startup=st.sampled_from([0.0, 0.5, 3.0]),
    costs=st.lists(st.sampled_from([0.0, 0.01, 0.1, 1.0]), min_size=1, max_size=8),
    crash_frames=st.sets(st.integers(1, 180), max_size=4),
    hang_frames=st.sets(st.integers(1, 180), max_size=2),
    faults_once=st.booleans(),
    handoff=st.booleans(),
)
def test_laws_every_frame_one_owner_nothing_lost_or_duplicated_and_the_run_ends(
        n_frames, step, slots, min_chunk, mode, retries, fail_fast, startup, costs, crash_frames, hang_frames,
        faults_once, handoff):
    frames = list(range(1, 1 + n_frames * step, step))
    fired: Set[int] = set()

    def fault(kind_frames):
        def check(child, frame):
            if frame not in kind_frames or (faults_once and frame in fired):
                return False
            fired.add(frame)
            return True
        return check

    s = Scheduler(frames, slots, min_chunk=min_chunk, mode=mode, retries=retries, fail_fast=fail_fast,
                  handoff=handoff)
    m = Model(s, startup, lambda f: costs[f % len(costs)], crash=fault(crash_frames), hang=fault(hang_frames))
    result = m.run()
    # verified exactly once, only frames of the job
    assert all(len(owners) == 1 for owners in m.verified_by.values())
    assert set(m.verified_by) == s.verified <= set(frames)
    if isinstance(result, Done):
        assert s.verified == set(frames) and not s.lost
    else:
        assert isinstance(result, Fail)
        assert set(result.missing_list) == set(frames) - s.verified
        assert result.missing_list
    # no frame without faults is lost unless the run was stopped
    if s.stopping is None:
        assert s.lost == set(frames) - s.verified
    # never more live children than slots (checked in invariants) and no idle slot while work is queued
    if not crash_frames and not hang_frames:
        assert isinstance(result, Done)
    # a frame can be failed at most retries+1 times
    assert all(v <= retries + 1 for v in s.failures.values())
