"""The option table (engines/aftereffects/options.py) is the one definition: every surface agrees with it.

Surfaces: the executor's settings dataclasses (defaults), the OpenJD templates (parameter types, defaults, bounds,
and the flags the task action is given), the accsyn app's literal ENGINE CONFIG block, the CLI (`render`,
`deadline bundle|submit|task`, `accsyn submit`), the accsyn app's parameter parsing and the OpenJD task's. For every
bounded option each surface accepts the table's bounds and refuses one step beyond them.
"""
from __future__ import annotations

import argparse
from dataclasses import fields

import pytest
import yaml

from engines.aftereffects import deadline_actions as actions
from engines.aftereffects import options as table
from engines.aftereffects.accsyn_errors import AccsynError
from engines.aftereffects.accsyn_job import build_app_job
from engines.aftereffects.accsyn_local import read_engine_config
from engines.aftereffects.cli import OneLineArgumentParser, build_parser
from engines.aftereffects.deadline_bundle import BundleError, parameter_values, template_path
from engines.aftereffects.job import Job
from engines.aftereffects.option_record import (
    BOOL,
    CHOICE,
    FLOAT,
    INT,
    PATH,
    PLAN,
    PROGRAM,
    RUN,
    TARGET,
    OptionError,
    field_default,
)
from engines.aftereffects.options import BY_NAME, OPTIONS, check_target, on_surface
from stmpo.plan import PlanSettings
from stmpo.settings import RunOptions

KINDS = ("image", "video")
BUNDLE_ONLY = {"ProjectFile", "OutputDir", "OutputPattern", "Frames", "ChunkSize", "FontsDir"}
ACCSYN_APP_ONLY = {"input_conversion", "arguments", "output_template"}
OPENJD_TYPES = {INT: "INT", FLOAT: "FLOAT", BOOL: "STRING", PROGRAM: "PATH", PATH: "PATH", "text": "STRING",
                "choices": "STRING", CHOICE: "STRING"}


def template(kind: str) -> dict:
    return yaml.safe_load(template_path(kind).read_text(encoding="utf-8"))


def subparser(*path: str) -> argparse.ArgumentParser:
    parser = build_parser()
    for name in path:
        action = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
        parser = action.choices[name]
    return parser


def flags_of(parser: argparse.ArgumentParser) -> dict:
    return {flag: action for action in parser._actions for flag in action.option_strings}


# --------------------------------------------------------------------------------------------------- definitions
def test_every_setting_is_an_option_or_named_internal():
    internal = {"tick"}  # the executor's loop period, not a user's choice
    assert {o.name for o in OPTIONS if o.feeds == RUN} == {f.name for f in fields(RunOptions)} - internal
    internal = {"memory_safety", "cpus_per_child", "mfr_max_cpu_percent"}  # planning constants, documented in plan
    assert {o.name for o in OPTIONS if o.feeds == PLAN} == {f.name for f in fields(PlanSettings)} - internal


def test_defaults_are_the_settings_fields_own():
    plan, run = PlanSettings(), RunOptions()
    for option in OPTIONS:
        if option.feeds == PLAN:
            assert option.default == getattr(plan, option.name), option.name
        elif option.feeds == RUN:
            assert option.default == getattr(run, option.name), option.name
        else:  # job and target options: the table's copy (import order) must equal the Job's fields
            assert option.default == field_default(Job, option.name), option.name


@pytest.mark.parametrize("name, default, low, high", [
    # the values chosen where the copies disagreed before the table (CLI / accsyn / bundle writer / templates)
    ("stall_timeout", 1800.0, 30, 86400),  # minimum was 0 / 1 / 30 / 30
    ("startup_timeout", 600.0, 30, 86400),  # minimum was 0 / 1 / - / -
    ("retries", 1, 0, 10),  # maximum was none / none / 10 / 10
    ("concurrency", None, 1, 256),  # maximum was none / none / 256 / 256
    ("max_concurrency", None, 1, 256),
    ("ram_per_child_gb", None, 0, 1024),  # above 0; maximum was none / none / 1024 / 1024
    ("rqindex", None, 1, 10000),  # maximum was none / none / 10000 / 10000
    ("min_chunk", 2, 1, 100000),
    ("kill_grace", 5.0, 0, 600),
    ("stagger", 0.0, 0, 600),
    ("finish_grace", 10.0, 0, 600),
])
def test_chosen_bounds_are_pinned(name, default, low, high):
    option = BY_NAME[name]
    assert (option.default, option.low, option.high) == (default, low, high)


