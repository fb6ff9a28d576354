"""Reading, verifying, naming and collecting fonts (real DejaVu fonts; an Adobe Fonts-like extensionless copy)."""
from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from fonts_helpers import DEJAVU, DEJAVU_SANS, DEJAVU_SERIF, copy_font, make_variant
from hypothesis import given
from hypothesis import strategies as st

from fonts.collect import collect, find_fonts, parse_font_list
from fonts.errors import FontError
from fonts.filenames import MAX_NAME_LENGTH, inside, safe_font_file_name, unique_variant, write_new_file
from fonts.inspect import FONT_EXTENSIONS, name_key, read_font, sniff

pytestmark = pytest.mark.skipif(not DEJAVU_SANS.exists(), reason="needs fonts-dejavu-core")


@pytest.fixture(scope="module")
def library(tmp_path_factory) -> Path:
    """A font folder: two faces of a test family, a system font, an extensionless livetype file, and junk."""
    root = tmp_path_factory.mktemp("library")
    make_variant(DEJAVU_SANS, "AefarmTest Sans", root / "fonts" / "AefarmTestSans.ttf")
    make_variant(DEJAVU.joinpath("DejaVuSans-Bold.ttf"), "AefarmTest Sans", root / "fonts" / "AefarmTestSans-Bold.ttf",
                 style="Bold")
    livetype = root / "livetype" / ".r"
    livetype.mkdir(parents=True)
    make_variant(DEJAVU_SERIF, "AefarmLive Serif", livetype / ".40123")
    (root / "fonts" / "broken.ttf").write_bytes(b"\0\1\0\0" + b"\xff" * 40)
    (root / "fonts" / "notes.txt").write_text("not a font")
    return root


# ---- inspect ----

def test_read_font_names_and_kind():
    font = read_font(DEJAVU_SANS)
    (face,) = font.faces
    assert (face.postscript_name, face.family, face.style, face.full_name) == \
        ("DejaVuSans", "DejaVu Sans", "Book", "DejaVu Sans")
    assert font.kind == "truetype" and font.extension == ".ttf" and len(font.sha256) == 64


def test_collections_have_one_face_per_member(tmp_path):
    from fontTools.ttLib import TTCollection, TTFont

    collection = TTCollection()
    collection.fonts = [TTFont(str(DEJAVU_SANS)), TTFont(str(DEJAVU_SERIF))]
    collection.save(str(tmp_path / "pair.ttc"))
    font = read_font(tmp_path / "pair.ttc")
    assert font.kind == "collection" and font.extension == ".ttc"
    assert [f.postscript_name for f in font.faces] == ["DejaVuSans", "DejaVuSerif"]
    data = (tmp_path / "pair.ttc").read_bytes()
    (tmp_path / "cut.ttc").write_bytes(data[: len(data) - 1000])
    with pytest.raises(FontError, match=r"truncated font file .*cut\.ttc \(face \d\)"):
        read_font(tmp_path / "cut.ttc")


def test_content_decides_the_format_not_the_name(library):
    live = library / "livetype" / ".r" / ".40123"
    assert sniff(live) == "truetype"
    assert read_font(live).faces[0].postscript_name == "AefarmLiveSerif-Regular"
    assert sniff(library / "fonts" / "notes.txt") is None


@pytest.mark.parametrize("data,message", [
    (b"", "not a font file"),
    (b"wOF2" + b"\0" * 60, r"unsupported font format \(WOFF2"),
    (b"%!PS-AdobeFont-1.0", "unsupported font format"),
    (b"OTTO" + b"\0" * 200, "font file"),
])
def test_rejections_say_what_is_wrong(tmp_path, data, message):
    path = tmp_path / "x.otf"
    path.write_bytes(data)
    with pytest.raises(FontError, match=message):
        read_font(path)


def test_a_font_missing_its_outlines_is_incomplete(tmp_path):
    from fontTools.ttLib import TTFont

    font = TTFont(str(DEJAVU_SANS))
    del font["glyf"]
    del font["loca"]
    font.save(str(tmp_path / "hollow.ttf"))
    with pytest.raises(FontError, match=r"incomplete font file \(missing table glyf/loca or CFF\)"):
        read_font(tmp_path / "hollow.ttf")


def test_name_key_ignores_case_spaces_and_hyphens():
    assert name_key("Helvetica-Bold") == name_key("helvetica bold") == name_key("HELVETICA_BOLD")


# ---- file names ----

@pytest.mark.parametrize("name", ["../../x.ttf", "..\\..\\x.ttf", "/etc/x.ttf", "C:\\Windows\\Fonts\\x.ttf",
                                  "C:x.ttf", "fonts/x.ttf", ".."])
def test_path_like_names_are_rejected(name):
    with pytest.raises(FontError, match="unsafe font file name"):
        safe_font_file_name(name, ".ttf")


@pytest.mark.parametrize("name,expected", [
    ("Arial.ttf", "Arial.ttf"),
    (".40123", "40123.ttf"),
    ("CON.ttf", "font-CON.ttf"),
    ('we:ird*na"me?.otf', "we_ird_na_me_.otf"),
    ("trailing. ", "trailing.ttf"),
    ("x.ttf.exe", "x.ttf.exe.ttf"),
])
def test_odd_names_are_cleaned(name, expected):
    assert safe_font_file_name(name, ".ttf") == expected


