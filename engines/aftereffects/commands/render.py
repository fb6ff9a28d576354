"""`aefarm render`: render frames of one comp on this machine with many parallel, watched aerender children (STMPO).

Exit codes: 0 every frame verified on disk; 2 bad input (one line); 4 frames missing (named on the last line, and in
`--report`); 130 cancelled (SIGINT/SIGTERM: every child tree was terminated). With `--progress openjd` a failure
also prints an `openjd_fail:` line.
"""
from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import List, Optional, Sequence

from aefarm_common import exitcodes
from engines.aftereffects.commands._options import add_option_arguments, add_target_arguments, option_values
from engines.aftereffects.job import Job
from engines.aftereffects.options import on_surface
from engines.aftereffects.preflight import absolute_output
from remap.cli_args import add_rule_arguments, rules_from_args
from stmpo.errors import StmpoError
from stmpo.frames import FrameSet, aws_batch_slice_from_env
from stmpo.progress import REPORTER_KINDS

OS_NAMES = ("windows", "mac", "linux")
MAX_FRAMES = 1_000_000  # 11.5 hours at 24 fps; beyond this the frame lists of one run no longer fit in memory


def _converted_dir(value: Optional[str]) -> Optional[Path]:
    if not value:
        return None
    folder = Path(value).resolve()
    if not folder.is_dir():
        raise StmpoError(f"--converted-dir folder not found: {value}")
    return folder


def add_parser(subparsers: "argparse._SubParsersAction", parents: Sequence[argparse.ArgumentParser]
               ) -> argparse.ArgumentParser:
    parser = subparsers.add_parser(
        "render", parents=list(parents), help="render frames on this machine with parallel aerender children",
        description="Render frames of one comp with many parallel aerender children (STMPO): planned from CPUs and "
                    "memory, pinned, watched, retried, dynamically scheduled, and verified on disk. The render "
                    "options are the table of engines/aftereffects/options.py, shared with accsyn and OpenJD.")
    parser.add_argument("project", metavar="PROJECT", help="the .aepx/.aep project")
    add_target_arguments(parser)
    parser.add_argument("--output", required=True, metavar="PATTERN",
                        help="output pattern, e.g. /out/[compName]_[#####].png (movies: .mov/.mp4/.avi)")
    parser.add_argument("--frames", required=True, metavar="SPEC", help="frame spec: 1-100, 1-48x2, 1-100:5 ...")
    add_rule_arguments(parser)
    parser.add_argument("--target-os", choices=OS_NAMES, default=None,
                        help="OS the project is converted for (default: this one)")
    parser.add_argument("--converted-dir", metavar="DIR",
                        help="folder for the remapped copy of the project (default: the per-user work folder, "
                             "AEFARM_WORK_DIR; never beside the input)")
    parser.add_argument("--env-file", metavar="FILE", help="JSON environment {common, linux, mac, windows} or flat")
    add_option_arguments(parser, on_surface("cli"))
    command = parser.add_argument_group("this command")
    command.add_argument("--dry-run", action="store_true", help="print the plan and the child command lines")
    command.add_argument("--log-dir", metavar="DIR", help="per-child log files (default: a temporary folder)")
    command.add_argument("--progress", choices=REPORTER_KINDS, default="auto", help="progress format")
    command.add_argument("--aerender-arg", action="append", default=[], metavar="ARG",
                         help="extra aerender argument (repeatable; --aerender-arg=-flag for flags)")
    command.add_argument("--fonts", metavar="DIR", help="install these fonts for the render, remove them after")
    command.add_argument("--aws-batch", action="store_true",
                         help="render only this AWS Batch array member's slice of --frames")
    parser.set_defaults(func=run_command)
    return parser


