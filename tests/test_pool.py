"""Several renders through one pool of children (``stmpo.targets``): the scheduler's groups never mix in a chunk
and never leave a slot idle while a render waits; the executor delivers, judges and reports each target on its own;
one target's failure is its own; a single job runs exactly as it always did."""
from __future__ import annotations

import io
import os
import random
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from aerender_sim.png import read_frame_png
from engines.aftereffects.job import Job
from engines.aftereffects.sample_project import write_sample_project
from stmpo.frames import FrameSet
from stmpo.plan import Plan, PlanSettings
from stmpo.progress import make_reporter
from stmpo.run import Executor, run
from stmpo.scheduler import Scheduler
from stmpo.scheduler_types import ChunkFailed, Fail, Kill, Start
from stmpo.settings import RunOptions
from stmpo.targets import FrameSpace
from stmpo.writer import OutputWriter


# ------------------------------------------------------------------------------------------------------ pure
def test_frame_space_maps_targets_into_one_space_and_back():
    space = FrameSpace([[0, 1, 2], [5, 7, 9], [-3, -2]])
    assert space.all_globals() == list(range(8))
    assert [space.locate(g) for g in range(8)] == [(0, 0), (0, 1), (0, 2), (1, 5), (1, 7), (1, 9), (2, -3), (2, -2)]
    assert all(space.to_global(*space.locate(g)) == g for g in range(8))
    assert space.groups([0, 2, 4, 6, 7]) == [[0, 2], [4], [6, 7]]
    single = FrameSpace([[10, 11, 12]])  # one target: the ids are the comp frames, no groups
    assert single.identity and single.all_globals() == [10, 11, 12] and single.locate(11) == (0, 11)
    assert single.groups([10, 11]) is None


@settings(max_examples=60)
@given(sizes=st.lists(st.integers(1, 9), min_size=1, max_size=12), slots=st.integers(1, 6),
       min_chunk=st.integers(1, 3), seed=st.integers(0, 10 ** 6))
def test_groups_never_share_a_chunk_and_no_slot_idles_while_a_group_waits(sizes, slots, min_chunk, seed):
    rng = random.Random(seed)
    groups, start = [], 0
    for size in sizes:
        groups.append(list(range(start, start + size)))
        start += size
    owner = {f: i for i, g in enumerate(groups) for f in g}
    sched = Scheduler(range(start), slots, min_chunk=min_chunk, groups=groups, handoff=False)
    now = 0.0

    def check(actions):
        for action in actions:
            if isinstance(action, Start):
                assert len({owner[f] for f in action.frame_list}) == 1, action  # one render per chunk
        sched.check_invariants()
        busy = {c.slot for c in sched.chunks.values()}
        assert not (sched.pending and len(busy) < slots), "a slot idles while a render waits"

    check(sched.begin(now))
    while not sched.finished:
        now += 1.0
        chunk = rng.choice(sorted(sched.chunks))
        state = sched.chunks[chunk]
        if state.remaining:
            check(sched.frame_done(chunk, state.remaining[0], now))
        elif chunk in sched.chunks:
            check(sched.chunk_ended(chunk, True, now))
    assert sched.verified == set(range(start))


def test_groups_must_split_the_frames():
    with pytest.raises(ValueError):
        Scheduler(range(4), 2, groups=[[0, 1], [1, 2, 3]])
    with pytest.raises(ValueError):
        Scheduler(range(4), 2, groups=[[0, 1]])


# ------------------------------------------------------------------------------------------------------ executor
FAST = {"AERENDER_SIM_FRAME_SECONDS": "0.01"}


def job_for(tmp_path: Path, name: str, spec: str, aerender: str, footage=()) -> Job:
    project = write_sample_project(tmp_path / f"{name}.aepx", footage=list(footage))
    options = RunOptions(startup_timeout=30.0, stall_timeout=30.0, kill_grace=1.0, retries=1)
    return Job(project=project, output=str(tmp_path / name / "[compName]_[#####].png"),
               frames=FrameSet.parse(spec), comp="Main", aerender=aerender, settings=PlanSettings(mfr=False),
               options=options)


def pool_run(tmp_path, jobs, children):
    stream = io.StringIO()
    writer = OutputWriter(stream)
    reporter = make_reporter("log", writer, sum(len(j.frames) for j in jobs), tmp_path / "logs")
    executors = []
    report = run(Plan(concurrency=children, cpu_blocks=None), jobs[0], reporter, env={**os.environ, **FAST},
                 handle_signals=False, targets=jobs, executor_out=executors)
    reporter.close()
    writer.close()
    return report, executors[0], stream.getvalue()


