"""One row -> one variant: its project (the template with the row's values, written byte-exactly), its data files,
and the names of everything it will write. Planning is pure (nothing is written until every row is planned);
``write_variant`` then writes the data files and the project, each atomically.

Where things go: a variant's project and data files in its own folder, ``<variants_dir>/<id>/`` (default: the
per-user work folder, ``variants/<job key>/<id>/``), never beside the template; its frames at ``output_dir/<output>``
and its movie at ``output_dir/<encode.name>``, both with row values made file-name safe and kept inside
``output_dir``. A data file keeps the template's data file name (expressions find it by that name,
``footage("data.json")``), in the variant's folder.
"""
from __future__ import annotations

import csv
import hashlib
import io
import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO, List, Optional, Tuple

from aefarm_common.atomic import atomic_write
from aefarm_common.userdirs import default_work_dir
from aeproject.model import Comp, Project
from aeproject.reader import read_project
from aeproject.variant import Change, Swap, VariantError, find_footage, plan_variant, variant_edits
from engines.aftereffects.jobs import names
from engines.aftereffects.jobs.errors import JobError
from engines.aftereffects.jobs.rows import Row
from engines.aftereffects.jobs.spec import JobSpec
from remap.paths import parse_path
from remap.splice import SpliceError, splice


class Template:
    """The template project, read once: its model, its SHA-256, the rendered comp, and raw reads of its bytes."""

    def __init__(self, spec: JobSpec) -> None:
        self.path = spec.template
        self.project: Project = read_project(self.path)
        digest = hashlib.sha256()
        with open(self.path, "rb") as handle:
            for block in iter(lambda: handle.read(1 << 20), b""):
                digest.update(block)
        self.sha256 = digest.hexdigest()
        self._handle: Optional[BinaryIO] = open(self.path, "rb")
        self.comp: Optional[Comp] = self._comp(spec)

    def _comp(self, spec: JobSpec) -> Optional[Comp]:
        if spec.comp is not None:
            found = self.project.comps_named(spec.comp)
            return found[0] if len(found) == 1 else None
        items = [i for i in self.project.render_queue if i.index == spec.rqindex]
        return self.project.queue_comp(items[0]) if items else None

    def read(self, start: int, end: int) -> bytes:
        assert self._handle is not None, "the template was closed"
        self._handle.seek(start)
        return self._handle.read(end - start)

    def close(self) -> None:
        if self._handle is not None:
            self._handle.close()
            self._handle = None


@dataclass
class Variant:
    """Everything one row makes: where its project and data files go, what it renders where, its changes."""

    row: Row
    folder: Path
    project: Path
    output: str
    movie: Optional[Path] = None
    copy_to: Optional[Path] = None
    notify_command: Optional[List[str]] = None
    changes: List[Change] = field(default_factory=list)
    data_files: List[Tuple[Path, bytes]] = field(default_factory=list)
    inputs: List[str] = field(default_factory=list)  # files the variant reads that the template does not
    fingerprint: str = ""

    @property
    def key(self) -> str:
        return self.row.key


def job_key(spec: JobSpec, template: Template) -> str:
    """A short name for this job's variants folder: the job file's path and the template's content."""
    return hashlib.sha256(f"{spec.path}\0{template.sha256}".encode("utf-8")).hexdigest()[:12]


def variants_root(spec: JobSpec, template: Template) -> Path:
    return spec.variants_dir or default_work_dir() / "variants" / job_key(spec, template)


def inside(root: Path, relative: str, where: str) -> Path:
    """``root/relative`` after checking it stays inside ``root``."""
    target = Path(os.path.normpath(os.path.join(str(root), relative)))
    if os.path.commonpath([str(root), str(target)]) != str(root):
        raise JobError(f"{where}: {relative!r} leaves {root}")
    return target


def _footage_path(value: str, row: Row, spec: JobSpec, where: str) -> Tuple[str, Optional[bool]]:
    text = value.strip()
    if not text:
        raise JobError(f"{where}: the row gives no path")
    if parse_path(text) is None:
        text = os.path.abspath(os.path.join(str(row.folder), os.path.expanduser(text)))
    mapped = spec.rules.map(text) if len(spec.rules) else None
    path = mapped if mapped is not None else text
    if os.path.isdir(path) or path.endswith(("/", "\\")):
        return path.rstrip("/\\") or path, True
    if not os.path.isfile(path) and not spec.options.get("continue_on_missing_footage"):
        raise JobError(f"{where}: {path}: not found")
    return path, False if os.path.isfile(path) else None


