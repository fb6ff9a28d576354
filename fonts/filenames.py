"""Safe file names for fonts written into a fonts folder.

A bundle's file names and a font's own names are untrusted: a name must never reach outside the folder it is written
to, on any OS the bundle may travel to (so a backslash is a separator too, and Windows device names are refused).
Names that try to climb out are rejected, not quietly repaired, so a malicious or broken bundle is noticed.
"""
from __future__ import annotations

import hashlib
import os
import re
import secrets
import sys
import unicodedata
from pathlib import Path

from fonts.errors import FontError
from fonts.inspect import FONT_EXTENSIONS

MAX_NAME_LENGTH = 120
_WINDOWS_DEVICES = {"CON", "PRN", "AUX", "NUL", *(f"COM{i}" for i in range(1, 10)), *(f"LPT{i}" for i in range(1, 10))}
_UNSAFE_CHARACTERS = re.compile(r'[\x00-\x1f\x7f<>:"|?*]')


def safe_font_file_name(name: str, extension: str) -> str:
    """``name`` made safe as one file name in a fonts folder, ending in a font extension (``extension`` if it has none).

    FontError when the name is a path (separators, drive letters, ``..``) or has nothing usable left.
    """
    original = name
    name = unicodedata.normalize("NFC", name)
    if "/" in name or "\\" in name or re.match(r"^[A-Za-z]:", name) or name.strip(" .") == "" and ".." in name:
        raise FontError(f"unsafe font file name {original!r}: it names a path outside the fonts folder")
    name = _UNSAFE_CHARACTERS.sub("_", name).strip(" .")
    if not name:
        raise FontError(f"unusable font file name {original!r}")
    if not name.lower().endswith(FONT_EXTENSIONS):
        name += extension
    stem, suffix = name[: -len(Path(name).suffix)], Path(name).suffix
    if stem.split(".")[0].upper() in _WINDOWS_DEVICES:
        stem = "font-" + stem
    if len(stem) + len(suffix) > MAX_NAME_LENGTH:
        stem = stem[: MAX_NAME_LENGTH - len(suffix)].rstrip(" .")
    return stem + suffix


def name_from_text(text: str) -> str:
    """A file-name stem from a font's own name (PostScript or full name): separators become hyphens."""
    return re.sub(r"[/\\]+", "-", text).strip() or "font"


def unique_variant(name: str, tag: str, attempt: int) -> str:
    """The ``attempt``-th alternative to ``name`` (0 is the name itself): ``stem-aefarm-<tag>[-n].ext``."""
    if attempt == 0:
        return name
    suffix = Path(name).suffix
    stem = name[: -len(suffix)] if suffix else name
    extra = f"-aefarm-{tag}" + (f"-{attempt}" if attempt > 1 else "")
    return stem[: MAX_NAME_LENGTH - len(suffix) - len(extra)] + extra + suffix


def inside(folder: Path, name: str) -> Path:
    """``folder / name``, checked to be a direct child of ``folder`` (the last guard before any write or delete)."""
    target = folder / name
    if target.parent != folder or name in ("", ".", ".."):
        raise FontError(f"unsafe font file name {name!r}: it names a path outside {folder}")
    return target


def same_content(path: Path, sha256: str) -> bool:
    """True when ``path`` is a regular file (not a link) whose bytes hash to ``sha256``."""
    try:
        if path.is_symlink() or not path.is_file():
            return False
        return hashlib.sha256(path.read_bytes()).hexdigest() == sha256
    except OSError:
        return False


def write_new_file(target: Path, data: bytes) -> bool:
    """Write ``target`` complete or not at all, never replacing a file that exists or appears meanwhile.

    False when ``target`` exists. The bytes go to a hidden temp file first, then a hard link claims the name (atomic
    and exclusive); where hard links are not supported, an exclusive create is filled instead.
    """
    temp = target.parent / f".aefarm-{secrets.token_hex(6)}.tmp"
    with open(temp, "xb") as stream:
        stream.write(data)
        stream.flush()
        os.fsync(stream.fileno())
    try:
        os.link(temp, target)
        return True
    except FileExistsError:
        return False
    except OSError:
        try:
            binary = 0
            if sys.platform == "win32":
                binary = os.O_BINARY  # no newline translation
            handle = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL | binary, 0o644)
        except FileExistsError:
            return False
        try:
            with os.fdopen(handle, "wb") as stream:
                stream.write(data)
                stream.flush()
                os.fsync(stream.fileno())
        except BaseException:
            target.unlink()
            raise
        return True
    finally:
        try:
            temp.unlink()
        except OSError:
            pass
