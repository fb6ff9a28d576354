"""Output naming, atomic moves, staging and movie joins (real ffmpeg)."""
from __future__ import annotations

import errno
import os
import shutil
import subprocess
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from aerender_sim.worker import expand_output, sequence_template
from stmpo import movies, outputs
from stmpo.errors import StmpoError
from stmpo.outputs import OutputPattern, Staging

FFMPEG = shutil.which("ffmpeg")
needs_ffmpeg = pytest.mark.skipif(FFMPEG is None or shutil.which("ffprobe") is None, reason="ffmpeg not installed")


def test_frame_names():
    p = OutputPattern("/out/[compName]_[#####].png", comp="Main")
    assert p.frame_path(7) == Path("/out/Main_00007.png")
    with pytest.raises(StmpoError, match="instead of \\[fileextension\\]"):
        OutputPattern("/o/x_[###].[fileextension]", comp="c")  # the output module decides it: unverifiable
    assert OutputPattern("/o/shot.png").frame_name(3) == "shot_00003.png"  # aerender adds _[#####]
    assert OutputPattern("/o/[compName].tif", comp="a/b:c").frame_name(1) == "a_b_c_00001.tif"
    assert OutputPattern("/o/[COMPNAME]_[#].png", comp="M").frame_name(5) == "M_5.png"


def test_movie_detection():
    assert OutputPattern("/o/[compName].MOV", comp="x").is_movie
    assert OutputPattern("/o/a.mp4").movie_path() == Path("/o/a.mp4")
    assert not OutputPattern("/o/a_[####].png").is_movie


@given(
    prefix=st.text("abc_-%", max_size=4),
    hashes=st.integers(0, 7),
    comp=st.text("Mainx /:\\", min_size=1, max_size=6),
    ext=st.sampled_from([".png", ".tif", ".exr"]),
    use_comp=st.booleans(),
    frame=st.integers(-50, 200000),
)
def test_names_match_the_simulator(prefix, hashes, comp, ext, use_comp, frame):
    name = prefix + ("[compName]" if use_comp else "") + (f"_[{'#' * hashes}]" if hashes else "") + ext
    template = "/out/" + name
    ours = OutputPattern(template, comp=comp).frame_path(frame)
    theirs = expand_output(sequence_template(template), comp, frame)
    assert str(ours) == theirs


@given(name=st.sampled_from(["[compName]_[#####].png", "a%d_[###]_[#].exr", "100%_[##].tif", "shot.png"]),
       comp=st.text("M%s_", min_size=1, max_size=4), frame=st.integers(-50, 200000))
def test_per_frame_paths_are_the_joined_names(name, comp, frame):
    """The cached per-frame paths (staged and final) are exactly os.path.join of the folder and the frame's name,
    each token zero-padded like format_frame, every "%" of the name kept literally."""
    pattern = OutputPattern("/out/" + name, comp=comp)
    texts, widths = pattern._name_parts()
    expected = texts[0] + "".join(outputs.format_frame(frame, w) + t for w, t in zip(widths, texts[1:]))
    assert pattern.frame_name(frame) == expected
    assert pattern.frame_file(frame) == os.path.join("/out", expected)
    assert pattern.frame_file(frame, "/stage") == os.path.join("/stage", expected)


def test_staged_file_is_the_joined_path(tmp_path):
    for scratch in (None, tmp_path / "scratch"):
        staging = Staging(OutputPattern(str(tmp_path / "o%s_[###].png"), comp="M"), scratch=scratch)
        for chunk, frame in ((0, 1), (12, -3), (12, 4567)):
            expected = os.path.join(str(staging.folder_path(chunk)), f"o%s_{outputs.format_frame(frame, 3)}.png")
            assert staging.staged_file(chunk, frame) == expected


def test_check_pattern():
    with pytest.raises(StmpoError):
        outputs.check_pattern("relative/x_[#####].png")
    with pytest.raises(StmpoError):
        outputs.check_pattern("/out/")
    outputs.check_pattern("/out/x_[#####].png")