def _data_bytes(how: Any, row: Row, name: str, where: str) -> bytes:
    if how == "row":
        record: Any = dict(row.own)
    elif isinstance(how, list):
        missing = [f for f in how if f not in row.fields]
        if missing:
            raise JobError(f"{where}: the row has no field {missing[0]!r}")
        record = {f: row.fields[f] for f in how}
    else:
        def filled(value: Any) -> Any:
            if isinstance(value, str):
                return names.fill(value, row.fields, where)
            if isinstance(value, list):
                return [filled(v) for v in value]
            if isinstance(value, dict):
                return {k: filled(v) for k, v in value.items()}
            return value
        record = filled(how)
    if name.lower().endswith((".csv", ".tsv")):
        if not isinstance(record, dict):
            raise JobError(f"{where}: a CSV/TSV data file is written from fields, not {type(record).__name__}")
        buffer = io.StringIO(newline="")
        writer = csv.writer(buffer, delimiter="\t" if name.lower().endswith(".tsv") else ",", lineterminator="\r\n")
        writer.writerow(list(record))
        writer.writerow(["" if v is None else v for v in record.values()])
        return buffer.getvalue().encode("utf-8")
    return (json.dumps(record, ensure_ascii=False, indent=2) + "\n").encode("utf-8")


def plan_row(spec: JobSpec, template: Template, row: Row, root: Path) -> Variant:
    """The variant of ``row`` (nothing written). JobError naming the row for anything it cannot do."""
    tag = f"row {row.number} (id {row.id!r})"
    folder = inside(root, row.key, tag)
    project = folder / template.path.name
    output = inside(spec.output_dir, names.fill_name(spec.output, row.fields, f"{tag}: $.output"), tag)
    variant = Variant(row, folder, project, str(output))
    if spec.encode is not None:
        variant.movie = inside(spec.output_dir, names.fill_name(spec.encode.name, row.fields,
                                                                f"{tag}: $.actions.encode.name"), tag)
    if spec.copy_to is not None:
        safe = {k: names.safe_component(names.fill("{" + k + "}", row.fields)) for k in row.fields}
        text = names.fill(spec.copy_to, safe, f"{tag}: $.actions.copy.to")
        variant.copy_to = Path(os.path.abspath(os.path.join(str(spec.folder), os.path.expanduser(text))))
    if spec.notify is not None and spec.notify.command:
        variant.notify_command = [names.fill(arg, row.fields, f"{tag}: $.actions.notify.command")
                                  for arg in spec.notify.command]
    swaps: List[Swap] = []
    try:
        for key, value in spec.footage.items():
            where = f"{tag}: $.replace.footage[{key!r}]"
            path, is_folder = _footage_path(names.fill(value, row.fields, where), row, spec, where)
            swaps.append(Swap(key, path, is_folder))
            variant.inputs.append(path)
        for key, how in spec.data.items():
            where = f"{tag}: $.replace.data[{key!r}]"
            item = find_footage(template.project, key)
            assert item.file is not None
            name = item.file.path.replace("\\", "/").rstrip("/").rsplit("/", 1)[-1] or f"{item.item_id}.json"
            target = folder / name
            variant.data_files.append((target, _data_bytes(how, row, name, where)))
            swaps.append(Swap(key, str(target), False))
            variant.inputs.append(str(target))
        layers = {k: names.fill(v, row.fields, f"{tag}: $.replace.layers[{k!r}]") for k, v in spec.layers.items()}
        literals = {k: names.fill(v, row.fields, f"{tag}: $.replace.expressions[{k!r}]")
                    for k, v in spec.expressions.items()}
        variant.changes = plan_variant(template.project, template.read, str(project), swaps, layers, literals)
    except VariantError as exc:
        raise JobError(f"{tag}: {exc}") from None
    variant.fingerprint = fingerprint(spec, template, variant)
    return variant


def fingerprint(spec: JobSpec, template: Template, variant: Variant) -> str:
    """What a delivered variant must match to be skipped on a rerun: the template, the edits, the data files, the
    frames, outputs and actions (a changed row or job renders again)."""
    edits = [[e.start, e.end, e.new.hex()] for e in variant_edits(variant.changes)]
    data = [[str(p), hashlib.sha256(b).hexdigest()] for p, b in variant.data_files]
    encode = spec.encode
    audio = None
    if encode is not None and encode.audio is not None and encode.audio.is_file():
        st = encode.audio.stat()
        audio = [str(encode.audio), st.st_size, st.st_mtime_ns]
    doc = {"template": template.sha256, "edits": edits, "data": data, "frames": str(spec.frames),
           "output": variant.output, "comp": spec.comp, "rqindex": spec.rqindex,
           "encode": [encode.preset, str(variant.movie), encode.crf, audio] if encode is not None else None,
           "footage": sorted(variant.inputs)}
    return hashlib.sha256(json.dumps(doc, sort_keys=True).encode("utf-8")).hexdigest()


def write_variant(template: Template, variant: Variant) -> None:
    """Write the variant's data files, then its project (each atomically; the template is only read)."""
    try:
        variant.folder.mkdir(parents=True, exist_ok=True)
        for path, data in variant.data_files:
            with atomic_write(path) as out:
                out.write(data)
        with atomic_write(variant.project) as out, open(template.path, "rb") as src:
            splice(src, out, variant_edits(variant.changes), str(template.path))
    except SpliceError as exc:
        raise JobError(str(exc)) from None
    except OSError as exc:
        raise JobError(f"row {variant.row.number}: cannot write its variant in {variant.folder}: "
                       f"{exc.strerror or exc}") from None
