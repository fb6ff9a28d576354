"""The run's orphans: adopt them (Linux), reap the dead, and leave no process of the run behind at its end.

Why a module of its own: each child tree takes care of itself (``stmpo.children``), but some processes escape every
tree's view -- a worker that left its process group and whose launcher died before the first descendant snapshot
(its tag still names it), or one whose tag cannot be read. While a run is in progress the executor is the parent of
such orphans (Linux: a child subreaper, ``stmpo.proc``), reaps those that die (a zombie is never left behind by us),
and at the end ``sweep`` ends every process that still carries one of the run's tree tags or was adopted without a
readable tag. Another run's tagged processes are never touched.

On macOS there is no subreaper: orphans go to launchd (which reaps them) and the sweep finds live ones by their tag
(psutil reads another process's environment only for processes of the same user -- ours are). Windows keeps every
process of a child in its Job Object, which ends them all.
"""
from __future__ import annotations

import time
from typing import Any, Dict, Iterable, List

import psutil

from stmpo.children import TreeTags
from stmpo.proc.base import ProcessControl


class RunOrphans:
    """Orphan handling of one run: ``start`` before the first child, ``tick`` about once a second, ``sweep`` and
    ``stop`` after the last tree is gone. ``run_tag`` prefixes every tree tag of the run (``<run_tag>.<chunk>...``)."""

    def __init__(self, control: ProcessControl, tags: TreeTags, run_tag: str) -> None:
        self.control = control
        self.tags = tags
        self.run_tag = run_tag
        self.started_wall = time.time()
        self.adopting = False
        self.adopted_orphans = False  # whether this run was the parent of its orphans (Linux subreaper)
        self.reaped: List[int] = []
        self.swept: List[int] = []

    def start(self) -> None:
        self.started_wall = time.time()
        self.adopting = self.adopted_orphans = self.control.adopt_orphans()

    def tick(self) -> None:
        """Reap adopted orphans that died since the last tick."""
        try:
            self.reaped.extend(self.control.reap_adopted())
        except OSError:
            pass

    def ours(self, tag: str) -> bool:
        return tag.startswith(self.run_tag + ".")

    def sweep(self, grace: float = 2.0, exclude: Iterable[int] = ()) -> List[int]:
        """End every live process of this run left now (tagged with one of its tags, or adopted without a readable
        tag), politely then hard, and reap them; ``exclude``: launchers whose ``Popen`` still waits for them. The
        pids ended."""
        try:
            table = self.control.process_table()
        except (OSError, psutil.Error):
            table = {}
        targets: Dict[int, float] = dict(self.tags.tagged(table, self.started_wall, self.ours))
        for pid in self.control.adopted():
            tag = self.control.tree_tag(pid)
            if tag is None or self.ours(tag):
                targets.setdefault(pid, table.get(pid, (0, 0.0))[1])
        for pid in exclude:
            targets.pop(pid, None)
        procs: List[psutil.Process] = []
        for pid, created in targets.items():
            try:
                proc = psutil.Process(pid)
                if created and abs(proc.create_time() - created) > 0.05:
                    continue
                if proc.status() == psutil.STATUS_ZOMBIE:
                    continue
                procs.append(proc)
            except psutil.Error:
                continue
        for proc in procs:
            try:
                proc.terminate()
            except psutil.Error:
                pass
        _gone, alive = psutil.wait_procs(procs, timeout=grace) if procs else ([], [])
        for proc in alive:
            try:
                proc.kill()
            except psutil.Error:
                pass
        if alive:
            psutil.wait_procs(alive, timeout=5.0)
        self.tick()
        self.swept.extend(p.pid for p in procs)
        return [p.pid for p in procs]

    def stop(self) -> None:
        self.tick()
        if self.adopting:
            self.control.stop_adopting()
            self.adopting = False

    def to_json(self, found_by_tag: int) -> Dict[str, Any]:
        return {"adopting": self.adopted_orphans, "reaped": len(self.reaped),
                "found_by_tag": found_by_tag, "swept": list(self.swept)}
