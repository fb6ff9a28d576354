"""accsyn daemon data -> one aefarm Job: the decisions of the accsyn compute app, without its effects.

The app file (``accsyn_app.py``) must stay a thin, publishable shell; everything that can be decided from the
daemon's ``data.json`` and ``ACCSYN_ITEM`` lives here so it can be tested as plain data:

- which frames this task renders (the work item intersected with the job's range, so a stepped range ``1-100x5``
  never renders a frame it did not ask for);
- where the project and the output are on this node (``share=<id|code>/sub`` resolved through the node's own
  mounts, then the job's ``share_paths``, then ``shares[].paths[<os>]``; a path of the submitting OS mapped by the
  shares table and ``mapped_share_paths``);
- whether the project is converted (``input_conversion``) and with which rules;
- the children's environment, extra aerender arguments, and the render options (``parameters`` named as in the
  option table, ``engines.aftereffects.options``, which also checks them).

Nothing here starts a process or writes a file.
"""
from __future__ import annotations

import os
import shlex
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple, Union

from aefarm_common.jsonfile import read_json
from aefarm_common.platforms import normalize_os
from engines.aftereffects.accsyn_errors import AccsynError
from engines.aftereffects.job import Job
from engines.aftereffects.options import BY_NAME, check_target, parse_values
from remap.errors import RemapError
from remap.paths import os_family, parse_path
from remap.rule import Rule
from remap.rules import RuleSet
from remap.shares import resolve_share_path, validate_shares
from stmpo.errors import FrameSpecError
from stmpo.frames import FrameSet
from stmpo.redact import SECRET_NAME, secret_values

CONVERSION_MODES = ("always", "platform", "never", "auto")
DEFAULT_OUTPUT_TEMPLATE = "[compName]_[#####].png"


@dataclass
class AppJob:
    """What one accsyn task renders, and why (``notes`` are shown to the user as public lines)."""

    job: Job
    item: FrameSet  # the frames of this task (item ∩ job range)
    convert: bool
    conversion_reason: str
    node_os: str
    remote_os: Optional[str]
    rules: RuleSet  # every rule known (shares + mapped_share_paths), used for the input/output paths
    notes: List[str] = field(default_factory=list)
    secrets: List[str] = field(default_factory=list)

    def describe(self) -> dict:
        out = self.job.describe()
        out.update({"item": str(self.item), "convert": self.convert, "conversion_reason": self.conversion_reason,
                    "node_os": self.node_os, "remote_os": self.remote_os,
                    "env": sorted(self.job.env)})  # names only: values may be secrets
        return out


# ------------------------------------------------------------------------------------------------ data.json
def load_wrapper(path: Union[str, Path]) -> dict:
    """The daemon's data.json; a missing, unreadable or malformed file is bad input (one line)."""
    p = Path(path)
    data = read_json(p, "accsyn data file", AccsynError)
    if not isinstance(data, dict) or not isinstance(data.get("compute"), dict):
        raise AccsynError(f"accsyn data file {p}: expected an object with a 'compute' object")
    return data


def _section(data: Mapping, *keys: str) -> Any:
    node: Any = data
    for key in keys:
        if not isinstance(node, Mapping):
            return None
        node = node.get(key)
    return node


# ------------------------------------------------------------------------------------------------ work item
def parse_item(item: Optional[str], job_range: Optional[FrameSet]) -> FrameSet:
    """The frames of work item ``item`` (``all``/unset, ``N``, ``A-B`` or any frame spec) within ``job_range``."""
    text = (item or "").strip()
    if not text or text.lower() == "all":
        if job_range is None:
            raise AccsynError("ACCSYN_ITEM is 'all' but the job has no range")
        return job_range
    try:
        frames = FrameSet.parse(text)
    except FrameSpecError as exc:
        raise AccsynError(f"ACCSYN_ITEM {text!r}: {exc}") from None
    return frames if job_range is None else frames & job_range


def job_range(compute: Mapping) -> Optional[FrameSet]:
    value = compute.get("range")
    if value in (None, ""):
        return None
    try:
        return FrameSet.parse(str(value))
    except FrameSpecError as exc:
        raise AccsynError(f"compute.range {value!r}: {exc}") from None


# ------------------------------------------------------------------------------------------------ conversion
def _os_or_none(value: Any, where: str) -> Optional[str]:
    if value in (None, ""):
        return None
    try:
        return normalize_os(str(value))
    except ValueError as exc:
        raise AccsynError(f"{where}: {exc}") from None


