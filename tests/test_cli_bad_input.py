"""Bad input across every subcommand: one line on stderr naming the problem, exit 2, no traceback, nothing written.

Each row runs the CLI in-process (fast) in a folder of prepared bad files and asserts the whole contract: the exit
code, exactly one stderr line that contains a key word, no traceback, no file created or changed, input untouched.
"""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from engines.aftereffects.cli import main
from engines.aftereffects.sample_project import write_sample_project

SIM = "aerender-sim"


@pytest.fixture
def workdir(tmp_path, monkeypatch):
    write_sample_project(tmp_path / "p.aepx", footage=["P:\\shots\\a.png"])
    (tmp_path / "dir.json").mkdir()
    (tmp_path / "frames_out").mkdir()
    (tmp_path / "empty.json").write_bytes(b"")
    (tmp_path / "garbage.bin").write_bytes(bytes(range(256)) * 4)
    (tmp_path / "list.json").write_text("[1, 2, 3]")
    (tmp_path / "nulls.json").write_text("[null]")
    (tmp_path / "env.json").write_text(json.dumps({"A": "x"}))
    (tmp_path / "envloop.json").write_text(json.dumps({"A": "${B}", "B": "${A}"}))
    (tmp_path / "cut.aepx").write_bytes((tmp_path / "p.aepx").read_bytes()[:300])
    (tmp_path / "nul.aep").write_bytes(b"XXXX\0\0\0\0Egg!")
    (tmp_path / "no_input_payload.json").write_text(json.dumps({"range": "1-4", "output": "/tmp/o"}))
    monkeypatch.chdir(tmp_path)
    return tmp_path


def _snapshot(folder: Path) -> dict:
    return {p: (p.stat().st_mtime_ns, p.read_bytes() if p.is_file() else None) for p in folder.rglob("*")}


RENDER = ["render", "p.aepx", "--comp", "Main", "--output", "out/[#####].png", "--aerender", SIM, "--frames"]
BUNDLE = ["deadline", "bundle", "p.aepx", "--comp", "Main", "--frames", "1-10", "-o", "bundle"]
SUBMIT = ["accsyn", "submit", "p.aepx", "--comp", "Main", "--frames", "1-10", "--engine", "ae", "--dry-run"]
MAP = ["--map", "P:\\=/mnt/p"]

CASES = [
    # (argv, key word the one stderr line must contain)
    (["frames", "abc"], "abc"),
    (["env", "missing.json"], "missing.json"),
    (["env", "dir.json"], "dir.json"),
    (["env", "empty.json"], "JSON"),
    (["env", "garbage.bin"], "UTF-8"),
    (["env", "list.json"], "object"),
    (["env", "envloop.json"], "envloop.json"),
    (["env", "env.json", "--rules", "garbage.bin"], "garbage.bin"),
    (["env", "env.json", "--rules", "list.json"], "list.json"),
    (["env", "env.json", "--accsyn-mappings", "nulls.json"], "accsyn"),
    (["env", "env.json", "--shares", "list.json"], "--shares"),
    (["env", "env.json", "--map", "/a=relative"], "relative"),
    (["scan", "missing.aepx"], "missing.aepx"),
    (["scan", "dir.json"], "dir.json"),
    (["remap", "p.aepx"], "rules"),
    (["remap", "missing.aepx", *MAP], "missing.aepx"),
    (["remap", "p.aepx", *MAP, "-o", "p.aepx"], "p.aepx"),
    (["remap", "p.aepx", *MAP, "--out-dir", "env.json"], "env.json"),
    # --report must never overwrite the input or the output, and is checked before anything is written
    (["remap", "p.aepx", *MAP, "-o", "o.aepx", "--report", "p.aepx"], "input"),
    (["remap", "p.aepx", *MAP, "-o", "o.aepx", "--report", "o.aepx"], "output"),
    (["remap", "p.aepx", *MAP, "-o", "o.aepx", "--report", "dir.json"], "folder"),
    (["remap", "p.aepx", *MAP, "-o", "o.aepx", "--report", "nodir/r.json"], "does not exist"),
    (["render", "missing.aepx", "--comp", "Main", "--output", "o/[#####].png", "--frames", "1-4"], "missing.aepx"),
    (RENDER + ["abc"], "abc"),
    (RENDER + ["1-4", "--concurrency", "0"], "concurrency"),
    (RENDER + ["1-4", "--stall-timeout", "nan"], "stall-timeout"),
    (RENDER + ["1-4", "--env-file", "list.json"], "list.json"),
    (RENDER + ["1-4", "--numa-map", "missing.json"], "numa-map"),
    (RENDER + ["1-99999999999"], "frames"),  # was a MemoryError (exit 1)
    (RENDER + ["1-4", "--comp", ""], "comp"),  # left a staging folder behind
    (RENDER + ["1-4", "--log-dir", "env.json"], "log-dir"),  # left a staging folder behind
    (RENDER + ["1-4", "--report", "dir.json"], "report"),  # rendered everything, then failed
    (RENDER + ["1-4", "--report", "p.aepx"], "input"),  # overwrote the project with the JSON report
    (RENDER + ["1-4", "--env-file", "env.json", "--report", "./env.json"], "input"),
    (RENDER + ["1-4", "--mem-usage", "50 200"], "mem-usage"),  # refused only after staging folders existed
    (["render", "p.aepx", "--comp", "Main", "--output", "", "--aerender", SIM, "--frames", "1-4"], "output"),
    (["render", "p.aepx", "--comp", "Main", "--output", "o/x_[#####].[fileextension]", "--aerender", SIM, "--frames",
      "1-4"], "[fileextension]"),
    (["render", "p.aepx", "--comp", "Main", "--output", "frames_out", "--aerender", SIM, "--frames", "1-4"],
     "folder"),
    (["doctor", "--numa-map", "garbage.bin"], "garbage.bin"),
    (["demo", "--frame-seconds", "-1"], "frame-seconds"),  # was silently taken as 0
    (["demo", "--frame-seconds", "nan"], "frame-seconds"),
    (["fonts", "collect", "-o", "fonts_out", "--from", "missing.txt"], "missing.txt"),
    (["fonts", "collect", "-o", "fonts_out", "--from", "garbage.bin"], "UTF-8"),  # was UnicodeDecodeError
    (["fonts", "install", "missing_dir"], "missing_dir"),
    (["accsyn", "run", "garbage.bin"], "garbage.bin"),
    (["accsyn", "run", "list.json"], "object"),
    (["accsyn", "run", "no_input_payload.json"], "input"),  # ran every task, each failing the same way
    (SUBMIT + ["--output", ""], "output"),  # an empty output folder was taken as this folder
    (SUBMIT[:2] + ["missing.aepx"] + SUBMIT[3:] + ["--output", "/tmp/o"], "missing.aepx"),
    (BUNDLE + ["--output-dir", ""], "output-dir"),  # an empty output folder was taken as this folder
    (BUNDLE[:2] + ["missing.aepx"] + BUNDLE[3:] + ["--output-dir", "/tmp/o"], "missing.aepx"),
    (BUNDLE + ["--output-dir", "/tmp/o", "--chunk-size", "0"], "chunk-size"),
    (["deadline", "session-exit", "--token-file", "garbage.bin"], "token"),  # was UnicodeDecodeError
    # a file that is not a run report: the server started and its page answered 503 (before the fix this hangs)
    (["watch", "p.aepx"], "not a JSON run report"),
    (["watch", "list.json"], "not a JSON run report"),
    (["watch", "empty.json"], "not a JSON run report"),
    # refused by the checks after the job was built: stdout stayed empty only for the build_job errors
    (RENDER + ["1-4", "--comp", "Nope"], "Nope"),
    (RENDER + ["1-4", "--comp", "Nope", "--dry-run", "--continue-on-missing-footage"], "Nope"),  # printed the findings first
    (RENDER + ["1-4", "--comp", "Nope", "--progress", "log", *MAP], "Nope"),
    (["render", "p.aepx", "--comp", "Main", "--output", "C:\\out\\x_[#####].png", "--aerender", SIM, "--frames",
      "1-4"], "Windows"),
    (["render", "p.aepx", "--comp", "Main", "--output", "o/x_[#####].[bogus]", "--aerender", SIM, "--frames",
      "1-4"], "bogus"),
    (["render", "cut.aepx", "--comp", "Main", "--output", "o/x_[#####].png", "--aerender", SIM, "--frames", "1-4"],
     "cut.aepx"),
    (["render", "nul.aep", "--comp", "Main", "--output", "o/x_[#####].png", "--aerender", SIM, "--frames", "1-4",
      *MAP], "nul.aep"),  # printed a "preflight: warning" line first
]


