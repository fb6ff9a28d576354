"""Write a small but realistic After Effects XML project (.aepx) for tests, the demo and the farm tests.

Real projects cannot be shipped (they are large, licensed and tied to one workstation's paths), yet every part of
aefarm needs one whose footage, render-queue and expression references sit exactly where After Effects puts them
(FORMATS.md §1). This writer produces that shape: UTF-8 declaration, the aftereffects namespace, tab indentation,
`Fold > Item > Pin > Als2 > fileReference` footage, named comp items, an `LRdr > LItm > LOm` output and expressions.

Conventions the aerender simulator relies on (After Effects links queue items to comps through binary ids that this
writer does not model): the render-queue item renders the FIRST comp; comp items carry `idta` starting `0004`,
footage items `0007`.
"""
from __future__ import annotations

import os
import re
from pathlib import Path
from typing import List, Optional, Sequence, Tuple, Union

from aefarm_common.atomic import atomic_write

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
    """After Effects writes quotes in expression text as &quot; (FORMATS.md §1); line breaks stay literal."""
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


def _item_id(type_code: str, item_id: int) -> str:
    """idta as After Effects lays it out: item type (u16), 14 bytes, item id (u32), then padding."""
    return type_code + "00" * 14 + f"{item_id:08x}" + "00" * 16


def _footage_item(path: str, item_id: int) -> str:
    full, is_folder = _split_folder(path)
    return (
        "\t\t<Item>\n"
        f'\t\t\t<idta bdata="{_item_id(_ITEM_TYPE_FOOTAGE, item_id)}"/>\n'
        "\t\t\t<string/>\n"
        "\t\t\t<Pin>\n"
        f'\t\t\t\t<sspc bdata="{"00" * 24}"/>\n'
        "\t\t\t\t<string/>\n"
        "\t\t\t\t<Als2>\n"
        + _file_reference(full, is_folder, "\t\t\t\t\t")
        + "\t\t\t\t</Als2>\n"
        f'\t\t\t\t<opti bdata="{"00" * 16}"/>\n'
        "\t\t\t</Pin>\n"
        "\t\t</Item>\n"
    )


def _comp_item(name: str, item_id: int, expressions: Sequence[str]) -> str:
    parts = [
        "\t\t<Item>\n",
        f'\t\t\t<idta bdata="{_item_id(_ITEM_TYPE_COMP, item_id)}"/>\n',
        f"\t\t\t<string>{_escape_text(name)}</string>\n",
        f'\t\t\t<cdta bdata="{"00" * 48}"/>\n',
        "\t\t\t<Layr>\n",
        f'\t\t\t\t<ldta bdata="{"00" * 32}"/>\n',
        "\t\t\t\t<string>layer 1</string>\n",
        "\t\t\t\t<tdgp>\n",
        f'\t\t\t\t\t<tdbs><tdb4 bdata="{"00" * 16}"/><cdat bdata="{"00" * 16}"/></tdbs>\n',
    ]
    for text in expressions:
        parts.append(f'\t\t\t\t\t<tdbs><cdat bdata="0000"/><string>{_escape_expression(text)}</string></tdbs>\n')
    parts.append("\t\t\t\t</tdgp>\n\t\t\t</Layr>\n\t\t</Item>\n")
    return "".join(parts)


def _render_queue(output_folder: str, output_template: str) -> str:
    folder, _ = _split_folder(output_folder)
    return (
        "\t<LRdr>\n"
        "\t\t<LItm>\n"
        f'\t\t\t<ldat bdata="{"00" * 16}"/>\n'
        "\t\t\t<LOm>\n"
        f'\t\t\t\t<Roou bdata="{"00" * 16}"/>\n'
        "\t\t\t\t<Als2>\n"
        + _file_reference(folder, True, "\t\t\t\t\t")
        + "\t\t\t\t</Als2>\n"
        "\t\t\t\t<string>Lossless</string>\n"
        f"\t\t\t\t<string>{_escape_text(output_template)}</string>\n"
        "\t\t\t</LOm>\n"
        "\t\t</LItm>\n"
        "\t</LRdr>\n"
    )


def sample_project_text(footage: Sequence[str] = (), comps: Sequence[str] = ("Main",),
                        output_folder: Optional[str] = None,
                        output_template: str = "[compName]_[#####].png",
                        expressions: Sequence[str] = ()) -> str:
    """The project's XML text; pure, so tests can look at it without touching disk."""
    if isinstance(footage, str) or isinstance(comps, str) or isinstance(expressions, str):
        raise TypeError("footage, comps and expressions are sequences of strings, not one string")
    for value in footage:
        _check_text(value, "footage path")
        if not value:
            raise ValueError("footage path must not be empty")
    for value in comps:
        _check_text(value, "comp name")
    for value in expressions:
        _check_text(value, "expression")
    _check_text(output_template, "output template")
    if output_folder is not None:
        _check_text(output_folder, "output folder")
        if not output_folder:
            raise ValueError("output folder must not be empty")
    parts: List[str] = [
        '<?xml version="1.0" encoding="UTF-8"?>\n',
        f'<AfterEffectsProject xmlns="{NAMESPACE}" majorVersion="1" minorVersion="0">\n',
        '\t<svap bdata="0b400e30"/>\n',
        '\t<head bdata="005d00040b400e30800000000000000d0000009b"/>\n',
        '\t<ProjectXMPMetadata><![CDATA[<x:xmpmeta xmlns:x="adobe:ns:meta/"></x:xmpmeta>]]></ProjectXMPMetadata>\n',
        "\t<Fold>\n",
    ]
    item_id = 1
    for path in footage:
        parts.append(_footage_item(path, item_id))
        item_id += 1
    for index, name in enumerate(comps):
        # expressions live in the first comp: one place is enough for every scanner and converter test
        parts.append(_comp_item(name, item_id, expressions if index == 0 else ()))
        item_id += 1
    parts.append("\t</Fold>\n")
    if output_folder is not None:
        parts.append(_render_queue(output_folder, output_template))
    parts.append("</AfterEffectsProject>\n")
    return "".join(parts)


def write_sample_project(path: Union[str, "os.PathLike[str]"], footage: Sequence[str] = (),
                         comps: Sequence[str] = ("Main",), output_folder: Optional[str] = None,
                         output_template: str = "[compName]_[#####].png",
                         expressions: Sequence[str] = ()) -> Path:
    """Write the project atomically (temp file in the same folder, then rename) and return its path.

    A footage path ending in a separator is an image-sequence folder (`target_is_folder="1"`); paths, names and
    expressions are given unescaped and written XML-escaped.
    """
    text = sample_project_text(footage=footage, comps=comps, output_folder=output_folder,
                               output_template=output_template, expressions=expressions)
    dst = Path(path)
    with atomic_write(dst) as handle:
        handle.write(text.encode("utf-8"))
    return dst
