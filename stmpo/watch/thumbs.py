"""Thumbnails of rendered frames as ``data:`` URIs (Pillow), so the HTML report stays one self-contained file.

Only formats Pillow reads here are shown (PNG, JPEG, TIFF, TGA, BMP, ...; OpenEXR and DPX usually not); any other
file gets a reason instead of a picture. Files are read, never modified. ``ThumbCache`` keeps results per
(path, size, mtime) for the watch server, which redraws a page every few seconds.
"""
from __future__ import annotations

import base64
import io
import os
import threading
from pathlib import Path
from typing import Dict, Optional, Tuple

THUMB_SIZE = (320, 180)
MAX_SOURCE_BYTES = 512 * 1024 * 1024  # larger files are not decoded for a preview


def thumbnail(path: Path, size: Tuple[int, int] = THUMB_SIZE) -> Tuple[Optional[str], str]:
    """(``data:image/png;base64,...`` or None, a note: the picture's pixel size, or why there is no picture)."""
    try:
        from PIL import Image, UnidentifiedImageError
    except ImportError:  # pragma: no cover - Pillow is a dependency
        return None, "Pillow is not installed"
    try:
        if os.path.getsize(path) > MAX_SOURCE_BYTES:
            return None, "file too large for a preview"
        with Image.open(path) as image:
            dims = f"{image.width}x{image.height}"
            image.draft("RGB", size)
            picture = image.convert("RGBA" if image.mode in ("RGBA", "LA", "PA") or "transparency" in image.info
                                    else "RGB")
            picture.thumbnail(size)
            factor = min(size[0] // max(1, picture.width), size[1] // max(1, picture.height))
            if factor >= 2:  # a tiny frame is shown enlarged, pixel for pixel, rather than as a speck
                picture = picture.resize((picture.width * factor, picture.height * factor), Image.Resampling.NEAREST)
            buffer = io.BytesIO()
            picture.save(buffer, format="PNG", optimize=True)
    except FileNotFoundError:
        return None, "file not found"
    except UnidentifiedImageError:
        return None, f"{path.suffix or 'this'} format cannot be previewed here"
    except (OSError, ValueError) as exc:
        return None, f"cannot be previewed here ({exc})"
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii"), dims


class ThumbCache:
    """``thumbnail`` results by (path, size in bytes, mtime); thread-safe; at most ``limit`` entries."""

    def __init__(self, limit: int = 256) -> None:
        self.limit = limit
        self._items: Dict[tuple, Tuple[Optional[str], str]] = {}
        self._lock = threading.Lock()

    def get(self, path: Path) -> Tuple[Optional[str], str]:
        try:
            stat = os.stat(path)
            key: tuple = (str(path), stat.st_size, stat.st_mtime_ns)
        except OSError:
            return None, "file not found"
        with self._lock:
            hit = self._items.get(key)
        if hit is not None:
            return hit
        result = thumbnail(path)
        with self._lock:
            if len(self._items) >= self.limit:
                self._items.pop(next(iter(self._items)))
            self._items[key] = result
        return result
