"""Deadline Cloud job bundles for aefarm: which template, what the parameters say, which files travel with the job.

A job bundle is a folder `deadline bundle submit` takes: our OpenJD template (`openjd/aftereffects-image|video`),
`parameter_values.yaml` and `asset_references.yaml`. The template is copied, never generated, so what runs on the farm
is exactly the file `openjd check` and the tests validated. The checks of an output pattern and a frame spec live here
too, because the submitter (before anything is written) and the task (before anything renders, for a template filled
in by hand) must refuse the same values with the same one-line message.
"""
from __future__ import annotations

import os
import shutil
import sys
import tempfile
import uuid
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath, PureWindowsPath
from typing import Any, Callable, Dict, Iterable, List, Mapping, Optional, Tuple

from aefarm_common.atomic import current_umask
from aefarm_common.errors import AefarmError
from aeproject.sequences import list_files, sequence_on_disk
from engines.aftereffects.options import BY_NAME, check_target, on_surface
from stmpo.errors import FrameSpecError
from stmpo.frames import FrameSet
from stmpo.outputs import MOVIE_EXTENSIONS

KINDS = ("image", "video")
TEMPLATE_FOLDERS = {"image": "aftereffects-image", "video": "aftereffects-video", "job": "aftereffects-job"}
TEMPLATE_FILE = "template.yaml"
DEFAULT_PATTERNS = {"image": "[compName]_[#####].png", "video": "[compName].mov"}
DEFAULT_CHUNK_SIZES = {"image": 10, "video": 50}
_TOKEN_HASHES = "[#"


class BundleError(AefarmError, ValueError):
    """Bad input for a Deadline bundle or an OpenJD action (one line; the CLI exits 2)."""


# --------------------------------------------------------------------------------------------------- validation
def check_kind(kind: str) -> str:
    if kind not in KINDS:
        raise BundleError(f"bundle kind must be one of {', '.join(KINDS)}, got {kind!r}")
    return kind


def _pattern_parts(pattern: str) -> List[str]:
    return [p for p in pattern.replace("\\", "/").split("/")]


def check_output_pattern(kind: str, pattern: str) -> str:
    """The pattern, if it can work for ``kind``: a file name (optionally under sub-folders) inside OutputDir.

    Image bundles refuse movie extensions (a movie cannot be split into frame chunks written side by side); video
    bundles need one and refuse frame tokens (a movie is one file). Tokens only in the file name: aerender does not
    fill them in folder names.
    """
    check_kind(kind)
    text = pattern.strip()
    if not text:
        raise BundleError("OutputPattern is empty: give a file name such as " + DEFAULT_PATTERNS[kind])
    if (text.startswith(("/", "\\")) or PureWindowsPath(text).drive or PurePosixPath(text).is_absolute()):
        raise BundleError(f"OutputPattern {pattern!r} must be a file name inside OutputDir, not an absolute path")
    parts = _pattern_parts(text)
    if any(p in ("", ".", "..") for p in parts):
        raise BundleError(f"OutputPattern {pattern!r} must stay inside OutputDir (no empty, '.' or '..' parts)")
    if any("[" in p for p in parts[:-1]):
        raise BundleError(f"OutputPattern {pattern!r}: tokens such as [compName] are only filled in the file name, "
                          "not in folder names")
    name = parts[-1]
    if "[fileextension]" in name.lower():
        raise BundleError(f"OutputPattern {pattern!r}: write the file extension instead of [fileextension] (it "
                          "depends on the project's output module, so the frames could not be verified)")
    extension = os.path.splitext(name)[1].lower()
    if kind == "image":
        if extension in MOVIE_EXTENSIONS:
            raise BundleError(f"OutputPattern {pattern!r} is a movie ({extension}): the image bundle renders image "
                              "sequences; use the aftereffects-video bundle (aefarm deadline bundle --video)")
    else:
        if extension not in MOVIE_EXTENSIONS:
            raise BundleError(f"OutputPattern {pattern!r} is not a movie: the video bundle writes one "
                              f"{'/'.join(sorted(MOVIE_EXTENSIONS))} file; use the aftereffects-image bundle for "
                              "image sequences")
        if _TOKEN_HASHES in name:
            raise BundleError(f"OutputPattern {pattern!r}: a movie is one file, remove the [#####] frame token")
    return text


