"""Stepped ranges at contiguous speed (issue 14), side by side in one run, on the simulator.

Case (issue 14): comp of 200 frames, start-up 2 s, 0.5 s a frame, 4 children, 20 frames each way:
  stepped  ``1-100x5`` with ``--stepped per-frame`` (the old default: one aerender invocation per frame),
           ``--stepped auto`` on a node that has not seen this aerender yet (the first stepped invocation probes
           the numbering; the others wait until it has proven two frames), and ``auto`` again (remembered),
  contiguous ``1-20``,
  ideal = start-up + 20 x 0.5 s / 4 children = 4.5 s.
Efficiency = ideal / wall. Every row runs the real executor with real child processes (the aerender simulator, a
test instrument whose costs are sleeps), under the simulator's comp-frame numbering (AERENDER_SIM_INCREMENT=comp);
``--semantics`` runs the auto rows under another numbering too (there only correctness and the launch count mean
anything: the fallback renders the rest one invocation per frame).

    .venv/bin/python benchmarks/bench_stepped.py [--semantics comp,consecutive,repeat] [--startup S] [--frame S]
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Dict, List, Optional

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from engines.aftereffects.job import Job  # noqa: E402
from engines.aftereffects.sample_project import write_sample_project  # noqa: E402
from stmpo.frames import FrameSet  # noqa: E402
from stmpo.plan import Plan, PlanSettings  # noqa: E402
from stmpo.progress import make_reporter  # noqa: E402
from stmpo.run import run  # noqa: E402
from stmpo.settings import RunOptions  # noqa: E402
from stmpo.writer import OutputWriter  # noqa: E402

CHILDREN = 4


def simulator() -> str:
    exe = Path(sys.executable).parent / ("aerender-sim.exe" if os.name == "nt" else "aerender-sim")
    if not exe.exists():
        raise SystemExit(f"{exe} missing: install aefarm into this environment")
    return str(exe)


def one_run(work: Path, project: Path, frames: str, stepped: str, env: Dict[str, str]) -> dict:
    out = work / f"out-{time.monotonic_ns()}"
    out.mkdir()
    report_path = out.with_suffix(".json")
    job = Job(project=project, output=str(out / "[compName]_[#####].png"), frames=FrameSet.parse(frames),
              comp="Main", aerender=simulator(), settings=PlanSettings(mfr=False, affinity=False),
              options=RunOptions(stepped=stepped, startup_timeout=120, stall_timeout=120, report=report_path))
    with open(os.devnull, "w") as devnull:
        writer = OutputWriter(devnull)
        reporter = make_reporter("log", writer, len(job.frames), work / f"logs-{out.name}")
        t0 = time.monotonic()
        report = run(Plan(concurrency=CHILDREN, cpu_blocks=None), job, reporter, env={**os.environ, **env},
                     handle_signals=False)
        wall = time.monotonic() - t0
        reporter.close()
        writer.close()
    data = json.loads(report_path.read_text())
    right = all(_frame_of(out / f"Main_{f:05d}.png") == f for f in job.frames)
    extra = sorted(p.name for p in out.iterdir() if int(p.stem.split("_")[-1]) not in set(job.frames))
    return {"ok": report.ok and right and not extra, "wall": wall, "launches": data["launches"],
            "stepped": data["stepped"]}


def _frame_of(path: Path) -> Optional[int]:
    from aerender_sim.png import read_frame_png  # the test instrument's own reader of what a frame says

    try:
        return int(read_frame_png(path)["frame"])  # type: ignore[call-overload]
    except (OSError, ValueError):
        return None


def main(argv: Optional[List[str]] = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--semantics", default="comp", help="comma list of comp, consecutive, repeat")
    ap.add_argument("--startup", type=float, default=2.0)
    ap.add_argument("--frame", type=float, default=0.5)
    args = ap.parse_args(argv)
    ideal = args.startup + 20 * args.frame / CHILDREN
    print(f"stepped ranges: comp of 200 frames, start-up {args.startup:g} s, {args.frame:g} s a frame, "
          f"{CHILDREN} children, 20 frames; ideal {ideal:.2f} s")
    print(f"{'numbering':<12} {'case':<40} {'wall s':>7} {'eff':>6} {'launches':>8}  ok  ran")
    failed = False
    with tempfile.TemporaryDirectory(prefix="aefarm-bench-stepped-") as tmp:
        work = Path(tmp)
        project = write_sample_project(work / "shot.aepx")
        for semantics in [s.strip() for s in args.semantics.split(",") if s.strip()]:
            state = work / f"state-{semantics}"  # a node that has never seen this aerender
            os.environ["AEFARM_STATE_DIR"] = str(state)
            env = {"AERENDER_SIM_STARTUP": str(args.startup), "AERENDER_SIM_FRAME_SECONDS": str(args.frame),
                   "AERENDER_SIM_COMP_FRAMES": "200", "AERENDER_SIM_INCREMENT": semantics}
            cases = [("1-100x5 --stepped per-frame", "1-100x5", "per-frame"),
                     ("1-100x5 --stepped auto (first run: probe)", "1-100x5", "auto"),
                     ("1-100x5 --stepped auto (remembered)", "1-100x5", "auto")]
            if semantics == "comp":
                cases.append(("1-20 (contiguous)", "1-20", "auto"))
            for name, frames, stepped in cases:
                row = one_run(work, project, frames, stepped, env)
                failed |= not row["ok"]
                print(f"{semantics:<12} {name:<40} {row['wall']:7.2f} {ideal / row['wall']:6.2f} "
                      f"{row['launches']:8d}  {'yes' if row['ok'] else 'NO ':<3} {row['stepped'].get('ran')}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
