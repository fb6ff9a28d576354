"""Byte-exact, streaming path conversion of After Effects XML projects (.aepx).

Re-serialising the XML tree changes bytes (quoting, attribute order, entities, whitespace), so the converter never
builds one. It streams the file in blocks and looks for the few places paths live (FORMATS.md §1):

- ``<fileReference ... fullpath="...">`` below ``<Pin>`` (footage) or ``<LOm>`` (render-queue output): the value is
  mapped; ``platform`` is set to ``Win``/``MacPOSIX`` when the mapped path's OS differs;
- the ``<string>`` right after a ``<cdat>`` element (an expression): paths in its JavaScript string literals are
  mapped (JavaScript-escaped inside XML-escaped text);
- ``<expr bdata>`` (older hex expressions) and ``<btdk bdata>`` (text-layer data) are decoded and *reported* when they
  hold a path a rule maps; they are never rewritten (their lengths are part of the binary data).

Everything else is copied byte for byte, including a fileReference's ``server_name``, ``server_volume_name`` and
``ascendcount_*`` (After Effects' fallbacks when ``fullpath`` is not found; rewriting them would be a guess).
Markup is recognised by ``<``, which well-formed XML only allows as the start of markup, with comments, CDATA
sections and processing instructions skipped whole; a marker cut by a block boundary is found because the bytes from
the last ``<`` of a block on are carried into the next.

Output goes through ``remap.copyout.SpanWriter``: when input and output are real files, unchanged spans are copied
by the kernel (``copy_file_range``, with fallbacks) and write-back of the output starts as it grows, so the atomic
write's final fsync has little left to wait for (that overlap is most of what the converter gained in speed;
benchmarks/bench_remap.py).

By default the pass itself checks structure cheaply (``_Structure``: UTF-8, no NUL, the root's end tag last), which
catches truncated, binary, mis-encoded and entity-laden input; libxml2 is asked only when that check fails. The full
libxml2 check costs about 1.5x the conversion's own CPU time (benchmarks/bench_remap.py), so it is optional.

Well-formedness is checked by libxml2 (lxml, entities off, no network, huge attributes allowed) parsing the same file
in a child process (see ``_Validator``): it builds no tree, so it runs beside the scanner on a second core in
constant memory, with ``xml_check="full"`` (``aefarm remap --xml-check full``). DOCTYPE
declarations are refused outright (After Effects never writes one; they are how entity-expansion attacks arrive).
"""
from __future__ import annotations

import codecs
import os
import re
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO, Callable, Dict, List, Optional, Tuple, Union

from remap.copyout import SpanWriter
from remap.errors import RemapError
from remap.paths import ae_platform
from remap.text import Change, MapPath, map_js_source, map_text, map_xml_value, xml_escaper, xml_units

BLOCK = 1 << 18  # 256 KiB: fits in L2 cache; the pass is as fast or faster than with larger blocks
CHANGES_KEPT = 10_000  # changes listed in a result; the count stays exact (a result's memory must not grow with
# the project)
IN_PROCESS_CHECK_MAX = 8 << 20  # smaller files are checked in-process after the pass (no child process)
MAX_TOKEN = 16 << 20  # longest fileReference tag / expression / hex chunk we will hold in memory
_UTF8_PIECE = 16 << 10  # a block holding non-ASCII is UTF-8-checked in pieces this long (see _Structure.block)
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
_TERM_NAMES = {b"-->": "comment", b"]]>": "CDATA section", b"?>": "processing instruction", b">": "tag",
               b"</cdat>": "<cdat> element"}
_ATTR = re.compile(rb"\s+([A-Za-z_:][\w:.\-]*)\s*=\s*([\"'])")
_TAG_END = re.compile(rb"\s*(/?)>")
_DECL = re.compile(rb"<\?xml[^>]*?encoding\s*=\s*[\"']([A-Za-z0-9._-]+)[\"']")
_UTF8_NAMES = {b"utf-8", b"utf8", b"us-ascii", b"ascii"}

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


def xml_error(path: Union[str, Path]) -> Optional[str]:
    """libxml2's verdict on the file at ``path``: None when well-formed, else the first error as one line.

    Entities are not resolved, nothing is fetched, huge attribute values are allowed, and the empty parser target
    means no tree is built (constant memory whatever the file size).
    """
    from lxml import etree

    class _Nothing:
        def close(self) -> None:
            return None

    parser = etree.XMLParser(target=_Nothing(), resolve_entities=False, no_network=True, huge_tree=True,
                             load_dtd=False, collect_ids=False)
    try:
        etree.parse(str(path), parser)
    except etree.XMLSyntaxError as exc:
        line = f" (line {exc.lineno})" if getattr(exc, "lineno", None) else ""
        return " ".join(str(getattr(exc, "msg", exc)).split()) + line
    except Exception as exc:  # noqa: BLE001 - any parser failure is a bad-input verdict
        return " ".join(str(exc).split()) or type(exc).__name__
    return None


