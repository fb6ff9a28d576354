"""Find and map absolute paths inside text, changing nothing but the mapped paths.

Paths hide behind escaping: JSON and JavaScript double backslashes (``C:\\\\x``) or escape slashes (``C:\\/x``), XML
writes ``&amp;`` and ``&quot;``. A path must be compared and mapped in its unescaped form, yet written back with the
escaping it had, so the diff stays confined to the path. The text is therefore read as *units*: each unit is the raw
text as written (``&amp;``, ``\\\\``, ``é``) and the one character it stands for. Mapping a path keeps the raw units of
the unchanged tail (the part after the rule's prefix, separators aside) and escapes only the new prefix.

This module also converts whole text files (scripts, JSON, CSV) for ``remap.convert``; the .aepx converter reuses
the unit machinery for ``fullpath`` attributes and expression strings.
"""
from __future__ import annotations

import codecs
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterator, List, Optional, Sequence, Tuple, Union

from remap.errors import RemapError

MapPath = Callable[[str], Optional[str]]
Unit = Tuple[str, str]  # (raw text as written, the character it stands for; "" for a JS line continuation)
Escaper = Callable[[str], str]

SEPARATORS = "/\\"

# ---------------------------------------------------------------------------------------------------------- units

_XML_REF = re.compile(r"&(?:(amp|lt|gt|quot|apos)|#([0-9]{1,7})|#[xX]([0-9a-fA-F]{1,6}));")
_NAMED = {"amp": "&", "lt": "<", "gt": ">", "quot": '"', "apos": "'"}


def xml_units(raw: str) -> List[Unit]:
    """Cut XML-escaped text into units; an unknown ``&name;`` stays a literal ``&`` (only valid XML reaches here)."""
    if "&" not in raw:
        return list(zip(raw, raw))
    units: List[Unit] = []
    done = 0
    for m in _XML_REF.finditer(raw):
        units.extend((c, c) for c in raw[done:m.start()])
        if m.group(1):
            ch = _NAMED[m.group(1)]
        else:
            try:
                ch = chr(int(m.group(2)) if m.group(2) else int(m.group(3), 16))
            except (ValueError, OverflowError):
                ch = ""
            if not ch:
                units.extend((c, c) for c in m.group(0))
                done = m.end()
                continue
        units.append((m.group(0), ch))
        done = m.end()
    units.extend((c, c) for c in raw[done:])
    return units


def plain_units(raw: str) -> List[Unit]:
    return [(c, c) for c in raw]


_JS_SIMPLE = {"n": "\n", "r": "\r", "t": "\t", "b": "\b", "f": "\f", "v": "\v"}
_HEX = set("0123456789abcdefABCDEF")


def js_units(units: Sequence[Unit]) -> List[Unit]:
    """Combine units read as JavaScript/JSON string content (``\\\\``, ``\\/``, ``\\u00e9``, ``\\"``...)."""
    out: List[Unit] = []
    i, n = 0, len(units)
    while i < n:
        raw, ch = units[i]
        if ch != "\\" or i + 1 == n:
            out.append((raw, ch))
            i += 1
            continue
        nxt = units[i + 1][1]
        take, value = 2, None
        if nxt == "u":
            if i + 2 < n and units[i + 2][1] == "{":
                j = i + 3
                while j < n and units[j][1] in _HEX and j - i < 10:
                    j += 1
                if j < n and units[j][1] == "}" and j > i + 3:
                    take = j - i + 1
                    value = chr(int("".join(u[1] for u in units[i + 3:j]), 16))
            elif i + 5 < n + 0 and all(units[k][1] in _HEX for k in range(i + 2, i + 6)):
                take = 6
                value = chr(int("".join(u[1] for u in units[i + 2:i + 6]), 16))
        elif nxt == "x":
            if i + 3 < n and all(units[k][1] in _HEX for k in range(i + 2, i + 4)):
                take = 4
                value = chr(int("".join(u[1] for u in units[i + 2:i + 4]), 16))
        elif nxt in _JS_SIMPLE:
            value = _JS_SIMPLE[nxt]
        elif nxt == "0" and not (i + 2 < n and units[i + 2][1].isdigit()):
            value = "\0"
        elif nxt == "\r":
            value = ""
            if i + 2 < n and units[i + 2][1] == "\n":
                take = 3
        elif nxt in "\n\u2028\u2029":
            value = ""
        if value is None:
            value = nxt  # identity escape: \\ \/ \" \' and any other char
        out.append(("".join(u[0] for u in units[i:i + take]), value))
        i += take
    return out


# -------------------------------------------------------------------------------------------------------- escapers

