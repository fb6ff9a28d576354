"""A set of mapping rules compiled for matching: one model for CLI pairs, OpenJD rules files and accsyn mappings.

Semantics (docs/formats.md §2):

- the longest source prefix wins, and a prefix only matches on a component boundary (``\\\\srv\\proj`` never matches
  ``\\\\srv\\project2``);
- Windows sources match case-insensitively with either separator; POSIX sources match case-sensitively unless the
  rule says otherwise (macOS volumes are usually case-insensitive);
- the remainder after the prefix keeps its text and is re-joined with the destination's separator; a path equal to
  the prefix maps to the destination without a trailing separator (a trailing separator the input had is kept);
- ``\\\\?\\`` long-path prefixes are kept when the destination is a Windows path, ``file:`` URIs stay URIs (the
  remainder keeps its percent-encoding);
- relative and unmatched paths give None;
- idempotent: a path that already lies inside a rule's destination at least as deep as any source matches it is
  returned unchanged. That is what keeps ``/projects -> /mnt/projects`` from producing ``/mnt/mnt/projects``.
  Rule sets for which this is not enough (a source inside another rule's destination, so that a mapped path could be
  mapped again) are rejected when the set is built. Mapping is a single pass, so it cannot loop.

A rule is ``remap.rule.Rule``; the readers of each source of rules are ``remap.rule_sources`` (the ``RuleSet.from_*``
constructors call them).
"""
from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any, Dict, Iterable, Iterator, List, Mapping, Optional, Sequence, Tuple, Union
from urllib.parse import quote

from remap import rule_sources
from remap.errors import RemapError
from remap.paths import POSIX, WINDOWS, decode_components, parse_path, plain_path
from remap.rule import Rule, parse_prefix


def _strip_trailing(comps: List[str]) -> List[str]:
    comps = list(comps)
    minimum = 3 if len(comps) >= 3 and comps[0] == "" and comps[1] == "" else 1
    while len(comps) > minimum and comps[-1] == "":
        comps.pop()
    return comps


class _Compiled:
    """A rule prepared for fast matching: keys as tuples, destination text ready to join."""

    __slots__ = ("rule", "family", "key", "depth", "dest_family", "dest_kind", "dest_text", "dest_join",
                 "dest_sep", "dest_key", "dest_uri", "dest_uri_exact", "identity")

    def __init__(self, rule: Rule) -> None:
        self.rule = rule
        src = parse_prefix(rule.source)
        assert src is not None  # Rule validated it
        self.family = src.family
        comps = _strip_trailing(src.components)
        self.key = tuple(c.casefold() for c in comps) if not rule.case_sensitive else tuple(comps)
        self.depth = len(self.key)

        dst = parse_prefix(rule.destination)
        assert dst is not None
        self.dest_family = dst.family
        self.dest_kind = dst.kind
        dcomps = _strip_trailing(dst.components)
        if dst.family == WINDOWS:
            plain = plain_path(rule.destination) if _is_uri(rule.destination) else rule.destination
            body = plain[len(dst.long_prefix):] if dst.long_prefix else plain
            if dst.kind == "unc" and dst.long_prefix:
                body = "\\" + body  # \\?\UNC\srv\share -> \\srv\share
            sep = "/" if ("/" in body and "\\" not in body) else "\\"
            if dst.long_prefix:
                sep = "\\"
            if len(dcomps) == 1 and dst.kind == "drive":
                text = dcomps[0] + sep  # drive root keeps its separator: C:\ (C: alone means something else)
            else:
                text = sep.join(dcomps)
            self.dest_key = tuple(c.casefold() for c in dcomps)
        else:
            sep = "/"
            text = "/".join(dcomps) or "/"
            self.dest_key = tuple(dcomps)
        self.dest_sep = sep
        self.dest_text = text
        self.dest_join = text if text.endswith(sep) else text + sep
        self.dest_uri = _uri_prefix(dst.kind, dcomps)
        is_root = dcomps == [""] or (dst.kind == "drive" and len(dcomps) == 1)
        self.dest_uri_exact = self.dest_uri if is_root else self.dest_uri[:-1]
        same_case = tuple(dcomps) if rule.case_sensitive else tuple(c.casefold() for c in dcomps)
        self.identity = self.family == self.dest_family and self.key == same_case

    def fingerprint_item(self) -> List[object]:
        return [self.family, bool(self.rule.case_sensitive), list(self.key), self.dest_text]


def _is_uri(text: str) -> bool:
    return text[:5].lower() == "file:"


def _uri_prefix(kind: str, comps: List[str]) -> str:
    """The destination as a file: URI, ending with '/' (so a remainder can be appended directly)."""
    if kind == "unc":
        return "file://" + "/".join(quote(c, safe="") for c in comps[2:]) + "/"
    if kind == "drive":
        return "file:///" + "/".join([comps[0]] + [quote(c, safe="") for c in comps[1:] if c]) + "/"
    return "file://" + "/".join(quote(c, safe="") for c in comps).rstrip("/") + "/"


