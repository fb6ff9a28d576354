"""The byte edits that turn a template project into one variant: footage swapped, layer names set, expression string
literals replaced. Pure: the caller reads the project (``aeproject.reader``) and writes the edits
(``remap.splice``), so a variant differs from its template only in the replaced values (the byte-exact contract).

Where each value lives (docs/formats.md §1; ``aeproject.model`` gives every span):

- a footage item's ``<fileReference>``: ``fullpath`` is the new path; ``platform`` follows it (``Win`` for drive and
  UNC paths, else ``MacPOSIX``); ``target_is_folder`` says whether it names a folder (an image-sequence folder);
  ``ascendcount_base``/``ascendcount_target`` are After Effects' relative-path fallback, recomputed for where the
  variant project is written (``relative_location``) so a missing file can never fall back to the template's old
  footage; ``server_name``/``server_volume_name`` follow what the path itself says (``volume_names``). Attributes the
  template's tag does not carry are not added (that would change the markup, not a value).
- a layer's name: the ``<string>`` after its ``ldta`` (XML-escaped), and the name the ``ldta`` header repeats at bytes
  64..96 (windows-1252, at most 31 bytes, NUL-padded: ``aeproject.chunks.ldta``), rewritten in place in its hex
  (same length, so the binary chunk keeps its size).
- an expression (the ``<string>`` after a ``<cdat>``): each JavaScript string literal whose whole content equals a
  key is replaced (JavaScript-escaped inside XML-escaped, with the literal's own quote); nothing else of the
  expression changes. Hex ``<expr>`` chunks are never rewritten (their length is binary data).

The source settings After Effects caches for a footage item (``sspc``: format, size, duration; ``opti``: the file
name) are left as they are: After Effects reads the footage again when it opens the project. Whether it does so for
every format is not verified here (no After Effects on this machine); swap stills for stills and sequences for
sequences.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Callable, Dict, List, Mapping, Optional, Sequence, Set, Tuple

from aeproject.errors import ProjectError
from aeproject.model import Comp, FileRef, Footage, Layer, Project, Span
from remap.escaping import compose, js_escaper, js_units, xml_escaper, xml_units
from remap.paths import WINDOWS, ae_platform, parse_path
from remap.splice import ByteEdit
from remap.textpaths import js_string_literals

ReadRaw = Callable[[int, int], bytes]  # (start, end) -> the template's bytes there
LDTA_NAME = (64, 96)  # bytes of the ldta header holding the layer name (aeproject.chunks.ldta)
DATA_EXTENSIONS = (".json", ".mgjson", ".csv", ".tsv")  # data files After Effects imports as footage


class VariantError(ProjectError):
    """A replacement the template cannot take (one line naming it; exit 2)."""


@dataclass
class Change:
    """One replaced value: what (``footage 'photo.png'``), its old and new text (unescaped), the byte edits."""

    what: str
    old: str
    new: str
    edits: List[ByteEdit] = field(default_factory=list)

    def to_json(self) -> Dict[str, object]:
        return {"what": self.what, "old": self.old, "new": self.new,
                "bytes": [[e.start, e.end] for e in self.edits]}


# --------------------------------------------------------------------------------------------------- selection
def footage_key(item: Footage) -> str:
    return item.label


def find_footage(project: Project, key: str) -> Footage:
    """The file footage item named ``key`` (the name After Effects shows) or ``#ID`` (its item id)."""
    files = [f for f in project.footage if f.file is not None]
    if key.startswith("#") and key[1:].isdigit():
        found = [f for f in files if f.item_id == int(key[1:])]
    else:
        found = [f for f in files if f.label == key]
    if not found:
        names = ", ".join(sorted({repr(f.label) for f in files})) or "none"
        raise VariantError(f"footage {key!r} is not a file footage item of the template (it has: {names})")
    if len(found) > 1:
        ids = ", ".join(f"#{f.item_id}" for f in found)
        raise VariantError(f"footage {key!r} names {len(found)} items ({ids}): say which by id, e.g. "
                           f"{ids.split(',')[0]}")
    return found[0]


def find_layers(project: Project, name: str) -> List[Tuple[Comp, Layer]]:
    """Every layer named ``name`` in any comp (templates repeat a text layer across comps; all of them change)."""
    found = [(comp, layer) for comp in project.comps for layer in comp.layers if layer.name == name]
    if not found:
        raise VariantError(f"layer {name!r} is not in the template")
    bad = [comp.name for comp, layer in found if layer.name_span is None]
    if bad:
        raise VariantError(f"layer {name!r} in comp {bad[0]!r} has no name of its own in the template (give it a "
                           "name in After Effects)")
    return found


def is_data_file(item: Footage) -> bool:
    return item.file is not None and not item.file.is_folder and \
        item.file.path.lower().endswith(DATA_EXTENSIONS)


