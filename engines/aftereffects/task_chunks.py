"""The chunks Deadline Cloud makes of a frame range: Open Job Description TASK_CHUNKING with CONTIGUOUS ranges.

Our templates (`openjd/aftereffects-image|video`) split ``Frames`` into tasks with a ``CHUNK[INT]`` parameter
(``defaultTaskCount: ChunkSize``, ``rangeConstraint: CONTIGUOUS``). `aefarm frames SPEC --chunk-size K` must show
exactly those tasks, so the arithmetic is openjd-model's own (``divide_chunk_sizes``, the function its
``StepParameterSpaceIterator`` uses), applied to each run of consecutive frames:

- the frames are cut into maximal runs of consecutive integers (a stepped range ``1-9:4`` is three runs of one
  frame: CONTIGUOUS chunks hold consecutive frames only);
- each run of n frames becomes ceil(n / K) chunks whose sizes differ by at most one, the larger ones spread evenly
  (1-10 by 3: 1-3, 4-5, 6-8, 9-10), not front-loaded.

Only the runs are walked (never the frames of a long range), so ``0-999999999`` by 10**8 costs ten steps. Tests hold
the result against openjd-model's iterator on a real template and against `openjd run`.
"""
from __future__ import annotations

from typing import Iterator, Tuple

from stmpo.frames import FrameSet


def consecutive_runs(frames: FrameSet) -> Iterator[Tuple[int, int]]:
    """``(first, last)`` of each maximal run of consecutive frames, ascending."""
    pending = None
    for run in frames.runs:
        if run.step == 1:
            pieces = iter([(run.start, run.end)])
        else:
            pieces = ((frame, frame) for frame in range(run.start, run.end + 1, run.step))
        for first, last in pieces:
            if pending is not None and first == pending[1] + 1:
                pending = (pending[0], last)
                continue
            if pending is not None:
                yield pending
            pending = (first, last)
    if pending is not None:
        yield pending


def task_chunks(frames: FrameSet, size: int) -> Iterator[FrameSet]:
    """The CONTIGUOUS chunks of ``frames`` for a chunk size of ``size`` frames (>= 1), in order."""
    from openjd.model._step_param_space_iter import divide_chunk_sizes  # the iterator's own arithmetic

    if size < 1:
        raise ValueError(f"chunk size must be >= 1, got {size}")
    for first, last in consecutive_runs(frames):
        start = first
        for count in divide_chunk_sizes(size, last - first + 1):
            yield FrameSet.from_range(start, start + count - 1)
            start += count
