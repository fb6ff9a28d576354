"""Mapping rules: one model for CLI pairs, OpenJD rules files and accsyn share mappings.

Semantics (FORMATS.md §2):

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
"""
from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, Iterable, Iterator, List, Mapping, Optional, Sequence, Tuple, Union
from urllib.parse import quote

from aefarm_common.jsonfile import read_json
from aefarm_common.platforms import normalize_os
from remap.errors import RemapError
from remap.paths import POSIX, WINDOWS, ParsedPath, decode_components, parse_path, uri_to_path
from remap.shares import node_share_path, resolve_share_path, share_label, validate_shares

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
        parsed = _parse_prefix(self.source)
        declared = _FAMILY_ALIASES.get(str(self.source_os).lower()) if self.source_os else None
        if self.source_os and declared is None:
            raise RemapError(f"{self.origin}: unknown source OS {self.source_os!r} (expected windows or posix)")
        if parsed is None or (declared is not None and parsed.family != declared):
            want = {WINDOWS: "a Windows drive or UNC path", POSIX: "a POSIX path starting with /"}.get(
                declared or "", "a drive, UNC or POSIX absolute path")
            raise RemapError(f"{self.origin}: source {self.source!r} is not absolute (expected {want})")
        if _parse_prefix(self.destination) is None:
            raise RemapError(f"{self.origin}: destination {self.destination!r} is not an absolute path")
        object.__setattr__(self, "source_os", parsed.family)
        if self.case_sensitive is None:
            object.__setattr__(self, "case_sensitive", parsed.family == POSIX)
        elif parsed.family == WINDOWS and self.case_sensitive:
            raise RemapError(f"{self.origin}: Windows source {self.source!r} cannot be case-sensitive")

    def __str__(self) -> str:
        return f"{self.source}={self.destination}"


