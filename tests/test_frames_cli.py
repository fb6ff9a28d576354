"""`aefarm frames`: output of each format, exit codes and the one-line error shape."""
import json
import os

import pytest

from aefarm_common import exitcodes

BATCH = ("AWS_BATCH_JOB_ARRAY_INDEX", "AWS_BATCH_JOB_ARRAY_SIZE")


def _env(**extra):
    env = {k: v for k, v in os.environ.items() if k not in BATCH}
    env.update(extra)
    return env


def _one_error_line(proc):
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert proc.stdout == ""
    return lines[0]


def test_issue_example_accsyn_and_chunks(aefarm):
    assert aefarm("frames", "1-100x5, 200 -3--1", check=0).stdout == "-3--1,1-96x5,200\n"
    proc = aefarm("frames", "1-100x5, 200 -3--1", "--chunks", "3", check=0)
    assert proc.stdout.splitlines() == ["-3--1,1-21x5", "26-61x5", "66-96x5,200"]
    assert proc.stderr == ""


def test_openjd_and_list_formats(aefarm):
    assert aefarm("frames", "10-1:-3", "--format", "openjd", check=0).stdout == "1-10:3\n"
    assert aefarm("frames", "1-10", "--chunk-size", "4", "--format", "openjd", check=0).stdout == "1-4\n5-7\n8-10\n"
    assert aefarm("frames", "1-7x3,-2", "--format", "list", check=0).stdout == "-2\n1\n4\n7\n"


def test_json_of_a_huge_range_has_counts_not_frames(aefarm):
    proc = aefarm("frames", "0-999999999", "--chunks", "7", "--format", "json", check=0)
    doc = json.loads(proc.stdout)
    assert (doc["spec"], doc["count"], doc["first"], doc["last"]) == ("0-999999999", 10**9, 0, 999999999)
    assert len(doc["chunks"]) == 7
    assert sum(c["count"] for c in doc["chunks"]) == 10**9
    assert {c["count"] for c in doc["chunks"]} == {142857142, 142857143}
    assert doc["chunks"][0] == {"spec": "0-142857142", "openjd": "0-142857142", "count": 142857143,
                                "first": 0, "last": 142857142}
    assert len(proc.stdout) < 2000


def test_json_without_chunking_has_no_chunks_key(aefarm):
    doc = json.loads(aefarm("frames", "5", "--format", "json", check=0).stdout)
    assert doc == {"spec": "5", "openjd": "5", "count": 1, "first": 5, "last": 5}


@pytest.mark.parametrize("argv", [
    ["frames", "-10--1"],
    ["frames", "--", "-10--1"],
    ["frames", "-10--6,-5--1"],
])
def test_negative_spec_as_positional(aefarm, argv):
    assert aefarm(*argv, check=0).stdout == "-10--1\n"


def test_negative_spec_with_options_after_it(aefarm):
    assert aefarm("frames", "-10--1", "--chunks", "2", check=0).stdout == "-10--6\n-5--1\n"
    assert aefarm("frames", "--chunks", "2", "--", "-10--1", check=0).stdout == "-10--6\n-5--1\n"
    assert aefarm("frames", "-5", "--format", "list", check=0).stdout == "-5\n"


@pytest.mark.parametrize("spec, column", [
    ("1-10x0", 6), ("1-", 3), ("5-1", 3), ("1-10x-2", 6), ("abc", 1), ("99999999999999999999", 1), (" ", 2),
])
def test_bad_spec_exit_2_one_line(aefarm, spec, column):
    line = _one_error_line(aefarm("frames", spec, check=exitcodes.BAD_INPUT))
    assert line.startswith(f"aefarm: error: bad frame spec {spec!r}: ")
    assert line.endswith(f"at column {column}")
    assert "Traceback" not in line


def test_exact_message_for_the_issue_example(aefarm):
    proc = aefarm("frames", "1-10x0", check=exitcodes.BAD_INPUT)
    assert proc.stderr == "aefarm: error: bad frame spec '1-10x0': step must be >= 1 at column 6\n"