def test_frame_ok_and_missing(tmp_path):
    p = OutputPattern(str(tmp_path / "f_[##].png"))
    (tmp_path / "f_01.png").write_bytes(b"x")
    (tmp_path / "f_02.png").write_bytes(b"")
    (tmp_path / "f_03.png").mkdir()
    assert outputs.present_frames(p, [1, 2, 3, 4]) == [1]
    assert outputs.missing_frames(p, [1, 2, 3, 4]) == [2, 3, 4]


def test_move_into_place_same_filesystem(tmp_path):
    src = tmp_path / "a" / "f.png"
    src.parent.mkdir()
    src.write_bytes(b"data")
    dst = tmp_path / "b" / "f.png"
    assert outputs.move_into_place(src, dst) is True  # renamed: the very file
    assert dst.read_bytes() == b"data" and not src.exists()


def test_move_into_place_across_filesystems_copies_then_renames(tmp_path, monkeypatch):
    src = tmp_path / "src.png"
    src.write_bytes(b"payload" * 1000)
    dst = tmp_path / "out" / "dst.png"
    real_replace = os.replace
    calls = []

    def fake_replace(a, b):
        calls.append((str(a), str(b)))
        if str(a) == str(src):
            raise OSError(errno.EXDEV, "Invalid cross-device link")
        return real_replace(a, b)

    monkeypatch.setattr(outputs.os, "replace", fake_replace)
    assert outputs.move_into_place(src, dst) is False  # copied: another file
    assert dst.read_bytes() == b"payload" * 1000
    assert not src.exists()
    # the second replace renamed a temporary file that lived in the destination folder
    assert Path(calls[1][0]).parent == dst.parent and calls[1][1] == str(dst)
    assert [p.name for p in dst.parent.iterdir()] == ["dst.png"]


def test_move_checked_takes_the_checked_stamp_only_for_a_rename(tmp_path, monkeypatch):
    """The stamp the check took is the final file's after a rename (the same file); a copied or unchecked file is
    stat'ed at its final name, and an empty or missing final file is refused."""
    staging = Staging(OutputPattern(str(tmp_path / "out" / "f_[##].png")), run_id="r")
    (tmp_path / "out").mkdir()
    src, dst = tmp_path / "s1.png", tmp_path / "out" / "f_01.png"
    src.write_bytes(b"abc")
    checked = (3, 12345)  # as the check saw it: returned as is, no stat
    assert staging.move_checked(str(src), str(dst), checked) == checked
    src.write_bytes(b"abcd")
    st = os.stat(src)
    assert staging.move_checked(str(src), str(dst)) == (4, st.st_mtime_ns)  # no stamp given: stat'ed
    src.write_bytes(b"")
    assert staging.move_checked(str(src), str(dst)) is None  # empty at its final name
    real_replace = os.replace

    def cross_device(a, b):
        if str(a) == str(src):
            raise OSError(errno.EXDEV, "Invalid cross-device link")
        return real_replace(a, b)

    src.write_bytes(b"copied!")
    monkeypatch.setattr(outputs.os, "replace", cross_device)
    final = staging.move_checked(str(src), str(dst), (7, 1))  # a copy is another file: its own stamp
    assert final is not None and final == (7, os.stat(dst).st_mtime_ns) and final != (7, 1)


def test_failed_copy_keeps_the_source_and_leaves_no_temporary(tmp_path, monkeypatch):
    src = tmp_path / "src.png"
    src.write_bytes(b"payload")
    dst = tmp_path / "out" / "dst.png"

    def fake_replace(a, b):
        raise OSError(errno.EXDEV, "Invalid cross-device link")

    monkeypatch.setattr(outputs.os, "replace", fake_replace)
    with pytest.raises(OSError):
        outputs.move_into_place(src, dst)
    assert src.read_bytes() == b"payload"
    assert list(dst.parent.iterdir()) == []


def test_staging_delivers_only_complete_frames_and_cleans_up(tmp_path):
    p = OutputPattern(str(tmp_path / "out" / "[compName]_[####].png"), comp="Main")
    staging = Staging(p, run_id="t1")
    out = staging.child_output_path(3, [1])
    assert out == str(tmp_path / "out" / ".aefarm-t1-c003" / "[compName]_[####].png")
    folder = staging.folder(3)
    (folder / "Main_0001.png").write_bytes(b"frame")
    (folder / "Main_0002.png").write_bytes(b"")
    assert staging.deliver(3, 1) is True
    assert staging.deliver(3, 2) is False
    assert (tmp_path / "out" / "Main_0001.png").read_bytes() == b"frame"
    assert staging.cleanup(success=False) == [folder]  # unmoved content is never deleted after a failure
    assert folder.exists()
    assert staging.cleanup(success=True) == []
    assert not folder.exists()


