"""Install a job's fonts for the current user, and remove them when the last job that needs them is done.

Rules that make this safe on a shared render node (see ``fonts.manifest`` for the bookkeeping):
- every file is verified as a complete font before anything is changed; nothing else is ever installed;
- a font already installed by aefarm (same content hash) only gains a reference;
- a file of the same name but other content already in the fonts folder is never overwritten: ours gets a unique
  name; one with the same content is used as it is and, not being ours, is never deleted;
- a font is unregistered and deleted only when its last reference goes, only if it is still the file we wrote;
- references of processes that died (or whose pid was reused) are collected by the next call.

Typical use by a render: ``with installed(folder): run children`` or ``token = install(folder)`` ...
``remove(token)`` in a ``finally``.
"""
from __future__ import annotations

import hashlib
import os
import re
import secrets
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Dict, Iterable, Iterator, List, Optional, Sequence, Tuple, Union

from aefarm_common.userdirs import default_state_dir
from fonts.backends import backend_for
from fonts.backends.base import FontBackend
from fonts.errors import FontError
from fonts.filenames import inside, safe_font_file_name, same_content, unique_variant, write_new_file
from fonts.inspect import FontFile, read_font
from fonts.manifest import Manifest, locked_manifest, owner_record

PathLike = Union[str, "os.PathLike[str]"]
SCOPES = ("user",)
_TOKEN = re.compile(r"^[0-9a-f]{32}$")
_NAME_ATTEMPTS = 100


@dataclass(frozen=True)
class InstalledFont:
    """One font aefarm has installed (or found already installed) and the tokens that hold it."""

    sha256: str
    path: Path
    postscript_names: Tuple[str, ...]
    families: Tuple[str, ...]
    owned: bool  # False: the file was the user's own identical font; never deleted by us
    tokens: Tuple[str, ...]


def font_files_in(source: Union[PathLike, Iterable[PathLike]]) -> List[Path]:
    """The files to install: a folder's regular files (hidden files and sub-folders ignored), one file, or a list."""
    if isinstance(source, (str, os.PathLike)):
        path = Path(source)
        if path.is_dir():
            files = sorted(p for p in path.iterdir() if not p.name.startswith(".") and not p.is_dir())
            if not files:
                raise FontError(f"no font files in folder: {path}")
            return files
        if not path.exists():
            raise FontError(f"font folder or file not found: {path}")
        return [path]
    files = [Path(p) for p in source]
    if not files:
        raise FontError("no font files given")
    return files


def install(folder: Union[PathLike, Iterable[PathLike]], scope: str = "user", *,
            backend: Optional[FontBackend] = None, home: Optional[PathLike] = None,
            state_dir: Optional[PathLike] = None, owner_pid: Optional[int] = None,
            persistent: bool = False) -> str:
    """Install every font of ``folder`` for the user; return the token that :func:`remove` takes.

    The reference belongs to process ``owner_pid`` (default: this process) and is collected once it dies;
    ``persistent=True`` holds it until :func:`remove`. FontError (exit code 2) for anything wrong with the input.
    """
    _check_scope(scope)
    fonts = _unique([read_font(path) for path in font_files_in(folder)])  # verify everything before any change
    backend, state = _context(backend, home, state_dir)
    owner = None if persistent else owner_record(owner_pid)
    token = secrets.token_hex(16)
    with locked_manifest(state) as manifest:
        _dropped, changed = _collect_garbage(manifest, backend)
        added: List[str] = []
        try:
            for font in fonts:
                record = manifest.fonts.get(font.sha256)
                if record is not None and _usable(record, backend):
                    continue
                if record is not None:
                    _forget_font(manifest, font.sha256, backend)
                _place(font, backend, manifest)
                added.append(font.sha256)
        except BaseException:
            for sha in reversed(added):
                _forget_font(manifest, sha, backend)
            manifest.save()
            if changed or added:
                backend.refresh()
            raise
        manifest.tokens[token] = {
            "owner": owner,
            "fonts": [font.sha256 for font in fonts],
            "source": str(folder) if isinstance(folder, (str, os.PathLike)) else "files",
            "created": time.time(),
        }
        manifest.save()
        if changed or added:
            backend.refresh()
    return token


def remove(token: str, *, backend: Optional[FontBackend] = None, home: Optional[PathLike] = None,
           state_dir: Optional[PathLike] = None, missing_ok: bool = True) -> None:
    """Drop ``token``'s references; fonts nobody references any more are unregistered and deleted.

    Safe to call in a ``finally`` after a failed or cancelled render: an unknown token (already removed, or
    collected because its process died) is not an error unless ``missing_ok=False``.
    """
    token = token.strip().lower()
    if not _TOKEN.match(token):
        raise FontError(f"not a font install token: {token!r} (expected 32 hex digits)")
    backend, state = _context(backend, home, state_dir)
    with locked_manifest(state) as manifest:
        known = manifest.tokens.pop(token, None) is not None
        dropped, removed = _collect_garbage(manifest, backend)
        if known or dropped:
            manifest.save()
        if removed:
            backend.refresh()
    if not known and not missing_ok:
        raise FontError(f"unknown font install token {token} (already removed, or its process ended): "
                        f"{manifest.path}")


