"""Byte-exact, streaming path conversion of After Effects XML projects (.aepx): the converter's entry points.

Re-serialising the XML tree changes bytes (quoting, attribute order, entities, whitespace), so the converter never
builds one. It streams the file in blocks and rewrites only the few places paths live (docs/formats.md §1); everything
else is copied byte for byte, including a fileReference's ``server_name``, ``server_volume_name`` and
``ascendcount_*`` (After Effects' fallbacks when ``fullpath`` is not found; rewriting them would be a guess).

The parts:

- ``remap.aepx_scanner``: the pass (which markup holds a path, how each is mapped, what is only reported);
- ``remap.aepx_stream``: the block buffer and the byte-exact output. Unchanged spans go through
  ``remap.copyout.SpanWriter``: when input and output are real files, they are copied by the kernel
  (``copy_file_range``, with fallbacks) and write-back of the output starts as it grows, so the atomic write's final
  fsync has little left to wait for (that overlap is most of what the converter gained in speed;
  benchmarks/bench_remap.py);
- ``remap.aepx_check``: encoding and well-formedness. By default the pass itself checks structure cheaply (UTF-8,
  no NUL, the root's end tag last), which catches truncated, binary, mis-encoded and entity-laden input; libxml2 is
  asked only when that check fails. The full libxml2 check costs about 1.5x the conversion's own CPU time, so it is
  optional (``xml_check="full"``, ``aefarm remap --xml-check full``): it parses the same file in a child process, in
  constant memory, beside the scanner on a second core. DOCTYPE declarations are refused outright (After Effects
  never writes one; they are how entity-expansion attacks arrive).
"""
from __future__ import annotations

import re
from pathlib import Path
from typing import BinaryIO, Optional, Union

from remap.aepx_check import XmlValidator, first_invalid_utf8, xml_error
from remap.aepx_scanner import AepxResult, AepxScanner, Visit
from remap.errors import RemapError
from remap.textpaths import MapPath

XML_CHECKS = ("fast", "full", "none")


def convert_aepx_stream(src: BinaryIO, out: Optional[BinaryIO], map_path: MapPath, where: str = "input",
                        visit: Optional[Visit] = None, structure: bool = True) -> AepxResult:
    """Copy ``src`` to ``out`` with paths mapped. With ``structure``, a failed structural check raises RemapError
    (there is no file to hand libxml2 here; ``convert_aepx`` does that)."""
    result = AepxScanner(src, out, map_path, where, visit, structure).run()
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
    validator = XmlValidator(path) if xml_check == "full" else None
    try:
        with open(path, "rb") as f:
            result = AepxScanner(f, out, map_path, str(path), visit, structure=xml_check != "none").run()
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
