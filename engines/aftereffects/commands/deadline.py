"""`aefarm deadline bundle|submit` write (and submit) AWS Deadline Cloud job bundles; `session-enter|session-exit|
task|join` are the actions our OpenJD templates run on the workers.

Exit codes: 0 done; 2 bad input (one line; the worker actions also print an `openjd_fail:` line); the `task` action
builds the Job from the template's values and renders it as `aefarm render` does (exit 4 = frames missing);
`submit` returns the `deadline` CLI's code. The render options (flags of bundle|submit, values of `task`) are the
option table's (`engines/aftereffects/options.py`).
"""
from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
from pathlib import Path
from typing import List, Optional, Sequence

from engines.aftereffects.commands._argtypes import whole_number
from engines.aftereffects.commands._options import (
    add_option_arguments,
    add_target_arguments,
    add_template_arguments,
    option_values,
)
from engines.aftereffects.deadline_bundle import KINDS, BundleError, BundleRequest, write_bundle
from engines.aftereffects.options import on_surface
from engines.aftereffects.preflight_job import check_submission

INSTALL_HINT = "pip install 'aefarm[deadline]'"
_int = whole_number




def add_parser(subparsers: "argparse._SubParsersAction", parents: Sequence[argparse.ArgumentParser]
               ) -> argparse.ArgumentParser:
    parser = subparsers.add_parser(
        "deadline", parents=list(parents), help="AWS Deadline Cloud job bundles (Open Job Description)",
        description="Write and submit Deadline Cloud job bundles; the worker-side actions of the OpenJD templates.")
    actions = parser.add_subparsers(dest="deadline_action", metavar="ACTION")
    actions.required = True

    for name, helptext in (("bundle", "write a job bundle folder"),
                           ("submit", "write a job bundle and submit it with `deadline bundle submit`")):
        sub = actions.add_parser(name, parents=list(parents), help=helptext, description=helptext)
        _bundle_arguments(sub)
        if name == "submit":
            sub.add_argument("--deadline-arg", action="append", default=[], metavar="ARG",
                             help="extra `deadline bundle submit` argument (repeatable; e.g. --deadline-arg=--yes)")
        sub.set_defaults(func=_bundle if name == "bundle" else _submit)

    enter = actions.add_parser("session-enter", parents=list(parents),
                               help="(template action) check values, create output folders, install fonts")
    enter.add_argument("--kind", choices=KINDS, required=True, help="the bundle kind (template)")
    enter.add_argument("--output-dir", required=True, help="{{Param.OutputDir}}: the folder the frames go to")
    enter.add_argument("--pattern", required=True, help="{{Param.OutputPattern}}: file name pattern in it")
    enter.add_argument("--frames", required=True, help="{{Param.Frames}}: the job's frames")
    enter.add_argument("--fonts-dir", default="", help="{{Param.FontsDir}}: fonts to install (empty: none)")
    enter.add_argument("--token-file", required=True, help="where the fonts' install token is kept for exit")
    enter.set_defaults(func=_session_enter)

    leave = actions.add_parser("session-exit", parents=list(parents),
                               help="(template action) remove the fonts the session installed")
    leave.add_argument("--token-file", required=True, help="the token file session-enter wrote")
    leave.set_defaults(func=_session_exit)

    task = actions.add_parser("task", parents=list(parents),
                              help="(template action) render one chunk of frames as `aefarm render` would")
    task.add_argument("--kind", choices=KINDS, required=True, help="the bundle kind (template)")
    _target_arguments(task)
    task.add_argument("--project", required=True, help="{{Param.ProjectFile}}: the project")
    task.add_argument("--frames", required=True, help="the task's chunk, e.g. 1-10")
    task.add_argument("--job-frames", default="", help="the job's Frames (names the movie segments)")
    task.add_argument("--rules", default="", help="OpenJD path-mapping rules file ({{Session.PathMappingRulesFile}})")
    task.add_argument("--converted-dir", default="",
                      help="folder for the remapped project ({{Session.WorkingDirectory}}: never the input's share)")
    task.add_argument("--progress", default="openjd", choices=("openjd", "log"), help="progress format")
    add_template_arguments(task, on_surface("openjd"))
    task.set_defaults(func=_task)

    join = actions.add_parser("join", parents=list(parents),
                              help="(template action) join a movie job's segments with ffmpeg")
    _target_arguments(join)
    join.add_argument("--project", default="", help="the job's ProjectFile (names the movie segments)")
    join.add_argument("--frames", required=True, help="the job's Frames")
    join.add_argument("--ffmpeg", default="", help="{{Param.FfmpegPath}}: ffmpeg (empty: FFMPEG or PATH)")
    join.add_argument("--progress", default="openjd", choices=("openjd", "log"), help="progress format")
    join.set_defaults(func=_join)
    return parser


