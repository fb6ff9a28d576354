"""How many aerender children to run on this host, and which CPUs each one gets (pure: data in, data out).

Concurrency (when not given explicitly) is the smallest of four limits, each shown with its arithmetic so `--dry-run`
explains itself:

- **CPU limit** = logical CPUs // CPUs per child. How many CPUs one child keeps busy depends on Multi-Frame Rendering:
  - MFR on (After Effects 22+ default): one After Effects renders several frames at once and spreads over many
    threads, but its scaling flattens after a handful of cores (serial parts, shared caches, the render queue's
    bookkeeping), so several children with a few cores each beat one child with all of them. Default
    ``CPUS_PER_CHILD_MFR = 4``: enough for MFR to overlap frames, small enough to give each NUMA node several children.
  - MFR off: a child renders one frame at a time, mostly on one thread, plus helper threads for footage decoding,
    disk output and aerender's own launcher. Default ``CPUS_PER_CHILD_NO_MFR = 2`` (one render thread + helpers);
    1 would oversubscribe the machine, and memory is usually the tighter limit anyway.
  ``PlanSettings.cpus_per_child`` overrides both.
- **Memory limit** = floor(available memory x safety / RAM per child). *Available* (not total) memory, because other
  work (a farm agent, a previous job's cache) is already there; the safety factor leaves room for the OS file cache
  and for a child that peaks above its average. Default RAM per child: 8 GiB with MFR (MFR holds several frames in
  flight; Adobe's guidance is about 2 GiB per core used), 4 GiB without. Measure a real peak and pass
  ``--ram-per-child-gb`` for heavy projects.
- **Maximum** (`--max-concurrency`), when given.
- **Chunk limit** = ceil(frames / min_chunk): a child costs seconds of start-up, so never start one without a chunk.
The result is at least 1: a render always runs, with a warning when memory looks too small even for one child.

An explicit concurrency is honoured (capped only by the chunk limit and the maximum), with warnings when it exceeds
the CPU or memory limit.

Affinity: one CPU block per child slot (see ``assign_blocks``), or None when affinity is off or unsupported (macOS).
Blocks are balanced over NUMA nodes and never straddle a node (nor a Windows processor group) unless a child's share
of the host is bigger than a node. With more children than CPUs in a node, those children share the whole node rather
than one CPU each, so the OS can move work to whichever CPU is idle while a child starts up or waits on disk.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional, Sequence, Sized, Tuple

from stmpo.affinity import affinity_support
from stmpo.errors import StmpoError
from stmpo.host import CpuTuple, Host, Topology, format_cpus

CPUS_PER_CHILD_MFR = 4
CPUS_PER_CHILD_NO_MFR = 2
RAM_PER_CHILD_GB_MFR = 8.0
RAM_PER_CHILD_GB_NO_MFR = 4.0
DEFAULT_MEMORY_SAFETY = 0.85
DEFAULT_MFR_MAX_CPU_PERCENT = 90
GIB = 1024 ** 3


@dataclass(frozen=True)
class PlanSettings:
    """The user's wishes. None means "work it out from the host" (documented defaults in the module docstring)."""

    concurrency: Optional[int] = None
    max_concurrency: Optional[int] = None
    ram_per_child_gb: Optional[float] = None
    mfr: bool = True
    affinity: bool = True
    memory_safety: float = DEFAULT_MEMORY_SAFETY
    cpus_per_child: Optional[int] = None
    mfr_max_cpu_percent: int = DEFAULT_MFR_MAX_CPU_PERCENT  # for aerender's `-mfr ON <N>`

    def __post_init__(self) -> None:
        for name in ("concurrency", "max_concurrency", "cpus_per_child"):
            value = getattr(self, name)
            if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 1):
                raise StmpoError(f"{name} must be a whole number >= 1, got {value!r}")
        if self.ram_per_child_gb is not None and not (
                isinstance(self.ram_per_child_gb, (int, float)) and self.ram_per_child_gb > 0
                and math.isfinite(self.ram_per_child_gb)):
            raise StmpoError(f"ram_per_child_gb must be a number > 0, got {self.ram_per_child_gb!r}")
        if not (isinstance(self.memory_safety, (int, float)) and 0 < self.memory_safety <= 1):
            raise StmpoError(f"memory_safety must be in (0, 1], got {self.memory_safety!r}")
        percent = self.mfr_max_cpu_percent
        if isinstance(percent, bool) or not isinstance(percent, int) or not 1 <= percent <= 100:
            raise StmpoError(f"mfr_max_cpu_percent must be a whole number 1..100, got {percent!r}")

    @property
    def effective_cpus_per_child(self) -> int:
        if self.cpus_per_child is not None:
            return self.cpus_per_child
        return CPUS_PER_CHILD_MFR if self.mfr else CPUS_PER_CHILD_NO_MFR

    @property
    def effective_ram_per_child_gb(self) -> float:
        if self.ram_per_child_gb is not None:
            return float(self.ram_per_child_gb)
        return RAM_PER_CHILD_GB_MFR if self.mfr else RAM_PER_CHILD_GB_NO_MFR