# --------------------------------------------------------------------------------------------------- OpenJD
@pytest.mark.parametrize("kind", KINDS)
def test_templates_define_the_tables_parameters(kind):
    params = {p["name"]: p for p in template(kind)["parameterDefinitions"]}
    exposed = [BY_NAME["comp"], BY_NAME["rqindex"]] + on_surface("openjd", kind)
    assert set(params) == BUNDLE_ONLY | {o.openjd for o in exposed}
    for option in exposed:
        definition = params[option.openjd]
        assert definition["type"] == OPENJD_TYPES[option.kind], option.name
        assert str(definition["default"]) == option.encode(option.default, "openjd"), option.name
        if option.kind in (INT, FLOAT):
            assert definition["minValue"] == (0 if option.zero_is_unset else option.low), option.name
            assert definition["maxValue"] == option.high, option.name
        if option.kind == BOOL:
            assert definition["allowedValues"] == ["true", "false"], option.name
        if option.kind == CHOICE:
            assert definition["allowedValues"] == list(option.choices), option.name
    assert not any(o.openjd for o in OPTIONS if o.openjd not in params and kind in o.openjd_kinds)


@pytest.mark.parametrize("kind", KINDS)
def test_the_task_action_gets_every_option_under_its_flag(kind):
    args = template(kind)["steps"][0]["script"]["actions"]["onRun"]["args"]
    for option in on_surface("openjd", kind):
        assert f"{option.flag}={{{{Param.{option.openjd}}}}}" in args, option.name
    assert "--comp-name={{Param.CompName}}" in args and "--rq-index={{Param.RenderQueueIndex}}" in args


def test_openjd_refuses_what_the_table_refuses():
    """The template's bounds are enforced by openjd-model when a job is created, at the table's values.

    (openjd-model 0.13 does not enforce a ``minValue`` of 0 — it reads as "no minimum"; the task refuses -1 itself,
    see ``test_every_surface_takes_the_bounds_and_refuses_beyond``.)"""
    from openjd.model import decode_job_template, preprocess_job_parameters

    path = template_path("image")
    decoded = decode_job_template(template=template("image"), supported_extensions=["TASK_CHUNKING"])
    base = {"ProjectFile": "/p.aepx", "CompName": "Main", "OutputDir": "/out"}
    for option in on_surface("openjd", "image"):
        if option.kind not in (INT, FLOAT):
            continue
        minimum = 0 if option.zero_is_unset else option.low
        checks = [(option.high, True), (option.high + 1, False)] + ([(minimum - 1, False)] if minimum else [])
        for value, ok in checks:
            values = dict(base, **{option.openjd: str(value)})
            if ok:
                preprocess_job_parameters(job_template=decoded, job_parameter_values=values,
                                          job_template_dir=path.parent, current_working_dir=path.parent)
            else:
                with pytest.raises(ValueError):
                    preprocess_job_parameters(job_template=decoded, job_parameter_values=values,
                                              job_template_dir=path.parent, current_working_dir=path.parent)


# --------------------------------------------------------------------------------------------------- accsyn
def test_accsyn_engine_config_is_the_table():
    _settings, parameters = read_engine_config()
    expected = table.accsyn_defaults()
    assert set(parameters) == set(expected) | ACCSYN_APP_ONLY
    for key, value in expected.items():
        assert parameters[key] == value and type(parameters[key]) is type(value), key  # literal, same type
    assert parameters["stall_timeout"] == 1800 and parameters["concurrency"] == "auto"


# --------------------------------------------------------------------------------------------------- CLI
@pytest.mark.parametrize("path, surface", [
    (("render",), "cli"), (("deadline", "bundle"), "openjd"), (("deadline", "submit"), "openjd"),
    (("accsyn", "submit"), "accsyn"),
])
def test_cli_flags_and_help_come_from_the_table(path, surface):
    flags = flags_of(subparser(*path))
    for option in on_surface(surface):
        action = flags[option.flag]
        assert action.dest == option.name and action.default is None and action.help == option.describe()
        if option.kind == BOOL:
            assert flags[option.negative_flag].dest == option.name
    others = {o.flag for o in OPTIONS if o.feeds != TARGET} - {o.flag for o in on_surface(surface)}
    assert not others & set(flags), sorted(others & set(flags))  # a farm that cannot pass an option has no flag
    assert {"--comp", "--rqindex"} <= set(flags)


def test_the_task_action_takes_the_template_values_under_the_same_flags():
    flags = flags_of(subparser("deadline", "task"))
    for option in on_surface("openjd"):
        assert flags[option.flag].dest == option.name and option.openjd in flags[option.flag].help


