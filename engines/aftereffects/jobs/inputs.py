"""What a template job needs on a farm node, for the submitters (Deadline asset references, accsyn dependencies).

- ``job_references``: the template's own references (``remap.scan``) minus the footage every variant swaps, plus the
  footage the rows swap in (each a file, a sequence folder, or a frame of an image sequence: the submitters bring
  the whole sequence), as the scan's reference objects (kind, raw, exists).
- ``job_files``: the files the job itself reads: the job file, the template, the rows file, the audio file, rule
  files, the fonts folder. A data file a row is written as is made on the node from the rows file (which travels);
  a data file given as a path in the rows is swapped footage, so it travels too.
- ``portable_document``: the job file with every path absolute (as resolved here), for a node whose working folder
  is elsewhere: its paths are then mapped there with the node's path-mapping rules (``aefarm job run --rules``).
"""
from __future__ import annotations

import os
from typing import Any, Dict, List, NamedTuple, Tuple

from aeproject.variant import find_footage
from engines.aftereffects.jobs.spec import JobSpec
from engines.aftereffects.option_record import PATH, PROGRAM
from engines.aftereffects.options import BY_NAME


class Reference(NamedTuple):
    """The shape of ``remap.scan``'s references the submitters read."""

    kind: str
    raw: str
    exists: bool


def job_references(checked: Any) -> Tuple[List[Any], List[str]]:
    """(references, warnings) of a checked job (``batch.Checked``): see the module docstring."""
    from remap.errors import RemapError
    from remap.scan import scan

    spec: JobSpec = checked.spec
    warnings: List[str] = []
    replaced = set()
    for key in list(spec.footage) + list(spec.data):
        item = find_footage(checked.template.project, key)
        if item.file is not None:
            replaced.add(item.file.path)
    try:
        template_refs = [r for r in scan(spec.template) if not (r.kind in ("footage", "sequence")
                                                                and r.raw in replaced)]
    except RemapError as exc:
        template_refs, warnings = [], [f"the template's footage is not listed: {' '.join(str(exc).split())}"]
    generated = {str(path) for variant, _ in checked.variants for path, _ in variant.data_files}
    refs: List[Any] = list(template_refs)
    seen = {r.raw for r in refs}
    for variant, _ in checked.variants:
        for path in variant.inputs:
            if path in generated or path in seen:
                continue
            seen.add(path)
            folder = os.path.isdir(path)
            refs.append(Reference("sequence" if folder else "footage", path, folder or os.path.isfile(path)))
    return refs, warnings


def job_files(spec: JobSpec) -> List[str]:
    """The files the job itself reads (module docstring), existing ones only, in a stable order."""
    out = [str(spec.path), str(spec.template)]
    if spec.rows_file is not None:
        out.append(str(spec.rows_file))
    if spec.encode is not None and spec.encode.audio is not None:
        out.append(str(spec.encode.audio))
    rules = spec.document.get("rules", {})
    for key in ("openjd_rules", "accsyn_mappings", "shares"):
        if rules.get(key):
            out.append(os.path.abspath(os.path.join(str(spec.folder), rules[key])))
    return [p for i, p in enumerate(out) if p not in out[:i]]


def portable_document(spec: JobSpec) -> Dict[str, Any]:
    """The job file's document with every path absolute (``variants_dir`` dropped: the node chooses)."""
    doc = dict(spec.document)
    doc["template"] = str(spec.template)
    doc["output_dir"] = str(spec.output_dir)
    doc.pop("variants_dir", None)
    if spec.rows_file is not None:
        doc["rows"] = str(spec.rows_file)
    doc["rows_folder"] = str(spec.rows_folder or (spec.rows_file.parent if spec.rows_file is not None
                                                  else spec.folder))
    if spec.fonts is not None:
        doc["fonts"] = str(spec.fonts)
    options = dict(doc.get("options", {}))
    for name, value in options.items():
        option = BY_NAME.get(name)
        if option is not None and isinstance(value, str) and (
                option.kind == PATH or (option.kind == PROGRAM and any(s in value for s in "/\\"))):
            options[name] = str(spec.options.get(name, value))
    if options:
        doc["options"] = options
    rules = dict(doc.get("rules", {}))
    for key in ("openjd_rules", "accsyn_mappings", "shares"):
        if rules.get(key):
            rules[key] = os.path.abspath(os.path.join(str(spec.folder), rules[key]))
    if rules:
        doc["rules"] = rules
    actions = {k: dict(v) for k, v in doc.get("actions", {}).items()}
    if spec.encode is not None and spec.encode.audio is not None and "encode" in actions:
        actions["encode"]["audio"] = str(spec.encode.audio)
    if "copy" in actions and not os.path.isabs(actions["copy"]["to"]):
        actions["copy"]["to"] = os.path.join(str(spec.folder), actions["copy"]["to"])
    if actions:
        doc["actions"] = actions
    return doc
