"""`aefarm render` with watchdog timeouts below the option table's floor, for tests on the simulator.

The option table refuses stall/start-up timeouts under 30 s on every surface (a real After Effects frame can take
minutes); tests of the watchdog need a second. This runs the real `aefarm render` code path (parser, Job, preflight,
render_with_progress) with the timeouts replaced after parsing:

    python tests/fast_render.py STALL STARTUP <aefarm render arguments...>
"""
from __future__ import annotations

import dataclasses
import sys
from pathlib import Path

from aefarm_common.errors import describe
from engines.aftereffects.cli import build_parser
from engines.aftereffects.commands.render import build_job
from engines.aftereffects.render import render_with_progress


def main(argv: list) -> int:
    from stmpo.cancel import LATCH

    LATCH.install()  # as `aefarm render` does first: a SIGTERM from now on cancels (exit 130, a report)
    stall, startup, rest = float(argv[0]), float(argv[1]), argv[2:]
    args = build_parser().parse_args(["render", *rest])
    job = build_job(args)
    job = dataclasses.replace(job, options=dataclasses.replace(job.options, stall_timeout=stall,
                                                               startup_timeout=startup))
    try:
        return render_with_progress(job, args.progress, Path(args.log_dir) if args.log_dir else None)
    except Exception as exc:  # the CLI's own contract: one line and the exit code
        outcome = describe(exc)
        print(f"aefarm: error: {outcome.line}", file=sys.stderr)
        return outcome.exit_code


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