@pytest.mark.slow
def test_a_pool_renders_each_target_to_its_own_output(tmp_path, aerender_sim):
    jobs = [job_for(tmp_path, "a", "0-3", aerender_sim), job_for(tmp_path, "b", "5-9x2", aerender_sim),
            job_for(tmp_path, "c", "10-11", aerender_sim)]
    report, executor, log = pool_run(tmp_path, jobs, 2)
    assert report.ok, log[-3000:]
    assert [r.ok for r in executor.target_reports] == [True, True, True]
    for job in jobs:
        folder = Path(job.output).parent
        names = sorted(p.name for p in folder.iterdir())
        assert names == [f"Main_{f:05d}.png" for f in job.frames]  # nothing else: staging removed
        for f in job.frames:
            assert read_frame_png(folder / f"Main_{f:05d}.png")["project"] == Path(job.project).name
    data = report.to_json()
    assert [t["project"] for t in data["targets"]] == [str(j.project) for j in jobs]
    for chunk in data["chunks"]:  # each chunk rendered one target's frames only
        frames = set(jobs[chunk["target"]].frames)
        for inv in chunk["invocations"]:
            assert set(FrameSet.parse(inv["frames"])) <= frames
    stepped = [inv for c in data["chunks"] if c["target"] == 1 for inv in c["invocations"]]
    # the stepped target runs as -i invocations (stmpo.stepped), its frames mapped from the pool's global ids
    assert sorted(f for inv in stepped for f in FrameSet.parse(inv["frames"])) == [5, 7, 9]
    assert all(inv["argv"][inv["argv"].index("-i") + 1] == "2" for inv in stepped if inv["frames"].count("x"))
    assert any("-i" in inv["argv"] for inv in stepped) and data["stepped"]["ran"] == "increment"


@pytest.mark.slow
def test_one_targets_failure_is_its_own(tmp_path, aerender_sim):
    missing = tmp_path / "gone.png"
    jobs = [job_for(tmp_path, "a", "0-1", aerender_sim),
            job_for(tmp_path, "b", "0-1", aerender_sim, footage=[str(missing)]),  # File Not Found: permanent
            job_for(tmp_path, "c", "0-1", aerender_sim)]
    report, executor, log = pool_run(tmp_path, jobs, 2)
    assert not report.ok and report.exit_code == 4
    assert [r.ok for r in executor.target_reports] == [True, False, True]
    assert str(executor.target_reports[1].missing) == "0-1"
    assert "2 of 3 renders verified" in report.summary
    for name in ("a", "c"):
        assert sorted(p.name for p in (tmp_path / name).iterdir()) == ["Main_00000.png", "Main_00001.png"]


@pytest.mark.slow
def test_a_permanent_failure_halts_its_own_target_only(tmp_path, aerender_sim):
    """The failing target renders first, alone: its permanent failure (File Not Found) must not halt the targets
    queued behind it, and its frames are not retried."""
    jobs = [job_for(tmp_path, "b", "0-1", aerender_sim, footage=[str(tmp_path / "gone.png")]),
            job_for(tmp_path, "a", "0-2", aerender_sim)]
    report, executor, log = pool_run(tmp_path, jobs, 1)
    assert [r.ok for r in executor.target_reports] == [False, True], log[-3000:]
    assert "permanent" in executor.target_reports[0].reason or "File Not Found" in executor.target_reports[0].reason
    data = report.to_json()
    assert data["failure_kind"] == "permanent"
    launches_of_b = [inv for c in data["chunks"] if c["target"] == 0 for inv in c["invocations"]]
    assert len(launches_of_b) == 1  # not retried
    assert sorted(p.name for p in (tmp_path / "a").iterdir()) == [f"Main_{f:05d}.png" for f in range(3)]


def test_halting_one_group_keeps_the_others_running():
    sched = Scheduler(range(6), 1, groups=[[0, 1, 2], [3, 4, 5]], handoff=False, retries=3)
    (start,) = [a for a in sched.begin(0.0) if isinstance(a, Start)]
    assert start.frame_list == (0, 1, 2)
    actions = sched.halt("permanent failure (file-not-found)", kill=True, frames=[0, 1, 2])
    assert [a.chunk for a in actions if isinstance(a, Kill)] == [start.chunk]
    actions = sched.chunk_ended(start.chunk, False, 1.0, "killed")
    (failed,) = [a for a in actions if isinstance(a, ChunkFailed)]
    assert failed.frame_list == (0, 1, 2) and not failed.retrying  # a halted group is not retried
    (nxt,) = [a for a in actions if isinstance(a, Start)]
    assert nxt.frame_list == (3, 4, 5)  # the other group starts in the freed slot
    for f in (3, 4, 5):
        sched.frame_done(nxt.chunk, f, 2.0)
    result = sched.chunk_ended(nxt.chunk, True, 3.0)[-1]
    assert isinstance(result, Fail) and result.missing_list == (0, 1, 2)
    assert result.reason == "permanent failure (file-not-found)"
    sched.check_invariants()


def test_a_single_job_is_the_identity_space(tmp_path):
    job = job_for(tmp_path, "a", "3-5", "aerender")
    executor = Executor(Plan(concurrency=1, cpu_blocks=None), job, make_reporter("log", OutputWriter(io.StringIO())),
                        job.options, "aerender")
    assert executor.space.identity and executor.space.all_globals() == [3, 4, 5]
    assert executor.pattern is executor.targets[0].pattern and len(executor.targets) == 1
