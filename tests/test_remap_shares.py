"""accsyn shares, mapped_share_paths and the shared rule options of the CLI."""
from __future__ import annotations

import argparse
import json

import pytest

from remap.cli_args import add_rule_arguments, rules_from_args
from remap.errors import RemapError
from remap.rules import RuleSet
from remap.shares import load_node_sharepaths, load_shares, resolve_share_path

SHARES = [
    {"id": "5f1e0c", "code": "projects", "default": True,
     "paths": {"windows": "P:\\", "linux": "/mnt/projects", "mac": "/Volumes/projects"}},
    {"id": "77aa01", "code": "tools", "paths": {"windows": "\\\\fs\\tools", "linux": "/mnt/tools/"}},
]
NODE = [{"share": "77aa01", "share_hr": "tools", "path": "/opt/tools"}]
DATA = {
    "compute": {"input": "share=projects/job/a.aepx", "parameters": {"mapped_share_paths": [
        {"remote": "C:\\projects", "local": "share=projects/from_c"},
        {"remote": "N:\\tools", "local": "share=tools", "os": "linux"},
        {"remote": "N:\\tools", "local": "T:\\", "os": "windows"},
    ]}},
    "shares": SHARES,
    "client": {"config": {"sharepaths": NODE}},
    "site": {"code": "hq"},
}


def test_resolve_by_id_or_code_with_sub_folders():
    assert resolve_share_path("share=projects", SHARES, "linux") == "/mnt/projects"
    assert resolve_share_path("share=5f1e0c/job/a b", SHARES, "linux") == "/mnt/projects/job/a b"
    assert resolve_share_path("share=projects/job\\x/", SHARES, "windows") == "P:\\job\\x"
    assert resolve_share_path("share=PROJECTS/x", SHARES, "mac") == "/Volumes/projects/x"
    assert resolve_share_path("share=tools/bin", SHARES, "windows") == "\\\\fs\\tools\\bin"
    assert resolve_share_path("share=tools/bin", SHARES, "linux") == "/mnt/tools/bin"
    assert resolve_share_path("share=tools/bin", SHARES, "darwin", [{"share": "tools", "path": "/T"}]) == "/T/bin"


def test_node_sharepaths_win():
    assert resolve_share_path("share=tools/bin", SHARES, "linux", NODE) == "/opt/tools/bin"
    assert resolve_share_path("share=projects", SHARES, "linux", NODE) == "/mnt/projects"
    # a share only the node knows
    assert resolve_share_path("share=scratch/x", SHARES, "linux",
                              [{"share": "9", "share_hr": "scratch", "path": "/scratch"}]) == "/scratch/x"


@pytest.mark.parametrize("value, node_os, words", [
    ("share=nope/x", "linux", ["unknown share 'nope'", "projects, tools"]),
    ("share=tools", "mac", ["share tools has no path for mac"]),
    ("share=projects/../etc", "linux", ["'..'"]),
    ("share=", "linux", ["no share"]),
    ("projects/x", "linux", ["share=<id|code>"]),
    ("share=projects", "amiga", ["unknown OS"]),
])
def test_resolve_errors(value, node_os, words):
    with pytest.raises(RemapError) as info:
        resolve_share_path(value, SHARES, node_os)
    for word in words:
        assert word in str(info.value)
    assert "\n" not in str(info.value)


def test_load_shares_list_and_data_file(tmp_path):
    listing = tmp_path / "shares.json"
    listing.write_text(json.dumps(SHARES), encoding="utf-8")
    assert [s["code"] for s in load_shares(listing)] == ["projects", "tools"]
    data = tmp_path / "data.json"
    data.write_text(json.dumps(DATA), encoding="utf-8")
    assert [s["id"] for s in load_shares(data)] == ["5f1e0c", "77aa01"]
    assert load_node_sharepaths(data) == NODE
    assert load_node_sharepaths(listing) is None


@pytest.mark.parametrize("content, words", [
    ({"nothing": 1}, "'shares'"),
    ([{"paths": {}}], "share 1 has neither"),
    ([{"id": "x", "paths": ["P:\\"]}], "share x 'paths'"),
    ([{"id": "x", "paths": {"linux": 3}}], "paths.linux"),
    (["x"], "share 1 must be an object"),
])
def test_bad_shares_files(tmp_path, content, words):
    path = tmp_path / "s.json"
    path.write_text(json.dumps(content), encoding="utf-8")
    with pytest.raises(RemapError, match=words):
        load_shares(path)


