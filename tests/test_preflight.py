"""The preflight's pure checks, one test per kind of mistake the project file can reveal (and its variants)."""
from __future__ import annotations

import pytest

from aeproject.footage import Disk, check_footage
from aeproject.reader import read_project
from engines.aftereffects.preflight import (
    ERROR,
    WARNING,
    PreflightError,
    Request,
    check,
    check_output,
    windows_path_problem,
)
from engines.aftereffects.sample_project import CompSpec, QueueSpec, write_sample_project
from remap.rules import RuleSet
from stmpo.frames import FrameSet

needs_posix_host = pytest.mark.skipif(__import__("os").name != "posix", reason="the node is this POSIX machine")


@pytest.fixture
def project(tmp_path):
    comps = [CompSpec("Main", duration_frames=240), CompSpec("Main v2"), CompSpec("Titles", display_start_frame=1001,
                                                                                  duration_frames=100)]
    queue = [QueueSpec("Main"), QueueSpec("Titles", queued=False)]
    return read_project(write_sample_project(tmp_path / "p.aepx", comps=comps, queue=queue))


def run(project, states=(), **kwargs):
    return check(Request(**kwargs), project, list(states))


def messages(result, level=ERROR):
    return [f.message for f in result.findings if f.level == level]


# ------------------------------------------------------------------------------------------------ target
def test_unknown_comp_names_the_closest(project):
    result = run(project, comp="Mian")
    [error] = messages(result)
    assert "comp 'Mian' not found" in error and "closest: 'Main'" in error
    with pytest.raises(PreflightError, match="Mian"):
        result.raise_for_errors()


def test_unknown_comp_differing_in_case_is_named_first(project):
    assert "closest: 'Titles'" in messages(run(project, comp="titles"))[0]


def test_unknown_comp_with_nothing_close_lists_the_comps(project):
    assert "its comps: 'Main', 'Main v2', 'Titles'" in messages(run(project, comp="Zzz"))[0]


def test_ambiguous_comp_suggests_the_render_queue_items(tmp_path):
    path = write_sample_project(tmp_path / "a.aepx", comps=["Main", "Main", "Other"],
                                queue=[QueueSpec(1), QueueSpec(2), QueueSpec(0)])
    project = read_project(path)
    [error] = messages(run(project, comp="Main"))
    ids = [c.item_id for c in project.comps[:2]]
    assert f"2 comps have that name (item ids {ids[0]}, {ids[1]})" in error
    assert f"--rqindex 1 (comp id {ids[1]})" in error and f"--rqindex 3 (comp id {ids[0]})" in error
    project = read_project(write_sample_project(tmp_path / "b.aepx", comps=["Main", "Main"]))
    assert "put the one you mean in the render queue" in messages(run(project, comp="Main"))[0]


def test_rqindex_out_of_range_lists_the_queue(project):
    [error] = messages(run(project, rqindex=7))
    assert "--rqindex 7 is out of range" in error and "has 2 items (1: 'Main', 2: 'Titles')" in error


def test_rqindex_on_an_empty_queue(tmp_path):
    project = read_project(write_sample_project(tmp_path / "e.aepx", comps=["Main"]))
    assert "render queue of" in messages(run(project, rqindex=1))[0] and "is empty" in messages(
        run(project, rqindex=1))[0]


def test_unqueued_item_is_refused_with_the_fix(project):
    [error] = messages(run(project, rqindex=2))
    assert "--rqindex 2 ('Titles') is unqueued, not queued" in error and "--comp 'Titles'" in error
    assert run(project, rqindex=1).errors == []


def test_neither_comp_nor_index_needs_a_queued_item(tmp_path, project):
    assert run(project).errors == []  # item 1 is queued: the whole queue renders
    empty = read_project(write_sample_project(tmp_path / "e.aepx", comps=["Main"]))
    assert "render queue of" in messages(run(empty))[0] and "empty" in messages(run(empty))[0]
    idle = read_project(write_sample_project(tmp_path / "i.aepx", comps=["Main"], queue=[QueueSpec(0, False)]))
    assert "no item of the render queue" in messages(run(idle))[0]


