"""A template project, rows, photos, audio and a job file for the template-job tests (small and fast).

The template is the shape personalised-video templates have: a text layer ``NAME`` whose Source Text expression
reads the layer name, a ``Photo`` layer showing the footage item ``photo.png``, a layer whose expression reads the
data-file footage ``data.json`` and falls back to the literal ``"COLOUR"``.
"""
from __future__ import annotations

import csv
import json
import struct
import subprocess
import zlib
from pathlib import Path
from typing import Any, Dict, List, Optional

from engines.aftereffects.sample_project import CompSpec, LayerSpec, write_sample_project

COLOUR_EXPRESSION = 'var d = footage("data.json").sourceData; d.colour || "COLOUR"'


def tiny_png(rgb: tuple) -> bytes:
    """A 4x4 PNG of one colour (a "photo")."""
    raw = b"".join(b"\0" + bytes(rgb) * 4 for _ in range(4))

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", 4, 4, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))


def write_template(root: Path, frame_rate: float = 24.0) -> Path:
    """``root/template/card.aepx`` with its placeholder photo and data file beside it."""
    folder = root / "template"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "photo.png").write_bytes(tiny_png((128, 128, 128)))
    (folder / "data.json").write_text('{"name": "NAME", "colour": "#808080"}\n', encoding="utf-8")
    return write_sample_project(
        folder / "card.aepx", footage=[str(folder / "photo.png"), str(folder / "data.json")],
        comps=[CompSpec("Main", width=64, height=36, frame_rate=frame_rate, duration_frames=48)],
        layers=[LayerSpec("NAME", text="placeholder", expressions=("thisLayer.name",)),
                LayerSpec("Photo", source=0),
                LayerSpec("Colour", expressions=(COLOUR_EXPRESSION,))])


def write_rows(root: Path, count: int) -> List[Dict[str, str]]:
    """``root/rows/rows.csv``: id, name, photo (relative to the CSV), colour; one photo file per row."""
    folder = root / "rows"
    (folder / "photos").mkdir(parents=True, exist_ok=True)
    rows = []
    for n in range(1, count + 1):
        colour = (n * 37 % 256, n * 91 % 256, n * 53 % 256)
        (folder / "photos" / f"p{n:02d}.png").write_bytes(tiny_png(colour))
        rows.append({"id": str(n), "name": f"Person {n} & co", "photo": f"photos/p{n:02d}.png",
                     "colour": "#%02x%02x%02x" % colour})
    with open(folder / "rows.csv", "w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=["id", "name", "photo", "colour"])
        writer.writeheader()
        writer.writerows(rows)
    return rows


def write_audio(path: Path, seconds: float = 2.0) -> Path:
    subprocess.run(["ffmpeg", "-nostdin", "-hide_banner", "-loglevel", "error", "-y", "-f", "lavfi", "-i",
                    f"sine=frequency=440:duration={seconds}", "-c:a", "pcm_s16le", str(path)], check=True)
    return path


def job_document(aerender: str, rows: Any = "rows/rows.csv", notify: Optional[str] = None,
                 audio: Optional[str] = None, **extra: Any) -> Dict[str, Any]:
    doc: Dict[str, Any] = {
        "aefarm_job": 1, "template": "template/card.aepx", "comp": "Main", "frames": "0-2",
        "output_dir": "out", "output": "{id}/[compName]_[#####].png", "variants_dir": "work", "rows": rows,
        "options": {"aerender": aerender, "concurrency": 4, "mfr": False},
        "replace": {"footage": {"photo.png": "{photo}"}, "layers": {"NAME": "{name}"},
                    "expressions": {"COLOUR": "{colour}"}, "data": {"data.json": "row"}},
        "actions": {"encode": {"preset": "h264", "name": "{name}_{id}.mp4"}},
    }
    if audio:
        doc["actions"]["encode"]["audio"] = audio
    if notify:
        doc["actions"]["notify"] = {"url": notify, "retries": 2, "timeout": 5}
    doc.update(extra)
    return doc


def write_job(root: Path, doc: Dict[str, Any], name: str = "job.json") -> Path:
    path = root / name
    path.write_text(json.dumps(doc, indent=2), encoding="utf-8")
    return path
