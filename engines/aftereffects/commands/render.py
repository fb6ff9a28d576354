"""`aefarm render`: render frames of one comp on this machine with many parallel, watched aerender children (STMPO).

Exit codes: 0 every frame verified on disk; 2 bad input (one line); 4 frames missing (named on the last line, and in
`--report`); 130 cancelled (SIGINT/SIGTERM: every child tree was terminated). With `--progress openjd` a failure
also prints an `openjd_fail:` line.
"""
from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Optional, Sequence

from aefarm_common import exitcodes
from engines.aftereffects.commands._argtypes import number, whole_number
from engines.aftereffects.job import Job
from engines.aftereffects.preflight import absolute_output
from remap.cli_args import add_rule_arguments, rules_from_args
from stmpo.errors import StmpoError
from stmpo.frames import FrameSet, aws_batch_slice_from_env
from stmpo.plan import PlanSettings
from stmpo.progress import REPORTER_KINDS, OutputWriter, make_reporter, secret_values
from stmpo.settings import RunOptions

OS_NAMES = ("windows", "mac", "linux")


MAX_FRAMES = 1_000_000  # 11.5 hours at 24 fps; beyond this the frame lists of one run no longer fit in memory


def _converted_dir(value: Optional[str]) -> Optional[Path]:
    if not value:
        return None
    folder = Path(value).resolve()
    if not folder.is_dir():
        raise StmpoError(f"--converted-dir folder not found: {value}")
    return folder





_positive_int = whole_number(1)
_count = whole_number(0)
_seconds = number(0, what="seconds")
_gb = number(0, what="a size in GB", exclusive_low=True)
_percent = whole_number(1, 100)


def _concurrency(text: str) -> Optional[int]:
    return None if text.strip().lower() == "auto" else _positive_int(text)



def _mem_usage(text: str) -> tuple:
    parts = text.replace(",", " ").split()
    if len(parts) != 2:
        raise argparse.ArgumentTypeError(f"expected 'CACHE% MAX%', e.g. '40 80', got {text!r}")
    return _percent(parts[0]), _percent(parts[1])


