#!/usr/bin/env python3
"""Benchmark: .aepx path conversion against a plain file copy of the same file, side by side in one run.

Targets (issue 4): remap <= 3x `shutil.copyfile` time, and peak RSS <= 100 MiB whatever the input size.

Usage: python benchmarks/bench_remap.py [--mb 128 [512 ...]] [--make-aepx PATH] [--work DIR] [--keep]

For each size: makes the input with make_aepx.py (kept under benchmarks/_work/ and reused), warms the page cache,
then repeats (3 times by default, interleaved so that load from other users of a shared machine hits both sides):
copyfile, the conversion (in a child process, so its peak RSS is its own), copyfile + fsync. It prints the median,
min and max of each time and of the per-repetition ratios; the target is judged on the median ratio against plain
copyfile (warm cache). The conversion time is measured inside the child around `convert()` with an explicit output
(no digest naming) and includes the atomic write's fsync, which copyfile does not do, hence the second ratio against
copyfile + fsync. The other XML-check modes (the full check's libxml2 parse runs in a grandchild whose peak RSS is
reported too) and a cold-cache pair (the input evicted from the page cache with POSIX_FADV_DONTNEED before each) are
run once, for comparison. ``--variants`` compares the output strategies of remap.copyout (in-kernel span copy or
user-space writes; write-back started early or left to the final fsync), interleaved.
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
DEFAULT_MAKE_AEPX = REPO.parent / "shared" / "tools" / "make_aepx.py"
RULES = [
    "D:\\Projects=/mnt/projects",
    "\\\\fileserver\\projects=/mnt/fileserver/projects",
    "\\\\fileserver\\renders=/mnt/fileserver/renders",
    "P:\\=/mnt/p",
    "/Volumes/projects=/mnt/projects_mac",
    "/Users/artist=/home/artist",
]
RATIO_TARGET = 3.0
RSS_TARGET_MIB = 100.0

_CHILD = r"""
import json, resource, sys, time
from remap.convert import convert
from remap.rules import RuleSet
src, dst, xml_check = sys.argv[1], sys.argv[2], sys.argv[3]
rules = RuleSet.from_cli(json.loads(sys.argv[4]))
variant = sys.argv[5] if len(sys.argv) > 5 else "default"
if variant != "default":  # the output strategies compared by --variants (remap.copyout)
    from remap import copyout
    copyout.KERNEL_COPY = variant not in ("user-write", "user-write-no-writeback")
    if variant.endswith("no-writeback"):
        copyout.WRITEBACK_EVERY = 1 << 62
t0, c0 = time.perf_counter(), time.process_time()
result = convert(src, dst, rules, target_os="linux", xml_check=xml_check)
seconds, cpu = time.perf_counter() - t0, time.process_time() - c0
self_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
kids_kib = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
print(json.dumps({"seconds": seconds, "cpu": cpu, "replaced": result.replaced, "unmapped": len(result.unmapped),
                  "self_rss_kib": self_kib, "checker_rss_kib": kids_kib}))
"""


def make_input(make_aepx: Path, work: Path, mb: float) -> Path:
    path = work / f"bench_{mb:g}mb.aepx"
    if not path.exists():
        print(f"making {path} ({mb:g} MiB) with {make_aepx} ...", flush=True)
        subprocess.run([sys.executable, str(make_aepx), str(path), "--mb", str(mb)], check=True,
                       stdout=subprocess.DEVNULL)
    return path


def timed_copy(src: Path, dst: Path, fsync: bool = False) -> float:
    if dst.exists():
        dst.unlink()
    t0 = time.perf_counter()
    shutil.copyfile(src, dst)
    if fsync:
        fd = os.open(dst, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
    return time.perf_counter() - t0


def evict(path: Path) -> bool:
    """Drop this one file's clean pages from the page cache (POSIX_FADV_DONTNEED), so the next read hits the disk.

    Only the benchmark's own input is touched; other users of the machine keep their cache."""
    if not hasattr(os, "posix_fadvise"):
        return False
    fd = os.open(path, os.O_RDONLY)
    try:
        os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
    finally:
        os.close(fd)
    return True


VARIANTS = ("default", "no-writeback", "user-write", "user-write-no-writeback")


