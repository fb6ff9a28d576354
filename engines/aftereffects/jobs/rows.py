"""A batch's rows: one variant each, read from a CSV/TSV/JSON file or the job file's own list.

- CSV (``.csv``) and TSV (``.tsv``/``.tab``): UTF-8 (a BOM is allowed), a header line naming the fields, one row per
  line; every value is text. Blank lines are skipped; a line with more values than the header is an error.
- JSON (``.json``): a list of objects, or an object with a ``rows`` list; values keep their JSON types.

Each row gets two fields of its own: ``row`` (its 1-based number in the file) and ``id``: the ``id_field``'s value
when the job names one, else the row's own ``id`` field when it has one, else the row number. Ids must be unique
once made file-name safe (outputs are named from them), and a row may not bring its own ``row`` field.
"""
from __future__ import annotations

import csv
import io
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence

from engines.aftereffects.jobs.errors import JobError
from engines.aftereffects.jobs.names import safe_component

MAX_ROWS = 100_000


@dataclass(frozen=True)
class Row:
    """One variant's data: ``number`` (1-based), ``id`` (text), ``fields`` (the row's own, plus ``row`` and
    ``id``), ``own`` (the row exactly as read: what a data file is written from), and the folder relative footage
    paths in it count from."""

    number: int
    id: str
    fields: Dict[str, Any]
    folder: Path
    own: Dict[str, Any]

    @property
    def key(self) -> str:
        """The id as a file-name component (the variant's folder and record are named from it)."""
        return safe_component(self.id)


def _read_text(path: Path) -> str:
    try:
        return path.read_bytes().decode("utf-8-sig")
    except FileNotFoundError:
        raise JobError(f"rows file not found: {path}") from None
    except UnicodeDecodeError as exc:
        raise JobError(f"{path}: not UTF-8 text (byte {exc.start})") from None
    except OSError as exc:
        raise JobError(f"{path}: cannot be read: {exc.strerror or exc}") from None


def read_table(path: Path) -> List[Dict[str, Any]]:
    """The rows of a CSV/TSV/JSON file as dicts (see the module docstring)."""
    text = _read_text(path)
    suffix = path.suffix.lower()
    if suffix == ".json":
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise JobError(f"{path}: not JSON: {exc.msg} at line {exc.lineno} column {exc.colno}") from None
        if isinstance(data, dict) and isinstance(data.get("rows"), list):
            data = data["rows"]
        if not isinstance(data, list) or not all(isinstance(r, dict) for r in data):
            raise JobError(f"{path}: expected a list of objects (or an object with a \"rows\" list)")
        return list(data)
    if suffix not in (".csv", ".tsv", ".tab"):
        raise JobError(f"{path}: rows must be a .csv, .tsv or .json file")
    reader = csv.reader(io.StringIO(text, newline=""), delimiter="\t" if suffix in (".tsv", ".tab") else ",")
    try:
        lines = [line for line in reader if any(cell.strip() for cell in line)]
    except csv.Error as exc:
        raise JobError(f"{path}: line {reader.line_num}: {exc}") from None
    if not lines:
        raise JobError(f"{path}: no header line")
    header = [h.strip() for h in lines[0]]
    if any(not h for h in header) or len(set(header)) != len(header):
        raise JobError(f"{path}: the header line needs unique, non-empty field names, got {header}")
    rows = []
    for number, line in enumerate(lines[1:], 2):
        if len(line) > len(header):
            raise JobError(f"{path}: line {number} has {len(line)} values, the header names {len(header)}")
        rows.append({h: (line[i] if i < len(line) else "") for i, h in enumerate(header)})
    return rows


def make_rows(records: Sequence[Dict[str, Any]], folder: Path, id_field: Optional[str], where: str) -> List[Row]:
    """Rows with their ids (see the module docstring); JobError for an empty batch, a missing id or a duplicate."""
    if not records:
        raise JobError(f"{where}: the batch has no rows")
    if len(records) > MAX_ROWS:
        raise JobError(f"{where}: {len(records)} rows is more than one job takes (at most {MAX_ROWS}); split it")
    rows: List[Row] = []
    seen: Dict[str, int] = {}
    for number, record in enumerate(records, 1):
        if "row" in record:
            raise JobError(f"{where}: row {number}: the field name 'row' is aefarm's own (the row number); "
                           "rename that column")
        key = id_field or ("id" if "id" in record else None)
        if id_field and id_field not in record:
            raise JobError(f"{where}: row {number} has no {id_field!r} field (id_field)")
        ident = record[key] if key else number
        text = ident if isinstance(ident, str) else json.dumps(ident)
        if not str(text).strip():
            raise JobError(f"{where}: row {number}: its id ({key}) is empty")
        fields = dict(record)
        fields["row"], fields["id"] = number, str(text)
        row = Row(number, str(text), fields, folder, dict(record))
        if row.key in seen:
            raise JobError(f"{where}: rows {seen[row.key]} and {number} have the same id {row.key!r} (outputs would "
                           "collide)")
        seen[row.key] = number
        rows.append(row)
    return rows


def single_row(folder: Path) -> List[Row]:
    """The one variant of a job without rows: id ``1``, no fields of its own."""
    return [Row(1, "1", {"row": 1, "id": "1"}, folder, {})]
