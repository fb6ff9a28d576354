"""What an image sequence on disk is: one pure definition (aeproject.sequences) shared by the accsyn dependencies and
the Deadline asset references; laws checked by property tests."""
from __future__ import annotations

import os

from hypothesis import assume, given
from hypothesis import strategies as st

from aeproject.sequences import detect_sequence, numbered, sequence_on_disk


def test_first_frame_brings_its_siblings_with_gaps_and_pattern():
    names = ["plate_0001.png", "plate_0002.png", "plate_0003.png", "plate_0007.png", "notes.txt", "plate_0001.exr",
             "other_0002.png", "plate_01.png"]
    seq = detect_sequence("plate_0001.png", names, "/shots/sh010")
    assert seq.frames == (1, 2, 3, 7) and seq.gaps == [(4, 6)]
    assert seq.pattern == "plate_[####].png" and seq.width == 4 and not seq.exclusive
    assert seq.paths(os.path.join)[-1] == os.path.join("/shots/sh010", "plate_0007.png")
    assert seq.dependency_paths(os.path.join) == seq.paths(os.path.join)  # the folder holds other files
    assert "frames 1-7 (4 on disk; missing 4-6)" in seq.describe()


def test_a_folder_of_only_the_sequence_is_the_folder():
    seq = detect_sequence("a.1001.exr", ["a.1001.exr", "a.1002.exr", "a.1003.exr"], "/s")
    assert seq.exclusive and seq.dependency_paths() == ["/s"] and seq.pattern == "a.[####].exr"


def test_unpadded_numbers_of_any_width_belong_together():
    seq = detect_sequence("frame9.png", ["frame8.png", "frame9.png", "frame10.png", "frame011.png"], "/f")
    assert seq.frames == (8, 9, 10) and seq.width == 0 and seq.pattern == "frame[#].png" and not seq.exclusive


def test_single_files_movies_and_unnumbered_names_are_not_sequences():
    assert detect_sequence("logo_2024.png", ["logo_2024.png", "logo.png"]) is None
    assert detect_sequence("clip_001.mov", ["clip_001.mov", "clip_002.mov"]) is None  # a movie is one file
    assert detect_sequence("plate.png", ["plate.png", "plate1.png"]) is None
    assert numbered("a.0001.exr") == ("a.", "0001", ".exr") and numbered("x.png") is None


def test_sequence_on_disk_reads_the_folder(tmp_path):
    for f in (1, 2, 3):
        (tmp_path / f"sh_{f:03d}.tif").write_bytes(b"x")
    (tmp_path / "sh_004.tif").mkdir()  # a folder is never a frame
    seq = sequence_on_disk(str(tmp_path / "sh_002.tif"))
    assert seq.frames == (1, 2, 3) and seq.folder == str(tmp_path) and seq.exclusive
    assert sequence_on_disk(str(tmp_path / "missing" / "x_001.tif")) is None


names = st.text(st.characters(whitelist_categories=("Ll", "Lu"), whitelist_characters="_-. "), min_size=1,
                max_size=8)


@given(frames=st.sets(st.integers(0, 99999), min_size=2, max_size=40), width=st.integers(5, 7), prefix=names,
       ext=st.sampled_from([".png", ".exr", ".dpx", ".tif", ".JPG"]),
       noise=st.lists(st.sampled_from(["readme.txt", "thumbs.db", "x_0001.mov", "other.png"]), max_size=3),
       pick=st.integers(0, 10**6))
def test_law_detected_frames_are_exactly_the_siblings_on_disk(frames, width, prefix, ext, noise, pick):
    assume(not prefix[-1:].isdigit())
    files = [f"{prefix}{f:0{width}d}{ext}" for f in sorted(frames)]
    chosen = files[pick % len(files)]
    seq = detect_sequence(chosen, files + noise, "/f")
    assert seq is not None and seq.frames == tuple(sorted(frames)) and chosen in seq.names
    everything = set(range(seq.first, seq.last + 1))
    assert {f for a, b in seq.gaps for f in range(a, b + 1)} == everything - set(frames)
    assert seq.exclusive == (not noise)
    assert set(seq.dependency_paths(lambda a, b: f"{a}/{b}")) == ({"/f"} if not noise else
                                                                 {f"/f/{n}" for n in files})
