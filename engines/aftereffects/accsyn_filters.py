"""accsyn node filters: validate the comma list a job carries before it reaches the queue.

accsyn itself only tells a user about a bad filter after the job sits unassigned, so the submitter checks the
grammar up front (docs/formats.md §4):

    ram:<N[gmt]      nodes with less than N of memory (no unit: gigabytes)
    ram:>N[gmt]      nodes with more than N
    hostname:+h1+h2  only these hosts
    hostname:-h1-h2  every host except these ('-' separates names, so a name cannot contain one)
    site:name        only nodes of this site
    site:-name       every site except this one

Keys and units are case-insensitive and normalised to lower case; host and site names are kept as written.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import List, Tuple

from engines.aftereffects.accsyn_errors import AccsynError

KEYS = ("ram", "hostname", "site")
_RAM = re.compile(r"^([<>])\s*(\d+(?:\.\d+)?)\s*([gmt]?)$", re.IGNORECASE)
_NAME = re.compile(r"^[A-Za-z0-9_.]+$")
_HOST_INCLUDE_NAME = re.compile(r"^[A-Za-z0-9_.\-]+$")


@dataclass(frozen=True)
class Filter:
    """One parsed filter. ``op`` is ``<``/``>`` for ram and ``+``/``-`` for hostname and site."""

    key: str
    op: str
    values: Tuple[str, ...]

    def __str__(self) -> str:
        if self.key == "ram":
            return f"ram:{self.op}{self.values[0]}"
        if self.key == "hostname":
            return f"hostname:{self.op}{self.op.join(self.values)}"
        return f"site:{'-' if self.op == '-' else ''}{self.values[0]}"


def _bad(entry: str, number: int, why: str) -> AccsynError:
    return AccsynError(f"filter {number} {entry!r}: {why}")


def _parse_ram(value: str, entry: str, number: int) -> Filter:
    match = _RAM.match(value)
    if not match:
        raise _bad(entry, number, "expected ram:<N or ram:>N with an optional unit g, m or t (e.g. ram:>32g)")
    op, amount, unit = match.groups()
    if float(amount) <= 0:
        raise _bad(entry, number, "the memory amount must be greater than 0")
    return Filter("ram", op, (f"{amount}{(unit or 'g').lower()}",))


def _parse_hostname(value: str, entry: str, number: int) -> Filter:
    if not value or value[0] not in "+-":
        raise _bad(entry, number, "expected hostname:+host (only these) or hostname:-host1-host2 (all but these)")
    op = value[0]
    names = value[1:].split(op)
    pattern = _HOST_INCLUDE_NAME if op == "+" else _NAME
    for name in names:
        if not name:
            raise _bad(entry, number, "empty host name")
        if not pattern.match(name):
            raise _bad(entry, number, f"bad host name {name!r} (letters, digits, '_' and '.'"
                                      f"{'' if op == '-' else ', and -'})")
    return Filter("hostname", op, tuple(names))


def _parse_site(value: str, entry: str, number: int) -> Filter:
    op, name = ("-", value[1:]) if value.startswith("-") else ("+", value)
    if not name:
        raise _bad(entry, number, "expected site:name or site:-name")
    if not _HOST_INCLUDE_NAME.match(name):
        raise _bad(entry, number, f"bad site name {name!r} (letters, digits, '_', '.' and '-')")
    return Filter("site", op, (name,))


_PARSERS = {"ram": _parse_ram, "hostname": _parse_hostname, "site": _parse_site}


def parse_filters(text: str) -> List[Filter]:
    """The filters of a comma list (empty text: none). Raises AccsynError naming the first bad entry."""
    if text is None:
        return []
    if not isinstance(text, str):
        raise AccsynError(f"filters must be a comma-separated string, got {type(text).__name__}")
    out: List[Filter] = []
    entries = [e.strip() for e in text.split(",")]
    if entries == [""]:
        return []
    for number, entry in enumerate(entries, 1):
        if not entry:
            raise AccsynError(f"filter {number}: empty entry in {text!r} (stray comma?)")
        key, sep, value = entry.partition(":")
        key = key.strip().lower()
        if not sep:
            raise _bad(entry, number, f"expected key:value with key one of {', '.join(KEYS)}")
        if key not in _PARSERS:
            raise _bad(entry, number, f"unknown key {key!r} (known: {', '.join(KEYS)})")
        out.append(_PARSERS[key](value.strip(), entry, number))
    return out


def normalize_filters(text: str) -> str:
    """The validated filter list in canonical form (what the payload carries)."""
    return ",".join(str(f) for f in parse_filters(text))
