"""The accsyn submission payload (docs/formats.md §4), built from plain data: what to render plus the project's scan.

Pure: the caller scans the project (``remap.scan``) and reads files; this module only decides what the payload
says, so it is tested without a network, a farm or a project on disk.

Why ``dependencies`` matter: accsyn transfers a job's dependencies to a remote site before a node there renders, so a
footage file or a script missing from the list renders as colour bars (or fails) far away, hours later. Every file
the project reads is listed (footage, image-sequence folders, scripts loaded by expressions), once, without the
project itself (that is the job's ``input``) and without render outputs.
"""
from __future__ import annotations

import ntpath
import posixpath
from typing import Any, Callable, Dict, Iterable, List, Mapping, Optional, Sequence, Tuple

from aeproject.sequences import list_files, sequence_on_disk
from engines.aftereffects.accsyn_errors import AccsynError
from engines.aftereffects.accsyn_filters import normalize_filters
from engines.aftereffects.options import BY_NAME, check_target, on_surface
from remap.paths import parse_path
from stmpo.frames import FrameSet

DEPENDENCY_KINDS = ("footage", "sequence", "expression")
DEFAULT_ENGINE = "aftereffects"


def _path_key(path: str) -> str:
    """Comparison key: Windows paths are case-insensitive and accept either separator."""
    parsed = parse_path(path)
    if parsed is not None and parsed.family == "windows":
        return path.replace("/", "\\").rstrip("\\").lower()
    return path.rstrip("/") or "/"


def dependencies_from_references(project: str, references: Iterable[Any],
                                 list_folder: Callable[[str], List[str]] = list_files) -> Tuple[List[str], List[str]]:
    """``(dependencies, warnings)`` from scan references (objects with ``kind``, ``raw``, ``exists``).

    Kept: footage, sequence folders and expression scripts, deduplicated (first spelling wins), the project
    excluded. A footage file that is one frame of a numbered image sequence (``aeproject.sequences``; the folder is
    read through ``list_folder``) brings the whole sequence: its folder when the folder holds only that sequence,
    else every frame's file. A reference that does not exist on this machine is still listed, with a warning."""
    seen = {_path_key(project)}
    out: List[str] = []
    warnings: List[str] = []

    def add(path: str) -> None:
        key = _path_key(path)
        if key not in seen:
            seen.add(key)
            out.append(path)

    for ref in references:
        kind = getattr(ref, "kind", None)
        raw = getattr(ref, "raw", None)
        if kind not in DEPENDENCY_KINDS or not isinstance(raw, str) or not raw:
            continue
        if parse_path(raw) is None:
            warnings.append(f"dependency {raw!r} ({kind}) is a relative path: not listed, accsyn cannot transfer it")
            continue
        if _path_key(raw) in seen:
            continue
        add(raw)
        exists = getattr(ref, "exists", None)
        if exists is False:
            warnings.append(f"dependency not found on this machine: {raw} ({kind})")
        elif exists and kind == "footage":
            sequence = sequence_on_disk(raw, list_folder)
            if sequence is not None:
                for path in sequence.dependency_paths():
                    add(path)
    return out, warnings


def mapped_share_paths_from_rules(rules: Iterable[Any]) -> List[Dict[str, str]]:
    """accsyn ``mapped_share_paths`` entries ``{remote, local}`` from mapping rules (``source`` -> ``destination``)."""
    return [{"remote": str(rule.source), "local": str(rule.destination)} for rule in rules]


def split_output(output: str) -> Tuple[str, Optional[str]]:
    """``(folder, file template or None)``: ``/out/x_[#####].png`` -> ``(/out, x_[#####].png)``; a folder as is."""
    text = output.rstrip("/\\") if len(output) > 1 else output
    parsed = parse_path(text)
    module = ntpath if parsed is not None and parsed.family == "windows" else posixpath
    name = module.basename(text)
    if "[#" in name:
        return module.dirname(text), name
    return text, None


def build_payload(*, project: str, frames: str, output: str, remote_os: str, comp: Optional[str] = None,
                  rqindex: Optional[int] = None, engine: str = DEFAULT_ENGINE, name: Optional[str] = None,
                  filters: str = "", mapped_share_paths: Sequence[Mapping[str, Any]] = (),
                  envs: Optional[Mapping[str, Any]] = None, bucket_size: Optional[int] = None,
                  dependencies: Sequence[str] = (), arguments: str = "",
                  input_conversion: Optional[str] = None, site: Optional[str] = None,
                  options: Optional[Mapping[str, Any]] = None) -> Dict[str, Any]:
    """The payload for ``Session.create("Compute", payload)``. Raises AccsynError (one line) for bad input.

    ``options`` are render option values by option name (``engines.aftereffects.options``); those given become job
    parameters under their accsyn names (the rest keep the app's defaults, which are the table's)."""
    comp, rqindex = check_target(comp, rqindex, "cli", AccsynError)
    if not isinstance(project, str) or parse_path(project) is None:
        raise AccsynError(f"project {project!r}: expected an absolute path")
    if not isinstance(output, str) or parse_path(output) is None and not output.lower().startswith("share="):
        raise AccsynError(f"output {output!r}: expected an absolute folder or share=<id|code>/path")
    try:
        frame_set = FrameSet.parse(str(frames))
    except ValueError as exc:
        raise AccsynError(f"frames {frames!r}: {exc}") from None
    if not len(frame_set):
        raise AccsynError(f"frames {frames!r}: no frames")
    if bucket_size is not None and (isinstance(bucket_size, bool) or not isinstance(bucket_size, int)
                                    or bucket_size < 1):
        raise AccsynError(f"bucket size {bucket_size!r}: expected a whole number >= 1")
    if not engine or not str(engine).strip():
        raise AccsynError("engine: expected the accsyn app name, e.g. aftereffects")
    folder, template = split_output(output)
    parameters: Dict[str, Any] = {
        "input_conversion": input_conversion or ("always" if mapped_share_paths else "auto"),
        "remote_os": remote_os,
        "mapped_share_paths": [dict(m) for m in mapped_share_paths],
    }
    if comp is not None:
        parameters["comp"] = comp
    else:
        parameters["rqindex"] = rqindex
    accsyn_names = {o.name: o for o in on_surface("accsyn")}
    for key, value in (options or {}).items():
        option = accsyn_names.get(key)
        if option is None:
            raise AccsynError(f"{BY_NAME[key].flag if key in BY_NAME else key} is not an accsyn job parameter")
        if value is not None:
            parameters[str(option.accsyn)] = option.encode(option.check(value, "cli", AccsynError), "accsyn")
    if template:
        parameters["output_template"] = template
    if arguments:
        parameters["arguments"] = arguments
    if site:
        parameters["site"] = site
    parsed_project = parse_path(project)
    windows = parsed_project is not None and parsed_project.family == "windows"
    stem = ntpath.basename(project) if windows else posixpath.basename(project)
    payload: Dict[str, Any] = {
        "name": name or f"{stem} {comp if comp is not None else 'rq' + str(rqindex)} {frame_set}",
        "engine": str(engine).strip(),
        "input": project,
        "output": folder,
        "range": str(frame_set),
        "dependencies": list(dependencies),
        "parameters": parameters,
    }
    normalized = normalize_filters(filters or "")
    if normalized:
        payload["filters"] = normalized
    if bucket_size is not None:
        payload["settings"] = {"task_bucketsize": bucket_size}
    if envs:
        payload["envs"] = dict(envs)
    return payload