@pytest.mark.parametrize("argv, needle", [
    (["frames", "1-10", "--chunks", "2", "--chunk-size", "3"], "not allowed with"),
    (["frames", "1-10", "--chunks", "0"], "chunk count must be >= 1"),
    (["frames", "1-10", "--chunk-size", "x"], "invalid int value"),
    (["frames", "1-10", "--array-index", "1"], "must be given together"),
    (["frames", "1-10", "--array-index", "3", "--array-size", "3"], "outside 0..2"),
    (["frames", "1-10", "--array-index", "0", "--array-size", "2", "--aws-batch"], "cannot be combined"),
    (["frames", "1-10", "--format", "xml"], "invalid choice"),
    (["frames", "0-1000000", "--format", "list"], "refusing to list 1000001 frames"),
    (["frames", "1-10", "--chunks", "2", "--format", "list"], "not chunks"),
    (["frames"], "SPEC"),
])
def test_bad_arguments_exit_2_one_line(aefarm, argv, needle):
    line = _one_error_line(aefarm(*argv, check=exitcodes.BAD_INPUT, env=_env()))
    assert needle in line


def test_list_accepts_exactly_the_limit(aefarm):
    proc = aefarm("frames", "1-1000000", "--format", "list", check=0)
    assert proc.stdout.count("\n") == 1_000_000


def test_explicit_array_slices_partition(aefarm):
    shares = [aefarm("frames", "1-10", "--array-index", str(i), "--array-size", "3", check=0).stdout
              for i in range(3)]
    assert shares == ["1-4\n", "5-7\n", "8-10\n"]
    assert aefarm("frames", "1-2", "--array-index", "2", "--array-size", "3", check=0).stdout == ""


def test_aws_batch_from_environment(aefarm):
    env = _env(AWS_BATCH_JOB_ARRAY_INDEX="1", AWS_BATCH_JOB_ARRAY_SIZE="3")
    assert aefarm("frames", "1-10", "--aws-batch", check=0, env=env).stdout == "5-7\n"
    doc = json.loads(aefarm("frames", "1-10", "--aws-batch", "--chunk-size", "2", "--format", "json",
                            check=0, env=env).stdout)
    assert doc["array"] == {"index": 1, "size": 3}
    assert [c["spec"] for c in doc["chunks"]] == ["5-6", "7"]


@pytest.mark.parametrize("extra, needle", [
    ({}, "AWS_BATCH_JOB_ARRAY_INDEX is not set"),
    ({"AWS_BATCH_JOB_ARRAY_INDEX": "0"}, "AWS_BATCH_JOB_ARRAY_SIZE is not set"),
    ({"AWS_BATCH_JOB_ARRAY_INDEX": "3", "AWS_BATCH_JOB_ARRAY_SIZE": "3"}, "inconsistent with AWS_BATCH_JOB_ARRAY_SIZE=3"),
    ({"AWS_BATCH_JOB_ARRAY_INDEX": "one", "AWS_BATCH_JOB_ARRAY_SIZE": "3"}, "is not an integer"),
])
def test_aws_batch_missing_or_inconsistent(aefarm, extra, needle):
    line = _one_error_line(aefarm("frames", "1-10", "--aws-batch", check=exitcodes.BAD_INPUT, env=_env(**extra)))
    assert line.startswith("aefarm: error: ") and needle in line


def test_debug_shows_traceback_for_bad_spec(aefarm):
    proc = aefarm("--debug", "frames", "1-10x0", check=exitcodes.BAD_INPUT)
    assert "Traceback" in proc.stderr and "FrameSpecError" in proc.stderr


def test_help_documents_formats(aefarm):
    out = aefarm("frames", "--help", check=0).stdout
    for word in ("--chunk-size", "--chunks", "--array-index", "--aws-batch", "accsyn", "openjd", "json"):
        assert word in out
