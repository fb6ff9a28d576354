"""Cost of the frame format check (`stmpo.framecheck.check_frame`) as a share of the time to write the frame.

Target (issue 11): checking a frame costs <= 2 % of writing it, for 2K (2048x1080) frames. Side by side in one run,
for each case: the median wall time to write the frame (encode + write to a file, as a renderer's output module
does: Pillow for PNG, the OpenEXR library for EXR) and the median time of `check_frame` on that file (the file is in
the page cache, as it is right after a renderer closed it), and their ratio.

The image is "render-like": smooth gradients (which compress well) plus a band of noise (which does not), so file
sizes are between the extremes; a PNG of pure noise shows the largest file (CRC-32 over every byte). Cases: PNG at
Pillow's default compression, EXR half-float RGBA with ZIP, PIZ and no compression.

    .venv/bin/python benchmarks/bench_framecheck.py [--repeat 5] [--width 2048] [--height 1080]
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Callable, List, Tuple

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402
import OpenEXR  # noqa: E402
from PIL import Image  # noqa: E402

from stmpo.framecheck import check_frame  # noqa: E402


def render_like(width: int, height: int) -> np.ndarray:
    """Float RGBA in 0..1: gradients, a soft circle and a noisy band over a quarter of the frame."""
    y, x = np.mgrid[0:height, 0:width].astype(np.float32)
    r = x / width
    g = y / height
    b = 0.5 + 0.5 * np.sin((x + y) / 97.0)
    circle = ((x - width / 2) ** 2 + (y - height / 2) ** 2) < (height / 3) ** 2
    r = np.where(circle, 1.0 - r, r)
    rng = np.random.default_rng(11)
    band = slice(height // 2, height // 2 + height // 4)
    noise = rng.random((height // 4, width), dtype=np.float32) * 0.2
    g[band] = np.clip(g[band] + noise, 0.0, 1.0)
    a = np.ones_like(r)
    return np.stack([r, g, b, a], axis=-1)


def median_time(action: Callable[[], object], repeat: int) -> float:
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        action()
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def cases(image: np.ndarray, folder: Path) -> List[Tuple[str, Path, Callable[[], object]]]:
    rgb8 = Image.fromarray((image[..., :3] * 255).astype(np.uint8), "RGB")
    noise = Image.fromarray(np.random.default_rng(3).integers(0, 256, image[..., :3].shape, dtype=np.uint8), "RGB")
    half = image.astype(np.float16)
    out = [("PNG rgb8 (Pillow, level 6)", folder / "frame.png", lambda: rgb8.save(folder / "frame.png")),
           ("PNG rgb8 all noise (largest)", folder / "noise.png", lambda: noise.save(folder / "noise.png"))]
    for name in ("ZIP", "PIZ", "NO"):
        path = folder / f"frame_{name.lower()}.exr"
        compression = getattr(OpenEXR, f"{name}_COMPRESSION")

        def write(path: Path = path, compression: object = compression) -> None:
            OpenEXR.File({"compression": compression, "type": OpenEXR.scanlineimage}, {"RGBA": half}).write(str(path))
        out.append((f"EXR half RGBA {name}", path, write))
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--width", type=int, default=2048)
    parser.add_argument("--height", type=int, default=1080)
    args = parser.parse_args()
    image = render_like(args.width, args.height)
    print(f"frame {args.width}x{args.height}, median of {args.repeat} runs each, side by side")
    print(f"{'case':30} {'file MB':>8} {'write ms':>9} {'check ms':>9} {'check/write':>12}")
    with tempfile.TemporaryDirectory() as tmp:
        for name, path, write in cases(image, Path(tmp)):
            write_s = median_time(write, args.repeat)
            verdict = check_frame(path)
            if not verdict.ok:
                print(f"{name}: check failed on a whole file: {verdict.reason}")
                return 1
            check_s = median_time(lambda path=path: check_frame(path), args.repeat)
            size = os.path.getsize(path) / 1e6
            print(f"{name:30} {size:8.2f} {write_s * 1e3:9.1f} {check_s * 1e3:9.2f} {100 * check_s / write_s:11.2f}%")
    print("target: check/write <= 2 %")
    return 0


if __name__ == "__main__":
    sys.exit(main())
