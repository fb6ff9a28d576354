"""Stream an .aepx as XML events that keep the byte offsets of their values.

Why not lxml here: a template job (a data-driven variant of a project) rewrites single values through remap's
byte-exact writer, so the reader must say *where* each value sits (the byte span of a ``fullpath`` attribute, of a
layer name's text). lxml reports line numbers, not byte spans. This reader walks the markup itself, at C speed per
token (``bytes.find`` and compiled regular expressions), and keeps only what the caller asks for:

- the attributes of tags named in ``keep`` (the chunks the model decodes); every other tag is skipped by its
  delimiters without being held in memory, however long its ``bdata`` is;
- the text of elements named in ``text_in`` (``<string>``), with its span.

Safety, as in ``remap.aepx`` (docs/formats.md §1): a DOCTYPE is refused (After Effects never writes one; entity
declarations are how expansion attacks arrive), so only the five predefined entities and character references are
expanded; encodings other than UTF-8 are refused (``remap.aepx_check.check_head``); nothing is fetched. Memory stays at
one block plus the token being read (a kept tag or text longer than ``max_token`` is skipped and noted, not held).

Well-formedness checked: every end tag closes the element that is open, the file ends with the root closed, kept
tags have well-formed attributes, text and values are valid UTF-8 with defined entities. It is not a validating
parser: ``remap.aepx_check.xml_error`` (libxml2) gives the full verdict when a caller needs one.
"""
from __future__ import annotations

import re
from typing import BinaryIO, Dict, FrozenSet, Iterable, Iterator, List, NamedTuple, Optional, Set, Tuple

from aeproject.errors import ProjectError

BLOCK = 1 << 20
MAX_TOKEN = 64 << 20  # longest kept tag or text held in memory

START, END, TEXT = 1, 2, 3

_NAME = re.compile(rb"([A-Za-z_][\w.\-]*)(?::([A-Za-z_][\w.\-]*))?")
# the fast path of a start tag: its name, each attribute up to its opening quote (the value's end is found with
# bytes.find, at memchr speed: chunk values are long hex strings), then the tag's end
_OPEN = re.compile(rb"<([A-Za-z_][\w.\-]*(?::[A-Za-z_][\w.\-]*)?)")
# the two shapes almost every tag of an .aepx has: <name> and <name bdata="HEX"/>
_SIMPLE = re.compile(rb"<([A-Za-z_][\w.\-]*)(>| bdata=\")")
_ATTR_OPEN = re.compile(rb"\s+([A-Za-z_][\w.\-:]*)\s*=\s*([\"'])")
_CLOSE = re.compile(rb"\s*(/?)>")
_END_TAG = re.compile(rb"</([A-Za-z_][\w.\-:]*)\s*>")
_STOP = re.compile(rb"[\"'>]")
_REF = re.compile(r"&(?:(amp|lt|gt|quot|apos)|#([0-9]+)|#[xX]([0-9A-Fa-f]+));")
_BAD_AMP = re.compile(r"&(?!(?:amp|lt|gt|quot|apos|#[0-9]+|#[xX][0-9A-Fa-f]+);)")
_NAMED = {"amp": "&", "lt": "<", "gt": ">", "quot": '"', "apos": "'"}


class Attr(NamedTuple):
    """An attribute value, unescaped, and the file byte span ``[start, end)`` of its raw (escaped) text."""

    value: str
    start: int
    end: int


class Event(NamedTuple):
    """``kind`` START/END/TEXT; ``name`` the element's local name (a TEXT event names its element).

    START: ``attrs`` when the tag was kept (else None), ``start``/``end`` the tag's byte span.
    END: the end tag's span (for a self-closing tag, the same span as its START).
    TEXT: ``text`` unescaped, ``start``/``end`` the span of the raw text between the tags.
    ``depth``: how many elements enclose the element (its parent is ``Scanner.stack[depth - 1]``)."""

    kind: int
    name: str
    start: int
    end: int
    attrs: Optional[Dict[str, Attr]] = None
    text: Optional[str] = None
    depth: int = 0


class _TooLong(Exception):
    pass


def unescape(text: str, where: str) -> str:
    """Expand the predefined entities and character references; anything else is an error (no DTD, no others)."""
    if "&" not in text:
        return text
    bad = _BAD_AMP.search(text)
    if bad:
        snippet = text[bad.start():bad.start() + 12]
        raise ProjectError(f"{where}: undefined entity or bare '&' ({snippet!r})")

    def one(m: "re.Match[str]") -> str:
        if m.group(1):
            return _NAMED[m.group(1)]
        code = int(m.group(2)) if m.group(2) else int(m.group(3), 16)
        if code == 0 or code > 0x10FFFF or 0xD800 <= code <= 0xDFFF:
            raise ProjectError(f"{where}: character reference {m.group(0)} is not a legal XML character")
        return chr(code)

    return _REF.sub(one, text)


