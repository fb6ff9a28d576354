"""What the machine offers a render: CPUs, memory and CPU topology, as plain data.

Planning (`stmpo.plan`) is pure and takes a ``Host``; only ``detect_host`` touches the machine. That keeps the
arithmetic testable for hosts we do not have (a 128-CPU Windows box with two processor groups, a 4-node EPYC) and lets
`--numa-map` replace a detection that is wrong or unavailable.

Topology sources:
- Linux: ``/sys/devices/system/node/node<N>/cpulist``, restricted to the CPUs this process may run on
  (``os.sched_getaffinity``) so a render started inside a cpuset (container, farm worker slot) plans only for the CPUs
  it really has.
- Windows: processor groups from ``GetActiveProcessorCount`` per group and NUMA nodes from
  ``GetNumaNodeProcessorMaskEx`` (ctypes, loaded only on Windows; NOT run on this Linux CI). Windows numbers logical
  processors group by group, so global CPU index = CPUs of earlier groups + bit position inside the group.
- elsewhere (macOS) and whenever detection fails: one node holding every CPU.
Memory: psutil's total and *available* memory, capped on Linux by the process's cgroup limit (containers).
"""
from __future__ import annotations

import os
import re
import sys
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Dict, Iterable, List, Optional, Sequence, Set, Tuple

from aefarm_common.platforms import host_os
from stmpo.errors import StmpoError

CpuTuple = Tuple[int, ...]
Topology = Tuple[CpuTuple, ...]

WINDOWS_GROUP_SIZE = 64  # a KAFFINITY mask has 64 bits: Windows never puts more than 64 CPUs in one processor group


@dataclass(frozen=True)
class Host:
    """CPUs, memory (bytes) and topology of the render host. ``processor_groups`` is None off Windows."""

    os: str
    logical_cpus: int
    total_memory: int
    available_memory: int
    numa_nodes: Topology
    processor_groups: Optional[Topology] = None

    @property
    def cpus(self) -> CpuTuple:
        """Every CPU index the topology names, ascending."""
        return tuple(sorted(cpu for node in self.numa_nodes for cpu in node))

    def with_numa_nodes(self, nodes: Topology) -> "Host":
        """This host with its topology replaced by a `--numa-map`; the map is the truth about which CPUs exist."""
        nodes = validate_topology(nodes, "NUMA map")
        groups = self.processor_groups
        if groups is not None and {c for g in groups for c in g} != {c for n in nodes for c in n}:
            groups = default_processor_groups(nodes)  # detected groups describe other CPUs than the map
        return replace(self, numa_nodes=nodes, logical_cpus=sum(len(node) for node in nodes),
                       processor_groups=groups)

    def to_dict(self) -> Dict[str, Any]:
        return {
            "os": self.os,
            "logical_cpus": self.logical_cpus,
            "total_memory": self.total_memory,
            "available_memory": self.available_memory,
            "numa_nodes": [list(node) for node in self.numa_nodes],
            "processor_groups": None if self.processor_groups is None else [list(g) for g in self.processor_groups],
        }




# --------------------------------------------------------------------------------------------------------------------
# pure helpers

_CPULIST_ITEM = re.compile(r"^(\d+)(?:-(\d+))?$")


def parse_cpulist(text: str) -> CpuTuple:
    """Parse the kernel's cpulist format (``0-3,8-11``, ``5``, empty) into ascending CPU indices."""
    cpus: Set[int] = set()
    for item in text.strip().split(","):
        item = item.strip()
        if not item:
            continue
        match = _CPULIST_ITEM.match(item)
        if not match:
            raise ValueError(f"bad cpulist item {item!r}")
        first = int(match.group(1))
        last = int(match.group(2)) if match.group(2) is not None else first
        if last < first:
            raise ValueError(f"bad cpulist range {item!r}")
        cpus.update(range(first, last + 1))
    return tuple(sorted(cpus))


def format_cpus(cpus: Iterable[int]) -> str:
    """The inverse of ``parse_cpulist``: ``[0, 1, 2, 3, 8]`` -> ``0-3,8`` (short enough for --dry-run lines)."""
    ordered = sorted(set(cpus))
    parts: List[str] = []
    index = 0
    while index < len(ordered):
        end = index
        while end + 1 < len(ordered) and ordered[end + 1] == ordered[end] + 1:
            end += 1
        parts.append(str(ordered[index]) if end == index else f"{ordered[index]}-{ordered[end]}")
        index = end + 1
    return ",".join(parts)