# --------------------------------------------------------------------------------------------------- bounds
def _steps(option):
    """(inside values, outside values) at the table's bounds."""
    step = 1 if option.kind == INT else 0.5
    low = option.low + step if option.above_low else option.low
    return [low, option.high], [option.low if option.above_low else option.low - step, option.high + step]


def _text(value) -> str:
    return str(int(value)) if float(value).is_integer() else str(value)


def _cli(path, option, value, capsys):
    base = {"render": ["render", "p.aepx", "--comp", "Main", "--output", "/o/x_[#].png", "--frames", "1"],
            "bundle": ["deadline", "bundle", "p.aepx", "--comp", "Main", "--frames", "1", "--output-dir", "/o"],
            "submit": ["accsyn", "submit", "p.aepx", "--comp", "Main", "--frames", "1", "--output", "/o",
                       "--engine", "ae"]}[path]
    try:
        args = build_parser().parse_args(base + [option.flag, _text(value)])
    except SystemExit as exc:
        assert exc.code == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and option.flag in err
        return "refused"
    if path == "bundle":  # the bundle writer checks the values it writes, too
        from engines.aftereffects.commands.deadline import request_from_args

        parameter_values(request_from_args(args))
    return getattr(args, option.name)


def _accsyn(option, value):
    data = {"compute": {"input": "/p/a.aepx", "output": "/p/out", "range": "1-5",
                        "parameters": {"comp": "Main", option.accsyn: value}}}
    try:
        job = build_app_job(data, "1", node_os="linux").job
    except AccsynError as exc:
        assert f"parameters.{option.accsyn}" in str(exc)
        return "refused"
    return getattr(job.settings if option.feeds == PLAN else job.options, option.name)


def _openjd(option, value):
    values = actions.TaskValues(kind="image", project="/p/a.aepx", comp_name="Main", rq_index=0, output_dir="/o",
                                pattern="x_[#####].png", frames="1-2", options={option.name: _text(value)})
    try:
        job = actions.task_job(values)
    except BundleError as exc:
        assert str(exc).startswith(f"{option.openjd} ")
        return "refused"
    return getattr(job.settings if option.feeds == PLAN else job.options, option.name)


BOUNDED = [o for o in OPTIONS if o.kind in (INT, FLOAT) and o.feeds != TARGET]


@pytest.mark.parametrize("option", BOUNDED, ids=[o.name for o in BOUNDED])
def test_every_surface_takes_the_bounds_and_refuses_beyond(option, capsys):
    inside, outside = _steps(option)
    surfaces = [("render", lambda v: _cli("render", option, v, capsys))]
    if option.openjd:
        surfaces += [("bundle", lambda v: _cli("bundle", option, v, capsys)), ("openjd task", lambda v: _openjd(option, v))]
    if option.accsyn:
        surfaces += [("accsyn submit", lambda v: _cli("submit", option, v, capsys)),
                     ("accsyn app", lambda v: _accsyn(option, v))]
    for name, parse in surfaces:
        for value in inside:
            assert parse(value) == value, (name, value)
        for value in outside:
            got = parse(value)
            if value == 0 and option.zero_is_unset and name in ("openjd task", "accsyn app"):
                assert got is None, (name, value)  # 0 is how a farm writes "not set"
            else:
                assert got == "refused", (name, value)


def test_stall_timeout_minimum_is_one_value_everywhere(capsys):
    """The issue's example: 0 (CLI), 1 (accsyn), 30 (bundle writer, templates) became 30 on every surface."""
    option = BY_NAME["stall_timeout"]
    assert _cli("render", option, 29, capsys) == _cli("bundle", option, 29, capsys) == "refused"
    assert _cli("submit", option, 29, capsys) == _accsyn(option, 29) == _openjd(option, 29) == "refused"
    assert _accsyn(option, 30) == _openjd(option, 30) == _cli("render", option, 30, capsys) == 30.0
    for kind in KINDS:
        params = {p["name"]: p for p in template(kind)["parameterDefinitions"]}
        assert (params["StallTimeout"]["minValue"], params["StallTimeout"]["default"]) == (30, 1800)


# --------------------------------------------------------------------------------------------------- the target
@pytest.mark.parametrize("surface, names", [
    ("cli", "--comp NAME or --rqindex N"), ("accsyn", "parameters.comp or parameters.rqindex"),
    ("openjd", "CompName or RenderQueueIndex"),
])
def test_one_target_check_names_the_fields_as_each_surface_does(surface, names):
    assert check_target("Main", None, surface) == ("Main", None)
    assert check_target("", 3, surface) == (None, 3) and check_target(None, 3, surface) == (None, 3)
    assert check_target("Main", 0, surface) == ("Main", None)  # 0: how a farm writes "not set"
    for comp, rqindex, got in (("Main", 2, "both"), ("  ", 0, "neither"), (None, None, "neither")):
        with pytest.raises(OptionError, match=f"exactly one of {names}.* is needed, got {got}"):
            check_target(comp, rqindex, surface)
    with pytest.raises(OptionError, match="10001"):
        check_target(None, 10001, surface)


