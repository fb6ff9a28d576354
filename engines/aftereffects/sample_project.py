"""Write a small but realistic After Effects XML project (.aepx) for tests, the demo and the farm tests.

Real projects cannot be shipped (they are large, licensed and tied to one workstation's paths), yet every part of
aefarm needs one whose footage, render-queue and expression references sit exactly where After Effects puts them
(docs/formats.md §1). This writer produces that shape: UTF-8 declaration, the aftereffects namespace, tab indentation,
`Fold > Item > Pin > Als2 > fileReference` footage, named comp items with real `cdta` settings and `Layr` layers
(`ldta`; text layers with `btdk` font data), expressions, and a render queue laid out as After Effects lays it out
(`LRdr > list` render settings with each item's comp id and status, `Rout`, `LItm > list + LOm` output modules).
The binary chunks come from `sample_chunks` (layouts and their sources: `aeproject.chunks`).

Conventions the aerender simulator relies on: comp items carry `idta` starting `0004`, footage items `0007`; an
`LOm` holds exactly two `<string>`s (format name, file template). The simulator does not decode comp ids: it assumes
queue item k renders the k-th comp, which the default queue keeps true.
"""
from __future__ import annotations

import os
import re
from dataclasses import dataclass
from itertools import count
from pathlib import Path
from typing import Iterator, List, Optional, Sequence, Tuple, Union

from aefarm_common.atomic import atomic_write
from engines.aftereffects import sample_chunks as chunks

NAMESPACE = "http://www.adobe.com/products/aftereffects"

_ITEM_TYPE_COMP = "0004"
_ITEM_TYPE_FOOTAGE = "0007"
_WINDOWS_ABSOLUTE = re.compile(r"^(?:[A-Za-z]:[\\/]|\\\\|//\?/|[A-Za-z]:$)")
# XML 1.0 forbids most C0 controls even as character references; a path or name holding one cannot be written.
_XML_FORBIDDEN = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


def _platform(path: str) -> str:
    """After Effects has no Linux: any path that is not a Windows path is written as MacPOSIX."""
    if path.startswith("/"):
        return "MacPOSIX"
    if _WINDOWS_ABSOLUTE.match(path) or "\\" in path:
        return "Win"
    return "MacPOSIX"


def _split_folder(path: str) -> Tuple[str, bool]:
    """A trailing separator marks an image-sequence folder; AE stores the folder path without it."""
    is_folder = len(path) > 1 and path[-1] in "/\\"
    if is_folder:
        stripped = path.rstrip("/\\")
        # keep a bare root ("/", "C:\") intact: stripping it would change what it names
        if not stripped or re.fullmatch(r"[A-Za-z]:", stripped):
            return path, True
        return stripped, True
    return path, False


def _check_text(value: str, what: str) -> str:
    if not isinstance(value, str):
        raise TypeError(f"{what} must be a str, got {type(value).__name__}")
    if _XML_FORBIDDEN.search(value):
        raise ValueError(f"{what} {value!r} holds a character XML 1.0 cannot represent")
    return value


def _escape_text(text: str) -> str:
    # a literal CR would be read back as LF (XML end-of-line handling); a reference keeps it
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace("\r", "&#13;")


def _escape_attr(text: str) -> str:
    return _escape_text(text).replace('"', "&quot;").replace("\t", "&#9;").replace("\n", "&#10;")


def _escape_expression(text: str) -> str:
    """After Effects writes quotes in expression text as &quot; (docs/formats.md §1); line breaks stay literal."""
    return _escape_text(text).replace('"', "&quot;")


def _volume(path: str, platform: str) -> Tuple[str, str]:
    """(server_name, server_volume_name) as After Effects records them for this kind of path."""
    if platform == "MacPOSIX":
        parts = path.split("/")
        if len(parts) > 2 and parts[1] == "Volumes":
            return "", parts[2]
        return "", "Macintosh HD"
    if path.startswith("\\\\") or path.startswith("//"):
        parts = [p for p in re.split(r"[\\/]", path) if p]
        server = parts[0] if parts else ""
        share = parts[1] if len(parts) > 1 else ""
        return server, share
    return "ws-01", "HDD"