def _target_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--comp-name", default="", help="{{Param.CompName}}: composition (empty: use --rq-index)")
    parser.add_argument("--rq-index", type=_int(0), default=0,
                        help="{{Param.RenderQueueIndex}}: render-queue item (0: use --comp-name)")
    parser.add_argument("--output-dir", required=True, help="{{Param.OutputDir}}: the job's output folder")
    parser.add_argument("--pattern", required=True, help="{{Param.OutputPattern}}: file name pattern in it")


def _bundle_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("project", metavar="PROJECT", nargs="?", help="the .aepx/.aep project (not with --job)")
    add_target_arguments(parser, required=False)
    parser.add_argument("--frames", metavar="SPEC", help="frame spec: 1-100, 1-100:5, 1-48x2 ...")
    parser.add_argument("--output-dir", metavar="DIR", help="folder the frames or movie go to")
    job = parser.add_argument_group("template jobs (instead of PROJECT, --comp|--rqindex, --frames, --output-dir)")
    job.add_argument("--job", metavar="JOB.json", help="a template job: one task per row (or --rows-per-task rows)")
    job.add_argument("--rows-per-task", type=_int(1), default=1, metavar="N", help="rows per task (default 1)")
    parser.add_argument("--pattern", metavar="P",
                        help="file name pattern in DIR (default [compName]_[#####].png; --video: [compName].mov)")
    parser.add_argument("--chunk-size", type=_int(1), metavar="N", help="frames per task (default 10; video 50)")
    parser.add_argument("--fonts", metavar="DIR", help="fonts installed on the workers for the job")
    parser.add_argument("--video", action="store_true",
                        help="one movie: segments rendered in parallel, then joined with ffmpeg")
    parser.add_argument("-o", "--bundle-dir", metavar="BUNDLE_DIR",
                        help="bundle folder to write (default ./<project>-<image|video>-bundle)")
    parser.add_argument("--force", action="store_true", help="replace an existing bundle folder")
    add_option_arguments(parser, on_surface("openjd"),
                         title="render options on each worker (not given: the template's default)")
    farm = parser.add_argument_group("Deadline")
    farm.add_argument("--priority", type=_int(0), default=50, metavar="N", help="0-100 (default 50)")
    farm.add_argument("--max-retries-per-task", type=_int(0), default=2, metavar="N", help="default 2")


def request_from_args(args: argparse.Namespace) -> BundleRequest:
    if not args.output_dir.strip():  # Path("") is ".", which would silently send the frames to this folder
        raise BundleError("--output-dir is empty; give the folder the frames go to")
    given = {name: value for name, value in option_values(args, on_surface("openjd")).items() if value is not None}
    return BundleRequest(
        project=Path(args.project), output_dir=Path(args.output_dir), frames=args.frames, comp=args.comp,
        rqindex=args.rqindex, pattern=args.pattern, chunk_size=args.chunk_size, video=args.video,
        fonts_dir=Path(args.fonts) if args.fonts else None, options=given, priority=args.priority,
        max_retries_per_task=args.max_retries_per_task)


IMAGE_ONLY = ("project", "comp", "rqindex", "frames", "output_dir", "pattern", "chunk_size", "fonts")


