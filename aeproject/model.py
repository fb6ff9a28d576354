"""The plain data an .aepx holds, as ``aeproject.reader`` reads it: comps, layers, footage, the render queue, fonts.

Frames are comp frames as After Effects shows them: ``display_start_frame`` (the comp's Start Frame) plus whole
frames at the comp's rate. Every ``Span`` is a byte range ``[start, end)`` of the file holding a value's raw
(XML-escaped) text, so a byte-exact writer (remap) can replace exactly that value: item names, layer names,
footage ``fullpath`` attributes and expression strings all carry one.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional, Tuple

from aeproject.chunks import STATUS_NAMES, Version


@dataclass(frozen=True)
class Span:
    start: int
    end: int

    def to_json(self) -> List[int]:
        return [self.start, self.end]


@dataclass(frozen=True)
class FileRef:
    """A ``<fileReference>``: ``path`` as written (unescaped), ``platform`` (``Win``/``MacPOSIX``), whether it names a
    folder, and the span of its ``fullpath`` value. ``attributes`` holds every attribute as (unescaped value, span of
    its raw value), so a writer can keep ``platform``, ``target_is_folder``, ``ascendcount_*`` and ``server_*``
    consistent with a new path (docs/formats.md §1)."""

    path: str
    platform: str
    is_folder: bool
    span: Span
    attributes: Dict[str, Tuple[str, Span]] = field(default_factory=dict, compare=False, hash=False)


@dataclass
class Layer:
    """A comp layer (``Layr``): its id, name, the item it shows (``source_id``, 0 for text/shape/camera/light
    layers), the fonts of a text layer, and the spans of its name, of its expressions' ``<string>`` texts and of its
    ``ldta`` header's hex value (which repeats the name, cut to 31 characters: ``aeproject.chunks.ldta``)."""

    layer_id: int
    name: str
    source_id: int = 0
    name_span: Optional[Span] = None
    is_text: bool = False
    fonts: List[str] = field(default_factory=list)
    expression_spans: List[Span] = field(default_factory=list)
    ldta_span: Optional[Span] = None

    def to_json(self) -> Dict[str, Any]:
        return {"id": self.layer_id, "name": self.name, "source_id": self.source_id or None,
                "text": self.is_text, "fonts": list(self.fonts),
                "name_span": self.name_span.to_json() if self.name_span else None,
                "expressions": len(self.expression_spans)}


@dataclass
class Comp:
    """A composition item. Times in frames at ``frame_rate``; ``work_area`` is ``(first, last)`` in comp frames."""

    item_id: int
    name: str
    name_span: Optional[Span]
    width: int
    height: int
    frame_rate: float
    duration_frames: int
    display_start_frame: int
    work_area: Optional[tuple]
    pixel_aspect: float = 1.0
    folder: str = ""
    layers: List[Layer] = field(default_factory=list)

    @property
    def first_frame(self) -> int:
        return self.display_start_frame

    @property
    def last_frame(self) -> int:
        return self.display_start_frame + max(0, self.duration_frames - 1)

    def to_json(self) -> Dict[str, Any]:
        return {"name": self.name, "id": self.item_id, "width": self.width, "height": self.height,
                "frame_rate": round(self.frame_rate, 6), "duration_frames": self.duration_frames,
                "frames": [self.first_frame, self.last_frame],
                "work_area": list(self.work_area) if self.work_area else None,
                "pixel_aspect": round(self.pixel_aspect, 6), "folder": self.folder,
                "name_span": self.name_span.to_json() if self.name_span else None,
                "layers": [layer.to_json() for layer in self.layers]}


