"""accsyn shares: named storage roots with one mount path per OS.

accsyn jobs refer to storage as ``share=<id or code>[/sub]`` so that one job works on every node. A node resolves it
through its own mounts first (``client.config.sharepaths`` in the daemon's data file: a node may mount a share
somewhere unusual) and then through the share's default ``paths[os]``.

The shares table comes either from a local JSON file (a list of ``{id, code, paths: {windows, linux, mac}}``) or from
the accsyn daemon's ``data.json`` (``shares`` plus ``client.config.sharepaths``).
"""
from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Dict, List, Mapping, Optional, Sequence, Union

from aefarm_common.jsonfile import read_json
from aefarm_common.platforms import normalize_os
from remap.errors import RemapError
from remap.paths import WINDOWS, parse_path

_OS_KEYS = ("windows", "linux", "mac")
_SUB_SPLIT = re.compile(r"[\\/]")


def load_shares(path: Union[str, Path]) -> List[Dict[str, Any]]:
    """The shares table from a JSON list of shares or an accsyn daemon data file (its ``shares``)."""
    data = read_json(path, "shares file", RemapError)
    where = f"shares file {Path(path).name}"
    if isinstance(data, Mapping):
        if "shares" not in data:
            raise RemapError(f"{where}: expected a list of shares or an accsyn data file with 'shares'")
        data = data["shares"]
    return validate_shares(data, where)


def load_node_sharepaths(path: Union[str, Path]) -> Optional[List[Dict[str, Any]]]:
    """This node's own share mounts (``client.config.sharepaths``) from an accsyn data file; None when absent."""
    data = read_json(path, "accsyn data file", RemapError)
    return node_sharepaths_from_data(data, f"accsyn data file {Path(path).name}")


def node_sharepaths_from_data(data: object, where: str = "accsyn data") -> Optional[List[Dict[str, Any]]]:
    """``client.config.sharepaths`` of an accsyn data dict, validated; None when the data has none."""
    if not isinstance(data, Mapping):
        return None
    client = data.get("client")
    config = client.get("config") if isinstance(client, Mapping) else None
    entries = config.get("sharepaths") if isinstance(config, Mapping) else None
    if entries is None:
        return None
    if not isinstance(entries, list):
        raise RemapError(f"{where}: client.config.sharepaths must be a list")
    for number, entry in enumerate(entries, 1):
        if not isinstance(entry, Mapping) or not isinstance(entry.get("path"), str):
            raise RemapError(f"{where}: client.config.sharepaths entry {number} needs a string 'path'")
        if entry.get("share") is None and entry.get("share_hr") is None:
            raise RemapError(f"{where}: client.config.sharepaths entry {number} names no share")
    return [dict(e) for e in entries]


def validate_shares(shares: object, where: str = "shares") -> List[Dict[str, Any]]:
    """Check the table's shape once, so later look-ups can trust it. Returns the shares as a list of dicts."""
    if shares is None:
        return []
    if not isinstance(shares, (list, tuple)):
        raise RemapError(f"{where}: expected a list of shares, got {type(shares).__name__}")
    out = []
    for number, share in enumerate(shares, 1):
        if not isinstance(share, Mapping):
            raise RemapError(f"{where}: share {number} must be an object, got {type(share).__name__}")
        if share.get("id") is None and share.get("code") is None:
            raise RemapError(f"{where}: share {number} has neither 'id' nor 'code'")
        paths = share.get("paths", {})
        if not isinstance(paths, Mapping):
            raise RemapError(f"{where}: share {share_label(share)} 'paths' must be an object")
        for key, value in paths.items():
            if value is not None and not isinstance(value, str):
                raise RemapError(f"{where}: share {share_label(share)} paths.{key} must be a string")
        out.append(dict(share))
    return out


def share_label(share: Mapping) -> str:
    """How messages name a share: its code, else its id."""
    return str(share.get("code") if share.get("code") is not None else share.get("id"))


def _matches(share: Mapping, key: str) -> bool:
    return key in (str(share.get("id")), str(share.get("code")))


def node_share_path(share: Mapping, node_sharepaths: Optional[Sequence[Mapping]]) -> Optional[str]:
    """This node's own mount of ``share`` (an entry of ``client.config.sharepaths``), or None."""
    for entry in node_sharepaths or ():
        names = {str(entry.get("share")), str(entry.get("share_hr"))} - {"None"}
        if names & {str(share.get("id")), str(share.get("code"))} - {"None"}:
            path = entry.get("path")
            if isinstance(path, str) and path:
                return path
    return None


def resolve_share_path(value: str, shares: Optional[Sequence[Mapping]], node_os: str,
                       node_sharepaths: Optional[Sequence[Mapping]] = None) -> str:
    """``share=<id|code>[/sub]`` -> the absolute path on this node.

    The node's own mounts win, then ``shares[].paths[node_os]``. ``sub`` is joined with the base path's separator;
    ``..`` components are refused (the result must stay inside the share).
    """
    if not isinstance(value, str) or not value[:6].lower() == "share=":
        raise RemapError(f"expected share=<id|code>[/sub], got {value!r}")
    try:
        node = normalize_os(node_os)
    except ValueError as exc:
        raise RemapError(str(exc)) from None
    rest = value[6:]
    parts = _SUB_SPLIT.split(rest)
    key, sub = parts[0].strip(), [p for p in parts[1:] if p]
    if not key:
        raise RemapError(f"{value!r}: no share named after 'share='")
    if any(p == ".." for p in sub):
        raise RemapError(f"{value!r}: '..' would leave the share")
    table = validate_shares(shares)
    share = next((s for s in table if _matches(s, key)), None)
    if share is None:
        share = next((s for s in table if str(s.get("code", "")).lower() == key.lower()), None)
    if share is None:
        share = {"id": key, "code": key}  # the node may mount a share the table does not list
        base = node_share_path(share, node_sharepaths)
        if base is None:
            known = ", ".join(sorted(share_label(s) for s in table)) or "none"
            raise RemapError(f"unknown share {key!r} in {value!r} (known shares: {known})")
    else:
        base = node_share_path(share, node_sharepaths)
        if base is None:
            base = (share.get("paths") or {}).get(node)
        if not base:
            raise RemapError(f"share {share_label(share)} has no path for {node} (needed by {value!r})")
    return join_under(base, sub, f"share {share_label(share)}")


def join_under(base: str, parts: Sequence[str], what: str) -> str:
    """Append relative components to an absolute base path using the base's own separator."""
    parsed = parse_path(base, allow_bare_drive=True)
    if parsed is None:
        raise RemapError(f"{what}: path {base!r} is not absolute")
    if parsed.family == WINDOWS:
        sep = "/" if ("/" in base and "\\" not in base) else "\\"
        trimmed = base.rstrip("\\/")
        if len(trimmed) == 2 and trimmed[1] == ":":
            trimmed += sep  # drive root
    else:
        sep = "/"
        trimmed = base.rstrip("/") or "/"
    if not parts:
        return trimmed
    return (trimmed if trimmed.endswith(sep) else trimmed + sep) + sep.join(parts)


def os_paths(share: Mapping) -> Dict[str, str]:
    """A share's per-OS paths that are set (``windows``/``linux``/``mac``)."""
    paths = share.get("paths") or {}
    return {k: paths[k] for k in _OS_KEYS if isinstance(paths.get(k), str) and paths[k]}
