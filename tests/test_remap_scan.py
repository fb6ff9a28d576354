"""scan(): every reference, its mapping, whether it exists on this host, and which rule applied."""
from __future__ import annotations

import json

import pytest
from remap_helpers import FIXTURE, RULE_PAIRS

from engines.aftereffects.sample_project import write_sample_project
from remap.errors import RemapError
from remap.rules import RuleSet
from remap.scan import Reference, missing_footage, scan


@pytest.fixture
def farm(tmp_path):
    """A project whose Windows paths map into tmp_path, where some of the files exist."""
    root = tmp_path / "mnt" / "p"
    (root / "JOB" / "plates" / "sh010").mkdir(parents=True)
    (root / "JOB" / "a.png").write_bytes(b"png")
    (root / "JOB" / "renders").mkdir()
    local = tmp_path / "local.exr"
    local.write_bytes(b"exr")
    project = write_sample_project(
        tmp_path / "shot.aepx",
        footage=["P:\\JOB\\a.png", "P:\\JOB\\missing.png", "P:\\JOB\\plates\\sh010\\", str(local), "Q:\\nope.png"],
        output_folder="P:\\JOB\\renders\\",
        expressions=['$.evalFile("P:\\\\JOB\\\\a.png"); value'],
    )
    rules = RuleSet.from_cli([f"P:\\={root}"])
    return project, rules, root, local


def test_scan_lists_every_reference_with_mapping_and_existence(farm):
    project, rules, root, local = farm
    refs = scan(project, rules)
    table = [(r.kind, r.raw, r.mapped, r.exists, r.rule) for r in refs]
    assert table == [
        ("footage", "P:\\JOB\\a.png", f"{root}/JOB/a.png", True, "--map #1"),
        ("footage", "P:\\JOB\\missing.png", f"{root}/JOB/missing.png", False, "--map #1"),
        ("sequence", "P:\\JOB\\plates\\sh010", f"{root}/JOB/plates/sh010", True, "--map #1"),
        ("footage", str(local), None, True, None),
        ("footage", "Q:\\nope.png", None, False, None),
        ("expression", "P:\\JOB\\a.png", f"{root}/JOB/a.png", True, "--map #1"),
        ("output", "P:\\JOB\\renders", f"{root}/JOB/renders", True, "--map #1"),
    ]
    assert [r.raw for r in refs if r.foreign] == ["Q:\\nope.png"]
    assert [r.raw for r in missing_footage(refs)] == ["P:\\JOB\\missing.png", "Q:\\nope.png"]
    assert json.dumps([r.to_json() for r in refs])


def test_scan_without_rules_flags_foreign_paths(farm):
    project, _, _, local = farm
    refs = scan(project)
    assert all(r.mapped is None and r.rule is None for r in refs)
    assert {r.raw for r in refs if not r.foreign} == {str(local)}


def test_scan_reports_hex_chunks_and_text_layers(tmp_path):
    project = tmp_path / "fixture.aepx"
    project.write_bytes(FIXTURE.encode("utf-8"))  # exact bytes (write_text has no newline= before 3.10)
    refs = scan(project, RuleSet.from_cli(RULE_PAIRS))
    kinds = {(r.kind, r.raw) for r in refs}
    assert ("text-layer", "/Volumes/projects/titles.txt") in kinds
    assert ("expression", "P:/JOB/old.jsx") in kinds  # the hex <expr> chunk
    assert ("expression", "D:\\Projects\\x.png") in kinds
    assert ("output", "\\\\fileserver\\renders\\JOB\\MAIN") in kinds
    # comment, CDATA and a fileReference outside Pin/LOm are not references
    raws = {r.raw for r in refs}
    assert not raws & {"P:\\comment\\x.png", "P:\\cdata\\x.png", "P:\\not_under_pin.png"}
    text_layer = next(r for r in refs if r.kind == "text-layer")
    assert text_layer.exists is None and text_layer.mapped == "/mnt/vol/titles.txt"


def test_scan_refuses_binary_projects(tmp_path):
    project = tmp_path / "p.aep"
    project.write_bytes(b"RIFX\x00\x00\x00\x10Egg!LIST")
    with pytest.raises(RemapError, match="save it as .aepx"):
        scan(project)
    with pytest.raises(RemapError, match="no such file"):
        scan(tmp_path / "absent.aepx")


def test_reference_effective_path():
    assert Reference("footage", "P:\\x", "/mnt/x", False, "r").effective == "/mnt/x"
    assert Reference("footage", "/x", None, True, None).effective == "/x"
