"""How the executor runs a render: the settings of one STMPO run (the plan says how many children and where).

These defaults are the one definition of each value: the option table of the engine
(`engines/aftereffects/options.py`) reads them for the CLI, the accsyn app and the OpenJD templates.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Optional, Tuple


@dataclass
class RunOptions:
    """How the executor runs (the plan says how many children and where)."""

    schedule: str = "dynamic"
    retries: int = 1
    fail_fast: bool = False
    min_chunk: int = 2
    startup_timeout: float = 600.0  # seconds from a child's start to its first progress line
    stall_timeout: float = 1800.0  # seconds between progress lines once rendering (a frame can take many minutes)
    kill_grace: float = 5.0  # seconds between SIGTERM and SIGKILL
    stagger: float = 0.0  # seconds between child starts (0: all at once)
    scratch: Optional[Path] = None
    resume: bool = False
    report: Optional[Path] = None
    report_html: Optional[Path] = None  # default: beside `report` (x.json -> x.html)
    ffmpeg: Optional[str] = None
    stepped: str = "auto"  # stepped ranges: auto | increment | per-frame (stmpo.stepped)
    use_increment: bool = False  # the old spelling of stepped="increment" (stmpo.stepped.mode_of)
    handoff: bool = True  # start a thief while the slot's child renders its last seconds (hides the start-up)
    allow: Tuple[str, ...] = ()  # warning classes (stmpo.diagnosis) that warn instead of failing the chunk
    finish_grace: float = 10.0  # seconds a tree may linger after "Finished composition"/"Total Time Elapsed"
    pilot: bool = False  # start one child first, the others once it renders (a permanent error costs one launch;
    # every render pays about one start-up of the others: off by default)
    tick: float = 0.1