def xml_escaper(quote: Optional[str] = None, entity_quotes: str = "") -> Escaper:
    """Escape one character for XML: always ``& < >``; a quote char when it delimits (``quote``) or when the text
    already wrote that quote as an entity (``entity_quotes``); tabs/newlines as references inside attributes."""
    table = {"&": "&amp;", "<": "&lt;", ">": "&gt;"}
    for q, ent in (('"', "&quot;"), ("'", "&apos;")):
        if q == quote or q in entity_quotes:
            table[q] = ent
    if quote is not None:
        table.update({"\t": "&#9;", "\n": "&#10;", "\r": "&#13;"})
    else:
        table["\r"] = "&#13;"
    return lambda c: table.get(c, c)


def js_escaper(quote: Optional[str] = '"', escape_slash: bool = False) -> Escaper:
    """Escape one character inside a JavaScript/JSON string literal delimited by ``quote``."""
    table = {"\\": "\\\\", "\n": "\\n", "\r": "\\r", "\t": "\\t", "\b": "\\b", "\f": "\\f", "\0": "\\u0000"}
    if quote:
        table[quote] = "\\" + quote
    if escape_slash:
        table["/"] = "\\/"

    def escape(c: str) -> str:
        if c in table:
            return table[c]
        if c < " ":
            return "\\u%04x" % ord(c)
        return c
    return escape


def compose(inner: Escaper, outer: Escaper) -> Escaper:
    """Escape with ``inner`` (e.g. JavaScript) and then every resulting character with ``outer`` (e.g. XML)."""
    return lambda c: "".join(outer(x) for x in inner(c))


def rebuild(units: Sequence[Unit], new: str, escape: Escaper) -> str:
    """Raw text for ``new`` that reuses the raw units of the tail it shares with ``units``.

    The tail is matched from the end: equal characters keep their raw form; a separator that changed direction is
    escaped afresh. Whatever precedes the shared tail (the new prefix) is escaped with ``escape``.
    """
    old = "".join([u[1] for u in units])
    # the longest common tail, treating / and \\ as equal (both map to each other between OS families)
    folded_old = old.replace("\\", "/")
    folded_new = new.replace("\\", "/")
    lo, hi = 0, min(len(old), len(new))  # a matching tail of length k implies all shorter ones match: bisect
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if folded_old.endswith(folded_new[len(folded_new) - mid:]):
            lo = mid
        else:
            hi = mid - 1
    k = lo
    base_u, base_n = len(units) - k, len(new) - k
    head = "".join(map(escape, new[:base_n]))
    tail_units = units[base_u:]
    if all(len(r) == 1 for r, _ in tail_units) and escape("/") == "/" and escape("\\") == "\\":
        return head + new[base_n:]  # plain text tail (the common case): it is the new tail itself
    parts = [head]
    for j in range(k):
        raw, o = units[base_u + j]
        c = new[base_n + j]
        parts.append(raw if o == c else escape(c))
    return "".join(parts)


# ------------------------------------------------------------------------------------------------- finding paths

# Where an absolute path may start: a drive, a UNC/long-path prefix, a POSIX root, a file: URI. Not in the middle of
# a word or of another path (the lookbehind), so `a/b`, `http://x/y` and `</tag>` do not start one.
_START = re.compile(r"(?<![\w.:/\\%-])(?:[Ff][Ii][Ll][Ee]:/|[A-Za-z]:[\\/]|\\\\(?=[^\\\s])|\\\\[?.]\\|/(?=[^/\s]))")
_HARD_STOPS = "\r\n\0"
_RAW_HARD_STOPS = "\r\n\0\t\"'<>|*?`"
_SOFT_STOPS = " ,;"


def _scan_to(text: str, i: int, end: int, stops: str) -> int:
    while i < end and text[i] not in stops:
        i += 1
    return i


def path_spans(text: str, start: int = 0, end: Optional[int] = None, raw: bool = False) -> Iterator[Tuple[int, int]]:
    """(start, end) of each absolute path in ``text[start:end]``.

    A path runs to a hard stop (a line end; in raw text also quotes and characters no path can hold). Spaces, commas
    and semicolons end it too, unless more path follows: the words after the stop, up to the next hard stop and
    before any new absolute path, still contain a separator (``D:\\My Footage\\a.png``). Text that is one string's
    content (not ``raw``) runs to its end unless another absolute path starts in it. In ``raw`` mode the text is
    source (a script, a CSV), where quotes delimit rather than belong to paths.
    """
    end = len(text) if end is None else end
    hard = _RAW_HARD_STOPS if raw else _HARD_STOPS
    pos = start
    while pos < end:
        m = _START.search(text, pos, end)
        if not m:
            return
        s = m.start()
        e = _scan_to(text, s, end, hard + _SOFT_STOPS)
        while e < end and text[e] in _SOFT_STOPS:
            hard_end = _scan_to(text, e, end, hard)
            nxt = _START.search(text, e + 1, hard_end)
            if nxt is None and not raw:
                e = hard_end  # inside one string: the rest of it is still this path (`C:\\a b.png`)
                break
            seg_end = nxt.start() if nxt else hard_end
            seg = text[e:seg_end]
            last = max(seg.rfind("/"), seg.rfind("\\"))
            if last <= 0:
                break
            e = _scan_to(text, e + last, seg_end, _SOFT_STOPS)
        if e > s:
            yield s, e
        pos = max(e, s + 1)


