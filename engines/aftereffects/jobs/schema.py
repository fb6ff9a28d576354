"""The job file format, version 1: a JSON Schema (draft 2020-12) checked with jsonschema, one line per error.

A job file describes one render or a batch of variants of one template project (README "Template jobs"):

    {"aefarm_job": 1,                                   required: the format version
     "template": "card.aepx",                           required: the template project (.aepx)
     "comp": "Main" | "rqindex": 1,                      exactly one
     "frames": "0-47",                                   required: any aefarm frame spec
     "output_dir": "out",                                required: every output of the job goes inside it
     "output": "{id}/[compName]_[#####].png",            frames pattern inside output_dir (row fields allowed)
     "variants_dir": "work",                             where variant projects and data files are written
     "options": {"concurrency": 4, ...},                 render options: the option table's names and bounds
     "rules": {"map": ["D:\\media=/mnt/media"], "openjd_rules": "rules.json", "target_os": "linux"},
     "fonts": "fonts",                                   fonts installed for the render
     "rows": "rows.csv" | [{"id": 1, "name": "Ada"}],    a batch: one variant per row (CSV/TSV/JSON file or list)
     "id_field": "id",                                   the field naming a variant (default: id, else row number)
     "rows_folder": "media",                             where rows' relative paths count from (default: the rows
                                                         file's folder; inline rows: the job file's)
     "replace": {"footage": {"photo.png": "{photo}"},    footage item (name or #id) -> file or sequence
                 "layers": {"NAME": "{name}"},           layer name -> new name
                 "expressions": {"COLOUR": "{colour}"},  string literal in expressions -> new value
                 "data": {"data.json": "row"}},          data-file footage -> the row ("row", [fields] or {...})
     "actions": {"encode": {"preset": "h264", "name": "{name}_{id}.mp4", "audio": "music.wav"},
                 "copy": {"to": "deliveries/{id}"},
                 "notify": {"url": "https://...", "command": ["prog", "{id}"], "retries": 3, "timeout": 10}}}

Relative paths count from the job file's folder (rows' footage paths from ``rows_folder``). ``options``
accepts exactly the render options ``aefarm render`` takes, with the same bounds: its schema is made from the
option table (``engines.aftereffects.options``), so the two cannot drift apart.
"""
from __future__ import annotations

import json
import re
from typing import Any, Dict, List, Optional

from engines.aftereffects.jobs.errors import JobError
from engines.aftereffects.option_record import BOOL, CHOICE, FLOAT, INT, PERCENTS, RenderOption
from engines.aftereffects.options import SETTINGS_OPTIONS

VERSION = 1
PRESETS = ("h264", "prores")
NAME = {"type": "string", "minLength": 1, "x-expected": "a non-empty text"}
TEMPLATE_TEXT = {"type": "string", "x-expected": "a text (row fields as {field})"}
PATH = {"type": "string", "minLength": 1, "x-expected": "a non-empty path"}


def option_schema(option: RenderOption) -> Dict[str, Any]:
    """The JSON Schema of one render option's value in a job file, from the table (kind, bounds, choices)."""
    expected = option.bounds_text()
    if option.kind in (INT, FLOAT):
        schema: Dict[str, Any] = {"type": "integer" if option.kind == INT else "number"}
        if option.low is not None:
            schema["exclusiveMinimum" if option.above_low else "minimum"] = option.low
        if option.high is not None:
            schema["maximum"] = option.high
        what = f"{'a whole number' if option.kind == INT else (option.unit or 'a number')} {expected}".strip()
        if option.auto:
            return {"anyOf": [schema, {"const": option.auto}], "x-expected": f"{what} or {option.auto!r}"}
        schema["x-expected"] = what
        return schema
    if option.kind == BOOL:
        return {"type": "boolean", "x-expected": "true or false"}
    if option.kind == CHOICE:
        return {"enum": list(option.choices), "x-expected": "one of " + ", ".join(option.choices)}
    if option.kind == PERCENTS:
        return {"type": "array", "items": {"type": "integer", "minimum": 1, "maximum": 100,
                                           "x-expected": "a whole number from 1 to 100"}, "minItems": 2,
                "maxItems": 2, "x-expected": "two whole numbers from 1 to 100 ([CACHE%, MAX%])"}
    return dict(NAME)


def _object(properties: Dict[str, Any], required: Optional[List[str]] = None, **extra: Any) -> Dict[str, Any]:
    schema: Dict[str, Any] = {"type": "object", "properties": properties, "additionalProperties": False}
    if required:
        schema["required"] = required
    schema.update(extra)
    return schema


def _map(values: Dict[str, Any], what: str) -> Dict[str, Any]:
    return {"type": "object", "propertyNames": {"minLength": 1}, "additionalProperties": values,
            "x-expected": what}


