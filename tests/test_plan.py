"""Planning: concurrency arithmetic and CPU blocks, on hosts described as data (pure, no processes)."""
from __future__ import annotations

import json
from collections import Counter

import pytest
from hypothesis import given
from hypothesis import strategies as st

from stmpo.errors import StmpoError
from stmpo.host import (
    Host,
    cgroup_memory,
    cpus_from_group_mask,
    default_processor_groups,
    detect_host,
    format_cpus,
    load_numa_map,
    parse_cpulist,
    windows_groups_from_sizes,
)
from stmpo.plan import PlanSettings, apportion, assign_blocks, make_plan

GIB = 1024 ** 3


def host(nodes, available_gib=1000.0, os_name="linux", groups=None):
    nodes = tuple(tuple(n) for n in nodes)
    return Host(os=os_name, logical_cpus=sum(len(n) for n in nodes), total_memory=int(available_gib * GIB) * 2,
                available_memory=int(available_gib * GIB), numa_nodes=nodes, processor_groups=groups)


def two_nodes(per_node=32, **kw):
    return host([range(per_node), range(per_node, 2 * per_node)], **kw)


FRAMES = range(1, 241)


# --------------------------------------------------------------------------------------------------------------------
# concurrency arithmetic

def test_cpu_bound_mfr_on_uses_4_cpus_per_child_and_explains_it():
    plan = make_plan(FRAMES, PlanSettings(mfr=True), two_nodes())
    assert plan.concurrency == 16
    assert "cpu limit: 64 logical CPUs / 4 per child (MFR on) = 16" in plan.explanation
    assert plan.explanation[3] == "concurrency = min(cpu 16, memory 106, chunks 240) = 16"


def test_cpu_bound_mfr_off_uses_2_cpus_per_child():
    plan = make_plan(FRAMES, PlanSettings(mfr=False), two_nodes())
    assert plan.concurrency == 32
    assert "cpu limit: 64 logical CPUs / 2 per child (MFR off) = 32" in plan.explanation


def test_memory_bound_uses_available_memory_and_safety():
    plan = make_plan(FRAMES, PlanSettings(mfr=False, ram_per_child_gb=8.0), host([range(128)], available_gib=200))
    # cpu 64, memory floor(200 * 0.85 / 8) = 21
    assert plan.concurrency == 21
    assert "memory limit: 200.0 GiB available x 0.85 / 8.0 GiB per child = 21" in plan.explanation


def test_too_little_memory_still_runs_one_child_with_warning():
    plan = make_plan(FRAMES, PlanSettings(), two_nodes(available_gib=2))
    assert plan.concurrency == 1
    assert any("running 1 child anyway" in w for w in plan.warnings)


def test_maximum_caps_auto():
    plan = make_plan(FRAMES, PlanSettings(max_concurrency=5), two_nodes())
    assert plan.concurrency == 5
    assert "concurrency = min(cpu 16, memory 106, maximum 5, chunks 240) = 5" in plan.explanation


def test_never_more_children_than_chunks():
    plan = make_plan(range(10), PlanSettings(), two_nodes(), min_chunk=4)
    assert plan.concurrency == 3
    assert "chunk limit: 10 frames / min chunk 4 = 3" in plan.explanation
    assert make_plan(range(1), PlanSettings(concurrency=8), two_nodes()).concurrency == 1


def test_explicit_concurrency_is_honoured_with_warnings_beyond_limits():
    plan = make_plan(FRAMES, PlanSettings(concurrency=40, ram_per_child_gb=100), two_nodes(available_gib=200))
    assert plan.concurrency == 40
    assert "concurrency = min(explicit 40, chunks 240) = 40" in plan.explanation
    assert any("cpu limit of 16" in w for w in plan.warnings)
    assert any("memory limit of 1" in w for w in plan.warnings)
    assert make_plan(FRAMES, PlanSettings(concurrency=40, max_concurrency=8), two_nodes()).concurrency == 8
    lone = make_plan(FRAMES, PlanSettings(concurrency=1), two_nodes(available_gib=1))
    assert lone.concurrency == 1 and any("memory limit of 0" in w for w in lone.warnings)


def test_cpus_per_child_override():
    assert make_plan(FRAMES, PlanSettings(cpus_per_child=8), two_nodes()).concurrency == 8


