"""The one table of render options: every knob of a render, defined once, spoken by every entry point.

A render option reaches aefarm through four surfaces, and each used to keep its own copy of names, defaults and
bounds: the command line (``aefarm render``; the farm submitters ``aefarm deadline bundle|submit`` and ``aefarm
accsyn submit`` pass the same flags on), accsyn job ``parameters`` (the compute app's ENGINE CONFIG block shows their
defaults), the OpenJD templates' parameters (``openjd/aftereffects-image|video``, passed to ``aefarm deadline task``)
and the settings objects the executor reads. Here each option is one :class:`RenderOption` record:

option                      CLI flag                     accsyn           OpenJD              feeds  bounds
--------------------------- ---------------------------- ---------------- ------------------- ------ ----------
comp                        --comp NAME                  comp             CompName            target non-empty
rqindex                     --rqindex N                  rqindex          RenderQueueIndex    target 1..10000
concurrency                 --concurrency N|auto         concurrency      Concurrency         plan   1..256
max_concurrency             --max-concurrency N          max_concurrency  MaxConcurrency      plan   1..256
ram_per_child_gb            --ram-per-child-gb G         ram_per_child_gb RamPerChildGB       plan   (0..1024]
mfr                         --mfr / --no-mfr             mfr              MultiFrameRendering plan   bool
affinity                    --affinity / --no-affinity   affinity         CpuAffinity         plan   bool
schedule                    --schedule dynamic|static    schedule         -                   run    choice
handoff                     --handoff / --no-handoff     handoff          -                   run    bool
min_chunk                   --min-chunk N                min_chunk        -                   run    1..100000
retries                     --retries N                  retries          Retries             run    0..10
fail_fast                   --fail-fast / --no-fail-fast fail_fast        FailFast            run    bool
startup_timeout             --startup-timeout S          startup_timeout  -                   run    30..86400
stall_timeout               --stall-timeout S            stall_timeout    StallTimeout        run    30..86400
kill_grace                  --kill-grace S               kill_grace       -                   run    0..600
finish_grace                --finish-grace S             finish_grace     -                   run    0..600
allow                       --allow CLASS,...            allow            AllowWarnings       run    classes
pilot                       --pilot / --no-pilot         pilot            -                   run    bool
stagger                     --stagger S                  stagger          -                   run    0..600
stepped                     --stepped auto|increment|... stepped          SteppedFrames(image) run   choice
use_increment               --use-increment / --no-...   use_increment    -                   run    bool
scratch                     --scratch DIR                -                -                   run    path
resume                      --resume / --no-resume       -                -                   run    bool
report                      --report FILE                -                -                   run    path
report_html                 --report-html FILE           -                -                   run    path
ffmpeg                      --ffmpeg PATH                -                FfmpegPath (video)  run    program
aerender                    --aerender PATH              aerender         AerenderPath        job    program
continue_on_missing_footage --continue-on-missing-...    continue_on_...  -                   job    bool
rs_template, om_template    --rs-template, --om-...      -                -                   job    text
mem_usage                   --mem-usage 'CACHE% MAX%'    -                -                   job    1..100 x2
numa_map                    --numa-map FILE              -                -                   job    path
encode                      --encode h264|prores         -                -                   job    choice
notify                      --notify URL                 -                -                   job    text

Defaults are not written here: an option that feeds ``plan`` (``stmpo.plan.PlanSettings``) or ``run``
(``stmpo.settings.RunOptions``) takes the default of that dataclass field, the single definition of the value (e.g.
``RunOptions.stall_timeout`` = 1800 s); ``job`` options state the field default of ``Job`` (``None`` / ``False``;
the Job imports this table, so a test checks they agree). "Not set" (``None``: work it out, or leave the default) is
spelled per surface where a value cannot be left out: ``auto`` for concurrency, ``0`` for the other numbers whose
default is ``None`` (0 is never a valid value of those), ``""`` for paths and text. Booleans are ``true``/``false``
as text (also yes/no, on/off, 1/0). The record type and its value grammar (kinds, "not set", bounds, one-line errors)
are ``engines.aftereffects.option_record``.

Tests pin every surface to this table: the OpenJD templates' ``default``/``minValue``/``maxValue``/types, the accsyn
app's literal ``PARAMETERS`` block, the CLI's flags and help, and the bundle writer's values.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Dict, Iterable, List, Mapping, Optional, Tuple, Type

from engines.aftereffects.option_record import (
    BOOL,
    CHOICE,
    CHOICES,
    FLOAT,
    INT,
    JOB,
    NUMBERS,
    PATH,
    PERCENTS,
    PLAN,
    PROGRAM,
    RUN,
    TARGET,
    TEXT,
    OptionError,
    RenderOption,
    number_text,
)
from stmpo.diagnosis import FAILING_BY_DEFAULT
from stmpo.plan import RAM_PER_CHILD_GB_MFR, RAM_PER_CHILD_GB_NO_MFR, PlanSettings
from stmpo.settings import RunOptions

SECONDS_DAY = 86400

OPTIONS: Tuple[RenderOption, ...] = (
    RenderOption("comp", TARGET, TEXT, "composition to render", metavar="NAME", accsyn="comp", openjd="CompName",
                 group="target"),
    RenderOption("rqindex", TARGET, INT, "render-queue item to render (1-based)", metavar="N", accsyn="rqindex",
                 openjd="RenderQueueIndex", low=1, high=10000, group="target"),
    # planning (stmpo.plan.PlanSettings)
    RenderOption("concurrency", PLAN, INT, "aerender children at once (auto: from CPUs, memory and frames)",
                 metavar="N|auto", accsyn="concurrency", openjd="Concurrency", low=1, high=256, auto="auto",
                 group="planning"),
    RenderOption("max_concurrency", PLAN, INT, "most children the automatic choice may start (none: no limit)",
                 metavar="N", accsyn="max_concurrency", openjd="MaxConcurrency", low=1, high=256, group="planning"),
    RenderOption("ram_per_child_gb", PLAN, FLOAT, "memory one aerender child needs, for the automatic choice",
                 metavar="G", accsyn="ram_per_child_gb", openjd="RamPerChildGB", low=0, high=1024, above_low=True,
                 group="planning", unit="GB",
                 default_text=f"{RAM_PER_CHILD_GB_MFR:g} with MFR, {RAM_PER_CHILD_GB_NO_MFR:g} without"),
    RenderOption("mfr", PLAN, BOOL, "After Effects Multi-Frame Rendering inside each child", accsyn="mfr",
                 openjd="MultiFrameRendering", group="planning"),
    RenderOption("affinity", PLAN, BOOL, "pin each child to its own block of CPUs (NUMA aware)", accsyn="affinity",
                 openjd="CpuAffinity", group="planning"),
    # running (stmpo.settings.RunOptions)
    RenderOption("schedule", RUN, CHOICE, "dynamic work stealing or the static equal split", accsyn="schedule",
                 choices=("dynamic", "static")),
    RenderOption("handoff", RUN, BOOL, "dynamic schedule: start a thief while the slot's child renders its last "
                 "seconds (hides start-up but briefly runs two children in one slot)", accsyn="handoff"),
    RenderOption("min_chunk", RUN, INT, "fewest frames a child is given (start-up costs seconds)", metavar="N",
                 accsyn="min_chunk", low=1, high=100000),
    RenderOption("retries", RUN, INT, "times a failed chunk's frames are retried on a fresh child", metavar="N",
                 accsyn="retries", openjd="Retries", low=0, high=10),
    RenderOption("fail_fast", RUN, BOOL, "stop everything once a chunk has failed beyond its retries",
                 accsyn="fail_fast", openjd="FailFast"),
    RenderOption("startup_timeout", RUN, FLOAT, "seconds a child may take to start rendering", metavar="S",
                 accsyn="startup_timeout", low=30, high=SECONDS_DAY, unit="seconds"),
    RenderOption("stall_timeout", RUN, FLOAT, "seconds without a progress line before a child counts as hung",
                 metavar="S", accsyn="stall_timeout", openjd="StallTimeout", low=30, high=SECONDS_DAY,
                 unit="seconds"),
    RenderOption("kill_grace", RUN, FLOAT, "seconds between SIGTERM and SIGKILL", metavar="S", accsyn="kill_grace",
                 low=0, high=600, unit="seconds"),
    RenderOption("finish_grace", RUN, FLOAT, "seconds an aerender that printed Finished composition / Total Time "
                 "Elapsed may take to exit before its process tree is ended (not a failure)", metavar="S",
                 accsyn="finish_grace", low=0, high=600, unit="seconds"),
    RenderOption("allow", RUN, CHOICES, "After Effects warnings that only warn instead of failing the chunk "
                 "(missing footage, fonts or effects make every frame wrong)", metavar="CLASS,...",
                 accsyn="allow", openjd="AllowWarnings", choices=tuple(sorted(FAILING_BY_DEFAULT))),
    RenderOption("pilot", RUN, BOOL, "start one child first and the others once it renders, so an error every "
                 "child would hit (an unknown template, an unreadable project) costs one After Effects launch; the "
                 "others then start one start-up later", accsyn="pilot"),
    RenderOption("stagger", RUN, FLOAT, "seconds between child starts", metavar="S", accsyn="stagger", low=0,
                 high=600, unit="seconds"),
    RenderOption("stepped", RUN, CHOICE, "stepped frame ranges (1-100x5): increment = one aerender -s -e -i "
                 "invocation per stepped run, its files proven by their numbers (frames re-rendered one per "
                 "invocation when aerender did not name them by comp frame); per-frame = one invocation per frame; "
                 "auto = increment, or per-frame at once when this aerender version was seen not to name them by "
                 "comp frame (remembered per user)", accsyn="stepped", openjd="SteppedFrames",
                 openjd_kinds=("image",), choices=("auto", "increment", "per-frame")),
    RenderOption("use_increment", RUN, BOOL, "old spelling of --stepped increment (kept working; --stepped wins "
                 "when set to other than auto)", accsyn="use_increment"),
    RenderOption("scratch", RUN, PATH, "render under DIR, then move each complete frame into place", metavar="DIR"),
    RenderOption("resume", RUN, BOOL, "skip frames already present"),
    RenderOption("report", RUN, PATH, "write a JSON run report", metavar="FILE"),
    RenderOption("report_html", RUN, PATH, "write the HTML report here (default with --report: beside it, "
                 "REPORT.html)", metavar="FILE"),
    RenderOption("ffmpeg", RUN, PROGRAM, "ffmpeg for joining movie segments (none: FFMPEG or PATH)",
                 metavar="PATH", openjd="FfmpegPath", openjd_kinds=("video",)),
    # aerender (the Job)
    RenderOption("aerender", JOB, PROGRAM, "aerender executable (none: AERENDER_PATH, PATH, install folders)",
                 metavar="PATH", accsyn="aerender", openjd="AerenderPath", group="aerender"),
    RenderOption("continue_on_missing_footage", JOB, BOOL, "render even when footage is missing "
                 "(aerender -continueOnMissingFootage)", accsyn="continue_on_missing_footage", group="aerender",
                 job_default=False),
    RenderOption("rs_template", JOB, TEXT, "render-settings template (aerender -RStemplate)", metavar="NAME",
                 group="aerender"),
    RenderOption("om_template", JOB, TEXT, "output-module template (aerender -OMtemplate)", metavar="NAME",
                 group="aerender"),
    RenderOption("mem_usage", JOB, PERCENTS, "aerender -mem_usage: image cache and most memory, in percent",
                 metavar="'CACHE% MAX%'", group="aerender"),
    RenderOption("numa_map", JOB, PATH, "CPU topology JSON (NUMA nodes) instead of detection", metavar="FILE",
                 group="planning"),
    # post-render actions (engines.aftereffects.jobs; a job file's "actions" say more)
    RenderOption("encode", JOB, CHOICE, "after the frames are verified, encode them into one movie beside them "
                 "(h264: MP4 review copy; prores: ProRes 422 HQ master)", metavar="PRESET",
                 choices=("h264", "prores"), group="actions"),
    RenderOption("notify", JOB, TEXT, "after the render (and its actions), POST the JSON result to this http(s) "
                 "URL (bounded retries and timeout; a failed notification never fails the render)",
                 metavar="URL", group="actions"),
)
BY_NAME: Dict[str, RenderOption] = {option.name: option for option in OPTIONS}
SETTINGS_OPTIONS: Tuple[RenderOption, ...] = tuple(o for o in OPTIONS if o.feeds != TARGET)


def on_surface(surface: str, kind: Optional[str] = None) -> List[RenderOption]:
    """The non-target options ``surface`` exposes (``openjd``: of bundle ``kind`` when given)."""
    if surface == "cli":
        return list(SETTINGS_OPTIONS)
    if surface == "accsyn":
        return [o for o in SETTINGS_OPTIONS if o.accsyn]
    return [o for o in SETTINGS_OPTIONS if o.openjd and (kind is None or kind in o.openjd_kinds)]


# ------------------------------------------------------------------------------------------------ the target
def check_target(comp: Optional[str], rqindex: Optional[int], surface: str = "cli",
                 error: Type[Exception] = OptionError) -> Tuple[Optional[str], Optional[int]]:
    """``(comp, rqindex)`` when exactly one is set, else ``error`` naming both as ``surface`` does.

    The one check of "exactly one of comp / render-queue index" (the Job, the accsyn app, both submitters and the
    OpenJD task call it). ``None``/blank comp and ``None``/0 index are "not set" (how the farm surfaces write it)."""
    comp_opt, rq_opt = BY_NAME["comp"], BY_NAME["rqindex"]
    if comp is not None and not isinstance(comp, str):
        raise error(f"{comp_opt.name_on(surface)} {comp!r}: expected a composition name")
    name = comp if comp is not None and comp.strip() else None
    index = rq_opt.check(rqindex or None, surface, error)
    if (name is None) == (index is None):
        names = {"cli": "--comp NAME or --rqindex N", "accsyn": "parameters.comp or parameters.rqindex",
                 "openjd": "CompName or RenderQueueIndex (a render-queue item >= 1)"}[surface]
        raise error(f"exactly one of {names} is needed, got {'both' if name is not None else 'neither'}")
    return name, index


# ------------------------------------------------------------------------------------------------ settings
def parse_values(surface: str, raw: Mapping[str, Any], error: Type[Exception] = OptionError,
                 kind: Optional[str] = None) -> Dict[str, Any]:
    """Option name -> checked value (None: not set) from ``raw`` keyed as ``surface`` names the options.

    ``surface`` ``accsyn`` takes the job's ``parameters`` (keys missing: not set); ``openjd`` the template's text
    values keyed by OpenJD name; ``cli`` option names."""
    out: Dict[str, Any] = {}
    for option in on_surface(surface, kind):
        key = {"accsyn": option.accsyn, "openjd": option.openjd}.get(surface, option.name)
        if key is not None and key in raw:
            out[option.name] = option.parse(raw[key], surface, error)
    return out


@dataclass(frozen=True)
class Settings:
    """What the option values set: the plan's settings, the executor's options, and the Job's own fields."""

    plan: PlanSettings
    run: RunOptions
    job: Dict[str, Any]


