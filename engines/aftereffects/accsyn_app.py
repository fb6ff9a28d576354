#!/usr/bin/env python
"""aefarm: Adobe After Effects compute app for accsyn.

Publish this one file to accsyn as the app script. The accsyn daemon runs it on a render node as
``python accsyn_app.py [--dev] <data.json>`` with the work item in ``ACCSYN_ITEM``; ``--probe`` asks whether this node
can render (aefarm importable, aerender found). The rendering itself is aefarm's (path conversion with remap, parallel
watched aerender children with STMPO), so aefarm must be installed in the Python that runs this file.

Stdout speaks accsyn's protocol: ``Accsyn PID(<pid>)`` for this process, ``Additional accsyn PID(<pid>) - main
process`` per aerender child, one ``{"taskstatus": true, "uri": "<frame>", "status": "done"}`` line per frame verified
on disk, ``!`` before what the user must see. Exit 0 only when every frame of the work item is verified; SIGTERM or
SIGINT terminate every child tree (exit 130). ``AEFARM_NODE_OS`` overrides the node OS (tests, the local runner).
"""
from __future__ import annotations

import os
import sys

# The block below is read as text by accsyn (literal dicts only: keep it parseable with ast.literal_eval).
# PARAMETERS are the job parameters' defaults: the render options of engines/aftereffects/options.py (a test proves
# each value equals the table's) plus the app's own input_conversion, arguments and output_template.
# -- ENGINE CONFIG START --
SETTINGS = {
    "items": True,
    "default_range": "1-100",
    "default_bucketsize": 10,
    "max_bucketsize": 100,
    "filename_extensions": ".aepx,.aep",
    "binary_filename_extensions": ".aep",
    "multiple_inputs": False,
    "color": "#9999FF",
    "vendor": "Adobe",
}

PARAMETERS = {
    "input_conversion": "auto",
    "arguments": "",
    "output_template": "[compName]_[#####].png",
    "comp": "",
    "rqindex": 0,
    "concurrency": "auto",
    "max_concurrency": 0,
    "ram_per_child_gb": 0,
    "mfr": True,
    "affinity": True,
    "schedule": "dynamic",
    "handoff": True,
    "min_chunk": 2,
    "retries": 1,
    "fail_fast": False,
    "startup_timeout": 600,
    "stall_timeout": 1800,
    "kill_grace": 5,
    "finish_grace": 10,
    "allow": "",
    "pilot": False,
    "stagger": 0,
    "stepped": "auto",
    "use_increment": False,
    "aerender": "",
    "continue_on_missing_footage": False,
}
# -- ENGINE CONFIG END --

USAGE = "usage: accsyn_app.py [--dev] <data.json> | --probe"
NOT_INSTALLED = "aefarm is not installed in this Python ({exe}): install it on the node (pip install aefarm) ({err})"


def _say(text: str) -> None:
    sys.stdout.write(text + "\n")
    sys.stdout.flush()


def probe() -> int:
    """Can this node render? aefarm importable and aerender found. Exit 0 yes, 1 no."""
    try:
        from engines.aftereffects import __version__
        from stmpo.aerender import find_aerender
    except ImportError as exc:
        _say("!" + NOT_INSTALLED.format(exe=sys.executable, err=exc))
        return 1
    _say(f"aefarm {__version__} (python {sys.executable})")
    found = find_aerender(explicit=str(PARAMETERS.get("aerender") or "") or None)
    if not found.found:
        _say("!aerender not found: " + "; ".join(f"{where}: {what}" for where, what in found.tried))
        return 1
    _say(f"aerender {found.path} (version {found.version or 'unknown'}, found via {found.source})")
    return 0


def _write_pid(data_file: str) -> None:
    """``process.pid`` beside the data file: the daemon's handle on this process."""
    from aefarm_common.atomic import atomic_write

    folder = os.path.dirname(os.path.abspath(data_file))
    with atomic_write(os.path.join(folder, "process.pid"), mode="w") as handle:
        handle.write(str(os.getpid()))


def _remember_signals() -> "list[str]":
    """Until aefarm is imported: a cancel signal is only remembered (handed to aefarm's latch right after)."""
    import signal

    seen: "list[str]" = []

    def remember(signum: int, frame: object) -> None:
        seen.append(f"cancelled by {signal.Signals(signum).name}")

    for name in ("SIGTERM", "SIGINT", "SIGBREAK"):
        try:
            signal.signal(getattr(signal, name), remember)
        except (ValueError, OSError, AttributeError):
            pass
    return seen


def run_task(data_file: str, dev: bool = False) -> int:
    _say(f"Accsyn PID({os.getpid()})")  # first, before anything can fail: the daemon's handle on this process
    early = _remember_signals()
    try:
        from aefarm_common.errors import describe
        from engines.aftereffects.accsyn_job import build_app_job, load_wrapper, secrets_in
        from engines.aftereffects.render import render_job
        from stmpo.cancel import LATCH
        from stmpo.progress import AccsynReporter
        from stmpo.redact import Redactor
        from stmpo.writer import OutputWriter
    except ImportError as exc:
        _say("!" + NOT_INSTALLED.format(exe=sys.executable, err=exc))
        return 1
    # a cancel signal from now on is latched: the render starts no child and reports cancelled (exit 130); while
    # children run, the executor's own handler terminates their trees
    LATCH.install()
    for reason in early:
        LATCH.trip(reason)
    writer = OutputWriter()
    reporter = AccsynReporter(writer, 0)
    try:
        _write_pid(data_file)
        data = load_wrapper(data_file)
        from pathlib import Path

        from engines.aftereffects.jobs.farm import is_job_data, run_job_item

        if is_job_data(data):  # a template job: the item is a run of rows (each a variant)
            return run_job_item(data, os.environ.get("ACCSYN_ITEM"), writer,
                                node_os=os.environ.get("AEFARM_NODE_OS") or None,
                                work=Path(os.path.abspath(data_file)).parent)
        app = build_app_job(data, os.environ.get("ACCSYN_ITEM"), node_os=os.environ.get("AEFARM_NODE_OS") or None,
                            defaults=PARAMETERS)
        secrets = list(reporter.redact.values) + secrets_in(data) + app.secrets
        reporter.redact = Redactor(secrets)
        for note in app.notes:
            reporter.message(note, public=True)
        if dev:
            for key, value in sorted(app.describe().items()):
                reporter.message(f"dev: {key} = {value}")
        if not len(app.item):
            reporter.message(f"work item {os.environ.get('ACCSYN_ITEM')!r} has no frames in the job's range: "
                             "nothing to render", public=True)
            return 0
        report = render_job(app.job, reporter)
        return report.exit_code
    except KeyboardInterrupt:
        reporter.message("cancelled before the render started", public=True)
        return 130
    except Exception as exc:  # one clear public line; the daemon shows it to the user
        if dev:
            import traceback

            traceback.print_exc()
        outcome = describe(exc)
        reporter.message(f"{'internal error' if outcome.internal else 'error'}: {outcome.line}", public=True)
        return outcome.exit_code
    finally:
        reporter.close()
        writer.close()


def main(argv: "list[str] | None" = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if "--probe" in args:
        return probe()
    dev = "--dev" in args
    rest = [a for a in args if a != "--dev"]
    if len(rest) != 1 or rest[0].startswith("-"):
        sys.stderr.write(USAGE + "\n")
        return 2
    return run_task(rest[0], dev=dev)


if __name__ == "__main__":
    sys.exit(main())
