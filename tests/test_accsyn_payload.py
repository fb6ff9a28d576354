"""The accsyn submission payload: pure building from data, and `aefarm accsyn submit --dry-run` on a real project."""
from __future__ import annotations

import json
from types import SimpleNamespace as Ref

import pytest

from engines.aftereffects.accsyn_errors import AccsynError
from engines.aftereffects.accsyn_payload import (
    build_payload,
    dependencies_from_references,
    mapped_share_paths_from_rules,
    split_output,
)
from engines.aftereffects.sample_project import write_sample_project
from remap.rules import RuleSet


def test_dependencies_are_deduplicated_and_exclude_project_and_outputs():
    refs = [
        Ref(kind="footage", raw="C:\\proj\\a.png", exists=True),
        Ref(kind="footage", raw="c:/PROJ/a.png", exists=True),  # same Windows file, other spelling
        Ref(kind="sequence", raw="\\\\srv\\share\\sh010", exists=True),
        Ref(kind="output", raw="C:\\proj\\renders", exists=True),
        Ref(kind="text-layer", raw="C:\\typed\\in\\a\\text.png", exists=None),
        Ref(kind="expression", raw="P:/scripts/rig.jsx", exists=False),
        Ref(kind="footage", raw="C:\\proj\\scene\\shot.aepx", exists=True),  # the project itself
        Ref(kind="footage", raw="/mnt/a.png", exists=True),
        Ref(kind="footage", raw="/mnt/A.png", exists=True),  # POSIX: a different file
    ]
    deps, warnings = dependencies_from_references("C:\\proj\\scene\\shot.aepx", refs)
    assert deps == ["C:\\proj\\a.png", "\\\\srv\\share\\sh010", "P:/scripts/rig.jsx", "/mnt/a.png", "/mnt/A.png"]
    assert warnings == ["dependency not found on this machine: P:/scripts/rig.jsx (expression)"]


def test_relative_dependency_is_warned_not_listed():
    deps, warnings = dependencies_from_references("/p/x.aepx", [Ref(kind="footage", raw="foot/a.png", exists=None)])
    assert deps == [] and "relative path" in warnings[0]


def test_payload_shape():
    payload = build_payload(project="/p/shot.aepx", frames="1-100x5", output="/out/shot_[#####].png",
                            remote_os="linux", comp="Main", engine="aftereffects", filters="ram:>32G, site:sthlm",
                            mapped_share_paths=[{"remote": "C:\\proj", "local": "/mnt/proj"}],
                            envs={"common": {"A": "1"}}, bucket_size=5, dependencies=["/p/a.png"],
                            arguments="-v ERRORS")
    assert payload == {
        "name": "shot.aepx Main 1-96x5", "engine": "aftereffects", "input": "/p/shot.aepx", "output": "/out",
        "range": "1-96x5", "dependencies": ["/p/a.png"], "filters": "ram:>32g,site:sthlm",
        "settings": {"task_bucketsize": 5}, "envs": {"common": {"A": "1"}},
        "parameters": {"input_conversion": "always", "remote_os": "linux", "comp": "Main",
                       "mapped_share_paths": [{"remote": "C:\\proj", "local": "/mnt/proj"}],
                       "output_template": "shot_[#####].png", "arguments": "-v ERRORS"},
    }
    json.dumps(payload)  # serialisable as sent


def test_without_mappings_conversion_is_auto_and_rqindex_is_used():
    payload = build_payload(project="D:\\p\\shot.aepx", frames="1-10", output="D:\\out", remote_os="windows",
                            rqindex=2, name="mine")
    assert payload["parameters"] == {"input_conversion": "auto", "remote_os": "windows",
                                     "mapped_share_paths": [], "rqindex": 2}
    assert payload["name"] == "mine" and payload["output"] == "D:\\out"
    assert "filters" not in payload and "settings" not in payload and "envs" not in payload


