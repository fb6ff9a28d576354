"""Gather a project's fonts into one folder that travels with the job.

The submitter panel reports the PostScript names After Effects uses; a name is looked up in font folders (the OS's,
the user's and Adobe Fonts' ``livetype`` cache, whose files have no extension) by what the fonts themselves say, not
by file name. A request matches, in order of preference: a face's PostScript name, its full name or "family style";
failing those, every face of a family of that name. Names are compared ignoring case, spaces, hyphens and
underscores. Every request must be satisfied, or nothing is copied and the error lists what is missing.
"""
from __future__ import annotations

import json
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, Iterable, Iterator, List, Mapping, Optional, Sequence, Union

from aefarm_common.platforms import host_os
from fonts.errors import FontError
from fonts.filenames import inside, name_from_text, safe_font_file_name, same_content, unique_variant, write_new_file
from fonts.inspect import FONT_EXTENSIONS, FontFace, FontFile, is_candidate_name, name_key, read_font, sniff

PathLike = Union[str, "os.PathLike[str]"]


@dataclass(frozen=True)
class Match:
    """A request and the font file that satisfies it (``face`` is None for an explicitly given file)."""

    request: str
    font: FontFile
    face: Optional[FontFace]


def default_search_dirs(os_name: Optional[str] = None, home: Optional[Path] = None,
                        environ: Optional[Mapping[str, str]] = None) -> List[Path]:
    """Font folders of ``os_name`` in priority order: the user's own, Adobe Fonts (livetype), then the system's."""
    env = os.environ if environ is None else environ
    if os_name is None:
        os_name = host_os()
    home = Path(home) if home is not None else Path.home()
    if os_name == "windows":
        local = Path(env.get("LOCALAPPDATA") or home / "AppData" / "Local")
        roaming = Path(env.get("APPDATA") or home / "AppData" / "Roaming")
        windir = Path(env.get("WINDIR") or env.get("SystemRoot") or r"C:\Windows")
        common = Path(env.get("CommonProgramFiles") or r"C:\Program Files\Common Files")
        return [local / "Microsoft" / "Windows" / "Fonts", roaming / "Adobe" / "CoreSync" / "plugins" / "livetype",
                common / "Adobe" / "Fonts", windir / "Fonts"]
    if os_name == "mac":
        return [home / "Library" / "Fonts",
                home / "Library" / "Application Support" / "Adobe" / "CoreSync" / "plugins" / "livetype",
                Path("/Library/Application Support/Adobe/Fonts"), Path("/Library/Fonts"),
                Path("/System/Library/Fonts")]
    data_home = Path(env.get("XDG_DATA_HOME") or home / ".local" / "share")
    return [data_home / "fonts", home / ".fonts", Path("/usr/local/share/fonts"), Path("/usr/share/fonts")]


def parse_font_list(text: str) -> List[str]:
    """Names from a ``--from`` file: a JSON list, a JSON object with a ``fonts`` list, or one name per line (#)."""
    stripped = text.strip()
    if stripped.startswith(("[", "{")):
        try:
            data = json.loads(stripped)
        except ValueError as exc:
            raise FontError(f"font list is not valid JSON: {exc}") from None
        if isinstance(data, dict):
            data = data.get("fonts")
        if not isinstance(data, list) or not all(isinstance(item, str) for item in data):
            raise FontError("font list JSON must be a list of names or {\"fonts\": [names]}")
        return [item.strip() for item in data if item.strip()]
    names = (line.split("#", 1)[0].strip() for line in text.splitlines())
    return [name for name in names if name]


def read_font_list(path: PathLike) -> List[str]:
    try:
        text = Path(path).read_text(encoding="utf-8-sig")
    except OSError as exc:
        raise FontError(f"cannot read font list {path}: {exc.strerror or exc}") from None
    except UnicodeDecodeError:
        raise FontError(f"font list {path} is not UTF-8 text") from None
    try:
        return parse_font_list(text)
    except FontError as exc:
        raise FontError(f"{exc}: {path}") from None


def is_file_request(entry: str) -> bool:
    """A request names a file when it has a separator or a font extension, or is an existing file."""
    return "/" in entry or "\\" in entry or entry.lower().endswith(FONT_EXTENSIONS) or os.path.isfile(entry)