def settings_from(values: Mapping[str, Any]) -> Settings:
    """The settings objects from option values (name -> value; None or absent: the field default)."""
    from pathlib import Path

    parts: Dict[str, Dict[str, Any]] = {PLAN: {}, RUN: {}, JOB: {}}
    for name, value in values.items():
        option = BY_NAME.get(name)
        if option is None or option.feeds == TARGET:
            raise OptionError(f"{name!r} is not a render option")
        if value is None:
            continue
        value = option.check(value)
        parts[option.feeds][name] = Path(value) if option.kind == PATH else value
    return Settings(plan=PlanSettings(**parts[PLAN]), run=RunOptions(**parts[RUN]), job=parts[JOB])


def values_of(plan: PlanSettings, run: RunOptions, job: Mapping[str, Any]) -> Dict[str, Any]:
    """The inverse of :func:`settings_from`: every option's current value (paths as text)."""
    out: Dict[str, Any] = {}
    for option in SETTINGS_OPTIONS:
        source: Any = {PLAN: plan, RUN: run}.get(option.feeds)
        value = getattr(source, option.name) if source is not None else job.get(option.name)
        out[option.name] = str(value) if option.kind == PATH and value is not None else value
    return out


def cli_arguments(values: Mapping[str, Any], options: Optional[Iterable[RenderOption]] = None) -> List[str]:
    """The command-line flags that set ``values`` (only those that differ from the default), table order."""
    argv: List[str] = []
    for option in options if options is not None else SETTINGS_OPTIONS:
        value = values.get(option.name)
        if value is None or value == option.default:
            continue
        if option.kind == BOOL:
            argv.append(option.flag if value else str(option.negative_flag))
        elif option.kind == PERCENTS:
            argv += [option.flag, f"{value[0]} {value[1]}"]
        elif option.kind == CHOICES:
            argv += [option.flag, ",".join(value)]
        else:
            argv += [option.flag, number_text(value) if option.kind in NUMBERS else str(value)]
    return argv


def accsyn_defaults() -> Dict[str, Any]:
    """accsyn parameter -> default as the app's ENGINE CONFIG ``PARAMETERS`` block must write it."""
    return {o.accsyn: o.encode(o.default, "accsyn") for o in OPTIONS if o.accsyn}
