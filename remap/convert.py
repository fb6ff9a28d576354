"""Convert one project or text file: pick the converter by content, name the output, write it atomically.

Farm nodes that convert the same project with the same rules at the same time must produce the same file and may
rename over each other; a node that finds the conversion already done must not redo it. So, unless the caller names
the output, it is named from a digest of (input bytes, rules, target OS, converter version) and an existing file of
that name is reused. The input is only ever read.
"""
from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, List, Optional, Union

from aefarm_common.atomic import atomic_write
from aefarm_common.platforms import normalize_os
from remap.aepx import convert_aepx
from remap.errors import RemapError
from remap.paths import os_family, parse_path
from remap.rules import RuleSet
from remap.text import convert_text_bytes
from remap.textpaths import Change

CONVERTER_VERSION = "1"
REPORT_CHANGES_MAX = 1000  # a report lists at most this many changes (the count is always exact)

PathLike = Union[str, Path]

_AEPX_ROOT = re.compile(rb"<(?![?!])([A-Za-z_][\w.\-]*:)?AfterEffectsProject[\s/>]")
_FIRST_ELEMENT = re.compile(rb"<(?![?!])[A-Za-z_]")
_COMMENT = re.compile(rb"<!--.*?-->", re.S)


@dataclass
class ConvertResult:
    """What ``convert`` produced.

    ``output`` is the converted file (the input itself for a binary .aep that needs no mapping); ``kind`` is
    ``aepx``/``text``/``aep``; ``replaced`` counts rewritten references; ``cached`` says an earlier identical
    conversion was reused (then ``replaced`` is not known and is 0); ``unsafe`` lists references found but not
    rewritten (hex expression chunks, text layers); ``unmapped`` lists paths of another OS family than the target
    that no rule maps (only when a target OS was given).
    """

    output: Path
    kind: str
    replaced: int
    cached: bool
    unsafe: List[str] = field(default_factory=list)
    input: Optional[Path] = None
    changes: List[Change] = field(default_factory=list)
    unmapped: List[str] = field(default_factory=list)
    target_os: Optional[str] = None

    def summary(self) -> str:
        """One line saying what was done: a reused copy claims no count (it is not known), a binary .aep is used as
        it is (nothing was written)."""
        if self.cached:
            return f"reused earlier conversion {self.output} (made from the same input and rules)"
        if self.kind == "aep":
            return f"binary .aep needs no mapping; use it as it is: {self.output}"
        return f"mapped {self.replaced} reference(s) in {self.kind} -> {self.output}"

    def report(self) -> dict:
        return {
            "input": str(self.input) if self.input is not None else None,
            "output": str(self.output),
            "kind": self.kind,
            "replaced": self.replaced,
            "cached": self.cached,
            "target_os": self.target_os,
            "converter_version": CONVERTER_VERSION,
            "unsafe": list(self.unsafe),
            "unmapped": list(self.unmapped),
            "changes": [c.to_json() for c in self.changes[:REPORT_CHANGES_MAX]],
            "changes_truncated": self.replaced > min(len(self.changes), REPORT_CHANGES_MAX),
        }


def detect_kind(head: bytes) -> str:
    """``aep`` (binary RIFX project), ``aepx`` (XML whose root is AfterEffectsProject) or ``text``."""
    if len(head) >= 12 and head[:4] == b"RIFX" and head[8:12] == b"Egg!":
        return "aep"
    body = head[3:] if head.startswith(b"\xef\xbb\xbf") else head
    if body.lstrip()[:1] == b"<":
        body = _COMMENT.sub(b"", body)
        first = _FIRST_ELEMENT.search(body)
        if first is not None and _AEPX_ROOT.match(body, first.start()):
            return "aepx"
    return "text"


def _read_head(path: Path, size: int = 65536) -> bytes:
    with open(path, "rb") as f:
        return f.read(size)