def _parse_prefix(text: str) -> Optional[ParsedPath]:
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
        src = _parse_prefix(rule.source)
        assert src is not None  # Rule validated it
        self.family = src.family
        comps = _strip_trailing(src.components)
        self.key = tuple(c.casefold() for c in comps) if not rule.case_sensitive else tuple(comps)
        self.depth = len(self.key)

        dst = _parse_prefix(rule.destination)
        assert dst is not None
        self.dest_family = dst.family
        self.dest_kind = dst.kind
        dcomps = _strip_trailing(dst.components)
        if dst.family == WINDOWS:
            plain = uri_to_path(rule.destination) if _is_uri(rule.destination) else rule.destination
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

    # ---- construction -------------------------------------------------------------------------------------------

    @classmethod
    def from_cli(cls, pairs: Sequence[str], case_insensitive_posix: bool = False) -> "RuleSet":
        """Rules from ``SRC=DST`` strings (``--map``), origins ``--map #1``, ``--map #2``...

        A source may itself contain ``=``: the pair is split at the first ``=`` whose right-hand side is an absolute
        path (drive, UNC, POSIX or file: URI). So ``P:\\a=b=/mnt/x`` is ``P:\\a=b`` -> ``/mnt/x``, and
        ``/a=/b=c`` is ``/a`` -> ``/b=c``.
        """
        rules = []
        for number, pair in enumerate(pairs, 1):
            origin = f"--map #{number}"
            src, dst = split_pair(pair, origin)
            rules.append(_make_rule(src, dst, origin, case_insensitive_posix))
        return cls(rules)

    @classmethod
    def from_openjd_dict(cls, data: Mapping, origin: str = "rules file",
                         case_insensitive_posix: bool = False) -> "RuleSet":
        """Rules from an OpenJD ``pathmapping-1.0`` document; ``{}`` (what Deadline writes for "no rules") is empty."""
        if not isinstance(data, Mapping):
            raise RemapError(f"{origin}: expected a JSON object, got {type(data).__name__}")
        if not data:
            return cls()
        version = data.get("version")
        if version != "pathmapping-1.0":
            raise RemapError(f"{origin}: unsupported version {version!r} (expected 'pathmapping-1.0')")
        items = data.get("path_mapping_rules")
        if not isinstance(items, list):
            raise RemapError(f"{origin}: 'path_mapping_rules' must be a list")
        rules = []
        for number, item in enumerate(items, 1):
            where = f"{origin} rule {number}"
            if not isinstance(item, Mapping):
                raise RemapError(f"{where}: expected an object, got {type(item).__name__}")
            fmt = item.get("source_path_format")
            if not isinstance(fmt, str) or fmt.upper() not in ("WINDOWS", "POSIX"):
                raise RemapError(f"{where}: source_path_format must be WINDOWS or POSIX, got {fmt!r}")
            src, dst = item.get("source_path"), item.get("destination_path")
            for name, value in (("source_path", src), ("destination_path", dst)):
                if not isinstance(value, str):
                    raise RemapError(f"{where}: {name} must be a string")
            family = fmt.lower()
            rules.append(Rule(src, dst, family, False if family == POSIX and case_insensitive_posix else None,
                              where))
        return cls(rules)

    @classmethod
    def from_openjd_file(cls, path: Union[str, Path], case_insensitive_posix: bool = False) -> "RuleSet":
        """Rules from the file OpenJD hands a task in ``{{Session.PathMappingRulesFile}}``."""
        data = read_json(path, "rules file", RemapError)
        return cls.from_openjd_dict(data, f"rules file {Path(path).name}", case_insensitive_posix)

    @classmethod
    def from_accsyn(cls, mapped_share_paths: Sequence[Mapping], shares: Optional[Sequence[Mapping]], node_os: str,
                    node_sharepaths: Optional[Sequence[Mapping]] = None,
                    case_insensitive_posix: bool = False) -> "RuleSet":
        """Rules from accsyn ``mapped_share_paths`` entries ``{remote, local, os?}`` for a node running ``node_os``.

        Entries whose ``os`` names another OS are skipped. A ``local`` of the form ``share=<id|code>[/sub]`` is
        resolved through the node's own share mounts first, then ``shares[].paths[node_os]``.
        """
        node = _node_os(node_os)
        if mapped_share_paths is None:
            return cls()
        if not isinstance(mapped_share_paths, (list, tuple)):
            raise RemapError("accsyn mapped_share_paths must be a list of {remote, local, os} objects")
        rules = []
        for number, item in enumerate(mapped_share_paths, 1):
            where = f"accsyn mapping {number}"
            if not isinstance(item, Mapping):
                raise RemapError(f"{where}: expected an object with remote and local, got {type(item).__name__}")
            only = item.get("os")
            if only not in (None, ""):
                try:
                    if _node_os(only) != node:
                        continue
                except RemapError:
                    raise RemapError(f"{where}: unknown os {only!r} (expected windows, mac or linux)") from None
            remote, local = item.get("remote"), item.get("local")
            if not isinstance(remote, str) or not isinstance(local, str):
                raise RemapError(f"{where}: 'remote' and 'local' must be strings")
            if local.strip().lower().startswith("share="):
                try:
                    local = resolve_share_path(local.strip(), shares or [], node, node_sharepaths)
                except RemapError as exc:
                    raise RemapError(f"{where}: {exc}") from None
            rules.append(_make_rule(remote, local, where, case_insensitive_posix))
        return cls(rules)

    @classmethod
    def from_accsyn_shares(cls, shares: Sequence[Mapping], remote_os: str, node_os: str,
                           node_sharepaths: Optional[Sequence[Mapping]] = None,
                           case_insensitive_posix: bool = False) -> "RuleSet":
        """One rule per share: the share's path on the submitting OS -> its path on this node.

        This node's own mounts (``client.config.sharepaths``) win over ``shares[].paths[node_os]``. Shares missing a
        path on either side are skipped (they cannot be mapped); identical paths give no rule.
        """
        remote, node = _node_os(remote_os), _node_os(node_os)
        rules = []
        for share in validate_shares(shares):
            paths = share.get("paths") or {}
            src = paths.get(remote)
            dst = node_share_path(share, node_sharepaths)
            if dst is None:
                dst = paths.get(node)
            if not src or not dst or src == dst:
                continue
            rules.append(_make_rule(src, dst, f"accsyn share {share_label(share)}", case_insensitive_posix))
        return cls(rules)

    def to_openjd_dict(self) -> dict:
        """The rules as an OpenJD ``pathmapping-1.0`` document (``{}`` when empty), e.g. for a local test session.

        OpenJD has no case-insensitive POSIX rules; those are written as plain POSIX rules.
        """
        if not self._rules:
            return {}
        return {"version": "pathmapping-1.0", "path_mapping_rules": [
            {"source_path_format": rule.source_os.upper(), "source_path": rule.source,
             "destination_path": rule.destination} for rule in self._rules]}

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


def _node_os(name: object) -> str:
    try:
        return normalize_os(str(name))
    except ValueError as exc:
        raise RemapError(str(exc)) from None


def _make_rule(src: str, dst: str, origin: str, case_insensitive_posix: bool) -> Rule:
    parsed = _parse_prefix(src) if isinstance(src, str) else None
    sensitive = False if (parsed is not None and parsed.family == POSIX and case_insensitive_posix) else None
    return Rule(src, dst, "", sensitive, origin)


def split_pair(pair: str, origin: str) -> Tuple[str, str]:
    """Split ``SRC=DST`` at the first ``=`` followed by an absolute destination (see ``RuleSet.from_cli``)."""
    if not isinstance(pair, str) or "=" not in pair:
        raise RemapError(f"{origin}: expected SRC=DST, got {pair!r}")
    start = 0
    while True:
        index = pair.find("=", start)
        if index < 0:
            break
        if _parse_prefix(pair[index + 1:]) is not None:
            return pair[:index], pair[index + 1:]
        start = index + 1
    src, _, dst = pair.partition("=")
    if not src:
        raise RemapError(f"{origin}: empty source in {pair!r}")
    raise RemapError(f"{origin}: destination in {pair!r} is not an absolute path")
