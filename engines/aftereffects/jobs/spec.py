"""A job file read into plain data: paths resolved, render options checked through the option table, rules built.

The schema (``engines.aftereffects.jobs.schema``) has already said the document's shape is right; what is checked
here needs more than a shape: a frame spec that parses, templates whose ``{fields}`` are well formed, names that
stay inside ``output_dir``, presets whose container fits the movie's name. Relative paths count from the job file's
folder. ``node_rules`` (a farm task's path-mapping rules) map the job file's own paths for this node.
"""
from __future__ import annotations

import argparse
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, List, Optional, Union

from engines.aftereffects.jobs import names
from engines.aftereffects.jobs.encode import DEFAULT_EXTENSION, check_movie_name
from engines.aftereffects.jobs.errors import JobError
from engines.aftereffects.jobs.notify import check_url
from engines.aftereffects.jobs.schema import load_document
from engines.aftereffects.option_record import PATH, PERCENTS, PROGRAM, OptionError
from engines.aftereffects.options import BY_NAME
from remap.rules import RuleSet
from stmpo.errors import FrameSpecError
from stmpo.frames import FrameSet

DEFAULT_OUTPUT = "{id}/[compName]_[#####].png"
ACTION_OPTIONS = ("encode", "notify")  # render options that are actions in a job file's "actions"


@dataclass(frozen=True)
class EncodeSpec:
    preset: str
    name: str  # movie file name template, inside output_dir
    audio: Optional[Path] = None
    crf: Optional[int] = None


@dataclass(frozen=True)
class NotifySpec:
    url: Optional[str] = None
    command: Optional[List[str]] = None  # templates: row fields filled per variant
    retries: int = 3
    timeout: float = 10.0


@dataclass
class JobSpec:
    """One job file, read. ``rows``: a rows file or the inline list (None: one render, no row fields)."""

    path: Path
    template: Path
    frames: FrameSet
    output_dir: Path
    output: str
    comp: Optional[str] = None
    rqindex: Optional[int] = None
    variants_dir: Optional[Path] = None
    options: Dict[str, Any] = field(default_factory=dict)
    rules: RuleSet = field(default_factory=RuleSet)
    target_os: Optional[str] = None
    fonts: Optional[Path] = None
    rows_file: Optional[Path] = None
    rows_inline: Optional[List[Dict[str, Any]]] = None
    id_field: Optional[str] = None
    rows_folder: Optional[Path] = None  # where rows' relative paths count from (None: the rows file's folder)
    footage: Dict[str, str] = field(default_factory=dict)
    layers: Dict[str, str] = field(default_factory=dict)
    expressions: Dict[str, str] = field(default_factory=dict)
    data: Dict[str, Any] = field(default_factory=dict)
    encode: Optional[EncodeSpec] = None
    copy_to: Optional[str] = None  # destination folder template
    notify: Optional[NotifySpec] = None
    document: Dict[str, Any] = field(default_factory=dict)

    @property
    def folder(self) -> Path:
        return self.path.parent

    @property
    def is_batch(self) -> bool:
        return self.rows_file is not None or self.rows_inline is not None

    def name_templates(self) -> Dict[str, str]:
        """Every template that becomes a path inside the job's folders, by where it is in the job file."""
        out = {"$.output": self.output}
        if self.encode is not None:
            out["$.actions.encode.name"] = self.encode.name
        return out

    def value_templates(self) -> Dict[str, str]:
        """Every template filled with raw row values, by where it is in the job file."""
        out: Dict[str, str] = {}
        for key, value in self.footage.items():
            out[f"$.replace.footage[{key!r}]"] = value
        for key, value in self.layers.items():
            out[f"$.replace.layers[{key!r}]"] = value
        for key, value in self.expressions.items():
            out[f"$.replace.expressions[{key!r}]"] = value
        if self.copy_to is not None:
            out["$.actions.copy.to"] = self.copy_to
        for i, arg in enumerate(self.notify.command if self.notify and self.notify.command else []):
            out[f"$.actions.notify.command[{i}]"] = arg
        return out


def _path(value: str, base: Path, rules: RuleSet) -> Path:
    mapped = rules.map(value) if len(rules) else None
    text = mapped if mapped is not None else value
    return Path(os.path.abspath(os.path.join(str(base), os.path.expanduser(text))))


def _options(raw: Dict[str, Any], where: str, base: Path) -> Dict[str, Any]:
    """Option name -> checked value; paths (and programs given with a folder) count from the job file's folder."""
    out: Dict[str, Any] = {}
    for name, value in raw.items():
        option = BY_NAME[name]
        if option.kind == PERCENTS:
            value = tuple(value)
        try:
            value = option.check(option.parse(value, "cli") if isinstance(value, str) else value)
        except OptionError as exc:
            raise JobError(f"{where}: $.options.{name}: {str(exc).split(': ', 1)[-1]}") from None
        if value is not None and (option.kind == PATH or (option.kind == PROGRAM and any(
                sep in value for sep in "/\\"))):
            value = os.path.abspath(os.path.join(str(base), os.path.expanduser(value)))
        out[name] = value
    return out


