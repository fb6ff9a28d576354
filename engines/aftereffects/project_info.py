"""What ``aefarm info`` shows of a project: its comps, render-queue items and output modules, footage (where it
resolves on this machine after mapping, image sequences with their frames on disk) and the fonts its text layers
use, as text lines or one JSON object. Pure: the caller reads the project and checks the footage.
"""
from __future__ import annotations

from typing import Any, Dict, List, Sequence

from aeproject.footage import FootageState
from aeproject.model import Comp, OutputModule, Project


def _frames(first: int, count: int) -> str:
    return f"{first}-{first + count - 1}" if count > 0 else "none"


def comp_line(comp: Comp) -> str:
    if not comp.frame_rate:
        return f"  {comp.name!r}  id {comp.item_id}  (settings unreadable)  {len(comp.layers)} layers"
    work = f"  work area {comp.work_area[0]}-{comp.work_area[1]}" if comp.work_area else ""
    return (f"  {comp.name!r}  id {comp.item_id}  {comp.width}x{comp.height}  {comp.frame_rate:g} fps  "
            f"{comp.duration_frames} frames ({_frames(comp.first_frame, comp.duration_frames)}){work}  "
            f"{len(comp.layers)} layer{'s' if len(comp.layers) != 1 else ''}")


def output_line(om: OutputModule) -> str:
    folder = om.folder.path if om.folder else "(no output file set)"
    sep = "\\" if om.folder is not None and om.folder.platform == "Win" else "/"
    where = f"{folder.rstrip(sep)}{sep}{om.file_template}" if om.folder else f"{folder} {om.file_template}".strip()
    details = ", ".join(filter(None, [om.format, om.format_id.strip()]))
    return f"     output {om.index}: {where}" + (f"  ({details})" if details else "")


def footage_line(state: FootageState) -> str:
    item = state.footage
    text = f"  {state.state:<9} {state.describe()}"
    if item.file is not None and item.file.is_folder:
        text += "  (folder)"
    if state.sequence is not None:
        text += "  sequence " + state.sequence.describe()
    return text


def info_lines(project: Project, footage: Sequence[FootageState]) -> List[str]:
    saved = f"  (After Effects {project.version}, {project.version.os_name})" if project.version else ""
    lines = [f"project {project.path}{saved}", f"comps ({len(project.comps)})"]
    lines += [comp_line(c) for c in project.comps]
    queue = project.render_queue
    lines.append(f"render queue ({len(queue)} item{'s' if len(queue) != 1 else ''})")
    for item in queue:
        comp = project.queue_comp(item)
        name = repr(comp.name) if comp is not None else (f"comp id {item.comp_id}" if item.comp_id else "comp ?")
        span = ""
        if item.start_frame is not None and item.duration_frames is not None:
            span = f"  frames {_frames(item.start_frame, item.duration_frames)}"
        settings = f"  settings {item.settings!r}" if item.settings else ""
        comment = f"  comment {item.comment!r}" if item.comment else ""
        lines.append(f"  {item.index}  {name}  {item.status_name}{span}{settings}{comment}")
        lines += [output_line(om) for om in item.output_modules]
    others = [f for f in project.footage if f.file is None]
    lines.append(f"footage ({len(footage)} file{'s' if len(footage) != 1 else ''}"
                 + (f", {len(others)} solids/placeholders" if others else "") + ")")
    lines += [footage_line(s) for s in footage]
    fonts = project.fonts
    lines.append(f"fonts ({len(fonts)})")
    lines += [f"  {name}" for name in fonts]
    lines += [f"note: {note}" for note in project.notes]
    return lines


def info_json(project: Project, footage: Sequence[FootageState]) -> Dict[str, Any]:
    data = project.to_json()
    by_id = {s.footage.item_id: s for s in footage}
    for entry in data["footage"]:
        state = by_id.get(entry["id"])
        if state is None:
            continue
        entry.update({"state": state.state, "mapped": state.mapped, "rule": state.rule})
        seq = state.sequence
        if seq is not None:
            entry["sequence"] = {"pattern": seq.pattern, "folder": seq.folder, "first": seq.first, "last": seq.last,
                                 "count": len(seq.frames), "gaps": [list(g) for g in seq.gaps]}
    return data
