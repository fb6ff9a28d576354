"""What a template project offers a job file for replacement (``aefarm job offers``): footage items (by name and
id, data files apart), layer names (text layers whose Source Text reads the layer name marked), and the string
literals of expressions. Pure over the project model and the raw expression texts.
"""
from __future__ import annotations

import re
from typing import Any, Dict, List

from aeproject.model import Project
from aeproject.variant import ReadRaw, expression_texts, is_data_file, string_literals

# An expression that reads its own layer's name: `thisLayer.name`, `name` on its own, `this.name` (ES3 engine)
_READS_NAME = re.compile(r"(?:\bthisLayer\s*\.\s*name\b|\bthis\s*\.\s*name\b|(?<![.\w$])name\b(?!\s*[(:]))")
_DATA_READ = re.compile(r"""footage\s*\(\s*(["'])(.*?)\1\s*\)\s*\.\s*(?:sourceData|dataValue|dataKeyValue)""")


def reads_layer_name(expression: str) -> bool:
    """Does the expression use its layer's name (the template technique: Source Text = the layer name)?"""
    code = re.sub(r"""(["'])(?:\\.|(?!\1).)*\1""", '""', expression)  # names inside string literals do not count
    return bool(_READS_NAME.search(code))


def data_reads(expression: str) -> List[str]:
    """Footage names the expression reads as data (``footage("data.json").sourceData`` and the CSV/TSV forms)."""
    return [m.group(2) for m in _DATA_READ.finditer(expression)]


def template_offers(project: Project, read: ReadRaw) -> Dict[str, Any]:
    """{footage: [...], data: [...], layers: [...], literals: [...]} of ``project`` (see the module docstring)."""
    from remap.escaping import xml_units

    users: Dict[int, List[str]] = {}
    for comp in project.comps:
        for layer in comp.layers:
            if layer.source_id:
                users.setdefault(layer.source_id, []).append(f"{comp.name}/{layer.name}")
    expressions = expression_texts(project, read)
    decoded = [(comp, layer, "".join(u[1] for u in xml_units(raw)), raw) for comp, layer, _, raw in expressions]
    data_names = {name for _, _, text, _ in decoded for name in data_reads(text)}
    footage, data = [], []
    for item in project.footage:
        if item.file is None:
            continue
        entry = {"name": item.label, "id": item.item_id, "path": item.file.path, "folder": item.file.is_folder,
                 "used_by": users.get(item.item_id, [])}
        if is_data_file(item) or item.label in data_names:
            entry["read_by_expressions"] = item.label in data_names
            data.append(entry)
        else:
            footage.append(entry)
    layers = []
    for comp in project.comps:
        for layer in comp.layers:
            if layer.name_span is None:
                continue
            texts = [text for c, lay, text, _ in decoded if c is comp and lay is layer]
            layers.append({"comp": comp.name, "name": layer.name, "text": layer.is_text,
                           "source_text_reads_name": any(reads_layer_name(t) for t in texts)})
    places: Dict[str, List[str]] = {}
    for comp, layer, _, raw in decoded:
        for _, _, _, value in string_literals(raw):
            where = places.setdefault(value, [])
            place = f"{comp.name}/{layer.name}"
            if place not in where:
                where.append(place)
    literals = [{"value": value, "where": where} for value, where in sorted(places.items())]
    return {"project": project.path, "footage": footage, "data": data, "layers": layers, "literals": literals}


def offers_lines(offers: Dict[str, Any]) -> List[str]:
    """``template_offers`` as text lines."""
    lines = [f"template {offers['project']}"]
    lines.append(f"footage ({len(offers['footage'])}): replace.footage {{NAME or #ID: PATH}}")
    for f in offers["footage"]:
        used = f"  used by {', '.join(f['used_by'])}" if f["used_by"] else ""
        lines.append(f"  {f['name']!r}  #{f['id']}  {f['path']}{'  (folder)' if f['folder'] else ''}{used}")
    lines.append(f"data files ({len(offers['data'])}): replace.data {{NAME: \"row\" | [FIELDS] | {{...}}}}")
    for f in offers["data"]:
        read = "  read by expressions" if f.get("read_by_expressions") else ""
        lines.append(f"  {f['name']!r}  #{f['id']}  {f['path']}{read}")
    lines.append(f"layers ({len(offers['layers'])}): replace.layers {{NAME: NEW NAME}}")
    for layer in offers["layers"]:
        mark = "  text: Source Text reads the layer name" if layer["source_text_reads_name"] else (
            "  text" if layer["text"] else "")
        lines.append(f"  {layer['name']!r} in {layer['comp']!r}{mark}")
    lines.append(f"expression literals ({len(offers['literals'])}): replace.expressions {{LITERAL: VALUE}}")
    for lit in offers["literals"]:
        lines.append(f"  {lit['value']!r}  in {', '.join(lit['where'])}")
    return lines