def find_fonts(requests: Sequence[str], search_dirs: Optional[Sequence[PathLike]] = None) -> List[Match]:
    """Resolve every request to font files (verified); FontError lists the requests nothing satisfies."""
    matches: List[Match] = []
    wanted: Dict[str, str] = {}
    for entry in requests:
        entry = entry.strip()
        if not entry:
            continue
        if is_file_request(entry):
            if not os.path.isfile(entry):
                raise FontError(f"font file not found: {entry}")
            matches.append(Match(entry, read_font(entry), None))
        else:
            wanted.setdefault(name_key(entry), entry)
    if not wanted:
        return matches
    dirs = [Path(d) for d in (default_search_dirs() if search_dirs is None else search_dirs)]
    exact: Dict[str, Match] = {}
    family: Dict[str, List[Match]] = {}
    for font in _scan(dirs):
        for face in font.faces:
            for key in face.match_keys():
                if key in wanted and key not in exact:
                    exact[key] = Match(wanted[key], font, face)
            family_key = name_key(face.family)
            if family_key in wanted:
                family.setdefault(family_key, []).append(Match(wanted[family_key], font, face))
        if all(key in exact for key in wanted):
            break  # a family request keeps the scan going: all of its faces are wanted
    missing = [request for key, request in wanted.items() if key not in exact and key not in family]
    if missing:
        where = ", ".join(str(d) for d in dirs) or "no folders"
        raise FontError(f"font{'s' if len(missing) > 1 else ''} not found: {', '.join(missing)} (searched {where})")
    for key in wanted:
        chosen = [exact[key]] if key in exact else family[key]
        matches.extend(Match(m.request, read_font(m.font.path), m.face) for m in chosen)  # full verification
    return matches


def collect(names_or_files: Iterable[str], search_dirs: Optional[Sequence[PathLike]] = None,
            dest: Optional[PathLike] = None) -> Path:
    """Copy the fonts for ``names_or_files`` into ``dest`` (default: a new temporary folder) and return it.

    Existing files in ``dest`` are never overwritten: an identical file is reused, a different one keeps its name
    and ours gets a unique one. Each file is written completely or not at all.
    """
    return copy_matches(find_fonts(list(names_or_files), search_dirs), dest)


def copy_matches(matches: Sequence[Match], dest: Optional[PathLike] = None) -> Path:
    """The copying half of :func:`collect`, for callers that report the matches too."""
    if not matches:
        raise FontError("no fonts requested")
    folder = Path(dest) if dest is not None else Path(tempfile.mkdtemp(prefix="aefarm-fonts-"))
    if folder.exists() and not folder.is_dir():
        raise FontError(f"font output is not a folder: {folder}")
    folder.mkdir(parents=True, exist_ok=True)
    folder = folder.resolve()
    done = set()
    for match in matches:
        if match.font.sha256 not in done:
            done.add(match.font.sha256)
            _copy_into(folder, match.font)
    return folder


def _copy_into(folder: Path, font: FontFile) -> Path:
    source_name = font.path.name
    if source_name.lower().endswith(FONT_EXTENSIONS):
        stem_source = source_name
    else:  # Adobe Fonts files: numbers, no extension; the font's own name is what a person recognises
        stem_source = name_from_text(font.faces[0].postscript_name or font.faces[0].full_name)
    base = safe_font_file_name(stem_source, font.extension)
    data = font.path.read_bytes()
    for attempt in range(100):
        target = inside(folder, unique_variant(base, font.sha256[:8], attempt))
        if os.path.lexists(target):
            if same_content(target, font.sha256):
                return target
            continue
        if write_new_file(target, data):
            return target
    raise FontError(f"no free file name for {base} in {folder}")


def _scan(dirs: Sequence[Path]) -> Iterator[FontFile]:
    """Every readable font under ``dirs`` in order (hidden folders included: livetype keeps fonts in ``.r``)."""
    seen = set()
    for top in dirs:
        if not top.is_dir():
            continue
        for root, subdirs, files in os.walk(top):
            subdirs.sort()
            for name in sorted(files):
                path = Path(root) / name
                if not is_candidate_name(name) or sniff(path) is None:
                    continue
                try:
                    real = path.resolve()
                except OSError:
                    continue
                if real in seen:
                    continue
                seen.add(real)
                try:
                    yield read_font(path, verify=False)
                except FontError:
                    continue  # a broken file in a system folder is not the job's problem unless nothing else matches
