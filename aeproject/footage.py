"""Where a project's footage resolves on a node after mapping, and whether it is there.

The mapping is remap's (the same RuleSet the converter applies), so what is checked here is exactly what the
converted project will ask After Effects to open. Facts about the disk come through ``Disk`` so the checks run on
fakes in tests and on the real filesystem otherwise.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Callable, List, Optional

from aefarm_common.platforms import host_os, normalize_os
from aeproject.model import Footage, Project
from aeproject.sequences import Sequence, list_files, sequence_on_disk
from remap.paths import os_family, parse_path, uri_to_path
from remap.rules import RuleSet

OK, MISSING, FOREIGN, RELATIVE, UNCHECKED = "ok", "missing", "foreign", "relative", "unchecked"


@dataclass(frozen=True)
class Disk:
    """The filesystem questions the checks ask (defaults: this machine)."""

    is_file: Callable[[str], bool] = os.path.isfile
    is_dir: Callable[[str], bool] = os.path.isdir
    list_folder: Callable[[str], List[str]] = list_files


@dataclass(frozen=True)
class FootageState:
    """One file-based footage item on the node: ``effective`` is the path After Effects will open (``mapped`` when a
    rule applied). ``state``: ok | missing | foreign (another OS's path no rule maps) | relative (cannot be told
    from here) | unchecked (the node is another OS than this machine). ``sequence``: the frames on disk when the
    file is one frame of a numbered image sequence."""

    footage: Footage
    raw: str
    mapped: Optional[str]
    rule: Optional[str]
    state: str
    sequence: Optional[Sequence] = None

    @property
    def effective(self) -> str:
        return self.mapped if self.mapped is not None else self.raw

    def describe(self) -> str:
        text = self.raw if self.mapped is None or self.mapped == self.raw else f"{self.raw} -> {self.mapped}"
        return text


def check_footage(project: Project, rules: Optional[RuleSet] = None, node_os: Optional[str] = None,
                  disk: Optional[Disk] = None, sequences: bool = False) -> List[FootageState]:
    """The state of every file and folder footage item of ``project`` on a node of ``node_os`` (default: this
    machine's OS; existence is only checked when it is this machine's). ``sequences`` also looks for the image
    sequence each existing file belongs to."""
    rules = rules if rules is not None else RuleSet()
    disk = disk or Disk()
    here = host_os()
    node = normalize_os(node_os) if node_os else here
    family = os_family(node)
    out: List[FootageState] = []
    for item in project.footage:
        if item.file is None:
            continue
        raw = item.file.path
        match = rules.match(raw) if len(rules) else None
        mapped = match[0] if match else None
        rule = match[1].origin if match else None
        path = mapped if mapped is not None else raw
        parsed = parse_path(path)
        sequence = None
        if parsed is None:
            state = RELATIVE
        elif parsed.family != family:
            state = FOREIGN
        elif node != here:
            state = UNCHECKED
        else:
            plain = uri_to_path(path) if parsed.uri else path
            assert plain is not None
            present = disk.is_dir(plain) if item.file.is_folder else disk.is_file(plain)
            state = OK if present else MISSING
            if present and sequences and not item.file.is_folder:
                sequence = sequence_on_disk(plain, disk.list_folder)
        out.append(FootageState(item, raw, mapped, rule, state, sequence))
    return out
