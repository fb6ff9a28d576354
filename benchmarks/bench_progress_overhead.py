"""Orchestrator overhead: the parent's CPU time for reading, parsing and reporting children's output.

Target (issue 5): parent CPU <= 5% of one core while 16 children each print 20 aerender-shaped lines per second.
The parent reads as the executor does: `stmpo.reader.LineMux` (or a `start_pump` thread per pipe), `parse_line`
on every line, a reporter per `--progress` kind writing to an OutputWriter (stdout replaced by os.devnull so the
terminal's cost is not counted) and one log file per child.

Side by side in one run, for each reader (`LineMux`: one selectors thread; `threads`: one pump thread per pipe):
"read" (lines discarded) and "full" (parse + reporter + child logs),
for each reporter kind asked. Parent CPU is `time.process_time()` (all parent threads, children excluded) over
the window from the first child spawned to the last pipe at EOF, divided by that window's wall time.

    .venv/bin/python benchmarks/bench_progress_overhead.py [--children 16] [--rate 20] [--seconds 5]
        [--progress log,openjd,accsyn] [--newline crlf] [--sim]

`--sim` uses the aerender simulator (a test instrument: `aerender-sim` with AERENDER_SIM_FRAME_SECONDS=1/rate)
instead of `python -c` loops, when it is installed.
"""
from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Callable, List

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from stmpo.lines import FatalError, FrameRendered, parse_line  # noqa: E402
from stmpo.progress import make_reporter  # noqa: E402
from stmpo.reader import LineMux, start_pump  # noqa: E402
from stmpo.writer import OutputWriter  # noqa: E402

CHILD = r"""
import sys, time
rate, seconds, nl = float(sys.argv[1]), float(sys.argv[2]), sys.argv[3]
out = sys.stdout.buffer
lines = int(rate * seconds)
t0 = time.monotonic()
for i in range(lines):
    if i % 10 == 9:
        text = 'PROGRESS:  4/30/2018 3:10:50 PM: Finished composition "main".'
    else:
        text = 'PROGRESS:  0:00:%02d:%02d (%d): %d Seconds' % (i // 24 % 60, i % 24, i + 1, i % 3)
    out.write(text.encode() + nl.encode())
    out.flush()
    delay = t0 + (i + 1) / rate - time.monotonic()
    if delay > 0:
        time.sleep(delay)
"""


def child_commands(args: argparse.Namespace, work: Path) -> List[List[str]]:
    newline = {"lf": "\n", "crlf": "\r\n", "cr": "\r"}[args.newline]
    if not args.sim:
        return [[sys.executable, "-c", CHILD, str(args.rate), str(args.seconds), newline]
                for _ in range(args.children)]
    from engines.aftereffects.sample_project import write_sample_project
    sim = shutil.which("aerender-sim", path=f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}")
    if sim is None:
        raise SystemExit("--sim: aerender-sim not found on PATH")
    project = write_sample_project(work / "bench.aepx")
    frames = int(args.rate * args.seconds)
    os.environ["AERENDER_SIM_FRAME_SECONDS"] = str(1.0 / args.rate)
    os.environ["AERENDER_SIM_NEWLINE"] = args.newline
    for c in range(args.children):
        (work / f"out{c}").mkdir(exist_ok=True)
    return [[sim, "-project", str(project), "-comp", "Main", "-output", str(work / f"out{c}" / "f_[#####].png"),
             "-s", str(c * frames), "-e", str(c * frames + frames - 1)] for c in range(args.children)]