def test_every_entry_point_uses_the_one_target_check(tmp_path):
    from engines.aftereffects.accsyn_payload import build_payload
    from engines.aftereffects.deadline_bundle import BundleRequest
    from stmpo.frames import FrameSet

    with pytest.raises(OptionError, match="got both"):
        Job(project=tmp_path / "p.aepx", output="/o/x.png", frames=FrameSet.parse("1"), comp="Main", rqindex=1)
    with pytest.raises(AccsynError, match="exactly one of --comp NAME or --rqindex N is needed, got neither"):
        build_payload(project="/p/a.aepx", frames="1", output="/o", remote_os="linux")
    with pytest.raises(BundleError, match="exactly one of --comp NAME or --rqindex N is needed, got both"):
        parameter_values(BundleRequest(project=tmp_path / "p.aepx", output_dir=tmp_path, frames="1", comp="M",
                                       rqindex=1))
    values = actions.TaskValues(kind="image", project="/p/a.aepx", comp_name="", rq_index=0, output_dir="/o",
                                pattern="x_[#####].png", frames="1")
    with pytest.raises(BundleError, match="exactly one of CompName or RenderQueueIndex"):
        actions.task_job(values)


def test_the_parsers_are_the_one_line_kind():
    assert isinstance(subparser("render"), OneLineArgumentParser)


def test_the_docs_list_every_option():
    """The module docstring's table and the README's show every option under its names on each surface."""
    from pathlib import Path

    doc = table.__doc__ or ""
    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text(encoding="utf-8")
    for option in OPTIONS:
        assert option.name in doc and option.flag.split("-")[-1] in doc, option.name
        for name in (option.accsyn, option.openjd):
            if name:
                assert name[:13] in doc, (option.name, name)
        if option.accsyn and option.feeds != TARGET:
            assert f"`{option.accsyn}`" in readme and option.flag in readme, option.name
        if option.openjd and option.feeds != TARGET:
            assert f"`{option.openjd}`" in readme, option.name


# --------------------------------------------------------------------------------------------------- --allow
def test_allow_takes_warning_classes_on_every_surface_and_refuses_others(capsys):
    option = BY_NAME["allow"]
    assert option.default == () and option.choices == ("missing-effects", "missing-fonts", "missing-footage")
    base = ["render", "p.aepx", "--comp", "Main", "--output", "/o/x_[#].png", "--frames", "1"]
    args = build_parser().parse_args(base + ["--allow", " missing-fonts, Missing-Footage ,missing-fonts"])
    assert args.allow == ("missing-fonts", "missing-footage")  # table order, each once
    with pytest.raises(SystemExit):
        build_parser().parse_args(base + ["--allow", "missing-fonts,colour-bars"])
    assert "--allow" in capsys.readouterr().err
    for empty in (",", " , ", ""):  # as `--allow=` is: no list is not a list of no classes
        with pytest.raises(SystemExit):
            build_parser().parse_args(base + ["--allow", empty])
        assert "--allow" in capsys.readouterr().err
    data = {"compute": {"input": "/p/a.aepx", "output": "/p/out", "range": "1-5",
                        "parameters": {"comp": "Main", "allow": ["missing-effects"]}}}  # a JSON list too
    assert build_app_job(data, "1", node_os="linux").job.options.allow == ("missing-effects",)
    data["compute"]["parameters"]["allow"] = "missing-footage"
    assert build_app_job(data, "1", node_os="linux").job.options.allow == ("missing-footage",)
    data["compute"]["parameters"]["allow"] = "fonts"
    with pytest.raises(AccsynError, match="parameters.allow"):
        build_app_job(data, "1", node_os="linux")
    values = actions.TaskValues(kind="image", project="/p/a.aepx", comp_name="Main", rq_index=0, output_dir="/o",
                                pattern="x_[#####].png", frames="1-2", options={"allow": "missing-fonts"})
    assert actions.task_job(values).options.allow == ("missing-fonts",)
    values.options["allow"] = ""
    assert actions.task_job(values).options.allow == ()  # the template's empty default: nothing allowed
    assert option.encode(("missing-fonts", "missing-footage"), "openjd") == "missing-fonts,missing-footage"
    assert table.cli_arguments({"allow": ("missing-fonts",)}) == ["--allow", "missing-fonts"]
