"""Map the absolute paths in a whole text file (scripts, JSON, CSV, XML text), changing nothing but those paths.

The file keeps its encoding, BOM and line endings. A JSON document is mapped string by string; any other text is
searched for path starts, and each path's extent and escaping (JavaScript-escaped, XML entities, quoted or bare) are
decided where it stands. The pieces (units and escapers, path spans, in-place mapping) are ``remap.escaping`` and
``remap.textpaths``, which the .aepx converter uses too. ``remap.convert`` calls ``convert_text_bytes``.
"""
from __future__ import annotations

import codecs
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import List, Optional, Union

from remap.errors import RemapError
from remap.escaping import Escaper, compose, js_escaper, js_units, plain_units, xml_escaper, xml_units
from remap.textpaths import PATH_START, Change, MapPath, map_units, path_spans, scan_to

_ENCODINGS = (
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF32_LE, "utf-32"),
    (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)


def detect_encoding(data: bytes, where: str = "input") -> str:
    """The codec that reads ``data`` and writes it back byte for byte: BOM-marked UTF-8/16/32, else plain UTF-8.

    Raises RemapError for UTF-16 without a byte-order mark (NUL bytes between ASCII), other binary data and
    invalid UTF-8, since guessing an encoding would risk rewriting bytes that are not paths.
    """
    for bom, codec in _ENCODINGS:  # UTF-32 first: its little-endian BOM starts like UTF-16's
        if data.startswith(bom):
            return codec
    head = data[:4096]
    if b"\0" in head:
        if re.match(rb"(?:[\x01-\x7f]\x00){2}|(?:\x00[\x01-\x7f]){2}", head):
            raise RemapError(f"{where}: looks like UTF-16 without a byte-order mark; save it as UTF-8 "
                             "(or UTF-16 with a BOM)")
        raise RemapError(f"{where}: binary data (NUL bytes), not a text file")
    return "utf-8"


def _decode(data: bytes, codec: str, where: str) -> str:
    try:
        return data.decode(codec)
    except UnicodeDecodeError as exc:
        raise RemapError(f"{where}: invalid {codec.replace('-sig', '')} at byte {exc.start} "
                         f"({data[exc.start:exc.start + 4]!r}); only UTF-8 and BOM-marked UTF-16/32 text is mapped") \
            from None


def _is_json(text: str) -> bool:
    stripped = text.lstrip("\ufeff \t\r\n")
    if stripped[:1] not in ("{", "["):
        return False
    try:
        json.loads(stripped)
    except ValueError:
        return False
    return True


_JSON_STRING = re.compile(r'"(?:[^"\\]|\\.)*"', re.S)
_XML_ENTITY = re.compile(r"&(?:amp|lt|gt|quot|apos|#[0-9]+|#[xX][0-9a-fA-F]+);")
# a path written JavaScript-escaped: C:\\x, \\\\server, C:\/x or \/x
_JS_ESCAPED_START = re.compile(r"[A-Za-z]:(?:\\\\(?!\\)|\\/)|\\\\\\\\(?!\\)|\\/(?!/)")


def _map_json_text(text: str, map_path: MapPath, where: str, changes: List[Change]) -> str:
    out: List[str] = []
    done = 0
    for m in _JSON_STRING.finditer(text):
        content = m.group(0)[1:-1]
        if "\\" not in content and "/" not in content and ":" not in content:
            continue
        slash = "\\/" in content
        new = map_units(js_units(plain_units(content)), map_path, js_escaper('"', slash), where, changes)
        if new is None:
            continue
        out.append(text[done:m.start() + 1])
        out.append(new)
        done = m.end() - 1
    out.append(text[done:])
    return "".join(out)


def _quoted_end(text: str, s: int, quote: str, escaped: bool) -> int:
    """Index of the closing ``quote`` for a string whose content starts at ``s`` (or the line end)."""
    i, n = s, len(text)
    while i < n:
        c = text[i]
        if c == quote or c in "\r\n":
            return i
        if escaped and c == "\\" and i + 1 < n and text[i + 1] not in "\r\n":
            i += 2
            continue
        i += 1
    return n