def validate_topology(nodes: Any, where: str) -> Topology:
    """Check a topology is a non-empty list of non-empty lists of distinct non-negative ints; return it sorted."""
    if not isinstance(nodes, (list, tuple)) or not nodes:
        raise StmpoError(f"{where}: expected a non-empty list of nodes, each a list of CPU numbers")
    seen: Dict[int, int] = {}
    result = []
    for index, node in enumerate(nodes):
        if not isinstance(node, (list, tuple)) or not node:
            raise StmpoError(f"{where}: node {index} must be a non-empty list of CPU numbers, got {node!r}")
        for cpu in node:
            if isinstance(cpu, bool) or not isinstance(cpu, int) or cpu < 0:
                raise StmpoError(f"{where}: node {index} has {cpu!r}, CPU numbers must be integers >= 0")
            if cpu in seen:
                other = seen[cpu]
                place = f"nodes {other} and {index}" if other != index else f"node {index} twice"
                raise StmpoError(f"{where}: CPU {cpu} appears in {place}")
            seen[cpu] = index
        result.append(tuple(sorted(node)))
    return tuple(result)


def windows_groups_from_sizes(sizes: Sequence[int]) -> Topology:
    """Global CPU indices per processor group, given each group's active processor count.

    Windows numbers processors group by group (group 0 first), which is also how psutil counts them, so group g holds
    the indices after the CPUs of groups 0..g-1."""
    groups = []
    start = 0
    for size in sizes:
        if size < 1 or size > WINDOWS_GROUP_SIZE:
            raise ValueError(f"processor group of {size} CPUs (Windows groups hold 1..{WINDOWS_GROUP_SIZE})")
        groups.append(tuple(range(start, start + size)))
        start += size
    return tuple(groups)


def cpus_from_group_mask(group: int, mask: int, groups: Topology) -> CpuTuple:
    """Global CPU indices named by a (processor group, 64-bit mask) pair, as Windows reports NUMA nodes."""
    members = groups[group]
    return tuple(members[bit] for bit in range(len(members)) if mask >> bit & 1)


def default_processor_groups(numa_nodes: Topology) -> Topology:
    """Processor groups Windows would form: whole NUMA nodes packed into groups of at most 64 CPUs, in order.

    Used when the real groups cannot be queried (and to model Windows hosts in tests): a node never spans two groups
    unless it alone has more than 64 CPUs, in which case it is cut into 64-CPU pieces."""
    groups: List[List[int]] = []
    current: List[int] = []
    for node in numa_nodes:
        pieces = [list(node[i:i + WINDOWS_GROUP_SIZE]) for i in range(0, len(node), WINDOWS_GROUP_SIZE)]
        for piece in pieces:
            if current and len(current) + len(piece) > WINDOWS_GROUP_SIZE:
                groups.append(current)
                current = []
            current.extend(piece)
    if current:
        groups.append(current)
    return tuple(tuple(g) for g in groups)


# --------------------------------------------------------------------------------------------------------------------
# effects: reading the machine


def load_numa_map(path: "os.PathLike[str] | str") -> Topology:
    """Read a `--numa-map` JSON file: ``{"nodes": [[0,1,2,3],[4,5,6,7]]}`` or a plain list of lists."""
    from aefarm_common.jsonfile import read_json  # here: the pinning launcher imports this module per child

    where = f"NUMA map {path}"
    data = read_json(Path(path), "NUMA map", StmpoError)
    if isinstance(data, dict):
        if "nodes" not in data:
            raise StmpoError(f"{where}: expected a \"nodes\" key holding a list of CPU lists")
        data = data["nodes"]
    return validate_topology(data, where)


def _linux_numa_nodes(sys_root: str, allowed: Optional[Iterable[int]]) -> Optional[Topology]:
    node_root = Path(sys_root) / "devices" / "system" / "node"
    try:
        entries = [p for p in node_root.iterdir() if re.fullmatch(r"node\d+", p.name)]
    except OSError:
        return None
    allowed_set = set(allowed) if allowed is not None else None
    nodes = []
    for entry in sorted(entries, key=lambda p: int(p.name[4:])):
        try:
            cpus = parse_cpulist((entry / "cpulist").read_text())
        except (OSError, ValueError):
            return None
        if allowed_set is not None:
            cpus = tuple(cpu for cpu in cpus if cpu in allowed_set)
        if cpus:  # memory-only nodes (CXL, HBM) and nodes outside our cpuset hold no CPU for us
            nodes.append(cpus)
    return tuple(nodes) or None


