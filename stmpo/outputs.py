"""Where each frame lands, how an aerender child's output reaches it, and how we know it is there.

Decision (staging, documented for the run report and README): every chunk renders into its OWN staging folder, and
each frame is renamed into its final name once it is proven -- its own progress line, its file closed and
structurally whole; ``stmpo.delivery`` is the one place that decides (docs/formats.md §7, §9). Why:

- Work stealing shrinks a chunk's assignment while it renders; the stopped child may already have begun writing the
  frame after its split, which the thief renders too. With one folder per chunk the two never write the same file,
  and frames outside a chunk's (shrunk) assignment are never moved.
- A crashed or killed child's half-written frame never appears under a final name: only complete frames move.
- Without ``--scratch`` the staging folder sits next to the final files (``.aefarm-<run>-c<chunk>``), so the move is
  a rename on one filesystem. With ``--scratch DIR`` children render under DIR and each complete frame is moved into
  place atomically (rename, or copy to a temporary name in the destination folder + rename across filesystems); the
  source is removed only after the destination is in place, never before, and never with a throttle.
- Staging folders are removed at the end of a successful run (everything they could hold is either delivered or a
  duplicate); after a failure they are kept (the report names them) so nothing unmoved is ever deleted.

Movie outputs (.mov/.mp4/.avi) are one file, so each invocation renders its own numbered segment (``segment_name``)
into its chunk's staging folder; ``stmpo.movies`` joins and counts them.
"""
from __future__ import annotations

import errno
import os
import re
import shutil
import stat
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, Iterable, List, Optional, Sequence, Tuple

from aefarm_common.atomic import atomic_write
from stmpo.errors import StmpoError

MOVIE_EXTENSIONS = frozenset({".mov", ".mp4", ".avi"})
DEFAULT_SEQUENCE_TOKEN = "[#####]"
_HASHES = re.compile(r"\[(#+)\]")
_COMP = re.compile(r"\[compname\]", re.IGNORECASE)
_EXT = re.compile(r"\[fileextension\]", re.IGNORECASE)
STAGE_PREFIX = ".aefarm-"


def format_frame(frame: int, width: int) -> str:
    """Zero-padded to ``width`` characters, as After Effects (and the simulator) expand ``[###]``."""
    return f"{frame:0{width}d}"


def safe_comp_name(comp: str) -> str:
    """A comp name as it appears in a file name: path separators and ``:`` become ``_``."""
    return re.sub(r"[\\/:]", "_", comp)