def run_remap(src: Path, dst: Path, xml_check: str, variant: str = "default") -> dict:
    if dst.exists():
        dst.unlink()
    env = dict(os.environ)
    env["PYTHONPATH"] = str(REPO) + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    proc = subprocess.run([sys.executable, "-c", _CHILD, str(src), str(dst), xml_check,
                           json.dumps(RULES), variant], capture_output=True, text=True, env=env, cwd=str(REPO))
    if proc.returncode != 0:
        raise SystemExit(f"remap failed: {proc.stderr.strip()}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def warm(path: Path) -> None:
    with open(path, "rb") as f:
        while f.read(1 << 22):
            pass


def _median(xs: list) -> float:
    xs = sorted(xs)
    mid = len(xs) // 2
    return xs[mid] if len(xs) % 2 else (xs[mid - 1] + xs[mid]) / 2


def _spread(xs: list, unit: str = "s", digits: int = 3) -> str:
    return f"median {_median(xs):.{digits}f} {unit}, min {min(xs):.{digits}f}, max {max(xs):.{digits}f}"


def bench(src: Path, work: Path, reps: int) -> bool:
    size = src.stat().st_size
    mib = size / (1 << 20)
    copy_dst, sync_dst, remap_dst = work / "copy.out.aepx", work / "copysync.out.aepx", work / "remap.out.aepx"
    warm(src)
    copies, syncs, remaps = [], [], []
    for _ in range(reps):  # interleaved, so that a burst of load from other users hits both sides alike
        copies.append(timed_copy(src, copy_dst))
        copy_dst.unlink()  # its dirty pages must not be written back during the next measurement
        remaps.append(run_remap(src, remap_dst, "fast"))
        syncs.append(timed_copy(src, sync_dst, fsync=True))
        sync_dst.unlink()
    seconds = [r["seconds"] for r in remaps]
    ratios = [r / c for r, c in zip(seconds, copies)]
    sync_ratios = [r / c for r, c in zip(seconds, syncs)]
    ratio = _median(ratios)
    rss_mib = max(r["self_rss_kib"] for r in remaps) / 1024
    full = run_remap(src, remap_dst, "full")
    bare = run_remap(src, remap_dst, "none")
    rss_mib = max(rss_mib, full["self_rss_kib"] / 1024, full["checker_rss_kib"] / 1024, bare["self_rss_kib"] / 1024)
    ok_ratio, ok_rss = ratio <= RATIO_TARGET, rss_mib <= RSS_TARGET_MIB
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    first = remaps[0]
    print(f"input                   {src.name}: {mib:.1f} MiB, {first['replaced']} references mapped "
          f"({first['unmapped']} unmapped foreign), {os.cpu_count()} CPUs, load average {load:.2f}, {reps} "
          f"interleaved repetitions")
    print(f"copyfile                {_spread(copies)}  ({mib / _median(copies):.0f} MB/s)")
    print(f"remap (default)         {_spread(seconds)}  ({mib / _median(seconds):.0f} MB/s, cpu "
          f"{_median([r['cpu'] for r in remaps]):.3f} s)")
    print(f"copyfile + fsync        {_spread(syncs)}  (the conversion's atomic write fsyncs; copyfile does not)")
    print(f"ratio remap/copy        median {ratio:.2f}x, min {min(ratios):.2f}x, max {max(ratios):.2f}x   "
          f"target <= {RATIO_TARGET:g}x: {'MET' if ok_ratio else 'NOT MET'}")
    print(f"ratio remap/copy+fsync  median {_median(sync_ratios):.2f}x, min {min(sync_ratios):.2f}x, "
          f"max {max(sync_ratios):.2f}x")
    for name, r in (("remap --xml-check full", full), ("remap --xml-check none", bare)):
        print(f"{name:<24}{r['seconds']:.3f} s  ({mib / r['seconds']:.0f} MB/s, cpu {r['cpu']:.3f} s, "
              f"ratio {r['seconds'] / _median(copies):.2f}x; one run)")
    print(f"peak RSS                converter {max(r['self_rss_kib'] for r in remaps + [bare]) / 1024:.1f} MiB, "
          f"with full check {full['self_rss_kib'] / 1024:.1f} MiB + checker {full['checker_rss_kib'] / 1024:.1f} MiB"
          f"   target <= {RSS_TARGET_MIB:g} MiB: {'MET' if ok_rss else 'NOT MET'}")
    if evict(src):
        cold_copy = timed_copy(src, copy_dst)
        copy_dst.unlink()
        evict(src)
        cold = run_remap(src, remap_dst, "fast")
        print(f"cold cache              copyfile {cold_copy:.3f} s, remap {cold['seconds']:.3f} s, "
              f"ratio {cold['seconds'] / cold_copy:.2f}x (input evicted from the page cache before each; one run)")
        warm(src)
    for p in (copy_dst, sync_dst, remap_dst):
        if p.exists():
            p.unlink()
    return ok_ratio and ok_rss


def compare_variants(src: Path, work: Path, reps: int) -> None:
    """The output strategies side by side (interleaved): kernel copy or user-space writes, write-back early or not."""
    dst = work / "variant.out.aepx"
    times: dict = {v: [] for v in VARIANTS}
    warm(src)
    for _ in range(reps):
        for v in VARIANTS:
            times[v].append(run_remap(src, dst, "fast", v)["seconds"])
    dst.unlink()
    base = _median(times["default"])
    for v in VARIANTS:
        print(f"variant {v:<24}{_spread(times[v])}  ({_median(times[v]) / base:.2f}x the default)")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--mb", type=float, nargs="+", default=[128.0], help="input sizes in MiB (default 128)")
    ap.add_argument("--make-aepx", type=Path, default=DEFAULT_MAKE_AEPX, help="path of make_aepx.py")
    ap.add_argument("--work", type=Path, default=REPO / "benchmarks" / "_work", help="folder for inputs/outputs")
    ap.add_argument("--clean", action="store_true", help="remove generated inputs afterwards")
    ap.add_argument("--reps", type=int, default=3, help="interleaved copy/remap repetitions (default 3)")
    ap.add_argument("--variants", action="store_true",
                    help="also compare output strategies: " + ", ".join(VARIANTS))
    args = ap.parse_args()
    args.work.mkdir(parents=True, exist_ok=True)
    all_ok = True
    for mb in args.mb:
        src = make_input(args.make_aepx, args.work, mb)
        all_ok = bench(src, args.work, max(1, args.reps)) and all_ok
        if args.variants:
            compare_variants(src, args.work, max(1, args.reps))
        if args.clean:
            src.unlink()
        print()
    print("all targets met" if all_ok else "some targets NOT met")
    return 0 if all_ok else 1


if __name__ == "__main__":
    sys.exit(main())
