"""The fonts of a text layer, read from its ``btdk`` chunk (a PDF-like dictionary After Effects calls COS data).

Layout facts (py_aep ``parsers/text.py`` after the lottie-docs AEP notes; checked against aepx.js's real
``1layer.aepx``): the chunk is a sequence of ``/key value`` pairs with PDF syntax (``<< >>`` dictionaries,
``[ ]`` arrays, ``/names``, numbers, ``true``/``false`` and ``( )`` strings whose bytes may be escaped with a
backslash; text strings are UTF-16BE after a ``FE FF`` mark). Keys are numbers.

- ``data/0/1/0`` is the layer's font set: an array whose entries hold the PostScript name at ``0/0/0``
  (``/99 /CoolTypeFont`` marks them).
- ``data/1/1`` is the array of text documents (one per keyframe); each document's character style runs are at
  ``0/6/0``, and a run's style is at ``0/0/6`` where key ``0`` is the index of its font in the font set.

The fonts a layer *uses* are the ones its runs name. When the runs cannot be read, every font of the set counts.
``AdobeInvisFont`` (After Effects' own font for invisible characters) is never reported.
"""
from __future__ import annotations

import re
from typing import Any, Dict, List, Optional, Tuple

INTERNAL_FONTS = frozenset({"AdobeInvisFont"})
MAX_DEPTH = 100

_TOKEN = re.compile(rb"\s*(?:(<<)|(>>)|(\[)|(\])|/([^\s/\[\]()<>]*)|(\()|([-+]?(?:\d+\.?\d*|\.\d+))|(true|false))")


class CosError(ValueError):
    """The data is not COS as described above."""


def _string(data: bytes, i: int) -> Tuple[str, int]:
    """A ``( )`` string starting after its ``(``: backslash escapes one byte; ends at an unescaped ``)`` (UTF-16
    strings end on a character boundary, as their bytes may include ``)``)."""
    raw = bytearray()
    utf16 = data.startswith(b"\xfe\xff", i)
    n = len(data)
    while i < n:
        b = data[i]
        if b == 0x5C and i + 1 < n:
            raw.append(data[i + 1])
            i += 2
            continue
        if b == 0x29 and (not utf16 or len(raw) % 2 == 0):
            if utf16:
                return bytes(raw[2:]).decode("utf-16-be", "replace"), i + 1
            return bytes(raw).decode("latin-1"), i + 1
        raw.append(b)
        i += 1
    raise CosError("string not closed")


def _value(data: bytes, i: int, depth: int) -> Tuple[Any, int]:
    if depth > MAX_DEPTH:
        raise CosError("nested too deeply")
    m = _TOKEN.match(data, i)
    if m is None:
        raise CosError(f"unexpected data at byte {i}")
    kind = m.lastindex
    if kind == 1:
        return _pairs(data, m.end(), depth + 1, closing=True)
    if kind == 3:
        items: List[Any] = []
        j = m.end()
        while True:
            end = _TOKEN.match(data, j)
            if end is not None and end.lastindex == 4:
                return items, end.end()
            item, j = _value(data, j, depth + 1)
            items.append(item)
    if kind == 5:
        return "/" + m.group(5).decode("latin-1"), m.end()
    if kind == 6:
        return _string(data, m.end())
    if kind == 7:
        text = m.group(7)
        return (float(text) if b"." in text else int(text)), m.end()
    if kind == 8:
        return m.group(8) == b"true", m.end()
    raise CosError(f"unexpected token at byte {i}")


def _pairs(data: bytes, i: int, depth: int, closing: bool) -> Tuple[Dict[str, Any], int]:
    out: Dict[str, Any] = {}
    n = len(data)
    while True:
        m = _TOKEN.match(data, i)
        if m is None:
            if not closing and data[i:].strip(b" \t\r\n\0") == b"":
                return out, n
            raise CosError(f"unexpected data at byte {i}")
        if m.lastindex == 2:
            if not closing:
                raise CosError(f"unbalanced >> at byte {i}")
            return out, m.end()
        if m.lastindex != 5:
            raise CosError(f"a key was expected at byte {i}")
        key = m.group(5).decode("latin-1")
        value, i = _value(data, m.end(), depth)
        out[key] = value


def parse(data: bytes) -> Dict[str, Any]:
    """The top-level dictionary of a ``btdk`` chunk. Raises CosError."""
    return _pairs(data, 0, 0, closing=False)[0]


def _get(node: Any, *path: Any) -> Any:
    for key in path:
        if isinstance(node, dict) and isinstance(key, str):
            node = node.get(key)
        elif isinstance(node, list) and isinstance(key, int) and 0 <= key < len(node):
            node = node[key]
        else:
            return None
    return node


def font_set(data: Dict[str, Any]) -> List[str]:
    """The PostScript names of the layer's font set, in order (index = the runs' font number)."""
    names: List[str] = []
    for entry in _get(data, "0", "1", "0") or []:
        name = _get(entry, "0", "0", "0")
        names.append(name if isinstance(name, str) else "")
    return names


def run_font_indices(data: Dict[str, Any]) -> Optional[List[int]]:
    """Font numbers named by the character style runs of every text document; None when there are no runs."""
    found: List[int] = []
    seen_run = False
    for document in _get(data, "1", "1") or []:
        for run in _get(document, "0", "6", "0") or []:
            index = _get(run, "0", "0", "6", "0")
            seen_run = True
            if isinstance(index, int) and index not in found:
                found.append(index)
    return found if seen_run else None


_FONT_ENTRY = re.compile(rb"/CoolTypeFont\s*/0\s*<<\s*/0\s*\(")


def _font_entries_by_pattern(chunk: bytes) -> List[str]:
    """The font set found by its marker alone, for data the parser does not follow (another version's syntax)."""
    names = []
    for m in _FONT_ENTRY.finditer(chunk):
        try:
            names.append(_string(chunk, m.end())[0])
        except CosError:
            continue
    return names


def fonts_used(chunk: bytes) -> List[str]:
    """PostScript names of the fonts a text layer's ``btdk`` uses (run fonts when readable, else its font set)."""
    try:
        data = parse(chunk)
    except CosError:
        data = None
    if data is None:
        chosen = _font_entries_by_pattern(chunk)
    else:
        names = font_set(data)
        indices = run_font_indices(data)
        chosen = [names[k] for k in indices if 0 <= k < len(names)] if indices else names
    out: List[str] = []
    for name in chosen:
        if name and name not in INTERNAL_FONTS and name not in out:
            out.append(name)
    return out
