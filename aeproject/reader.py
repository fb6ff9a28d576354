"""``read_project``: one streaming pass over an .aepx into ``aeproject.model.Project``.

Where things sit (docs/formats.md §1; the binary layouts are in ``aeproject.chunks``):

- items: ``Fold > Item`` (folders nest: ``Item > Sfdr > Item``); ``idta`` says the type and id, the item's first
  ``<string>`` its name; comps carry ``cdta`` and ``Layr`` layers (``ldta`` + a ``<string>`` name; a text layer
  holds ``btdk``); footage carries ``Pin`` with ``sspc``, ``Als2 > fileReference`` and ``opti``;
- expressions: the ``<string>`` right after a ``<cdat>`` inside ``tdbs``;
- render queue (py_aep ``parsers/render_queue.py``): ``LRdr > list`` holds ``lhd3`` (item count and size) and one
  ``ldat`` of every item's render settings; ``LRdr > Rout`` the Render checkboxes; ``LRdr > LItm`` holds, per item,
  an optional ``RCom`` comment, a ``list`` (output-module settings) and an ``LOm`` whose output modules each start at
  a ``Roou`` and end with two ``<string>``\\ s: the format name and the file-name template, after the output folder
  in ``Als2 > fileReference`` (absent until an output file is set).
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, List, Optional, Tuple, Union

from aeproject import chunks, cos
from aeproject.errors import ProjectError
from aeproject.model import Comp, FileRef, Footage, Layer, OutputModule, Project, RenderQueueItem, Span
from aeproject.xmlstream import START, TEXT, Event, Scanner

KEEP = ("head", "idta", "cdta", "ldta", "sspc", "opti", "fileReference", "Roou", "Rout", "btdk")
QUEUE_KEEP = ("lhd3", "ldat")  # kept inside LRdr only (elsewhere they are keyframes: bulky and not needed)
_STARTS = frozenset({"Item", "Layr", "idta", "cdta", "sspc", "opti", "fileReference", "ldta", "btdk", "head", "lhd3",
                     "ldat", "Rout", "list", "LOm", "Roou", "LRdr"})
_ENDS = frozenset({"Layr", "Item", "LOm", "LRdr"})

AEP_MESSAGE = ("is a binary After Effects project (.aep): only its footage paths can be found in it (aefarm remap "
               "reads those); comps, the render queue, output modules and fonts need the XML form: save it as .aepx "
               "(File > Save As > Save a Copy As XML) and use that")


@dataclass
class _Item:
    depth: int
    folder: str
    header: Optional[chunks.ItemHeader] = None
    name: Optional[str] = None
    name_span: Optional[Span] = None
    comp: Optional[chunks.CompSettings] = None
    file: Optional[FileRef] = None
    source: Optional[chunks.SourceSettings] = None
    options: Optional[chunks.SourceOptions] = None
    layers: List[Layer] = field(default_factory=list)


@dataclass
class _Entry:
    comment: str = ""
    has_lom: bool = False
    modules: List[OutputModule] = field(default_factory=list)
    strings: List[List[str]] = field(default_factory=list)


def _bdata(ev: Event) -> Optional[bytes]:
    value = ev.attrs.get("bdata") if ev.attrs else None
    return chunks.hex_bytes(value.value if value is not None else None)


class _Reader:
    def __init__(self, scanner: Scanner, path: str) -> None:
        self.scanner = scanner
        self.project = Project(path=path)
        self.items: List[_Item] = []
        self.layer: Optional[Layer] = None
        self.layer_depth = -1
        self.settings_header: Optional[chunks.ListHeader] = None
        self.settings_data = b""
        self.flags: List[bool] = []
        self.entries: List[_Entry] = []
        self.comment = ""  # an RCom comment, waiting for the item it precedes
        self.fonts: Dict[str, List[str]] = {}
        self.in_lom = False

    def parent(self, ev: Event, up: int = 1) -> str:
        at = ev.depth - up
        return self.scanner.stack[at] if at >= 0 else ""

    def item(self, ev: Event) -> Optional[_Item]:
        """The item ``ev`` is a direct part of (its parent element is that Item)."""
        if self.items and self.items[-1].depth == ev.depth - 1:
            return self.items[-1]
        return None

    def run(self) -> Project:
        for ev in self.scanner.events():
            kind = ev.kind
            if kind == START:
                if ev.name in _STARTS:
                    self.start(ev)
            elif kind == TEXT:
                self.text(ev)
            elif ev.name in _ENDS:
                self.end(ev)
        self.project.notes.extend(self.scanner.notes)
        return self.project

    # -- events ----------------------------------------------------------------------------------------------
    def start(self, ev: Event) -> None:
        name = ev.name
        parent = self.parent(ev)
        if name == "Item":
            folders = [i.name or "" for i in self.items if i.header and i.header.item_type == chunks.ITEM_FOLDER]
            self.items.append(_Item(ev.depth, "/".join(folders)))
        elif name == "Layr" and parent == "Item":
            self.layer, self.layer_depth = Layer(layer_id=0, name=""), ev.depth
        elif name in ("idta", "cdta") and parent == "Item":
            current = self.item(ev)
            data = _bdata(ev)
            if current is not None and data is not None:
                if name == "idta":
                    current.header = chunks.idta(data)
                else:
                    current.comp = chunks.cdta(data)
        elif name in ("sspc", "opti") and parent == "Pin" and len(self.items):
            data = _bdata(ev)
            if data is not None:
                if name == "sspc":
                    self.items[-1].source = chunks.sspc(data)
                else:
                    self.items[-1].options = chunks.opti(data)
        elif name == "fileReference" and parent == "Als2":
            self.file_reference(ev)
        elif name == "ldta" and parent == "Layr" and self.layer is not None:
            header = chunks.ldta(_bdata(ev) or b"")
            bdata = ev.attrs.get("bdata") if ev.attrs else None
            if bdata is not None:
                self.layer.ldta_span = Span(bdata.start, bdata.end)
            if header is not None:
                self.layer.layer_id, self.layer.source_id = header.layer_id, header.source_id
                self.layer.name = self.layer.name or header.short_name
        elif name == "btdk" and self.layer is not None:
            self.layer.is_text = True
            value = ev.attrs.get("bdata") if ev.attrs else None
            key = value.value if value is not None else ""
            fonts = self.fonts.get(key)
            if fonts is None:  # text layers of one template often carry the same data: read it once
                fonts = self.fonts[key] = cos.fonts_used(chunks.hex_bytes(key) or b"")
            for font in fonts:
                if font not in self.layer.fonts:
                    self.layer.fonts.append(font)
        elif name == "head" and ev.depth == 1:
            self.project.version = chunks.head(_bdata(ev) or b"")
        elif name in ("lhd3", "ldat") and parent == "list" and self.parent(ev, 2) == "LRdr":
            data = _bdata(ev) or b""
            if name == "lhd3":
                self.settings_header = chunks.lhd3(data)
            else:
                self.settings_data = data
        elif name == "LRdr":
            self.scanner.keep.update(QUEUE_KEEP)
        elif name == "Rout" and parent == "LRdr":
            self.flags = chunks.rout(_bdata(ev) or b"")
        elif name == "list" and parent == "LItm":
            self.entries.append(_Entry(comment=self.comment))
            self.comment = ""
        elif name == "LOm" and parent == "LItm":
            if not self.entries or self.entries[-1].has_lom:
                self.entries.append(_Entry(comment=self.comment))  # an LOm without its settings list
                self.comment = ""
            self.entries[-1].has_lom = True
            self.in_lom = True
        elif name == "Roou" and parent == "LOm" and self.entries:
            entry = self.entries[-1]
            options = chunks.roou(_bdata(ev) or b"")
            entry.modules.append(OutputModule(index=len(entry.modules) + 1,
                                              format_id=options.format_id if options else ""))
            entry.strings.append([])

    def text(self, ev: Event) -> None:
        parent = self.parent(ev)
        text = ev.text or ""
        if parent == "Item":
            current = self.item(ev)
            if current is not None and current.name is None:
                current.name, current.name_span = text, Span(ev.start, ev.end)
        elif parent == "Layr" and self.layer is not None and ev.depth - 1 == self.layer_depth:
            if self.layer.name_span is None:
                self.layer.name, self.layer.name_span = text, Span(ev.start, ev.end)
        elif parent == "tdbs" and self.layer is not None and self.scanner.prev[ev.depth - 1] == "cdat":
            self.layer.expression_spans.append(Span(ev.start, ev.end))
        elif parent == "LOm" and self.entries:
            entry = self.entries[-1]
            if not entry.strings:
                entry.modules.append(OutputModule(index=1))
                entry.strings.append([])
            entry.strings[-1].append(text)
        elif parent == "RCom":
            self.comment = text

    def end(self, ev: Event) -> None:
        name = ev.name
        if name == "Layr" and self.layer is not None and ev.depth == self.layer_depth:
            current = self.items[-1] if self.items else None
            if current is not None:
                current.layers.append(self.layer)
            self.layer, self.layer_depth = None, -1
        elif name == "Item" and self.items and self.items[-1].depth == ev.depth:
            self.finish_item(self.items.pop())
        elif name == "LOm" and self.in_lom:
            self.in_lom = False
            entry = self.entries[-1]
            for module, strings in zip(entry.modules, entry.strings):
                if len(strings) >= 2:  # the last two: format name, file-name template (py_aep output_module.py)
                    module.format, module.file_template = strings[-2], strings[-1]
                elif strings:
                    module.file_template = strings[-1]
        elif name == "LRdr":
            self.scanner.keep.difference_update(QUEUE_KEEP)
            self.finish_queue()

    # -- pieces ----------------------------------------------------------------------------------------------
    def file_reference(self, ev: Event) -> None:
        attrs = ev.attrs or {}
        path = attrs.get("fullpath")
        if path is None:
            return
        ref = FileRef(path.value, attrs["platform"].value if "platform" in attrs else "",
                      attrs["target_is_folder"].value == "1" if "target_is_folder" in attrs else False,
                      Span(path.start, path.end),
                      {key: (attr.value, Span(attr.start, attr.end)) for key, attr in attrs.items()})
        owner = self.parent(ev, 2)
        if owner == "Pin" and self.items:
            self.items[-1].file = ref
        elif owner == "LOm" and self.entries and self.entries[-1].modules:
            self.entries[-1].modules[-1].folder = ref

    def finish_item(self, item: _Item) -> None:
        header = item.header
        if header is None:
            self.project.notes.append(f"an item named {item.name!r} has no idta chunk: skipped")
            return
        name = item.name or ""
        if header.item_type == chunks.ITEM_COMP:
            self.project.comps.append(self.comp(item, name))
        elif header.item_type == chunks.ITEM_FOLDER:
            self.project.folders.append("/".join(filter(None, [item.folder, name])))
        elif header.item_type == chunks.ITEM_FOOTAGE:
            if item.file is not None:
                kind = "folder" if item.file.is_folder else "file"
            elif item.options is not None and item.options.kind == "Soli":
                kind = "solid"
            elif item.options is not None and item.options.number == 2:
                kind = "placeholder"
            else:
                kind = "other"
            if not name and item.options is not None and kind in ("solid", "placeholder"):
                name = item.options.name
            source = item.source
            self.project.footage.append(Footage(
                item_id=header.item_id, name=name, kind=kind, file=item.file, name_span=item.name_span,
                source_format=source.format if source else "", width=source.width if source else 0,
                height=source.height if source else 0, still=source.still if source else None,
                folder=item.folder))

    def comp(self, item: _Item, name: str) -> Comp:
        header = item.header
        assert header is not None
        settings = item.comp
        if settings is None:
            self.project.notes.append(f"comp {name!r}: no readable cdta chunk; size, rate and duration unknown")
            return Comp(header.item_id, name, item.name_span, 0, 0, 0.0, 0, 0, None, folder=item.folder,
                        layers=item.layers)
        start = settings.frames(settings.display_start)
        duration = settings.frames(settings.duration)
        wa_first = start + settings.frames(settings.work_area_start)
        wa_last = start + (settings.frames(settings.work_area_end) if settings.work_area_end is not None
                           else duration) - 1
        return Comp(header.item_id, name, item.name_span, settings.width, settings.height, settings.frame_rate,
                    duration, start, (wa_first, max(wa_first, wa_last)), settings.pixel_aspect, item.folder,
                    item.layers)

    def finish_queue(self) -> None:
        header = self.settings_header
        settings = chunks.split_items(self.settings_data, header)
        count = header.item_count if header is not None else len(self.entries)
        if header is not None and header.item_count and header.item_size != chunks.RENDER_SETTINGS_SIZE:
            self.project.notes.append(
                f"render-queue settings are {header.item_size}-byte items (a layout this reader does not know: "
                f"{chunks.RENDER_SETTINGS_SIZE} bytes): comps, status and time spans of queue items are unknown")
        if len(self.entries) != count:
            self.project.notes.append(f"the render queue says {count} items but lists output modules for "
                                      f"{len(self.entries)}")
        for k in range(max(count, len(self.entries))):
            item = RenderQueueItem(index=k + 1)
            if k < len(self.entries):
                item.comment = self.entries[k].comment
                item.output_modules = self.entries[k].modules
            if k < len(self.flags):
                item.render_flag = self.flags[k]
            decoded = chunks.render_settings(settings[k]) if k < len(settings) else None
            if decoded is not None:
                item.comp_id, item.status, item.settings = decoded.comp_id, decoded.status, decoded.template
                item.start_frame, item.duration_frames = self.time_span(decoded)
            self.project.render_queue.append(item)

    def time_span(self, rs: chunks.RenderSettings) -> Tuple[Optional[int], Optional[int]]:
        """(first comp frame, frame count) the item renders; a length-of-comp span is the comp's whole duration
        (py_aep ``resolve_time_span``)."""
        comp = self.project.comp_by_id(rs.comp_id)
        if comp is None or not comp.frame_rate:
            return None, None
        if rs.time_span_source == 0 or rs.start is None or rs.duration is None:
            return comp.display_start_frame, comp.duration_frames
        rate = comp.frame_rate
        return comp.display_start_frame + int(round(rs.start * rate)), int(round(rs.duration * rate))


def project_kind(path: Union[str, Path]) -> str:
    """``aep``, ``aepx`` or ``text`` by content (``remap.convert.detect_kind``); ProjectError when unreadable."""
    from remap.convert import detect_kind, not_a_file_reason

    target = Path(path)
    if not target.is_file():
        raise ProjectError(f"{target}: {not_a_file_reason(target)}")
    try:
        with open(target, "rb") as handle:
            head = handle.read(65536)
    except OSError as exc:
        raise ProjectError(f"{target}: cannot be read: {exc.strerror or exc}") from None
    return detect_kind(head)


def read_project(path: Union[str, Path]) -> Project:
    """The project model of the .aepx at ``path``. Raises ProjectError (one line, exit 2) for a missing file, a
    binary .aep, a file that is not an After Effects XML project, or XML this reader refuses."""
    kind = project_kind(path)
    where = os.fspath(path)
    if kind == "aep":
        raise ProjectError(f"{where} {AEP_MESSAGE}")
    if kind != "aepx":
        from remap.aepx_check import check_head
        from remap.errors import RemapError

        with open(where, "rb") as handle:
            head = handle.read(4096)
        try:
            check_head(head, where)  # names a UTF-16 or wrongly declared encoding
        except RemapError as exc:
            raise ProjectError(str(exc)) from None
        raise ProjectError(f"{where}: not an After Effects project (no <AfterEffectsProject> root element)")
    try:
        with open(where, "rb") as handle:
            return _Reader(Scanner(handle, where, KEEP), where).run()
    except OSError as exc:
        raise ProjectError(f"{where}: cannot be read: {exc.strerror or exc}") from None