class Scanner:
    """One forward pass over ``src`` (a binary file). ``events()`` yields Events; ``stack`` holds the local names of
    the open elements and ``prev[i]`` the name of the last child that closed inside ``stack[i]`` (so a caller can
    tell "the ``<string>`` right after a ``<cdat>``"). ``notes`` collects what was skipped and why."""

    def __init__(self, src: BinaryIO, where: str, keep: Iterable[str], text_in: Iterable[str] = ("string",),
                 block: int = BLOCK, max_token: int = MAX_TOKEN) -> None:
        self.src = src
        self.where = where
        self.keep: Set[str] = set(keep)  # a caller may change it between events (keep a tag only in a context)
        self.text_in: FrozenSet[str] = frozenset(text_in)
        self.block = block
        self.max_token = max_token
        self.buf = b""
        self.base = 0  # file offset of buf[0]
        self.eof = False
        self.stack: List[str] = []
        self.prev: List[Optional[str]] = []
        self.notes: List[str] = []
        self._root = False
        self._text_from: Optional[int] = None  # file offset where the text of an open text_in element starts

    # -- buffer ----------------------------------------------------------------------------------------------
    def _fill(self) -> bool:
        if self.eof:
            return False
        data = self.src.read(self.block)
        if not data:
            self.eof = True
            return False
        self.buf = self.buf + data if self.buf else data
        return True

    def _drop(self, upto: int) -> int:
        """Forget ``buf[:upto]``; returns the shift to subtract from indices into the old buffer."""
        if upto <= 0:
            return 0
        self.buf = self.buf[upto:]
        self.base += upto
        return upto

    def _ensure(self, i: int, n: int) -> None:
        while len(self.buf) < i + n and self._fill():
            pass

    def _more(self, i: int, lt: int, keep: bool) -> Tuple[int, int]:
        """More input while looking at a token that started at ``lt``; a skipped token is not held."""
        if keep:
            if len(self.buf) - lt > self.max_token:
                raise _TooLong
        else:
            shift = self._drop(max(0, i - 1))  # keep one byte: the '/' of '/>' may be the last one
            i, lt = i - shift, lt - shift
        if not self._fill():
            raise self._truncated("tag", self.base + lt)
        return i, lt

    def _truncated(self, what: str, offset: int) -> ProjectError:
        return ProjectError(f"{self.where}: {what} at byte {offset} is cut off: the file ends first (truncated?)")

    # -- the pass --------------------------------------------------------------------------------------------
    def events(self) -> Iterator[Event]:
        from remap.aepx_check import check_head
        from remap.errors import RemapError

        self._ensure(0, 4096)
        try:
            check_head(self.buf[:4096], self.where)
        except RemapError as exc:
            raise ProjectError(str(exc)) from None
        pos = 0
        stack, prev, keep, text_in = self.stack, self.prev, self.keep, self.text_in
        names: Dict[bytes, str] = {}
        while True:
            buf = self.buf
            lt = buf.find(b"<", pos)
            if lt < 0:
                keep_from = len(buf)
                if self._text_from is not None:
                    keep_from = self._text_from - self.base
                    if len(buf) - keep_from > self.max_token:
                        self.notes.append(f"text at byte {self._text_from} longer than {self.max_token >> 20} MiB "
                                          "was skipped")
                        self._text_from, keep_from = None, len(buf)
                self._drop(keep_from)
                pos = len(self.buf)  # what is left is the pinned text: no '<' in it
                if not self._fill():
                    break
                continue
            if lt + 2 > len(buf):
                self._ensure(lt, 16)
                buf = self.buf
            if self._text_from is not None:
                event = self._text_event(lt)
                if event is not None:
                    yield event
            c = buf[lt + 1] if lt + 1 < len(buf) else 0
            if c == 0x2F:  # '/': an end tag
                m = _END_TAG.match(buf, lt)
                if m is None or not stack or names.get(m.group(1)) != stack[-1]:
                    event, pos = self._end_tag(lt)  # cut off by the block, namespaced, or wrong: the careful way
                else:
                    name = stack.pop()
                    prev.pop()
                    if prev:
                        prev[-1] = name
                    pos = m.end()
                    event = Event(END, name, self.base + lt, self.base + pos, None, None, len(stack))
                yield event
            elif c == 0x3F:  # '?'
                pos = self._skip_past(b"?>", lt + 2)
            elif c == 0x21:  # '!'
                pos = self._declaration(lt)
            else:
                fast = self._fast_tag(buf, lt) if stack else None
                if fast is None:  # the root, a tag cut off by the block, a huge or malformed tag: the careful way
                    events, pos = self._start_tag(lt)
                    for event in events:
                        if event.kind == START:
                            names.setdefault(event.name.encode("ascii"), event.name)
                    yield from events
                else:
                    raw, spans, pos, closed = fast
                    name = names.get(raw) or names.setdefault(raw, raw.decode("ascii").rsplit(":", 1)[-1])
                    start, end, depth = self.base + lt, self.base + pos, len(stack)
                    attrs = self._attr_values(spans, name) if name in keep else None
                    yield Event(START, name, start, end, attrs, None, depth)
                    if closed:
                        prev[-1] = name
                        yield Event(END, name, start, end, None, None, depth)
                    else:
                        stack.append(name)
                        prev.append(None)
                        if name in text_in:
                            self._text_from = end
            if pos > self.block and self._text_from is None:
                pos -= self._drop(pos)
        if self.stack:
            raise ProjectError(f"{self.where}: the file ends inside <{self.stack[-1]}> (truncated?)")
        if not self._root:
            raise ProjectError(f"{self.where}: no XML element found: not an After Effects XML project")

    @staticmethod
    def _fast_tag(buf: bytes, lt: int) -> Optional[Tuple[bytes, List[Tuple[bytes, int, int]], int, bool]]:
        """(name, attribute spans, index after '>', self-closing) of a start tag wholly in ``buf``, else None."""
        simple = _SIMPLE.match(buf, lt)
        if simple is not None:
            if simple.group(2) == b">":
                return simple.group(1), [], simple.end(), False
            vs = simple.end()
            ve = buf.find(b'"', vs)
            if ve > 0:
                if buf.startswith(b"/>", ve + 1):
                    return simple.group(1), [(b"bdata", vs, ve)], ve + 3, True
                if buf.startswith(b">", ve + 1):
                    return simple.group(1), [(b"bdata", vs, ve)], ve + 2, False
        m = _OPEN.match(buf, lt)
        if m is None:
            return None
        i = m.end()
        spans = []
        while True:
            a = _ATTR_OPEN.match(buf, i)
            if a is None:
                break
            vs = a.end()
            ve = buf.find(a.group(2), vs)
            if ve < 0:
                return None
            spans.append((a.group(1), vs, ve))
            i = ve + 1
        e = _CLOSE.match(buf, i)
        if e is None:
            return None
        return m.group(1), spans, e.end(), bool(e.group(1))

    def _attr_values(self, spans: List[Tuple[bytes, int, int]], name: str) -> Dict[str, Attr]:
        attrs: Dict[str, Attr] = {}
        for raw_key, vs, ve in spans:
            key = raw_key.decode("ascii")
            if ":" in key and not key.startswith("xmlns"):
                key = key.rsplit(":", 1)[-1]
            attrs[key] = Attr(self._value(vs, ve, name), self.base + vs, self.base + ve)
        return attrs

    def _value(self, vs: int, ve: int, name: str) -> str:
        try:
            value = self.buf[vs:ve].decode("utf-8")
        except UnicodeDecodeError as exc:
            raise ProjectError(f"{self.where}: invalid UTF-8 at byte {self.base + vs + exc.start}") from None
        if "\r" in value or "\n" in value or "\t" in value:  # attribute-value normalization (XML 1.0 §3.3.3)
            value = value.replace("\r\n", " ").replace("\r", " ").replace("\n", " ").replace("\t", " ")
        return unescape(value, f"{self.where}: <{name}> at byte {self.base + vs}")

    def _text_event(self, lt: int) -> Optional[Event]:
        start = self._text_from
        assert start is not None
        self._text_from = None
        if not self.buf.startswith(b"</", lt):
            return None  # markup inside the element: not a plain text value
        raw = self.buf[start - self.base:lt]
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise ProjectError(f"{self.where}: invalid UTF-8 at byte {start + exc.start}") from None
        if "\r" in text:
            text = text.replace("\r\n", "\n").replace("\r", "\n")
        text = unescape(text, f"{self.where}: text at byte {start}")
        return Event(TEXT, self.stack[-1] if self.stack else "", start, self.base + lt, None, text,
                     len(self.stack) - 1)

    def _skip_past(self, term: bytes, i: int) -> int:
        while True:
            j = self.buf.find(term, i)
            if j >= 0:
                return j + len(term)
            cut = max(0, len(self.buf) - len(term))
            i = cut - self._drop(cut)
            if not self._fill():
                raise self._truncated("markup", self.base)

    def _declaration(self, lt: int) -> int:
        self._ensure(lt, 16)
        head = self.buf[lt:lt + 9]
        if head.startswith(b"<!--"):
            return self._skip_past(b"-->", lt + 4)
        if head.startswith(b"<![CDATA["):
            return self._skip_past(b"]]>", lt + 9)
        if head.startswith(b"<!DOCTYPE"):
            raise ProjectError(f"{self.where}: DOCTYPE declaration at byte {self.base + lt} refused (After Effects "
                               "never writes one; entity declarations are unsafe)")
        raise ProjectError(f"{self.where}: markup declaration at byte {self.base + lt} outside a DOCTYPE")

    def _end_tag(self, lt: int) -> Tuple[Event, int]:
        self._ensure(lt, 512)
        m = _END_TAG.match(self.buf, lt)
        if m is None:
            if self.eof and b">" not in self.buf[lt:]:
                raise self._truncated("end tag", self.base + lt)
            raise ProjectError(f"{self.where}: malformed end tag at byte {self.base + lt}")
        name = m.group(1).decode("ascii").rsplit(":", 1)[-1]
        if not self.stack or self.stack[-1] != name:
            open_name = f"<{self.stack[-1]}>" if self.stack else "no open element"
            raise ProjectError(f"{self.where}: </{name}> at byte {self.base + lt} does not close {open_name} "
                               "(not well-formed)")
        self.stack.pop()
        self.prev.pop()
        if self.prev:
            self.prev[-1] = name
        return Event(END, name, self.base + lt, self.base + m.end(), depth=len(self.stack)), m.end()

    def _start_tag(self, lt: int) -> Tuple[List[Event], int]:
        self._ensure(lt, 512)
        m = _NAME.match(self.buf, lt + 1)
        if m is None:
            raise ProjectError(f"{self.where}: '<' at byte {self.base + lt} does not start a tag (not well-formed)")
        name = (m.group(2) or m.group(1)).decode("ascii")
        start = self.base + lt
        if not self.stack:
            if self._root:
                raise ProjectError(f"{self.where}: a second root element <{name}> at byte {start}")
            if name != "AfterEffectsProject":
                raise ProjectError(f"{self.where}: not an After Effects XML project (root element <{name}>)")
            self._root = True
        attrs: Optional[Dict[str, Attr]] = None
        name_end = m.end()
        if name in self.keep:
            try:
                gt, closed = self._tag_end(name_end, lt, keep=True)
                whole = self._fast_tag(self.buf, lt)  # the whole tag is in the buffer now
                if whole is None:
                    raise ProjectError(f"{self.where}: malformed <{name}> tag at byte {start}")
                attrs = self._attr_values(whole[1], name)
            except _TooLong:
                self.notes.append(f"<{name}> at byte {start} is longer than {self.max_token >> 20} MiB and was "
                                  "skipped")
                gt, closed = self._tag_end(name_end, lt, keep=False)
        else:
            gt, closed = self._tag_end(name_end, lt, keep=False)
        end = self.base + gt
        depth = len(self.stack)
        events = [Event(START, name, start, end, attrs, None, depth)]
        if closed:
            if self.prev:
                self.prev[-1] = name
            events.append(Event(END, name, start, end, depth=depth))
        else:
            self.stack.append(name)
            self.prev.append(None)
            if name in self.text_in:
                self._text_from = end
        return events, gt

    def _tag_end(self, i: int, lt: int, keep: bool) -> Tuple[int, bool]:
        """Index just after the tag's ``>`` (quotes respected) and whether it is self-closing."""
        while True:
            m = _STOP.search(self.buf, i)
            if m is None:
                i, lt = self._more(len(self.buf), lt, keep)
                continue
            j = m.start()
            if self.buf[j] == 0x3E:  # '>'
                return j + 1, j > 0 and self.buf[j - 1] == 0x2F
            quote = self.buf[j:j + 1]
            k = self.buf.find(quote, j + 1)
            while k < 0:  # a long value (a chunk's hex): read on; a skipped tag's value is not held
                resume, lt = self._more(len(self.buf), lt, keep)
                k = self.buf.find(quote, resume)
            i = k + 1
