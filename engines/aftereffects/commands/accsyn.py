"""`aefarm accsyn run|submit`: test an accsyn job locally under the daemon's contract, or submit it to accsyn.

`run` plays accsyn's part on this machine: it writes the daemon's data.json per work item, runs the compute app
(`engines/aftereffects/accsyn_app.py`, with this Python) once per bucket with ACCSYN_ITEM set, and checks that every
frame of the range came back as a `taskstatus` line. Exit 0 only then; 4 naming the missing frames otherwise; 130
when cancelled (each app is sent SIGTERM and terminates its own aerender trees).

`submit` builds the payload (dependencies from a scan of the project, validated filters and range) and creates the
job with accsyn-python-api (credentials from ACCSYN_WORKSPACE / ACCSYN_API_USER / ACCSYN_API_KEY or its .env file);
`--dry-run` prints the payload instead. Missing credentials are one line and exit 2 (nothing is sent); an accsyn API
error is one line and exit 1.
"""
from __future__ import annotations

import argparse
import contextlib
import io
import json
import logging
import os
import re
import signal
import subprocess
import sys
import tempfile
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, Iterator, List, Optional, Sequence, Set

from aefarm_common import exitcodes
from engines.aftereffects.accsyn_errors import AccsynError
from engines.aftereffects.commands._argtypes import whole_number
from engines.aftereffects.commands._options import add_option_arguments, add_target_arguments, option_values
from engines.aftereffects.options import on_surface

OS_NAMES = ("linux", "mac", "windows")
PROG_RUN = "aefarm accsyn run"
PROG_SUBMIT = "aefarm accsyn submit"
_positive_int = whole_number(1)


def add_parser(subparsers: "argparse._SubParsersAction", parents: Sequence[argparse.ArgumentParser]
               ) -> argparse.ArgumentParser:
    parser = subparsers.add_parser("accsyn", parents=list(parents), help="accsyn: run a job locally, or submit it",
                                   description="accsyn compute jobs: test a payload locally through the compute app "
                                               "(run) or submit a project to accsyn (submit).")
    sub = parser.add_subparsers(dest="accsyn_command", metavar="ACTION")
    sub.required = True

    run = sub.add_parser("run", parents=list(parents), help="run a payload locally through the accsyn compute app",
                         description="Run an accsyn payload on this machine as accsyn's queue and daemon would: "
                                     "one app process per bucket, every frame checked as reported done.")
    run.add_argument("payload", metavar="PAYLOAD.json", help="the submission payload (as sent to accsyn)")
    run.add_argument("--shares", metavar="FILE",
                     help="shares table: JSON list of {id, code, paths} or an accsyn data.json")
    run.add_argument("--node-os", choices=OS_NAMES, default=None,
                     help="OS the app acts as (default: this machine's)")
    run.add_argument("--work", metavar="DIR", help="folder for the per-task data.json files (default: temporary)")
    run.add_argument("--parallel", type=_positive_int, default=1, metavar="N", help="tasks at once (default 1)")
    run.set_defaults(func=run_command)

    submit = sub.add_parser("submit", parents=list(parents), help="submit a project to accsyn",
                            description="Build the accsyn payload (dependencies, filters, mappings) and create the "
                                        "compute job, or print it with --dry-run.")
    submit.add_argument("project", metavar="PROJECT", nargs="?", help="the .aepx/.aep project (not with --job)")
    add_target_arguments(submit, required=False)
    submit.add_argument("--frames", metavar="SPEC", help="range, e.g. 1-100, 1-100x5, '1-10 20'")
    submit.add_argument("--output", metavar="DIR",
                        help="output folder (or folder/name_[#####].ext, or share=<id|code>/path)")
    submit.add_argument("--job", metavar="JOB.json",
                        help="a template job instead of PROJECT: each row is an item (the job file says the rest)")
    submit.add_argument("--engine", required=True, metavar="NAME", help="the accsyn app name the job runs")
    submit.add_argument("--filters", default="", metavar="LIST",
                        help="node filters, e.g. 'ram:>32g,site:sthlm,hostname:-a-b'")
    from remap.cli_args import add_rule_arguments

    add_rule_arguments(submit)
    submit.add_argument("--env-file", metavar="FILE", help="JSON envs, flat or {common, linux, mac, windows}")
    submit.add_argument("--bucket-size", type=_positive_int, metavar="N", help="frames per task")
    submit.add_argument("--name", metavar="NAME", help="job name (default: project, comp and range)")
    submit.add_argument("--arguments", default="", metavar="ARGS", help="extra aerender arguments (one string)")
    submit.add_argument("--input-conversion", choices=("auto", "always", "platform", "never"), default=None,
                        help="default: always when mappings are given, else auto")
    submit.add_argument("--dry-run", action="store_true", help="print the payload JSON, submit nothing")
    add_option_arguments(submit, on_surface("accsyn"),
                         title="render options on the nodes (not given: the app's default, the same as render's)")
    submit.set_defaults(func=submit_command)
    return parser