def movie_extension(pattern: str) -> str:
    """The lower-case extension (with the dot) of a movie pattern's file name."""
    return os.path.splitext(_pattern_parts(pattern.strip())[-1])[1].lower()


def check_movie_name(pattern: str, comp: str) -> None:
    """A movie joined on another worker must know its file name: [compName] needs CompName (a render-queue item's
    comp name is inside the binary project, which the join step does not read)."""
    if not comp.strip() and "[compname]" in pattern.lower():
        raise BundleError(f"OutputPattern {pattern!r} uses [compName], which a render-queue item's movie cannot fill: "
                          "give the movie a file name (or render by CompName)")


def check_frames(kind: str, text: str) -> FrameSet:
    """The frames of ``text`` (any aefarm grammar), non-empty; a movie needs one run of consecutive frames."""
    check_kind(kind)
    try:
        frames = FrameSet.parse(text)
    except FrameSpecError as exc:
        raise BundleError(f"Frames {text!r} is not a frame spec: {exc}") from None
    if not len(frames):
        raise BundleError(f"Frames {text!r} selects no frames")
    if kind == "video" and (len(frames.runs) != 1 or (len(frames) > 1 and frames.runs[0].step != 1)):
        raise BundleError(f"Frames {text!r}: a movie needs one range of consecutive frames, e.g. "
                          f"{frames.first}-{frames.last}")
    return frames


def output_folders(output_dir: str, pattern: str) -> List[Path]:
    """OutputDir and the sub-folders of the pattern inside it, outermost first (what the job environment creates)."""
    folders = [Path(output_dir)]
    for part in _pattern_parts(pattern)[:-1]:
        folders.append(folders[-1] / part)
    return folders


# --------------------------------------------------------------------------------------------------- templates
def repo_root() -> Path:
    """The source tree holding `openjd/` (parents of the engines package)."""
    return Path(__file__).resolve().parents[2]


def template_candidates(kind: str) -> List[Path]:
    """Where a template can be: the source tree, then `[options.data_files]` under the prefix (or the user base,
    for `pip install --user`)."""
    import site

    folder = TEMPLATE_FOLDERS[kind if kind == "job" else check_kind(kind)]
    shared = Path("share") / "aefarm" / "openjd" / folder / TEMPLATE_FILE
    return [repo_root() / "openjd" / folder / TEMPLATE_FILE, Path(sys.prefix) / shared,
            Path(site.getuserbase()) / shared]


def template_path(kind: str) -> Path:
    """The shipped template of ``kind``: the source tree first, then the installed data files."""
    candidates = template_candidates(kind)
    for path in candidates:
        if path.is_file():
            return path
    raise BundleError(f"the {kind} OpenJD template is not installed (looked in {', '.join(map(str, candidates))})")


# --------------------------------------------------------------------------------------------------- bundle content
@dataclass
class BundleRequest:
    """Everything a bundle says about one render. ``options`` are render option values by option name (see
    ``engines.aftereffects.options``); an option not given (or None) keeps the template's default, which is the
    table's."""

    project: Path
    output_dir: Path
    frames: str
    comp: Optional[str] = None
    rqindex: Optional[int] = None
    pattern: Optional[str] = None
    chunk_size: Optional[int] = None
    video: bool = False
    fonts_dir: Optional[Path] = None
    options: Dict[str, Any] = field(default_factory=dict)
    priority: int = 50
    max_retries_per_task: int = 2
    warnings: List[str] = field(default_factory=list)

    @property
    def kind(self) -> str:
        return "video" if self.video else "image"


def _check_range(name: str, value: Optional[float], low: float, high: float) -> None:
    if value is not None and not low <= value <= high:
        raise BundleError(f"{name} must be between {low:g} and {high:g}, got {value:g}")


