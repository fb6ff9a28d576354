"""The CLI contract every subcommand relies on: version, help, one-line errors with exit 2, --debug tracebacks."""
import subprocess
import sys

from aefarm_common import exitcodes
from aefarm_common.errors import AefarmError
from engines.aftereffects import __version__, cli


def test_version_prints_package_version(aefarm):
    proc = aefarm("--version", check=0)
    assert proc.stdout.strip() == f"aefarm {__version__}"


def test_help_lists_subcommands(aefarm):
    proc = aefarm("--help", check=0)
    assert "frames" in proc.stdout


def test_unknown_subcommand_is_one_line_exit_2(aefarm):
    proc = aefarm("no-such-command", check=exitcodes.BAD_INPUT)
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "no-such-command" in lines[0]
    assert proc.stdout == ""


def test_missing_subcommand_is_one_line_exit_2(aefarm):
    proc = aefarm(check=exitcodes.BAD_INPUT)
    assert len(proc.stderr.strip().splitlines()) == 1


class _Known(AefarmError):
    pass


def _fake_command(exc):
    def add_parser(sub, parents):
        p = sub.add_parser("boom", parents=parents)
        def func(args):
            raise exc
        p.set_defaults(func=func)
    return add_parser


def _run_with_failing_command(monkeypatch, capsys, exc, argv):
    real_build = cli.build_parser

    def build(command=None):
        parser = real_build("")  # every real command a placeholder: "boom" is the one under test
        sub = next(a for a in parser._actions if a.dest == "command")
        _fake_command(exc)(sub, [cli._debug_parent()])
        return parser

    monkeypatch.setattr(cli, "build_parser", build)
    code = cli.main(argv)
    return code, capsys.readouterr()


def test_known_error_is_one_line_with_its_exit_code(monkeypatch, capsys):
    code, out = _run_with_failing_command(monkeypatch, capsys, _Known("bad spec 'x'\n  at 1"), ["boom"])
    assert code == 2
    assert out.err.strip() == "aefarm: error: bad spec 'x' at 1"
    assert "Traceback" not in out.err


def test_internal_error_exits_1_and_debug_shows_traceback(monkeypatch, capsys):
    code, out = _run_with_failing_command(monkeypatch, capsys, RuntimeError("oops"), ["boom"])
    assert code == exitcodes.INTERNAL
    assert "internal error: RuntimeError: oops" in out.err and "Traceback" not in out.err
    code, out = _run_with_failing_command(monkeypatch, capsys, RuntimeError("oops"), ["--debug", "boom"])
    assert code == exitcodes.INTERNAL and "Traceback" in out.err
    code, out = _run_with_failing_command(monkeypatch, capsys, RuntimeError("oops"), ["boom", "--debug"])
    assert code == exitcodes.INTERNAL and "Traceback" in out.err


def test_missing_file_is_bad_input(monkeypatch, capsys):
    code, out = _run_with_failing_command(
        monkeypatch, capsys, FileNotFoundError(2, "No such file or directory", "/nope.aepx"), ["boom"])
    assert code == exitcodes.BAD_INPUT
    assert out.err.strip() == "aefarm: error: No such file or directory: /nope.aepx"


def test_module_entry_point_matches_console_script():
    proc = subprocess.run([sys.executable, "-m", "engines.aftereffects", "--version"], capture_output=True, text=True)
    assert proc.returncode == 0 and __version__ in proc.stdout


def test_shared_argument_types_refuse_out_of_range_and_non_finite_values():
    import argparse

    import pytest

    from engines.aftereffects.commands._argtypes import number, whole_number

    percent = whole_number(1, 100)
    assert percent("1") == 1 and percent("100") == 100
    for bad in ("0", "101", "x", "1.5"):
        with pytest.raises(argparse.ArgumentTypeError):
            percent(bad)
    size = number(0, what="a size in GB", exclusive_low=True)
    assert size("0.5") == 0.5
    for bad in ("0", "-1", "nan", "inf", "big"):
        with pytest.raises(argparse.ArgumentTypeError, match="a size in GB"):
            size(bad)
    assert number(0, 60)("60") == 60.0
    with pytest.raises(argparse.ArgumentTypeError, match="from 0 to 60"):
        number(0, 60)("61")


def test_a_command_imports_only_its_own_module():
    """Start-up: `aefarm frames` must not pay for lxml, psutil or the executor (the panel calls it per keystroke)."""
    import subprocess
    import sys

    code = ("import sys; from engines.aftereffects import cli; cli.main(['frames', '1-3']); "
            "print(sorted(m for m in sys.modules if m.startswith(('lxml', 'psutil', 'stmpo.run', "
            "'engines.aftereffects.commands.render'))))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.splitlines()[-1] == "[]", out


def test_every_command_is_reachable_through_the_lazy_parser():
    for name in cli.command_names():
        parser = cli.build_parser(name)
        sub = next(a for a in parser._actions if a.dest == "command")
        assert len(sub.choices[name]._actions) > 1, name  # the real parser, not a placeholder
        others = [n for n in sub.choices if n != name]
        assert all(sub.choices[n]._actions == [] for n in others), name  # placeholders: nothing imported
        assert cli.command_in(["--debug", name, "--x"]) == name
    assert cli.command_in(["--version"]) is None and cli.command_in(["nope"]) is None