@pytest.mark.parametrize("argv, word", CASES, ids=[" ".join(a)[:60] for a, _ in CASES])
def test_bad_input_is_one_line_exit_2_and_writes_nothing(workdir, capsys, argv, word):
    before = _snapshot(workdir)
    try:
        code = main(argv)
    except SystemExit as exc:  # argparse errors
        code = exc.code
    out, err = capsys.readouterr()
    lines = err.splitlines()
    assert code == 2, err
    # nothing on stdout either (it printed "per-child logs: ..." before the error), but the protocol line an OpenJD
    # action owes its runner
    assert [line for line in out.splitlines() if not line.startswith("openjd_fail: ")] == [], out
    assert len(lines) == 1, err
    assert word.lower() in lines[0].lower(), lines[0]
    assert "Traceback" not in err
    assert _snapshot(workdir) == before  # nothing created, changed or left half-written; the input untouched


def test_debug_shows_the_traceback_for_an_internal_error(workdir, capsys, monkeypatch):
    import engines.aftereffects.envs as envs

    def boom(*args, **kwargs):
        raise RuntimeError("boom")

    monkeypatch.setattr(envs, "resolve_envs", boom)
    monkeypatch.setattr("engines.aftereffects.commands.env.resolve_envs", boom)
    assert main(["env", "env.json"]) == 1
    err = capsys.readouterr().err
    assert len(err.splitlines()) == 1 and "boom" in err and "Traceback" not in err
    assert main(["env", "env.json", "--debug"]) == 1
    assert "Traceback" in capsys.readouterr().err


MORE_CASES = [
    (["scan", "dir.json"], "folder"),  # said "no such file"
    (["remap", "dir.json", *MAP], "folder"),
    (["remap", "p.aepx", *MAP, "-o", "dir.json"], "folder"),  # named the temporary file instead
    (["env", "env.json", "--accsyn-mappings", "openjd_rules.json"], "--rules"),  # silently gave no rules
    # a failed conversion left the output folders it had created behind
    (["remap", "broken.aepx", *MAP, "--out-dir", "new/a/b"], "well-formed"),
    (["remap", "broken.aepx", *MAP, "-o", "new/x.aepx"], "well-formed"),
]


@pytest.mark.parametrize("argv, word", MORE_CASES, ids=[" ".join(a)[:60] for a, _ in MORE_CASES])
def test_wrong_kind_of_file_is_named(workdir, capsys, argv, word):
    (workdir / "openjd_rules.json").write_text(json.dumps({"version": "pathmapping-1.0", "path_mapping_rules": []}))
    (workdir / "broken.aepx").write_bytes((workdir / "p.aepx").read_bytes()[:400])
    test_bad_input_is_one_line_exit_2_and_writes_nothing(workdir, capsys, argv, word)
