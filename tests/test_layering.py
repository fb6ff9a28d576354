"""The declared import direction: engines -> aeproject -> remap; engines -> stmpo / remap / fonts -> aefarm_common; the
simulator is fenced off.

Read from the source with ``ast`` (function-level imports count too), so a violation fails here before it can turn
into an import cycle or a product that needs its own test instrument.
"""
from __future__ import annotations

import ast
from pathlib import Path
from typing import Dict, List, Set

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("aefarm_common", "aeproject", "aerender_sim", "engines", "fonts", "remap", "stmpo")
# package -> the aefarm packages it may import (besides itself)
ALLOWED = {
    "aefarm_common": set(),
    "aerender_sim": set(),  # a stand-in for Adobe's aerender: it knows nothing of the product it tests
    "aeproject": {"aefarm_common", "remap"},  # the project model reuses remap's path parsing, rules and XML checks
    "fonts": {"aefarm_common"},
    "remap": {"aefarm_common"},
    "stmpo": {"aefarm_common"},
    "engines": {"aefarm_common", "aeproject", "fonts", "remap", "stmpo"},
}


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _imports(path: Path) -> Set[str]:
    """Every aefarm module ``path`` imports, at any depth of the file (``from a import b`` counts ``a.b`` when
    ``a.b`` is a module, else ``a``)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found: Set[str] = set()
    for node in ast.walk(tree):
        names: List[str] = []
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [node.module] + [f"{node.module}.{alias.name}" for alias in node.names]
        for name in names:
            if name.split(".")[0] in PACKAGES and name in MODULES:
                found.add(name)
    return found


FILES = [p for pkg in PACKAGES for p in sorted((ROOT / pkg).rglob("*.py"))]
MODULES: Dict[str, Path] = {_module_name(p): p for p in FILES}
GRAPH: Dict[str, Set[str]] = {name: _imports(path) for name, path in MODULES.items()}


@pytest.mark.parametrize("package", PACKAGES)
def test_packages_import_only_what_the_layering_allows(package):
    bad = sorted(f"{mod} imports {dep}" for mod, deps in GRAPH.items() if mod.split(".")[0] == package
                 for dep in deps if dep.split(".")[0] not in ALLOWED[package] | {package})
    assert not bad, bad


def test_no_product_module_imports_the_simulator():
    bad = sorted(f"{mod} imports {dep}" for mod, deps in GRAPH.items() if not mod.startswith("aerender_sim")
                 for dep in deps if dep.startswith("aerender_sim"))
    assert not bad, bad


def test_no_import_cycles():
    """Function-level imports included: a cycle hidden inside a function is still a cycle of responsibilities."""
    state: Dict[str, int] = {}
    cycles: List[List[str]] = []

    def visit(node: str, stack: List[str]) -> None:
        state[node] = 1
        stack.append(node)
        for dep in sorted(GRAPH.get(node, ())):
            if dep == node or dep not in GRAPH:
                continue
            if state.get(dep) == 1:
                cycles.append(stack[stack.index(dep):] + [dep])
            elif dep not in state:
                visit(dep, stack)
        stack.pop()
        state[node] = 2

    for name in sorted(GRAPH):
        if name not in state:
            visit(name, [])
    # a package importing its own submodule (``pkg`` -> ``pkg.mod`` -> ``pkg``) is how __init__ works, not a cycle
    real = [c for c in cycles if not any(b.startswith(a + ".") or a.startswith(b + ".") for a, b in zip(c, c[1:]))]
    assert not real, [" -> ".join(c) for c in real]


def test_the_executor_never_depends_on_its_views():
    """stmpo.watch (HTML report, live report, watch server) reads what the executor reports; the rest of stmpo
    never imports it, so the executor runs the same with or without the watch."""
    bad = sorted(f"{mod} imports {dep}" for mod, deps in GRAPH.items()
                 if mod.startswith("stmpo.") and not mod.startswith("stmpo.watch") for dep in deps
                 if dep.startswith("stmpo.watch"))
    assert not bad, bad
    assert "stmpo.watch.session" in GRAPH["engines.aftereffects.render"]


def test_template_jobs_sit_above_the_engine_and_below_its_commands():
    """``engines.aftereffects.jobs`` (template jobs) builds on the engine (Job, options, render, pool) and on
    aeproject/remap/stmpo; the CLI (``commands``) uses it, never the other way round. Its byte-level variant logic
    lives below it (``aeproject.variant`` computes the edits, ``remap.splice`` writes them), so no module under
    ``aeproject``, ``remap`` or ``stmpo`` knows about jobs (the table above holds that), and the executor's pool is
    ``stmpo.targets``, which knows nothing of templates."""
    jobs = {mod: deps for mod, deps in GRAPH.items() if mod.startswith("engines.aftereffects.jobs")}
    assert "engines.aftereffects.jobs.batch" in jobs and "engines.aftereffects.jobs.variants" in jobs
    bad = sorted(f"{mod} imports {dep}" for mod, deps in jobs.items() for dep in deps
                 if dep.startswith("engines.aftereffects.commands"))
    assert not bad, bad
    assert "aeproject.variant" in GRAPH["engines.aftereffects.jobs.variants"]
    assert "remap.splice" in GRAPH["engines.aftereffects.jobs.variants"]
    assert "stmpo.targets" in GRAPH["stmpo.run"]
    assert not [dep for dep in GRAPH["stmpo.targets"] if not dep.startswith("stmpo.")]


def test_the_graph_sees_known_imports():
    """The checker itself works: it finds imports that certainly exist (else every test above passes vacuously)."""
    assert "stmpo.frames" in GRAPH["engines.aftereffects.job"]
    assert "aerender_sim.faults" in GRAPH["aerender_sim.launcher"]  # the worker runs as a process, by name
    assert "aefarm_common.errors" in GRAPH["remap.errors"]