def _file_reference(path: str, is_folder: bool, indent: str) -> str:
    platform = _platform(path)
    server, volume = _volume(path, platform)
    components = [p for p in re.split(r"[\\/]", path) if p]
    target = max(1, min(len(components), 3))
    return (
        f'{indent}<fileReference ascendcount_base="1" ascendcount_target="{target}" '
        f'fullpath="{_escape_attr(path)}" platform="{platform}" server_name="{_escape_attr(server)}" '
        f'server_volume_name="{_escape_attr(volume)}" target_is_folder="{1 if is_folder else 0}"/>\n'
    )


_FOURCC = {".png": "png!", ".jpg": "JPEG", ".jpeg": "JPEG", ".tif": "TIF ", ".tiff": "TIF ", ".exr": "oEXR",
           ".psd": "8BPS", ".mov": "MooV", ".mp4": "MooV", ".wav": "WAVE", ".dpx": "sDPX", ".tga": "TPIC"}
DEFAULT_DURATION = 14400  # frames: 10 minutes at 24 fps, so tests' frame ranges fall inside the comps


@dataclass(frozen=True)
class CompSpec:
    """A comp to write: size, rate, duration and display start in frames, work area ``(first, last)`` in frames
    from the start (last -1: the comp's end), and the fonts of a text layer (none: no text layer)."""

    name: str
    width: int = 1920
    height: int = 1080
    frame_rate: float = 24.0
    duration_frames: int = DEFAULT_DURATION
    display_start_frame: int = 0
    work_area: Tuple[int, int] = (0, -1)
    fonts: Tuple[str, ...] = ()


@dataclass(frozen=True)
class QueueSpec:
    """A render-queue item: the comp it renders (index into the comps, or a name), whether it is queued, the time
    span ``(first frame from the comp start, frame count)`` ((0, 0): length of comp), and its output module."""

    comp: Union[int, str] = 0
    queued: bool = True
    span: Tuple[int, int] = (0, 0)
    output_folder: Optional[str] = None
    output_template: str = "[compName]_[#####].png"
    format: str = "Lossless"
    format_id: str = "png!"
    comment: str = ""


@dataclass(frozen=True)
class LayerSpec:
    """An extra layer of the first comp: a footage layer (``source``: index into the footage), a text layer
    (``text``: its source text; its ``expressions`` drive Source Text, e.g. ``thisLayer.name``) or a plain layer
    holding ``expressions`` on a property."""

    name: str
    source: Optional[int] = None
    text: Optional[str] = None
    expressions: Tuple[str, ...] = ()
    fonts: Tuple[str, ...] = ("ArialMT",)


def _hex(data: bytes) -> str:
    return data.hex()


def _footage_item(path: str, item_id: int) -> str:
    full, is_folder = _split_folder(path)
    name = re.split(r"[\\/]", full.rstrip("\\/"))[-1] if full else ""
    fourcc = _FOURCC.get(os.path.splitext(name)[1].lower(), "png!" if is_folder else "    ")
    source = chunks.sspc(fourcc, 1920, 1080, 10 if is_folder else 0, 24.0 if is_folder else 0.0)
    return (
        "\t\t<Item>\n"
        f'\t\t\t<idta bdata="{_hex(chunks.idta(chunks.ITEM_FOOTAGE, item_id))}"/>\n'
        "\t\t\t<string/>\n"
        "\t\t\t<Pin>\n"
        f'\t\t\t\t<sspc bdata="{_hex(source)}"/>\n'
        "\t\t\t\t<string/>\n"
        "\t\t\t\t<Als2>\n"
        + _file_reference(full, is_folder, "\t\t\t\t\t")
        + "\t\t\t\t</Als2>\n"
        f'\t\t\t\t<opti bdata="{_hex(chunks.opti(fourcc, name))}"/>\n'
        "\t\t\t</Pin>\n"
        "\t\t</Item>\n"
    )


