#!/usr/bin/env python3
"""Benchmark: reading a project model (``aeproject.read_project``: what ``aefarm info`` and every render's preflight
do) against remap's scan of the same file and a plain read of its bytes, side by side in one run.

Usage: python benchmarks/bench_info.py [--mb 64] [--repeat 3] [--work DIR]

The input is a sample project (engines/aftereffects/sample_project.py) grown to the size asked: many comps with
footage, text and expression layers, each layer carrying a keyframe ``ldat`` chunk of a few KB (the bulk of real
projects is such hex data). Repetitions are interleaved so load from other users of a shared machine hits every
side alike; the medians and the ratios to the plain read are printed. Peak RSS of each side is measured in a child.
"""
from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

_CHILD = r"""
import json, resource, sys, time
what, path = sys.argv[1], sys.argv[2]
t0 = time.perf_counter()
if what == "read":
    with open(path, "rb") as f:
        while f.read(1 << 20):
            pass
elif what == "model":
    from aeproject.reader import read_project
    read_project(path)
else:
    from remap.scan import scan
    scan(path)
seconds = time.perf_counter() - t0
print(json.dumps({"seconds": seconds, "rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""


def make_project(path: Path, mb: float) -> Path:
    from engines.aftereffects.sample_project import CompSpec, QueueSpec, sample_project_text

    keyframes = '\t\t\t\t<tdgp><tdbs><list><lhd3 bdata="00d00bee"/><ldat bdata="' + "3ff0" * 2048 + '"/></list>' \
                "</tdbs></tdgp>\n\t\t\t</Layr>"
    comps = [CompSpec(f"comp {k}", fonts=("ArialMT",) if k % 3 == 0 else ()) for k in range(50)]
    footage = [f"/mnt/show/sh{k:03d}/plate_0001.png" for k in range(20)]
    block = sample_project_text(footage=footage, comps=comps, expressions=["thisComp.layer(1).name"],
                                queue=[QueueSpec(0, output_folder="/renders/")]).replace("\t\t\t</Layr>", keyframes)
    head, rest = block.split("\t<Fold>\n", 1)
    items, tail = rest.split("\t</Fold>\n", 1)
    copies = max(1, int(mb * (1 << 20) / len(items)))
    with open(path, "w", encoding="utf-8") as out:
        out.write(head + "\t<Fold>\n" + items * copies + "\t</Fold>\n" + tail)
    return path


def child(what: str, path: Path) -> dict:
    out = subprocess.run([sys.executable, "-c", _CHILD, what, str(path)], capture_output=True, text=True,
                         check=True, cwd=REPO)
    return json.loads(out.stdout)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mb", type=float, default=64)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--work", default=str(REPO / "benchmarks" / "_work"))
    parser.add_argument("--make-only", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    work = Path(args.work)
    work.mkdir(parents=True, exist_ok=True)
    path = work / f"info_{args.mb:g}mb.aepx"
    if args.make_only:
        make_project(path, args.mb)
        return 0
    if not path.exists():  # made in a child, so this process's peak RSS (inherited by the children) stays small
        subprocess.run([sys.executable, __file__, "--mb", str(args.mb), "--work", str(work), "--make-only"],
                       check=True)
    size = path.stat().st_size / (1 << 20)
    child("read", path)  # warm the page cache
    runs: dict = {"read": [], "model": [], "scan": []}
    rss: dict = {}
    for _ in range(args.repeat):
        for what in runs:
            result = child(what, path)
            runs[what].append(result["seconds"])
            rss[what] = max(rss.get(what, 0.0), result["rss_mib"])
    base = statistics.median(runs["read"])
    print(f"{path.name}: {size:.1f} MiB, {args.repeat} interleaved repetitions (medians)")
    for what, label in (("read", "plain read"), ("model", "aeproject.read_project"), ("scan", "remap.scan")):
        median = statistics.median(runs[what])
        print(f"  {label:<24} {median:7.3f} s  {size / median:8.1f} MiB/s  x{median / base:6.1f} of a plain read  "
              f"peak RSS {rss[what]:.0f} MiB")
    print(f"  read_project / remap.scan: {statistics.median(runs['model']) / statistics.median(runs['scan']):.2f}")
    return 0


if __name__ == "__main__":
    started = time.perf_counter()
    code = main()
    print(f"({time.perf_counter() - started:.0f} s)")
    sys.exit(code)
