"""The one Job every entry point builds (CLI, accsyn app, OpenJD task): what to render, where, and how.

Why one type: the accsyn app, the Deadline Cloud task and `aefarm render` must render identically; they differ only
in how they fill a Job. Everything downstream (remap, plan, run) reads this and nothing else.
"""
from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Dict, List, Mapping, Optional, Tuple

from engines.aftereffects.options import JOB, SETTINGS_OPTIONS, check_target, settings_from, values_of
from remap.rules import RuleSet
from stmpo.frames import FrameSet
from stmpo.plan import PlanSettings
from stmpo.settings import RunOptions


@dataclass
class Job:
    """A render of ``frames`` of one comp (``comp`` or render-queue item ``rqindex``) of ``project`` to ``output``.

    ``output`` is an aerender ``-output`` pattern (``[#####]``, ``[compName]``, ``[fileextension]``). ``rules`` map the
    project's paths for this host before rendering (empty: render the project as is). ``env`` is the resolved child
    environment (added to the current one). ``settings`` plan the children; ``options`` drive the run."""

    project: Path
    output: str
    frames: FrameSet
    comp: Optional[str] = None
    rqindex: Optional[int] = None
    comp_name: Optional[str] = None  # the comp of render-queue item `rqindex` (preflight): fills [compName]
    rules: RuleSet = field(default_factory=RuleSet)
    target_os: Optional[str] = None
    env: Dict[str, str] = field(default_factory=dict)
    aerender: Optional[str] = None
    extra_args: List[str] = field(default_factory=list)
    settings: PlanSettings = field(default_factory=PlanSettings)
    options: RunOptions = field(default_factory=RunOptions)
    rs_template: Optional[str] = None
    om_template: Optional[str] = None
    mem_usage: Optional[Tuple[int, int]] = None
    continue_on_missing_footage: bool = False
    fonts: Optional[Path] = None  # folder of fonts installed for the render and removed after it
    numa_map: Optional[Path] = None
    converted_dir: Optional[Path] = None  # where a remapped project is written (default: the per-user work folder)
    encode: Optional[str] = None  # post-render action: encode preset (engines.aftereffects.jobs.encode)
    notify: Optional[str] = None  # post-render action: webhook URL for the JSON result

    def __post_init__(self) -> None:
        self.project = Path(self.project)
        self.comp, self.rqindex = check_target(self.comp, self.rqindex)

    @classmethod
    def from_options(cls, values: Mapping[str, Any], **fields: Any) -> "Job":
        """A Job whose settings, run options and aerender fields come from render option ``values`` (name -> value,
        None: the default; see ``engines.aftereffects.options``); ``fields`` are the rest (project, output, ...)."""
        settings = settings_from(values)
        return cls(settings=settings.plan, options=settings.run, **settings.job, **fields)

    def option_values(self) -> Dict[str, Any]:
        """Every render option's value in this Job (name -> value), the inverse of :meth:`from_options`."""
        fields = {o.name: getattr(self, o.name) for o in SETTINGS_OPTIONS if o.feeds == JOB}
        return values_of(self.settings, self.options, fields)

    def with_project(self, project: Path) -> "Job":
        """The same job on another project file (the remapped copy)."""
        return replace(self, project=Path(project))

    def describe(self) -> dict:
        return {
            "project": str(self.project), "comp": self.comp, "rqindex": self.rqindex, "output": self.output,
            "frames": str(self.frames), "rules": len(self.rules), "target_os": self.target_os,
            "aerender": self.aerender, "extra_args": list(self.extra_args),
        }
