"""FrameSet: every grammar form, every bad spec, and the laws (round trips, partitions, set algebra)."""
import pytest
from hypothesis import given
from hypothesis import strategies as st

from stmpo.errors import FrameSpecError
from stmpo.frames import FrameSet, aws_batch_slice_from_env
from stmpo.frames_runs import Run
from stmpo.frames_runs import canonical as _canonical
from stmpo.frames_spec import INT64_MAX

F = FrameSet.parse


# ------------------------------------------------------------------------------------------------------ grammar
@pytest.mark.parametrize("spec, frames", [
    ("5", [5]),
    ("  5  ", [5]),
    ("-5", [-5]),
    ("0", [0]),
    ("1-5", [1, 2, 3, 4, 5]),
    ("7-7", [7]),
    ("1-10x3", [1, 4, 7, 10]),
    ("1-11x3", [1, 4, 7, 10]),
    ("1-10X5", [1, 6]),
    ("-10--7", [-10, -9, -8, -7]),
    ("-3-2", [-3, -2, -1, 0, 1, 2]),
    ("-20--10x4", [-20, -16, -12]),
    ("1,3,5", [1, 3, 5]),
    ("1 3 5", [1, 3, 5]),
    ("1 , 3,\t5", [1, 3, 5]),
    ("1-100x5, 200 -3--1", [-3, -2, -1] + list(range(1, 101, 5)) + [200]),
    ("1-100:5", list(range(1, 101, 5))),
    ("10-1:-3", [1, 4, 7, 10]),
    ("10-2:-3", [4, 7, 10]),
    ("-1--10:-3", [-10, -7, -4, -1]),
    ("1-5:1", [1, 2, 3, 4, 5]),
    ("5-5:-1", [5]),
    ("1-3,10-12:2", [1, 2, 3, 10, 12]),
    ("1-10,5-15", list(range(1, 16))),          # overlaps are a union
    ("5,1,3", [1, 3, 5]),                       # any order
    ("1-10x2,2-10x2", list(range(1, 11))),
])
def test_parse_grammar(spec, frames):
    fs = F(spec)
    assert list(fs) == frames
    assert len(fs) == len(frames)
    assert fs == FrameSet.from_frames(frames)


@pytest.mark.parametrize("spec, column, why", [
    ("", 1, "no frames given"),
    ("   ", 4, "no frames given"),
    ("1-", 3, "expected a frame number after '-'"),
    ("--", 2, "expected a frame number"),
    ("5-1", 3, "range end 1 is before its start 5"),
    ("1-10x0", 6, "step must be >= 1"),
    ("1-10x-2", 6, "step must be >= 1"),
    ("1-10:0", 6, "step must not be 0"),
    ("1-10:-2", 6, "goes the wrong way"),
    ("10-1:2", 6, "goes the wrong way"),
    ("abc", 1, "got 'a'"),
    ("1-5,a", 5, "got 'a'"),
    ("1-10y2", 5, "unexpected character 'y'"),
    ("12b", 3, "unexpected character 'b'"),
    ("1-10x", 6, "expected a step after 'x'"),
    ("1,,2", 3, "empty entry between commas"),
    (",1", 1, "got ','"),
    ("1-10,", 6, "after ','"),
    ("1.5", 2, "unexpected character '.'"),
    ("+5", 1, "got '+'"),
    ("9223372036854775808", 1, "out of the 64-bit range"),
    ("1-99999999999999999999", 3, "out of the 64-bit range"),
    ("-9223372036854775809", 1, "out of the 64-bit range"),
    ("1-10x9223372036854775808", 6, "out of the 64-bit range"),
    ("\u0663", 1, "got"),  # a non-ASCII digit is not a frame number
])
def test_bad_specs_quote_the_spec_and_name_the_column(spec, column, why):
    with pytest.raises(FrameSpecError) as info:
        F(spec)
    message = str(info.value)
    assert message.startswith(f"bad frame spec {spec!r}: ")
    assert message.endswith(f" at column {column}")
    assert why in message
    assert "\n" not in message
    assert info.value.exit_code == 2
    assert isinstance(info.value, ValueError)


def test_example_message_shape():
    with pytest.raises(FrameSpecError, match=r"^bad frame spec '1-10x0': step must be >= 1 at column 6$"):
        F("1-10x0")