# ================================================================================================ run
@dataclass
class TaskResult:
    item: str
    exit_code: Optional[int] = None
    reported: Set[int] = field(default_factory=set)
    started: bool = False


class LocalRunner:
    """Runs the app once per work item, at most ``parallel`` at once; SIGTERM/SIGINT forward SIGTERM to each app."""

    def __init__(self, wrapper: Dict[str, Any], items: List[str], work: Path, writer: Any, parallel: int = 1,
                 env: Optional[Dict[str, str]] = None) -> None:
        self.wrapper, self.items, self.work, self.writer = wrapper, items, work, writer
        self.parallel = max(1, parallel)
        self.env = dict(os.environ if env is None else env)
        self.cancelled = threading.Event()
        self._lock = threading.Lock()
        self._live: Set[subprocess.Popen] = set()

    def cancel(self) -> None:
        self.cancelled.set()
        with self._lock:
            live = list(self._live)
        for proc in live:
            _stop(proc)

    def run(self) -> List[TaskResult]:
        from aefarm_common.atomic import atomic_write
        from engines.aftereffects.accsyn_local import APP_FILE

        self.app = APP_FILE
        self.data_files: List[Path] = []
        for number, _item in enumerate(self.items, 1):
            folder = self.work / f"task-{number:04d}"
            folder.mkdir(parents=True, exist_ok=True)
            data_file = folder / "data.json"
            with atomic_write(data_file, mode="w") as handle:
                json.dump(self.wrapper, handle, indent=2)
            self.data_files.append(data_file)
        with ThreadPoolExecutor(max_workers=self.parallel) as pool:
            return list(pool.map(self._task, range(len(self.items))))

    def _task(self, index: int) -> TaskResult:
        item = self.items[index]
        result = TaskResult(item)
        if self.cancelled.is_set():
            return result
        env = dict(self.env)
        env["ACCSYN_ITEM"] = item
        argv = [sys.executable, str(self.app), str(self.data_files[index])]
        popen_extra: Dict[str, Any] = {}
        if os.name == "posix":
            popen_extra["start_new_session"] = True  # a terminal's Ctrl-C reaches us; we forward SIGTERM once
        else:  # CTRL_BREAK reaches only a process group of its own; the app turns it into a cancel
            popen_extra["creationflags"] = getattr(subprocess, "CREATE_NEW_PROCESS_GROUP", 0)
        self.writer.line(f"task {item}: starting the accsyn app")
        proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                env=env, cwd=str(self.data_files[index].parent), **popen_extra)
        result.started = True
        with self._lock:
            self._live.add(proc)
        if self.cancelled.is_set():
            _stop(proc)
        from engines.aftereffects.accsyn_local import taskstatus_frame
        from stmpo.lines import LineSplitter

        splitter = LineSplitter()
        assert proc.stdout is not None
        while True:
            chunk = proc.stdout.read1(65536) if hasattr(proc.stdout, "read1") else proc.stdout.read(4096)
            lines = splitter.feed(chunk) if chunk else splitter.flush()
            for line in lines:
                frame = taskstatus_frame(line)
                if frame is not None:
                    result.reported.add(frame)
                self.writer.line(f"[task {item}] {line}")
            if not chunk:
                break
        result.exit_code = proc.wait()
        with self._lock:
            self._live.discard(proc)
        self.writer.line(f"task {item}: app exited with code {result.exit_code}, "
                         f"{len(result.reported)} frames reported done")
        return result


