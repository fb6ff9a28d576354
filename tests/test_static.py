"""The static checks stay wired: CI runs ruff, then mypy for Linux, Windows and macOS over the whole product, then the
tests; the pure core stays under the --strict flags.

mypy itself runs in `.ci/run` (three runs take about a minute; a new type error fails CI there). What a test can
guard cheaply is that nothing drops out of those runs unnoticed: a new package missing from the mypy paths, a
platform run removed, or a pure-core module renamed (or newly split off) without its strict section, which mypy
would only mention as a note.
"""
from __future__ import annotations

import configparser
import re
import shlex
import subprocess
import sys
from pathlib import Path
from typing import Dict, List

ROOT = Path(__file__).resolve().parents[1]
PLATFORMS = ("linux", "win32", "darwin")
# the pure core (issue 13): frame sets, path rules, plan, scheduler, aerender's line grammar; files matching these
# patterns must all be strict, so a module split off later is covered too
STRICT_CORE = ("stmpo/frames*.py", "stmpo/plan.py", "stmpo/scheduler*.py", "stmpo/lines.py", "remap/paths.py",
               "remap/rule*.py")


def _ci_commands() -> List[List[str]]:
    """The commands of `.ci/run`, one argv each, with the script's array variables expanded."""
    arrays: Dict[str, List[str]] = {}
    commands = []
    for line in (ROOT / ".ci" / "run").read_text(encoding="utf-8").splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        array = re.match(r"^(\w+)=\((.*)\)$", line)
        if array:
            arrays[array.group(1)] = shlex.split(array.group(2))
            continue
        argv: List[str] = []
        for word in shlex.split(line):
            ref = re.fullmatch(r'\$\{(\w+)\[@\]\}', word)
            argv.extend(arrays[ref.group(1)] if ref else [word])
        commands.append(argv)
    return commands


def _product_packages() -> List[str]:
    cfg = configparser.ConfigParser()
    cfg.read(ROOT / "setup.cfg", encoding="utf-8")
    return sorted({name.split(".")[0] for name in cfg["options"]["packages"].split()})


def test_ci_runs_ruff_then_mypy_on_every_platform_then_the_tests():
    commands = _ci_commands()
    tools = [Path(argv[0]).name if argv[0].startswith(".venv") else argv[0] for argv in commands]
    ruff, pytest_at = tools.index("ruff"), max(i for i, argv in enumerate(commands) if "pytest" in argv)
    mypy_runs = {argv[argv.index("--platform") + 1]: (i, argv) for i, argv in enumerate(commands)
                 if tools[i] == "mypy"}
    assert sorted(mypy_runs) == sorted(PLATFORMS)
    for platform, (at, argv) in mypy_runs.items():
        assert ruff < at < pytest_at, f"mypy --platform {platform} must run after ruff and before pytest"
        paths = {a for a in argv[1:] if not a.startswith("-") and a not in PLATFORMS}
        missing = set(_product_packages()) - paths
        assert not missing, f"mypy --platform {platform} does not check {sorted(missing)}"
        assert "tests/seam_types.py" in paths
        assert all((ROOT / p).exists() for p in paths), paths


def test_the_pure_core_is_checked_with_every_per_module_strict_flag():
    cfg = configparser.ConfigParser()
    cfg.read(ROOT / "setup.cfg", encoding="utf-8")
    strict = {}
    for section in cfg.sections():
        if section.startswith("mypy-") and cfg[section].getboolean("disallow_untyped_defs", False):
            for module in section[len("mypy-"):].split(","):
                strict[module.strip()] = dict(cfg[section])
    core = sorted({".".join(p.relative_to(ROOT).with_suffix("").parts) for pattern in STRICT_CORE
                   for p in ROOT.glob(pattern)})
    assert len(core) >= len(STRICT_CORE)
    assert not set(core) - set(strict), f"not strict: {sorted(set(core) - set(strict))}"
    for module in strict:  # a renamed module would leave a section naming nothing (mypy only notes that)
        assert (ROOT / Path(*module.split("."))).with_suffix(".py").exists(), module
    # the flags `mypy --strict` enables, from mypy's own help: each is set per module or for the whole product
    help_text = subprocess.run([sys.executable, "-m", "mypy", "--help"], capture_output=True, text=True,
                               check=True).stdout
    block = re.search(r"--strict\s+Strict mode; enables the following flags:(.*?)(?:\n  -)", help_text, re.S)
    assert block is not None
    flags = {f.replace("-", "_") for f in re.findall(r"--([a-z][a-z-]+)", re.sub(r"-\s*\n\s*", "-",
                                                                               block.group(1)))}
    assert {"disallow_untyped_defs", "warn_return_any", "no_implicit_reexport"} <= flags
    product_wide = {key for key, value in cfg["mypy"].items() if value.strip() == "True"}
    for module, options in strict.items():
        unset = sorted(f for f in flags - product_wide if options.get(f, "").strip() != "True")
        assert not unset, f"{module} lacks {unset}"