def conversion_decision(mode: Any, remote_os: Optional[str], node_os: str,
                        mapped_share_paths: Optional[Sequence[Any]]) -> Tuple[bool, str]:
    """Whether the project is converted on this node, and the reason shown to the user.

    ``auto`` is ``always`` when the job carries ``mapped_share_paths`` (the user said paths differ), else
    ``platform`` (convert only when the project was authored on another OS)."""
    text = str(mode if mode not in (None, "") else "auto").strip().lower()
    if text not in CONVERSION_MODES:
        raise AccsynError(f"parameters.input_conversion {mode!r}: expected one of {', '.join(CONVERSION_MODES)}")
    if text == "always":
        return True, "input_conversion always"
    if text == "never":
        return False, "input_conversion never"
    if text == "auto" and mapped_share_paths:
        return True, "input_conversion auto: the job has mapped_share_paths"
    prefix = "input_conversion auto: " if text == "auto" else "input_conversion platform: "
    if remote_os is None:
        return False, prefix + "the job names no remote_os, so the project is taken as authored for this OS"
    if remote_os != node_os:
        return True, prefix + f"authored on {remote_os}, rendering on {node_os}"
    return False, prefix + f"authored on {node_os} like this node"


def share_path_entries(data: Mapping, node_os: str) -> List[Dict[str, Any]]:
    """This node's share mounts: ``client.config.sharepaths`` first, then the job's ``share_paths``.

    ``share_paths`` may be a list of ``{share, share_hr, path, os?}`` or an object ``{share id or code: path}``."""
    out: List[Dict[str, Any]] = []
    node_entries = _section(data, "client", "config", "sharepaths")
    candidates: List[Tuple[str, Any]] = [("client.config.sharepaths", node_entries)]
    for where, value in (("compute.share_paths", _section(data, "compute", "share_paths")),
                         ("compute.parameters.share_paths", _section(data, "compute", "parameters", "share_paths")),
                         ("share_paths", data.get("share_paths"))):
        candidates.append((where, value))
    for where, value in candidates:
        if value in (None, ""):
            continue
        if isinstance(value, Mapping):
            value = [{"share": k, "path": v} for k, v in value.items()]
        if not isinstance(value, list):
            raise AccsynError(f"{where}: expected a list of {{share, path}} objects")
        for number, entry in enumerate(value, 1):
            if not isinstance(entry, Mapping) or not isinstance(entry.get("path"), str):
                raise AccsynError(f"{where} entry {number}: needs a string 'path'")
            only = _os_or_none(entry.get("os"), f"{where} entry {number}")
            if only is not None and only != node_os:
                continue
            out.append(dict(entry))
    return out


def accsyn_rules(data: Mapping, node_os: str, remote_os: Optional[str]) -> RuleSet:
    """Rules for this node: ``mapped_share_paths`` plus one rule per share (its remote-OS path -> this node's path).

    An explicit mapping wins over a share rule with the same source."""
    params = _section(data, "compute", "parameters") or {}
    shares = _shares(data)
    node_paths = share_path_entries(data, node_os)
    try:
        mapped = RuleSet.from_accsyn(params.get("mapped_share_paths") or [], shares, node_os, node_paths)
        if remote_os is None or remote_os == node_os:
            return mapped
        share_rules = RuleSet.from_accsyn_shares(shares, remote_os, node_os, node_paths)
    except RemapError as exc:
        raise AccsynError(str(exc)) from None
    kept: List[Rule] = list(mapped)
    for rule in share_rules:
        try:
            RuleSet(kept + [rule])
        except RemapError:
            continue  # same source as an explicit mapping: the mapping wins
        kept.append(rule)
    return RuleSet(kept)


def _shares(data: Mapping) -> List[Dict[str, Any]]:
    try:
        return validate_shares(data.get("shares"), "data.json shares")
    except RemapError as exc:
        raise AccsynError(str(exc)) from None


def resolve_location(value: Any, what: str, data: Mapping, node_os: str, rules: RuleSet) -> str:
    """A job path on this node: accsyn share notation, a path of this OS, or a remote-OS path the rules map."""
    if not isinstance(value, str) or not value.strip():
        raise AccsynError(f"compute.{what} is missing: the job must name its {what}")
    text = value.strip()
    if text[:6].lower() == "share=":
        try:
            return resolve_share_path(text, _shares(data), node_os, share_path_entries(data, node_os))
        except RemapError as exc:
            raise AccsynError(f"compute.{what}: {exc}") from None
    parsed = parse_path(text)
    if parsed is None:
        raise AccsynError(f"compute.{what} {text!r}: not an absolute path nor share=<id|code>/path")
    mapped = rules.map(text)
    if mapped is not None:
        return mapped
    if parsed.family != os_family(node_os):
        raise AccsynError(f"compute.{what} {text!r} is a {parsed.family} path and no share or mapped_share_paths "
                          f"entry maps it on this {node_os} node")
    return text