def _stop(proc: subprocess.Popen) -> None:
    """Ask an app to cancel: it terminates its aerender trees and exits 130 (never a hard kill from here)."""
    try:
        if sys.platform == "win32":
            proc.send_signal(signal.CTRL_BREAK_EVENT)
        else:
            proc.send_signal(signal.SIGTERM)
    except (OSError, ValueError):
        pass


def run_command(args: argparse.Namespace) -> int:
    from engines.aftereffects.accsyn_local import (
        bucket_size,
        buckets,
        build_wrapper,
        load_payload,
        payload_range,
        read_engine_config,
    )
    from remap.shares import load_node_sharepaths, load_shares
    from stmpo.frames import FrameSet
    from stmpo.writer import OutputWriter

    settings, _defaults = read_engine_config()
    payload = load_payload(args.payload)
    for key in ("input", "output"):  # every task would fail on it: say so once, before starting any
        if not isinstance(payload.get(key), str) or not payload[key].strip():
            raise AccsynError(f"payload {args.payload}: '{key}' is missing or not a path")
    frames = payload_range(payload, settings.get("default_range"))
    size = bucket_size(payload, settings)
    items = buckets(frames, size)
    shares = node_paths = None
    if args.shares:
        shares = load_shares(args.shares)
        node_paths = load_node_sharepaths(args.shares) if _is_data_file(args.shares) else None
    wrapper = build_wrapper(payload, shares, node_paths)
    work = Path(args.work) if args.work else Path(tempfile.mkdtemp(prefix="aefarm-accsyn-"))
    env = dict(os.environ)
    if args.node_os:
        env["AEFARM_NODE_OS"] = args.node_os
    writer = OutputWriter()
    runner = LocalRunner(wrapper, items, work, writer, parallel=args.parallel, env=env)
    previous = _install_signals(runner)
    try:
        writer.line(f"{PROG_RUN}: {len(frames)} frames ({frames}) in {len(items)} tasks of up to {size} frames; "
                    f"task folders under {work}")
        results = runner.run()
    finally:
        _restore_signals(previous)
    reported: Set[int] = set()
    for result in results:
        reported |= result.reported
    missing = frames - FrameSet.from_frames(reported)
    outside = FrameSet.from_frames(reported) - frames
    failed = [r for r in results if r.started and r.exit_code != 0]
    problems: List[str] = []
    if failed:
        problems.append("tasks failed: " + ", ".join(f"{r.item} (exit code {r.exit_code})" for r in failed))
    if outside:
        problems.append(f"frames reported outside the range: {outside}")
    if runner.cancelled.is_set():
        writer.line(f"{PROG_RUN}: cancelled; frames not reported: {missing or 'none'}")
        writer.close()
        return exitcodes.CANCELLED
    if missing or problems:
        if missing:
            problems.insert(0, f"{len(missing)} of {len(frames)} frames not reported done: {missing}")
        writer.line(f"{PROG_RUN}: FAILED: " + "; ".join(problems))
        writer.close()
        return exitcodes.RENDER_FAILED
    writer.line(f"{PROG_RUN}: all {len(frames)} frames reported done by {len(items)} tasks")
    writer.close()
    return exitcodes.OK


def _is_data_file(path: str) -> bool:
    try:
        return isinstance(json.loads(Path(path).read_text(encoding="utf-8-sig")), dict)
    except (OSError, ValueError):
        return False


def _install_signals(runner: LocalRunner) -> Dict[int, Any]:
    previous: Dict[int, Any] = {}
    if threading.current_thread() is not threading.main_thread():
        return previous

    def handle(signum: int, frame: Any) -> None:
        runner.cancel()

    for name in ("SIGINT", "SIGTERM", "SIGBREAK"):
        sig = getattr(signal, name, None)
        if sig is not None:
            try:
                previous[sig] = signal.signal(sig, handle)
            except (ValueError, OSError):
                pass
    return previous


def _restore_signals(previous: Dict[int, Any]) -> None:
    for sig, handler in previous.items():
        try:
            signal.signal(sig, handler)
        except (ValueError, OSError):
            pass


