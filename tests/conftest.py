"""Shared test fixtures.

Tests run the real console scripts of the environment pytest runs in, so the venv's bin folder goes first on PATH
(OpenJD sessions and the accsyn runner start `aefarm`/`aerender-sim` by name).
"""
import atexit
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings

REPO = Path(__file__).resolve().parents[1]
VENV_BIN = Path(sys.executable).parent

os.environ["PATH"] = f"{VENV_BIN}{os.pathsep}{os.environ.get('PATH', '')}"
# Renders record their history under the per-user state folder: the tests' renders go to a folder of their own
# (tests that look at the state folder set AEFARM_STATE_DIR themselves).
os.environ["AEFARM_STATE_DIR"] = tempfile.mkdtemp(prefix="aefarm-test-state-")
atexit.register(shutil.rmtree, os.environ["AEFARM_STATE_DIR"], True)
# converted projects go to the per-user work folder by default: keep the tests' out of the user's home
os.environ.setdefault("AEFARM_WORK_DIR", tempfile.mkdtemp(prefix="aefarm-test-work-"))
atexit.register(shutil.rmtree, os.environ["AEFARM_WORK_DIR"], True)

# The CI machine is shared and noisy: never fail a property test on wall time.
settings.register_profile("aefarm", deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.load_profile("aefarm")


def run_aefarm(*args, check=None, env=None, cwd=None, timeout=120, input=None):
    """Run `python -m engines.aftereffects` (the `aefarm` command) and return the CompletedProcess."""
    proc = subprocess.run(
        [sys.executable, "-m", "engines.aftereffects", *map(str, args)],
        capture_output=True, text=True, env=env, cwd=cwd or REPO, timeout=timeout, input=input,
    )
    if check is not None:
        assert proc.returncode == check, (proc.returncode, proc.stdout, proc.stderr)
    return proc


@pytest.fixture
def aefarm():
    return run_aefarm


def run_fast_render(*args, stall=1.0, startup=30.0, env=None, cwd=None, timeout=180):
    """`aefarm render ARGS` with watchdog timeouts below the option table's 30 s floor (tests/fast_render.py)."""
    return subprocess.run([sys.executable, str(REPO / "tests" / "fast_render.py"), str(stall), str(startup),
                           *map(str, args)], capture_output=True, text=True, env=env, cwd=cwd or REPO,
                          timeout=timeout)


@pytest.fixture
def fast_render():
    return run_fast_render


@pytest.fixture(scope="session")
def aerender_sim() -> str:
    """Path of the simulator's console script (a test instrument standing in for Adobe's aerender)."""
    path = VENV_BIN / ("aerender-sim.exe" if os.name == "nt" else "aerender-sim")
    assert path.exists(), f"{path} missing: run `bash .ci/setup`"
    return str(path)
