"""Read an .aepx the way the aerender simulator (a test instrument) needs: comps, footage references, render queue.

The parse streams (lxml iterparse, entity resolution and network off, huge trees allowed) and drops the bulky layer
data as it goes, so sixteen simulated renders of a project of hundreds of MB do not hold sixteen trees in memory.

After Effects links a render-queue item to its comp through binary ids this reader does not decode; the simulator's
convention (shared with `engines.aftereffects.sample_project`) is that queue item k renders the k-th comp in document
order, or the first comp when there are fewer comps than queue items.

What a comp *uses* (``comp_sources``), so each frame can record it: the footage items its layers show (a layer's
``ldta`` names its source item's id at byte 40; an item's ``idta`` its own id at byte 16), the footage items its
expressions read by name (``footage("data.json")``, how After Effects expressions read JSON data files), and its
layer names (text layers whose Source Text reads the layer name show it). Nested comps are not followed.
"""
from __future__ import annotations

import hashlib
import os
import re
from typing import Dict, List, NamedTuple, Optional

RIFX = b"RIFX"


class SimProjectError(Exception):
    """A project the simulator cannot open; the message is the aerender-style line to print."""


class FootageRef(NamedTuple):
    path: str
    is_folder: bool
    item_id: int = 0
    name: str = ""


class CompLayers(NamedTuple):
    """A comp's layers as the simulator sees them: names, the item ids they show, their expression texts."""

    names: List[str]
    sources: List[int]
    expressions: List[str]


class QueueItem(NamedTuple):
    folder: str
    om_template: str
    file_template: str


class Project(NamedTuple):
    comps: List[str]
    footage: List[FootageRef]
    queue: List[QueueItem]
    layers: Dict[str, CompLayers] = {}  # comp name -> its layers (the first comp of a name)

    def queue_comp(self, index: int) -> Optional[str]:
        """The comp queue item `index` (0-based) renders, by the simulator's convention."""
        if not self.comps:
            return None
        return self.comps[index] if index < len(self.comps) else self.comps[0]


def _local(tag: object) -> str:
    if not isinstance(tag, str):
        return ""
    return tag.rsplit("}", 1)[-1]


_KEEP = {"Item", "Pin", "Als2", "fileReference", "LOm", "LItm", "string", "idta", "Fold", "LRdr", "Sfdr",
         "AfterEffectsProject"}


