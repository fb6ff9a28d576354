"""Per-platform environment dictionaries (accsyn ``envs``, aefarm job files).

A dictionary is either flat (``{"NAME": "value"}``) or split by OS (``{"common": {...}, "linux": {...}, "mac": {...},
"windows": {...}}``): ``common`` applies first, then the section of the node's OS, which overrides it.

Values are strings (JSON numbers are accepted and written as text; booleans, null, lists and objects are errors:
their meaning as an environment value would be a guess). ``${NAME}`` expands, in file order, against the variables
resolved so far and then against the inherited environment, so ``"PATH": "${PATH}:/opt/x"`` in ``common`` and again
in ``linux`` appends twice. An undefined ``${NAME}`` is an error rather than being left in place: a literal
``${X}`` in a search path fails a render hours later, far from its cause. Write ``$${NAME}`` for a literal ``${NAME}``.
Only the ``${NAME}`` form expands (``$NAME`` and ``%NAME%`` are left alone).

With a RuleSet, each resolved value is path-mapped: each entry of a ``;``-separated list (or ``:``-separated list
of POSIX paths), else the whole value. Mapping happens after expansion, on the expanded text.
Names are case-insensitive when the target OS is Windows (as Windows itself treats them).
"""
from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Dict, List, Mapping, Optional, Union

from aefarm_common.errors import AefarmError
from aefarm_common.jsonfile import read_json
from aefarm_common.platforms import host_os, normalize_os
from remap.paths import POSIX, path_os

SECTIONS = ("common", "linux", "mac", "windows")
_VAR = re.compile(r"\$(\$)?\{([^{}$]*)\}")


class EnvError(AefarmError, ValueError):
    """A bad environment dictionary; the one-line message names the key (and file) at fault."""


def current_os() -> str:
    """This machine's OS: ``windows``, ``mac`` or ``linux``."""
    return host_os()


def load_env_file(path: Union[str, Path]) -> dict:
    """Read a JSON env dictionary file (shape is checked by ``resolve_envs``)."""
    p = Path(path)
    data = read_json(p, "env file", EnvError)
    if not isinstance(data, dict):
        raise EnvError(f"env file {p}: expected a JSON object, got {type(data).__name__}")
    return data


def _sections(data: Mapping, os_name: str) -> List[tuple]:
    """``[(where, flat dict), ...]`` in the order they apply."""
    for key in data:
        if not isinstance(key, str):
            raise EnvError(f"env key {key!r}: names must be strings")
    split = any(k in SECTIONS and isinstance(v, Mapping) for k, v in data.items())
    if not split:
        return [("env", data)]
    for key, value in data.items():
        if key not in SECTIONS:
            raise EnvError(f"env key {key!r}: a variable next to OS sections (put it in 'common')")
        if value is not None and not isinstance(value, Mapping):
            raise EnvError(f"env section {key!r}: expected an object of NAME: value, got {type(value).__name__}")
    return [(f"env.{name}", data.get(name) or {}) for name in ("common", os_name)]


def _value_text(where: str, name: object, value: object) -> str:
    if not isinstance(name, str):
        raise EnvError(f"{where} key {name!r}: names must be strings")
    if not name or "=" in name or "\0" in name:
        raise EnvError(f"{where} key {name!r}: not a valid variable name")
    if isinstance(value, str):
        text = value
    elif isinstance(value, (int, float)) and not isinstance(value, bool):
        text = str(value)
    else:
        kind = "null" if value is None else type(value).__name__
        raise EnvError(f"{where} key {name!r}: value must be a string, got {kind}")
    if "\0" in text:
        raise EnvError(f"{where} key {name!r}: value contains a NUL character")
    return text


class _Names:
    """A name -> value view that ignores case on Windows."""

    def __init__(self, fold: bool) -> None:
        self.fold = fold
        self.values: Dict[str, str] = {}
        self.keys: Dict[str, str] = {}

    def set(self, name: str, value: str) -> None:
        key = name.upper() if self.fold else name
        actual = self.keys.setdefault(key, name)
        self.values[actual] = value

    def get(self, name: str) -> Optional[str]:
        actual = self.keys.get(name.upper() if self.fold else name)
        return None if actual is None else self.values[actual]


def resolve_envs(data: Mapping, os_name: Optional[str] = None, base_env: Optional[Mapping[str, str]] = None,
                 rules=None) -> Dict[str, str]:
    """The variables ``data`` sets for ``os_name`` (default: this OS), expanded and optionally path-mapped.

    Only the file's own variables are returned (not the inherited environment); ``base_env`` (default
    ``os.environ``) is only used to expand ``${NAME}``.
    """
    if not isinstance(data, Mapping):
        raise EnvError(f"env: expected an object of NAME: value, got {type(data).__name__}")
    try:
        target = normalize_os(os_name) if os_name else current_os()
    except ValueError as exc:
        raise EnvError(f"env: {exc}") from None
    fold = target == "windows"
    inherited = _Names(fold)
    for name, value in (os.environ if base_env is None else base_env).items():
        inherited.set(str(name), str(value))
    result = _Names(fold)
    for where, section in _sections(data, target):
        for name, value in section.items():
            text = _value_text(where, name, value)
            result.set(name, _expand(text, where, name, result, inherited))
    values = result.values
    if rules is not None and len(rules):
        values = {k: map_value(v, rules, target) for k, v in values.items()}
    return dict(values)


def _expand(text: str, where: str, name: str, result: _Names, inherited: _Names) -> str:
    if "${" not in text:
        return text

    def one(match: "re.Match[str]") -> str:
        ref = match.group(2)
        if match.group(1):
            return "${" + ref + "}"
        found = result.get(ref)
        if found is None:
            found = inherited.get(ref)
        if found is None:
            raise EnvError(f"{where} key {name!r}: ${{{ref}}} is not defined in the file or the inherited "
                           f"environment (write $${{{ref}}} for a literal)")
        return found

    return _VAR.sub(one, text)


def map_value(value: str, rules, target_os: str) -> str:
    """Path-map one value: each entry of a path list (``;``, or ``:`` between POSIX paths), else the whole value.

    Lists are tried first: a Windows path almost never contains ``;`` while PATH-like values are common.
    """
    if ";" in value:
        items = value.split(";")
        mapped = [rules.map(item) for item in items]
        if not any(m is not None for m in mapped):
            return value
        out = [m if m is not None else item for item, m in zip(items, mapped)]
        sep = ";"
        if normalize_os(target_os) != "windows" and all(path_os(o) == POSIX for o in out if o):
            sep = ":"  # a Windows list that became all-POSIX reads as a POSIX list on this node
        return sep.join(out)
    if value.startswith("/") and ":" in value:
        items = value.split(":")
        mapped = [rules.map(item) for item in items]
        if not any(m is not None for m in mapped):
            return value
        out = [m if m is not None else item for item, m in zip(items, mapped)]
        if normalize_os(target_os) == "windows" and all(path_os(o) == "windows" for o in out if o):
            return ";".join(out)  # a POSIX list that became all-Windows reads as a ';' list on this node
        return ":".join(out)
    whole = rules.map(value)
    return value if whole is None else whole