def test_int64_limits_are_accepted():
    fs = F(f"{INT64_MAX - 2}-{INT64_MAX}")
    assert len(fs) == 3 and fs.last == INT64_MAX
    assert F(f"{-INT64_MAX - 1}").first == -INT64_MAX - 1


# --------------------------------------------------------------------------------------------------- formatting
@pytest.mark.parametrize("spec, accsyn, openjd", [
    ("1-100x5, 200", "1-96x5,200", "1-96:5,200"),
    ("200 -3--1", "-3--1,200", "-3--1,200"),
    ("1,2,3,4,10", "1-4,10", "1-4,10"),
    ("1-10,11-20", "1-20", "1-20"),
    ("1,3,5,7", "1-7x2", "1-7:2"),
    ("1,5", "1,5", "1,5"),
    ("1,5-7", "1,5-7", "1,5-7"),
    ("10-1:-3", "1-10x3", "1-10:3"),
    ("7-7", "7", "7"),
    ("1-9x2,10-12", "1-7x2,9-12", "1-7:2,9-12"),
])
def test_format_compact(spec, accsyn, openjd):
    fs = F(spec)
    assert fs.to_accsyn() == accsyn == str(fs)
    assert fs.to_openjd() == openjd
    assert F(accsyn) == fs == F(openjd)


def test_empty_set_formats_empty_and_has_no_first():
    empty = F("1-5") - F("1-5")
    assert not empty and len(empty) == 0 and empty.to_accsyn() == "" and list(empty) == []
    with pytest.raises(FrameSpecError):
        empty.first
    with pytest.raises(FrameSpecError):
        empty.last


# ------------------------------------------------------------------------------------------------------- basics
def test_membership_first_last_hash():
    fs = F("1-100x5, 200 -3--1")
    assert 6 in fs and 7 not in fs and -2 in fs and 200 in fs and 201 not in fs and -4 not in fs
    assert "6" not in fs
    assert (fs.first, fs.last) == (-3, 200)
    assert hash(fs) == hash(F("-3,-2,-1,200,1-96x5"))
    assert len({fs, F("-3--1,1-96x5,200")}) == 1


def test_runs_are_canonical_and_members():
    fs = F("1-100x5")
    assert fs.runs == (Run(1, 96, 5),)
    assert all(isinstance(r, Run) and r.step >= 1 and (r.end - r.start) % r.step == 0 for r in fs.runs)


def test_from_range_and_constructor():
    assert FrameSet.from_range(1, 10, 3) == F("1-10x3")
    assert not FrameSet.from_range(5, 1)
    with pytest.raises(FrameSpecError):
        FrameSet.from_range(1, 10, 0)
    assert FrameSet([Run(1, 5, 1), Run(3, 9, 2)]) == F("1-5,7,9")


def test_huge_ranges_stay_runs():
    big = F("0-999999999")
    assert len(big) == 1_000_000_000 and len(big.runs) == 1
    chunks = big.chunks(count=7)
    assert all(len(c.runs) == 1 for c in chunks)
    assert sum(len(c) for c in chunks) == len(big)
    assert len(big.chunks(size=100_000_000)) == 10
    holes = big - F("500-999999999x100000")
    assert len(holes) == 1_000_000_000 - (999_999_999 - 500) // 100000 - 1
    assert len(holes.runs) <= 10_000 + 2  # one dense run between each pair of holes, nothing per frame
    assert len((big - F("1-999999999x2")).runs) == 1  # evens: one run, not half a billion
    assert len((F("0-999999999x2") | F("1-999999999x2")).runs) == 1
    assert len((F("0-999999999x4") & F("0-999999999x6")).runs) == 1
    assert big.slice(3, 10) == F("300000000-399999999")
    assert 999_999_999 in big and -1 not in big


# ------------------------------------------------------------------------------------------------- chunks/slices
def test_chunks_balanced_like_openjd():
    sizes = [len(c) for c in F("1-10").chunks(size=4)]
    assert sizes == [4, 3, 3]  # ceil(10/4) = 3 chunks, balanced, not 4+4+2
    assert [str(c) for c in F("1-10").chunks(count=3)] == ["1-4", "5-7", "8-10"]
    assert [str(c) for c in F("1-3,10-12").chunks(count=2)] == ["1-3", "10-12"]
    assert [str(c) for c in F("1-4,10-11").chunks(size=3)] == ["1-3", "4,10-11"]  # a chunk may span a gap
    assert len(F("1-3").chunks(count=10)) == 3
    assert F("1-3").chunks(size=10) == [F("1-3")]