def option_values(kind: str, options: Mapping[str, Any]) -> List[Tuple[str, str]]:
    """``(OpenJD parameter, text)`` for each render option given, checked against the table, in table order.

    An option the ``kind`` template does not expose is refused (a movie's ffmpeg for an image sequence)."""
    exposed = {o.name: o for o in on_surface("openjd", kind)}
    for name, value in options.items():
        if value is not None and name not in exposed:
            option = BY_NAME.get(name)
            if option is not None and option.openjd:
                raise BundleError(f"{option.flag} is for {' and '.join(option.openjd_kinds)} bundles only"
                                  f"{' (--video)' if option.openjd_kinds == ('video',) else ''}")
            raise BundleError(f"{option.flag if option else name} is not passed to the Deadline task")
    out: List[Tuple[str, str]] = []
    for name, option in exposed.items():
        value = option.check(options.get(name), "cli", BundleError)
        if value is not None:
            out.append((str(option.openjd), option.encode(value, "openjd")))
    return out


def parameter_values(req: BundleRequest) -> Dict[str, object]:
    """The `parameter_values.yaml` document: our parameters (all as the strings OpenJD takes) plus Deadline's."""
    kind = req.kind
    comp, rqindex = check_target(req.comp, req.rqindex, "cli", BundleError)
    default = DEFAULT_PATTERNS[kind]
    if kind == "video" and rqindex is not None:
        default = f"{Path(req.project).stem or 'movie'}_rq{rqindex}.mov"
    pattern = check_output_pattern(kind, req.pattern or default)
    if kind == "video":
        check_movie_name(pattern, comp or "")
    frames = check_frames(kind, req.frames)
    chunk = req.chunk_size if req.chunk_size is not None else DEFAULT_CHUNK_SIZES[kind]
    for name, value, low, high in (("--chunk-size", chunk, 1, 100000), ("--priority", req.priority, 0, 100),
                                   ("--max-retries-per-task", req.max_retries_per_task, 0, 2147483647)):
        _check_range(name, value, low, high)
    values: List[Tuple[str, object]] = [
        ("ProjectFile", str(req.project)),
        ("CompName", comp or ""),
        ("RenderQueueIndex", str(rqindex or 0)),
        ("OutputDir", str(req.output_dir)),
        ("OutputPattern", pattern),
        ("Frames", frames.to_openjd()),
        ("ChunkSize", str(chunk)),
    ]
    values += option_values(kind, req.options)
    if req.fonts_dir is not None:
        values.append(("FontsDir", str(req.fonts_dir)))
    if any(run.step != 1 for run in frames.runs if run.start != run.end):
        req.warnings.append(f"stepped frames {frames.to_openjd()} make one task per frame (OpenJD CONTIGUOUS "
                            "chunks hold consecutive frames only)")
    values += [("deadline:priority", req.priority), ("deadline:maxRetriesPerTask", req.max_retries_per_task)]
    return {"parameterValues": [{"name": name, "value": value} for name, value in values]}


def asset_references(project: Path, references: Iterable[Any], output_dir: Path,
                     fonts_dir: Optional[Path] = None,
                     list_folder: Callable[[str], List[str]] = list_files) -> Dict[str, object]:
    """The `asset_references.yaml` document from a project scan (``remap.scan.Reference`` objects).

    Inputs are what job attachments upload: the project, footage files and image-sequence folders that exist here
    (and the fonts folder). A footage file that is one frame of a numbered image sequence (``aeproject.sequences``,
    folder read through ``list_folder``) brings the whole sequence: its folder when it holds only that sequence,
    else every frame's file. References that do not exist on this machine (another OS's path, missing media) go to
    ``referencedPaths``: Deadline maps them for the worker but never uploads them. The output folder is the output.
    """
    filenames: List[str] = [str(project)]
    directories: List[str] = []
    referenced: List[str] = []
    for ref in references:
        kind, raw, exists = ref.kind, ref.raw, ref.exists
        if kind == "output":
            continue  # the project's own render-queue output: the job writes to OutputDir instead
        if kind == "text-layer":
            continue  # text on a layer that merely looks like a path is not a file the render reads
        sequence = None
        if exists and kind == "sequence":
            target = directories
        elif exists and kind in ("footage", "expression"):
            target = directories if os.path.isdir(raw) else filenames
            sequence = sequence_on_disk(raw, list_folder) if kind == "footage" and target is filenames else None
        else:
            target = referenced
        if sequence is not None and sequence.exclusive:
            target, raw = directories, sequence.folder
        if raw not in target:
            target.append(raw)
        if sequence is not None and not sequence.exclusive:
            filenames.extend(p for p in sequence.paths() if p not in filenames)
    if fonts_dir is not None:
        directories.append(str(fonts_dir))
    inputs: Dict[str, List[str]] = {"filenames": filenames}
    if directories:
        inputs["directories"] = directories
    refs: Dict[str, object] = {"inputs": inputs, "outputs": {"directories": [str(output_dir)]}}
    if referenced:
        refs["referencedPaths"] = referenced
    return {"assetReferences": refs}


