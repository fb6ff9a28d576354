"""The pure parts of stepped ranges: the numbering proof (stmpo.stepped_proof), the run's policy and the per-user
memory (stmpo.stepped), the --use-increment alias."""
from __future__ import annotations

import json

import pytest

from engines.aftereffects.cli import build_parser
from engines.aftereffects.commands.render import build_job
from stmpo.outputs import OutputPattern
from stmpo.stepped import AUTO, INCREMENT, PER_FRAME, SteppedMemory, SteppedPolicy, mode_of
from stmpo.stepped_proof import COMP, CONSECUTIVE, REPEAT, UNKNOWN, classify, comp_proven, file_regex, numbers_in

FRAMES = [1, 6, 11, 16]  # -s 1 -e 16 -i 5


def consecutive_files(start, ordinals):
    return set(range(start, start + ordinals))


# ------------------------------------------------------------------------------------------ the proof
def test_comp_numbering_is_proven_two_frames_in():
    assert not comp_proven(FRAMES, 1, {1})  # one closed ordinal proves nothing yet
    assert comp_proven(FRAMES, 2, {1, 6})
    assert comp_proven(FRAMES, 2, {1, 6, 11})  # a later file written early is still an expected number


@pytest.mark.parametrize("step", [2, 3, 5])
@pytest.mark.parametrize("start", [1, 0, 7])  # numbered from -s, or from an output module's own "Starting #"
def test_consecutive_numbering_is_never_taken_for_comp_frames(step, start):
    frames = list(range(1, 1 + 6 * step, step))
    for closed in range(2, 7):
        for ahead in range(0, 4):  # files of later ordinals already written (Multi-Frame Rendering, or early writes)
            assert not comp_proven(frames, closed, consecutive_files(start, closed + ahead)), (closed, ahead)


@pytest.mark.parametrize("step", [2, 5])
def test_repeats_and_an_ignored_increment_are_never_taken_for_comp_frames(step):
    frames = list(range(1, 1 + 4 * step, step))
    repeats = {f + k for f in frames[:2] for k in range(step)}
    assert not comp_proven(frames, 2, repeats)
    assert not comp_proven(frames, 2, set(range(1, frames[1] + 1)))  # every frame rendered, -i ignored


def test_classify_each_numbering_from_the_whole_file_set():
    assert classify(FRAMES, 5, {1, 6, 11, 16}, 4) == COMP
    assert classify(FRAMES, 5, set(range(1, 17)), 4) == REPEAT  # the last block stops at -e
    assert classify(FRAMES, 5, set(range(1, 21)), 4) == REPEAT
    assert classify(FRAMES, 5, {1, 2, 3, 4}, 4) == CONSECUTIVE
    assert classify(FRAMES, 5, {0, 1, 2, 3}, 4) == CONSECUTIVE  # from another starting number
    assert classify(FRAMES, 5, set(range(1, 17)), 16) == UNKNOWN  # a line per output frame: not trusted
    assert classify(FRAMES, 5, {1, 6, 11}, 4) == UNKNOWN  # a file missing
    assert classify(FRAMES, 5, set(), 4) == UNKNOWN
    assert classify([1, 3], 2, {1, 2}, 2) == CONSECUTIVE  # the smallest case: never REPEAT (3 is missing)


def test_file_numbers_are_read_from_the_pattern(tmp_path):
    pattern = OutputPattern(str(tmp_path / "[compName]_[####]_v[####].png"), comp="Main")
    for n in (1, 6, 12345):
        (tmp_path / pattern.frame_name(n)).write_bytes(b"x")
    (tmp_path / "Main_0002_v0002.png.tmp").write_bytes(b"x")
    (tmp_path / "Other_0003_v0003.png").write_bytes(b"x")
    assert numbers_in(str(tmp_path), file_regex(pattern)) == {1, 6, 12345}
    assert numbers_in(str(tmp_path / "nowhere"), file_regex(pattern)) == set()


# ------------------------------------------------------------------------------------------ mode and alias
def test_use_increment_is_the_old_spelling_of_increment():
    assert mode_of(AUTO, False) == AUTO
    assert mode_of(AUTO, True) == INCREMENT
    assert mode_of(PER_FRAME, True) == PER_FRAME  # an explicit --stepped wins
    with pytest.raises(ValueError):
        mode_of("sometimes", False)


@pytest.mark.parametrize("argv,mode", [([], AUTO), (["--use-increment"], INCREMENT), (["--stepped", "per-frame"],
                                       PER_FRAME), (["--stepped", "per-frame", "--use-increment"], PER_FRAME),
                                       (["--stepped=increment"], INCREMENT)])
def test_the_cli_reaches_the_run_options(tmp_path, argv, mode):
    project = tmp_path / "p.aepx"
    project.write_text("<x/>")
    args = build_parser().parse_args(["render", str(project), "--comp", "Main", "--output",
                                      str(tmp_path / "o_[####].png"), "--frames", "1-9x2", *argv])
    options = build_job(args).options
    assert mode_of(options.stepped, options.use_increment) == mode