def _windows_topology() -> Tuple[Optional[Topology], Optional[Topology]]:
    """(processor groups, NUMA nodes) from the Win32 API. NOT run on the Linux CI: written from the documented API."""
    if sys.platform != "win32":
        return None, None
    import ctypes
    from ctypes import wintypes

    kernel32 = ctypes.WinDLL("kernel32", use_last_error=True)

    class GROUP_AFFINITY(ctypes.Structure):  # noqa: N801 - Win32 name
        _fields_ = [("Mask", ctypes.c_size_t), ("Group", wintypes.WORD), ("Reserved", wintypes.WORD * 3)]

    group_count = kernel32.GetActiveProcessorGroupCount()
    sizes = [kernel32.GetActiveProcessorCount(wintypes.WORD(g)) for g in range(group_count)]
    groups = windows_groups_from_sizes(sizes) if sizes and all(sizes) else None
    if groups is None:
        return None, None
    highest = wintypes.ULONG(0)
    if not kernel32.GetNumaHighestNodeNumber(ctypes.byref(highest)):
        return groups, None
    nodes = []
    for node in range(highest.value + 1):
        affinity = GROUP_AFFINITY()
        if kernel32.GetNumaNodeProcessorMaskEx(wintypes.USHORT(node), ctypes.byref(affinity)) and affinity.Mask:
            nodes.append(cpus_from_group_mask(affinity.Group, affinity.Mask, groups))
    return groups, (tuple(nodes) or None)


def _read_int(path: Path) -> Optional[int]:
    try:
        text = path.read_text().strip()
    except OSError:
        return None
    return int(text) if text.isdigit() else None  # "max" (no limit) and garbage read as None


def _own_cgroup_paths() -> Dict[str, str]:
    """This process's cgroup paths: key "v2" (the ``0::`` line) and "memory" (cgroup v1's memory controller)."""
    paths: Dict[str, str] = {}
    try:
        for line in Path("/proc/self/cgroup").read_text().splitlines():
            parts = line.split(":", 2)
            if len(parts) != 3:
                continue
            if parts[0] == "0" and parts[1] == "":
                paths["v2"] = parts[2].strip().lstrip("/")
            elif "memory" in parts[1].split(","):
                paths["memory"] = parts[2].strip().lstrip("/")
    except OSError:
        pass
    return paths


def _tightest_limit(base: Path, relative: str, limit_name: str,
                    usage_name: str) -> Tuple[Optional[int], Optional[int]]:
    """The smallest limit from ``base/relative`` up to ``base`` (a parent's limit binds its children)."""
    best: Tuple[Optional[int], Optional[int]] = (None, None)
    folder = base / relative
    while True:
        limit = _read_int(folder / limit_name)
        if limit is not None and limit < 1 << 60 and (best[0] is None or limit < best[0]):
            best = (limit, _read_int(folder / usage_name))  # v1 writes a huge number for "no limit"
        if folder == base or base not in folder.parents:
            return best
        folder = folder.parent


def cgroup_memory(sys_root: str = "/sys") -> Tuple[Optional[int], Optional[int]]:
    """(limit, usage) in bytes of this process's memory cgroup, or (None, None) when unlimited or unknown.

    psutil reports the whole machine's memory, but a render in a container (AWS Batch, Kubernetes, Docker) or a
    systemd slice is killed at its cgroup limit, so planning must use the smaller number: cgroup v2 ``memory.max``,
    else cgroup v1 ``memory.limit_in_bytes``, the tightest from this process's cgroup up to the root."""
    base = Path(sys_root) / "fs" / "cgroup"
    own = _own_cgroup_paths()
    result = _tightest_limit(base, own.get("v2", ""), "memory.max", "memory.current")
    if result[0] is None:
        result = _tightest_limit(base / "memory", own.get("memory", ""), "memory.limit_in_bytes",
                                 "memory.usage_in_bytes")
    return result


def detect_host(os_name: Optional[str] = None, sys_root: str = "/sys") -> Host:
    """Measure this machine. Never fails: unknown topology becomes one node of every CPU."""
    import psutil

    os_name = os_name or host_os()
    memory = psutil.virtual_memory()
    all_cpus = psutil.cpu_count(logical=True) or os.cpu_count() or 1
    allowed: Optional[Tuple[int, ...]] = None
    if hasattr(os, "sched_getaffinity"):
        try:
            allowed = tuple(sorted(os.sched_getaffinity(0)))
        except OSError:
            allowed = None
    nodes: Optional[Topology] = None
    groups: Optional[Topology] = None
    if os_name == "linux":
        nodes = _linux_numa_nodes(sys_root, allowed)
    elif os_name == "windows" and sys.platform.startswith("win"):
        try:
            groups, nodes = _windows_topology()
        except (OSError, AttributeError, ValueError, IndexError):
            groups, nodes = None, None
    if nodes is None:
        nodes = (allowed or tuple(range(all_cpus)),)
    if os_name == "windows" and groups is None:
        groups = default_processor_groups(nodes)
    total, available = int(memory.total), int(memory.available)
    if os_name == "linux":
        limit, usage = cgroup_memory(sys_root)
        if limit is not None and limit < total:
            total = limit
            available = min(available, max(0, limit - (usage or 0)))
    return Host(
        os=os_name,
        logical_cpus=sum(len(node) for node in nodes),
        total_memory=total,
        available_memory=available,
        numa_nodes=nodes,
        processor_groups=groups,
    )