def _layer(layer_id: int, name: str, source_id: int, comp: CompSpec, body: str, layer_type: int = 0) -> str:
    header = chunks.ldta(layer_id, name, source_id, comp.frame_rate, comp.duration_frames, layer_type)
    return (f'\t\t\t<Layr>\n\t\t\t\t<ldta bdata="{_hex(header)}"/>\n\t\t\t\t<string>{_escape_text(name)}</string>\n'
            f"{body}\t\t\t</Layr>\n")


def _text_body(text: str, fonts: Sequence[str], expressions: Sequence[str] = ()) -> str:
    source = "".join(f"<string>{_escape_expression(e)}</string>" for e in expressions[:1])
    return (
        "\t\t\t\t<tdgp>\n\t\t\t\t\t<tdsb bdata=\"00000001\"/>\n\t\t\t\t\t<tdsn>\n\t\t\t\t\t\t<string/>\n"
        "\t\t\t\t\t</tdsn>\n"
        f'\t\t\t\t\t<tdmn bdata="{"ADBE Text Properties".encode("ascii").ljust(40, bytes(1)).hex()}"/>\n'
        "\t\t\t\t\t<tdgp>\n"
        f'\t\t\t\t\t\t<tdmn bdata="{"ADBE Text Document".encode("ascii").ljust(40, bytes(1)).hex()}"/>\n'
        "\t\t\t\t\t\t<btds>\n"
        f'\t\t\t\t\t\t\t<tdbs><tdb4 bdata="{"00" * 16}"/><cdat bdata="00000000"/>{source}</tdbs>\n'
        f'\t\t\t\t\t\t\t<btdk bdata="{_hex(chunks.btdk(text, fonts))}"/>\n'
        "\t\t\t\t\t\t</btds>\n\t\t\t\t\t</tdgp>\n\t\t\t\t</tdgp>\n")


def _extra_layer(spec: LayerSpec, layer_id: int, comp: CompSpec, sources: Sequence[int]) -> str:
    if spec.text is not None:
        return _layer(layer_id, spec.name, 0, comp, _text_body(spec.text, spec.fonts, spec.expressions),
                      layer_type=3)
    body = ""
    if spec.expressions:
        body = "".join(f'\t\t\t\t\t<tdbs><cdat bdata="0000"/><string>{_escape_expression(text)}</string></tdbs>\n'
                       for text in spec.expressions)
        body = f"\t\t\t\t<tdgp>\n{body}\t\t\t\t</tdgp>\n"
    return _layer(layer_id, spec.name, sources[spec.source] if spec.source is not None else 0, comp, body)


def _comp_item(comp: CompSpec, item_id: int, layer_ids: Iterator[int], expressions: Sequence[str],
               sources: Sequence[int], extra: Sequence[LayerSpec] = ()) -> str:
    settings = chunks.cdta(comp.width, comp.height, comp.frame_rate, comp.duration_frames,
                           comp.display_start_frame, comp.work_area)
    parts = [
        "\t\t<Item>\n",
        f'\t\t\t<idta bdata="{_hex(chunks.idta(chunks.ITEM_COMP, item_id))}"/>\n',
        f"\t\t\t<string>{_escape_text(comp.name)}</string>\n",
        f'\t\t\t<cdta bdata="{_hex(settings)}"/>\n',
    ]
    body = [f'\t\t\t\t<tdgp>\n\t\t\t\t\t<tdbs><tdb4 bdata="{"00" * 16}"/><cdat bdata="{"00" * 16}"/></tdbs>\n']
    for text in expressions:
        body.append(f'\t\t\t\t\t<tdbs><cdat bdata="0000"/><string>{_escape_expression(text)}</string></tdbs>\n')
    body.append("\t\t\t\t</tdgp>\n")
    parts.append(_layer(next(layer_ids), "layer 1", 0, comp, "".join(body)))
    for number, source in enumerate(sources, 1):
        parts.append(_layer(next(layer_ids), f"footage {number}", source, comp, ""))
    if comp.fonts:
        parts.append(_layer(next(layer_ids), "Title", 0, comp, _text_body(comp.name, comp.fonts), layer_type=3))
    for spec in extra:
        parts.append(_extra_layer(spec, next(layer_ids), comp, sources))
    parts.append("\t\t</Item>\n")
    return "".join(parts)


