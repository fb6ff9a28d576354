"""Read and verify font files with fontTools.

Only files verified here are ever collected or installed: a truncated download or a stray non-font file in a bundle
would otherwise be registered with the OS and make After Effects substitute the font silently. Verification is
structural (signature, table directory inside the file, the tables a renderer needs present and decodable), so it is
fast enough to run on every candidate in a system font folder.

Adobe Fonts (``livetype``) files have no extension: the format is decided by content, never by name.
"""
from __future__ import annotations

import hashlib
import os
import re
import struct
from dataclasses import dataclass
from pathlib import Path
from typing import Optional, Tuple, Union

from fonts.errors import FontError

PathLike = Union[str, "os.PathLike[str]"]

FONT_EXTENSIONS = (".ttf", ".otf", ".ttc", ".otc")

# First four bytes of the formats After Effects can use, and of formats we recognise only to reject clearly.
_SFNT_SIGNATURES = {b"\x00\x01\x00\x00": "truetype", b"true": "truetype", b"OTTO": "cff", b"ttcf": "collection"}
_UNSUPPORTED_SIGNATURES = {b"wOFF": "WOFF web font", b"wOF2": "WOFF2 web font", b"typ1": "Type 1 sfnt wrapper",
                           b"%!PS": "PostScript Type 1 font", b"\x80\x01": "PostScript Type 1 (PFB) font"}
_REQUIRED_TABLES = ("head", "name", "cmap", "maxp")


@dataclass(frozen=True)
class FontFace:
    """One face (a file has one, a collection several). Names are what After Effects and the OS match on."""

    postscript_name: str
    family: str
    style: str
    full_name: str

    def match_keys(self) -> Tuple[str, ...]:
        """Names a request may use for exactly this face (normalised with :func:`name_key`)."""
        keys = {name_key(self.postscript_name), name_key(self.full_name), name_key(f"{self.family} {self.style}")}
        keys.discard("")
        return tuple(sorted(keys))


@dataclass(frozen=True)
class FontFile:
    """A verified font file: where it is, what it holds and a content hash that identifies it across hosts."""

    path: Path
    kind: str  # "truetype" | "cff" | "collection"
    faces: Tuple[FontFace, ...]
    sha256: str
    size: int

    @property
    def extension(self) -> str:
        """The extension the content calls for (used when a source name has none, as Adobe Fonts files do)."""
        if self.kind == "collection":
            return ".ttc"
        return ".otf" if self.kind == "cff" else ".ttf"

    @property
    def full_name(self) -> str:
        """Windows' display name of the file: the faces' full names joined with " & " (as for collections)."""
        return " & ".join(face.full_name or face.postscript_name for face in self.faces)


def name_key(name: str) -> str:
    """Case, space, hyphen and underscore blind key, so "Helvetica-Bold", "Helvetica Bold" and "helveticabold" meet."""
    return re.sub(r"[\s\-_]+", "", name).casefold()


def sniff(path: PathLike) -> Optional[str]:
    """The font kind from the first bytes, or None when the file is not a font we can use. Never raises."""
    try:
        with open(path, "rb") as handle:
            head = handle.read(4)
    except OSError:
        return None
    return _SFNT_SIGNATURES.get(head)


def is_candidate_name(name: str) -> bool:
    """Files worth sniffing in a font folder: font extensions, and extensionless names (Adobe Fonts' livetype)."""
    lower = name.lower()
    return lower.endswith(FONT_EXTENSIONS) or Path(name).suffix == ""


