"""Is an .aepx readable and well-formed? The checks the .aepx converter (``remap.aepx``) runs around its pass.

Four checks, from cheapest to dearest:

- ``check_head``: the first block's encoding. UTF-16/32 (with or without BOM) and non-UTF-8 declarations are refused
  before anything is read further (After Effects writes UTF-8; the byte scanner reads nothing else).
- ``StructureCheck``: done by the converter's pass on each block, at C speed (UTF-8, no NUL, the root's end tag
  last). It catches truncated, binary, mis-encoded and entity-laden input; when it doubts, libxml2 decides.
- ``xml_error``: libxml2's verdict (lxml, entities off, no network, huge attributes allowed, no tree built: constant
  memory). It costs about 1.5x the conversion's own CPU time (benchmarks/bench_remap.py).
- ``XmlValidator``: ``xml_error`` in a child Python process, so the full check (``xml_check="full"``, ``aefarm
  remap --xml-check full``) runs beside the scanner on a second core.

``first_invalid_utf8`` names the byte offset of bad UTF-8 in an error message.
"""
from __future__ import annotations

import codecs
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Optional, Union

from remap.errors import RemapError

IN_PROCESS_CHECK_MAX = 8 << 20  # smaller files are checked in-process after the pass (no child process)
_UTF8_PIECE = 16 << 10  # a block holding non-ASCII is UTF-8-checked in pieces this long (see StructureCheck.block)
_READ_BLOCK = 1 << 18  # first_invalid_utf8 reads the file in blocks this long
_DECL = re.compile(rb"<\?xml[^>]*?encoding\s*=\s*[\"']([A-Za-z0-9._-]+)[\"']")
_UTF8_NAMES = {b"utf-8", b"utf8", b"us-ascii", b"ascii"}


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


class StructureCheck:
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
        self.doubt: Optional[str] = None  # why well-formedness is doubted (the scanner adds its own doubts here)

    def block(self, data: Union[bytes, bytearray], offset: int, final: bool) -> Optional[int]:
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
        """Why the file is doubted, given its last bytes (``tail``), or None."""
        if self.doubt is None and not self._ROOT_END.search(tail[-4096:]):
            self.doubt = "the file does not end with </AfterEffectsProject> (truncated?)"
        return self.doubt


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


_CHILD_CODE = "import sys; from remap.aepx_check import xml_error; e = xml_error(sys.argv[1]); print(e or ''); " \
              "sys.exit(1 if e else 0)"


class XmlValidator:
    """Checks well-formedness beside the converter, on another core.

    lxml holds the GIL for much of a parse, so a thread would serialise with the scanner; a child Python process
    runs truly in parallel. Small files, or when no child can be started (a frozen interpreter), are checked
    in-process at the end.
    """

    def __init__(self, path: Path) -> None:
        self._path = path
        self._proc: Optional[subprocess.Popen[bytes]] = None
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
        """libxml2's verdict (see ``xml_error``); waits for the child process."""
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


def first_invalid_utf8(path: Union[str, Path]) -> Optional[int]:
    """Byte offset of the first invalid UTF-8 sequence in the file, or None (to name the place in an error)."""
    decoder = codecs.getincrementaldecoder("utf-8")()
    offset = 0
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(_READ_BLOCK), b""):
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
