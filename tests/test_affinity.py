"""CPU pinning: a real child pinned on Linux, and the Windows group/mask logic computed from data."""
from __future__ import annotations

import os
import subprocess
import sys

import pytest

from stmpo import affinity
from stmpo.affinity import affinity_support, pinned_command, pinning_preexec, windows_group_affinity
from stmpo.errors import StmpoError
from stmpo.host import default_processor_groups, windows_groups_from_sizes

REPORT_AFFINITY = "import os; print(sorted(os.sched_getaffinity(0)))"
linux_only = pytest.mark.skipif(not hasattr(os, "sched_setaffinity"), reason="needs os.sched_setaffinity (Linux)")


def allowed_cpus():
    return sorted(os.sched_getaffinity(0))


@linux_only
def test_preexec_really_pins_the_child():
    target = [allowed_cpus()[-1]]
    out = subprocess.run([sys.executable, "-c", REPORT_AFFINITY], capture_output=True, text=True, check=True,
                         preexec_fn=pinning_preexec(target)).stdout
    assert out.strip() == str(target)
    assert allowed_cpus() != [] and os.sched_getaffinity(0) == set(allowed_cpus())  # the parent is untouched


@linux_only
def test_pinning_is_inherited_by_grandchildren():
    target = [allowed_cpus()[0]]
    code = ("import subprocess, sys; "
            f"print(subprocess.run([sys.executable, '-c', {REPORT_AFFINITY!r}], capture_output=True, "
            "text=True).stdout.strip())")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         preexec_fn=pinning_preexec(target)).stdout
    assert out.strip() == str(target)


@linux_only
def test_failed_pin_warns_on_stderr_and_child_still_runs():
    impossible = [max(4096, os.cpu_count() * 8)]  # a CPU this machine does not have: EINVAL
    proc = subprocess.run([sys.executable, "-c", REPORT_AFFINITY], capture_output=True, text=True,
                          preexec_fn=pinning_preexec(impossible))
    assert proc.returncode == 0
    assert proc.stdout.strip() == str(allowed_cpus())
    assert f"could not pin to CPUs {impossible[0]}" in proc.stderr and "running unpinned" in proc.stderr


@linux_only
def test_launcher_pins_then_execs():
    target = [allowed_cpus()[-1]]
    argv = pinned_command(target, [sys.executable, "-c", REPORT_AFFINITY])
    assert argv[:5] == [sys.executable, "-m", "stmpo.affinity", "--cpus", str(target[0])]
    out = subprocess.run(argv, capture_output=True, text=True, check=True).stdout
    assert out.strip() == str(target)


@linux_only
def test_launcher_rejects_bad_usage():
    proc = subprocess.run([sys.executable, "-m", "stmpo.affinity", "--cpus", "3-1", "--", "true"],
                          capture_output=True, text=True)
    assert proc.returncode == 2 and "bad --cpus" in proc.stderr


def test_nothing_to_pin_gives_none_and_unchanged_command():
    assert pinning_preexec(None) is None
    assert pinned_command(None, ["aerender", "-project", "p"]) == ["aerender", "-project", "p"]


def test_no_affinity_api_gives_none(monkeypatch):
    monkeypatch.delattr(os, "sched_setaffinity", raising=False)
    assert pinning_preexec([0]) is None
    assert pinned_command([0], ["x"]) == ["x"]


@pytest.mark.parametrize("bad", [[], [-1], ["0"], [True]])
def test_bad_cpu_blocks_are_stmpo_errors(bad):
    with pytest.raises(StmpoError):
        affinity._cpu_set(bad)


def test_affinity_support_per_os():
    assert affinity_support("linux")[0] is True
    assert affinity_support("windows")[0] is True and "not run" in affinity_support("windows")[1]
    supported, why = affinity_support("mac")
    assert supported is False and "macOS" in why
    assert affinity_support("plan9")[0] is False


def test_windows_group_mask_for_blocks_in_each_group():
    groups = windows_groups_from_sizes([64, 64])
    assert windows_group_affinity(range(4), groups) == (0, 0b1111)
    assert windows_group_affinity([63], groups) == (0, 1 << 63)
    assert windows_group_affinity(range(64, 68), groups) == (1, 0b1111)
    assert windows_group_affinity([127], groups) == (1, 1 << 63)
    assert windows_group_affinity(range(64), groups) == (0, (1 << 64) - 1)


def test_windows_group_mask_uses_position_inside_uneven_groups():
    nodes = (tuple(range(48)), tuple(range(48, 96)))  # two 48-CPU nodes -> two 48-CPU groups, not 64 + 32
    groups = default_processor_groups(nodes)
    assert [len(g) for g in groups] == [48, 48]
    assert windows_group_affinity([48, 50], groups) == (1, 0b101)


def test_windows_block_spanning_groups_or_outside_is_an_error():
    groups = windows_groups_from_sizes([64, 64])
    with pytest.raises(StmpoError, match="spans processor groups"):
        windows_group_affinity([63, 64], groups)
    with pytest.raises(StmpoError, match="no processor group"):
        windows_group_affinity([500], groups)


def test_windows_code_is_importable_but_not_called_here():
    # the ctypes paths only load kernel32 when called; importing them on Linux must work
    from stmpo.proc import windows

    assert callable(windows.Kernel32Calls.set_group_affinity) and callable(windows.Kernel32Calls.resume_process)
    assert windows.JOB_OBJECT_GROUP_INFORMATION_EX == 14