def test_one_cpu_host():
    one = host([[0]], available_gib=64)
    plan = make_plan(FRAMES, PlanSettings(mfr=False), one)
    assert plan.concurrency == 1 and plan.cpu_blocks == ((0,),)
    plan = make_plan(FRAMES, PlanSettings(concurrency=3), one)
    assert plan.cpu_blocks == ((0,), (0,), (0,))
    assert any("share CPUs" in w for w in plan.warnings)


def test_more_children_than_cpus_share_whole_nodes():
    plan = make_plan(FRAMES, PlanSettings(concurrency=6), host([[0, 1], [2, 3]]))
    assert sorted(plan.cpu_blocks) == [(0, 1)] * 3 + [(2, 3)] * 3
    assert any("6 children on 4 CPUs" in w for w in plan.warnings)


def test_affinity_off_and_macos_give_no_blocks():
    assert make_plan(FRAMES, PlanSettings(affinity=False), two_nodes()).cpu_blocks is None
    mac = make_plan(FRAMES, PlanSettings(), two_nodes(os_name="mac"))
    assert mac.cpu_blocks is None
    assert [w for w in mac.warnings if "unpinned" in w] == [
        "children run unpinned: macOS has no API to pin a process to CPUs (thread affinity tags are hints only)"]


@pytest.mark.parametrize("kwargs", [dict(concurrency=0), dict(max_concurrency=-1), dict(ram_per_child_gb=0),
                                    dict(memory_safety=1.5), dict(cpus_per_child=True), dict(mfr_max_cpu_percent=101),
                                    dict(concurrency=2.5)])
def test_bad_settings_are_stmpo_errors(kwargs):
    with pytest.raises(StmpoError):
        PlanSettings(**kwargs)


def test_empty_frames_and_bad_min_chunk():
    with pytest.raises(StmpoError, match="empty"):
        make_plan([], PlanSettings(), two_nodes())
    with pytest.raises(StmpoError, match="min_chunk"):
        make_plan(FRAMES, PlanSettings(), two_nodes(), min_chunk=0)


def test_works_with_frameset_when_available():
    frames_mod = pytest.importorskip("stmpo.frames")
    frames = frames_mod.FrameSet.parse("1-100x5")
    assert make_plan(frames, PlanSettings(), two_nodes(), min_chunk=5).concurrency == 4


# --------------------------------------------------------------------------------------------------------------------
# blocks

def test_blocks_balanced_across_two_nodes_and_interleaved():
    plan = make_plan(FRAMES, PlanSettings(), two_nodes())
    blocks = plan.cpu_blocks
    assert len(blocks) == 16 and all(len(b) == 4 for b in blocks)
    assert blocks[0] == (0, 1, 2, 3) and blocks[1] == (32, 33, 34, 35)
    assert sorted(c for b in blocks for c in b) == list(range(64))
    assert "child slot 1: CPUs 32-35 (node 1)" in plan.explanation


def test_one_child_straddles_nodes_only_when_its_share_is_larger_than_a_node():
    blocks, lines, _ = assign_blocks(1, two_nodes())
    assert blocks == (tuple(range(64)),) and lines[-1] == "child slot 0: CPUs 0-63 (nodes 0-1)"
    blocks, _, _ = assign_blocks(2, host([range(8), range(8, 16), range(16, 24), range(24, 32)]))
    assert sorted(blocks) == [tuple(range(16)), tuple(range(16, 32))]
    blocks, _, _ = assign_blocks(3, two_nodes())  # 3 children: 2 on one node, 1 on the other, none straddling
    assert sorted(len(b) for b in blocks) == [16, 16, 32]
    assert all(set(b) <= set(range(32)) or set(b) <= set(range(32, 64)) for b in blocks)


def test_windows_blocks_never_straddle_processor_groups():
    nodes = [range(i, i + 32) for i in range(0, 128, 32)]
    win = host(nodes, os_name="windows", groups=default_processor_groups(tuple(tuple(n) for n in nodes)))
    assert [len(g) for g in win.processor_groups] == [64, 64]
    blocks, _, warnings = assign_blocks(1, win)
    assert blocks == (tuple(range(64)),) and "stay idle" in warnings[0]
    blocks, _, _ = assign_blocks(2, win)
    assert sorted(blocks) == [tuple(range(64)), tuple(range(64, 128))]
    # a node bigger than a group is split across groups, and blocks follow the groups
    big = host([range(80)], os_name="windows", groups=default_processor_groups((tuple(range(80)),)))
    blocks, _, _ = assign_blocks(2, big)
    assert sorted(blocks) == [tuple(range(64)), tuple(range(64, 80))]


