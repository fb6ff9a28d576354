"""Escaped text read as *units*, and written back with the escaping it had.

Paths hide behind escaping: JSON and JavaScript double backslashes (``C:\\\\x``) or escape slashes (``C:\\/x``), XML
writes ``&amp;`` and ``&quot;``. A path must be compared and mapped in its unescaped form, yet written back with the
escaping it had, so the diff stays confined to the path. The text is therefore read as units: each unit is the raw
text as written (``&amp;``, ``\\\\``, ``é``) and the one character it stands for (``xml_units``, ``js_units``). Mapping
a path keeps the raw units of the unchanged tail (the part after the rule's prefix, separators aside) and escapes
only the new prefix (``rebuild``, with an ``Escaper`` for the context: ``xml_escaper``, ``js_escaper``, ``compose``).
"""
from __future__ import annotations

import re
from typing import Callable, List, Optional, Sequence, Tuple

Unit = Tuple[str, str]  # (raw text as written, the character it stands for; "" for a JS line continuation)
Escaper = Callable[[str], str]

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
