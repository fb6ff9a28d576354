"""Per-platform environment dictionaries and `aefarm env`."""
from __future__ import annotations

import json
import sys

import pytest

from engines.aftereffects.cli import main
from engines.aftereffects.envs import EnvError, current_os, load_env_file, map_value, resolve_envs
from remap.rules import RuleSet

SPLIT = {
    "common": {"ROOT": "/studio", "PATH": "${PATH}:/studio/bin", "THREADS": 8},
    "linux": {"PATH": "${PATH}:/opt/linux", "PLUGINS": "${ROOT}/plugins"},
    "mac": {"ROOT": "/Volumes/studio"},
    "windows": {"ROOT": "S:\\", "Path": "${Path};S:\\bin"},
}


def test_flat_dictionary():
    assert resolve_envs({"A": "1", "B": "x${A}y"}, "linux", {}) == {"A": "1", "B": "x1y"}


def test_common_first_then_the_os_section():
    env = resolve_envs(SPLIT, "linux", {"PATH": "/usr/bin"})
    assert env == {"ROOT": "/studio", "PATH": "/usr/bin:/studio/bin:/opt/linux", "THREADS": "8",
                   "PLUGINS": "/studio/plugins"}
    assert resolve_envs(SPLIT, "mac", {"PATH": "/bin"})["ROOT"] == "/Volumes/studio"
    assert "PLUGINS" not in resolve_envs(SPLIT, "darwin", {"PATH": "/bin"})


def test_windows_names_ignore_case():
    env = resolve_envs(SPLIT, "windows", {"PATH": "C:\\Windows"})
    assert env["PATH"] == "C:\\Windows:/studio/bin;S:\\bin"  # common's PATH, then Path extends it: one variable
    assert "Path" not in env and env["ROOT"] == "S:\\"
    assert resolve_envs({"a": "1", "b": "${A}"}, "linux", {"A": "2"})["b"] == "2"


def test_expansion_uses_the_result_before_the_inherited_environment():
    env = resolve_envs({"HOME": "/override", "CFG": "${HOME}/cfg"}, "linux", {"HOME": "/home/u"})
    assert env["CFG"] == "/override/cfg"
    # a variable defined later in the file is not yet in the result
    assert resolve_envs({"CFG": "${HOME}/cfg", "HOME": "/x"}, "linux", {"HOME": "/home/u"})["CFG"] == "/home/u/cfg"


def test_literal_and_unexpanded_forms():
    env = resolve_envs({"A": "$${HOME}", "B": "$HOME %HOME% ${", "C": "a$b"}, "linux", {"HOME": "/h"})
    assert env == {"A": "${HOME}", "B": "$HOME %HOME% ${", "C": "a$b"}


def test_undefined_variable_is_an_error_naming_the_key():
    with pytest.raises(EnvError) as info:
        resolve_envs({"linux": {"X": "${NOPE}/x"}}, "linux", {})
    assert "env.linux key 'X'" in str(info.value) and "${NOPE}" in str(info.value)
    assert info.value.exit_code == 2


@pytest.mark.parametrize("data, words", [
    ({"A": ["x"]}, "env key 'A': value must be a string, got list"),
    ({"A": {"B": "c"}}, "env key 'A': value must be a string, got dict"),
    ({"A": True}, "got bool"),
    ({"A": None}, "got null"),
    ({1: "x"}, "names must be strings"),
    ({"": "x"}, "not a valid variable name"),
    ({"A=B": "x"}, "not a valid variable name"),
    ({"common": {"A": "1"}, "B": "2"}, "key 'B': a variable next to OS sections"),
    ({"common": {"A": "1"}, "linux": ["x"]}, "section 'linux'"),
    ({"linux": {"A": {"B": 1}}}, "env.linux key 'A'"),
    (["A=1"], "expected an object"),
])
def test_bad_shapes(data, words):
    with pytest.raises(EnvError) as info:
        resolve_envs(data, "linux", {})
    assert words in str(info.value)
    assert "\n" not in str(info.value)