def test_apportion_is_proportional_and_keeps_minimums():
    assert apportion(16, [32, 32], minimum=1) == [8, 8]
    assert apportion(5, [60, 4], minimum=1) == [4, 1]
    assert apportion(3, [1, 1, 1, 1]) == [1, 1, 1, 0]


topologies = st.lists(st.integers(min_value=1, max_value=12), min_size=1, max_size=5).map(
    lambda sizes: [list(range(sum(sizes[:i]), sum(sizes[:i + 1]))) for i in range(len(sizes))])


@given(nodes=topologies, children=st.integers(min_value=1, max_value=40))
def test_block_laws(nodes, children):
    h = host(nodes)
    blocks, lines, _ = assign_blocks(children, h)
    all_cpus = set(range(h.logical_cpus))
    node_of = {cpu: i for i, node in enumerate(nodes) for cpu in node}
    assert len(blocks) == children  # every child slot gets a block
    assert all(blocks) and set().union(*blocks) == all_cpus  # every CPU is used
    share = h.logical_cpus / children
    for block in blocks:
        if share <= min(len(n) for n in nodes) or children >= len(nodes):
            assert len({node_of[c] for c in block}) == 1  # no straddling unless the share exceeds a node
        else:  # a straddling block takes whole nodes
            for node in {node_of[c] for c in block}:
                assert set(nodes[node]) <= set(block)
    if children <= h.logical_cpus and children >= len(nodes):
        assert sum(len(b) for b in blocks) == h.logical_cpus  # disjoint
    load = Counter()
    for block in blocks:  # a child on a block of n CPUs loads each of them with 1/n
        for cpu in block:
            load[cpu] += 1 / len(block)
    assert max(load.values()) - min(load.values()) <= 1 + 1e-9  # CPU usage balanced
    if len({len(n) for n in nodes}) == 1 and children >= len(nodes):
        per_node = Counter(node_of[b[0]] for b in blocks)
        assert max(per_node.values()) - min(per_node.values()) <= 1  # children balanced over equal nodes
    assert len([line for line in lines if line.startswith("child slot")]) == children


@given(sizes=st.lists(st.integers(min_value=1, max_value=96), min_size=1, max_size=4),
       children=st.integers(min_value=1, max_value=12))
def test_windows_blocks_stay_inside_one_processor_group(sizes, children):
    nodes = tuple(tuple(range(sum(sizes[:i]), sum(sizes[:i + 1]))) for i in range(len(sizes)))
    groups = default_processor_groups(nodes)
    assert all(len(g) <= 64 for g in groups)
    assert sorted(c for g in groups for c in g) == list(range(sum(sizes)))
    blocks, _, warnings = assign_blocks(children, host(nodes, os_name="windows", groups=groups))
    assert len(blocks) == children
    group_of = {cpu: i for i, g in enumerate(groups) for cpu in g}
    assert all(len({group_of[c] for c in b}) == 1 for b in blocks)
    if children >= len(groups):
        assert set().union(*blocks) == set(range(sum(sizes)))
    else:
        assert any("stay idle" in w for w in warnings)


# --------------------------------------------------------------------------------------------------------------------
# host data

def test_cpulist_round_trip():
    assert parse_cpulist("0-3,8-11,16\n") == (0, 1, 2, 3, 8, 9, 10, 11, 16)
    assert parse_cpulist("") == ()
    assert format_cpus([3, 0, 1, 2, 8]) == "0-3,8"
    with pytest.raises(ValueError):
        parse_cpulist("3-1")


def test_windows_group_helpers():
    groups = windows_groups_from_sizes([64, 32])
    assert groups[1][0] == 64 and len(groups[1]) == 32
    assert cpus_from_group_mask(1, 0b101, groups) == (64, 66)
    with pytest.raises(ValueError):
        windows_groups_from_sizes([65])


@pytest.mark.parametrize("payload", [{"nodes": [[0, 1], [2, 3]]}, [[3, 2], [0, 1]]])
def test_load_numa_map_accepts_both_shapes(tmp_path, payload):
    path = tmp_path / "numa.json"
    path.write_text(json.dumps(payload))
    nodes = load_numa_map(path)
    assert sorted(nodes) == [(0, 1), (2, 3)]


