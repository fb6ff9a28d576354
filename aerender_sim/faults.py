"""How the simulator spends time and misbehaves (a TEST INSTRUMENT): costs, hangs, crashes, one-shot faults."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from typing import Dict

CONTROL = "\x1e"  # starts a line of the worker's private protocol to the launcher


def fault_fires(knobs: Dict, name: str) -> bool:
    """With AERENDER_SIM_FAULT_ONCE, only the first invocation to reach a fault fires it (the marker is atomic)."""
    marker = knobs.get("fault_once")
    if not marker:
        return True
    try:
        fd = os.open(marker, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
    except FileExistsError:
        return False
    try:
        os.write(fd, f"{name} pid {os.getpid()}\n".encode("utf-8"))
    finally:
        os.close(fd)
    return True


def hang_forever() -> None:
    while True:
        time.sleep(3600)


def spend_until(deadline: float, burn: bool) -> None:
    """Spend time up to a monotonic deadline, so the simulator's own work counts against the configured cost."""
    spend(deadline - time.monotonic(), burn)


def spend(seconds: float, burn: bool) -> None:
    if seconds <= 0:
        return
    deadline = time.monotonic() + seconds
    if burn:
        x = 0
        while time.monotonic() < deadline:
            for _ in range(2000):
                x = (x * 1103515245 + 12345) & 0x7FFFFFFF
    else:
        time.sleep(seconds)


def crash_now() -> None:
    """Die by a signal, as After Effects does when it crashes (Windows has no SIGKILL: an access-violation code)."""
    if hasattr(signal, "SIGKILL"):
        os.kill(os.getpid(), signal.SIGKILL)
        time.sleep(10)
    os._exit(0xC0000005 & 0x7FFFFFFF)


def start_grandchild() -> subprocess.Popen:
    """A sleeping helper like the ones After Effects leaves around; it holds no pipe of ours."""
    return subprocess.Popen(
        [sys.executable, "-c", "import sys, time; time.sleep(float(sys.argv[1]))", "600", "aerender-sim-grandchild"],
        stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