@dataclass
class Footage:
    """A footage item. ``kind``: ``file``, ``folder`` (a folder reference, e.g. an image-sequence folder), ``solid``,
    ``placeholder`` or ``other``. ``still`` is None when the source settings could not be read."""

    item_id: int
    name: str
    kind: str
    file: Optional[FileRef] = None
    name_span: Optional[Span] = None
    source_format: str = ""
    width: int = 0
    height: int = 0
    still: Optional[bool] = None
    folder: str = ""

    @property
    def path(self) -> Optional[str]:
        return self.file.path if self.file is not None else None

    @property
    def label(self) -> str:
        """The name After Effects shows: the item name, else the file name, else the solid's name."""
        if self.name:
            return self.name
        if self.file is not None:
            return self.file.path.replace("\\", "/").rstrip("/").rsplit("/", 1)[-1]
        return ""

    def to_json(self) -> Dict[str, Any]:
        return {"id": self.item_id, "name": self.label, "kind": self.kind, "path": self.path,
                "platform": self.file.platform if self.file else None, "format": self.source_format or None,
                "still": self.still, "folder": self.folder,
                "path_span": self.file.span.to_json() if self.file else None}


@dataclass
class OutputModule:
    """One output module of a render-queue item: output ``folder`` (a fileReference), the ``format`` name shown in
    the Render Queue (e.g. ``Lossless``), the ``file_template`` (e.g. ``[compName]_[#####].png``) and the format
    4cc of its options (``png!``, ``MooV``, ...)."""

    index: int
    folder: Optional[FileRef] = None
    format: str = ""
    file_template: str = ""
    format_id: str = ""

    def to_json(self) -> Dict[str, Any]:
        return {"index": self.index, "folder": self.folder.path if self.folder else None, "format": self.format,
                "file_template": self.file_template, "format_id": self.format_id or None}


@dataclass
class RenderQueueItem:
    """A render-queue item (1-based ``index`` as ``-rqindex`` counts). ``comp_id``/``status``/time span are None
    when the project's layout of the settings is not one this reader knows (see ``aeproject.chunks``)."""

    index: int
    comp_id: Optional[int] = None
    status: Optional[int] = None
    render_flag: Optional[bool] = None
    start_frame: Optional[int] = None
    duration_frames: Optional[int] = None
    settings: str = ""
    comment: str = ""
    output_modules: List[OutputModule] = field(default_factory=list)

    @property
    def status_name(self) -> str:
        return STATUS_NAMES.get(self.status, f"status {self.status}") if self.status is not None else "unknown"

    @property
    def queued(self) -> Optional[bool]:
        """True when the item renders with the queue; None when it cannot be told."""
        if self.status is not None:
            return self.status == 2
        return self.render_flag

    def to_json(self, comp_name: Optional[str] = None) -> Dict[str, Any]:
        return {"index": self.index, "comp_id": self.comp_id, "comp": comp_name, "status": self.status_name,
                "queued": self.queued, "start_frame": self.start_frame, "duration_frames": self.duration_frames,
                "settings": self.settings or None, "comment": self.comment or None,
                "output_modules": [om.to_json() for om in self.output_modules]}


@dataclass
class Project:
    """Everything read from one .aepx. ``notes`` says what could not be read (one line each)."""

    path: str
    version: Optional[Version] = None
    comps: List[Comp] = field(default_factory=list)
    footage: List[Footage] = field(default_factory=list)
    folders: List[str] = field(default_factory=list)
    render_queue: List[RenderQueueItem] = field(default_factory=list)
    notes: List[str] = field(default_factory=list)

    def comp_by_id(self, item_id: Optional[int]) -> Optional[Comp]:
        for comp in self.comps:
            if comp.item_id == item_id:
                return comp
        return None

    def comps_named(self, name: str) -> List[Comp]:
        return [comp for comp in self.comps if comp.name == name]

    def queue_comp(self, item: RenderQueueItem) -> Optional[Comp]:
        return self.comp_by_id(item.comp_id)

    @property
    def fonts(self) -> List[str]:
        """PostScript names of the fonts the text layers use, sorted, each once."""
        names = {font for comp in self.comps for layer in comp.layers for font in layer.fonts}
        return sorted(names)

    def to_json(self) -> Dict[str, Any]:
        return {
            "project": self.path,
            "saved_by": {"version": str(self.version), "os": self.version.os_name} if self.version else None,
            "comps": [comp.to_json() for comp in self.comps],
            "render_queue": [item.to_json(getattr(self.queue_comp(item), "name", None))
                             for item in self.render_queue],
            "footage": [f.to_json() for f in self.footage],
            "fonts": self.fonts,
            "notes": list(self.notes),
        }