def output_pattern(location: str, template: str) -> str:
    """An aerender ``-output`` pattern: the location itself when it names frames, else location/template."""
    if "[#" in os.path.basename(location.rstrip("/\\")) and not location.endswith(("/", "\\")):
        return location
    if not template or "/" in template or "\\" in template:
        raise AccsynError(f"parameters.output_template {template!r}: expected a file name pattern such as "
                          f"{DEFAULT_OUTPUT_TEMPLATE}")
    parsed = parse_path(location)
    sep = "\\" if parsed is not None and parsed.family == "windows" else "/"
    return location.rstrip("/\\") + sep + template


# ------------------------------------------------------------------------------------------------ parameters
def split_arguments(text: Any, node_os: str) -> List[str]:
    """``parameters.arguments`` split like that OS's shell would (no shell runs): quotes group, nothing expands."""
    if text in (None, ""):
        return []
    if isinstance(text, list) and all(isinstance(a, str) for a in text):
        return list(text)
    if not isinstance(text, str):
        raise AccsynError(f"parameters.arguments must be a string, got {type(text).__name__}")
    try:
        if node_os == "windows":  # backslashes are path separators there, not escapes
            lexer = shlex.shlex(text, posix=True)
            lexer.whitespace_split = True
            lexer.escape = ""
            return list(lexer)
        return shlex.split(text)
    except ValueError as exc:
        raise AccsynError(f"parameters.arguments {text!r}: {exc}") from None


def _parameters(data: Mapping, defaults: Optional[Mapping[str, Any]]) -> Dict[str, Any]:
    given = _section(data, "compute", "parameters")
    if given is not None and not isinstance(given, Mapping):
        raise AccsynError("compute.parameters must be an object")
    merged: Dict[str, Any] = dict(defaults or {})
    merged.update(given or {})
    return merged


# ------------------------------------------------------------------------------------------------ the Job
def build_app_job(data: Mapping, item: Optional[str], node_os: Optional[str] = None,
                  defaults: Optional[Mapping[str, Any]] = None,
                  base_env: Optional[Mapping[str, str]] = None) -> AppJob:
    """The Job one accsyn task renders on this node. Raises AccsynError (or another exit_code-2 error)."""
    from engines.aftereffects.envs import current_os, resolve_envs

    node = _os_or_none(node_os, "node OS") or current_os()
    compute = data.get("compute")
    if not isinstance(compute, Mapping):
        raise AccsynError("accsyn data: 'compute' object missing")
    params = _parameters(data, defaults)
    remote_os = _os_or_none(params.get("remote_os"), "parameters.remote_os")
    frames = parse_item(item, job_range(compute))
    rules = accsyn_rules(data, node, remote_os)
    convert, reason = conversion_decision(params.get("input_conversion"), remote_os, node,
                                          params.get("mapped_share_paths"))
    notes = [f"conversion: {'yes' if convert else 'no'} ({reason})"]
    if convert and not len(rules):
        notes.append("conversion: no share or mapping rule applies to this node; the project is used as is")

    project = resolve_location(compute.get("input"), "input", data, node, rules)
    location = resolve_location(compute.get("output"), "output", data, node, rules)
    output = output_pattern(location, str(params.get("output_template") or DEFAULT_OUTPUT_TEMPLATE))

    comp = BY_NAME["comp"].parse(params.get("comp"), "accsyn", AccsynError)
    rqindex = BY_NAME["rqindex"].parse(params.get("rqindex"), "accsyn", AccsynError)
    if comp is None and rqindex is None:
        rqindex = 1
        notes.append("no comp named: rendering render-queue item 1")
    comp, rqindex = check_target(comp, rqindex, "accsyn", AccsynError)

    envs = compute.get("envs") or {}
    env = resolve_envs(envs, os_name=node, base_env=base_env, rules=rules if convert else None)
    extra = split_arguments(params.get("arguments"), node)

    values = parse_values("accsyn", params, AccsynError)  # the render options of the table, by accsyn name
    job = Job.from_options(values, project=Path(project), output=output, frames=frames, comp=comp,
                           rqindex=rqindex, rules=rules if convert else RuleSet(),
                           target_os=node if convert else None, env=env, extra_args=extra)
    return AppJob(job=job, item=frames, convert=convert, conversion_reason=reason, node_os=node,
                  remote_os=remote_os, rules=rules, notes=notes, secrets=secret_values(env))


def secrets_in(data: Any, _depth: int = 0) -> List[str]:
    """String values stored under secret-looking keys anywhere in ``data`` (API keys in parameters, envs ...)."""
    found: List[str] = []
    if _depth > 20:
        return found
    if isinstance(data, Mapping):
        for key, value in data.items():
            if isinstance(value, (str, int)) and not isinstance(value, bool) and SECRET_NAME.search(str(key)):
                if str(value):
                    found.append(str(value))
            else:
                found.extend(secrets_in(value, _depth + 1))
    elif isinstance(data, list):
        for value in data:
            found.extend(secrets_in(value, _depth + 1))
    return found