def job_schema() -> Dict[str, Any]:
    """The whole job file schema (version 1)."""
    data_value = {"anyOf": [{"const": "row"}, {"type": "array", "items": NAME, "minItems": 1},
                            {"type": "object"}],
                  "x-expected": '"row", a list of field names, or an object whose texts may use {fields}'}
    encode = _object({"preset": {"enum": list(PRESETS), "x-expected": "one of " + ", ".join(PRESETS)},
                      "name": NAME, "audio": PATH, "crf": {"type": "integer", "minimum": 0, "maximum": 51,
                                                           "x-expected": "a whole number from 0 to 51"}},
                     ["preset"])
    notify = _object({"url": {"type": "string", "pattern": "^https?://", "x-expected": "an http:// or https:// URL"},
                      "command": {"type": "array", "items": NAME, "minItems": 1,
                                  "x-expected": "a program and its arguments, as a list"},
                      "retries": {"type": "integer", "minimum": 0, "maximum": 10,
                                  "x-expected": "a whole number from 0 to 10"},
                      "timeout": {"type": "number", "exclusiveMinimum": 0, "maximum": 600,
                                  "x-expected": "seconds, > 0 and <= 600"}},
                     anyOf=[{"required": ["url"]}, {"required": ["command"]}])
    notify["x-expected"] = "an object with url and/or command"
    rules = _object({"map": {"type": "array", "items": {"type": "string", "pattern": ".=.",
                                                        "x-expected": "SRC=DST"}},
                     "openjd_rules": PATH, "accsyn_mappings": PATH, "shares": PATH,
                     "target_os": {"enum": ["windows", "mac", "linux"], "x-expected": "windows, mac or linux"}})
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": "aefarm job file",
        "type": "object",
        "x-expected": "a JSON object",
        "additionalProperties": False,
        "required": ["aefarm_job", "template", "frames", "output_dir"],
        "properties": {
            "aefarm_job": {"const": VERSION, "x-expected": f"{VERSION} (this aefarm reads job files of version "
                                                           f"{VERSION})"},
            "template": PATH,
            "comp": NAME,
            "rqindex": {"type": "integer", "minimum": 1, "maximum": 10000,
                        "x-expected": "a whole number from 1 to 10000"},
            "frames": {"type": ["string", "integer"], "x-expected": "a frame spec such as 1-48"},
            "output_dir": PATH,
            "output": NAME,
            "variants_dir": PATH,
            "options": _object({o.name: option_schema(o) for o in SETTINGS_OPTIONS}),
            "rules": rules,
            "fonts": PATH,
            "rows": {"anyOf": [PATH, {"type": "array", "items": {"type": "object"}, "minItems": 1}],
                     "x-expected": "a CSV/TSV/JSON file, or a non-empty list of objects"},
            "id_field": NAME,
            "rows_folder": PATH,
            "replace": _object({
                "footage": _map(TEMPLATE_TEXT, "footage name or #id -> path"),
                "layers": _map(TEMPLATE_TEXT, "layer name -> new name"),
                "expressions": _map(TEMPLATE_TEXT, "literal -> new value"),
                "data": _map(data_value, "data-file footage name -> row"),
            }),
            "actions": _object({"encode": encode, "copy": _object({"to": PATH}, ["to"]), "notify": notify}),
        },
        "oneOf": [{"required": ["comp"]}, {"required": ["rqindex"]}],
    }


def _where(error: Any) -> str:
    path = "$"
    for part in error.absolute_path:
        if isinstance(part, int):
            path += f"[{part}]"
        else:
            path += f".{part}" if re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", part) else \
                f"[{json.dumps(part, ensure_ascii=False)}]"
    return path


def _message(error: Any) -> str:
    """One readable sentence for a jsonschema error (the schema's ``x-expected`` says what was expected)."""
    kind = error.validator
    schema = error.schema if isinstance(error.schema, dict) else {}
    got = json.dumps(error.instance, ensure_ascii=False)
    if len(got) > 60:
        got = got[:57] + "..."
    if kind == "required":
        return f"missing {error.message.split(' ', 1)[0]}"
    if kind == "additionalProperties":
        extra = sorted(set(error.instance) - set(schema.get("properties", {})))
        known = ", ".join(sorted(schema.get("properties", {})))
        return f"unknown key {extra[0]!r}" + (f" (expected one of: {known})" if known else "") if extra else \
            error.message
    if kind == "oneOf" and "comp" in schema.get("properties", {}):
        return "exactly one of comp or rqindex is needed, got " + ("both" if "comp" in error.instance else "neither")
    if kind == "anyOf" and "x-expected" not in schema:
        return "needs " + " or ".join(
            "/".join(sub["required"]) for sub in schema.get("anyOf", []) if "required" in sub)
    expected = schema.get("x-expected")
    if expected:
        return f"expected {expected}, got {got}"
    return error.message


def check_document(document: Any, where: str) -> None:
    """JobError (one line: ``FILE: $.json.path: what``) for the first schema error of ``document``."""
    from jsonschema import Draft202012Validator
    from jsonschema.exceptions import best_match

    validator = Draft202012Validator(job_schema())
    errors = list(validator.iter_errors(document))
    if not errors:
        return
    version = document.get("aefarm_job") if isinstance(document, dict) else None
    if isinstance(version, int) and not isinstance(version, bool) and version > VERSION:
        raise JobError(f"{where}: $.aefarm_job: written for a newer aefarm (job file version {version}); this one "
                       f"reads version {VERSION}")
    error = best_match(errors, key=lambda e: (len(e.absolute_path), e.validator not in ("anyOf", "oneOf")))
    raise JobError(f"{where}: {_where(error)}: {_message(error)}")


def load_document(path: str) -> Dict[str, Any]:
    """The job file as JSON, schema-checked; JobError for unreadable files, bad JSON or a schema error."""
    try:
        with open(path, "rb") as handle:
            raw = handle.read()
    except FileNotFoundError:
        raise JobError(f"job file not found: {path}") from None
    except OSError as exc:
        raise JobError(f"{path}: cannot be read: {exc.strerror or exc}") from None
    try:
        document = json.loads(raw.decode("utf-8-sig"))
    except UnicodeDecodeError as exc:
        raise JobError(f"{path}: not UTF-8 text (byte {exc.start})") from None
    except json.JSONDecodeError as exc:
        raise JobError(f"{path}: not JSON: {exc.msg} at line {exc.lineno} column {exc.colno}") from None
    check_document(document, path)
    return document