def scan_references(project: Path) -> Tuple[List[object], Optional[str]]:
    """(references, warning): a binary .aep cannot be scanned, so its bundle carries the project alone."""
    from remap.errors import RemapError
    from remap.scan import scan

    try:
        return list(scan(project)), None
    except RemapError as exc:
        return [], f"footage not listed in asset_references.yaml: {' '.join(str(exc).split())}"


# --------------------------------------------------------------------------------------------------- writing
def _yaml_text(document: Mapping[str, object]) -> str:
    import yaml

    return yaml.safe_dump(dict(document), sort_keys=False, allow_unicode=True, default_flow_style=False, width=1000)


def default_bundle_dir(req: BundleRequest) -> Path:
    stem = req.project.stem or "project"
    return Path.cwd() / f"{stem}-{req.kind}-bundle"


def write_bundle(req: BundleRequest, dest: Optional[Path] = None, force: bool = False) -> Path:
    """Validate, scan, and write the bundle folder atomically: a temporary folder beside ``dest`` renamed into place.

    An existing ``dest`` is replaced only with ``force`` (and only when it looks like a bundle), and then swapped out
    by renames, so a reader never sees half a bundle.
    """
    project = Path(req.project).resolve()
    if not project.is_file():
        raise BundleError(f"project not found: {req.project}")
    if req.fonts_dir is not None and not Path(req.fonts_dir).is_dir():
        raise BundleError(f"--fonts folder not found: {req.fonts_dir}")
    req.project = project
    req.output_dir = Path(os.path.abspath(req.output_dir))
    if req.fonts_dir is not None:
        req.fonts_dir = Path(req.fonts_dir).resolve()
    values = parameter_values(req)
    refs, warning = scan_references(project)
    if warning:
        req.warnings.append(warning)
    assets = asset_references(project, refs, req.output_dir, req.fonts_dir)
    dest = Path(dest) if dest is not None else default_bundle_dir(req)
    return write_bundle_folder(dest, template_path(req.kind), {"parameter_values.yaml": _yaml_text(values),
                                                               "asset_references.yaml": _yaml_text(assets)}, force)


def write_bundle_folder(dest: Path, template: Path, texts: Mapping[str, str], force: bool = False) -> Path:
    """A bundle folder at ``dest``: the ``template`` copied, and ``texts`` (file name -> text), written into a
    temporary folder beside ``dest`` and renamed into place (an existing bundle is replaced only with ``force``)."""
    dest = Path(os.path.abspath(dest))
    if dest.exists():
        if not force:
            raise BundleError(f"bundle folder already exists: {dest} (use --force to replace it)")
        if not dest.is_dir() or not (dest / TEMPLATE_FILE).is_file():
            raise BundleError(f"refusing to replace {dest}: it is not a job bundle folder")
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{dest.name}.", suffix=".tmp", dir=str(dest.parent)))
    try:
        shutil.copyfile(template, tmp / TEMPLATE_FILE)
        for name, text in texts.items():
            (tmp / name).write_text(text, encoding="utf-8")
        os.chmod(tmp, 0o777 & ~current_umask())
        if dest.exists():
            old = dest.parent / f".{dest.name}.old-{uuid.uuid4().hex[:8]}"
            os.rename(dest, old)
            os.rename(tmp, dest)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.rename(tmp, dest)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return dest