_CHILD_CODE = "import sys; from remap.aepx import xml_error; e = xml_error(sys.argv[1]); print(e or ''); " \
              "sys.exit(1 if e else 0)"


class _Validator:
    """Checks well-formedness beside the converter, on another core.

    lxml holds the GIL for much of a parse, so a thread would serialise with the scanner; a child Python process
    runs truly in parallel. Small files, or when no child can be started (a frozen interpreter), are checked
    in-process at the end.
    """

    def __init__(self, path: Path) -> None:
        self._path = path
        self._proc: Optional[subprocess.Popen] = None
        try:
            small = path.stat().st_size < IN_PROCESS_CHECK_MAX
        except OSError:
            small = True
        if small:
            return  # starting a Python costs more than parsing a small file here, afterwards
        env = dict(os.environ)
        root = str(Path(__file__).resolve().parents[1])
        env["PYTHONPATH"] = root + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
        env["PYTHONIOENCODING"] = "utf-8"
        try:
            self._proc = subprocess.Popen([sys.executable, "-c", _CHILD_CODE, str(path)], env=env,
                                          stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                          stderr=subprocess.PIPE)
        except OSError:
            self._proc = None

    def result(self) -> Optional[str]:
        if self._proc is None:
            return xml_error(self._path)
        out, err = self._proc.communicate()
        if self._proc.returncode == 0:
            return None
        text = out.decode("utf-8", "replace").strip()
        if self._proc.returncode == 1 and text:
            return " ".join(text.split())
        # the checker itself failed (no lxml in that interpreter?): check in-process instead
        return xml_error(self._path)

    def cancel(self) -> None:
        if self._proc is not None and self._proc.poll() is None:
            self._proc.kill()
            self._proc.communicate()


def check_head(head: bytes, where: str) -> None:
    """Refuse encodings the byte scanner cannot read: UTF-16/32 (with or without BOM) and non-UTF-8 declarations."""
    if head.startswith((b"\xff\xfe", b"\xfe\xff")) or head.startswith((b"\x00\x00\xfe\xff",)):
        raise RemapError(f"{where}: UTF-16/32 .aepx is not supported (After Effects writes UTF-8); save it as UTF-8")
    if b"\0" in head[:512]:
        if re.match(rb"\s*(?:<\x00|\x00<)", head):
            raise RemapError(f"{where}: looks like UTF-16 without a byte-order mark; .aepx must be UTF-8")
        raise RemapError(f"{where}: binary data (NUL bytes) where XML was expected")
    body = head[3:] if head.startswith(b"\xef\xbb\xbf") else head
    m = _DECL.match(body)
    if m and m.group(1).lower() not in _UTF8_NAMES:
        raise RemapError(f"{where}: declared encoding {m.group(1).decode('ascii')!r} is not supported "
                         "(After Effects writes UTF-8)")


class _Structure:
    """A cheap well-formedness check done during the pass, at C speed per block.

    It proves every byte is UTF-8 (pure-ASCII blocks are passed by ``bytes.isascii``), that no NUL byte (never legal
    in XML; the mark of zero-filled or binary damage) occurs, and that the file ends with the root's end tag, which a
    truncated file does not. Together with the scanner's own refusals (DOCTYPE, unknown ``<!`` declarations, tags cut
    off at the end, undecodable values) that covers the damage seen in practice; libxml2 gives the verdict and the
    message when this check fails. It does not prove well-formedness (mismatched tag names pass); the full check
    (``xml_check="full"``) does. Counting tags to check balance was measured and rejected: ``bytes.count`` runs at
    about 1 GB/s, which alone would cost more than the rest of the pass.
    """

    _ROOT_END = re.compile(rb"</(?:[A-Za-z_][\w.\-]*:)?AfterEffectsProject\s*>\s*\Z")

    def __init__(self) -> None:
        self.decoder = codecs.getincrementaldecoder("utf-8")()
        self.doubt: Optional[str] = None

    def block(self, data: bytes, offset: int, final: bool) -> Optional[int]:
        """None when ``data`` (at file ``offset``) continues valid UTF-8, else the offset of the first bad byte."""
        nul = data.find(b"\0") if self.doubt is None else -1
        if nul >= 0:
            self.doubt = f"NUL byte at byte {offset + nul}"
        pending = len(self.decoder.getstate()[0])
        if data.isascii() and not pending and not final:
            return None
        if final or len(data) <= _UTF8_PIECE:
            try:
                self.decoder.decode(data, final)
            except UnicodeDecodeError as exc:
                return offset - pending + exc.start
            return None
        # Non-ASCII somewhere (a name or a path): decode only the pieces that hold it. Decoding builds a str of the
        # whole input, which costs far more than ``isascii``; an ASCII piece with no sequence pending is valid as is.
        for a in range(0, len(data), _UTF8_PIECE):
            piece = data[a:a + _UTF8_PIECE]
            if not pending and piece.isascii():
                continue
            try:
                self.decoder.decode(piece)
            except UnicodeDecodeError as exc:
                return offset + a - pending + exc.start
            pending = len(self.decoder.getstate()[0])
        return None

    def verdict(self, tail: bytes) -> Optional[str]:
        if self.doubt is None and not self._ROOT_END.search(tail[-4096:]):
            self.doubt = "the file does not end with </AfterEffectsProject> (truncated?)"
        return self.doubt