# --------------------------------------------------------------------------------------------------- footage
def relative_location(project_path: str, target: str) -> Tuple[int, int]:
    """(ascendcount_base, ascendcount_target) for ``target`` seen from the project file at ``project_path``.

    The documented reading (public readers of After Effects' alias data): climb ``base`` levels from the project
    file (1 reaches its folder), then follow the last ``target`` components of the full path. So base = 1 + levels
    from the project's folder up to the deepest folder both share, target = components of the path below it. Windows
    paths compare without case. Without a shared root (another drive, another OS's path) the values count up to the
    root: the fallback then names no other file. Whether After Effects adds one for folder targets is uncertain.
    """
    project = parse_path(project_path)
    goal = parse_path(target)
    folder = [c for c in project.components[:-1]] if project is not None else []
    parts = [c for c in goal.components] if goal is not None else [p for p in re.split(r"[\\/]", target) if p]
    parts = [p for i, p in enumerate(parts) if p or i == 0]
    folder = [p for i, p in enumerate(folder) if p or i == 0]
    same_family = project is not None and goal is not None and project.family == goal.family
    fold = (lambda s: s.lower()) if same_family and goal is not None and goal.family == WINDOWS else (lambda s: s)
    shared = 0
    if same_family:
        while shared < min(len(folder), len(parts) - 1) and fold(folder[shared]) == fold(parts[shared]):
            shared += 1
    return 1 + len(folder) - shared, len(parts) - shared


def volume_names(new_path: str, old_path: str, old_server: str, old_volume: str) -> Tuple[str, str]:
    """(server_name, server_volume_name) for ``new_path``: a UNC path's server and share; a macOS ``/Volumes/X``
    path's volume; the template's values when the new path is on the same drive or (POSIX) the same boot volume;
    else empty (After Effects writes empty names where it has none; a name it cannot know is not invented)."""
    new = parse_path(new_path)
    old = parse_path(old_path)
    if new is None:
        return "", ""
    comps = new.components
    if new.kind == "unc" and len(comps) > 3:
        return comps[2], comps[3]
    if new.family == WINDOWS:
        if old is not None and old.kind == "drive" and new.kind == "drive" and \
                old.components[0].lower() == comps[0].lower():
            return old_server, old_volume
        return "", ""
    if len(comps) > 2 and comps[1] == "Volumes":
        return "", comps[2]
    if old is not None and old.family != WINDOWS and not (len(old.components) > 2 and old.components[1] == "Volumes"):
        return old_server, old_volume
    return "", ""


def _quote_before(read: ReadRaw, span: Span) -> str:
    quote = read(span.start - 1, span.start).decode("ascii", "replace") if span.start > 0 else '"'
    return quote if quote in ("'", '"') else '"'


def _attr_edit(read: ReadRaw, span: Span, value: str) -> Optional[ByteEdit]:
    old = read(span.start, span.end)
    escape = xml_escaper(_quote_before(read, span))
    new = "".join(escape(c) for c in value).encode("utf-8")
    return None if new == old else ByteEdit(span.start, span.end, old, new)


def swap_footage(item: Footage, new_path: str, project_path: str, read: ReadRaw,
                 is_folder: Optional[bool] = None) -> Change:
    """The edits pointing footage ``item`` at ``new_path`` (an absolute path; ``is_folder``: None keeps the item's
    kind) for a variant project written at ``project_path``."""
    ref: Optional[FileRef] = item.file
    if ref is None:
        raise VariantError(f"footage {item.label!r} is a {item.kind}, not a file: it cannot be swapped")
    if parse_path(new_path) is None:
        raise VariantError(f"footage {item.label!r}: {new_path!r} is not an absolute path")
    folder = ref.is_folder if is_folder is None else is_folder
    attrs = ref.attributes
    values: Dict[str, str] = {"fullpath": new_path, "platform": ae_platform(new_path),
                              "target_is_folder": "1" if folder else "0"}
    base, target = relative_location(project_path, new_path)
    values["ascendcount_base"], values["ascendcount_target"] = str(base), str(target)
    server, volume = volume_names(new_path, ref.path, attrs.get("server_name", ("", Span(0, 0)))[0],
                                  attrs.get("server_volume_name", ("", Span(0, 0)))[0])
    values["server_name"], values["server_volume_name"] = server, volume
    spans = {name: span for name, (_, span) in attrs.items()}
    spans.setdefault("fullpath", ref.span)
    edits = [edit for name, value in values.items() if name in spans
             for edit in [_attr_edit(read, spans[name], value)] if edit is not None]
    return Change(f"footage {item.label!r} (#{item.item_id})", ref.path, new_path, edits)


# --------------------------------------------------------------------------------------------------- layers
def ldta_name_hex(name: str, upper: bool = False) -> str:
    """The 32 bytes the ldta header keeps of a layer name, as hex: windows-1252 (unknown characters as ``?``),
    cut at 31 bytes, NUL-padded."""
    data = name.encode("cp1252", "replace")[:LDTA_NAME[1] - LDTA_NAME[0] - 1]
    text = data.ljust(LDTA_NAME[1] - LDTA_NAME[0], b"\0").hex()
    return text.upper() if upper else text