@dataclass(frozen=True)
class OutputPattern:
    """An aerender ``-output`` pattern: folder + file name template with ``[#####]`` and ``[compName]`` tokens (same
    rules as the simulator: any count of ``#`` is the zero-padded comp frame).

    ``[fileextension]`` is refused: its value comes from the output module inside the project, so the files to
    verify could not be named (and a movie could not be told from a sequence)."""

    pattern: str
    comp: str = ""

    def __post_init__(self) -> None:
        if _EXT.search(self.pattern):
            raise StmpoError(f"output pattern {self.pattern!r}: write the file extension instead of [fileextension] "
                             "(it depends on the project's output module, so the frames could not be verified)")

    @property
    def path(self) -> Path:
        return Path(self.pattern)

    @property
    def folder(self) -> Path:
        return self.path.parent

    @property
    def name(self) -> str:
        return self.path.name

    @property
    def extension(self) -> str:
        """Lower-case extension with the dot."""
        return os.path.splitext(self._fill_static(self.name))[1].lower()

    @property
    def is_movie(self) -> bool:
        return self.extension in MOVIE_EXTENSIONS

    def _fill_static(self, text: str) -> str:
        return _COMP.sub(lambda _m: safe_comp_name(self.comp), text)

    def sequence_name(self) -> str:
        """The name template with a frame token: aerender adds ``_[#####]`` before the extension when none is given."""
        name = self.name
        if _HASHES.search(name):
            return name
        stem, ext = os.path.splitext(name)
        return f"{stem}_{DEFAULT_SEQUENCE_TOKEN}{ext}"

    def _name_parts(self) -> Tuple[Tuple[str, ...], Tuple[int, ...]]:
        """The filled-in name split around its frame tokens (computed once: frame_path runs per frame)."""
        cached = self.__dict__.get("_parts")
        if cached is None:
            name = self._fill_static(self.sequence_name())
            pieces = _HASHES.split(name)  # text, hashes, text, hashes, ..., text
            cached = (tuple(pieces[0::2]), tuple(len(h) for h in pieces[1::2]))
            object.__setattr__(self, "_parts", cached)
        return cached

    def frame_name(self, frame: int) -> str:
        template = self.__dict__.get("_template")
        if template is None:  # "%"-format of the filled-in name: one C-level call per frame (runs per frame)
            texts, widths = self._name_parts()
            template = texts[0].replace("%", "%%") + "".join(
                f"%0{width}d" + text.replace("%", "%%") for width, text in zip(widths, texts[1:]))
            object.__setattr__(self, "_template", (template, len(widths)))
            template = self.__dict__["_template"]
        text, count = template
        return text % ((frame,) * count)  # "%05d" pads like format_frame, the sign included ("-0005")

    def frame_path(self, frame: int, folder: Optional[Path] = None) -> Path:
        return Path(os.path.join(str(self.folder) if folder is None else str(folder), self.frame_name(frame)))

    def frame_file(self, frame: int, folder: Optional[str] = None) -> str:
        """``frame_path`` as a plain string (cheap: called for every frame of every child)."""
        if folder is not None:
            return os.path.join(folder, self.frame_name(frame))
        base = self.__dict__.get("_folder_prefix")
        if base is None:
            base = os.path.join(str(self.folder), "")  # the folder with its separator: join's result, once
            object.__setattr__(self, "_folder_prefix", base)
        return base + self.frame_name(frame)

    def movie_path(self) -> Path:
        return self.folder / self._fill_static(self.name)

    def in_folder(self, folder: Path) -> str:
        """The same pattern rendered into ``folder`` (a child's staging folder), tokens kept for aerender."""
        return str(Path(folder) / self.name)


def check_pattern(pattern: str) -> None:
    """Bad output patterns are bad input (one line): relative paths, no file name."""
    if not pattern or not os.path.isabs(pattern):
        raise StmpoError(f"--output must be an absolute path pattern, got {pattern!r}")
    if not Path(pattern).name or pattern.endswith(("/", "\\")):
        raise StmpoError(f"--output must end with a file name pattern such as [compName]_[#####].png, got {pattern!r}")


# --------------------------------------------------------------------------------------------------- verification
def frame_ok(path: "Path | str") -> bool:
    """A delivered frame exists, is a file and is not empty (aerender never writes an empty image)."""
    try:
        st = os.stat(path)
    except OSError:
        return False
    return st.st_size > 0 and stat.S_ISREG(st.st_mode)


def present_frames(pattern: OutputPattern, frames: Iterable[int]) -> List[int]:
    """Frames already delivered (for ``--resume`` and the final verification)."""
    return [f for f in frames if frame_ok(pattern.frame_path(f))]


def missing_frames(pattern: OutputPattern, frames: Iterable[int]) -> List[int]:
    return [f for f in frames if not frame_ok(pattern.frame_path(f))]


# --------------------------------------------------------------------------------------------------- moving
def move_into_place(src: "Path | str", dst: "Path | str") -> bool:
    """Put the complete file ``src`` at ``dst`` atomically: rename on one filesystem; across filesystems copy to a
    temporary name beside ``dst``, fsync, rename, and only then remove ``src``. True when it was renamed (``dst`` is
    the very file ``src`` was), False when copied."""
    try:
        os.replace(src, dst)
        return True
    except FileNotFoundError:
        if not os.path.exists(src):
            raise
        Path(dst).parent.mkdir(parents=True, exist_ok=True)
        try:
            os.replace(src, dst)
            return True
        except OSError as exc:
            if exc.errno != errno.EXDEV:
                raise
    except OSError as exc:
        if exc.errno != errno.EXDEV:  # only "different filesystems" falls back to copying
            raise
    dst = Path(dst)
    dst.parent.mkdir(parents=True, exist_ok=True)
    with atomic_write(dst) as out, open(src, "rb") as inp:
        shutil.copyfileobj(inp, out, 1024 * 1024)
    os.unlink(src)
    return False


