"""Paths in generic text files: escaping forms, encodings, line endings, and what must stay untouched."""
from __future__ import annotations

import codecs

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from remap_helpers import RULE_PAIRS

from remap.convert import convert
from remap.errors import RemapError
from remap.escaping import js_units, plain_units, rebuild, xml_units
from remap.rules import RuleSet
from remap.text import convert_text_bytes, map_text
from remap.textpaths import path_spans

RULES = RuleSet.from_cli(RULE_PAIRS)


def mapped(text: str) -> str:
    return map_text(text, RULES.map)


@pytest.mark.parametrize("source, expected", [
    # JSON: backslashes doubled, escaped slashes, spaces inside one string
    ('{"a": "P:\\\\JOB\\\\a b.png"}', '{"a": "/mnt/p/JOB/a b.png"}'),
    ('{"a": "P:\\/JOB\\/x.png", "b": 1}', '{"a": "\\/mnt\\/p\\/JOB\\/x.png", "b": 1}'),
    ('["\\/Volumes\\/projects\\/x"]', '["\\/mnt\\/vol\\/x"]'),
    ('{"unc": "\\\\\\\\fileserver\\\\projects\\\\x.exr"}', '{"unc": "/mnt/fs/projects/x.exr"}'),
    ('{"u": "P:\\\\\\u00e9t\\u00e9\\\\x"}', '{"u": "/mnt/p/\\u00e9t\\u00e9/x"}'),
    # scripts: JS-escaped double- and single-quoted strings
    ('var f = "P:\\\\scripts\\\\a.jsx";', 'var f = "/mnt/p/scripts/a.jsx";'),
    ("var g = '/Volumes/projects/a b/c.png';", "var g = '/mnt/vol/a b/c.png';"),
    # CSV: unquoted fields with spaces, CRLF kept
    ("shot,P:\\JOB\\My Footage\\a.png,12\r\nx,/Users/artist/y z/q.exr,3\r\n",
     "shot,/mnt/p/JOB/My Footage/a.png,12\r\nx,/home/artist/y z/q.exr,3\r\n"),
    # two paths on one command line
    ("copy P:\\a\\b.png D:\\Projects\\x", "copy /mnt/p/a/b.png /mnt/projects/x"),
    # XML-escaped text and attributes
    ('<a href="P:\\x &amp; y\\z.png">&quot;/Users/artist/D&apos;s/x&quot;</a>',
     '<a href="/mnt/p/x &amp; y/z.png">&quot;/home/artist/D&apos;s/x&quot;</a>'),
    # component boundary: P:\ is a drive; \\fileserver\projects2 is not \\fileserver\projects
    ("\\\\fileserver\\projects2\\x", "\\\\fileserver\\projects2\\x"),
    # relative paths, URLs and unmatched paths stay
    ("see docs/Volumes/projects and http://host/Volumes/projects/x", "see docs/Volumes/projects and http://host/Volumes/projects/x"),
    ("/srv/other/x and E:\\x", "/srv/other/x and E:\\x"),
    # a file URI maps and stays a URI
    ("open file:///Volumes/projects/a%20b.png now", "open file:///mnt/vol/a%20b.png now"),
])
def test_text_forms(source, expected):
    assert mapped(source) == expected


def test_path_spans_end_where_the_path_ends():
    text = 'x = "C:\\a b\\c.png"; /usr/bin/env python --in /data/one,/data/two'
    spans = [text[s:e] for s, e in path_spans(text, raw=True)]
    assert spans == ["C:\\a b\\c.png", "/usr/bin/env", "/data/one", "/data/two"]


def test_units_round_trip():
    raw = "a&amp;b&#233;&#x41;\\\\c\\/d\\u00e9"
    units = js_units(xml_units(raw))
    assert "".join(u[0] for u in units) == raw
    assert "".join(u[1] for u in units) == "a&béA\\c/dé"


def test_rebuild_keeps_tail_escapes_and_escapes_the_new_prefix():
    units = xml_units("P:\\x &amp; y\\z.png")
    assert rebuild(units, "/mnt/a&b/x & y/z.png", lambda c: {"&": "&amp;"}.get(c, c)) == \
        "/mnt/a&amp;b/x &amp; y/z.png"
    assert rebuild(plain_units("abc"), "xyz", lambda c: c) == "xyz"


@pytest.mark.parametrize("encoding, bom", [
    ("utf-8", b""), ("utf-8", codecs.BOM_UTF8), ("utf-16-le", codecs.BOM_UTF16_LE), ("utf-16-be", codecs.BOM_UTF16_BE),
])
def test_encoding_and_line_endings_are_kept(encoding, bom):
    text = "# é\r\npath = 'P:\\\\JOB\\\\a.png'\nother = 1\r"
    data = bom + text.encode(encoding)
    result = convert_text_bytes(data, RULES.map)
    assert result.data.startswith(bom) if bom else not result.data.startswith(codecs.BOM_UTF8)
    assert result.data == bom + "# é\r\npath = '/mnt/p/JOB/a.png'\nother = 1\r".encode(encoding)
    assert len(result.changes) == 1


def test_unchanged_text_is_returned_byte_for_byte():
    data = codecs.BOM_UTF8 + "nothing to see\r\nhere /srv/x\n".encode()
    assert convert_text_bytes(data, RULES.map).data is data


@pytest.mark.parametrize("data, words", [
    ("path = 'P:\\\\x'\n".encode("utf-16-le"), "UTF-16 without a byte-order mark"),
    (b"path = 'P:\\x' \xff\xfe oops", "invalid utf-8 at byte 14"),
    (b"\x00\x01\x02\x03binary\x00", "binary data"),
])
def test_undecodable_text_fails_clearly(data, words):
    with pytest.raises(RemapError, match=words) as info:
        convert_text_bytes(data, RULES.map, where="in.txt")
    assert "\n" not in str(info.value) and "in.txt" in str(info.value)


def test_convert_text_file_writes_nothing_on_error(tmp_path):
    src = tmp_path / "shots.csv"
    src.write_bytes(b"P:\\a\\b.png,\xff\n")
    with pytest.raises(RemapError):
        convert(src, rules=RULES)
    assert [p.name for p in tmp_path.iterdir()] == ["shots.csv"]


def test_convert_text_file(tmp_path):
    src = tmp_path / "data.json"
    src.write_text('{"plate": "D:\\\\Projects\\\\sh010\\\\plate.exr"}\n', encoding="utf-8")
    result = convert(src, tmp_path / "out.json", rules=RULES)
    assert result.kind == "text" and result.replaced == 1
    assert (tmp_path / "out.json").read_text(encoding="utf-8") == '{"plate": "/mnt/projects/sh010/plate.exr"}\n'


_plain = st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="/\\:&"), max_size=40)


@settings(max_examples=80)
@given(st.lists(st.one_of(_plain, st.sampled_from(["/srv/x", "E:\\y", "a/b", "C:rel", "http://h/p"])), max_size=6))
def test_law_text_without_mapped_paths_is_untouched(parts):
    text = " ".join(parts)
    assert mapped(text) == text


@settings(max_examples=80)
@given(st.lists(st.text(st.characters(whitelist_categories=("L", "N")), min_size=1, max_size=6), min_size=1,
                max_size=4), st.sampled_from(['"', "'"]))
def test_law_mapping_twice_changes_nothing_more(parts, quote):
    text = "x = " + quote + "P:\\\\" + "\\\\".join(parts) + quote + ";\n"
    once = mapped(text)
    assert once == "x = " + quote + "/mnt/p/" + "/".join(parts) + quote + ";\n"
    assert mapped(once) == once