def _write(args: argparse.Namespace) -> Path:
    if args.job:
        return _write_job(args)
    target = None if args.comp is None and args.rqindex is None else True
    missing = [name for name, value in (("PROJECT", args.project), ("--comp or --rqindex", target),
                                        ("--frames", args.frames), ("--output-dir", args.output_dir)) if value is None]
    if missing:
        raise BundleError(f"the following arguments are required: {', '.join(missing)} (or --job JOB.json)")
    req = request_from_args(args)
    req.warnings += check_submission(req.project, req.comp, req.rqindex, req.frames)  # before anything is written
    bundle = write_bundle(req, Path(args.bundle_dir) if args.bundle_dir else None, force=args.force)
    for warning in req.warnings:
        print(f"aefarm deadline: warning: {warning}", file=sys.stderr)
    return bundle


def _write_job(args: argparse.Namespace) -> Path:
    """The bundle of a template job: its render comes from the job file, so the single-render options are refused."""
    from engines.aftereffects.jobs.farm import write_job_bundle

    given = [name for name in IMAGE_ONLY if getattr(args, name, None) not in (None, False)]
    options = option_values(args, on_surface("openjd"))
    aerender = options.pop("aerender", None)  # AerenderPath: the workers' aerender, a parameter of the job bundle
    given += [name for name, value in options.items() if value is not None]
    if args.video:
        given.append("video")
    if given:
        flag = "PROJECT" if given[0] == "project" else "--" + given[0].replace("_", "-")
        raise BundleError(f"{flag}: a template job's render is in its job file; give --job alone (with -o, "
                          "--rows-per-task, --aerender, --priority, --max-retries-per-task, --force)")
    bundle, warnings = write_job_bundle(Path(args.job), Path(args.bundle_dir) if args.bundle_dir else None,
                                        args.rows_per_task, aerender, args.priority,
                                        args.max_retries_per_task, args.force)
    for warning in warnings:
        print(f"aefarm deadline: warning: {warning}", file=sys.stderr)
    return bundle


def _bundle(args: argparse.Namespace) -> int:
    print(_write(args))
    return 0


def deadline_cli() -> Optional[str]:
    """The `deadline` CLI of this environment (beside our Python first), else PATH's."""
    here = Path(sys.executable).parent
    for name in ("deadline.exe", "deadline") if sys.platform.startswith("win") else ("deadline",):
        if (here / name).is_file():
            return str(here / name)
    return shutil.which("deadline")


def _submit(args: argparse.Namespace) -> int:
    cli = deadline_cli()
    if cli is None:
        raise BundleError(f"the `deadline` command is not installed: {INSTALL_HINT} (then `deadline auth login`)")
    bundle = _write(args)
    print(f"aefarm deadline: wrote {bundle}", file=sys.stderr)
    argv: List[str] = [cli, "bundle", "submit", str(bundle), *args.deadline_arg]
    return subprocess.run(argv, stdin=None).returncode


def _session_enter(args: argparse.Namespace) -> int:
    from engines.aftereffects.deadline_actions import session_enter, with_openjd_fail

    with_openjd_fail(session_enter, args.kind, args.output_dir, args.pattern, args.frames, args.fonts_dir,
                     args.token_file)
    return 0


def _session_exit(args: argparse.Namespace) -> int:
    from engines.aftereffects.deadline_actions import session_exit, with_openjd_fail

    with_openjd_fail(session_exit, args.token_file)
    return 0


def _task(args: argparse.Namespace) -> int:
    from engines.aftereffects.deadline_actions import TaskValues, run_task

    values = TaskValues(
        kind=args.kind, project=args.project, comp_name=args.comp_name, rq_index=args.rq_index,
        output_dir=args.output_dir, pattern=args.pattern, frames=args.frames, rules=args.rules,
        progress=args.progress, job_frames=args.job_frames, converted_dir=args.converted_dir,
        options=option_values(args, on_surface("openjd")))
    return run_task(values)


def _join(args: argparse.Namespace) -> int:
    from engines.aftereffects.deadline_actions import join_movie, openjd_status, with_openjd_fail

    movie, how = with_openjd_fail(join_movie, args.output_dir, args.pattern, args.comp_name, args.rq_index,
                                  args.frames, args.project, args.ffmpeg)
    if args.progress == "openjd":
        print("openjd_progress: 100", flush=True)
    openjd_status(f"movie written and verified: {movie} ({'stream copy' if how == 'copy' else 're-encoded'})")
    return 0
