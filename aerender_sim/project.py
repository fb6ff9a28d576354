"""Read an .aepx the way the aerender simulator (a test instrument) needs: comps, footage references, render queue.

The parse streams (lxml iterparse, entity resolution and network off, huge trees allowed) and drops the bulky layer
data as it goes, so sixteen simulated renders of a project of hundreds of MB do not hold sixteen trees in memory.

After Effects links a render-queue item to its comp through binary ids this reader does not decode; the simulator's
convention (shared with `engines.aftereffects.sample_project`) is that queue item k renders the k-th comp in document
order, or the first comp when there are fewer comps than queue items.
"""
from __future__ import annotations

import os
from typing import List, NamedTuple, Optional

RIFX = b"RIFX"


class SimProjectError(Exception):
    """A project the simulator cannot open; the message is the aerender-style line to print."""


class FootageRef(NamedTuple):
    path: str
    is_folder: bool


class QueueItem(NamedTuple):
    folder: str
    om_template: str
    file_template: str


class Project(NamedTuple):
    comps: List[str]
    footage: List[FootageRef]
    queue: List[QueueItem]

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
                    footage.append(FootageRef(element.get("fullpath", ""), element.get("target_is_folder") == "1"))
            elif name == "Item":
                idta = next((c for c in element if _local(c.tag) == "idta"), None)
                label = next((c for c in element if _local(c.tag) == "string"), None)
                if idta is not None and (idta.get("bdata") or "").lower().startswith("0004"):
                    comps.append(label.text or "" if label is not None else "")
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
            elif name not in _KEEP:
                element.clear()
    except etree.XMLSyntaxError as exc:
        raise SimProjectError(
            f"aerender ERROR: After Effects error: Unable to open the project {path}: the file is damaged or not a "
            f"project ({exc.msg})") from None
    except OSError as exc:
        raise SimProjectError(f"aerender ERROR: Unable to open the project file {path}: {exc}") from None
    return Project(comps, footage, queue)


def footage_exists(ref: FootageRef) -> bool:
    """Does the reference resolve on this host, the way After Effects needs it (a folder for sequences)?"""
    if not ref.path:
        return False
    return os.path.isdir(ref.path) if ref.is_folder else os.path.isfile(ref.path)
