"""Parser cost: `stmpo.lines.parse_line` now versus the version at a git revision, side by side in one run.

The corpus is what an executor reads from 16 children: mostly render frame lines (some with field letters and
drop-frame timecodes), comp start/finish lines with localized stamps, launcher and settings chatter. Each version
parses the whole corpus in alternating rounds (so machine load hits both alike); the median per-line time of each
and their ratio are printed. The baseline module is loaded from `git show REV:stmpo/lines.py` into memory.

    .venv/bin/python benchmarks/bench_lines.py [--rev c1e31c3] [--lines 20000] [--rounds 9]
"""
from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time
import types
from pathlib import Path
from typing import Callable, List

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from stmpo import lines as current  # noqa: E402

CHATTER = [
    "aerender version 24.6x67", "PROGRESS: Launching After Effects...", "PROGRESS: ...After Effects successfully launched",
    "PROGRESS: Adding specified comp to Render Queue", "PROGRESS:  Render Settings: Best Settings",
    "PROGRESS:      Quality: Best", "PROGRESS:      Frame Rate: 29.97 (comp)", "PROGRESS:  Output To: D:\\o\\x_[#####].exr",
    "PROGRESS:  4/30/2018 3:10:50 PM: Starting composition \"main\".", "PROGRESS:  30.04.2018 15:11:50: Finished composition \u201cmain\u201d.",
    "PROGRESS:  Total Time Elapsed: 1 Min, 28 Sec", "WARNING:After Effects warning: Project has missing fonts.",
]


def corpus(count: int) -> List[str]:
    out = []
    for i in range(count):
        if i % 10 == 9:
            out.append(CHATTER[i // 10 % len(CHATTER)])
        elif i % 3 == 0:
            out.append(f"PROGRESS:  0;{i // 1800 % 60:02d};{i // 30 % 60:02d};{i % 30:02d} ({i + 1}): {i % 7} Seconds")
        elif i % 3 == 1:
            out.append(f"PROGRESS:  0:00:{i // 24 % 60:02d}:{i % 24:02d} ({i + 1}{'UL'[i % 2]}): 1 Min, {i % 60} Sec")
        else:
            out.append(f"PROGRESS:  {i // 86400}:{i // 1440 % 60:02d}:{i // 24 % 60:02d}:{i % 24:02d} ({i + 1}): 0 Seconds")
    return out


def baseline(rev: str) -> types.ModuleType:
    source = subprocess.run(["git", "show", f"{rev}:stmpo/lines.py"], cwd=ROOT, capture_output=True, text=True,
                            check=True).stdout
    module = types.ModuleType(f"lines_{rev}")
    sys.modules[module.__name__] = module  # dataclasses look their module up
    exec(compile(source, f"{rev}:stmpo/lines.py", "exec"), module.__dict__)
    return module


def timed(parse: Callable[[str], object], lines: List[str]) -> float:
    started = time.perf_counter()
    for line in lines:
        parse(line)
    return (time.perf_counter() - started) / len(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rev", default="c1e31c3", help="baseline git revision (default: main before issue 11)")
    parser.add_argument("--lines", type=int, default=20000)
    parser.add_argument("--rounds", type=int, default=9)
    args = parser.parse_args()
    old = baseline(args.rev)
    mixed = corpus(args.lines)
    # the same corpus without field letters: lines both versions parse, so both do the same work
    plain = [line.replace("U)", ")").replace("L)", ")") for line in mixed]
    print(f"{args.lines} lines per corpus, median of {args.rounds} alternating rounds")
    print(f"{'corpus':<34} {'baseline us/line':>16} {'now us/line':>12} {'now/baseline':>13}")
    for name, lines in (("all variants (1/3 field letters)", mixed), ("no field letters", plain)):
        now_times, old_times = [], []
        for _ in range(args.rounds):
            old_times.append(timed(old.parse_line, lines))
            now_times.append(timed(current.parse_line, lines))
        old_us, now_us = 1e6 * statistics.median(old_times), 1e6 * statistics.median(now_times)
        dropped = sum(old.parse_line(x) is None for x in lines if x.startswith("PROGRESS:  0") and "(" in x)
        print(f"{name:<34} {old_us:16.2f} {now_us:12.2f} {now_us / old_us:13.2f}   "
              f"(frame lines the baseline drops: {dropped})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