def _output_module(item: QueueSpec, comp: CompSpec) -> str:
    folder = ""
    if item.output_folder is not None:
        path, _ = _split_folder(item.output_folder)
        folder = "\t\t\t\t<Als2>\n" + _file_reference(path, True, "\t\t\t\t\t") + "\t\t\t\t</Als2>\n"
    return (
        "\t\t\t<list>\n"
        f'\t\t\t\t<lhd3 bdata="{_hex(chunks.lhd3(1, chunks.OUTPUT_SETTINGS_SIZE))}"/>\n'
        f'\t\t\t\t<ldat bdata="{"00" * chunks.OUTPUT_SETTINGS_SIZE}"/>\n'
        "\t\t\t</list>\n"
        "\t\t\t<LOm>\n"
        f'\t\t\t\t<Roou bdata="{_hex(chunks.roou(item.format_id, comp.width, comp.height))}"/>\n'
        f'\t\t\t\t<Ropt bdata="{item.format_id.encode("latin-1").hex()}{"00" * 20}"/>\n'
        + folder
        + f"\t\t\t\t<string>{_escape_text(item.format)}</string>\n"
        f"\t\t\t\t<string>{_escape_text(item.output_template)}</string>\n"
        "\t\t\t</LOm>\n"
    )


def _render_queue(queue: Sequence[QueueSpec], comps: Sequence[CompSpec], comp_ids: Sequence[int]) -> str:
    settings, entries = [], []
    for item in queue:
        index = item.comp if isinstance(item.comp, int) else [c.name for c in comps].index(item.comp)
        comp = comps[index]
        settings.append(chunks.render_settings(comp_ids[index], item.queued, comp.frame_rate, item.span))
        if item.comment:
            entries.append(f"\t\t\t<RCom>\n\t\t\t\t<string>{_escape_text(item.comment)}</string>\n\t\t\t</RCom>\n")
        entries.append(_output_module(item, comp))
    data = f'\t\t\t<ldat bdata="{_hex(b"".join(settings))}"/>\n' if settings else ""
    return (
        "\t<LRdr>\n"
        '\t\t<Rhed bdata="000100020000000000000000038205e400000001"/>\n'
        f'\t\t<Rout bdata="{_hex(chunks.rout([q.queued for q in queue]))}"/>\n'
        "\t\t<list>\n"
        f'\t\t\t<lhd3 bdata="{_hex(chunks.lhd3(len(queue), chunks.RENDER_SETTINGS_SIZE))}"/>\n'
        + data
        + "\t\t</list>\n"
        "\t\t<LItm>\n" + "".join(entries) + "\t\t</LItm>\n"
        "\t</LRdr>\n"
    )