def test_unknown_os():
    with pytest.raises(EnvError, match="unknown OS"):
        resolve_envs({}, "amiga", {})
    assert current_os() == {"linux": "linux", "darwin": "mac", "win32": "windows"}.get(sys.platform, "linux")


def test_path_mapping_of_values():
    rules = RuleSet.from_cli(["P:\\=/mnt/p", "/Volumes/P=/mnt/p"])
    env = resolve_envs({"ROOT": "P:\\proj", "LIST": "P:\\a;P:\\b", "PLUG": "${ROOT}\\plug", "MIX": "P:\\a;C:\\x",
                        "POSIXLIST": "/Volumes/P/a:/usr/lib", "WORD": "hello"}, "linux", {}, rules)
    assert env == {"ROOT": "/mnt/p/proj", "LIST": "/mnt/p/a:/mnt/p/b", "PLUG": "/mnt/p/proj/plug",
                   "MIX": "/mnt/p/a;C:\\x", "POSIXLIST": "/mnt/p/a:/usr/lib", "WORD": "hello"}
    to_win = RuleSet.from_cli(["/Volumes/P=P:\\"])
    assert map_value("/Volumes/P/a:/Volumes/P/b", to_win, "windows") == "P:\\a;P:\\b"
    assert map_value("/Volumes/P/a:/usr/lib", to_win, "windows") == "P:\\a:/usr/lib"


def test_load_env_file(tmp_path):
    good = tmp_path / "env.json"
    good.write_text(json.dumps(SPLIT), encoding="utf-8")
    assert load_env_file(good) == SPLIT
    for content, words in (("{", "invalid JSON"), ("[1]", "expected a JSON object")):
        bad = tmp_path / "bad.json"
        bad.write_text(content, encoding="utf-8")
        with pytest.raises(EnvError, match=words):
            load_env_file(bad)
    with pytest.raises(EnvError, match="cannot read"):
        load_env_file(tmp_path / "missing.json")


# ---- aefarm env ---------------------------------------------------------------------------------------------------

def test_cli_text_and_json(tmp_path, capsys, monkeypatch):
    path = tmp_path / "env.json"
    path.write_text(json.dumps(SPLIT), encoding="utf-8")
    monkeypatch.setenv("PATH", "/usr/bin")
    assert main(["env", str(path), "--os", "linux"]) == 0
    out = capsys.readouterr().out
    assert out.splitlines() == ["ROOT=/studio", "PATH=/usr/bin:/studio/bin:/opt/linux", "THREADS=8",
                                "PLUGINS=/studio/plugins"]
    assert main(["env", str(path), "--os", "mac", "--json", "--map", "/Volumes/studio=/mnt/studio"]) == 0
    assert json.loads(capsys.readouterr().out)["ROOT"] == "/mnt/studio"


def test_cli_errors_exit_2_with_one_line(tmp_path, capsys):
    path = tmp_path / "env.json"
    path.write_text(json.dumps({"linux": {"X": "${UNDEFINED_FOR_TEST}"}}), encoding="utf-8")
    assert main(["env", str(path), "--os", "linux", "--no-inherit"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "env.json" in err and "${UNDEFINED_FOR_TEST}" in err and "key 'X'" in err
    path.write_text(json.dumps({"A": [1]}), encoding="utf-8")
    assert main(["env", str(path)]) == 2
    assert "key 'A': value must be a string, got list" in capsys.readouterr().err
    assert main(["env", str(tmp_path / "missing.json")]) == 2
    assert "cannot read" in capsys.readouterr().err
    path.write_text("{}", encoding="utf-8")
    assert main(["env", str(path), "--map", "relative=/x"]) == 2
    assert "--map #1: source 'relative' is not absolute" in capsys.readouterr().err


def test_cli_as_a_process(tmp_path, aefarm):
    path = tmp_path / "env.json"
    path.write_text(json.dumps({"A": "1", "B": "${A}2"}), encoding="utf-8")
    proc = aefarm("env", path, "--no-inherit", check=0)
    assert proc.stdout == "A=1\nB=12\n"
    proc = aefarm("env", path, "--os", "beos")
    assert proc.returncode == 2 and proc.stderr.count("\n") == 1 and "--os" in proc.stderr