def measure(args: argparse.Namespace, mode: str, kind: str, work: Path, reader: str) -> dict:
    devnull = open(os.devnull, "w", encoding="utf-8")
    writer = OutputWriter(devnull, batch_interval=args.batch_interval)
    reporter = make_reporter(kind, writer, args.children * int(args.rate * args.seconds), log_dir=work / f"logs-{kind}")
    reporter.run_started(args.children * int(args.rate * args.seconds), ["bench"])
    counts = [0] * args.children
    commands = child_commands(args, work)

    def handler(chunk: int, pid: int) -> Callable[[str], None]:
        if mode == "read":
            def on_line(line: str) -> None:
                counts[chunk] += 1
            return on_line

        def on_line_full(line: str) -> None:
            counts[chunk] += 1
            event = parse_line(line)
            reporter.child_output(chunk, pid, line)
            if isinstance(event, FrameRendered):
                reporter.frame_done(chunk * 100000 + event.index)
            elif isinstance(event, FatalError):
                reporter.chunk_failed(chunk, event.text, False)
        return on_line_full

    mux = LineMux(min_interval=args.mux_interval) if reader == "mux" else None
    wall0, cpu0 = time.monotonic(), time.process_time()
    procs, threads = [], []
    for chunk, cmd in enumerate(commands):
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
        procs.append(proc)
        reporter.child_started(chunk, proc.pid, "bench")
        if mux is not None:
            threads.append(mux.add(proc.stdout, handler(chunk, proc.pid)))
        else:
            threads.append(start_pump(proc.stdout, handler(chunk, proc.pid)))
    spawn_cpu = time.process_time() - cpu0
    for thread in threads:
        thread.join()
    for chunk, proc in enumerate(procs):
        proc.wait()
        proc.stdout.close()
        reporter.child_exited(chunk, proc.pid, proc.returncode)
    wall, cpu = time.monotonic() - wall0, time.process_time() - cpu0
    if mux is not None:
        mux.close()
    reporter.run_finished(True, None, "bench done")
    reporter.close()
    writer.close()
    devnull.close()
    lines = sum(counts)
    return {"mode": mode, "reader": reader, "kind": kind, "lines": lines, "wall": wall, "cpu": cpu, "spawn_cpu": spawn_cpu,
            "pct": 100.0 * cpu / wall, "pct_after_spawn": 100.0 * (cpu - spawn_cpu) / wall,
            "us_per_line": 1e6 * (cpu - spawn_cpu) / max(1, lines)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--children", type=int, default=16)
    parser.add_argument("--rate", type=float, default=20.0, help="lines per second per child")
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--progress", default="log,openjd", help="comma list of reporter kinds for the full mode")
    parser.add_argument("--newline", choices=("lf", "crlf", "cr"), default="crlf")
    parser.add_argument("--batch-interval", type=float, default=0.05, help="OutputWriter coalescing window")
    parser.add_argument("--readers", default="mux,threads", help="comma list: mux (one selectors thread), threads")
    parser.add_argument("--mux-interval", type=float, default=0.05, help="LineMux min_interval")
    parser.add_argument("--sim", action="store_true", help="children are the aerender simulator (test instrument)")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="aefarm-bench-") as tmp:
        work = Path(tmp)
        runs = []
        for reader in [r.strip() for r in args.readers.split(",") if r.strip()]:
            runs.append(measure(args, "read", "log", work, reader))
            runs += [measure(args, "full", kind.strip(), work, reader)
                     for kind in args.progress.split(",") if kind.strip()]

    print(f"{args.children} children x {args.rate:g} lines/s x {args.seconds:g} s, newline={args.newline}, "
          f"children={'aerender-sim' if args.sim else 'python -c loop'}, batch_interval={args.batch_interval}, "
          f"mux_interval={args.mux_interval}")
    print(f"{'reader':<8} {'mode':<6} {'reporter':<8} {'lines':>6} {'wall s':>7} {'cpu s':>7} {'spawn s':>7} "
          f"{'% core':>7} {'% excl spawn':>12} {'us/line':>8}")
    for r in runs:
        print(f"{r['reader']:<8} {r['mode']:<6} {r['kind']:<8} {r['lines']:>6} {r['wall']:>7.2f} {r['cpu']:>7.3f} {r['spawn_cpu']:>7.3f} "
              f"{r['pct']:>6.2f}% {r['pct_after_spawn']:>11.2f}% {r['us_per_line']:>8.1f}")
    for reader in sorted({r["reader"] for r in runs}):
        worst = max(r["pct"] for r in runs if r["reader"] == reader)
        print(f"parent CPU with {reader} readers, worst run: {worst:.2f}% of one core (target <= 5%): "
              f"{'OK' if worst <= 5.0 else 'OVER'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