def rename_layer(layer: Layer, new_name: str, read: ReadRaw, comp: str = "") -> Change:
    """The edits renaming ``layer``: its ``<string>`` name and the name in its ``ldta`` header."""
    if layer.name_span is None:
        raise VariantError(f"layer {layer.name!r} has no name of its own in the template")
    if re.search("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]", new_name):
        raise VariantError(f"layer {layer.name!r}: the new name holds a character XML cannot represent")
    span = layer.name_span
    edits: List[ByteEdit] = []
    old = read(span.start, span.end)
    escape = xml_escaper(None)
    new = "".join(escape(c) for c in new_name).encode("utf-8")
    if new != old:
        edits.append(ByteEdit(span.start, span.end, old, new))
    hx = layer.ldta_span
    if hx is not None and hx.end - hx.start >= 2 * LDTA_NAME[1]:
        a, b = hx.start + 2 * LDTA_NAME[0], hx.start + 2 * LDTA_NAME[1]
        old_hex = read(a, b)
        text = old_hex.decode("ascii", "replace")
        new_hex = ldta_name_hex(new_name, upper=text != text.lower()).encode("ascii")
        if new_hex != old_hex:
            edits.append(ByteEdit(a, b, old_hex, new_hex))
    where = f" in comp {comp!r}" if comp else ""
    return Change(f"layer {layer.name!r}{where}", layer.name, new_name, edits)


# --------------------------------------------------------------------------------------------------- expressions
def string_literals(raw: str) -> List[Tuple[int, int, str, str]]:
    """(byte start, byte end, quote, value) of each JavaScript string literal's content in an expression's raw
    (XML-escaped) ``<string>`` text; offsets count bytes of ``raw`` as UTF-8."""
    units = xml_units(raw)
    out: List[Tuple[int, int, str, str]] = []
    offsets = [0]
    for unit in units:
        offsets.append(offsets[-1] + len(unit[0].encode("utf-8")))
    for s, e, quote in js_string_literals(units):
        inner = js_units(units[s:e])
        out.append((offsets[s], offsets[e], quote, "".join(u[1] for u in inner)))
    return out


def replace_literals(raw: str, span: Span, values: Mapping[str, str], where: str) -> List[Change]:
    """One change per string literal of the expression at ``span`` whose whole value is a key of ``values``."""
    entity_quotes = ('"' if "&quot;" in raw else "") + ("'" if "&apos;" in raw else "")
    data = raw.encode("utf-8")
    changes: List[Change] = []
    for start, end, quote, value in string_literals(raw):
        if value not in values:
            continue
        new_value = values[value]
        escape = compose(js_escaper(quote, "\\/" in raw[start:end]), xml_escaper(None, entity_quotes))
        new = "".join(escape(c) for c in new_value).encode("utf-8")
        old = data[start:end]
        edits = [] if new == old else [ByteEdit(span.start + start, span.start + end, old, new)]
        changes.append(Change(f"expression literal {value!r} ({where})", value, new_value, edits))
    return changes


def expression_texts(project: Project, read: ReadRaw) -> List[Tuple[Comp, Layer, Span, str]]:
    """(comp, layer, span, raw text) of every expression ``<string>`` in the project."""
    out = []
    for comp in project.comps:
        for layer in comp.layers:
            for span in layer.expression_spans:
                out.append((comp, layer, span, read(span.start, span.end).decode("utf-8", "replace")))
    return out


# --------------------------------------------------------------------------------------------------- a variant
@dataclass(frozen=True)
class Swap:
    """Point footage ``key`` (name or ``#id``) at ``path``; ``is_folder`` None keeps the item's kind."""

    key: str
    path: str
    is_folder: Optional[bool] = None


def plan_variant(project: Project, read: ReadRaw, project_path: str, swaps: Sequence[Swap] = (),
                 layers: Optional[Mapping[str, str]] = None,
                 literals: Optional[Mapping[str, str]] = None) -> List[Change]:
    """Every change of one variant, for a variant project written at ``project_path``. VariantError when a key
    names nothing in the template (a footage item, a layer, a literal no expression holds)."""
    changes: List[Change] = []
    seen: Dict[int, str] = {}
    for swap in swaps:
        item = find_footage(project, swap.key)
        if item.item_id in seen:
            raise VariantError(f"footage {swap.key!r} is the item {seen[item.item_id]!r} names too: swap it once")
        seen[item.item_id] = swap.key
        changes.append(swap_footage(item, swap.path, project_path, read, swap.is_folder))
    for name, new_name in (layers or {}).items():
        for comp, layer in find_layers(project, name):
            changes.append(rename_layer(layer, new_name, read, comp.name))
    if literals:
        hit: Set[str] = set()
        for comp, layer, span, raw in expression_texts(project, read):
            found = replace_literals(raw, span, literals, f"layer {layer.name!r} in comp {comp.name!r}")
            hit.update(c.old for c in found)
            changes.extend(found)
        missing = [key for key in literals if key not in hit]
        if missing:
            raise VariantError(f"expression literal {missing[0]!r} is in no expression of the template")
    return changes


def variant_edits(changes: Sequence[Change]) -> List[ByteEdit]:
    return [edit for change in changes for edit in change.edits]
