"""Reading one path string: which OS family it belongs to, and its components.

Mapping must leave every byte outside the replaced prefix exactly as it was, so a path is never normalised here:
it is only cut into components on its family's separators. The prefix part is compared loosely (Windows: either
separator, any case; long-path ``\\\\?\\`` prefixes and ``file:`` URIs unwrapped) while the remainder components are
kept verbatim (for URIs: still percent-encoded) so they can be re-joined unchanged.

Forms understood (see docs/formats.md §2):

- Windows drive paths ``C:\\x``, ``c:/x``, mixed separators; a bare ``C:`` only where ``allow_bare_drive`` is set
  (rule prefixes), since in a project it means "current folder of drive C" and is relative;
- UNC ``\\\\server\\share\\x`` (also written ``//server/share/x``);
- long-path prefixes ``\\\\?\\C:\\x``, ``\\\\?\\UNC\\server\\share\\x`` (and the ``\\\\.\\`` device form);
- POSIX ``/x`` (``//x`` counts as a forward-slashed UNC path, ``///x`` as POSIX);
- ``file:`` URIs: ``file:///C:/x``, ``file:///mnt/x``, ``file:/mnt/x``, ``file://localhost/mnt/x``,
  ``file://server/share/x`` (UNC);
- anything else (``x/y``, ``.\\x``, ``\\x``, ``C:x``, ``~/x``) is relative: ``parse_path`` returns None.
"""
from __future__ import annotations

import re
from pathlib import PurePath, PurePosixPath, PureWindowsPath
from typing import List, NamedTuple, Optional
from urllib.parse import quote, unquote

from aefarm_common.platforms import normalize_os

WINDOWS = "windows"
POSIX = "posix"

_WIN_SPLIT = re.compile(r"[\\/]")
_LONG_PREFIX = re.compile(r"^[\\/]{2}[?.][\\/]")
_LONG_UNC = re.compile(r"^UNC(?:[\\/]|$)", re.IGNORECASE)
_URI_DRIVE = re.compile(r"^/[A-Za-z]:(?:/|$)")


class ParsedPath(NamedTuple):
    """An absolute path cut into components.

    ``components`` are the path's own text between separators. For drive paths the first is the drive (``C:``);
    UNC paths start with two empty components (``['', '', 'server', 'share', ...]``); POSIX paths start with one
    (``['', 'mnt', ...]``). For URIs the components are still percent-encoded (``decode`` them to compare).
    """

    family: str  # WINDOWS | POSIX
    kind: str  # "drive" | "unc" | "posix" | "device" (a \\?\ path that is neither drive nor UNC)
    components: List[str]
    long_prefix: str  # e.g. "\\?\" when the input carried one, else ""
    uri: bool  # the input was a file: URI


def _is_drive(text: str) -> bool:
    return len(text) >= 2 and text[1] == ":" and ("a" <= text[0] <= "z" or "A" <= text[0] <= "Z")


def _parse_windows_body(body: str, allow_bare_drive: bool) -> Optional[ParsedPath]:
    """Parse a Windows path without long-path prefix or URI wrapping."""
    if _is_drive(body):
        if len(body) == 2:
            if not allow_bare_drive:
                return None
            return ParsedPath(WINDOWS, "drive", [body], "", False)
        if body[2] not in "\\/":
            return None  # C:x is relative to drive C's current folder
        return ParsedPath(WINDOWS, "drive", _WIN_SPLIT.split(body), "", False)
    if len(body) > 2 and body[0] in "\\/" and body[1] in "\\/" and body[2] not in "\\/":
        return ParsedPath(WINDOWS, "unc", _WIN_SPLIT.split(body), "", False)
    return None


def _parse_uri(text: str) -> Optional[ParsedPath]:
    rest = text[5:]  # after "file:"
    if rest.startswith("//"):
        host, slash, path = rest[2:].partition("/")
        if host and host.lower() != "localhost":
            comps = ["", "", host] + (path.split("/") if slash else [])
            return ParsedPath(WINDOWS, "unc", comps, "", True)
        path = "/" + path if slash else ""
    else:
        path = rest
    if not path.startswith("/"):
        return None
    if _URI_DRIVE.match(path):
        return ParsedPath(WINDOWS, "drive", path[1:].split("/"), "", True)
    if path.startswith("//") and len(path) > 2 and path[2] != "/":
        return ParsedPath(WINDOWS, "unc", path.split("/"), "", True)  # file:////server/share
    return ParsedPath(POSIX, "posix", path.split("/"), "", True)


