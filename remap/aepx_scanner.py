"""The .aepx scanner: one pass that finds the places paths live and maps them (docs/formats.md §1).

- ``<fileReference ... fullpath="...">`` below ``<Pin>`` (footage) or ``<LOm>`` (render-queue output): the value is
  mapped; ``platform`` is set to ``Win``/``MacPOSIX`` when the mapped path's OS differs;
- the ``<string>`` right after a ``<cdat>`` element (an expression): paths in its JavaScript string literals are
  mapped (JavaScript-escaped inside XML-escaped text);
- ``<expr bdata>`` (older hex expressions) and ``<btdk bdata>`` (text-layer data) are decoded and *reported* when they
  hold a path a rule maps; they are never rewritten (their lengths are part of the binary data).

Markup is recognised by ``<``, which well-formed XML only allows as the start of markup, with comments, CDATA
sections and processing instructions skipped whole; a marker cut by a block boundary is found because the bytes from
the last ``<`` of a block on are carried into the next. The buffer and the byte-exact output are
``remap.aepx_stream.BlockStream``; the cheap structural check is ``remap.aepx_check.StructureCheck``.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import BinaryIO, Callable, Dict, List, Optional, Tuple

from remap.aepx_check import StructureCheck, check_head
from remap.aepx_stream import BlockStream, TagAttr, TokenTooLong
from remap.errors import RemapError
from remap.escaping import xml_escaper, xml_units
from remap.paths import ae_platform
from remap.text import map_text
from remap.textpaths import Change, MapPath, map_js_source, map_xml_value

CHANGES_KEPT = 10_000  # changes listed in a result; the count stays exact (a result's memory must not grow with
# the project)
_MARGIN = 64  # bytes kept back at a block end so a marker cut in two is seen whole in the next round

# One pass finds every marker; the group that matched says which (``lastindex``), so the common ones are handled
# without a function call: 1 <Pin>, 2 </Pin>, 3 <LOm>, 4 </LOm>, 5 <string>, 6 <fileReference, 7 anything else.
_MARK = re.compile(
    rb"<(?:(Pin\s*>)|(/Pin\s*>)|(LOm\s*>)|(/LOm\s*>)|(string>)|(fileReference[\s/>])"
    rb"|((?:Pin|LOm)\s*/>|expr[\s/>]|btdk[\s/>]|!--|!\[CDATA\[|!DOCTYPE|!|\?))")
# a whole fileReference tag, when it is in the buffer (the common case; else the tag is read attribute by attribute)
_WHOLE_TAG = re.compile(rb"<fileReference((?:\s+[A-Za-z_:][\w:.\-]*\s*=\s*(?:\"[^\"]*\"|'[^']*'))*)\s*/?>")
_WANTED_ATTRS = [(name, re.compile(rb"\s" + name + rb"\s*=\s*(?:\"([^\"]*)\"|'([^']*)')"))
                 for name in (b"fullpath", b"platform", b"target_is_folder")]
_CDAT_START = re.compile(rb"<cdat[\s/>]")
_WS = b" \t\r\n"

Visit = Callable[[str, str, Optional[str], int], None]  # (kind, path, mapped, offset of the buffer holding it)


@dataclass
class AepxResult:
    """What a conversion did: the mapped references, and references it found but must not rewrite."""

    changes: List[Change] = field(default_factory=list)  # the first CHANGES_KEPT of them (memory stays bounded)
    unsafe: List[str] = field(default_factory=list)
    suspect: Optional[str] = None  # why the structural check doubts well-formedness (then libxml2 decides)
    not_kept: int = 0  # changes made but not listed

    @property
    def replaced(self) -> int:
        return len(self.changes) + self.not_kept

    def trim(self) -> None:
        extra = len(self.changes) - CHANGES_KEPT
        if extra > 0:
            del self.changes[CHANGES_KEPT:]
            self.not_kept += extra
        extra = len(self.unsafe) - CHANGES_KEPT
        if extra > 0:
            del self.unsafe[CHANGES_KEPT:]


class AepxScanner(BlockStream):
    """One pass over an .aepx: copies bytes to ``out`` (None for a scan) and rewrites mapped values.

    ``visit(kind, path, mapped, offset)`` is called for every path met (``kind``: footage, sequence, output,
    expression, text-layer); ``structure`` runs the cheap structural check during the pass (``AepxResult.suspect``).
    """

    def __init__(self, src: BinaryIO, out: Optional[BinaryIO], map_path: MapPath, where: str,
                 visit: Optional[Visit] = None, structure: bool = True) -> None:
        super().__init__(src, out, where, StructureCheck() if structure else None)
        self.user_map = map_path
        self.visit = visit
        self.pin = 0
        self.lom = 0
        self.context = "expression"
        self.result = AepxResult()
        # projects repeat the same expression on many layers: map each distinct (short) text once
        self.expressions: Dict[bytes, Tuple[Optional[bytes], List[Tuple[str, str]]]] = {}

    def text(self, raw: bytes, at: int) -> str:
        try:
            return raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise RemapError(f"{self.where}: invalid UTF-8 at byte {self.offset(at) + exc.start}") from None

    def mapped(self, path: str) -> Optional[str]:
        new = self.user_map(path)
        if self.visit is not None:
            self.visit(self.context, path, new, self.base)
        return new

    # -- the pass --------------------------------------------------------------------------------------------
    def run(self) -> AepxResult:
        self.ensure(0, 4096)
        check_head(self.buf[:4096], self.where)
        pos = 0
        while True:
            if pos > self.block:  # everything before pos is final: write it and keep the buffer small
                self.emit_upto(self.keep_from(pos))
                pos -= self.compact()
            m = _MARK.search(self.buf, pos)
            if m is None or (not self.eof and m.start() > len(self.buf) - _MARGIN):
                if self.eof:
                    self.emit_upto(len(self.buf))
                    if self.sink is not None:
                        self.sink.flush()
                    if self.structure is not None:
                        self.result.suspect = self.structure.verdict(self.buf)
                    return self.result
                keep = max(pos, len(self.buf) - _MARGIN, self.done)
                self.emit_upto(self.keep_from(keep))
                pos = keep - self.compact()
                self.fill()
                continue
            kind = m.lastindex
            if kind == 1:
                self.pin += 1
                pos = m.end()
            elif kind == 2:
                self.pin = max(0, self.pin - 1)
                pos = m.end()
            elif kind == 5:
                pos = self.string(m.start(), m.end())
                if len(self.result.changes) > CHANGES_KEPT:
                    self.result.trim()
            elif kind == 6:
                pos = self.file_reference(m.start())
                if len(self.result.changes) > CHANGES_KEPT:
                    self.result.trim()
            elif kind == 3:
                self.lom += 1
                pos = m.end()
            elif kind == 4:
                self.lom = max(0, self.lom - 1)
                pos = m.end()
            else:
                pos = self.dispatch(m)
                if len(self.result.unsafe) > CHANGES_KEPT:
                    self.result.trim()

    def dispatch(self, m: "re.Match[bytes]") -> int:
        """The rare markers: self-closing Pin/LOm, hex chunks, comments, CDATA, DOCTYPE, processing instructions."""
        s = m.start()
        tag = m.group(0)
        c = tag[1:2]
        if c == b"P" or c == b"L":
            return m.end()
        if c == b"e" or c == b"b":
            return self.hex_chunk(s, tag[1:5].decode("ascii"))
        if tag == b"<!--":
            return self.skip_past(b"-->", m.end())
        if tag == b"<![CDATA[":
            return self.skip_past(b"]]>", m.end())
        if tag == b"<!DOCTYPE":
            raise RemapError(f"{self.where}: DOCTYPE declaration at byte {self.offset(s)} refused "
                             "(After Effects never writes one; entity declarations are unsafe)")
        if tag == b"<?":
            return self.skip_past(b"?>", m.end())  # processing instruction or the XML declaration
        if self.structure is not None and self.structure.doubt is None:  # <!ELEMENT & co. outside a DTD
            self.structure.doubt = f"markup declaration at byte {self.offset(s)} outside a DOCTYPE"
        return m.end()

    def file_reference(self, s: int) -> int:
        if not (self.pin or self.lom):
            return s + 14  # not footage nor output: nothing to do (attribute values hold no "<")
        m = _WHOLE_TAG.match(self.buf, s)
        if m:
            end = m.end()
            attrs: List[TagAttr] = []
            for name, pattern in _WANTED_ATTRS:
                a = pattern.search(self.buf, m.start(1), m.end(1))
                if a is not None:
                    g = 1 if a.group(1) is not None else 2
                    attrs.append((name, a.start(g), a.end(g), b'"' if g == 1 else b"'"))
        else:
            attrs, end = self.parse_tag(s, len(b"fileReference"))
        values = {name: (vs, ve, q) for name, vs, ve, q in attrs}
        if b"fullpath" not in values:
            return end
        vs, ve, q = values[b"fullpath"]
        raw = self.text(self.buf[vs:ve], vs)
        if self.lom:
            self.context = "output"
        else:
            folder = b"target_is_folder" in values and self.buf[values[b"target_is_folder"][0]:
                                                                  values[b"target_is_folder"][1]] == b"1"
            self.context = "sequence" if folder else "footage"
        changes = self.result.changes
        before = len(changes)
        new_raw = map_xml_value(raw, self.mapped, q.decode("ascii"),
                                f"{self.context} fileReference at byte {self.offset(vs)}", changes)
        if new_raw is None:
            return end
        edits = [(vs, ve, new_raw.encode("utf-8"))]
        if b"platform" in values:
            ps, pe, _ = values[b"platform"]
            want = ae_platform(changes[before].new).encode("ascii")
            if self.buf[ps:pe] != want:
                edits.append((ps, pe, want))
        for start, stop, data in sorted(edits):
            self.replace(start, stop, data)
        return end

    def string(self, s: int, ts: int) -> int:
        """A ``<string>``: an expression when the element just before it is a ``<cdat>`` (docs/formats.md §1)."""
        buf = self.buf
        k = s
        while k > 0 and buf[k - 1] in _WS:
            k -= 1
        if buf[k - 2:k] == b"/>":
            lt = buf.rfind(b"<", 0, k)
            if lt < 0 or not _CDAT_START.match(buf, lt):
                return ts
        elif buf[k - 7:k] != b"</cdat>":
            return ts
        try:
            k = self.find_in_token(b"<", ts, ts, "expression <string>")
        except TokenTooLong:
            self.result.unsafe.append(f"expression at byte {self.offset(ts)} is longer than {self.max_token >> 20} MiB "
                                      "and was not inspected for paths")
            return self.skip_past(b"<", ts) - 1
        self.ensure(k, 9)
        if not self.buf.startswith(b"</string>", k):
            return k
        raw_bytes = self.buf[ts:k]
        if not (b"/" in raw_bytes or b"\\" in raw_bytes or b"&#" in raw_bytes):
            return k + 9
        where = f"expression at byte {self.offset(ts)}"
        cached = self.expressions.get(raw_bytes)
        if cached is None:
            raw = self.text(raw_bytes, ts)
            entity_quotes = ('"' if "&quot;" in raw else "") + ("'" if "&apos;" in raw else "")
            self.context = "expression"
            found: List[Change] = []
            new = map_js_source(xml_units(raw), self.mapped, xml_escaper(None, entity_quotes), where, found)
            cached = (None if new is None else new.encode("utf-8"), [(c.old, c.new) for c in found])
            if len(raw_bytes) <= 4096 and len(self.expressions) < 1024:
                self.expressions[raw_bytes] = cached
        new_bytes, pairs = cached
        self.result.changes.extend(Change(where, old, new) for old, new in pairs)
        if new_bytes is not None:
            self.replace(ts, k, new_bytes)
        return k + 9

    def hex_chunk(self, s: int, name: str) -> int:
        try:
            attrs, end = self.parse_tag(s, 4)
        except TokenTooLong:
            self.result.unsafe.append(f"hex <{name}> chunk at byte {self.offset(s)} is longer than "
                                      f"{self.max_token >> 20} MiB and was not inspected for paths")
            return self.skip_past(b">", s)
        for attr, vs, ve, _ in attrs:
            if attr != b"bdata":
                continue
            try:
                data = bytes.fromhex(self.buf[vs:ve].decode("ascii"))
            except ValueError:
                return end
            kind = "expression" if name == "expr" else "text-layer"
            if name == "expr":
                texts = [data.split(b"\0", 1)[0].decode("utf-8", "replace")]
            else:
                texts = pdf_text_strings(data)
            found: List[Change] = []
            self.context = kind
            for t in texts:
                map_text(t, self.mapped, kind, found)
            for ch in found:
                self.result.unsafe.append(
                    f"{kind} hex <{name}> chunk at byte {self.offset(s)} references {ch.old!r} "
                    f"(would map to {ch.new!r}); not rewritten: edit it in After Effects")
        return end


def pdf_text_strings(data: bytes) -> List[str]:
    """The UTF-16 text strings of a text layer's ``btdk`` data: PDF-like literal strings ``(\\xfe\\xff...)`` whose
    bytes may be escaped with a backslash."""
    texts = []
    start = data.find(b"(\xfe\xff")
    while start >= 0:
        i, n = start + 3, len(data)
        raw = bytearray()
        while i < n:
            b = data[i]
            if b == 0x5C and i + 1 < n:  # backslash escape: the next byte is literal
                raw.append(data[i + 1])
                i += 2
                continue
            if b == 0x29 and len(raw) % 2 == 0:  # ")" on a character boundary ends the string
                break
            raw.append(b)
            i += 1
        texts.append(bytes(raw).decode("utf-16-be", "replace"))
        start = data.find(b"(\xfe\xff", i)
    return texts
