"""The executor's own CPU with frame proof in place, side by side with another tree's executor (e.g. main) in one run.

Target (issue 11): executor CPU <= 5 % of one core while 16 children each print ~20 progress lines per second,
now that every frame is proven (its line, closed, a structural check of the file) before it is moved into place,
trees are watched to their whole exit and orphans tracked by tag.

Each tree's executor runs in its own process (``python -c RUNNER TREE``, with TREE first on ``sys.path``), on the
aerender simulator (a test instrument; 0.05 s per frame = 20 frame lines per second per child, 64x36 PNG frames), and
the trees alternate (A B A B ...) so a busy machine hurts both alike. Parent CPU is ``time.process_time()`` of that
process (all executor threads, children excluded), measured in the steady state (every child rendering) and over the
whole run (spawning 16 children and the final verification included).

    .venv/bin/python benchmarks/bench_executor_overhead.py [--trees .,/work/main] [--repeat 3] [--seconds 5]
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Dict, List

RUNNER = r"""
import json, os, shutil, sys, tempfile, threading, time
from pathlib import Path
tree, children, rate, seconds, sim = sys.argv[1], int(sys.argv[2]), float(sys.argv[3]), float(sys.argv[4]), sys.argv[5]
isolate = sys.argv[6] == "1"
if isolate:  # before any thread exists: every executor thread stays on CPU 0, every child is pinned to CPU 1
    os.sched_setaffinity(0, {0})
sys.path.insert(0, tree)
from engines.aftereffects.job import Job
from engines.aftereffects.sample_project import write_sample_project
from stmpo.frames import FrameSet
from stmpo.plan import Plan, PlanSettings
from stmpo.progress import make_reporter
from stmpo.run import run
from stmpo.settings import RunOptions
from stmpo.writer import OutputWriter
import stmpo
assert Path(stmpo.__file__).resolve().is_relative_to(Path(tree).resolve()), stmpo.__file__
work = Path(tempfile.mkdtemp(prefix="aefarm-bench-exec-"))
project = write_sample_project(work / "bench.aepx")
out = work / "out"
out.mkdir()
per_child = int(rate * seconds)
job = Job(project=project, output=str(out / "[compName]_[#####].png"), frames=FrameSet.parse(f"1-{children * per_child}"),
          comp="Main", aerender=sim, settings=PlanSettings(mfr=False, affinity=False),
          options=RunOptions(schedule="static", min_chunk=1, startup_timeout=120, stall_timeout=120))
devnull = open(os.devnull, "w")
writer = OutputWriter(devnull)
reporter = make_reporter("log", writer, len(job.frames), work / "logs")
samples = []
stop = threading.Event()
def sample():
    while not stop.wait(0.25):
        samples.append((time.monotonic(), time.process_time()))
sampler = threading.Thread(target=sample, daemon=True)
env = {**os.environ, "AERENDER_SIM_STARTUP": "0", "AERENDER_SIM_FRAME_SECONDS": str(1.0 / rate)}
cpu0, t0 = time.process_time(), time.monotonic()
sampler.start()
report = run(Plan(concurrency=children, cpu_blocks=((1,),) if isolate else None), job, reporter, env=env,
             handle_signals=False)
wall, cpu = time.monotonic() - t0, time.process_time() - cpu0
stop.set(); sampler.join(); reporter.close(); writer.close()
firsts = [min(v["at"] for v in c["frame_times"].values()) for c in report.chunks if c["frame_times"]]
ends = [c["end"] for c in report.chunks if c["end"]]
offset = time.time() - time.monotonic()
lo, hi = max(firsts) - offset + 0.25, min(ends) - offset - 0.25
window = [s for s in samples if lo <= s[0] <= hi]
steady = 100.0 * (window[-1][1] - window[0][1]) / (window[-1][0] - window[0][0]) if len(window) >= 2 else None
shutil.rmtree(work, ignore_errors=True)  # ~7 MB of frames and logs per run on a shared machine
print(json.dumps({"ok": report.ok, "wall": wall, "cpu": cpu, "pct": 100.0 * cpu / wall, "steady": steady,
                  "frames": len(job.frames)}))
"""


def simulator() -> str:
    exe = Path(sys.executable).parent / ("aerender-sim.exe" if os.name == "nt" else "aerender-sim")
    if not exe.exists():
        raise SystemExit(f"{exe} missing: install aefarm into this environment")
    return str(exe)


def one(tree: str, children: int, rate: float, seconds: float, isolate: bool) -> Dict:
    proc = subprocess.run([sys.executable, "-c", RUNNER, tree, str(children), str(rate), str(seconds), simulator(),
                           "1" if isolate else "0"],
                          capture_output=True, text=True, timeout=600, cwd=tempfile.gettempdir())
    if proc.returncode != 0:
        raise SystemExit(f"{tree}: the runner failed:\n{proc.stderr[-3000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def main(argv: List[str] = sys.argv[1:]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trees", default=".", help="comma-separated source trees (default: this one)")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--children", type=int, default=16)
    parser.add_argument("--rate", type=float, default=20.0, help="progress lines per second per child")
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--isolate", action="store_true",
                        help="Linux, 2+ CPUs: the executor on CPU 0 and every simulator child pinned to CPU 1, so the "
                             "executor's CPU is measured on a core of its own (as on a farm node with cores to spare) "
                             "instead of competing with the 16 simulators for 2 cores")
    args = parser.parse_args(argv)
    trees = [str(Path(t).resolve()) for t in args.trees.split(",") if t.strip()]
    results: Dict[str, List[Dict]] = {t: [] for t in trees}
    load_before = os.getloadavg() if hasattr(os, "getloadavg") else None
    for _ in range(max(1, args.repeat)):
        for tree in trees:  # alternate: a busy moment hurts every tree alike
            results[tree].append(one(tree, args.children, args.rate, args.seconds, args.isolate))
    print(f"{args.children} children x {args.rate:g} frame lines/s for {args.seconds:g} s each, aerender simulator "
          f"(test instrument), median of {max(1, args.repeat)} alternating runs per tree"
          + ("; executor on CPU 0, children on CPU 1" if args.isolate else ""))
    if load_before is not None:
        print(f"load average (1 min) before {load_before[0]:.2f}, after {os.getloadavg()[0]:.2f}")
    print(f"{'tree':<40} {'ok':<4} {'steady CPU %':>12} {'whole-run CPU %':>15} {'wall s':>7} {'us/frame':>8}")
    for tree, runs in results.items():
        steady = statistics.median(r["steady"] for r in runs if r["steady"] is not None)
        whole = statistics.median(r["pct"] for r in runs)
        wall = statistics.median(r["wall"] for r in runs)
        ok = all(r["ok"] for r in runs)
        per_frame = statistics.median(1e6 * r["cpu"] / r["frames"] for r in runs)  # independent of the line rate
        print(f"{tree[-40:]:<40} {'yes' if ok else 'NO':<4} {steady:>12.2f} {whole:>15.2f} {wall:>7.1f} {per_frame:>8.0f}"
              f"   target steady <= 5 %: {'OK' if steady <= 5 else 'OVER'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