def add_parser(subparsers: "argparse._SubParsersAction", parents: Sequence[argparse.ArgumentParser]
               ) -> argparse.ArgumentParser:
    parser = subparsers.add_parser(
        "render", parents=list(parents), help="render frames on this machine with parallel aerender children",
        description="Render frames of one comp with many parallel aerender children (STMPO): planned from CPUs and "
                    "memory, pinned, watched, retried, dynamically scheduled, and verified on disk.")
    parser.add_argument("project", metavar="PROJECT", help="the .aepx/.aep project")
    target = parser.add_mutually_exclusive_group(required=True)
    target.add_argument("--comp", metavar="NAME", help="composition to render")
    target.add_argument("--rqindex", type=_positive_int, metavar="N", help="render-queue item to render (1-based)")
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
    plan = parser.add_argument_group("planning")
    plan.add_argument("--concurrency", type=_concurrency, default=None, metavar="N|auto",
                      help="children at once (default auto: from CPUs, memory and frames)")
    plan.add_argument("--max-concurrency", type=_positive_int, metavar="N")
    plan.add_argument("--ram-per-child-gb", type=_gb, metavar="G")
    plan.add_argument("--mfr", dest="mfr", action="store_true", default=True, help="Multi-Frame Rendering on (default)")
    plan.add_argument("--no-mfr", dest="mfr", action="store_false")
    plan.add_argument("--affinity", dest="affinity", action="store_true", default=True,
                      help="pin each child to its CPU block (default)")
    plan.add_argument("--no-affinity", dest="affinity", action="store_false")
    plan.add_argument("--numa-map", metavar="FILE", help="CPU topology JSON (NUMA nodes) instead of detection")
    runopts = parser.add_argument_group("running")
    runopts.add_argument("--schedule", choices=("dynamic", "static"), default="dynamic",
                         help="dynamic work stealing (default) or the static equal split")
    runopts.add_argument("--no-handoff", dest="handoff", action="store_false", default=True,
                         help="dynamic: do not start a thief while the slot's child renders its last seconds "
                              "(hand-off hides start-up but briefly runs two children in one slot)")
    runopts.add_argument("--min-chunk", type=_positive_int, default=2, metavar="N",
                         help="fewest frames a child is given (start-up costs seconds; default 2)")
    runopts.add_argument("--retries", type=_count, default=1, metavar="N",
                         help="times a failed chunk's frames are retried on a fresh child (default 1)")
    runopts.add_argument("--fail-fast", action="store_true",
                         help="stop everything once a chunk has failed beyond its retries")
    runopts.add_argument("--startup-timeout", type=_seconds, default=600.0, metavar="S",
                         help="seconds a child may take to start rendering (default 600)")
    runopts.add_argument("--stall-timeout", type=_seconds, default=1800.0, metavar="S",
                         help="seconds without a progress line before a child counts as hung (default 1800)")
    runopts.add_argument("--kill-grace", type=_seconds, default=5.0, metavar="S",
                         help="seconds between SIGTERM and SIGKILL (default 5)")
    runopts.add_argument("--stagger", type=_seconds, default=0.0, metavar="S", help="seconds between child starts")
    runopts.add_argument("--use-increment", action="store_true",
                         help="stepped frames as one aerender -i run per child (aerender's -i semantics for image "
                              "sequences are unverified; default: one -s N -e N run per frame)")
    runopts.add_argument("--scratch", metavar="DIR", help="render under DIR, then move each complete frame into place")
    runopts.add_argument("--resume", action="store_true", help="skip frames already present")
    runopts.add_argument("--dry-run", action="store_true", help="print the plan and the child command lines")
    runopts.add_argument("--report", metavar="FILE", help="write a JSON run report")
    runopts.add_argument("--log-dir", metavar="DIR", help="per-child log files (default: a temporary folder)")
    runopts.add_argument("--progress", choices=REPORTER_KINDS, default="auto", help="progress format")
    runopts.add_argument("--aerender", metavar="PATH", help="aerender executable (default: discovery)")
    runopts.add_argument("--aerender-arg", action="append", default=[], metavar="ARG",
                         help="extra aerender argument (repeatable; --aerender-arg=-flag for flags)")
    runopts.add_argument("--rs-template", metavar="NAME")
    runopts.add_argument("--om-template", metavar="NAME")
    runopts.add_argument("--mem-usage", type=_mem_usage, metavar="'CACHE% MAX%'")
    runopts.add_argument("--continue-on-missing-footage", action="store_true")
    runopts.add_argument("--ffmpeg", metavar="PATH", help="ffmpeg for joining movie segments (default FFMPEG/PATH)")
    runopts.add_argument("--fonts", metavar="DIR", help="install these fonts for the render, remove them after")
    runopts.add_argument("--aws-batch", action="store_true",
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
    if args.comp is not None and not args.comp.strip():
        raise StmpoError("--comp must name a composition, got an empty name")
    if not args.output.strip():
        raise StmpoError("--output must be a file pattern, got an empty value")
    if os.path.isdir(args.output):
        raise StmpoError(f"--output {args.output}: is a folder; give a file pattern such as "
                         f"{os.path.join(args.output, '[compName]_[#####].png')}")
    if args.report:
        inputs = [args.project, args.env_file, args.numa_map, args.rules, args.accsyn_mappings, args.shares]
        for given in filter(None, inputs):
            if os.path.abspath(given) == os.path.abspath(args.report) or (
                    os.path.exists(given) and os.path.exists(args.report) and os.path.samefile(given, args.report)):
                raise StmpoError(f"--report {args.report}: is an input file ({given}); give another file")
    for flag, value in (("--report", args.report), ("--log-dir", args.log_dir), ("--scratch", args.scratch)):
        wants_folder = flag != "--report"
        if value and os.path.exists(value) and os.path.isdir(value) != wants_folder:
            raise StmpoError(f"{flag} {value}: is {'a file' if wants_folder else 'a folder'}, "
                             f"expected {'a folder' if wants_folder else 'a file'}")
    target_os = args.target_os
    rules = rules_from_args(args)
    env = {}
    if args.env_file:
        from engines.aftereffects.envs import load_env_file, resolve_envs

        env = resolve_envs(load_env_file(args.env_file), os_name=target_os, rules=rules)
    settings = PlanSettings(concurrency=args.concurrency, max_concurrency=args.max_concurrency,
                            ram_per_child_gb=args.ram_per_child_gb, mfr=args.mfr, affinity=args.affinity)
    output = absolute_output(args.output)  # another OS's absolute path is kept: the preflight maps or refuses it
    options = RunOptions(
        schedule=args.schedule, retries=args.retries, fail_fast=args.fail_fast, min_chunk=args.min_chunk,
        startup_timeout=args.startup_timeout, stall_timeout=args.stall_timeout, kill_grace=args.kill_grace,
        stagger=args.stagger, scratch=Path(args.scratch).resolve() if args.scratch else None, resume=args.resume,
        report=Path(args.report).resolve() if args.report else None, ffmpeg=args.ffmpeg,
        use_increment=args.use_increment, handoff=args.handoff)
    if args.fonts and not Path(args.fonts).is_dir():
        raise StmpoError(f"--fonts folder not found: {args.fonts}")
    if args.numa_map and not Path(args.numa_map).is_file():
        raise StmpoError(f"--numa-map file not found: {args.numa_map}")
    return Job(project=project.resolve(), output=output, frames=frames, comp=args.comp, rqindex=args.rqindex,
               rules=rules, target_os=target_os, env=env, aerender=args.aerender,
               extra_args=list(args.aerender_arg), settings=settings, options=options,
               rs_template=args.rs_template, om_template=args.om_template, mem_usage=args.mem_usage,
               continue_on_missing_footage=args.continue_on_missing_footage,
               fonts=Path(args.fonts) if args.fonts else None,
               numa_map=Path(args.numa_map) if args.numa_map else None,
               converted_dir=_converted_dir(args.converted_dir))


def default_log_dir() -> Path:
    return Path(tempfile.gettempdir()) / "aefarm-logs" / f"{time.strftime('%Y%m%d-%H%M%S')}-{os.getpid()}"


def run_command(args: argparse.Namespace) -> int:
    from engines.aftereffects.render import dry_run_lines, plan_job, render_job, resolve_aerender

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
            for line in dry_run_lines(job, plan_job(job), aerender):
                print(line)
            return exitcodes.OK
    except Exception as exc:
        _openjd_fail(args, exc)
        raise
    writer = OutputWriter()
    log_dir = Path(args.log_dir) if args.log_dir else default_log_dir()
    reporter = make_reporter(args.progress, writer, len(job.frames), log_dir, secrets=secret_values(job.env))
    try:
        reporter.message(f"per-child logs: {log_dir}")
        report = render_job(job, reporter)
        return report.exit_code
    except Exception as exc:
        if args.progress == "openjd" and getattr(exc, "exit_code", None) is not None:
            writer.line(f"openjd_fail: {' '.join(str(exc).split())}")
        raise
    finally:
        reporter.close()
        writer.close()


def _openjd_fail(args: argparse.Namespace, exc: BaseException) -> None:
    if getattr(args, "progress", None) == "openjd":
        print(f"openjd_fail: {' '.join(str(exc).split()) or type(exc).__name__}", flush=True)
