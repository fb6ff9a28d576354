"""One mapping rule: a validated ``source -> destination`` prefix pair, and how a rule prefix is read.

What a rule means when it maps (longest prefix, component boundaries, case, separators) is ``remap.rules``; where
rules come from (``--map`` pairs, OpenJD rules files, accsyn mappings and shares) is ``remap.rule_sources``.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

from remap.errors import RemapError
from remap.paths import POSIX, WINDOWS, ParsedPath, parse_path, uri_to_path

_FAMILY_ALIASES = {"windows": WINDOWS, "win": WINDOWS, "posix": POSIX, "mac": POSIX, "linux": POSIX}


@dataclass(frozen=True)
class Rule:
    """Map paths under ``source`` to ``destination``.

    ``source_os`` is the path syntax of the source (``windows`` or ``posix``); empty means "read it from the source".
    ``case_sensitive`` None means the family's default (Windows no, POSIX yes). ``origin`` names where the rule came
    from so that error messages can point at it (``--map #2``, ``rules file x.json rule 1``, ``accsyn mapping 3``).
    A Rule validates itself on construction and raises RemapError naming its origin.
    """

    source: str
    destination: str
    source_os: str = ""
    case_sensitive: Optional[bool] = None
    origin: str = "rule"

    def __post_init__(self) -> None:
        if not isinstance(self.source, str) or not isinstance(self.destination, str):
            raise RemapError(f"{self.origin}: source and destination must be strings")
        if not self.source.strip():
            raise RemapError(f"{self.origin}: empty source")
        if not self.destination.strip():
            raise RemapError(f"{self.origin}: empty destination for source {self.source!r}")
        parsed = parse_prefix(self.source)
        declared = _FAMILY_ALIASES.get(str(self.source_os).lower()) if self.source_os else None
        if self.source_os and declared is None:
            raise RemapError(f"{self.origin}: unknown source OS {self.source_os!r} (expected windows or posix)")
        if parsed is None or (declared is not None and parsed.family != declared):
            want = {WINDOWS: "a Windows drive or UNC path", POSIX: "a POSIX path starting with /"}.get(
                declared or "", "a drive, UNC or POSIX absolute path")
            raise RemapError(f"{self.origin}: source {self.source!r} is not absolute (expected {want})")
        if parse_prefix(self.destination) is None:
            raise RemapError(f"{self.origin}: destination {self.destination!r} is not an absolute path")
        object.__setattr__(self, "source_os", parsed.family)
        if self.case_sensitive is None:
            object.__setattr__(self, "case_sensitive", parsed.family == POSIX)
        elif parsed.family == WINDOWS and self.case_sensitive:
            raise RemapError(f"{self.origin}: Windows source {self.source!r} cannot be case-sensitive")

    def __str__(self) -> str:
        return f"{self.source}={self.destination}"


def parse_prefix(text: str) -> Optional[ParsedPath]:
    """A rule prefix: like a path, but a bare ``C:`` is allowed and URIs are unwrapped to plain paths."""
    parsed = parse_path(text, allow_bare_drive=True)
    if parsed is not None and parsed.uri:
        plain = uri_to_path(text)
        parsed = parse_path(plain, allow_bare_drive=True) if plain else None
    if parsed is None:
        return None
    if parsed.kind == "unc" and (len(parsed.components) < 3 or not parsed.components[2]):
        return None
    return parsed
