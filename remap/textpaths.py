"""Find absolute paths in (unescaped) text and map them in place, keeping the escaping around them.

``path_spans`` decides where a path starts and ends in plain text; ``map_units`` maps every path found in escaped
text read as units (``remap.escaping``) and rebuilds only the mapped paths' raw text. The .aepx converter uses
``map_xml_value`` for ``fullpath`` attributes and ``map_js_source`` for expressions (JavaScript string literals
inside XML text); ``remap.text`` uses the same pieces for whole text files. Every mapping is recorded as a
``Change``.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Callable, Iterator, List, Optional, Sequence, Tuple

from remap.escaping import Escaper, Unit, compose, js_escaper, js_units, plain_units, rebuild, xml_escaper, xml_units

MapPath = Callable[[str], Optional[str]]  # a path -> its mapped form, or None when no rule applies

# ------------------------------------------------------------------------------------------------- finding paths

# Where an absolute path may start: a drive, a UNC/long-path prefix, a POSIX root, a file: URI. Not in the middle of
# a word or of another path (the lookbehind), so `a/b`, `http://x/y` and `</tag>` do not start one.
PATH_START = re.compile(r"(?<![\w.:/\\%-])(?:[Ff][Ii][Ll][Ee]:/|[A-Za-z]:[\\/]|\\\\(?=[^\\\s])|\\\\[?.]\\|/(?=[^/\s]))")
_HARD_STOPS = "\r\n\0"
_RAW_HARD_STOPS = "\r\n\0\t\"'<>|*?`"
_SOFT_STOPS = " ,;"


def scan_to(text: str, i: int, end: int, stops: str) -> int:
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
        m = PATH_START.search(text, pos, end)
        if not m:
            return
        s = m.start()
        e = scan_to(text, s, end, hard + _SOFT_STOPS)
        while e < end and text[e] in _SOFT_STOPS:
            hard_end = scan_to(text, e, end, hard)
            nxt = PATH_START.search(text, e + 1, hard_end)
            if nxt is None and not raw:
                e = hard_end  # inside one string: the rest of it is still this path (`C:\\a b.png`)
                break
            seg_end = nxt.start() if nxt else hard_end
            seg = text[e:seg_end]
            last = max(seg.rfind("/"), seg.rfind("\\"))
            if last <= 0:
                break
            e = scan_to(text, e + last, seg_end, _SOFT_STOPS)
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
