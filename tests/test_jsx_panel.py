"""The After Effects panel's Node tests (tests/jsx, `node --test`), run as part of the pytest suite.

The panel (jsx/) is ExtendScript; its logic runs under Node against a fake After Effects object model, and its
end-to-end tests drive this environment's real `aefarm render` on the aerender simulator. `.ci/setup` installs
the npm packages (acorn) from package-lock.json.
"""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.slow
def test_panel_node_tests_pass() -> None:
    node = shutil.which("node")
    assert node, "node is not installed: run `bash .ci/setup`"
    assert (ROOT / "node_modules" / "acorn").is_dir(), "npm packages missing: run `bash .ci/setup` (npm ci)"
    env = dict(os.environ, AEFARM_VENV_BIN=str(Path(sys.executable).parent))
    proc = subprocess.run([node, "--test", "tests/jsx/"], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=300)
    summary = [line for line in proc.stdout.splitlines() if line.startswith(("# pass", "# fail", "not ok"))]
    assert proc.returncode == 0, "\n".join(summary) + "\n" + proc.stdout[-20000:] + proc.stderr[-5000:]
    assert "# fail 0" in proc.stdout and "# pass 0" not in proc.stdout, "\n".join(summary)