class _Table:
    """Source (or destination) prefixes of one path family, by depth, for longest-prefix lookup."""

    __slots__ = ("exact", "folded", "depths", "max_depth")

    def __init__(self) -> None:
        self.exact: Dict[Tuple[str, ...], _Compiled] = {}
        self.folded: Dict[Tuple[str, ...], _Compiled] = {}
        self.depths: Tuple[int, ...] = ()
        self.max_depth = 0

    def finish(self) -> None:
        depths = {len(k) for k in self.exact} | {len(k) for k in self.folded}
        self.depths = tuple(sorted(depths, reverse=True))
        self.max_depth = self.depths[0] if self.depths else 0

    def longest(self, comps: List[str], folded: Optional[List[str]]) -> Optional[Tuple[int, _Compiled]]:
        n = len(comps)
        for depth in self.depths:
            if depth > n:
                continue
            if self.exact:
                hit = self.exact.get(tuple(comps[:depth]))
                if hit is not None:
                    return depth, hit
            if folded is not None:
                hit = self.folded.get(tuple(folded[:depth]))
                if hit is not None:
                    return depth, hit
        return None


class RuleSet:
    """An immutable, validated set of rules. Order does not matter: the longest matching source wins."""

    def __init__(self, rules: Iterable[Rule] = ()) -> None:
        kept: List[_Compiled] = []
        by_key: Dict[Tuple[str, bool, Tuple[str, ...]], _Compiled] = {}
        for rule in rules:
            if not isinstance(rule, Rule):
                raise RemapError(f"not a mapping rule: {rule!r}")
            comp = _Compiled(rule)
            ident = (comp.family, bool(rule.case_sensitive), comp.key)
            other = by_key.get(ident)
            if other is None:
                folded_ident = (comp.family, False, tuple(c.casefold() for c in comp.key))
                other = by_key.get(folded_ident) if rule.case_sensitive else None
            if other is not None:
                if _same_destination(other, comp):
                    continue  # the same rule twice (e.g. from two sources of rules): keep the first
                raise RemapError(
                    f"{rule.origin}: source {rule.source!r} is mapped to {rule.destination!r}, but "
                    f"{other.rule.origin} maps it to {other.rule.destination!r}")
            by_key[ident] = comp
            kept.append(comp)
        self._compiled = tuple(kept)
        self._rules = tuple(c.rule for c in kept)
        self._sources = {WINDOWS: _Table(), POSIX: _Table()}
        self._dests = {WINDOWS: _Table(), POSIX: _Table()}
        for comp in kept:
            table = self._sources[comp.family]
            (table.exact if comp.rule.case_sensitive else table.folded)[comp.key] = comp
            dtable = self._dests[comp.dest_family]
            dmap = dtable.folded if comp.dest_family == WINDOWS else dtable.exact
            present = dmap.get(comp.dest_key)
            if present is None or (present.identity and not comp.identity):
                dmap[comp.dest_key] = comp  # a non-identity rule is the one the chain check must see
        for table in (*self._sources.values(), *self._dests.values()):
            table.finish()
        self._check_chains()
        self._fingerprint: Optional[str] = None

    def _check_chains(self) -> None:
        """Reject a source lying inside (or equal to) another rule's destination: its paths would map twice."""
        for comp in self._compiled:
            if comp.identity:
                continue
            dests = self._dests[comp.family]
            if not dests.depths:
                continue
            key = list(comp.key)
            folded = [c.casefold() for c in key]
            for depth in dests.depths:
                if depth > len(key):
                    continue
                hits = []
                if dests.exact:
                    hits.append(dests.exact.get(tuple(key[:depth])))
                    if not comp.rule.case_sensitive:
                        hits.extend(v for k, v in dests.exact.items()
                                    if len(k) == depth and tuple(c.casefold() for c in k) == tuple(folded[:depth]))
                hits.append(dests.folded.get(tuple(folded[:depth])))
                for other in hits:
                    if other is None or other.identity:
                        continue
                    if other is comp and depth == len(key):
                        continue
                    raise RemapError(
                        f"{comp.rule.origin}: source {comp.rule.source!r} lies inside the destination "
                        f"{other.rule.destination!r} of {other.rule.origin}; a mapped path would be mapped again")


    # ---- construction (the readers are remap.rule_sources) -----------------------------------------------------

    @classmethod
    def from_cli(cls, pairs: Sequence[str], case_insensitive_posix: bool = False) -> "RuleSet":
        """Rules from ``SRC=DST`` strings (``--map``); see ``rule_sources.cli_rules`` (a source may hold ``=``)."""
        return cls(rule_sources.cli_rules(pairs, case_insensitive_posix))

    @classmethod
    def from_openjd_dict(cls, data: Mapping[str, Any], origin: str = "rules file",
                         case_insensitive_posix: bool = False) -> "RuleSet":
        """Rules from an OpenJD ``pathmapping-1.0`` document; ``{}`` (what Deadline writes for "no rules") is empty."""
        return cls(rule_sources.openjd_rules(data, origin, case_insensitive_posix))

    @classmethod
    def from_openjd_file(cls, path: Union[str, Path], case_insensitive_posix: bool = False) -> "RuleSet":
        """Rules from the file OpenJD hands a task in ``{{Session.PathMappingRulesFile}}``."""
        return cls(rule_sources.openjd_file_rules(path, case_insensitive_posix))

    @classmethod
    def from_accsyn(cls, mapped_share_paths: Optional[Sequence[Mapping[str, Any]]],
                    shares: Optional[Sequence[Mapping[str, Any]]], node_os: str,
                    node_sharepaths: Optional[Sequence[Mapping[str, Any]]] = None,
                    case_insensitive_posix: bool = False) -> "RuleSet":
        """Rules from accsyn ``mapped_share_paths`` entries ``{remote, local, os?}`` for a node running ``node_os``
        (see ``rule_sources.accsyn_rules``)."""
        return cls(rule_sources.accsyn_rules(mapped_share_paths, shares, node_os, node_sharepaths,
                                             case_insensitive_posix))

    @classmethod
    def from_accsyn_shares(cls, shares: Sequence[Mapping[str, Any]], remote_os: str, node_os: str,
                           node_sharepaths: Optional[Sequence[Mapping[str, Any]]] = None,
                           case_insensitive_posix: bool = False) -> "RuleSet":
        """One rule per share: its path on the submitting OS -> its path on this node (see
        ``rule_sources.accsyn_share_rules``)."""
        return cls(rule_sources.accsyn_share_rules(shares, remote_os, node_os, node_sharepaths,
                                                   case_insensitive_posix))

    def to_openjd_dict(self) -> Dict[str, Any]:
        """The rules as an OpenJD ``pathmapping-1.0`` document (``{}`` when empty), e.g. for a local test session.

        OpenJD has no case-insensitive POSIX rules; those are written as plain POSIX rules.
        """
        return rule_sources.openjd_document(self._rules)

    def merged(self, other: "RuleSet") -> "RuleSet":
        """Both sets as one (validated again: a conflict between them is an error)."""
        return RuleSet(list(self._rules) + list(other))

    # ---- container ----------------------------------------------------------------------------------------------

    def __len__(self) -> int:
        return len(self._rules)

    def __bool__(self) -> bool:
        return bool(self._rules)

    def __iter__(self) -> Iterator[Rule]:
        return iter(self._rules)

    def __repr__(self) -> str:
        return f"RuleSet({list(self._rules)!r})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, RuleSet) and self.fingerprint() == other.fingerprint()

    def __hash__(self) -> int:
        return hash(self.fingerprint())

    def fingerprint(self) -> str:
        """A stable sha256 hex digest of what the rules do (not where they came from, nor their order).

        Spellings that map identically (``P:\\``, ``p:/``) give the same digest, so output names derived from it
        don't change when a rule is written differently.
        """
        if self._fingerprint is None:
            items = sorted(json.dumps(c.fingerprint_item(), ensure_ascii=False) for c in self._compiled)
            payload = json.dumps(["aefarm-rules-1", items], ensure_ascii=False).encode("utf-8")
            self._fingerprint = hashlib.sha256(payload).hexdigest()
        return self._fingerprint

    # ---- mapping ------------------------------------------------------------------------------------------------

    def map(self, path: str) -> Optional[str]:
        """The mapped path, or None when ``path`` is relative or no rule applies. See the module docstring."""
        found = self.match(path)
        return None if found is None else found[0]

    def match(self, path: str) -> Optional[Tuple[str, Rule]]:
        """``(mapped path, rule applied)``, or None. An already-mapped path comes back unchanged with its rule."""
        if not self._rules:
            return None
        parsed = parse_path(path)
        if parsed is None:
            return None
        family = parsed.family
        sources = self._sources[family]
        dests = self._dests[family]
        need = sources.max_depth if sources.max_depth > dests.max_depth else dests.max_depth
        if need == 0:
            return None
        head = decode_components(parsed, need)
        folded = [c.casefold() for c in head] if (sources.folded or dests.folded) else None
        hit = sources.longest(head, folded) if sources.depths else None
        if dests.depths:
            already = dests.longest(head, folded)
            if already is not None and (hit is None or already[0] >= hit[0]):
                return path, already[1].rule
        if hit is None:
            return None
        depth, comp = hit
        rest = parsed.components[depth:]
        if parsed.uri:
            return (comp.dest_uri + "/".join(rest) if rest else comp.dest_uri_exact), comp.rule
        if parsed.long_prefix and comp.dest_family == WINDOWS and comp.dest_kind != "device":
            # A long path stays a long path; those only accept backslashes.
            base = comp.dest_text.replace("/", "\\")
            text = (base.rstrip("\\") + "\\" + "\\".join(rest)) if rest else base
            lp = parsed.long_prefix[:4]
            return (lp + "UNC" + text[1:] if comp.dest_kind == "unc" else lp + text), comp.rule
        return (comp.dest_join + comp.dest_sep.join(rest) if rest else comp.dest_text), comp.rule


def _same_destination(a: _Compiled, b: _Compiled) -> bool:
    if a.dest_family != b.dest_family:
        return False
    if a.dest_family == WINDOWS:
        return a.dest_text.casefold().replace("/", "\\") == b.dest_text.casefold().replace("/", "\\")
    return a.dest_text == b.dest_text