@pytest.mark.parametrize("text, message", [
    ("{", "invalid JSON"), ('{"groups": []}', '"nodes"'), ("[]", "non-empty list"), ("[[0], []]", "node 1"),
    ('[[0, "1"]]', "'1'"), ("[[0, true]]", "True"), ("[[0, -1]]", "-1"), ("[[0, 1], [1]]", "CPU 1 appears in nodes 0 and 1"),
])
def test_load_numa_map_rejects_bad_maps_in_one_line(tmp_path, text, message):
    path = tmp_path / "numa.json"
    path.write_text(text)
    with pytest.raises(StmpoError) as info:
        load_numa_map(path)
    assert message in str(info.value) and str(path) in str(info.value) and "\n" not in str(info.value)


def test_load_numa_map_missing_file(tmp_path):
    with pytest.raises(StmpoError, match="cannot read"):
        load_numa_map(tmp_path / "nope.json")


def test_with_numa_nodes_replaces_topology():
    h = host([range(4)]).with_numa_nodes(((0, 1), (2, 3), (4, 5)))
    assert h.logical_cpus == 6 and len(h.numa_nodes) == 3


def test_detect_host_reads_linux_sysfs_tree(tmp_path, monkeypatch):
    for index, cpus in ((0, ""), (2, "1,5"), (10, "0,4")):
        folder = tmp_path / "devices" / "system" / "node" / f"node{index}"
        folder.mkdir(parents=True)
        (folder / "cpulist").write_text(cpus + "\n")
    monkeypatch.setattr("os.sched_getaffinity", lambda pid: {0, 1, 2, 3}, raising=False)
    detected = detect_host(os_name="linux", sys_root=str(tmp_path))
    # node0 holds no CPU (memory only) and is dropped; node10 sorts after node2 numerically; CPUs 4 and 5 are outside
    # this process's cpuset, so they are not planned for
    assert detected.numa_nodes == ((1,), (0,))
    assert detected.logical_cpus == 2
    assert detected.available_memory > 0 and detected.total_memory >= detected.available_memory


def test_detect_host_falls_back_to_one_node(tmp_path):
    detected = detect_host(os_name="linux", sys_root=str(tmp_path / "missing"))
    assert len(detected.numa_nodes) == 1 and detected.logical_cpus == len(detected.numa_nodes[0]) >= 1
    win = detect_host(os_name="windows", sys_root=str(tmp_path))
    assert win.processor_groups is not None and win.processor_groups[0] == win.numa_nodes[0]
    mac = detect_host(os_name="mac")
    assert mac.os == "mac" and mac.logical_cpus >= 1 and mac.processor_groups is None


def test_cgroup_memory_limit_caps_detected_memory(tmp_path):
    cgroup = tmp_path / "fs" / "cgroup"
    cgroup.mkdir(parents=True)
    (cgroup / "memory.max").write_text(f"{4 * GIB}\n")
    (cgroup / "memory.current").write_text(f"{1 * GIB}\n")
    detected = detect_host(os_name="linux", sys_root=str(tmp_path))
    assert detected.total_memory == 4 * GIB
    assert detected.available_memory <= 3 * GIB
    (cgroup / "memory.max").write_text("max\n")
    assert detect_host(os_name="linux", sys_root=str(tmp_path)).total_memory > 0
    assert cgroup_memory(str(tmp_path)) == (None, None)


def test_cgroup_v1_limit_of_own_group_or_parent(tmp_path, monkeypatch):
    from stmpo import host as host_mod
    monkeypatch.setattr(host_mod, "_own_cgroup_paths", lambda: {"memory": "farm/slot1"})
    memory = tmp_path / "fs" / "cgroup" / "memory"
    (memory / "farm" / "slot1").mkdir(parents=True)
    (memory / "memory.limit_in_bytes").write_text("9223372036854771712\n")  # root: unlimited
    (memory / "farm" / "memory.limit_in_bytes").write_text(f"{6 * GIB}\n")
    (memory / "farm" / "memory.usage_in_bytes").write_text(f"{2 * GIB}\n")
    (memory / "farm" / "slot1" / "memory.limit_in_bytes").write_text(f"{8 * GIB}\n")
    assert cgroup_memory(str(tmp_path)) == (6 * GIB, 2 * GIB)