def _map_free_text(text: str, map_path: MapPath, where: str, changes: List[Change]) -> str:
    """Scripts, CSV, XML, anything else: find each path start and decide its extent and escaping locally."""
    out: List[str] = []
    done = 0
    pos = 0
    n = len(text)
    while pos < n:
        m = PATH_START.search(text, pos)
        if not m:
            break
        s = m.start()
        if s > 0 and text[s - 1] == "\\" and text[s] == "/" and s - 1 >= pos:
            s -= 1  # JSON-style escaped slash `\/Volumes\/x`: the backslash belongs to the path
        escaped = bool(_JS_ESCAPED_START.match(text, s))
        before = text[max(0, s - 6):s]
        entity_quote = None
        if before.endswith("&quot;"):
            entity_quote = "&quot;"
        elif before.endswith("&apos;"):
            entity_quote = "&apos;"
        if entity_quote:
            e = text.find(entity_quote, s)
            line_end = scan_to(text, s, n, "\r\n")
            e = line_end if e < 0 or e > line_end else e
        elif s > 0 and text[s - 1] in "\"'`":
            e = _quoted_end(text, s, text[s - 1], escaped)
        else:
            e = None
        if e is None:
            # unquoted: let the span finder decide the extent on the raw text
            spans = path_spans(text, s, n, raw=True)
            first = next(spans, None)
            if first is None or first[0] != s:
                pos = s + 1
                continue
            e = first[1]
        raw = text[s:e]
        units = plain_units(raw)
        xml = bool(_XML_ENTITY.search(raw))
        if xml:
            units = xml_units(raw)
        escape: Escaper = xml_escaper(None, "\"'" if entity_quote else "") if xml else (lambda c: c)
        if escaped:
            slash = "\\/" in raw
            quote = text[s - 1] if s > 0 and text[s - 1] in "\"'" else '"'
            units = js_units(units)
            escape = compose(js_escaper(quote, slash), escape)
        new = map_units(units, map_path, escape, where, changes)
        if new is not None:
            out.append(text[done:s])
            out.append(new)
            done = e
        pos = max(e, s + 1)
    out.append(text[done:])
    return "".join(out)


def map_text(text: str, map_path: MapPath, where: str = "text", changes: Optional[List[Change]] = None) -> str:
    """Map every absolute path in a text document (JSON strings, quoted script strings, CSV fields, XML text)."""
    changes = [] if changes is None else changes
    if _is_json(text):
        return _map_json_text(text, map_path, where, changes)
    return _map_free_text(text, map_path, where, changes)


@dataclass
class TextResult:
    data: bytes
    encoding: str
    changes: List[Change] = field(default_factory=list)


def convert_text_bytes(data: bytes, map_path: MapPath, where: str = "input") -> TextResult:
    """Map paths in a text file's bytes, keeping its encoding, BOM and line endings (decoding never translates
    newlines here, and encoding the same codec writes the same BOM back)."""
    codec = detect_encoding(data, where)
    text = _decode(data, codec, where)
    changes: List[Change] = []
    new_text = map_text(text, map_path, where, changes)
    if not changes:
        return TextResult(data, codec, changes)
    body = new_text
    if codec == "utf-8-sig":
        new_data = new_text.encode("utf-8-sig")
    elif codec in ("utf-16", "utf-32"):
        # re-encode with the original byte order and BOM
        bom = data[:4] if codec == "utf-32" else data[:2]
        order = "le" if bom in (codecs.BOM_UTF16_LE, codecs.BOM_UTF32_LE) else "be"
        new_data = bom + body.encode(f"{codec}-{order}", errors="surrogatepass")
    else:
        new_data = body.encode("utf-8", errors="surrogatepass")
    return TextResult(new_data, codec, changes)


def convert_text_file(src: Union[str, Path], map_path: MapPath) -> TextResult:
    path = Path(src)
    return convert_text_bytes(path.read_bytes(), map_path, where=str(path))