# ================================================================================================ submit
def build_submission(args: argparse.Namespace) -> tuple:
    """``(payload, warnings)`` from the submit options. Bad input raises an exit_code-2 error (one line)."""
    from engines.aftereffects.accsyn_payload import (
        build_payload,
        dependencies_from_references,
        mapped_share_paths_from_rules,
    )
    from engines.aftereffects.envs import current_os, load_env_file
    from remap.cli_args import load_accsyn_mappings, rules_from_args
    from remap.errors import RemapError
    from remap.rules import RuleSet

    project = Path(args.project)
    if not project.is_file():
        raise AccsynError(f"project not found: {project}")
    project_path = str(project.resolve())
    rules_from_args(args)  # validates every mapping option together (conflicts are errors)
    insensitive = bool(getattr(args, "case_insensitive_posix", False))
    rules = RuleSet.from_cli(list(args.map or []), case_insensitive_posix=insensitive)
    if args.rules:
        rules = rules.merged(RuleSet.from_openjd_file(args.rules, case_insensitive_posix=insensitive))
    mapped = mapped_share_paths_from_rules(rules)
    if args.accsyn_mappings:  # kept as written: share=<id|code> locals resolve on each node, not here
        entries, _shares, _node = load_accsyn_mappings(args.accsyn_mappings)
        mapped += [dict(e) for e in entries]
    warnings: List[str] = []
    from engines.aftereffects.preflight_job import check_submission

    warnings += check_submission(project_path, args.comp, args.rqindex, args.frames)  # a wrong comp: exit 2 here
    try:
        from remap.scan import scan

        references = scan(project)
    except RemapError as exc:
        references = []
        warnings.append(f"dependencies not listed: {exc}")
    dependencies, dep_warnings = dependencies_from_references(project_path, references)
    warnings += dep_warnings
    envs = load_env_file(args.env_file) if args.env_file else None
    output = args.output
    if not output.strip():
        raise AccsynError("--output is empty; give the folder the frames go to")
    if not output.lower().startswith("share=") and not os.path.isabs(output) and not output.startswith("\\\\"):
        output = os.path.abspath(output)
    payload = build_payload(
        project=project_path, frames=args.frames, output=output, remote_os=current_os(), comp=args.comp,
        rqindex=args.rqindex, engine=args.engine, name=args.name, filters=args.filters,
        mapped_share_paths=mapped, envs=envs, bucket_size=args.bucket_size, dependencies=dependencies,
        arguments=args.arguments, input_conversion=args.input_conversion,
        options=option_values(args, on_surface("accsyn")))
    return payload, warnings


_FAILED_CALL = re.compile(r"^The (\S+) REST (\w+) .*? operation failed! Details: (.*?)(?: Traceback|$)", re.S)


def _api_error_line(exc: BaseException) -> str:
    """One line from an accsyn-python-api error (its messages can embed the whole request and a traceback)."""
    text = str(exc)
    failed = _FAILED_CALL.match(text)
    if failed:
        url, method, body = failed.groups()
        text = f"{method} {url} failed: {' '.join(body.split())[:200] or 'empty answer'}"
    cut = text.find(" Details:")
    if cut > 0:
        text = text[:cut]
    return " ".join(text.split())[:500] or type(exc).__name__


_MISSING_CREDENTIAL = re.compile(r"Please supply your accsyn .*? or set (ACCSYN_\w+) environment")


@contextlib.contextmanager
def _quiet_client() -> Iterator[None]:
    """The client logs its errors as banners (it configures the root logger on import) and writes tracebacks to
    stderr; both are held back so the user sees our one line (the CLI adds nothing unless --debug)."""
    root = logging.getLogger()
    saved = root.handlers[:]
    root.handlers = [logging.NullHandler()]
    try:
        with contextlib.redirect_stderr(io.StringIO()):
            yield
    finally:
        root.handlers = saved