def parse_path(text: str, allow_bare_drive: bool = False) -> Optional[ParsedPath]:
    """Classify ``text``; None when it is not an absolute path of any family (relative, empty, not a string)."""
    if not isinstance(text, str) or not text:
        return None
    first = text[0]
    if first == "/" or first == "\\":
        if _LONG_PREFIX.match(text):
            prefix, body = text[:4], text[4:]
            unc = _LONG_UNC.match(body)
            if unc:
                comps = [""] + _WIN_SPLIT.split(body[3:]) if len(body) > 3 else ["", ""]
                if len(comps) < 3 or not comps[2]:
                    return None
                return ParsedPath(WINDOWS, "unc", comps, prefix + body[:3], False)
            parsed = _parse_windows_body(body, allow_bare_drive=True)
            if parsed is None:
                return ParsedPath(WINDOWS, "device", _WIN_SPLIT.split(body), prefix, False) if body else None
            return parsed._replace(long_prefix=prefix)
        if first == "/" and not (len(text) > 2 and text[1] in "\\/" and text[2] not in "\\/"):
            return ParsedPath(POSIX, "posix", text.split("/"), "", False)
        return _parse_windows_body(text, allow_bare_drive)
    if _is_drive(text):
        return _parse_windows_body(text, allow_bare_drive)
    if first in "fF" and text[:5].lower() == "file:":
        return _parse_uri(text)
    return None


def decode_components(parsed: ParsedPath, count: int) -> List[str]:
    """The first ``count`` components as text to compare (URI components percent-decoded)."""
    comps = parsed.components[:count]
    if parsed.uri:
        return [unquote(c) for c in comps]
    return comps


def path_os(path: str) -> Optional[str]:
    """``"windows"`` or ``"posix"`` for an absolute path (any form above), None for anything else."""
    parsed = parse_path(path)
    return None if parsed is None else parsed.family


def ae_platform(path: str) -> str:
    """The ``platform`` attribute After Effects writes for a path: ``Win`` for drive/UNC, else ``MacPOSIX``.

    After Effects has no Linux platform value; any POSIX path is ``MacPOSIX``.
    """
    return "Win" if path_os(path) == WINDOWS else "MacPOSIX"


def is_absolute(path: str) -> bool:
    return parse_path(path) is not None


def uri_to_path(text: str) -> Optional[str]:
    """The plain path a ``file:`` URI names (``file:///C:/a%20b`` -> ``C:\\a b``), or None when it is not one."""
    parsed = parse_path(text)
    if parsed is None or not parsed.uri:
        return None
    comps = [unquote(c) for c in parsed.components]
    if parsed.family == WINDOWS:
        return "\\".join(comps) if len(comps) > 1 else comps[0] + "\\"
    return "/".join(comps) or "/"


def plain_path(path: str) -> str:
    """``path`` with a ``file:`` URI unwrapped to the plain path it names; any other text as it is."""
    plain = uri_to_path(path)
    return path if plain is None else plain


def path_to_uri(path: str) -> str:
    """The ``file:`` URI of an absolute plain path (``C:\\a b`` -> ``file:///C:/a%20b``; UNC -> ``file://server/``)."""
    parsed = parse_path(path, allow_bare_drive=True)
    if parsed is None:
        raise ValueError(f"not an absolute path: {path!r}")
    if parsed.uri:
        return path
    comps = parsed.components
    if parsed.kind == "unc":
        return "file://" + "/".join(quote(c, safe="") for c in comps[2:]) + ("" if len(comps) > 3 else "/")
    if parsed.kind == "drive":
        tail = "/".join(quote(c, safe="") for c in comps[1:])
        return "file:///" + comps[0] + "/" + tail
    return "file://" + "/".join(quote(c, safe="") for c in comps)


def as_pure_path(path: str) -> PurePath:
    """A ``PureWindowsPath``/``PurePosixPath`` for an absolute path (URIs unwrapped), for callers that want one."""
    parsed = parse_path(path, allow_bare_drive=True)
    if parsed is None:
        raise ValueError(f"not an absolute path: {path!r}")
    plain = plain_path(path)
    return PureWindowsPath(plain) if parsed.family == WINDOWS else PurePosixPath(plain)


def os_family(os_name: str) -> str:
    """``windows`` -> ``windows``; ``mac``/``linux`` -> ``posix`` (the path syntax an OS uses)."""
    return WINDOWS if normalize_os(os_name) == "windows" else POSIX