def test_a_bad_stepped_value_is_one_line_and_exit_2(tmp_path, capsys):
    with pytest.raises(SystemExit) as exc:
        build_parser().parse_args(["render", "p.aepx", "--stepped", "sometimes"])
    assert exc.value.code == 2 and "--stepped" in capsys.readouterr().err


# ------------------------------------------------------------------------------------------ memory and policy
def test_memory_remembers_by_version_line_and_finds_it_by_executable(tmp_path):
    exe = tmp_path / "aerender"
    exe.write_text("#!/bin/sh\n")
    memory = SteppedMemory(tmp_path / "state" / "stepped.json")
    assert memory.lookup(str(exe)) == (None, None)
    memory.remember(str(exe), "aerender version 24.6x67", CONSECUTIVE)
    line, record = memory.lookup(str(exe))
    assert line == "aerender version 24.6x67" and record is not None and record["numbering"] == CONSECUTIVE
    data = json.loads((tmp_path / "state" / "stepped.json").read_text())
    assert data["versions"]["aerender version 24.6x67"]["numbering"] == CONSECUTIVE
    assert not list((tmp_path / "state").glob(".*tmp"))  # written atomically, no temporary left
    exe.write_text("#!/bin/sh\n# another build\n")  # a changed executable is not assumed to be the same version
    assert memory.lookup(str(exe)) == (None, None)


def test_an_unreadable_memory_is_ignored_and_said(tmp_path):
    path = tmp_path / "stepped.json"
    path.write_text("{not json")
    said = []
    memory = SteppedMemory(path, warn=said.append)
    assert memory.lookup(str(tmp_path / "aerender")) == (None, None)
    assert said and "ignoring" in said[0]


def test_policy_uses_what_the_memory_says(tmp_path):
    exe = tmp_path / "aerender"
    exe.write_text("x")
    memory = SteppedMemory(tmp_path / "stepped.json")
    memory.remember(str(exe), "aerender version 1.0", CONSECUTIVE)
    policy = SteppedPolicy(AUTO, str(exe), memory)
    assert not policy.use_increment and policy.remembered and "consecutively" in policy.why
    forced = SteppedPolicy(INCREMENT, str(exe), memory)  # increment ignores the memory and probes again
    assert forced.use_increment and not forced.known
    memory.remember(str(exe), "aerender version 1.0", COMP)
    policy = SteppedPolicy(AUTO, str(exe), memory)
    assert policy.use_increment and policy.known and not policy.holds(2, True)  # no probe wait


def test_policy_probe_gate_and_fallback(tmp_path):
    said = []
    policy = SteppedPolicy(AUTO, str(tmp_path / "aerender"), SteppedMemory(tmp_path / "s.json"), say=said.append)
    policy.launched(1, 1, "increment")
    assert policy.probe == (1, 1) and policy.holds(2, True) and not policy.holds(1, True)
    assert not policy.holds(2, False)  # a contiguous invocation never waits
    policy.note_line("aerender version 9.9x1")
    policy.learned(CONSECUTIVE, 1, 1)
    assert not policy.use_increment and not policy.holds(2, True) and len(said) == 1
    policy.learned(CONSECUTIVE, 2, 1)  # said once
    assert len(said) == 1
    assert json.loads((tmp_path / "s.json").read_text())["versions"]["aerender version 9.9x1"]["numbering"] \
        == CONSECUTIVE
    out = policy.to_json()
    assert out["numbering"] == CONSECUTIVE and out["fallback_invocations"] == 2 and "falling back" in out["why"]


# ------------------------------------------------------------------------------------------ handing frames out
def test_a_chunk_hands_back_frames_its_stepped_invocation_could_not_prove():
    from stmpo import handout
    from stmpo.invocation import ChunkRun
    from stmpo.targets import FrameSpace

    space = FrameSpace([[0, 1], [1, 3, 5, 7]])  # a pool: target 1's comp frames are global ids 2-5
    run = ChunkRun(chunk=1, slot=0, assigned=[2, 3, 4, 5], retry=False, last=5, launch_at=0.0)
    frames, step = handout.next_frames(run, set(), space, use_increment=True)
    assert (frames, step) == ([1, 3, 5, 7], 2)
    run.next_index = handout.index_after(run, space.to_global(1, frames[-1]))
    assert handout.next_frames(run, set(), space, True) == ([], 1)
    handout.rewind(run, space.globals_of(1, [3, 5, 7]))  # frame 1 was delivered, the rest could not be trusted
    assert handout.next_frames(run, {2}, space, use_increment=False) == ([3], 1)
    assert handout.kind_of(run, space, 1, [3]) == "per-frame"
    assert handout.kind_of(run, space, 1, [3, 5]) == "contiguous"