@dataclass(frozen=True)
class Plan:
    """How many children run at once, the CPUs of each child slot (None: not pinned), and why."""

    concurrency: int
    cpu_blocks: Optional[Tuple[CpuTuple, ...]]
    explanation: Tuple[str, ...] = ()
    warnings: Tuple[str, ...] = field(default_factory=tuple)

    def to_dict(self) -> Dict[str, Any]:
        return {
            "concurrency": self.concurrency,
            "cpu_blocks": None if self.cpu_blocks is None else [list(b) for b in self.cpu_blocks],
            "explanation": list(self.explanation),
            "warnings": list(self.warnings),
        }


def _gib(n_bytes: int) -> str:
    return f"{n_bytes / GIB:.1f} GiB"


def make_plan(frames: Sized, settings: PlanSettings, host: Host, min_chunk: int = 1) -> Plan:
    """Choose the concurrency and the CPU blocks for rendering ``frames`` (a FrameSet; only its size matters)."""
    n_frames = len(frames)
    if n_frames < 1:
        raise StmpoError("nothing to plan: the frame set is empty")
    if isinstance(min_chunk, bool) or not isinstance(min_chunk, int) or min_chunk < 1:
        raise StmpoError(f"min_chunk must be a whole number >= 1, got {min_chunk!r}")
    cpus = max(1, host.logical_cpus)
    lines: List[str] = []
    warnings: List[str] = []
    mfr_word = "MFR on" if settings.mfr else "MFR off"
    per_child = settings.effective_cpus_per_child
    ram_gb = settings.effective_ram_per_child_gb

    cpu_limit = max(1, cpus // per_child)
    lines.append(f"cpu limit: {cpus} logical CPUs / {per_child} per child ({mfr_word}) = {cpu_limit}")
    usable = host.available_memory * settings.memory_safety
    mem_raw = int(math.floor(usable / (ram_gb * GIB)))
    mem_limit = max(1, mem_raw)
    lines.append(f"memory limit: {_gib(host.available_memory)} available x {settings.memory_safety:g} / "
                 f"{ram_gb:.1f} GiB per child = {mem_raw}" + (" -> 1 (at least one child)" if mem_raw < 1 else ""))
    if mem_raw < 1 and settings.concurrency is None:
        warnings.append(f"only {_gib(host.available_memory)} available, less than {ram_gb:.1f} GiB for one child "
                        f"after the {settings.memory_safety:g} safety factor: running 1 child anyway")
    chunk_limit = -(-n_frames // min_chunk)
    lines.append(f"chunk limit: {n_frames} frames / min chunk {min_chunk} = {chunk_limit}")

    if settings.concurrency is not None:
        limits = [settings.concurrency, chunk_limit]
        names = [f"explicit {settings.concurrency}", f"chunks {chunk_limit}"]
        if settings.max_concurrency is not None:
            limits.append(settings.max_concurrency)
            names.append(f"maximum {settings.max_concurrency}")
        concurrency = max(1, min(limits))
        lines.append(f"concurrency = min({', '.join(names)}) = {concurrency}")
        if concurrency > cpu_limit:
            warnings.append(f"{concurrency} children exceed the cpu limit of {cpu_limit} "
                            f"({cpus} CPUs / {per_child} per child, {mfr_word}): children will compete for CPUs")
        if concurrency > mem_raw:
            warnings.append(f"{concurrency} children exceed the memory limit of {max(mem_raw, 0)} "
                            f"({ram_gb:.1f} GiB per child): the host may swap or After Effects may fail")
    else:
        limits = [cpu_limit, mem_limit]
        names = [f"cpu {cpu_limit}", f"memory {mem_limit}"]
        if settings.max_concurrency is not None:
            limits.append(settings.max_concurrency)
            names.append(f"maximum {settings.max_concurrency}")
        limits.append(chunk_limit)
        names.append(f"chunks {chunk_limit}")
        concurrency = max(1, min(limits))
        lines.append(f"concurrency = min({', '.join(names)}) = {concurrency}")

    blocks: Optional[Tuple[CpuTuple, ...]] = None
    if not settings.affinity:
        lines.append("affinity: off (children are not pinned)")
    elif not affinity_support(host.os)[0]:
        why = affinity_support(host.os)[1]
        lines.append(f"affinity: not supported ({why}); children are not pinned")
        warnings.append(f"children run unpinned: {why}")
    else:
        blocks, notes, block_warnings = assign_blocks(concurrency, host)
        lines.extend(notes)
        warnings.extend(block_warnings)
    return Plan(concurrency=concurrency, cpu_blocks=blocks, explanation=tuple(lines), warnings=tuple(warnings))


# --------------------------------------------------------------------------------------------------------------------
# affinity blocks


def apportion(total: int, weights: Sequence[int], minimum: int = 0) -> List[int]:
    """Split ``total`` whole items over ``weights`` proportionally (D'Hondt), each getting at least ``minimum``.

    Each next item goes where the weight per item would stay largest, so equal weights end up differing by at most
    one, and ties go to the earlier index (deterministic plans)."""
    if total < minimum * len(weights):
        raise ValueError("total smaller than the minimums")
    counts = [minimum] * len(weights)
    for _ in range(total - minimum * len(weights)):
        best = max(range(len(weights)), key=lambda i: (weights[i] / (counts[i] + 1), -i))
        counts[best] += 1
    return counts


def _split_evenly(cpus: CpuTuple, parts: int) -> List[CpuTuple]:
    """Cut ``cpus`` into ``parts`` contiguous blocks whose sizes differ by at most one (larger first)."""
    size, extra = divmod(len(cpus), parts)
    blocks = []
    start = 0
    for index in range(parts):
        end = start + size + (1 if index < extra else 0)
        blocks.append(cpus[start:end])
        start = end
    return blocks


def _hard_partitions(host: Host) -> List[List[CpuTuple]]:
    """Domains (node ∩ group) grouped by what a block can never cross: a Windows processor group; else the host."""
    nodes: Topology = host.numa_nodes
    if not host.processor_groups:
        return [list(nodes)]
    partitions: List[List[CpuTuple]] = []
    for group in host.processor_groups:
        members = set(group)
        domains = [tuple(cpu for cpu in node if cpu in members) for node in nodes]
        domains = [d for d in domains if d]
        if domains:
            partitions.append(domains)
    return partitions or [list(nodes)]


def _blocks_in_partition(children: int, domains: List[CpuTuple]) -> Tuple[List[List[CpuTuple]], List[str]]:
    """Blocks for ``children`` inside one partition, listed per domain so the caller can interleave them.

    - at least as many children as domains: children are apportioned to domains by CPU count and each domain is cut
      into that many contiguous blocks, so no block straddles a node;
    - fewer children than domains: each child's fair share is more than a node, so it gets consecutive *whole*
      nodes (the only case where a block straddles nodes);
    - more children than a domain's CPUs: every child of that domain gets the whole domain and the OS shares it
      (pinning each to a single CPU would leave CPUs idle while a child starts up or waits on disk)."""
    notes: List[str] = []
    if children < len(domains):
        per_child = apportion(len(domains), [1] * children, minimum=1)
        blocks: List[List[CpuTuple]] = []
        start = 0
        for count in per_child:
            merged = tuple(sorted(cpu for d in domains[start:start + count] for cpu in d))
            blocks.append([merged])
            start += count
        return blocks, notes
    counts = apportion(children, [len(d) for d in domains], minimum=1)
    per_domain = []
    for domain, count in zip(domains, counts):
        if count <= len(domain):
            per_domain.append(_split_evenly(domain, count))
        else:
            per_domain.append([domain] * count)
            notes.append(f"shared: {count} children on the {len(domain)} CPUs {format_cpus(domain)}")
    return per_domain, notes


def _interleave(lists: List[List[CpuTuple]]) -> List[CpuTuple]:
    """Round-robin over domains so slots 0, 1, 2... land on different nodes (fewer busy slots still spread out)."""
    result: List[CpuTuple] = []
    for index in range(max((len(x) for x in lists), default=0)):
        result.extend(x[index] for x in lists if index < len(x))
    return result


def assign_blocks(children: int, host: Host) -> Tuple[Tuple[CpuTuple, ...], List[str], List[str]]:
    """One CPU block per child slot: balanced over NUMA nodes, never straddling a node (or Windows processor group)
    unless a child's share of the host is bigger than a node. Returns (blocks, explanation lines, warnings)."""
    if children < 1:
        raise StmpoError(f"cannot assign CPUs to {children} children")
    partitions = _hard_partitions(host)
    warnings: List[str] = []
    notes: List[str] = []
    sizes = [sum(len(d) for d in p) for p in partitions]
    if children < len(partitions):
        # Windows only: a child's affinity names one processor group, so give each child a whole group, largest first.
        order = sorted(range(len(partitions)), key=lambda i: (-sizes[i], i))[:children]
        chosen = sorted(order)
        idle = sum(sizes[i] for i in range(len(partitions)) if i not in chosen)
        warnings.append(f"{children} children for {len(partitions)} processor groups: an affinity mask covers one "
                        f"group, so {idle} CPUs stay idle; use at least {len(partitions)} children")
        partitions = [partitions[i] for i in chosen]
        counts = [1] * children
    else:
        counts = apportion(children, sizes, minimum=1)
    per_domain: List[List[CpuTuple]] = []
    for partition, count in zip(partitions, counts):
        lists, partition_notes = _blocks_in_partition(count, partition)
        per_domain.extend(lists)
        notes.extend(partition_notes)
    blocks = tuple(_interleave(per_domain))
    total_cpus = len({cpu for node in host.numa_nodes for cpu in node})
    kind = "processor group/NUMA domains" if host.processor_groups else "NUMA nodes"
    domains = sum(len(p) for p in _hard_partitions(host))
    lines = [f"affinity: {children} blocks over {domains} {kind} ({total_cpus} CPUs)"]
    if children > total_cpus:
        warnings.append(f"{children} children on {total_cpus} CPUs: children share CPUs")
    lines.extend(notes)
    node_of = {cpu: index for index, node in enumerate(host.numa_nodes) for cpu in node}
    for slot, block in enumerate(blocks):
        nodes = sorted({node_of[cpu] for cpu in block if cpu in node_of})
        where = f"node {nodes[0]}" if len(nodes) == 1 else f"nodes {format_cpus(nodes)}"
        lines.append(f"child slot {slot}: CPUs {format_cpus(block)} ({where})")
    return blocks, lines, warnings
