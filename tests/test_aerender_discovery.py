"""aerender discovery order (fake install trees), version probing, command lines, and `aefarm doctor`."""
from __future__ import annotations

import json
import os
import stat
import time
from pathlib import Path

import pytest

from aefarm_common import exitcodes
from stmpo.aerender import build_command, find_aerender, install_version_key
from stmpo.errors import StmpoError


def make_exe(path: Path, version: str = "24.6x67") -> str:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(f"#!/bin/sh\nif [ \"$1\" = -version ]; then echo 'aerender version {version}'; fi\n")
    path.chmod(path.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
    return str(path)


def win_tree(root: Path, *versions: str) -> None:
    for version in versions:
        make_exe(root / f"Adobe After Effects {version}" / "Support Files" / "aerender.exe")


def mac_tree(root: Path, *versions: str) -> None:
    for version in versions:
        make_exe(root / f"Adobe After Effects {version}" / "aerender")


# --------------------------------------------------------------------------------------------------------------------
# order

def test_explicit_path_wins_over_everything(tmp_path):
    explicit = make_exe(tmp_path / "mine" / "aerender")
    env_exe = make_exe(tmp_path / "env" / "aerender")
    path_exe = make_exe(tmp_path / "bin" / "aerender")
    found = find_aerender(explicit, env={"AERENDER_PATH": env_exe, "PATH": str(Path(path_exe).parent)},
                          os_name="linux", query_version=False)
    assert (found.path, found.source) == (os.path.abspath(explicit), "--aerender")
    assert found.tried == (("--aerender", f"found {explicit}"),)


def test_env_var_before_path_and_path_before_install_folders(tmp_path):
    env_exe = make_exe(tmp_path / "env" / "aerender")
    path_dir = tmp_path / "bin"
    make_exe(path_dir / "aerender")
    roots = [str(tmp_path / "Applications")]
    mac_tree(tmp_path / "Applications", "2025")
    env = {"AERENDER_PATH": env_exe, "PATH": str(path_dir)}
    assert find_aerender(env=env, os_name="mac", search_roots=roots, query_version=False).source == "AERENDER_PATH"
    del env["AERENDER_PATH"]
    found = find_aerender(env=env, os_name="mac", search_roots=roots, query_version=False)
    assert (found.path, found.source) == (str(path_dir / "aerender"), "PATH")
    env["PATH"] = str(tmp_path / "empty")
    found = find_aerender(env=env, os_name="mac", search_roots=roots, query_version=False)
    assert found.source == "install folder"
    assert found.path == str(tmp_path / "Applications" / "Adobe After Effects 2025" / "aerender")
    assert [place for place, _ in found.tried][:3] == ["--aerender", "AERENDER_PATH", "PATH"]


def test_path_finds_aerender_exe_name_too(tmp_path):
    make_exe(tmp_path / "bin" / "aerender.exe")
    found = find_aerender(env={"PATH": str(tmp_path / "bin")}, os_name="linux", query_version=False)
    assert found.path == str(tmp_path / "bin" / "aerender.exe")


def test_configured_but_missing_does_not_fall_back(tmp_path):
    make_exe(tmp_path / "bin" / "aerender")
    env = {"AERENDER_PATH": str(tmp_path / "gone" / "aerender"), "PATH": str(tmp_path / "bin")}
    found = find_aerender(env=env, os_name="linux", query_version=False)
    assert found.path is None and found.tried[-1] == ("AERENDER_PATH", f"{env['AERENDER_PATH']} does not exist")
    with pytest.raises(StmpoError) as info:
        found.require()
    assert "does not exist" in str(info.value) and "\n" not in str(info.value)
    assert info.value.exit_code == exitcodes.MISSING_INPUT


def test_explicit_not_executable_and_folder_forms(tmp_path):
    plain = tmp_path / "aerender"
    plain.write_text("")
    assert "not executable" in find_aerender(str(plain), env={}, os_name="linux").tried[0][1]
    install = tmp_path / "Adobe After Effects 2024"
    win_tree(tmp_path, "2024")
    found = find_aerender(str(install), env={}, os_name="windows", query_version=False)
    assert found.path == str(install / "Support Files" / "aerender.exe")
    (tmp_path / "empty").mkdir()
    assert "without aerender" in find_aerender(str(tmp_path / "empty"), env={}, os_name="windows").tried[0][1]


def test_explicit_command_name_is_looked_up_on_path(tmp_path):
    make_exe(tmp_path / "bin" / "aerender-sim")
    found = find_aerender("aerender-sim", env={"PATH": str(tmp_path / "bin")}, os_name="linux", query_version=False)
    assert found.path == str(tmp_path / "bin" / "aerender-sim")
    missing = find_aerender("no-such-aerender", env={"PATH": str(tmp_path / "bin")}, os_name="linux")
    assert missing.path is None and "not a command on PATH" in missing.tried[0][1]


def test_windows_install_folders_newest_version_first(tmp_path):
    root = tmp_path / "Adobe"
    win_tree(root, "CC 2019", "2024", "CS6", "2025 (Beta)", "CC 2015.3", "2023")
    (root / "Adobe After Effects 2025").mkdir()  # a broken install: folder without aerender
    found = find_aerender(env={"PATH": ""}, os_name="windows", search_roots=[str(root)], query_version=False)
    assert found.path == str(root / "Adobe After Effects 2024" / "Support Files" / "aerender.exe")
    places = [place for place, _ in found.tried]
    assert places[-2:] == [str(root / "Adobe After Effects 2025"), str(root / "Adobe After Effects 2024")]
    assert "no Support Files" in found.tried[-2][1]


def test_version_ordering_is_year_aware():
    names = ["Adobe After Effects CC 2019", "Adobe After Effects 2025", "Adobe After Effects CS6",
             "Adobe After Effects 2024", "Adobe After Effects CC", "Adobe After Effects CC 2015.3",
             "Adobe After Effects CC 2015", "Adobe After Effects 2026 (Beta)", "Adobe After Effects CS5.5"]
    ordered = sorted(names, key=install_version_key, reverse=True)
    assert ordered == ["Adobe After Effects 2025", "Adobe After Effects 2024", "Adobe After Effects CC 2019",
                       "Adobe After Effects CC 2015.3", "Adobe After Effects CC 2015", "Adobe After Effects CC",
                       "Adobe After Effects CS6", "Adobe After Effects CS5.5", "Adobe After Effects 2026 (Beta)"]


def test_mac_install_and_nothing_found_lists_every_place(tmp_path):
    apps = tmp_path / "Applications"
    apps.mkdir()
    found = find_aerender(env={"PATH": ""}, os_name="mac", search_roots=[str(apps), str(tmp_path / "nope")])
    assert found.path is None and found.source == "not found"
    assert found.tried[-2:] == ((str(apps), "no After Effects install"), (str(tmp_path / "nope"), "no such folder"))
    linux = find_aerender(env={"PATH": ""}, os_name="linux")
    assert linux.tried[-1] == ("install folders", "none known for linux")


def test_version_probe(tmp_path):
    exe = make_exe(tmp_path / "bin" / "aerender", version="25.1x12")
    assert find_aerender(exe, env={}, os_name="linux").version == "25.1x12"
    silent = tmp_path / "silent"
    silent.write_text("#!/bin/sh\nexit 3\n")
    silent.chmod(0o755)
    assert find_aerender(str(silent), env={}, os_name="linux").version is None


# --------------------------------------------------------------------------------------------------------------------
# command lines (docs/formats.md §3)

def test_full_command_shape():
    argv = build_command("/ae/aerender", project="/p/My Project.aepx", comp="Main Comp", output="/o/x_[#####].png",
                         start=1, end=48, increment=2, mfr=(True, 90), mem_usage=(40, 80), rs_template="Best Settings",
                         om_template="PNG Seq", continue_on_missing_footage=True, log="/l/c1.log",
                         extra_args=["-sound", "OFF"])
    assert argv == ["/ae/aerender", "-project", "/p/My Project.aepx", "-comp", "Main Comp",
                    "-RStemplate", "Best Settings", "-OMtemplate", "PNG Seq", "-output", "/o/x_[#####].png",
                    "-s", "1", "-e", "48", "-i", "2", "-mfr", "ON", "90", "-mem_usage", "40", "80",
                    "-continueOnMissingFootage", "-log", "/l/c1.log", "-close", "DO_NOT_SAVE_CHANGES",
                    "-sound", "OFF"]


def test_minimal_and_rqindex_shapes():
    assert build_command("aerender", project=Path("/p.aep")) == [
        "aerender", "-project", "/p.aep", "-close", "DO_NOT_SAVE_CHANGES"]
    assert build_command("aerender", project="/p.aep", rqindex=2, start=-5, end=-1, mfr=("off", 50), close=None) == [
        "aerender", "-project", "/p.aep", "-rqindex", "2", "-s", "-5", "-e", "-1", "-mfr", "OFF", "50"]


@pytest.mark.parametrize("kwargs, message", [
    (dict(comp="A", rqindex=1), "not both"),
    (dict(start=1), "need -comp or -rqindex"),
    (dict(comp="A", start=5, end=4), "before -s"),
    (dict(comp="A", increment=0), "-i"),
    (dict(rqindex=0), "-rqindex"),
    (dict(comp="A", start="1"), "whole number"),
    (dict(mfr=(True, 0)), "-mfr max CPU"),
    (dict(mfr=(True,)), "-mfr takes"),
    (dict(mfr=("maybe", 50)), "on/off"),
    (dict(mem_usage=(40, 101)), "-mem_usage max"),
    (dict(close="QUIT"), "-close"),
    (dict(comp=""), "-comp"),
    (dict(extra_args=["-close", "SAVE_CHANGES"]), "repeats"),
    (dict(extra_args=[3]), "extra argument"),
])
def test_bad_command_values_are_one_line_errors(kwargs, message):
    with pytest.raises(StmpoError) as info:
        build_command("aerender", project="/p.aep", **kwargs)
    assert message in str(info.value) and "\n" not in str(info.value)


# --------------------------------------------------------------------------------------------------------------------
# aefarm doctor

def test_doctor_found_exit_0_with_json(aefarm, tmp_path):
    exe = make_exe(tmp_path / "bin" / "aerender", version="24.0x1")
    proc = aefarm("doctor", "--aerender", exe, "--json", check=exitcodes.OK)
    report = json.loads(proc.stdout)
    assert report["ok"] is True
    assert report["aerender"]["path"] == exe and report["aerender"]["version"] == "24.0x1"
    assert report["host"]["logical_cpus"] >= 1 and report["host"]["numa_nodes"]
    assert report["affinity"]["supported"] is True
    assert set(report) >= {"ffmpeg", "ffprobe", "fontconfig"}


def test_doctor_not_found_exit_3_lists_places(aefarm, tmp_path):
    env = dict(os.environ, PATH=os.environ["PATH"], AERENDER_PATH=str(tmp_path / "missing"))
    proc = aefarm("doctor", env=env, check=exitcodes.MISSING_INPUT)
    assert "aerender: NOT FOUND" in proc.stdout
    assert f"tried AERENDER_PATH: {tmp_path / 'missing'} does not exist" in proc.stdout
    assert "NUMA nodes:" in proc.stdout and "affinity:" in proc.stdout and "ffmpeg:" in proc.stdout


def test_doctor_with_numa_map_and_bad_map(aefarm, tmp_path):
    exe = make_exe(tmp_path / "aerender")
    good = tmp_path / "numa.json"
    good.write_text(json.dumps({"nodes": [[0, 1], [2, 3]]}))
    proc = aefarm("doctor", "--aerender", exe, "--numa-map", good, check=exitcodes.OK)
    assert "node 1: CPUs 2-3" in proc.stdout and f"--numa-map {good}" in proc.stdout
    bad = tmp_path / "bad.json"
    bad.write_text("[[0], [0]]")
    proc = aefarm("doctor", "--numa-map", bad, check=exitcodes.BAD_INPUT)
    assert proc.stderr.strip() == f"aefarm: error: NUMA map {bad}: CPU 0 appears in nodes 0 and 1"


def test_version_probe_timeout_kills_the_whole_tree(tmp_path):
    import psutil

    from stmpo.aerender import probe_version
    pidfile = tmp_path / "grandchild.pid"
    hang = tmp_path / "hang"
    hang.write_text(f"#!/bin/sh\nsleep 30 >/dev/null 2>&1 &\necho $! > {pidfile}\nwait\n")
    hang.chmod(0o755)
    assert probe_version(str(hang), timeout=0.5) is None
    grandchild = int(pidfile.read_text())

    def gone() -> bool:
        try:
            return psutil.Process(grandchild).status() == psutil.STATUS_ZOMBIE
        except psutil.NoSuchProcess:
            return True

    for _ in range(100):  # a killed process disappears (or turns zombie) at once; a survivor sleeps for 30 s
        if gone():
            break
        time.sleep(0.05)
    assert gone()