@pytest.mark.parametrize("kwargs", [{}, {"size": 1, "count": 1}, {"size": 0}, {"count": 0}, {"count": -1}])
def test_chunks_bad_arguments(kwargs):
    with pytest.raises(FrameSpecError):
        F("1-10").chunks(**kwargs)


@pytest.mark.parametrize("index, size", [(-1, 3), (3, 3), (0, 0)])
def test_slice_bad_arguments(index, size):
    with pytest.raises(FrameSpecError):
        F("1-10").slice(index, size)


def test_slice_more_members_than_frames():
    shares = [F("1-3").slice(i, 5) for i in range(5)]
    assert [len(s) for s in shares] == [1, 1, 1, 0, 0]


# ---------------------------------------------------------------------------------------------------- AWS Batch
def test_aws_batch_env_ok():
    assert aws_batch_slice_from_env({"AWS_BATCH_JOB_ARRAY_INDEX": "2", "AWS_BATCH_JOB_ARRAY_SIZE": " 5 "}) == (2, 5)


@pytest.mark.parametrize("env, needle", [
    ({}, "AWS_BATCH_JOB_ARRAY_INDEX is not set"),
    ({"AWS_BATCH_JOB_ARRAY_INDEX": "0"}, "AWS_BATCH_JOB_ARRAY_SIZE is not set"),
    ({"AWS_BATCH_JOB_ARRAY_INDEX": "x", "AWS_BATCH_JOB_ARRAY_SIZE": "2"}, "is not an integer"),
    ({"AWS_BATCH_JOB_ARRAY_INDEX": "2", "AWS_BATCH_JOB_ARRAY_SIZE": "2"}, "outside 0..1"),
    ({"AWS_BATCH_JOB_ARRAY_INDEX": "-1", "AWS_BATCH_JOB_ARRAY_SIZE": "2"}, "outside 0..1"),
    ({"AWS_BATCH_JOB_ARRAY_INDEX": "0", "AWS_BATCH_JOB_ARRAY_SIZE": "0"}, "must be >= 1"),
])
def test_aws_batch_env_errors(env, needle):
    with pytest.raises(FrameSpecError, match=needle) as info:
        aws_batch_slice_from_env(env)
    assert "\n" not in str(info.value)


# --------------------------------------------------------------------------------------------------------- laws
small_frames = st.sets(st.integers(-40, 60), max_size=40)


@st.composite
def frame_sets(draw):
    """Unions of runs with mixed steps, negatives and gaps, sometimes huge."""
    runs = []
    for _ in range(draw(st.integers(1, 5))):
        start = draw(st.integers(-10**12, 10**12) if draw(st.booleans()) else st.integers(-50, 50))
        if draw(st.integers(0, 4)) == 0:  # huge and dense (two huge interleaved steps have no compact union)
            count, step = draw(st.integers(1, 10**9)), 1
        else:
            count, step = draw(st.integers(1, 30)), draw(st.integers(1, 7))
        runs.append(Run(start, start + (count - 1) * step, step))
    return FrameSet(runs)


def spec_text(fs, grammar):
    return fs.to_accsyn() if grammar == "accsyn" else fs.to_openjd()


@given(frame_sets(), st.sampled_from(["accsyn", "openjd"]))
def test_parse_format_round_trip(fs, grammar):
    assert F(spec_text(fs, grammar)) == fs


@given(small_frames, st.sampled_from(["accsyn", "openjd"]))
def test_round_trip_small_sets_and_canonical(frames, grammar):
    fs = FrameSet.from_frames(frames)
    assert list(fs) == sorted(frames) and len(fs) == len(frames)
    if frames:
        assert F(spec_text(fs, grammar)) == fs
    # canonical: the runs depend only on the frames, however they were put together
    pieces = [(f, 1, 1) for f in sorted(frames)]
    assert fs.runs == _canonical(pieces)
    assert FrameSet(fs.runs) == fs


@given(small_frames, small_frames)
def test_algebra_agrees_with_python_sets(a, b):
    fa, fb = FrameSet.from_frames(a), FrameSet.from_frames(b)
    for result, expected in ((fa | fb, a | b), (fa - fb, a - b), (fa & fb, a & b)):
        assert list(result) == sorted(expected)
        assert result == FrameSet.from_frames(expected)  # same canonical runs whatever the route
    for frame in range(-41, 62):
        assert (frame in fa) == (frame in a)