def test_frames_outside_the_comp_are_a_warning(project):
    result = run(project, comp="Titles", frames=FrameSet.parse("990-1010,1099-1105"))
    assert result.errors == []
    [warning] = messages(result, WARNING)
    assert "frames 990-1000,1101-1105 are outside comp 'Titles' (frames 1001-1100" in warning
    assert run(project, comp="Titles", frames=FrameSet.parse("1001-1100")).findings == []


# ------------------------------------------------------------------------------------------------ footage
@needs_posix_host
def test_footage_missing_after_mapping_foreign_and_relative(tmp_path):
    present = tmp_path / "local" / "a.png"
    present.parent.mkdir()
    present.write_bytes(b"x")
    project = read_project(write_sample_project(tmp_path / "f.aepx", footage=[
        "P:\\show\\a.png", "P:\\show\\gone.png", "Q:\\other\\b.png", "footage/c.png"]))
    rules = RuleSet.from_cli([f"P:\\show={present.parent}"])
    states = check_footage(project, rules)
    result = run(project, states, comp="Main", rules=rules)
    foreign, missing = messages(result)
    assert "1 footage path is still Windows" in foreign and "Q:\\other\\b.png" in foreign
    assert "1 footage item missing on this node after mapping: P:\\show\\gone.png -> " in missing
    assert str(present.parent / "gone.png") in missing and "--continue-on-missing-footage" in missing
    assert "'footage/c.png' is relative" in messages(result, WARNING)[0]
    allowed = run(project, states, comp="Main", rules=rules, allow_missing_footage=True)
    assert allowed.errors == [] and len(allowed.warnings) == 3


def test_foreign_footage_names_the_paths_it_objects_to(tmp_path):
    """A rule that maps Windows footage to POSIX paths on a windows target: the error listed the original Windows
    paths, not the POSIX ones it objects to."""
    project = read_project(write_sample_project(tmp_path / "f.aepx", footage=["P:\\show\\a.png", "/mnt/x/b.png"]))
    rules = RuleSet.from_cli(["P:\\show=/mnt/show"])
    states = check_footage(project, rules, node_os="windows")
    [foreign] = [m for m in messages(run(project, states, comp="Main", rules=rules, node_os="windows"))
                 if "still POSIX" in m]
    assert "2 footage paths are still POSIX paths" in foreign and "maps them to a windows path" in foreign
    assert "/mnt/show/a.png (mapped from P:\\show\\a.png)" in foreign and ", /mnt/x/b.png" in foreign


def test_footage_checked_through_a_fake_disk_lists_a_few_and_counts_the_rest(tmp_path):
    paths = [f"/mnt/show/plate_{n}.png" for n in range(6)]
    project = read_project(write_sample_project(tmp_path / "f.aepx", footage=paths))
    disk = Disk(is_file=lambda p: p.endswith("_0.png"), is_dir=lambda p: False, list_folder=lambda p: [])
    states = check_footage(project, RuleSet(), node_os="linux", disk=disk)
    [error] = messages(run(project, states, comp="Main", node_os="linux"))
    assert error.startswith("5 footage items missing") and "/mnt/show/plate_3.png and 2 more" in error


def test_converted_footage_invalid_on_windows_is_named(tmp_path):
    project = read_project(write_sample_project(tmp_path / "w.aepx", footage=["/mnt/show/a:b?.png"]))
    rules = RuleSet.from_cli(["/mnt/show=Z:\\show"])
    states = check_footage(project, rules, node_os="windows")
    errors = messages(run(project, states, comp="Main", rules=rules, node_os="windows"))
    assert any("converted footage path 'Z:\\show\\a:b?.png' is not a valid Windows path" in e for e in errors)


# ------------------------------------------------------------------------------------------------ output
def test_windows_output_on_a_posix_node_is_refused_or_mapped():
    findings, output = check_output("D:\\renders\\shot_[#####].png", None, RuleSet(), "linux")
    assert output is None and "is a Windows path, not a path on this linux node" in findings[0].message
    rules = RuleSet.from_cli(["D:\\renders=/mnt/renders"])
    findings, output = check_output("D:\\renders\\shot_[#####].png", None, rules, "linux")
    assert output == "/mnt/renders/shot_[#####].png"
    assert [f.level for f in findings] == [WARNING] and "mapped to '/mnt/renders/shot_[#####].png'" in \
        findings[0].message