class _TokenTooLong(RemapError):
    """A tag or text we must hold in memory to map is longer than MAX_TOKEN."""


class _Scanner:
    """One pass over an .aepx: copies bytes to ``out`` (None for a scan) and rewrites mapped values."""

    def __init__(self, src: BinaryIO, out: Optional[BinaryIO], map_path: MapPath, where: str,
                 visit: Optional[Visit] = None, structure: bool = True) -> None:
        self.src = src
        self.out = out
        self.sink = SpanWriter(src, out) if out is not None else None
        self.user_map = map_path
        self.where = where
        self.visit = visit
        self.buf = b""
        self.base = 0  # file offset of buf[0]
        self.done = 0  # buf[:done] has been written (or decided)
        self.eof = False
        self.pin = 0
        self.lom = 0
        self.context = "expression"
        self.result = AepxResult()
        # cheap structural check (see _Structure)
        self.structure = _Structure() if structure else None
        # projects repeat the same expression on many layers: map each distinct (short) text once
        self.expressions: Dict[bytes, Tuple[Optional[bytes], List[Tuple[str, str]]]] = {}

    # -- buffer plumbing -------------------------------------------------------------------------------------
    def fill(self) -> bool:
        if self.eof:
            return False
        data = self.src.read(BLOCK)
        if self.structure is not None:
            bad = self.structure.block(data, self.base + len(self.buf), final=not data)
            if bad is not None:
                raise RemapError(f"{self.where}: invalid UTF-8 at byte {bad} (.aepx files are UTF-8)")
        if not data:
            self.eof = True
            return False
        self.buf = self.buf + data if self.buf else data
        return True

    def emit_upto(self, i: int) -> None:
        if i > self.done:
            if self.sink is not None:
                self.sink.copy(self.base + self.done, memoryview(self.buf)[self.done:i])
            self.done = i

    def replace(self, start: int, end: int, raw: bytes) -> None:
        self.emit_upto(start)
        if self.sink is not None:
            self.sink.write(raw)
        self.done = end

    def compact(self) -> int:
        """Drop what has been written; returns the shift to subtract from indices into the old buffer."""
        shift = self.done
        if shift:
            self.buf = self.buf[shift:]
            self.base += shift
            self.done = 0
        return shift

    def keep_from(self, i: int) -> int:
        """Where to cut the buffer before ``i``: at the last tag start, so that a ``<string>`` can still look back at
        the element before it (an expression follows a ``<cdat>``); unless that tag is huge."""
        lt = self.buf.rfind(b"<", self.done, i)
        return lt if lt >= 0 and i - lt <= MAX_TOKEN else i

    def offset(self, i: int) -> int:
        return self.base + i

    def truncated(self, what: str, i: int) -> RemapError:
        return RemapError(f"{self.where}: truncated XML: {what} at byte {self.offset(i)} is never closed")

    def skip_past(self, term: bytes, i: int) -> int:
        """Index just after the next ``term`` at or after ``i``, streaming out (and dropping) what lies before."""
        start = i
        while True:
            j = self.buf.find(term, i)
            if j >= 0:
                return j + len(term)
            keep = max(i, len(self.buf) - len(term) - 8, self.done)
            self.emit_upto(keep)
            shift = self.compact()
            i, start = keep - shift, max(0, start - shift)
            if not self.fill():
                raise self.truncated(_TERM_NAMES.get(term, "markup"), start)

    def ensure(self, i: int, n: int) -> None:
        """Make ``buf[i:i+n]`` available unless the file ends first."""
        while len(self.buf) < i + n and self.fill():
            pass

    def find_in_token(self, needle: bytes, i: int, start: int, what: str) -> int:
        """Index of ``needle`` at or after ``i``, growing the buffer (never dropping ``start``) up to MAX_TOKEN."""
        while True:
            j = self.buf.find(needle, i)
            if j >= 0:
                return j
            if len(self.buf) - start > MAX_TOKEN:
                raise _TokenTooLong(f"{self.where}: {what} at byte {self.offset(start)} is longer than "
                                    f"{MAX_TOKEN >> 20} MiB; not supported")
            i = max(i, len(self.buf) - len(needle))
            if not self.fill():
                raise self.truncated(what, start)

    def parse_tag(self, start: int, name_len: int) -> Tuple[List[Tuple[bytes, int, int, bytes]], int]:
        """Attributes (name, value start, value end, quote) of the tag at ``start`` and the index after its ``>``."""
        attrs = []
        i = start + 1 + name_len
        what = f"<{self.buf[start + 1:start + 1 + name_len].decode('ascii', 'replace')}> tag"
        while True:
            self.ensure(i, 512)
            m = _ATTR.match(self.buf, i)
            if m:
                q = m.group(2)
                vs = m.end()
                ve = self.find_in_token(q, vs, start, what)
                attrs.append((m.group(1), vs, ve, q))
                i = ve + 1
                continue
            m = _TAG_END.match(self.buf, i)
            if m:
                return attrs, m.end()
            if self.eof and len(self.buf) - i < 512:
                raise self.truncated(what, start)
            raise RemapError(f"{self.where}: malformed {what} at byte {self.offset(start)}")

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
            if pos > BLOCK:  # everything before pos is final: write it and keep the buffer small
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
            attrs = []
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
        for a, b, data in sorted(edits):
            self.replace(a, b, data)
        return end

    def string(self, s: int, ts: int) -> int:
        """A ``<string>``: an expression when the element just before it is a ``<cdat>`` (FORMATS.md §1)."""
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
        except _TokenTooLong:
            self.result.unsafe.append(f"expression at byte {self.offset(ts)} is longer than {MAX_TOKEN >> 20} MiB "
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
        except _TokenTooLong:
            self.result.unsafe.append(f"hex <{name}> chunk at byte {self.offset(s)} is longer than "
                                      f"{MAX_TOKEN >> 20} MiB and was not inspected for paths")
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


XML_CHECKS = ("fast", "full", "none")


def convert_aepx_stream(src: BinaryIO, out: Optional[BinaryIO], map_path: MapPath, where: str = "input",
                        visit: Optional[Visit] = None, structure: bool = True) -> AepxResult:
    """Copy ``src`` to ``out`` with paths mapped. With ``structure``, a failed structural check raises RemapError
    (there is no file to hand libxml2 here; ``convert_aepx`` does that)."""
    result = _Scanner(src, out, map_path, where, visit, structure).run()
    if result.suspect:
        raise RemapError(f"{where}: not well-formed XML: {result.suspect}")
    return result


def convert_aepx(src: Union[str, Path], out: Optional[BinaryIO], map_path: MapPath, xml_check: str = "fast",
                 visit: Optional[Visit] = None) -> AepxResult:
    """Convert the .aepx at ``src`` into ``out`` (an open binary file; None to only look).

    ``xml_check``: ``fast`` (default) checks UTF-8, NUL bytes and the closing root tag during the pass and asks
    libxml2 only when that check fails; ``full`` also runs libxml2 over the whole file in parallel (catches every
    malformation, at about 1.5x the conversion's CPU time); ``none`` checks nothing beyond what the scanner meets.
    Any problem raises RemapError, and the caller must then discard what was written to ``out``.
    """
    if xml_check not in XML_CHECKS:
        raise ValueError(f"xml_check must be one of {XML_CHECKS}, not {xml_check!r}")
    path = Path(src)
    validator = _Validator(path) if xml_check == "full" else None
    try:
        with open(path, "rb") as f:
            result = _Scanner(f, out, map_path, str(path), visit, structure=xml_check != "none").run()
    except BaseException:
        if validator is not None:
            validator.cancel()
        raise
    error = validator.result() if validator is not None else None
    if error is None and result.suspect:
        error = xml_error(path)  # the cheap check only doubts: libxml2 decides, and names the problem
    if error:
        bad = first_invalid_utf8(path)
        if bad is not None:
            raise RemapError(f"{path}: invalid UTF-8 at byte {bad} (.aepx files are UTF-8)")
        error = re.sub(r"^Error reading file '.*?': ", "", error)
        raise RemapError(f"{path}: not well-formed XML: {error}")
    result.suspect = None
    return result


def first_invalid_utf8(path: Union[str, Path]) -> Optional[int]:
    """Byte offset of the first invalid UTF-8 sequence in the file, or None (to name the place in an error)."""
    decoder = codecs.getincrementaldecoder("utf-8")()
    offset = 0
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(BLOCK), b""):
            pending = len(decoder.getstate()[0])  # bytes of a sequence cut by the previous block
            try:
                decoder.decode(block)
            except UnicodeDecodeError as exc:
                return offset - pending + exc.start
            offset += len(block)
        try:
            decoder.decode(b"", final=True)
        except UnicodeDecodeError:
            return offset
    return None