def sample_project_text(footage: Sequence[str] = (), comps: Sequence[Union[str, CompSpec]] = ("Main",),
                        output_folder: Optional[str] = None,
                        output_template: str = "[compName]_[#####].png",
                        expressions: Sequence[str] = (), queue: Optional[Sequence[QueueSpec]] = None,
                        layers: Sequence[LayerSpec] = ()) -> str:
    """The project's XML text; pure, so tests can look at it without touching disk.

    Without ``queue``, ``output_folder`` makes one queued item rendering the first comp (the simulator's convention
    is that queue item k renders the k-th comp, and the default keeps that true). The first comp holds a layer
    with the ``expressions``, one layer per footage item, then the ``layers``."""
    if isinstance(footage, str) or isinstance(comps, str) or isinstance(expressions, str):
        raise TypeError("footage, comps and expressions are sequences of strings, not one string")
    specs = [c if isinstance(c, CompSpec) else CompSpec(name=c) for c in comps]
    for value in footage:
        _check_text(value, "footage path")
        if not value:
            raise ValueError("footage path must not be empty")
    for spec in specs:
        _check_text(spec.name, "comp name")
        for font in spec.fonts:
            _check_text(font, "font name")
    for value in list(expressions) + [e for extra in layers for e in extra.expressions]:
        _check_text(value, "expression")
    for layer in layers:
        _check_text(layer.name, "layer name")
        if layer.source is not None and not 0 <= layer.source < len(footage):
            raise ValueError(f"layer {layer.name!r} shows footage {layer.source}, which is not written")
    _check_text(output_template, "output template")
    if output_folder is not None:
        _check_text(output_folder, "output folder")
        if not output_folder:
            raise ValueError("output folder must not be empty")
    if queue is None:
        queue = [QueueSpec(0, output_folder=output_folder, output_template=output_template)] \
            if output_folder is not None else []
    for item in queue:
        for text in (item.output_template, item.format, item.comment, item.output_folder or ""):
            _check_text(text, "render-queue text")
        if isinstance(item.comp, int) and not 0 <= item.comp < len(specs) or \
                isinstance(item.comp, str) and item.comp not in [c.name for c in specs]:
            raise ValueError(f"render-queue item renders comp {item.comp!r}, which is not written")
    parts: List[str] = [
        '<?xml version="1.0" encoding="UTF-8"?>\n',
        f'<AfterEffectsProject xmlns="{NAMESPACE}" majorVersion="1" minorVersion="0">\n',
        '\t<svap bdata="0b400e30"/>\n',
        '\t<head bdata="005d00040b400e30800000000000000d0000009b"/>\n',
        '\t<ProjectXMPMetadata><![CDATA[<x:xmpmeta xmlns:x="adobe:ns:meta/"></x:xmpmeta>]]></ProjectXMPMetadata>\n',
        "\t<Fold>\n",
    ]
    item_id = 1
    footage_ids = []
    for path in footage:
        parts.append(_footage_item(path, item_id))
        footage_ids.append(item_id)
        item_id += 1
    comp_ids = list(range(item_id, item_id + len(specs)))
    layer_ids = count(comp_ids[-1] + 1 if comp_ids else item_id)
    for index, spec in enumerate(specs):
        # expressions and footage layers live in the first comp: one place is enough for every scanner and test
        parts.append(_comp_item(spec, comp_ids[index], layer_ids, expressions if index == 0 else (),
                                footage_ids if index == 0 else (), layers if index == 0 else ()))
    parts.append("\t</Fold>\n")
    parts.append(_render_queue(queue, specs, comp_ids))
    parts.append("</AfterEffectsProject>\n")
    return "".join(parts)


def write_sample_project(path: Union[str, "os.PathLike[str]"], footage: Sequence[str] = (),
                         comps: Sequence[Union[str, CompSpec]] = ("Main",), output_folder: Optional[str] = None,
                         output_template: str = "[compName]_[#####].png",
                         expressions: Sequence[str] = (), queue: Optional[Sequence[QueueSpec]] = None,
                         layers: Sequence[LayerSpec] = ()) -> Path:
    """Write the project atomically (temp file in the same folder, then rename) and return its path.

    A footage path ending in a separator is an image-sequence folder (`target_is_folder="1"`); paths, names and
    expressions are given unescaped and written XML-escaped.
    """
    text = sample_project_text(footage=footage, comps=comps, output_folder=output_folder,
                               output_template=output_template, expressions=expressions, queue=queue,
                               layers=layers)
    dst = Path(path)
    with atomic_write(dst) as handle:
        handle.write(text.encode("utf-8"))
    return dst