def build_job(args: argparse.Namespace) -> Job:
    """A Job from the command line; bad input raises an error with exit_code 2 and one line."""
    project = Path(args.project)
    if not project.is_file():
        raise StmpoError(f"project not found: {project}")
    frames = FrameSet.parse(args.frames)
    if args.aws_batch:
        frames = frames.slice(*aws_batch_slice_from_env(os.environ))
    if len(frames) > MAX_FRAMES:
        raise StmpoError(f"--frames {args.frames}: {len(frames)} frames is more than one render takes "
                         f"(at most {MAX_FRAMES}); split the job")
    if not args.output.strip():
        raise StmpoError("--output must be a file pattern, got an empty value")
    if os.path.isdir(args.output):
        raise StmpoError(f"--output {args.output}: is a folder; give a file pattern such as "
                         f"{os.path.join(args.output, '[compName]_[#####].png')}")
    for written_flag, written in (("--report", args.report), ("--report-html", args.report_html)):
        if not written:
            continue
        inputs = [args.project, args.env_file, args.numa_map, args.rules, args.accsyn_mappings, args.shares]
        if written_flag == "--report-html" and args.report and os.path.abspath(args.report) == os.path.abspath(written):
            raise StmpoError(f"--report-html {written}: is the --report file; give another file")
        for given in filter(None, inputs):
            if os.path.abspath(given) == os.path.abspath(written) or (
                    os.path.exists(given) and os.path.exists(written) and os.path.samefile(given, written)):
                raise StmpoError(f"{written_flag} {written}: is an input file ({given}); give another file")
    for flag, value in (("--report", args.report), ("--report-html", args.report_html), ("--log-dir", args.log_dir),
                        ("--scratch", args.scratch)):
        wants_folder = flag not in ("--report", "--report-html")
        if value and os.path.exists(value) and os.path.isdir(value) != wants_folder:
            raise StmpoError(f"{flag} {value}: is {'a file' if wants_folder else 'a folder'}, "
                             f"expected {'a folder' if wants_folder else 'a file'}")
    target_os = args.target_os
    rules = rules_from_args(args)
    env = {}
    if args.env_file:
        from engines.aftereffects.envs import load_env_file, resolve_envs

        env = resolve_envs(load_env_file(args.env_file), os_name=target_os, rules=rules)
    output = absolute_output(args.output)  # another OS's absolute path is kept: the preflight maps or refuses it
    values = option_values(args, on_surface("cli"))
    for name in ("scratch", "report", "report_html"):
        if values[name]:
            values[name] = str(Path(values[name]).resolve())
    if args.fonts and not Path(args.fonts).is_dir():
        raise StmpoError(f"--fonts folder not found: {args.fonts}")
    if args.numa_map and not Path(args.numa_map).is_file():
        raise StmpoError(f"--numa-map file not found: {args.numa_map}")
    _check_actions(args, output, frames)
    return Job.from_options(values, project=project.resolve(), output=output, frames=frames, comp=args.comp,
                            rqindex=args.rqindex, rules=rules, target_os=target_os, env=env,
                            extra_args=list(args.aerender_arg), fonts=Path(args.fonts) if args.fonts else None,
                            converted_dir=_converted_dir(args.converted_dir))


def _check_actions(args: argparse.Namespace, output: str, frames: FrameSet) -> None:
    """--encode needs an image sequence of consecutive frames; --notify an http(s) URL (before anything starts)."""
    if args.notify:
        from engines.aftereffects.jobs.notify import check_url

        try:
            check_url(args.notify, "--notify")
        except ValueError as exc:
            raise StmpoError(str(exc)) from None
    if args.encode:
        from stmpo.outputs import MOVIE_EXTENSIONS

        if os.path.splitext(output)[1].lower() in MOVIE_EXTENSIONS:
            raise StmpoError(f"--encode {args.encode}: --output is a movie already; encode renders image sequences")
        listed = list(frames)
        if listed != list(range(listed[0], listed[0] + len(listed))):
            raise StmpoError(f"--encode {args.encode}: --frames {args.frames} is stepped; a movie needs consecutive "
                             "frames")


def run_command(args: argparse.Namespace) -> int:
    from engines.aftereffects.render import dry_run_lines, plan_job, render_with_progress, resolve_aerender

    try:
        job = build_job(args)
        if not len(job.frames):
            print("aefarm render: no frames to render for this array member", file=sys.stderr)
            return exitcodes.OK
        if args.dry_run:
            try:
                aerender = resolve_aerender(job)
            except StmpoError:
                aerender = job.aerender or "aerender"
            lines: List[str] = []
            try:
                lines.extend(dry_run_lines(job, plan_job(job), aerender))
            except Exception:  # refused: stdout stays empty; several findings are listed on stderr (as promised)
                if sum(line.startswith("preflight: error:") for line in lines) > 1:
                    print("\n".join(lines), file=sys.stderr)
                raise
            for line in lines:
                print(line)
            return exitcodes.OK
    except Exception as exc:
        _openjd_fail(args, exc)
        raise
    return render_with_progress(job, args.progress, Path(args.log_dir) if args.log_dir else None)


def _openjd_fail(args: argparse.Namespace, exc: BaseException) -> None:
    if getattr(args, "progress", None) == "openjd":
        print(f"openjd_fail: {' '.join(str(exc).split()) or type(exc).__name__}", flush=True)