def _rules(raw: Dict[str, Any], base: Path, node_rules: Optional[RuleSet]) -> RuleSet:
    from remap.cli_args import rules_from_args

    def resolved(key: str) -> Optional[str]:
        return str(_path(raw[key], base, RuleSet())) if raw.get(key) else None

    args = argparse.Namespace(map=list(raw.get("map", [])), rules=resolved("openjd_rules"),
                              accsyn_mappings=resolved("accsyn_mappings"), shares=resolved("shares"))
    rules = rules_from_args(args, node_os=raw.get("target_os"))
    return rules.merged(node_rules) if node_rules is not None and len(node_rules) else rules


def load_job(path: Union[str, Path], node_rules: Optional[RuleSet] = None) -> JobSpec:
    """Read, check and resolve the job file at ``path``; JobError (one line, exit 2) for anything wrong."""
    where = str(path)
    doc = load_document(where)
    job_path = Path(os.path.abspath(where))
    base = job_path.parent
    mapping = node_rules if node_rules is not None else RuleSet()
    try:
        frames = FrameSet.parse(str(doc["frames"]))
    except FrameSpecError as exc:
        raise JobError(f"{where}: $.frames: {exc}") from None
    if not len(frames):
        raise JobError(f"{where}: $.frames: {doc['frames']!r} selects no frames")
    try:
        rules = _rules(doc.get("rules", {}), base, node_rules)
    except OSError as exc:
        raise JobError(f"{where}: $.rules: {exc}") from None
    options = _options(doc.get("options", {}), where, base)
    actions = dict(doc.get("actions", {}))
    for name in ACTION_OPTIONS:  # --encode/--notify as options: the short form of the actions block
        value = options.pop(name, None)
        if value is None:
            continue
        if name in actions:
            raise JobError(f"{where}: $.options.{name}: the job's actions.{name} says it already; give one of them")
        actions[name] = {"preset": value} if name == "encode" else {"url": value}
    encode = None
    if "encode" in actions:
        raw = actions["encode"]
        name = raw.get("name", "{id}" + DEFAULT_EXTENSION[raw["preset"]])
        check_movie_name(raw["preset"], name, f"{where}: $.actions.encode.name")
        encode = EncodeSpec(raw["preset"], name, _path(raw["audio"], base, mapping) if raw.get("audio") else None,
                            raw.get("crf"))
    notify = None
    if "notify" in actions:
        raw = actions["notify"]
        if raw.get("url"):
            try:
                check_url(raw["url"], f"{where}: $.actions.notify.url")
            except ValueError as exc:
                raise JobError(str(exc)) from None
        notify = NotifySpec(raw.get("url"), list(raw["command"]) if raw.get("command") else None,
                            int(raw.get("retries", 3)), float(raw.get("timeout", 10.0)))
    rows = doc.get("rows")
    replace = doc.get("replace", {})
    spec = JobSpec(
        path=job_path, template=_path(doc["template"], base, mapping), frames=frames,
        output_dir=_path(doc["output_dir"], base, mapping), output=doc.get("output", DEFAULT_OUTPUT),
        comp=doc.get("comp"), rqindex=doc.get("rqindex"),
        variants_dir=_path(doc["variants_dir"], base, mapping) if doc.get("variants_dir") else None,
        options=options, rules=rules, target_os=doc.get("rules", {}).get("target_os"),
        fonts=_path(doc["fonts"], base, mapping) if doc.get("fonts") else None,
        rows_file=_path(rows, base, mapping) if isinstance(rows, str) else None,
        rows_inline=list(rows) if isinstance(rows, list) else None, id_field=doc.get("id_field"),
        rows_folder=_path(doc["rows_folder"], base, mapping) if doc.get("rows_folder") else None,
        footage=dict(replace.get("footage", {})), layers=dict(replace.get("layers", {})),
        expressions=dict(replace.get("expressions", {})), data=dict(replace.get("data", {})),
        encode=encode, copy_to=actions["copy"]["to"] if "copy" in actions else None, notify=notify, document=doc)
    for key, template in list(spec.name_templates().items()) + list(spec.value_templates().items()):
        names.fields_of(template, f"{where}: {key}")  # malformed templates fail here, before any row is read
    for key, template in spec.name_templates().items():
        sample = {f: "x" for f in names.fields_of(template, key)}
        names.check_relative(names.fill(template, sample, f"{where}: {key}"), f"{where}: {key}")
    if spec.options.get("fail_fast") and spec.is_batch:
        raise JobError(f"{where}: $.options.fail_fast: a batch never stops its other variants when one fails; "
                       "remove fail_fast")
    return spec