def load_project(path: str) -> Project:
    """Parse the project; SimProjectError carries the line aerender would print."""
    from lxml import etree  # the launcher never imports lxml: only the worker pays for it

    try:
        with open(path, "rb") as handle:
            head = handle.read(12)
    except FileNotFoundError:
        raise SimProjectError(f"aerender ERROR: No project file found at the given path: {path}") from None
    except OSError as exc:
        raise SimProjectError(f"aerender ERROR: Unable to open the project file {path}: {exc.strerror}") from None
    if head.startswith(RIFX):
        raise SimProjectError(
            f"aerender ERROR: After Effects error: the simulator reads only XML projects (.aepx); {path} is a binary "
            ".aep (this is a limitation of the aerender simulator, not of After Effects)")

    comps: List[str] = []
    footage: List[FootageRef] = []
    queue: List[QueueItem] = []
    layers: Dict[str, CompLayers] = {}
    pending = CompLayers([], [], [])  # layers seen since the last item ended: they belong to the next comp
    layer_source, layer_exprs = 0, []
    item_id = 0
    try:
        events = etree.iterparse(path, events=("end",), resolve_entities=False, no_network=True, huge_tree=True,
                                 load_dtd=False, remove_comments=True)
        for _event, element in events:
            name = _local(element.tag)
            if name == "fileReference":
                parent = element.getparent()
                owner = parent.getparent() if parent is not None else None
                if parent is not None and _local(parent.tag) == "Als2" and owner is not None \
                        and _local(owner.tag) == "Pin":
                    footage.append(FootageRef(element.get("fullpath", ""), element.get("target_is_folder") == "1",
                                              item_id))
            elif name == "idta":
                item_id = _hex_u32(element.get("bdata") or "", 16)
            elif name == "ldta":
                layer_source = _hex_u32(element.get("bdata") or "", 40)
            elif name == "tdbs":
                kids = [c for c in element]
                for before, after in zip(kids, kids[1:]):
                    if _local(before.tag) == "cdat" and _local(after.tag) == "string":
                        layer_exprs.append(after.text or "")
                element.clear()
            elif name == "Layr":
                label = next((c for c in element if _local(c.tag) == "string"), None)
                pending.names.append(label.text or "" if label is not None else "")
                pending.sources.append(layer_source)
                pending.expressions.extend(layer_exprs)
                layer_source, layer_exprs = 0, []
                element.clear()
            elif name == "Item":
                idta = next((c for c in element if _local(c.tag) == "idta"), None)
                label = next((c for c in element if _local(c.tag) == "string"), None)
                text = label.text or "" if label is not None else ""
                if idta is not None and (idta.get("bdata") or "").lower().startswith("0004"):
                    comps.append(text)
                    layers.setdefault(text, pending)
                elif idta is not None:
                    own = _hex_u32(idta.get("bdata") or "", 16)
                    footage[:] = [f._replace(name=text) if f.item_id == own and not f.name else f for f in footage]
                pending = CompLayers([], [], [])
                # children that are items were handled at their own end; drop the bulk
                for child in list(element):
                    if _local(child.tag) not in ("idta", "string", "Sfdr"):
                        element.remove(child)
            elif name == "LOm":
                ref = element.find("./{*}Als2/{*}fileReference")
                strings = [c.text or "" for c in element if _local(c.tag) == "string"]
                if ref is not None:
                    queue.append(QueueItem(ref.get("fullpath", ""),
                                           strings[0] if strings else "Lossless",
                                           strings[1] if len(strings) > 1 else "[compName]_[#####].png"))
            elif name not in _KEEP and name not in ("cdat", "ldta"):
                element.clear()
    except etree.XMLSyntaxError as exc:
        raise SimProjectError(
            f"aerender ERROR: After Effects error: Unable to open the project {path}: the file is damaged or not a "
            f"project ({exc.msg})") from None
    except OSError as exc:
        raise SimProjectError(f"aerender ERROR: Unable to open the project file {path}: {exc}") from None
    return Project(comps, footage, queue, layers)


def _hex_u32(hexdata: str, offset: int) -> int:
    """The big-endian u32 at byte ``offset`` of a chunk's hex data (0 when it is too short)."""
    text = hexdata[2 * offset:2 * offset + 8]
    try:
        return int(text, 16) if len(text) == 8 else 0
    except ValueError:
        return 0


_FOOTAGE_CALL = re.compile(r"""footage\s*\(\s*(["'])(.*?)\1\s*\)""")


def footage_label(ref: FootageRef) -> str:
    """The name After Effects shows for a footage item: its own name, else its file's name."""
    return ref.name or ref.path.replace("\\", "/").rstrip("/").rsplit("/", 1)[-1]


def file_digest(path: str, is_folder: bool) -> str:
    """SHA-256 of a footage file's bytes (of a folder: its sorted file names and sizes); "" when unreadable."""
    digest = hashlib.sha256()
    try:
        if is_folder:
            for entry in sorted(os.scandir(path), key=lambda e: e.name):
                digest.update(f"{entry.name}\0{entry.stat().st_size}\n".encode("utf-8", "surrogateescape"))
        else:
            with open(path, "rb") as handle:
                for block in iter(lambda: handle.read(1 << 20), b""):
                    digest.update(block)
    except OSError:
        return ""
    return digest.hexdigest()


def comp_sources(project: Project, comp: str) -> Dict[str, object]:
    """What ``comp`` uses: {"footage": [{name, path, sha256}], "layers": [names]} (see the module docstring)."""
    layers = project.layers.get(comp, CompLayers([], [], []))
    wanted = set(layers.sources)
    read = {m.group(2) for text in layers.expressions for m in _FOOTAGE_CALL.finditer(text)}
    used = [ref for ref in project.footage if (ref.item_id and ref.item_id in wanted) or footage_label(ref) in read]
    return {"footage": [{"name": footage_label(ref), "path": ref.path, "sha256": file_digest(ref.path, ref.is_folder)}
                        for ref in used],
            "layers": list(layers.names)}


def footage_exists(ref: FootageRef) -> bool:
    """Does the reference resolve on this host, the way After Effects needs it (a folder for sequences)?"""
    if not ref.path:
        return False
    return os.path.isdir(ref.path) if ref.is_folder else os.path.isfile(ref.path)