def test_from_accsyn_filters_by_os_and_resolves_shares():
    entries = DATA["compute"]["parameters"]["mapped_share_paths"]
    linux = RuleSet.from_accsyn(entries, SHARES, "linux", NODE)
    assert linux.map("C:\\projects\\a.png") == "/mnt/projects/from_c/a.png"
    assert linux.map("n:/tools/x.jsx") == "/opt/tools/x.jsx"
    assert [r.origin for r in linux] == ["accsyn mapping 1", "accsyn mapping 2"]
    windows = RuleSet.from_accsyn(entries, SHARES, "windows")
    assert windows.map("N:\\tools\\x.jsx") == "T:\\x.jsx"
    assert windows.map("C:\\projects\\a.png") == "P:\\from_c\\a.png"
    assert len(RuleSet.from_accsyn([], None, "mac")) == 0


@pytest.mark.parametrize("entries, words", [
    ([{"remote": "C:\\x", "local": "share=ghost"}], ["accsyn mapping 1", "unknown share 'ghost'"]),
    ([{"remote": "C:\\x", "local": "/a"}, {"remote": "x", "local": "/b"}], ["accsyn mapping 2", "not absolute"]),
    ([{"remote": "C:\\x", "local": "/a", "os": "beos"}], ["accsyn mapping 1", "unknown os"]),
    ([{"remote": "C:\\x"}], ["accsyn mapping 1", "'local'"]),
    (["C:\\x=/a"], ["accsyn mapping 1", "object"]),
    ({"remote": "C:\\x"}, ["list"]),
])
def test_from_accsyn_errors_name_the_entry(entries, words):
    with pytest.raises(RemapError) as info:
        RuleSet.from_accsyn(entries, SHARES, "linux")
    for word in words:
        assert word in str(info.value)


def test_from_accsyn_shares_maps_every_share_from_the_remote_os():
    rules = RuleSet.from_accsyn_shares(SHARES, "windows", "linux", NODE)
    assert rules.map("p:\\job\\a.png") == "/mnt/projects/job/a.png"
    assert rules.map("\\\\FS\\tools\\x") == "/opt/tools/x"
    mac = RuleSet.from_accsyn_shares(SHARES, "mac", "windows")
    assert mac.map("/Volumes/projects/a") == "P:\\a"
    assert len(mac) == 1  # tools has no mac path
    assert len(RuleSet.from_accsyn_shares(SHARES, "linux", "linux")) == 0  # identical paths: no rules
    both = rules.merged(RuleSet.from_accsyn(DATA["compute"]["parameters"]["mapped_share_paths"], SHARES, "linux",
                                            NODE))
    assert both.map("C:\\projects\\x") == "/mnt/projects/from_c/x"


# ---- the shared CLI options ---------------------------------------------------------------------------------------

def _parse(argv):
    parser = argparse.ArgumentParser()
    add_rule_arguments(parser)
    return parser.parse_args(argv)


def test_rules_from_args_merges_every_source(tmp_path):
    rules_file = tmp_path / "rules.json"
    rules_file.write_text(json.dumps({"version": "pathmapping-1.0", "path_mapping_rules": [
        {"source_path_format": "POSIX", "source_path": "/Volumes/P", "destination_path": "/mnt/vp"}]}))
    data = tmp_path / "data.json"
    data.write_text(json.dumps(DATA))
    args = _parse(["--map", "Q:\\=/mnt/q", "--rules", str(rules_file), "--accsyn-mappings", str(data),
                   "--case-insensitive-posix"])
    rules = rules_from_args(args, node_os="linux")
    assert rules.map("q:\\a") == "/mnt/q/a"
    assert rules.map("/volumes/p/a") == "/mnt/vp/a"
    assert rules.map("N:\\tools\\x") == "/opt/tools/x"  # shares and node mounts from the same data.json
    assert rules.map("C:\\projects\\x") == "/mnt/projects/from_c/x"
    assert len(rules_from_args(_parse([]))) == 0


def test_rules_from_args_with_separate_files(tmp_path):
    mappings = tmp_path / "m.json"
    mappings.write_text(json.dumps({"mapped_share_paths": [{"remote": "/Volumes/X", "local": "share=projects"}]}))
    shares = tmp_path / "s.json"
    shares.write_text(json.dumps(SHARES))
    rules = rules_from_args(_parse(["--accsyn-mappings", str(mappings), "--shares", str(shares)]), node_os="windows")
    assert rules.map("/Volumes/X/a/b") == "P:\\a\\b"
    with pytest.raises(RemapError, match="share=.*shares|unknown share"):
        rules_from_args(_parse(["--accsyn-mappings", str(mappings)]), node_os="windows")
    with pytest.raises(RemapError, match="--shares only applies"):
        rules_from_args(_parse(["--shares", str(shares)]))
    with pytest.raises(RemapError, match="--map #2"):
        rules_from_args(_parse(["--map", "/a=/b", "--map", "/a=/c"]))