@given(st.text(min_size=1, max_size=300))
def test_any_accepted_name_stays_in_the_folder(name):
    folder = Path("/fonts/aefarm")
    try:
        safe = safe_font_file_name(name, ".otf")
    except FontError:
        return
    for attempt in (0, 1, 7):
        variant = unique_variant(safe, "abcd1234", attempt)
        assert inside(folder, variant).parent == folder
        assert "/" not in variant and "\\" not in variant and variant not in (".", "..")
        assert variant.lower().endswith(FONT_EXTENSIONS) and len(variant) <= MAX_NAME_LENGTH


def test_write_new_file_never_replaces(tmp_path):
    target = tmp_path / "a.ttf"
    assert write_new_file(target, b"first")
    assert not write_new_file(target, b"second")
    assert target.read_bytes() == b"first"
    assert os.listdir(tmp_path) == ["a.ttf"]  # no temp file left behind


# ---- collect ----

def test_collect_by_postscript_full_and_family_names(library, tmp_path):
    matches = find_fonts(["AefarmTestSans-Bold", "aefarmtest sans regular"], [library / "fonts"])
    assert [(m.request, m.font.path.name) for m in matches] == [
        ("AefarmTestSans-Bold", "AefarmTestSans-Bold.ttf"), ("aefarmtest sans regular", "AefarmTestSans.ttf")]
    family = find_fonts(["AefarmTest Sans"], [library / "fonts"])
    assert sorted(m.font.path.name for m in family) == ["AefarmTestSans-Bold.ttf", "AefarmTestSans.ttf"]


def test_collect_finds_adobe_fonts_by_content_and_names_the_copy(library, tmp_path):
    out = collect(["AefarmLiveSerif-Regular"], [library / "livetype"], tmp_path / "out")
    assert os.listdir(out) == ["AefarmLiveSerif-Regular.ttf"]
    assert read_font(out / "AefarmLiveSerif-Regular.ttf").sha256 == \
        read_font(library / "livetype" / ".r" / ".40123").sha256


def test_collect_lists_every_missing_name_and_copies_nothing(library, tmp_path):
    with pytest.raises(FontError, match=r"fonts not found: NoSuch-Font, Other \(searched .*fonts\)"):
        collect(["AefarmTestSans-Bold", "NoSuch-Font", "Other"], [library / "fonts"], tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_collect_explicit_files_and_keeps_existing_outputs(library, tmp_path):
    out = tmp_path / "out"
    existing = copy_font(DEJAVU_SERIF, out, "AefarmTestSans.ttf")
    collect([str(library / "fonts" / "AefarmTestSans.ttf")], [], out)
    collect([str(library / "fonts" / "AefarmTestSans.ttf")], [], out)  # again: the identical copy is reused
    names = sorted(os.listdir(out))
    assert len(names) == 2 and names[0].startswith("AefarmTestSans-aefarm-")
    assert existing.read_bytes() == DEJAVU_SERIF.read_bytes()
    with pytest.raises(FontError, match="not a font file"):
        collect([str(library / "fonts" / "notes.txt")], [], out)
    with pytest.raises(FontError, match="font file not found: .*nope.ttf"):
        collect([str(tmp_path / "nope.ttf")], [], out)


def test_font_lists_from_files():
    assert parse_font_list("ArialMT\n# comment\n\n  Helvetica-Bold  # trailing\n") == ["ArialMT", "Helvetica-Bold"]
    assert parse_font_list('["ArialMT", "Impact"]') == ["ArialMT", "Impact"]
    assert parse_font_list('{"fonts": ["ArialMT"]}') == ["ArialMT"]
    with pytest.raises(FontError, match="list of names"):
        parse_font_list('{"fonts": [1]}')


def test_cli_collect(library, tmp_path, aefarm):
    names = tmp_path / "names.json"
    names.write_text(json.dumps(["AefarmLiveSerif-Regular"]))
    done = aefarm("fonts", "collect", "AefarmTestSans-Bold", "--from", names, "--search", library / "fonts",
                  "--search", library / "livetype", "-o", tmp_path / "out", check=0)
    assert done.stdout.strip() == str((tmp_path / "out").resolve())
    assert sorted(os.listdir(tmp_path / "out")) == ["AefarmLiveSerif-Regular.ttf", "AefarmTestSans-Bold.ttf"]
    missing = aefarm("fonts", "collect", "Nope", "--search", library / "fonts", "-o", tmp_path / "o2", check=2)
    assert missing.stderr.startswith("aefarm: error: font not found: Nope") and missing.stderr.count("\n") == 1
    aefarm("fonts", "collect", "-o", tmp_path / "o3", check=2)


def test_cli_collects_the_fonts_a_project_uses_from_from(library, tmp_path, aefarm):
    """`--from PROJECT.aepx` takes the fonts its text layers use (was: "font file not found: <AfterEffectsProject")."""
    from engines.aftereffects.sample_project import LayerSpec, write_sample_project

    project = write_sample_project(tmp_path / "titles.aepx", layers=[
        LayerSpec("Title", text="Hello", fonts=("AefarmTestSans-Bold",))])
    done = aefarm("fonts", "collect", "--from", project, "--search", library / "fonts", "-o", tmp_path / "out",
                  check=0)
    assert os.listdir(tmp_path / "out") == ["AefarmTestSans-Bold.ttf"], done.stderr
    (tmp_path / "p.aep").write_bytes(b"RIFX\x00\x00\x10\x00Egg!" + bytes(32))
    refused = aefarm("fonts", "collect", "--from", tmp_path / "p.aep", "-o", tmp_path / "out2", check=2)
    assert "binary .aep" in refused.stderr and not (tmp_path / "out2").exists()
