"""Row fields in a job file's templates: ``{name}_{id}.mp4``, ``{{`` and ``}}`` for literal braces.

Two ways to fill a template, because the values come from data (a CSV someone else wrote):

- ``fill`` puts values in as they are: layer names, expression literals, data files, footage paths;
- ``fill_name`` makes a path *inside* a folder the job owns: every value is cut down to one safe file-name
  component (no separators, no ``..``, no characters Windows or macOS refuse, no reserved device names, no trailing
  dots or spaces), and the joined result must still be a relative path inside that folder. A row can never send an
  output anywhere else, whichever OS renders it (a Windows worker may write what a Linux submitter checked).
"""
from __future__ import annotations

import re
import unicodedata
from typing import Any, List, Mapping, Set

from engines.aftereffects.jobs.errors import JobError

_FIELD = re.compile(r"\{\{|\}\}|\{([^{}]*)\}|[{}]")
_BAD_CHARS = re.compile(r'[<>:"/\\|?*\x00-\x1f\x7f]')
_RESERVED = {"con", "prn", "aux", "nul", *(f"com{i}" for i in range(1, 10)), *(f"lpt{i}" for i in range(1, 10))}
MAX_COMPONENT = 120  # characters of one name component from a value (paths stay well under every OS's limits)


def fields_of(template: str, where: str = "template") -> List[str]:
    """The field names ``template`` uses, in order (a malformed template raises JobError)."""
    out: List[str] = []
    for m in _FIELD.finditer(template):
        text = m.group(0)
        if text in ("{{", "}}"):
            continue
        if m.group(1) is None:
            raise JobError(f"{where}: unmatched {text!r} in {template!r} (write {text * 2} for a literal brace)")
        name = m.group(1).strip()
        if not name:
            raise JobError(f"{where}: empty field {{}} in {template!r}")
        out.append(name)
    return out


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def fill(template: str, row: Mapping[str, Any], where: str = "template") -> str:
    """``template`` with each ``{field}`` replaced by the row's value as text (no sanitising)."""
    def one(m: "re.Match[str]") -> str:
        text = m.group(0)
        if text == "{{":
            return "{"
        if text == "}}":
            return "}"
        name = (m.group(1) or "").strip()
        if m.group(1) is None or not name:
            raise JobError(f"{where}: malformed template {template!r}")
        if name not in row:
            known = ", ".join(sorted(row)) or "none"
            raise JobError(f"{where}: field {{{name}}} is not in the row (fields: {known})")
        return _text(row[name])

    return _FIELD.sub(one, template)


def safe_component(value: str) -> str:
    """``value`` as one file-name component every OS accepts (separators, reserved characters and controls become
    ``_``, as do leading dots; trailing dots and spaces go; device names get a ``_`` in front); ``_`` when nothing
    is left."""
    text = unicodedata.normalize("NFC", value)
    text = _BAD_CHARS.sub("_", text).strip()
    text = re.sub(r"^\.+", "_", text.rstrip(". "))  # no "..", no hidden files, no trailing dots or spaces
    if text.split(".")[0].strip().lower() in _RESERVED:
        text = "_" + text
    return text[:MAX_COMPONENT].rstrip(". ") or "_"


def fill_name(template: str, row: Mapping[str, Any], where: str = "template") -> str:
    """A relative path from ``template`` (``/``-separated folders allowed in the template itself) with every value
    made a safe component. JobError when the result is absolute, empty or climbs out (``..``)."""
    safe = {key: safe_component(_text(value)) for key, value in row.items()}
    text = fill(template, safe, where)
    check_relative(text, where)
    return text


def check_relative(text: str, where: str) -> None:
    """JobError unless ``text`` is a non-empty relative path with no ``..``/empty parts (either separator)."""
    if not text.strip():
        raise JobError(f"{where}: the name is empty")
    if text.startswith(("/", "\\")) or re.match(r"^[A-Za-z]:", text):
        raise JobError(f"{where}: {text!r} must be relative to its folder, not absolute")
    parts = re.split(r"[\\/]", text)
    if any(p in ("", ".", "..") for p in parts):
        raise JobError(f"{where}: {text!r} must stay inside its folder (no empty, '.' or '..' parts)")
    for part in parts:
        if _BAD_CHARS.search(part.replace("[", "").replace("]", "")) or part != part.rstrip(". "):
            raise JobError(f"{where}: {part!r} is not a file name every OS accepts")


def missing_fields(templates: Mapping[str, str], row: Mapping[str, Any]) -> Set[str]:
    """Fields the templates use that ``row`` does not have."""
    return {name for where, template in templates.items() for name in fields_of(template, where)} - set(row)
