"""The mapping-rule options every command that maps paths shares (remap, scan, render, env, ...).

One definition keeps the flags and their meaning identical across commands:
``--map SRC=DST`` (repeatable), ``--rules FILE`` (OpenJD pathmapping-1.0), ``--accsyn-mappings FILE``
(``mapped_share_paths``; ``share=`` locals resolved through ``--shares FILE``) and ``--case-insensitive-posix``.
All given sources are merged into one RuleSet; a conflict between them is an error.
"""
from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any, List, Mapping, Optional, Tuple

from aefarm_common.jsonfile import read_json
from aefarm_common.platforms import host_os, normalize_os
from remap.errors import RemapError
from remap.rules import RuleSet
from remap.shares import load_shares, node_sharepaths_from_data, validate_shares


def add_rule_arguments(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    """Add the path-mapping options (as their own help group) to ``parser``."""
    group = parser.add_argument_group("path mapping")
    group.add_argument("--map", action="append", default=[], metavar="SRC=DST", dest="map",
                       help="map paths under SRC to DST (repeatable; split at the first '=' followed by an "
                            "absolute path), e.g. --map 'P:\\=/mnt/p'")
    group.add_argument("--rules", metavar="FILE", default=None,
                       help="Open Job Description path mapping rules file (pathmapping-1.0; '{}' means none)")
    group.add_argument("--accsyn-mappings", metavar="FILE", default=None, dest="accsyn_mappings",
                       help="accsyn mapped_share_paths as JSON: a list of {remote, local, os}, an object with "
                            "'mapped_share_paths', or an accsyn data.json")
    group.add_argument("--shares", metavar="FILE", default=None,
                       help="accsyn shares table for share=<id|code> locals: a JSON list or an accsyn data.json")
    group.add_argument("--case-insensitive-posix", action="store_true", default=False,
                       dest="case_insensitive_posix",
                       help="match POSIX sources case-insensitively (macOS volumes usually are)")
    return parser


def rules_from_args(args: argparse.Namespace, node_os: Optional[str] = None) -> RuleSet:
    """One RuleSet from the options ``add_rule_arguments`` added. ``node_os`` defaults to this machine's OS."""
    insensitive = bool(getattr(args, "case_insensitive_posix", False))
    try:
        node = normalize_os(node_os) if node_os else host_os()
    except ValueError as exc:
        raise RemapError(str(exc)) from None
    rules = RuleSet.from_cli(list(getattr(args, "map", None) or []), case_insensitive_posix=insensitive)
    rules_file = getattr(args, "rules", None)
    if rules_file:
        rules = rules.merged(RuleSet.from_openjd_file(rules_file, case_insensitive_posix=insensitive))
    mappings_file = getattr(args, "accsyn_mappings", None)
    shares_file = getattr(args, "shares", None)
    if mappings_file:
        entries, shares, node_paths = load_accsyn_mappings(mappings_file)
        if shares_file:
            shares = load_shares(shares_file)
            data = read_json(shares_file, "shares file", RemapError)
            extra = node_sharepaths_from_data(data, f"shares file {shares_file}")
            node_paths = extra if extra is not None else node_paths
        rules = rules.merged(RuleSet.from_accsyn(entries, shares, node, node_paths,
                                                 case_insensitive_posix=insensitive))
    elif shares_file:
        raise RemapError("--shares only applies together with --accsyn-mappings")
    return rules


def load_accsyn_mappings(path: str) -> Tuple[List[Mapping[str, Any]], Optional[list], Optional[list]]:
    """``(mapped_share_paths, shares or None, node sharepaths or None)`` from one of the accepted file shapes."""
    data = read_json(path, "accsyn mappings file", RemapError)
    where = f"accsyn mappings file {Path(path).name}"
    shares = node_paths = None
    if isinstance(data, Mapping):
        if "shares" in data:
            shares = validate_shares(data["shares"], where)
        node_paths = node_sharepaths_from_data(data, where)
        entries: Any = data.get("mapped_share_paths")
        if entries is None:
            compute = data.get("compute")
            params = compute.get("parameters") if isinstance(compute, Mapping) else None
            entries = params.get("mapped_share_paths") if isinstance(params, Mapping) else None
        if entries is None and "path_mapping_rules" in data:
            raise RemapError(f"{where}: this is an OpenJD path mapping rules file; give it with --rules")
        if entries is None:
            entries = []  # a data.json without mappings: no rules from it
    else:
        entries = data
    if not isinstance(entries, list):
        raise RemapError(f"{where}: mapped_share_paths must be a list of {{remote, local, os}} objects")
    return entries, shares, node_paths