def open_session() -> Any:
    """An accsyn-python-api ``Session`` (credentials from its environment or .env file; it logs in).

    A missing credential is bad input (AccsynError, exit 2, one line naming the variable); a client that cannot
    import is too. Anything the server answers propagates as the client raised it."""
    try:
        from accsyn_api.session import Session
    except ImportError as exc:
        raise AccsynError(f"accsyn-python-api is not installed ({exc}): pip install accsyn-python-api") from None
    except TypeError as exc:  # accsyn-python-api >= 3.2 evaluates 3.10-only annotations at import on Python 3.9
        raise AccsynError(f"accsyn-python-api cannot be imported on Python {sys.version.split()[0]} ({exc}): "
                          "submit from Python 3.10 or newer") from None
    with _quiet_client():
        try:
            return Session()
        except Exception as exc:
            missing = _MISSING_CREDENTIAL.search(str(exc))
            if missing is None:
                raise
    raise AccsynError(f"accsyn credentials missing: set {missing.group(1)} (ACCSYN_WORKSPACE, ACCSYN_API_USER and "
                      "ACCSYN_API_KEY, in the environment or the .env file ACCSYN_CREDENTIALS_PATH names)")


def create_compute_job(payload: Dict[str, Any], session: Any = None) -> Any:
    """``Session().create("Compute", payload)`` with accsyn-python-api (a new session unless one is given)."""
    session = session if session is not None else open_session()
    with _quiet_client():
        return session.create("Compute", payload)


def job_id_of(result: Any) -> str:
    if isinstance(result, list) and result:
        result = result[0]
    if isinstance(result, dict):
        for key in ("id", "_id", "code"):
            if result.get(key):
                return str(result[key])
    raise ValueError(f"accsyn answered without a job id: {str(result)[:200]}")


JOB_REFUSES = ("project", "comp", "rqindex", "frames", "output", "env_file", "arguments", "input_conversion",
               "rules", "accsyn_mappings", "shares")


def build_job_submission(args: argparse.Namespace) -> tuple:
    """``(payload, warnings)`` of a template job (``--job``): one item per row."""
    from engines.aftereffects.jobs.farm import job_payload

    given = [name for name in JOB_REFUSES if getattr(args, name, None) not in (None, False, "")]
    given += [name for name, value in option_values(args, on_surface("accsyn")).items() if value is not None]
    if getattr(args, "map", None):
        given.append("map")
    if given:
        flag = "PROJECT" if given[0] == "project" else "--" + given[0].replace("_", "-")
        raise AccsynError(f"{flag}: a template job's render is in its job file; give --job with --engine "
                          "(and --filters, --bucket-size, --name, --dry-run)")
    return job_payload(Path(args.job), args.engine, args.name, args.filters, args.bucket_size)


def submit_command(args: argparse.Namespace) -> int:
    if args.job:
        payload, warnings = build_job_submission(args)
    else:
        target = None if args.comp is None and args.rqindex is None else True
        missing = [name for name, value in (("PROJECT", args.project), ("--comp or --rqindex", target),
                                            ("--frames", args.frames), ("--output", args.output)) if value is None]
        if missing:
            raise AccsynError(f"the following arguments are required: {', '.join(missing)} (or --job JOB.json)")
        payload, warnings = build_submission(args)
    if not args.dry_run:
        try:
            session = open_session()  # before anything is printed: missing credentials are one line, exit 2
        except AccsynError:
            raise
        except Exception as exc:  # accsyn API errors (AccsynException, AssertionError, transport): one line
            print(f"{PROG_SUBMIT}: accsyn error: {_api_error_line(exc)}", file=sys.stderr)
            return exitcodes.INTERNAL
    for warning in warnings:
        print(f"{PROG_SUBMIT}: warning: {warning}", file=sys.stderr)
    if args.dry_run:
        print(json.dumps(payload, indent=2))
        return exitcodes.OK
    try:
        result = create_compute_job(payload, session)
        job_id = job_id_of(result)
    except AccsynError:
        raise  # not an API answer: bad input (exit 2, printed by the CLI)
    except Exception as exc:  # accsyn API errors (AccsynException, AssertionError, transport): one line
        print(f"{PROG_SUBMIT}: accsyn error: {_api_error_line(exc)}", file=sys.stderr)
        return exitcodes.INTERNAL
    print(job_id)
    return exitcodes.OK