@pytest.mark.parametrize("kwargs, message", [
    ({"frames": "1-x"}, "frames '1-x'"),
    ({"comp": None}, "exactly one of --comp"),
    ({"rqindex": 1}, "exactly one of --comp"),
    ({"filters": "gpu:1"}, "unknown key 'gpu'"),
    ({"project": "rel/shot.aepx"}, "expected an absolute path"),
    ({"output": "renders"}, "expected an absolute folder"),
    ({"bucket_size": 0}, "bucket size 0"),
])
def test_bad_input_is_one_line(kwargs, message):
    args = dict(project="/p/shot.aepx", frames="1-10", output="/out", remote_os="linux", comp="Main")
    args.update(kwargs)
    with pytest.raises(AccsynError, match=message):
        build_payload(**args)


def test_share_output_and_split():
    assert split_output("share=proj/renders") == ("share=proj/renders", None)
    assert split_output("C:\\out\\x_[####].tif") == ("C:\\out", "x_[####].tif")
    assert split_output("/out/") == ("/out", None)


def test_rules_become_mapped_share_paths():
    rules = RuleSet.from_cli(["C:\\proj=/mnt/proj", "\\\\srv\\share=/mnt/share"])
    assert mapped_share_paths_from_rules(rules) == [{"remote": "C:\\proj", "local": "/mnt/proj"},
                                                    {"remote": "\\\\srv\\share", "local": "/mnt/share"}]


def test_submit_dry_run_prints_payload_with_dependencies(aefarm, tmp_path):
    (tmp_path / "foot").mkdir()
    (tmp_path / "foot" / "a.png").write_bytes(b"x")
    (tmp_path / "seq").mkdir()
    project = tmp_path / "shot.aepx"
    write_sample_project(project, footage=[str(tmp_path / "foot" / "a.png"), str(tmp_path / "foot" / "a.png"),
                                           str(tmp_path / "seq") + "/", str(tmp_path / "gone.mov")],
                         output_folder=str(tmp_path / "out") + "/",
                         expressions=[f'$.evalFile("{tmp_path}/scripts/rig.jsx")'])
    proc = aefarm("accsyn", "submit", project, "--comp", "Main", "--frames", "1-100x5", "--output",
                  tmp_path / "out", "--engine", "aftereffects", "--filters", "ram:>32g,site:sthlm,hostname:-a-b",
                  "--map", "C:\\proj=/mnt/proj", "--bucket-size", "4", "--dry-run")
    assert proc.returncode == 0, proc.stderr
    payload = json.loads(proc.stdout)
    assert payload["dependencies"] == [str(tmp_path / "foot" / "a.png"), str(tmp_path / "seq"),
                                       str(tmp_path / "gone.mov"), f"{tmp_path}/scripts/rig.jsx"]
    assert payload["input"] == str(project) and payload["range"] == "1-96x5"
    assert payload["filters"] == "ram:>32g,site:sthlm,hostname:-a-b"
    assert payload["settings"] == {"task_bucketsize": 4}
    assert payload["parameters"]["input_conversion"] == "always"
    assert payload["parameters"]["mapped_share_paths"] == [{"remote": "C:\\proj", "local": "/mnt/proj"}]
    assert f"dependency not found on this machine: {tmp_path / 'gone.mov'} (footage)" in proc.stderr
    assert f"{tmp_path}/scripts/rig.jsx (expression)" in proc.stderr


def test_submit_bad_filter_exits_2_with_one_line(aefarm, tmp_path):
    project = tmp_path / "shot.aepx"
    write_sample_project(project)
    proc = aefarm("accsyn", "submit", project, "--comp", "Main", "--frames", "1-10", "--output", tmp_path,
                  "--engine", "aftereffects", "--filters", "ram:32g", "--dry-run")
    assert proc.returncode == 2
    assert proc.stdout == ""
    assert proc.stderr.strip().splitlines() == [
        "aefarm: error: filter 1 'ram:32g': expected ram:<N or ram:>N with an optional unit g, m or t "
        "(e.g. ram:>32g)"]