def read_font(path: PathLike, verify: bool = True) -> FontFile:
    """Verify ``path`` is a complete font file and read its faces' names; FontError names the file and the defect.

    ``verify=False`` (for scanning whole font folders) still checks the signature and that every table lies inside
    the file, but decodes only the name table.
    """
    source = Path(path)
    try:
        data = source.read_bytes()
    except IsADirectoryError:
        raise FontError(f"not a font file (a folder): {source}") from None
    except OSError as exc:
        raise FontError(f"cannot read font file {source}: {exc.strerror or exc}") from None
    signature = data[:4]
    kind = _SFNT_SIGNATURES.get(signature)
    if kind is None:
        other = _UNSUPPORTED_SIGNATURES.get(signature) or _UNSUPPORTED_SIGNATURES.get(signature[:2])
        if other:
            raise FontError(f"unsupported font format ({other}): {source}")
        raise FontError(f"not a font file (unknown signature {signature!r}): {source}")
    offsets = _face_offsets(data, kind, source)
    faces = tuple(_read_face(source, data, index if kind == "collection" else None, verify)
                  for index, offset in enumerate(offsets))
    return FontFile(path=source, kind=kind, faces=faces, sha256=hashlib.sha256(data).hexdigest(), size=len(data))


def _face_offsets(data: bytes, kind: str, source: Path) -> Tuple[int, ...]:
    if kind != "collection":
        return (0,)
    if len(data) < 12:
        raise FontError(f"truncated font collection (header incomplete): {source}")
    (count,) = struct.unpack(">L", data[8:12])
    if count == 0 or 12 + 4 * count > len(data):
        raise FontError(f"truncated or damaged font collection ({count} faces declared): {source}")
    offsets = struct.unpack(f">{count}L", data[12:12 + 4 * count])
    for offset in offsets:
        if offset + 12 > len(data):
            raise FontError(f"truncated font collection (face directory at {offset} past the end): {source}")
    return offsets


def _read_face(source: Path, data: bytes, font_number: Optional[int], verify: bool) -> FontFace:
    from io import BytesIO

    from fontTools.ttLib import TTFont

    where = f"{source}" if font_number is None else f"{source} (face {font_number})"
    try:
        font = TTFont(BytesIO(data), fontNumber=-1 if font_number is None else font_number, lazy=True)
    except Exception as exc:  # fontTools raises struct.error, TTLibError, AssertionError... on damaged input
        raise FontError(f"damaged font file ({_brief(exc)}): {where}") from None
    try:
        entries = font.reader.tables
        for tag, entry in entries.items():
            if entry.offset + entry.length > len(data):
                raise FontError(f"truncated font file (table '{tag.strip()}' ends past the end of the file): {where}")
        missing = [tag for tag in _REQUIRED_TABLES if tag not in entries]
        outlines = ("glyf" in entries and "loca" in entries) or "CFF " in entries or "CFF2" in entries
        if missing or not outlines:
            what = ", ".join(missing + ([] if outlines else ["glyf/loca or CFF"]))
            raise FontError(f"incomplete font file (missing table {what}): {where}")
        for tag in ("head", "maxp", "name", "cmap") if verify else ("name",):
            font[tag]  # decompiles; raises on damaged data
        if verify and "glyf" in entries:
            loca = font["loca"]
            if len(loca) and loca[-1] > entries["glyf"].length:
                raise FontError(f"truncated font file (glyph data shorter than its index): {where}")
        return _face_names(font, where)
    except FontError:
        raise
    except Exception as exc:
        raise FontError(f"damaged font file ({_brief(exc)}): {where}") from None
    finally:
        font.close()


def _face_names(font, where: str) -> FontFace:
    names = font["name"]
    postscript = names.getDebugName(6) or ""
    if not postscript and "CFF " in font.reader.tables:
        postscript = font["CFF "].cff.fontNames[0]
    family = names.getBestFamilyName() or names.getDebugName(1) or ""
    style = names.getBestSubFamilyName() or names.getDebugName(2) or ""
    full = names.getDebugName(4) or names.getBestFullName() or " ".join(p for p in (family, style) if p)
    if not (postscript or family):
        raise FontError(f"font has no PostScript or family name: {where}")
    return FontFace(postscript_name=postscript.strip(), family=family.strip(), style=style.strip(),
                    full_name=full.strip())


def _brief(exc: BaseException) -> str:
    text = " ".join(str(exc).split()) or type(exc).__name__
    return text if len(text) <= 120 else text[:117] + "..."