# -------------------------------------------------------------------------------------------------- rewriting

@dataclass
class Change:
    """One mapped path: where (a short description), what it was and what it became (unescaped)."""

    where: str
    old: str
    new: str

    def to_json(self) -> dict:
        return {"where": self.where, "old": self.old, "new": self.new}


def map_units(units: Sequence[Unit], map_path: MapPath, escape: Escaper, where: str,
              changes: List[Change], raw_mode: bool = False) -> Optional[str]:
    """Map every path found in the characters of ``units``; the new raw text, or None when nothing changed."""
    chars = [u[1] for u in units]
    if "" in chars:  # a JS line continuation: a path spanning one is too odd to rewrite safely
        return None
    text = "".join(chars)
    out: List[str] = []
    done = 0
    for s, e in path_spans(text, raw=raw_mode):
        old = text[s:e]
        new = map_path(old)
        if new is None or new == old:
            continue
        out.extend(u[0] for u in units[done:s])
        out.append(rebuild(units[s:e], new, escape))
        done = e
        changes.append(Change(where, old, new))
    if not out:
        return None
    out.extend(u[0] for u in units[done:])
    return "".join(out)


def map_whole(units: Sequence[Unit], map_path: MapPath, escape: Escaper, where: str,
              changes: List[Change]) -> Optional[str]:
    """Map ``units`` as one path (an attribute holding exactly a path); new raw text or None."""
    old = "".join(u[1] for u in units)
    new = map_path(old)
    if new is None or new == old:
        return None
    changes.append(Change(where, old, new))
    return rebuild(units, new, escape)


_XML_SPECIAL = re.compile(r"[&<>\"'\t\n\r]")


def map_xml_value(raw: str, map_path: MapPath, quote: Optional[str], where: str,
                  changes: List[Change]) -> Optional[str]:
    """Map an XML attribute value (``quote`` is its delimiter) or text that is exactly one path.

    The usual value holds no entity and maps to a path needing none: then the new raw text is the new path itself.
    """
    if "&" not in raw:
        new = map_path(raw)
        if new is None or new == raw:
            return None
        changes.append(Change(where, raw, new))
        if not _XML_SPECIAL.search(new):
            return new
        return rebuild(plain_units(raw), new, xml_escaper(quote))
    entity_quotes = ('"' if "&quot;" in raw else "") + ("'" if "&apos;" in raw else "")
    return map_whole(xml_units(raw), map_path, xml_escaper(quote, entity_quotes), where, changes)


_JS_TOKEN = re.compile(r"""//[^\n]*|/\*.*?\*/|"(?:[^"\\\n]|\\.)*"|'(?:[^'\\\n]|\\.)*'|`(?:[^`\\]|\\.)*`""", re.S)


def js_string_literals(units: Sequence[Unit]) -> Iterator[Tuple[int, int, str]]:
    """(start, end, quote) of the *contents* of each string literal in JavaScript source given as units.

    Comments are skipped so an apostrophe in ``// don't`` does not open a string. Regex literals are not
    recognised (rare in After Effects expressions; a miss means a path left unmapped, never a wrong byte).
    """
    text = "".join(u[1] for u in units)
    if len(text) != len(units):  # a unit stands for no character (cannot happen for XML units) – map nothing
        return
    for m in _JS_TOKEN.finditer(text):
        q = m.group(0)[0]
        if q in "\"'`":
            yield m.start() + 1, m.end() - 1, q


def map_js_source(units: Sequence[Unit], map_path: MapPath, outer: Escaper, where: str,
                  changes: List[Change], escape_slash: Optional[bool] = None) -> Optional[str]:
    """Map paths inside the string literals of JavaScript source (units already XML-decoded when in XML)."""
    out: List[str] = []
    done = 0
    for s, e, q in js_string_literals(units):
        inner_units = js_units(units[s:e])
        slash = escape_slash if escape_slash is not None else "\\/" in "".join(u[1] for u in units[s:e])
        new = map_units(inner_units, map_path, compose(js_escaper(q, slash), outer), where, changes)
        if new is None:
            continue
        out.extend(u[0] for u in units[done:s])
        out.append(new)
        done = e
    if not out:
        return None
    out.extend(u[0] for u in units[done:])
    return "".join(out)


# ------------------------------------------------------------------------------------------ whole text documents

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
        m = _START.search(text, pos)
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
            line_end = _scan_to(text, s, n, "\r\n")
            e = line_end if e < 0 or e > line_end else e
        elif s > 0 and text[s - 1] in "\"'`":
            e = _quoted_end(text, s, text[s - 1], escaped)
        else:
            e = None
        raw = text[s:e] if e is not None else None
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
