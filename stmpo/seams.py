"""What the executor needs from the outside, as types: the job it renders and the reporter it tells.

Why a module of protocols: the executor (``stmpo.run``) is driven by three entry points (CLI, accsyn app, OpenJD task)
that build their job in the engine package, which ``stmpo`` must not import. These protocols say exactly which
attributes and methods the executor reads, so a type checker proves every caller provides them, and nothing is
probed with ``getattr`` at run time. ``engines.aftereffects.job.Job`` satisfies ``RenderJob``;
``stmpo.progress.Reporter`` (and its subclasses) satisfy ``RenderReporter``.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Mapping, Optional, Protocol, Sequence, Tuple, Union

from stmpo.frames import FrameSet
from stmpo.plan import PlanSettings
from stmpo.settings import RunOptions


class RenderJob(Protocol):
    """One render of one comp (``comp`` or render-queue index ``rqindex``, exactly one set) of ``project``.

    ``output`` is an absolute aerender ``-output`` pattern; ``frames`` the frames to render; ``env`` is added to the
    children's environment; ``extra_args`` are appended to every aerender command line; ``settings.mfr`` and
    ``settings.mfr_max_cpu_percent`` give ``-mfr``; ``mem_usage`` is (image cache %, max memory %) for
    ``-mem_usage``; ``rs_template``/``om_template`` name render-settings / output-module templates;
    ``options`` drive the run when ``run`` is given none; ``aerender`` is the executable when ``run`` is given none.
    """

    @property
    def project(self) -> Union[str, "os.PathLike[str]"]: ...

    @property
    def comp(self) -> Optional[str]: ...

    @property
    def rqindex(self) -> Optional[int]: ...

    @property
    def comp_name(self) -> Optional[str]:
        """The comp a render-queue item renders, when ``rqindex`` is set and the project told (fills ``[compName]``
        in ``output``; with ``comp`` set it is ``comp``)."""

    @property
    def output(self) -> str: ...

    @property
    def frames(self) -> FrameSet: ...

    @property
    def env(self) -> Mapping[str, str]: ...

    @property
    def extra_args(self) -> Sequence[str]: ...

    @property
    def settings(self) -> PlanSettings: ...

    @property
    def options(self) -> RunOptions: ...

    @property
    def aerender(self) -> Optional[str]: ...

    @property
    def mem_usage(self) -> Optional[Tuple[int, int]]: ...

    @property
    def rs_template(self) -> Optional[str]: ...

    @property
    def om_template(self) -> Optional[str]: ...

    @property
    def continue_on_missing_footage(self) -> bool: ...


class RenderReporter(Protocol):
    """Where the executor reports a run, from its loop thread (implementations may be called from other threads
    too, and must be thread-safe). ``chunk_id`` is the scheduler's chunk id, ``pid`` an aerender child's process id."""

    def run_started(self, total_frames: int, plan_lines: Sequence[str]) -> None:
        """Once, before any child starts: the frame count and the plan's explanation lines."""

    def child_started(self, chunk_id: int, pid: int, frames: FrameSet) -> None:
        """An aerender child of chunk ``chunk_id`` started, rendering ``frames``."""

    def child_output(self, chunk_id: int, pid: int, line: str) -> None:
        """One whole line the child printed (stdout or stderr)."""

    def child_exited(self, chunk_id: int, pid: int, exit_code: Optional[int]) -> None:
        """The child's tree is gone; ``exit_code`` None when it never started."""

    def frame_done(self, frame: int) -> None:
        """``frame`` is delivered and verified (or kept by ``--resume``)."""

    def chunk_failed(self, chunk_id: int, reason: str, retrying: bool) -> None:
        """Chunk ``chunk_id`` failed; its unverified frames are retried as a new chunk (``retrying``) or lost."""

    def message(self, text: str, public: bool = False) -> None:
        """A line for people; ``public`` ones are also shown to the farm's users (accsyn ``!``, OpenJD status)."""

    def run_finished(self, ok: bool, missing: FrameSet, summary: str) -> None:
        """Once, at the end: whether every frame is verified, the missing frames and a one-line summary."""

    def log_path(self, chunk_id: int, pid: int) -> Optional[Path]:
        """Where the child's lines are logged (for the run report); None without per-child logs."""

    def close(self) -> None:
        """Flush and close logs (called by the entry point after the run, not by the executor)."""
