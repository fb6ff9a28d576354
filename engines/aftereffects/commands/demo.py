"""`aefarm demo`: the whole pipeline in seconds, with no After Effects: remap a Windows project, render it with STMPO.

It builds a small project whose footage paths are Windows paths (as an artist's workstation saves them), creates
that footage under a local folder, maps the Windows prefix there, converts the project, and renders `1-48x2` with 4
aerender children on the aerender simulator (a test instrument standing in for Adobe's aerender). The frames are
verified on disk; the last lines say where they are.
"""
from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
from pathlib import Path
from typing import Sequence

from engines.aftereffects.commands._argtypes import number
from engines.aftereffects.job import Job
from stmpo.errors import StmpoError

DEMO_FRAMES = "1-48x2"
DEMO_CHILDREN = 4
WINDOWS_ROOT = "P:\\projects\\demo"
FOOTAGE = ("footage\\plates\\shot010_plate.png", "footage\\audio\\music.wav", "footage\\seq\\")


def find_simulator() -> str:
    """`aerender-sim` next to this Python (the venv's scripts) or on PATH."""
    folder = Path(sys.executable).parent
    for name in ("aerender-sim", "aerender-sim.exe"):
        if (folder / name).is_file():
            return str(folder / name)
    found = shutil.which("aerender-sim")
    if not found:
        raise StmpoError("aerender-sim (the aerender simulator) not found next to Python or on PATH: "
                         "install aefarm into this environment")
    return found


def add_parser(subparsers: "argparse._SubParsersAction", parents: Sequence[argparse.ArgumentParser]
               ) -> argparse.ArgumentParser:
    parser = subparsers.add_parser(
        "demo", parents=list(parents), help="remap and render a sample project on the aerender simulator",
        description="Build a small project with Windows footage paths, remap it to local footage and render "
                    f"{DEMO_FRAMES} with {DEMO_CHILDREN} children on the aerender simulator.")
    parser.add_argument("--dir", metavar="DIR", help="work folder (default: a new temporary folder)")
    parser.add_argument("--frame-seconds", type=number(0, 60, what="seconds"), default=0.05, metavar="S",
                        help="simulated render time per frame (default 0.05)")
    parser.add_argument("--progress", choices=("auto", "bar", "openjd", "accsyn", "log"), default="auto",
                        help="progress format (default auto: a bar on a terminal, else log lines)")
    parser.set_defaults(func=run_demo)
    return parser



def build_demo(folder: Path, frame_seconds: float = 0.05) -> Job:
    """Write the demo's footage, project and rules under ``folder``; return the Job that renders it."""
    from engines.aftereffects.sample_project import write_sample_project
    from remap.rules import RuleSet
    from stmpo.frames import FrameSet
    from stmpo.plan import PlanSettings
    from stmpo.settings import RunOptions

    folder.mkdir(parents=True, exist_ok=True)
    local_root = folder / "local"
    windows_paths = []
    for relative in FOOTAGE:
        parts = [p for p in relative.split("\\") if p]
        local = local_root.joinpath(*parts)
        if relative.endswith("\\"):
            local.mkdir(parents=True, exist_ok=True)
            (local / "frame_0001.png").write_bytes(b"\x89PNG demo footage")
        else:
            local.parent.mkdir(parents=True, exist_ok=True)
            local.write_bytes(b"demo footage")
        windows_paths.append(f"{WINDOWS_ROOT}\\{relative}")
    project = write_sample_project(folder / "demo.aepx", footage=windows_paths, comps=("Main",),
                                   output_folder="D:\\renders\\demo\\")
    rules = RuleSet.from_cli([f"{WINDOWS_ROOT}={local_root}"])
    out = folder / "frames"
    out.mkdir(exist_ok=True)
    return Job(project=project, output=str(out / "[compName]_[#####].png"), frames=FrameSet.parse(DEMO_FRAMES),
               comp="Main", rules=rules, target_os=None, aerender=find_simulator(),
               env={"AERENDER_SIM_FRAME_SECONDS": str(max(0.0, frame_seconds))},
               # the simulator needs little memory: plan for 0.5 GB per child instead of After Effects' default
               settings=PlanSettings(concurrency=DEMO_CHILDREN, mfr=False, ram_per_child_gb=0.5),
               options=RunOptions(report=folder / "report.json", startup_timeout=60.0, stall_timeout=60.0,
                                  kill_grace=2.0),
               converted_dir=folder / "converted")


def run_demo(args: argparse.Namespace) -> int:
    from engines.aftereffects.render import render_job
    from stmpo.progress import make_reporter
    from stmpo.watch.session import html_path_for
    from stmpo.writer import OutputWriter

    folder = Path(args.dir).resolve() if args.dir else Path(tempfile.mkdtemp(prefix="aefarm-demo-"))
    job = build_demo(folder, args.frame_seconds)
    (folder / "converted").mkdir(exist_ok=True)
    writer = OutputWriter()
    reporter = make_reporter(args.progress, writer, len(job.frames), folder / "logs")
    try:
        reporter.message(f"demo: project {job.project} has Windows footage paths under {WINDOWS_ROOT}; "
                         f"rules map them to {folder / 'local'}")
        report = render_job(job, reporter)
    finally:
        reporter.close()
        writer.close()
    frames_dir = Path(job.output).parent
    pngs = sorted(p.name for p in frames_dir.glob("*.png"))
    print(f"demo: {len(pngs)} frames in {frames_dir}" + (f" ({pngs[0]} .. {pngs[-1]})" if pngs else ""))
    print(f"demo: run report {job.options.report}; per-child logs {folder / 'logs'}")
    print(f"demo: HTML report {html_path_for(job.options.report)} (open it in a browser; `aefarm watch {folder}` "
          f"serves every run in that folder)")
    print(f"demo: {'OK' if report.ok else 'FAILED'}: {report.summary}")
    return report.exit_code

