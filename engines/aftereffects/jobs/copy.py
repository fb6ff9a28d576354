"""The copy action: a variant's result (its movie, else its frames) copied into a destination folder, atomically.

Each file is copied to a temporary name in the destination folder, flushed, and renamed into place, so a reader of
the destination (a delivery share, a watch folder) only ever sees whole files. A file already there with the same
size and content is left as it is (a rerun does not rewrite deliveries).
"""
from __future__ import annotations

import filecmp
import os
import shutil
from pathlib import Path
from typing import List, Sequence

from aefarm_common.atomic import atomic_write
from engines.aftereffects.jobs.errors import JobError


def copy_file(src: Path, dst: Path) -> None:
    """``src`` to ``dst`` through a temporary name beside ``dst`` (never half a file at ``dst``)."""
    if dst.exists() and dst.is_file() and filecmp.cmp(src, dst, shallow=False):
        return
    with atomic_write(dst) as out, open(src, "rb") as inp:
        shutil.copyfileobj(inp, out, 1 << 20)


def copy_results(files: Sequence[Path], folder: Path) -> List[Path]:
    """Copy ``files`` into ``folder`` (created when missing); the copied paths. JobError naming the file that failed."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise JobError(f"copy: cannot create {folder}: {exc.strerror or exc}") from None
    done: List[Path] = []
    for src in files:
        dst = folder / Path(src).name
        if os.path.abspath(dst) == os.path.abspath(src):
            done.append(dst)
            continue
        try:
            copy_file(Path(src), dst)
        except OSError as exc:
            raise JobError(f"copy: {src} -> {dst}: {exc.strerror or exc}") from None
        done.append(dst)
    return done
