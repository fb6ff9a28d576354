"""`aefarm frames SPEC --chunk-size K` shows exactly the tasks Deadline Cloud makes of the same range and size.

Held against openjd-model three ways: its list-chunking function (property test), its StepParameterSpaceIterator on
our real image template, and `openjd run` of a template whose tasks print their chunk.
"""
from __future__ import annotations

import contextlib
import io
import re
import subprocess
import sys
from pathlib import Path
from typing import List

import pytest
import yaml
from hypothesis import given
from hypothesis import strategies as st
from openjd.model import StepParameterSpaceIterator, create_job, decode_job_template, preprocess_job_parameters
from openjd.model._step_param_space_iter import divide_int_list_into_contiguous_chunks

from engines.aftereffects.cli import main
from engines.aftereffects.deadline_bundle import template_path
from engines.aftereffects.task_chunks import consecutive_runs, task_chunks
from stmpo.frames import FrameSet

REPO = Path(__file__).resolve().parents[1]
OPENJD = str(Path(sys.executable).parent / "openjd")
CASES = [  # (frames, chunk size): plain, uneven, stepped, negative, gaps, runs that touch, one frame
    ("1-10", 3), ("1-10", 4), ("1-100", 7), ("-5-5", 4), ("-7--1,1-9:4", 3), ("1-9:4,10-12", 3),
    ("1-5,8-12", 4), ("0-20:2", 5), ("7", 1), ("1-3,4-6", 2), ("-20--10:5,-9-0", 6),
]


def ours(frames: str, size: int) -> List[str]:
    """What `aefarm frames SPEC --chunk-size K --format openjd` prints (run in this process: fast)."""
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        assert main(["frames", frames, "--chunk-size", str(size), "--format", "openjd"]) == 0
    return out.getvalue().split()


def same(a: List[str], b: List[str]) -> bool:
    """Chunk lists equal as frame sets, in order (OpenJD writes `5-5`, we write `5`)."""
    return [FrameSet.parse(x) for x in a] == [FrameSet.parse(x) for x in b]


def template_chunks(frames: str, size: int) -> List[str]:
    """The task chunks openjd-model's iterator makes with our image template (what Deadline Cloud schedules)."""
    path = template_path("image")
    template = decode_job_template(template=yaml.safe_load(path.read_text(encoding="utf-8")),
                                   supported_extensions=["TASK_CHUNKING"])
    values = {"ProjectFile": "/p.aepx", "CompName": "Main", "OutputDir": "/out", "Frames": frames,
              "ChunkSize": str(size)}
    params = preprocess_job_parameters(job_template=template, job_parameter_values=values,
                                       job_template_dir=path.parent, current_working_dir=REPO)
    job = create_job(job_template=template, job_parameter_values=params)
    return [task["Frame"].value for task in StepParameterSpaceIterator(space=job.steps[0].parameterSpace)]


def test_the_issue_example():
    assert [str(c) for c in task_chunks(FrameSet.parse("1-10"), 3)] == ["1-3", "4-5", "6-8", "9-10"]


@pytest.mark.parametrize("frames, size", CASES)
def test_cli_chunks_are_the_templates_tasks(frames, size):
    assert same(ours(frames, size), template_chunks(FrameSet.parse(frames).to_openjd(), size))


@given(st.lists(st.tuples(st.integers(-30, 30), st.integers(0, 12), st.integers(1, 4)), min_size=1, max_size=4),
       st.integers(1, 9))
def test_chunks_equal_openjd_models_for_any_frame_set(pieces, size):
    frames = FrameSet()
    for start, count, step in pieces:
        frames = frames | FrameSet.from_range(start, start + count * step, step)
    expected = divide_int_list_into_contiguous_chunks(size, list(frames))
    got = list(task_chunks(frames, size))
    assert same([c.to_openjd() for c in got], expected)
    assert [f for c in got for f in c] == list(frames)  # every frame once, in order


def test_huge_ranges_walk_runs_not_frames():
    frames = FrameSet.parse("0-999999999")
    assert list(consecutive_runs(frames)) == [(0, 999999999)]
    chunks = list(task_chunks(frames, 10 ** 8))
    assert len(chunks) == 10 and sum(len(c) for c in chunks) == 10 ** 9


def test_too_many_chunks_is_one_line_exit_2(aefarm):
    proc = aefarm("frames", "0-99999999", "--chunk-size", "1", check=2)
    assert proc.stdout == "" and proc.stderr.count("\n") == 1 and "use a larger --chunk-size" in proc.stderr


SHOW_TEMPLATE = """
specificationVersion: jobtemplate-2023-09
extensions: [TASK_CHUNKING]
name: show chunks
parameterDefinitions:
{params}
steps:
{steps}
"""
STEP = """
  - name: S{n}
    parameterSpace:
      taskParameterDefinitions:
        - name: Frame
          type: CHUNK[INT]
          range: "{{{{Param.Frames{n}}}}}"
          chunks: {{defaultTaskCount: "{{{{Param.Size{n}}}}}", rangeConstraint: CONTIGUOUS}}
    script:
      actions:
        onRun: {{command: echo, args: ["CHUNK {n} {{{{Task.Param.Frame}}}}"]}}
"""


@pytest.mark.slow
@pytest.mark.skipif(sys.platform == "win32", reason="the tasks run `echo`")
def test_cli_chunks_are_what_openjd_run_runs(tmp_path):
    cases = [("1-10", 3), ("-7--1,1-9:4,10-12", 3), ("-3-2,5-6", 4)]
    params = "\n".join(f"  - {{name: Frames{n}, type: STRING}}\n  - {{name: Size{n}, type: INT}}"
                       for n in range(len(cases)))
    steps = "".join(STEP.format(n=n) for n in range(len(cases)))
    template = tmp_path / "show.yaml"
    template.write_text(SHOW_TEMPLATE.format(params=params, steps=steps))
    argv = [OPENJD, "run", str(template)]
    for n, (frames, size) in enumerate(cases):
        argv += ["-p", f"Frames{n}={FrameSet.parse(frames).to_openjd()}", "-p", f"Size{n}={size}"]
    proc = subprocess.run(argv, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr
    ran = re.findall(r"\tCHUNK (\d+) (\S+)$", proc.stdout, re.M)
    for n, (frames, size) in enumerate(cases):
        assert same(ours(frames, size), [chunk for step, chunk in ran if int(step) == n]), (frames, size)
