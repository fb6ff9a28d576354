"""A real (non-editable) wheel carries every package and both console scripts; README and CI agree."""
import re
import shutil
import subprocess
import sys
import zipfile

import pytest
from conftest import REPO

PACKAGES = ("aefarm_common", "aerender_sim", "engines", "engines/aftereffects", "engines/aftereffects/commands",
            "engines/aftereffects/jobs", "remap", "stmpo", "fonts")


@pytest.fixture(scope="module")
def wheel(tmp_path_factory):
    out = tmp_path_factory.mktemp("wheel")
    # build from a copy: setuptools writes build/ and *.egg-info into the source tree, and tests never write there
    source = tmp_path_factory.mktemp("source") / "aefarm"
    shutil.copytree(REPO, source, ignore=shutil.ignore_patterns(
        ".git", ".venv", "build", "dist", "*.egg-info", "__pycache__", ".pytest_cache", ".hypothesis", "_work"))
    proc = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w", str(out), str(source)],
        capture_output=True, text=True, timeout=300,
    )
    assert proc.returncode == 0, proc.stderr
    wheels = list(out.glob("aefarm-*.whl"))
    assert len(wheels) == 1, wheels
    with zipfile.ZipFile(wheels[0]) as archive:
        yield archive


def test_wheel_has_every_package(wheel):
    names = set(wheel.namelist())
    for package in PACKAGES:
        assert f"{package}/__init__.py" in names, package
    assert "stmpo/frames.py" in names
    assert "engines/aftereffects/commands/frames.py" in names


def test_wheel_declares_console_scripts(wheel):
    entry_points = next(n for n in wheel.namelist() if n.endswith(".dist-info/entry_points.txt"))
    text = wheel.read(entry_points).decode()
    assert re.search(r"^aefarm\s*=\s*engines\.aftereffects\.cli:main\s*$", text, re.M), text
    assert re.search(r"^aerender-sim\s*=\s*aerender_sim\.launcher:main\s*$", text, re.M), text


def test_wheel_ships_the_openjd_templates_as_data(wheel):
    names = set(wheel.namelist())
    for kind in ("image", "video", "job"):
        assert any(n.endswith(f".data/data/share/aefarm/openjd/aftereffects-{kind}/template.yaml") for n in names)


def test_openjd_is_not_a_python_package(wheel):
    assert "openjd/__init__.py" not in wheel.namelist()
    assert not (REPO / "openjd" / "__init__.py").exists()


def _fenced_bash_blocks(markdown: str):
    return re.findall(r"^```bash\n(.*?)^```", markdown, re.M | re.S)


def test_ci_runs_exactly_the_readme_test_command():
    blocks = _fenced_bash_blocks((REPO / "README.md").read_text(encoding="utf-8"))
    assert len(blocks) >= 2
    test_command = blocks[1].strip()
    assert test_command and "\n" not in test_command
    ci_lines = [line.strip() for line in (REPO / ".ci" / "run").read_text(encoding="utf-8").splitlines()]
    assert test_command in ci_lines
    assert "set -euo pipefail" in ci_lines