def list_installed(*, backend: Optional[FontBackend] = None, home: Optional[PathLike] = None,
                   state_dir: Optional[PathLike] = None) -> List[InstalledFont]:
    """Fonts currently installed by aefarm on this host for this user (dead references collected first)."""
    backend, state = _context(backend, home, state_dir)
    with locked_manifest(state) as manifest:
        dropped, removed = _collect_garbage(manifest, backend)
        if dropped:
            manifest.save()
        if removed:
            backend.refresh()
        return [InstalledFont(sha256=sha, path=Path(record["path"]),
                              postscript_names=tuple(record.get("postscript_names", ())),
                              families=tuple(record.get("families", ())), owned=bool(record.get("owned")),
                              tokens=tuple(manifest.references(sha)))
                for sha, record in sorted(manifest.fonts.items(), key=lambda item: item[1]["path"])]


@contextmanager
def installed(folder: Union[PathLike, Iterable[PathLike]], scope: str = "user", **options: Any) -> Iterator[str]:
    """``with installed(folder) as token:`` — fonts are there inside the block and released however it ends."""
    remove_options = {key: options[key] for key in ("backend", "home", "state_dir") if key in options}
    token = install(folder, scope, **options)
    try:
        yield token
    finally:
        remove(token, **remove_options)


# ---- internals ----

def _check_scope(scope: str) -> None:
    if scope not in SCOPES:
        raise FontError(f"font scope {scope!r} is not supported (only 'user': no administrator rights needed)")


def _context(backend: Optional[FontBackend], home: Optional[PathLike],
             state_dir: Optional[PathLike]) -> Tuple[FontBackend, Path]:
    home_path = Path(home) if home is not None else None
    backend = backend or backend_for(home=home_path)
    state = Path(state_dir) if state_dir is not None else default_state_dir(home=home_path)
    return backend, state


def _unique(fonts: Sequence[FontFile]) -> List[FontFile]:
    seen: Dict[str, FontFile] = {}
    for font in fonts:
        seen.setdefault(font.sha256, font)
    return list(seen.values())


def _belongs(record: Dict[str, Any], backend: FontBackend) -> bool:
    return record.get("backend") == backend.name and Path(record.get("fonts_dir", "")) == backend.fonts_dir


def _usable(record: Dict[str, Any], backend: FontBackend) -> bool:
    if not _belongs(record, backend):
        raise FontError(f"font {Path(record['path']).name} is recorded for another fonts folder "
                        f"({record.get('fonts_dir')}); use one AEFARM_STATE_DIR per fonts folder")
    path = Path(record["path"])
    try:
        return path.is_file() and not path.is_symlink() and path.stat().st_size == record.get("size")
    except OSError:
        return False


def _place(font: FontFile, backend: FontBackend, manifest: Manifest) -> None:
    """Copy ``font`` into the fonts folder under a free safe name, register it, and record it in ``manifest``.

    The record is saved *before* the file is written: if this process dies anywhere after that, the next call finds
    an unreferenced record and removes what was written, instead of leaving an orphan font nobody owns.
    """
    folder = backend.fonts_dir
    folder.mkdir(parents=True, exist_ok=True)
    data = font.path.read_bytes()
    if hashlib.sha256(data).hexdigest() != font.sha256:
        raise FontError(f"font file changed while being installed: {font.path}")
    base = safe_font_file_name(font.path.name, font.extension)
    for attempt in range(_NAME_ATTEMPTS):
        target = inside(folder, unique_variant(base, font.sha256[:8], attempt))
        if os.path.lexists(target):
            if same_content(target, font.sha256):
                manifest.fonts[font.sha256] = _record(font, target, backend, owned=False)
                return
            continue  # someone else's file: never overwritten
        manifest.fonts[font.sha256] = _record(font, target, backend, owned=True)
        manifest.save()
        if not write_new_file(target, data):
            del manifest.fonts[font.sha256]
            continue
        try:
            manifest.fonts[font.sha256]["registration"] = backend.register(target, font)
        except BaseException:
            target.unlink()
            del manifest.fonts[font.sha256]
            raise
        return
    raise FontError(f"no free file name for {base} in {folder} after {_NAME_ATTEMPTS} attempts")


def _record(font: FontFile, target: Path, backend: FontBackend, owned: bool) -> Dict[str, Any]:
    return {"path": str(target), "fonts_dir": str(backend.fonts_dir), "backend": backend.name, "owned": owned,
            "size": font.size, "registration": {}, "installed": time.time(),
            "postscript_names": [face.postscript_name for face in font.faces],
            "families": sorted({face.family for face in font.faces})}


def _collect_garbage(manifest: Manifest, backend: FontBackend) -> Tuple[bool, bool]:
    """Drop tokens of dead owners, then fonts of this backend nobody references.

    Returns (manifest changed, a font file was removed).
    """
    dead = manifest.dead_tokens()
    for token in dead:
        del manifest.tokens[token]
    changed = removed = False
    for sha in manifest.unreferenced_fonts():
        if _belongs(manifest.fonts[sha], backend):
            changed = True
            removed = _forget_font(manifest, sha, backend) or removed
    return bool(dead) or changed, removed


def _forget_font(manifest: Manifest, sha: str, backend: FontBackend) -> bool:
    """Unregister and delete our file (only if it is still ours and still what we wrote), then drop the record.

    When the OS refuses (a font file in use on Windows), the record stays so the next call tries again.
    """
    record = manifest.fonts[sha]
    path = Path(record["path"])
    if record.get("owned"):
        try:
            inside(backend.fonts_dir, path.name)
            if path.parent != backend.fonts_dir:
                raise FontError(f"manifest names a file outside {backend.fonts_dir}: {path}")
            backend.unregister(path, record.get("registration") or {})
            if same_content(path, sha):
                path.unlink()
        except (OSError, FontError):
            if path.parent == backend.fonts_dir and os.path.lexists(path) and same_content(path, sha):
                return False  # still there: retry later
    del manifest.fonts[sha]
    return True
