"""`aefarm estimate`: predict a render's wall time from this user's render history (``stmpo.estimate``).

Prints the predicted wall time for ``--frames`` of ``--comp``/``--rqindex`` with ``--concurrency`` children (default:
what `aefarm render` would plan on this host), how much history it rests on, and with ``--best-concurrency`` the
concurrency with the shortest predicted wall time on this host. With no matching history it says so on one line
and exits 0 (``--json``: ``"estimate": null``). Exit 2: bad input (project not found, bad frame spec).
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Optional, Sequence

from aefarm_common import exitcodes
from engines.aftereffects.commands._argtypes import whole_number
from stmpo.errors import StmpoError
from stmpo.stepped import PER_FRAME, mode_of

if TYPE_CHECKING:
    from stmpo.frames import FrameSet

_positive_int = whole_number(1)


def add_parser(subparsers: "argparse._SubParsersAction", parents: Sequence[argparse.ArgumentParser]
               ) -> argparse.ArgumentParser:
    parser = subparsers.add_parser(
        "estimate", parents=list(parents), help="predict a render's wall time from the render history",
        description="Predict how long rendering FRAMES of a comp takes on this host, from earlier renders of the "
                    "same comp recorded in this user's render history.")
    parser.add_argument("project", metavar="PROJECT", help="the .aepx/.aep project")
    target = parser.add_mutually_exclusive_group(required=True)
    target.add_argument("--comp", metavar="NAME", help="composition")
    target.add_argument("--rqindex", type=_positive_int, metavar="N", help="render-queue item (1-based)")
    parser.add_argument("--frames", required=True, metavar="SPEC", help="frame spec: 1-100, 1-48x2, 1-100:5 ...")
    parser.add_argument("--concurrency", type=_positive_int, metavar="N",
                        help="children at once (default: what `aefarm render` plans on this host)")
    parser.add_argument("--best-concurrency", action="store_true",
                        help="also find the concurrency with the shortest predicted wall time on this host")
    parser.add_argument("--min-chunk", type=_positive_int, default=2, metavar="N", help="as for render (default 2)")
    parser.add_argument("--schedule", choices=("dynamic", "static"), default="dynamic", help="as for render")
    parser.add_argument("--use-increment", action="store_true", help="as for render")
    parser.add_argument("--history", metavar="FILE", help="history file (default: the per-user one)")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.set_defaults(func=run)
    return parser


def run(args: argparse.Namespace) -> int:
    from stmpo import history
    from stmpo.estimate import estimate
    from stmpo.frames import FrameSet
    from stmpo.host import detect_host
    from stmpo.plan import PlanSettings, make_plan

    project = Path(args.project)
    if not project.is_file():
        raise StmpoError(f"project not found: {project}")
    frames = FrameSet.parse(args.frames)
    if not len(frames):
        raise StmpoError(f"--frames {args.frames}: no frames")
    _check_target(project, args.comp, args.rqindex, frames)
    host = detect_host()
    plan = make_plan(frames, PlanSettings(concurrency=args.concurrency), host, min_chunk=args.min_chunk)
    path = Path(args.history) if args.history else history.history_path()
    if args.history and not path.is_file():
        raise StmpoError(f"--history {path}: file not found")
    result = estimate(
        history.load(path), list(frames), plan.concurrency, project_hash=history.project_hash(project),
        project_name=project.name, comp=args.comp, rqindex=args.rqindex, cpus=host.logical_cpus,
        min_chunk=args.min_chunk, mode=args.schedule,
        use_increment=mode_of(getattr(args, "stepped", "auto"), bool(args.use_increment)) != PER_FRAME,
        best_of=max(plan.concurrency, host.logical_cpus) if args.best_concurrency else None)
    what = f"comp {args.comp}" if args.comp is not None else f"render-queue item {args.rqindex}"
    if args.json:
        print(json.dumps({"estimate": result.to_json() if result else None, "history": str(path),
                          "frames": str(frames), "concurrency": plan.concurrency}, indent=2, sort_keys=True))
        return exitcodes.OK
    if result is None:
        print(f"estimate: no render history for {what} of {project.name} ({path}): render it once to build one")
        return exitcodes.OK
    for line in result.describe(f" ({frames}) of {what}"):
        print(line)
    return exitcodes.OK


def _check_target(project: Path, comp: Optional[str], rqindex: Optional[int], frames: "FrameSet") -> None:
    """The render's own comp check (engines.aftereffects.preflight) when the project can be read: an unknown comp
    or render-queue item raises PreflightError (exit 2, naming the closest comps); frames outside the comp are a
    warning on stderr. A project that cannot be read (a binary .aep) is not checked: the history is by name."""
    from aeproject.errors import ProjectError
    from aeproject.reader import read_project
    from engines.aftereffects.preflight import Request, Result, check_frames, check_target

    try:
        model = read_project(project)
    except ProjectError:
        return
    findings, found = check_target(Request(comp=comp, rqindex=rqindex, frames=frames), model)
    Result(findings).raise_for_errors()
    for finding in findings + check_frames(frames, found):
        print(f"estimate: warning: {finding.message}", file=sys.stderr)