def output_name(src: Path, rules: RuleSet, target_os: Optional[str]) -> str:
    """``<stem>.remap-<digest16><suffix>``: the same input, rules, target and converter give the same name."""
    digest = hashlib.sha256()
    digest.update(f"aefarm-remap\0{CONVERTER_VERSION}\0{rules.fingerprint()}\0{target_os or ''}\0".encode("utf-8"))
    with open(src, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return f"{src.stem}.remap-{digest.hexdigest()[:16]}{src.suffix}"


def _foreign_recorder(target_os: Optional[str], rules: RuleSet, sink: List[str]) -> Callable[[str], Optional[str]]:
    """``rules.map`` that also notes unmapped paths of the other OS family than ``target_os``."""
    if target_os is None:
        return rules.map
    family = os_family(target_os)
    seen = set()

    def map_path(path: str) -> Optional[str]:
        new = rules.map(path)
        if new is None and path not in seen:
            parsed = parse_path(path)
            if parsed is not None and parsed.family != family:
                seen.add(path)
                sink.append(path)
        return new
    return map_path


_AEP_FULLPATH = re.compile(rb'"fullpath"\s*:\s*"((?:[^"\\\r\n]|\\.){1,32768})"')


def _aep_needs_mapping(path: Path, rules: RuleSet) -> List[str]:
    """Paths in a binary .aep that a rule maps.

    After Effects keeps each file reference of a binary project as a small JSON record in an ``alas`` chunk
    (``{"fullpath": "C:\\\\x", "platform": "Win", ...}``); those records are read with a byte search. (If a version
    stores paths elsewhere, a needed mapping is missed and the project passes through unchanged; aerender then
    reports the missing footage.)
    """
    if not rules:
        return []
    hits: List[str] = []
    tail = b""
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            data = tail + block
            for m in _AEP_FULLPATH.finditer(data):
                try:
                    value = json.loads(b'"' + m.group(1) + b'"')
                except ValueError:
                    continue
                if rules.map(value) not in (None, value):
                    hits.append(value)
                    return hits
            tail = data[-65536:]
    return hits


def not_a_file_reason(path: Path) -> str:
    """Why ``path`` cannot be read as a project: a folder or a pipe is not "missing", and saying so helps."""
    if path.is_dir():
        return "is a folder, not a file"
    return "not a regular file" if path.exists() else "no such file"


def convert(src: PathLike, dst: Optional[PathLike] = None, rules: Optional[RuleSet] = None,
            target_os: Optional[str] = None, out_dir: Optional[PathLike] = None,
            xml_check: str = "fast") -> ConvertResult:
    """Convert ``src`` with ``rules`` into ``dst`` (or a deterministic name beside ``src``, or in ``out_dir``).

    ``target_os`` (windows/mac/linux) is part of the output name and turns on the report of unmapped paths of the
    other OS family. ``xml_check`` (``fast``/``full``/``none``) says how an .aepx is checked for well-formedness (see
    ``remap.aepx.convert_aepx``). Raises RemapError (exit code 2) for bad input; nothing is written then.
    """
    src = Path(src)
    rules = RuleSet() if rules is None else rules
    if target_os is not None:
        try:
            target_os = normalize_os(target_os)
        except ValueError as exc:
            raise RemapError(str(exc)) from None
    if not src.is_file():
        raise RemapError(f"{src}: {not_a_file_reason(src)}")
    kind = detect_kind(_read_head(src))
    if kind == "aep":
        hits = _aep_needs_mapping(src, rules)
        if hits:
            raise RemapError(f"{src}: binary .aep project references {hits[0]!r}, which the rules map; binary "
                             "projects cannot be rewritten safely: save it as .aepx (File > Save As > XML) and "
                             "convert that")
        return ConvertResult(output=src, kind="aep", replaced=0, cached=False, input=src, target_os=target_os)
    if kind == "text" and src.suffix.lower() == ".aep" and b"\0" in _read_head(src):
        raise RemapError(f"{src}: binary data that is not an After Effects project (no RIFX header; damaged?): "
                         "open it in After Effects and save it as .aepx (File > Save As > XML), then convert that")

    if dst is None:
        folder = Path(out_dir) if out_dir is not None else src.parent
        created = _make_folders(folder)
        target = folder / output_name(src, rules, target_os)
        if target.is_file():
            return ConvertResult(output=target, kind=kind, replaced=0, cached=True, input=src, target_os=target_os)
    else:
        target = Path(dst)
        if out_dir is not None and not target.is_absolute():
            target = Path(out_dir) / target
        created = _make_folders(target.parent)
    try:
        return _convert_to(src, target, kind, rules, target_os, xml_check)
    except BaseException:
        for folder in created:  # a failed conversion leaves no trace, not even the folders made for it
            try:
                folder.rmdir()
            except OSError:
                break
        raise


def _make_folders(folder: Path) -> List[Path]:
    """Create ``folder`` and its missing parents; return those created, deepest first (to undo on failure)."""
    missing = []
    for candidate in [folder, *folder.parents]:
        if candidate.exists() or candidate in missing:
            break
        missing.append(candidate)
    folder.mkdir(parents=True, exist_ok=True)
    return missing


def _convert_to(src: Path, target: Path, kind: str, rules: RuleSet, target_os: Optional[str],
                xml_check: str) -> ConvertResult:
    if target.is_dir():
        raise RemapError(f"{target}: is a folder; give an output file name (or --out-dir for a folder)")
    if target.exists() and target.resolve() == src.resolve():
        raise RemapError(f"{target}: the output would overwrite the input; choose another output")

    unmapped: List[str] = []
    map_path = _foreign_recorder(target_os, rules, unmapped)
    if kind == "aepx":
        with atomic_write(target) as out:
            result = convert_aepx(src, out, map_path, xml_check=xml_check)
        changes, unsafe, replaced = result.changes, result.unsafe, result.replaced
    else:
        converted = convert_text_bytes(src.read_bytes(), map_path, where=str(src))
        with atomic_write(target) as out:
            out.write(converted.data)
        changes, unsafe, replaced = converted.changes, [], len(converted.changes)
    return ConvertResult(output=target, kind=kind, replaced=replaced, cached=False, unsafe=list(unsafe),
                         input=src, changes=changes, unmapped=unmapped, target_os=target_os)
