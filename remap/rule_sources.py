"""Where mapping rules come from: ``--map`` pairs, OpenJD path-mapping rules, accsyn share mappings and shares.

Each reader turns its source into a list of ``remap.rule.Rule`` values whose ``origin`` points at the place in the
source (``--map #2``, ``rules file x.json rule 1``, ``accsyn mapping 3``, ``accsyn share <code>``), and raises
RemapError naming that place for bad input. ``remap.rules.RuleSet`` builds a set from them (``RuleSet.from_cli``
and the other constructors call these); ``openjd_document`` writes rules back as an OpenJD document.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any, Dict, Iterable, List, Mapping, Optional, Sequence, Tuple, Union

from aefarm_common.jsonfile import read_json
from aefarm_common.platforms import normalize_os
from remap.errors import RemapError
from remap.paths import POSIX
from remap.rule import Rule, parse_prefix
from remap.shares import node_share_path, resolve_share_path, share_label, validate_shares


def split_pair(pair: str, origin: str) -> Tuple[str, str]:
    """Split ``SRC=DST`` at the first ``=`` followed by an absolute destination (see ``cli_rules``)."""
    if not isinstance(pair, str) or "=" not in pair:
        raise RemapError(f"{origin}: expected SRC=DST, got {pair!r}")
    start = 0
    while True:
        index = pair.find("=", start)
        if index < 0:
            break
        if parse_prefix(pair[index + 1:]) is not None:
            return pair[:index], pair[index + 1:]
        start = index + 1
    src, _, dst = pair.partition("=")
    if not src:
        raise RemapError(f"{origin}: empty source in {pair!r}")
    raise RemapError(f"{origin}: destination in {pair!r} is not an absolute path")


def cli_rules(pairs: Sequence[str], case_insensitive_posix: bool = False) -> List[Rule]:
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
    return rules


def openjd_rules(data: object, origin: str = "rules file",
                 case_insensitive_posix: bool = False) -> List[Rule]:
    """Rules from an OpenJD ``pathmapping-1.0`` document; ``{}`` (what Deadline writes for "no rules") is empty."""
    if not isinstance(data, Mapping):
        raise RemapError(f"{origin}: expected a JSON object, got {type(data).__name__}")
    if not data:
        return []
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
        if not isinstance(src, str):
            raise RemapError(f"{where}: source_path must be a string")
        if not isinstance(dst, str):
            raise RemapError(f"{where}: destination_path must be a string")
        family = fmt.lower()
        rules.append(Rule(src, dst, family, False if family == POSIX and case_insensitive_posix else None,
                          where))
    return rules


def openjd_file_rules(path: Union[str, Path], case_insensitive_posix: bool = False) -> List[Rule]:
    """Rules from the file OpenJD hands a task in ``{{Session.PathMappingRulesFile}}``."""
    data = read_json(path, "rules file", RemapError)
    return openjd_rules(data, f"rules file {Path(path).name}", case_insensitive_posix)


def accsyn_rules(mapped_share_paths: Optional[Sequence[Mapping[str, Any]]],
                 shares: Optional[Sequence[Mapping[str, Any]]], node_os: str,
                 node_sharepaths: Optional[Sequence[Mapping[str, Any]]] = None,
                 case_insensitive_posix: bool = False) -> List[Rule]:
    """Rules from accsyn ``mapped_share_paths`` entries ``{remote, local, os?}`` for a node running ``node_os``.

    Entries whose ``os`` names another OS are skipped. A ``local`` of the form ``share=<id|code>[/sub]`` is
    resolved through the node's own share mounts first, then ``shares[].paths[node_os]``.
    """
    node = _node_os(node_os)
    if mapped_share_paths is None:
        return []
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
    return rules


def accsyn_share_rules(shares: Sequence[Mapping[str, Any]], remote_os: str, node_os: str,
                       node_sharepaths: Optional[Sequence[Mapping[str, Any]]] = None,
                       case_insensitive_posix: bool = False) -> List[Rule]:
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
    return rules


def openjd_document(rules: Iterable[Rule]) -> Dict[str, Any]:
    """The rules as an OpenJD ``pathmapping-1.0`` document (``{}`` when there are none).

    OpenJD has no case-insensitive POSIX rules; those are written as plain POSIX rules.
    """
    items = [{"source_path_format": rule.source_os.upper(), "source_path": rule.source,
              "destination_path": rule.destination} for rule in rules]
    if not items:
        return {}
    return {"version": "pathmapping-1.0", "path_mapping_rules": items}


def _node_os(name: object) -> str:
    try:
        return normalize_os(str(name))
    except ValueError as exc:
        raise RemapError(str(exc)) from None


def _make_rule(src: str, dst: str, origin: str, case_insensitive_posix: bool) -> Rule:
    parsed = parse_prefix(src) if isinstance(src, str) else None
    sensitive = False if (parsed is not None and parsed.family == POSIX and case_insensitive_posix) else None
    return Rule(src, dst, "", sensitive, origin)