@dataclass
class Staging:
    """The per-chunk staging folders of one run (next to the final files, or under ``--scratch``)."""

    pattern: OutputPattern
    scratch: Optional[Path] = None
    run_id: str = ""

    def __post_init__(self) -> None:
        if not self.run_id:
            self.run_id = uuid.uuid4().hex[:8]
        self.folders: Dict[int, Path] = {}
        self._folder_text: Dict[int, str] = {}

    @property
    def root(self) -> Path:
        if self.scratch is not None:
            return Path(self.scratch) / f"aefarm-{self.run_id}"
        return self.pattern.folder

    def folder_path(self, chunk: int) -> Path:
        """Where ``chunk`` stages its output (nothing is created: `--dry-run` shows it too)."""
        if self.scratch is not None:
            return self.root / f"c{chunk:03d}"
        return self.root / f"{STAGE_PREFIX}{self.run_id}-c{chunk:03d}"

    def child_output_path(self, chunk: int, frames: Sequence[int]) -> str:
        """The ``-output`` of one invocation: the user's pattern in the chunk's folder, or a numbered movie segment."""
        folder = self.folder_path(chunk)
        if self.pattern.is_movie:
            return str(folder / segment_name(frames[0], frames[-1], self.pattern.extension))
        return self.pattern.in_folder(folder)

    def folder(self, chunk: int) -> Path:
        folder = self.folders.get(chunk)
        if folder is None:
            folder = self.folder_path(chunk)
            folder.mkdir(parents=True, exist_ok=True)
            self.folders[chunk] = folder
        return folder

    def deliver(self, chunk: int, frame: int) -> bool:
        """Move ``frame`` of ``chunk`` into place if complete there; True only when this call moved it and the final
        file is verified (a file already at the final name, e.g. from an earlier render, proves nothing)."""
        src = self.staged_file(chunk, frame)
        if not frame_ok(src):
            return False
        return self.move_checked(src, self.pattern.frame_file(frame)) is not None

    def staged_file(self, chunk: int, frame: int) -> str:
        """Where ``frame`` of ``chunk`` is staged (the chunk's folder is created on first use)."""
        prefix = self._folder_text.get(chunk)
        if prefix is None:  # the folder with its separator, as os.path.join would put it (once per chunk)
            prefix = self._folder_text[chunk] = os.path.join(str(self.folder(chunk)), "")
        return prefix + self.pattern.frame_name(frame)

    def move_checked(self, src: str, dst: str, stamp: Optional[Tuple[int, int]] = None) -> Optional[Tuple[int, int]]:
        """Move the (already checked) staged file ``src`` to its final name ``dst``; the final file's stamp (size in
        bytes, modification time in ns) when it is a non-empty regular file there, else None. ``stamp``: ``src``'s
        stamp as it was checked (a non-empty regular file): a rename keeps the very file, so that is the final
        file's stamp without another stat (a copy is stat'ed). OSError when it cannot be moved."""
        if move_into_place(src, dst) and stamp is not None and stamp[0] > 0:
            return stamp
        try:
            st = os.stat(dst)
        except OSError:
            return None
        return (st.st_size, st.st_mtime_ns) if st.st_size > 0 and stat.S_ISREG(st.st_mode) else None

    def staged(self, chunk: int, frame: int) -> bool:
        return frame_ok(self.pattern.frame_path(frame, self.folder(chunk)))

    def cleanup(self, success: bool) -> List[Path]:
        """Remove staging folders after success; after a failure remove only empty ones. Returns those kept."""
        kept: List[Path] = []
        for folder in list(self.folders.values()):
            if success:
                shutil.rmtree(folder, ignore_errors=True)
            else:
                try:
                    folder.rmdir()
                except OSError:
                    if folder.exists():
                        kept.append(folder)
        if self.scratch is not None:
            try:
                self.root.rmdir()
            except OSError:
                pass
        return kept


# --------------------------------------------------------------------------------------------------- movie segments
def segment_name(first: int, last: int, extension: str) -> str:
    return f"segment_{format_frame(first, 6)}_{format_frame(last, 6)}{extension}"