@given(st.lists(st.tuples(st.integers(-30, 30), st.integers(0, 12), st.integers(1, 5)), max_size=4),
       st.lists(st.tuples(st.integers(-30, 30), st.integers(0, 12), st.integers(1, 5)), max_size=4))
def test_algebra_on_stepped_runs_agrees_with_python_sets(ra, rb):
    def build(runs):
        fs = FrameSet([Run(s, s + n * st_, st_) for s, n, st_ in runs])
        return fs, {s + k * st_ for s, n, st_ in runs for k in range(n + 1)}
    fa, a = build(ra)
    fb, b = build(rb)
    assert list(fa) == sorted(a)
    assert fa | fb == FrameSet.from_frames(a | b)
    assert fa - fb == FrameSet.from_frames(a - b)
    assert fa & fb == FrameSet.from_frames(a & b)


def _check_partition(fs, pieces):
    assert sum(len(p) for p in pieces) == len(fs)
    union = FrameSet()
    previous_last = None
    for piece in pieces:
        if piece:
            assert previous_last is None or piece.first > previous_last  # contiguous, ascending, disjoint
            previous_last = piece.last
        union = union | piece
    assert union == fs
    sizes = [len(p) for p in pieces]
    assert not sizes or max(sizes) - min(sizes) <= 1


@given(frame_sets(), st.integers(1, 10**9))
def test_chunks_by_size_partition_balanced(fs, size):
    size = max(size, -(-len(fs) // 200))  # at most 200 chunks: the law, not a billion one-frame chunks
    chunks = fs.chunks(size=size)
    assert len(chunks) == -(-len(fs) // size)
    assert all(len(c) <= size for c in chunks)
    _check_partition(fs, chunks)


@given(frame_sets(), st.integers(1, 50))
def test_chunks_by_count_partition_balanced(fs, count):
    chunks = fs.chunks(count=count)
    assert len(chunks) == min(count, len(fs))
    assert all(chunks)
    _check_partition(fs, chunks)


@given(frame_sets(), st.integers(1, 40))
def test_array_slices_partition_balanced(fs, size):
    shares = [fs.slice(i, size) for i in range(size)]
    _check_partition(fs, shares)
    if size <= len(fs):
        assert shares == fs.chunks(count=size)


@given(small_frames, st.integers(1, 12))
def test_chunks_are_contiguous_slices_of_the_sorted_frames(frames, size):
    ordered = sorted(frames)
    chunks = FrameSet.from_frames(frames).chunks(size=size)
    assert [f for c in chunks for f in c] == ordered


def test_irregular_huge_union_fails_cleanly_instead_of_listing_frames():
    with pytest.raises(FrameSpecError, match="too irregular"):
        F("0-999999999x2, 1-999999999x3")


def test_overlapping_steps_with_small_side_stay_compact():
    fs = F("0-999999999x3, 10-40x2")
    assert len(fs) == 333_333_334 + 16 - 5  # 10..40 step 2 shares 12, 18, 24, 30, 36 with the multiples of 3
    assert len(fs.runs) < 40


def test_constructor_rejects_text_and_bad_runs():
    with pytest.raises(TypeError):
        FrameSet("1-10")
    with pytest.raises(FrameSpecError):
        FrameSet([Run(5, 1, 1)])
    with pytest.raises(FrameSpecError):
        FrameSet([Run(1, 5, 0)])


def test_a_run_unpacks_counts_and_survives_pickle_and_copy():
    """A Run is not a tuple (its ``count`` is a number of frames, not tuple.count) but unpacks like one; frame sets
    holding runs pickle and copy (they cross process boundaries in multiprocessing and are deep-copied)."""
    import copy
    import pickle

    run = Run(1, 10, 3)
    start, end, step = run
    assert (start, end, step) == (1, 10, 3) and run.count == 4 and isinstance(run.count, int)
    fs = F("1-10x3,20,30-40")
    for clone in (pickle.loads(pickle.dumps(fs)), copy.deepcopy(fs), copy.copy(fs)):
        assert clone == fs and list(clone) == list(fs) and hash(clone) == hash(fs)
    assert pickle.loads(pickle.dumps(run)) == run and hash(copy.copy(run)) == hash(run)
