"""List every path a project references, mapped or not, and whether it exists on this host.

Farm submitters need the list (accsyn ``dependencies``, Deadline asset references) and users need to see what a
conversion will miss before a render fails on a node. The scan reuses the converter's own reader (with no output),
so it lists exactly the places the converter would map, and nothing it would not.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, List, Optional, Tuple, Union

from aefarm_common.platforms import host_os
from remap.aepx import convert_aepx
from remap.convert import _read_head, detect_kind, not_a_file_reason
from remap.errors import RemapError
from remap.paths import os_family, parse_path, plain_path
from remap.rules import RuleSet
from remap.text import convert_text_bytes

KINDS = ("footage", "sequence", "output", "expression", "text-layer")


@dataclass(frozen=True)
class Reference:
    """One referenced path. ``exists`` is None when it cannot be told (text-layer text, relative paths)."""

    kind: str
    raw: str
    mapped: Optional[str]
    exists: Optional[bool]
    rule: Optional[str]

    @property
    def effective(self) -> str:
        """The path a render on this host would use."""
        return self.mapped if self.mapped is not None else self.raw

    @property
    def foreign(self) -> bool:
        """An absolute path of another OS family than this host's, which no rule maps."""
        if self.mapped is not None:
            return False
        parsed = parse_path(self.raw)
        return parsed is not None and parsed.family != os_family(host_os())

    @property
    def missing(self) -> bool:
        return self.exists is False

    def to_json(self) -> dict:
        return {"kind": self.kind, "raw": self.raw, "mapped": self.mapped, "exists": self.exists,
                "rule": self.rule, "foreign": self.foreign}


def _exists(path: str, kind: str) -> Optional[bool]:
    parsed = parse_path(path)
    if parsed is None:
        return None
    if parsed.family != os_family(host_os()):
        return False  # a Windows path on macOS/Linux (or the reverse) cannot be opened here
    plain = plain_path(path)
    if kind in ("sequence", "output"):
        return os.path.isdir(plain)
    return os.path.exists(plain)


def scan(project: Union[str, Path], rules: Optional[RuleSet] = None) -> List[Reference]:
    """Every reference in ``project`` (an .aepx or a text file), in file order, each (kind, raw path) once.

    Raises RemapError for a binary .aep (its references cannot be read reliably: save it as .aepx) and for input
    the converter would refuse.
    """
    path = Path(project)
    if not path.is_file():
        raise RemapError(f"{path}: {not_a_file_reason(path)}")
    rules = RuleSet() if rules is None else rules
    kind = detect_kind(_read_head(path))
    if kind == "aep":
        raise RemapError(f"{path}: binary .aep projects cannot be scanned; save it as .aepx "
                         "(File > Save As > XML) and scan that")
    found: Dict[Tuple[str, str], Reference] = {}

    def record(ref_kind: str, raw: str) -> None:
        key = (ref_kind, raw)
        if key in found:
            return
        match = rules.match(raw) if rules else None
        mapped = match[0] if match else None
        rule = match[1].origin if match else None
        exists = None if ref_kind == "text-layer" else _exists(mapped if mapped is not None else raw, ref_kind)
        found[key] = Reference(ref_kind, raw, mapped, exists, rule)

    if kind == "aepx":
        def visit(ref_kind: str, raw: str, mapped: Optional[str], offset: int) -> None:
            record(ref_kind, raw)

        convert_aepx(path, None, lambda p: None, xml_check="fast", visit=visit)
    else:
        def note(raw: str) -> Optional[str]:
            record("footage", raw)
            return None

        convert_text_bytes(path.read_bytes(), note, where=str(path))
    return list(found.values())


def missing_footage(refs: List[Reference]) -> List[Reference]:
    """Footage and sequence references that do not exist on this host (``--strict`` fails on these)."""
    return [r for r in refs if r.kind in ("footage", "sequence") and r.exists is False]