def test_staging_under_scratch(tmp_path):
    p = OutputPattern(str(tmp_path / "out" / "f_[####].png"))
    staging = Staging(p, scratch=tmp_path / "scratch", run_id="r")
    folder = staging.folder(1)
    assert folder == tmp_path / "scratch" / "aefarm-r" / "c001"
    (folder / "f_0009.png").write_bytes(b"x")
    assert staging.deliver(1, 9)
    staging.cleanup(success=True)
    assert list((tmp_path / "scratch").iterdir()) == []


def test_empty_staging_removed_even_after_failure(tmp_path):
    p = OutputPattern(str(tmp_path / "f_[####].png"))
    staging = Staging(p, run_id="r")
    folder = staging.folder(1)
    assert staging.cleanup(success=False) == []
    assert not folder.exists()


def test_find_ffmpeg_errors(tmp_path):
    with pytest.raises(StmpoError, match="ffmpeg not found"):
        movies.find_ffmpeg(env={"PATH": ""}, explicit=str(tmp_path / "nope"))


def _segment(path: Path, frames: int) -> Path:
    subprocess.run([FFMPEG, "-v", "error", "-y", "-f", "lavfi", "-i", "testsrc=size=64x36:rate=24",
                    "-frames:v", str(frames), "-pix_fmt", "yuv420p", str(path)], check=True)
    return path


@needs_ffmpeg
def test_join_segments_with_real_ffmpeg(tmp_path):
    ffmpeg, ffprobe = movies.find_ffmpeg()
    segs = [_segment(tmp_path / f"s{i}.mov", n) for i, n in enumerate((5, 7, 3))]
    dst = tmp_path / "final" / "Main.mov"
    how = movies.join_segments(segs, dst, ffmpeg, ffprobe, 15)
    assert how in ("copy", "reencode")
    assert movies.movie_frame_count(dst, ffprobe) == 15
    assert sorted(p.name for p in dst.parent.iterdir()) == ["Main.mov"]  # no temporary or list file left


@needs_ffmpeg
def test_join_refuses_a_wrong_frame_count_and_leaves_nothing(tmp_path):
    ffmpeg, ffprobe = movies.find_ffmpeg()
    segs = [_segment(tmp_path / "s.mov", 4)]
    dst = tmp_path / "final" / "Main.mov"
    with pytest.raises(StmpoError, match="expected 9 frames"):
        movies.join_segments(segs, dst, ffmpeg, ffprobe, 9)
    assert list(dst.parent.iterdir()) == []


@needs_ffmpeg
def test_a_cancel_during_the_join_kills_ffmpeg_and_leaves_nothing(tmp_path):
    import threading

    ffmpeg, ffprobe = movies.find_ffmpeg()
    segs = [_segment(tmp_path / "s.mov", 4)]
    dst = tmp_path / "final" / "Main.mov"
    cancel = threading.Event()
    cancel.set()
    with pytest.raises(StmpoError, match="cancelled"):
        movies.join_segments(segs, dst, ffmpeg, ffprobe, 4, cancel=cancel)
    assert list(dst.parent.iterdir()) == []


def test_run_tool_stops_a_slow_tool_on_cancel_and_on_timeout():
    import sys
    import threading
    import time

    slow = [sys.executable, "-c", "import time; time.sleep(30)"]
    cancel = threading.Event()
    threading.Timer(0.3, cancel.set).start()
    began = time.monotonic()
    with pytest.raises(StmpoError, match="cancelled"):
        movies.run_tool(slow, timeout=60, cancel=cancel)
    with pytest.raises(StmpoError, match="timed out"):
        movies.run_tool(slow, timeout=0.3)
    assert time.monotonic() - began < 25  # neither waited for the 30 s sleep (a bound on a hang, not a benchmark)
    done = movies.run_tool([sys.executable, "-c", "print('ok')"], timeout=30)
    assert done.returncode == 0 and done.stdout.strip() == "ok"
