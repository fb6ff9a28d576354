"""Every parser of the `aefarm` command line, walked: help on every option, no abbreviations, negative frame specs
as values, and a closed stdout (`| head`) that ends the command quietly."""
from __future__ import annotations

import argparse
import contextlib
import subprocess
import sys
from pathlib import Path
from typing import Iterator, List, Tuple

import pytest

from engines.aftereffects.cli import OneLineArgumentParser, build_parser
from engines.aftereffects.sample_project import write_sample_project

REPO = Path(__file__).resolve().parents[1]
AEFARM = [sys.executable, "-m", "engines.aftereffects"]
FRAME_OPTIONS = {"frames", "job_frames", "spec"}  # the dests that take a frame spec


def parsers() -> Iterator[Tuple[str, argparse.ArgumentParser]]:
    stack: List[Tuple[str, argparse.ArgumentParser]] = [("aefarm", build_parser())]
    while stack:
        name, parser = stack.pop()
        yield name, parser
        for action in parser._actions:
            if isinstance(action, argparse._SubParsersAction):
                stack += [(f"{name} {sub}", p) for sub, p in action.choices.items()]


def arguments(parser: argparse.ArgumentParser) -> List[argparse.Action]:
    return [a for a in parser._actions
            if not isinstance(a, (argparse._HelpAction, argparse._VersionAction, argparse._SubParsersAction))]


ALL = list(parsers())


def test_the_walk_sees_every_subcommand():
    names = {name for name, _ in ALL}
    assert {"aefarm render", "aefarm frames", "aefarm deadline task", "aefarm deadline bundle", "aefarm fonts install",
            "aefarm accsyn submit", "aefarm deadline session-enter", "aefarm demo"} <= names
    assert len(names) >= 20


@pytest.mark.parametrize("name, parser", ALL, ids=[n for n, _ in ALL])
def test_every_option_has_help(name, parser):
    missing = [a.option_strings or a.dest for a in arguments(parser) if not (a.help and a.help.strip())]
    assert not missing, missing


@pytest.mark.parametrize("name, parser", ALL, ids=[n for n, _ in ALL])
def test_no_parser_takes_abbreviations(name, parser):
    assert isinstance(parser, OneLineArgumentParser) and parser.allow_abbrev is False


@pytest.mark.parametrize("argv, word", [
    (["render", "p.aepx", "--comp", "Main", "--output", "o/x_[#].png", "--frame", "1-4"], "--frame"),
    (["render", "p.aepx", "--comp", "Main", "--output", "o/x_[#].png", "--frames", "1", "--stall", "60"], "--stall"),
    (["frames", "1-10", "--chunk", "2"], "--chunk"),
    (["deadline", "bundle", "p.aepx", "--comp", "M", "--frames", "1", "--output-dir", "/o", "--prio", "5"], "--prio"),
    (["fonts", "install", "DIR", "--owner", "1"], "--owner"),
    (["accsyn", "submit", "p", "--comp", "M", "--frames", "1", "--output", "/o", "--eng", "ae"], "--eng"),
])
def test_an_abbreviation_is_an_error_not_another_option(argv, word, capsys):
    with pytest.raises(SystemExit) as info:
        build_parser().parse_args(argv)
    assert info.value.code == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and word in err


@contextlib.contextmanager
def nothing_required(parser: argparse.ArgumentParser) -> Iterator[None]:
    """Parse one option alone: the parser's other required arguments are waived for the moment."""
    saved = [(a, a.required) for a in parser._actions] + [(g, g.required) for g in parser._mutually_exclusive_groups]
    for item, _required in saved:
        item.required = False
    try:
        yield
    finally:
        for item, required in saved:
            item.required = required


WITH_FRAMES = [(n, p) for n, p in ALL if any(a.dest in FRAME_OPTIONS and a.option_strings for a in p._actions)]


@pytest.mark.parametrize("name, parser", WITH_FRAMES, ids=[n for n, _ in WITH_FRAMES])
@pytest.mark.parametrize("spec", ["-5--1", "-10", "-3-4,-1", "-5--1:2"])
def test_negative_frame_specs_are_values_without_equals(name, parser, spec):
    for action in arguments(parser):
        if action.dest not in FRAME_OPTIONS or not action.option_strings:
            continue
        flag = action.option_strings[0]
        with nothing_required(parser):
            parsed = parser.parse_args([flag, spec])
        assert getattr(parsed, action.dest) == spec, (name, flag)


def test_every_command_with_frames_is_walked():
    assert {"aefarm render", "aefarm deadline bundle", "aefarm deadline submit", "aefarm deadline task",
            "aefarm deadline join", "aefarm deadline session-enter", "aefarm accsyn submit"} <= {
                n for n, _ in WITH_FRAMES}


def test_render_dry_run_with_negative_frames(tmp_path, aerender_sim):
    project = write_sample_project(tmp_path / "shot.aepx")
    proc = subprocess.run(AEFARM + ["render", str(project), "--comp", "Main", "--output",
                                    str(tmp_path / "o" / "x_[####].png"), "--frames", "-5--1", "--concurrency", "1",
                                    "--aerender", aerender_sim, "--dry-run"],
                          capture_output=True, text=True, cwd=REPO, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert "-s -5 -e -1" in proc.stdout


# --------------------------------------------------------------------------------------------------- closed stdout
@pytest.mark.skipif(sys.platform == "win32", reason="a POSIX shell pipeline")
@pytest.mark.parametrize("command", [
    "frames 0-99999 --chunk-size 1", "frames 0-999999 --format list",
])
def test_a_closed_stdout_ends_quietly(command, tmp_path):
    """`aefarm ... | head -2`: the two lines arrive, nothing on stderr, and aefarm exits 141 (128 + SIGPIPE), the
    status the shell reports for `seq` or `cat` in the same place, so `set -o pipefail` treats it alike."""
    aefarm = " ".join(AEFARM)
    script = f"set -o pipefail; {aefarm} {command} 2>{tmp_path / 'err'} | head -2; echo \"status=${{PIPESTATUS[0]}}\""
    done = subprocess.run(["bash", "-c", script], capture_output=True, text=True, cwd=REPO, timeout=120)
    lines = done.stdout.splitlines()
    assert len(lines) == 3 and lines[-1] == "status=141", done.stdout
    assert (tmp_path / "err").read_text() == ""  # no "internal error", no traceback, no "Exception ignored"


def test_a_reader_that_goes_away_mid_output(tmp_path):
    proc = subprocess.Popen(AEFARM + ["frames", "0-99999", "--chunk-size", "1"], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, cwd=REPO)
    assert proc.stdout is not None and proc.stderr is not None
    first = [proc.stdout.readline(), proc.stdout.readline()]
    proc.stdout.close()
    err = proc.stderr.read()
    proc.stderr.close()
    assert proc.wait(timeout=60) == 141 and err == b""
    assert first == [b"0\n", b"1\n"]


def test_readme_openjd_example_passes_the_path_mapping_rules():
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    example = readme[readme.index("`openjd run openjd/aftereffects-image"):]
    example = example[:example.index("`.", 1)]
    assert "--path-mapping-rules" in example and "-p AerenderPath=" in example