def test_posix_output_on_a_windows_node_is_refused():
    findings, output = check_output("/mnt/renders/x_[#####].png", None, RuleSet(), "windows")
    assert output is None and "POSIX path, not a path on this windows node" in findings[0].message


@pytest.mark.parametrize("output, frames, level, words", [
    ("/o/shot.png", "1-5", WARNING, "written as shot_[#####].png"),
    ("/o/shot", "1-5", ERROR, "has no extension"),
    ("/o/shot_[startFrame]_[#####].png", "1-5", ERROR, "uses [startFrame]"),
    ("/o/x_[#####].[fileextension]", "1-5", ERROR, "[fileextension]"),
    ("/o/[compName].mov", "1-9x2", ERROR, "is a movie: it needs one run of consecutive frames"),
    ("/o/[compName].mov", "1-3,7-9", ERROR, "consecutive"),
    ("/o/[compName]_[####].mp4", "1-9", ERROR, "remove the [#] frame token"),
    ("relative/x_[#####].png", "1", ERROR, "is not an absolute path"),
])
def test_output_patterns_aerender_fills_differently_or_aefarm_cannot_verify(output, frames, level, words):
    findings, _ = check_output(output, FrameSet.parse(frames), RuleSet(), "linux")
    assert [f.level for f in findings] == [level] and words in findings[0].message


def test_good_outputs_have_no_findings():
    for output, frames in (("/o/[compName]_[#####].png", "1-9x2"), ("/o/Main.mov", "1-9"), ("/o/a.mov", "5")):
        assert check_output(output, FrameSet.parse(frames), RuleSet(), "linux") == ([], output)
    assert check_output("C:\\o\\[compName]_[###].exr", None, RuleSet(), "windows") == ([], "C:\\o\\[compName]_[###].exr")


@pytest.mark.parametrize("path, words", [
    ("C:\\out\\a<b.png", "'<' is not allowed"),
    ("C:\\out\\what?.png", "'?' is not allowed"),
    ("C:\\out\\CON\\x.png", "reserved device name"),
    ("C:\\out\\nul.txt", "reserved device name"),
    ("C:\\out\\lpt9", "reserved device name"),
    ("C:\\out\\dot.\\x.png", "ends with a dot"),
    ("C:\\out\\space \\x.png", "ends with a dot or a space"),
    ("\\\\srv\\sh|are\\x.png", "'|' is not allowed"),
    ("C:\\out\\tab\tname.png", "control character"),
])
def test_windows_path_problems(path, words):
    assert words in windows_path_problem(path)


def test_valid_windows_paths_and_other_families_pass():
    for path in ("C:\\out\\CONSOLE\\com10.png", "\\\\srv\\share\\a b\\[#####].png", "/mnt/a:b?", "relative\\x"):
        assert windows_path_problem(path) is None
    findings, _ = check_output("C:\\out\\AUX\\[#####].png", None, RuleSet(), "windows")
    assert [f.level for f in findings] == [ERROR] and "reserved device name" in findings[0].message


def test_output_findings_come_before_project_findings(project):
    result = run(project, comp="Mian", output="/o/x.mov", frames=FrameSet.parse("1-9x2"))
    assert [f.message.split(" ")[0] for f in result.errors] == ["--output", "comp"]
    with pytest.raises(PreflightError, match="and 1 more problems"):
        result.raise_for_errors()


def test_binary_or_unreadable_project_still_checks_the_output():
    result = check(Request(comp="Main", output="D:\\x\\[#####].png", node_os="linux"), None, [])
    assert len(result.errors) == 1 and "Windows path" in result.errors[0].message


def test_absolute_output_keeps_every_absolute_form_and_anchors_relative_ones(tmp_path, monkeypatch):
    from engines.aftereffects.preflight import absolute_output

    monkeypatch.chdir(tmp_path)
    for kept in ("D:\\renders\\x_[#####].png", "\\\\srv\\share\\x.png", "/mnt/x.png", "file:///mnt/x.png"):
        assert absolute_output(kept) == kept
    assert absolute_output("out/x_[#####].png") == str(tmp_path / "out" / "x_[#####].png")
