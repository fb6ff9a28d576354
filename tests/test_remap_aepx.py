"""The byte-exact .aepx converter, convert() and atomic writes."""
from __future__ import annotations

import hashlib
import io
import json
import os
import subprocess
import sys

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from remap_helpers import FIXTURE, MAKE_AEPX, RULE_PAIRS, expressions, file_references, masked, parse_safely

from aefarm_common.atomic import atomic_write
from engines.aftereffects.sample_project import sample_project_text
from remap import aepx_check, aepx_scanner, aepx_stream
from remap.aepx import convert_aepx, convert_aepx_stream
from remap.convert import ConvertResult, convert, detect_kind
from remap.errors import RemapError
from remap.rules import RuleSet

RULES = RuleSet.from_cli(RULE_PAIRS)


def convert_bytes(data: bytes, rules: RuleSet = RULES):
    out = io.BytesIO()
    result = convert_aepx_stream(io.BytesIO(data), out, rules.map, "test.aepx")
    return out.getvalue(), result


# ------------------------------------------------------------------------------------------------ the fixture

def test_fixture_maps_footage_sequences_outputs_and_expressions():
    data = FIXTURE.encode("utf-8")
    out, result = convert_bytes(data)
    root = parse_safely(out)
    assert file_references(root) == [
        ("Pin", "/mnt/p/JOB/audio & music/a.wav", "MacPOSIX"),
        ("Pin", "/home/artist/Ünïcode Director's Cut/b.mov", "MacPOSIX"),
        ("Pin", "/mnt/fs/projects/JOB/plates/sh010", "MacPOSIX"),
        ("Pin", "relative\\c.png", "Win"),  # relative: untouched
        ("Pin", "Q:\\unmapped\\d.png", "Win"),  # no rule: untouched
        (None, "P:\\not_under_pin.png", "Win"),  # not footage nor output: untouched
        ("LOm", "/mnt/fs/renders/JOB/MAIN", "MacPOSIX"),
    ]
    assert expressions(root) == [
        "$.evalFile(\"/mnt/p/JOB/scripts/cap.jsx\"); var s = '/mnt/projects/x.png'; value",
        '"/mnt/vol/a b.txt"',
    ]
    assert result.replaced == 7


def test_fixture_every_other_byte_is_identical():
    data = FIXTURE.encode("utf-8")
    out, _ = convert_bytes(data)
    assert out != data
    assert masked(out) == masked(data)
    assert out.count(b"\r\n") == data.count(b"\r\n")  # line endings kept
    # escaping style kept: entities where there were entities, single quotes stay single quotes
    assert b'fullpath="/mnt/p/JOB/audio &amp; music/a.wav"' in out
    assert "fullpath='/home/artist/Ünïcode Director&apos;s Cut/b.mov'".encode() in out
    assert b"$.evalFile(&quot;/mnt/p/JOB/scripts/cap.jsx&quot;)" in out
    # comment and CDATA are copied untouched even though they look like references
    assert b'fullpath="P:\\comment\\x.png"' in out and b'fullpath="P:\\cdata\\x.png"' in out
    assert b"<string>P:\\not\\an\\expression</string>" in out


def test_hex_chunks_are_reported_not_rewritten():
    data = FIXTURE.encode("utf-8")
    out, result = convert_bytes(data)
    assert len(result.unsafe) == 2
    expr, btdk = result.unsafe
    assert "<expr>" in expr and "'P:/JOB/old.jsx'" in expr
    assert "<btdk>" in btdk and "'/Volumes/projects/titles.txt'" in btdk
    # the hex bytes themselves are unchanged
    for line in data.split(b"\r\n"):
        if b"<expr " in line or b"<btdk " in line:
            assert line in out


def test_platform_only_changes_when_the_os_family_changes():
    rules = RuleSet.from_cli(["P:\\=Q:\\new", "/Users/artist=/home/artist"])
    out, result = convert_bytes(FIXTURE.encode("utf-8"), rules)
    refs = file_references(parse_safely(out))
    assert refs[0] == ("Pin", "Q:\\new\\JOB\\audio & music\\a.wav", "Win")
    assert refs[1][2] == "MacPOSIX"
    rules = RuleSet.from_cli(["/Users/artist=U:\\artist"])
    out, _ = convert_bytes(FIXTURE.encode("utf-8"), rules)
    assert file_references(parse_safely(out))[1] == ("Pin", "U:\\artist\\Ünïcode Director's Cut\\b.mov", "Win")


def test_no_rules_means_identical_bytes():
    data = FIXTURE.encode("utf-8")
    out, result = convert_bytes(data, RuleSet())
    assert out == data and result.replaced == 0


def test_tiny_blocks_give_the_same_bytes(monkeypatch):
    """Every marker, tag and expression straddles a block boundary somewhere when blocks are a few bytes."""
    data = FIXTURE.encode("utf-8")
    expected, expected_result = convert_bytes(data)
    for block in (1, 3, 7, 64, 129):
        monkeypatch.setattr(aepx_stream, "BLOCK", block)
        out, result = convert_bytes(data)
        assert out == expected, block
        assert [c.new for c in result.changes] == [c.new for c in expected_result.changes]
        assert len(result.unsafe) == 2


def test_idempotent_on_its_own_output():
    once, _ = convert_bytes(FIXTURE.encode("utf-8"))
    twice, result = convert_bytes(once)
    assert twice == once and result.replaced == 0


# ------------------------------------------------------------------------------------------------ properties

_NAME_CHARS = st.characters(blacklist_categories=("Cs", "Cc"), blacklist_characters="\\/\ufffe\uffff")
_names = st.text(_NAME_CHARS, min_size=1, max_size=8).filter(lambda s: s.strip() == s and s not in (".", ".."))
_prefixes = st.sampled_from(["D:\\Projects", "d:/projects", "\\\\fileserver\\projects", "\\\\FileServer\\Renders",
                             "P:", "p:", "/Volumes/projects", "/Users/artist", "/Users/artist2", "E:\\other",
                             "/srv/unmapped"])


@st.composite
def _paths(draw):
    prefix = draw(_prefixes)
    windows = not prefix.startswith("/")
    sep = draw(st.sampled_from(["\\", "/"])) if windows else "/"
    parts = draw(st.lists(_names, min_size=1, max_size=3))
    return prefix + sep + sep.join(parts)


@st.composite
def _expression(draw):
    path = draw(_paths())
    quote = draw(st.sampled_from(['"', "'"]))
    literal = path.replace("\\", "\\\\").replace(quote, "\\" + quote)
    return f"var f = {quote}{literal}{quote}; $.evalFile(f); value"


@settings(max_examples=60)
@given(footage=st.lists(_paths(), min_size=1, max_size=5), exprs=st.lists(_expression(), max_size=3),
       output=st.one_of(st.none(), _paths()))
def test_law_diff_confined_to_mapped_values(footage, exprs, output):
    data = sample_project_text(footage=footage, expressions=exprs, output_folder=output).encode("utf-8")
    out, result = convert_bytes(data)
    assert masked(out) == masked(data)
    root_in, root_out = parse_safely(data), parse_safely(out)
    for (kind, old, _), (kind2, new, platform) in zip(file_references(root_in), file_references(root_out)):
        assert kind == kind2
        mapped = RULES.map(old)
        assert new == (old if mapped is None else mapped)
        if mapped is not None and mapped != old:
            assert platform == "MacPOSIX"
    # a second conversion finds nothing left to map (idempotence through the whole converter)
    again, second = convert_bytes(out)
    assert again == out and second.replaced == 0
    assert result.replaced == sum(1 for c in result.changes if c.old != c.new)


@settings(max_examples=40)
@given(footage=st.lists(_paths(), min_size=1, max_size=4), block=st.integers(1, 200))
def test_law_block_size_does_not_matter(footage, block):
    data = sample_project_text(footage=footage, output_folder="P:\\out\\").encode("utf-8")
    expected, _ = convert_bytes(data)
    old = aepx_stream.BLOCK
    aepx_stream.BLOCK = block
    try:
        out, _ = convert_bytes(data)
    finally:
        aepx_stream.BLOCK = old
    assert out == expected


# ------------------------------------------------------------------------------------------------ generated project

@pytest.mark.skipif(not MAKE_AEPX.exists(), reason=f"{MAKE_AEPX} (the shared project generator) is not beside the repo")
def test_generated_project_from_make_aepx(tmp_path):
    src = tmp_path / "gen.aepx"
    proc = subprocess.run([sys.executable, str(MAKE_AEPX), str(src), "--mb", "1.5", "--seed", "7"],
                          capture_output=True, text=True, check=True)
    counts = json.loads(proc.stdout)
    before = src.read_bytes()
    result = convert(src, tmp_path / "out.aepx", RULES)
    out = (tmp_path / "out.aepx").read_bytes()
    assert src.read_bytes() == before  # input untouched
    assert masked(out) == masked(before) and out != before
    assert result.replaced == counts["footage"] + counts["outputs"] + counts["expressions"]
    root = parse_safely(out)
    refs = file_references(root)
    assert refs and all(path.startswith(("/mnt/", "/home/artist/")) for _, path, _ in refs)
    assert all(platform == "MacPOSIX" for _, _, platform in refs)
    assert all("/mnt/p/JOB_7/scripts/captions.jsx" in text for text in expressions(root) if "evalFile" in text)


# ------------------------------------------------------------------------------------------------ bad input

BILLION_LAUGHS = (
    '<?xml version="1.0"?>\n<!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;">'
    '<!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;">]>\n<AfterEffectsProject>&lol3;</AfterEffectsProject>\n'
)
EXTERNAL_ENTITY = (
    '<?xml version="1.0"?>\n<!DOCTYPE r [<!ENTITY x SYSTEM "file:///etc/passwd">]>\n'
    '<AfterEffectsProject><string>&x;</string></AfterEffectsProject>\n'
)
GOOD = sample_project_text(footage=["P:\\a\\b.png"], output_folder="P:\\out\\")


def _bad_inputs():
    good = GOOD.encode("utf-8")
    return {
        "truncated": good[: len(good) // 2],
        "truncated-in-tag": good[: good.index(b"fullpath=") + 15],
        "binary-aep": b"RIFX\x00\x01\x00\x00Egg!" + json.dumps({"fullpath": "P:\\a\\b.png"}).encode() + b"\x00" * 64,
        "utf16-no-bom": GOOD.encode("utf-16-le"),
        "billion-laughs": BILLION_LAUGHS.encode(),
        "external-entity": EXTERNAL_ENTITY.encode(),
        "invalid-utf8": good.replace(b"Main", b"M\xff\xfein"),
        "invalid-utf8-in-path": good.replace(b"P:\\a\\b.png", b"P:\\a\\\xc3(.png"),
        "latin1-declared": good.replace(b'encoding="UTF-8"', b'encoding="ISO-8859-1"'),
    }


@pytest.mark.parametrize("name", sorted(_bad_inputs()))
def test_bad_input_is_one_clear_error_and_no_output(tmp_path, name):
    src = tmp_path / f"{name}.aepx"
    src.write_bytes(_bad_inputs()[name])
    before = sorted(os.listdir(tmp_path))
    with pytest.raises(RemapError) as info:
        convert(src, rules=RULES)
    message = str(info.value)
    assert "\n" not in message and str(src) in message
    assert info.value.exit_code == 2
    assert sorted(os.listdir(tmp_path)) == before  # no output, no temp file


def test_bad_input_messages_say_what_is_wrong(tmp_path):
    bad = _bad_inputs()
    expect = {"binary-aep": "save it as .aepx", "utf16-no-bom": "UTF-16 without a byte-order mark",
              "billion-laughs": "DOCTYPE", "external-entity": "DOCTYPE", "truncated": "not well-formed",
              "invalid-utf8": "UTF-8", "invalid-utf8-in-path": "invalid UTF-8", "latin1-declared": "ISO-8859-1"}
    for name, words in expect.items():
        src = tmp_path / f"{name}.aepx"
        src.write_bytes(bad[name])
        with pytest.raises(RemapError, match=words.replace(".", r"\.")):
            convert(src, tmp_path / f"{name}.out.aepx", rules=RULES)


def test_ten_megabyte_attribute_works(tmp_path):
    big = "ab" * (5 * 1024 * 1024)
    text = GOOD.replace('<sspc bdata="', f'<sspc bdata="{big}').replace("<opti ", f'<opti x="{big}" ')
    src = tmp_path / "big-attr.aepx"
    src.write_text(text, encoding="utf-8")
    result = convert(src, tmp_path / "out.aepx", rules=RULES)
    out = (tmp_path / "out.aepx").read_bytes()
    assert result.replaced == 2 and masked(out) == masked(src.read_bytes())


def test_binary_aep_without_needed_mapping_passes_through(tmp_path):
    src = tmp_path / "p.aep"
    src.write_bytes(b"RIFX\x00\x01\x00\x00Egg!" + json.dumps({"fullpath": "/mnt/p/a.png"}).encode() + b"\0" * 32)
    result = convert(src, rules=RULES)
    assert result.kind == "aep" and result.output == src and result.replaced == 0
    assert sorted(os.listdir(tmp_path)) == ["p.aep"]


# ------------------------------------------------------------------------------------------------ convert()

def test_convert_names_deterministically_and_reuses(tmp_path):
    src = tmp_path / "shot.aepx"
    src.write_text(GOOD, encoding="utf-8")
    digest = hashlib.sha256(src.read_bytes()).hexdigest()
    first = convert(src, rules=RULES, target_os="linux")
    assert isinstance(first, ConvertResult) and not first.cached and first.replaced == 2
    assert first.output.parent == tmp_path and first.output.name.startswith("shot.remap-")
    assert first.output.suffix == ".aepx"
    second = convert(src, rules=RULES, target_os="linux")
    assert second.cached and second.output == first.output
    other_rules = convert(src, rules=RuleSet.from_cli(["P:\\=/mnt/q"]), target_os="linux")
    other_os = convert(src, rules=RULES, target_os="mac")
    assert len({first.output, other_rules.output, other_os.output}) == 3
    out_dir = convert(src, rules=RULES, target_os="linux", out_dir=tmp_path / "converted")
    assert out_dir.output == tmp_path / "converted" / first.output.name
    assert out_dir.output.read_bytes() == first.output.read_bytes()
    assert hashlib.sha256(src.read_bytes()).hexdigest() == digest
    assert json.dumps(first.report())  # serialisable
    assert first.report()["replaced"] == 2


def test_convert_flags_unmapped_foreign_paths(tmp_path):
    src = tmp_path / "shot.aepx"
    src.write_text(sample_project_text(footage=["Q:\\x.png", "P:\\y.png", "/opt/z.png"]), encoding="utf-8")
    result = convert(src, tmp_path / "o.aepx", rules=RULES, target_os="linux")
    assert result.unmapped == ["Q:\\x.png"]
    assert convert(src, tmp_path / "o2.aepx", rules=RULES, target_os="windows").unmapped == ["/opt/z.png"]


def test_convert_refuses_to_overwrite_its_input(tmp_path):
    src = tmp_path / "shot.aepx"
    src.write_text(GOOD, encoding="utf-8")
    with pytest.raises(RemapError, match="overwrite the input"):
        convert(src, src, rules=RULES)
    assert src.read_text(encoding="utf-8") == GOOD


def test_detect_kind():
    assert detect_kind(b"RIFX\x00\x00\x00\x10Egg!LIST") == "aep"
    assert detect_kind(GOOD.encode()) == "aepx"
    assert detect_kind(b"\xef\xbb\xbf<!-- <x> -->\n<AfterEffectsProject/>") == "aepx"
    assert detect_kind(b"<?xml version='1.0'?><other/>") == "text"
    assert detect_kind(b'{"a": "P:\\\\x"}') == "text"


# ------------------------------------------------------------------------------------------------ atomic writes

def test_atomic_write_replaces_on_success(tmp_path):
    dst = tmp_path / "f.bin"
    dst.write_bytes(b"old")
    with atomic_write(dst) as f:
        f.write(b"new")
        assert dst.read_bytes() == b"old"  # not visible until the end
    assert dst.read_bytes() == b"new"
    assert os.listdir(tmp_path) == ["f.bin"]


def test_atomic_write_leaves_destination_untouched_on_error(tmp_path):
    dst = tmp_path / "f.bin"
    dst.write_bytes(b"old")
    with pytest.raises(RuntimeError):
        with atomic_write(dst) as f:
            f.write(b"half")
            raise RuntimeError("boom")
    assert dst.read_bytes() == b"old"
    assert os.listdir(tmp_path) == ["f.bin"]
    with pytest.raises(RuntimeError):
        with atomic_write(tmp_path / "new.txt", "w") as f:
            f.write("x")
            raise RuntimeError("boom")
    assert os.listdir(tmp_path) == ["f.bin"]


@pytest.mark.parametrize("child", ["child process", "no child process"])
def test_validation_in_a_child_process_or_not(tmp_path, monkeypatch, child):
    """Large files are checked by a child process; small ones (or without processes) in-process: same verdict."""
    if child == "child process":
        monkeypatch.setattr(aepx_check, "IN_PROCESS_CHECK_MAX", 0)
        started = []
        real_popen = aepx_check.subprocess.Popen

        def popen(*args, **kwargs):
            started.append(args)
            return real_popen(*args, **kwargs)
    else:
        monkeypatch.setattr(aepx_check, "IN_PROCESS_CHECK_MAX", 0)
        started = None

        def popen(*args, **kwargs):
            raise OSError("no processes here")
    monkeypatch.setattr(aepx_check.subprocess, "Popen", popen)
    src = tmp_path / "t.aepx"
    src.write_bytes(GOOD.encode().replace(b"</Als2>", b"</Als3>"))
    with pytest.raises(RemapError, match="not well-formed XML: .*Als2.*Als3"):
        convert_aepx(src, io.BytesIO(), RULES.map, xml_check="full")
    src.write_text(GOOD, encoding="utf-8")
    assert convert_aepx(src, io.BytesIO(), RULES.map, xml_check="full").replaced == 2
    if started is not None:
        assert len(started) == 2


def test_oversized_tokens(monkeypatch, tmp_path):
    """Beyond MAX_TOKEN an expression or hex chunk is passed through and reported; a fileReference is an error."""
    monkeypatch.setattr(aepx_stream, "MAX_TOKEN", 4096)
    monkeypatch.setattr(aepx_stream, "BLOCK", 1000)
    long_expr = 'var f = "P:\\\\x.jsx"; ' + "x" * 10000
    text = sample_project_text(footage=["P:\\a.png"], expressions=[long_expr, 'f("P:\\\\short.jsx")'])
    text = text.replace("<opti ", f'<btdk bdata="{"00" * 8000}"/><opti ')
    data = text.encode("utf-8")
    out, result = convert_bytes(data)
    assert [c.new for c in result.changes] == ["/mnt/p/a.png", "/mnt/p/short.jsx"]
    assert len(result.unsafe) == 2 and "longer than" in result.unsafe[0] and "<btdk>" in result.unsafe[0] \
        and "expression at byte" in result.unsafe[1]
    assert masked(out) == masked(data) and long_expr.replace('"', "&quot;").encode() in out
    huge_path = sample_project_text(footage=["P:\\" + "d" * 10000]).encode("utf-8")
    with pytest.raises(RemapError, match="fileReference> tag at byte .* longer than"):
        convert_bytes(huge_path)


def test_utf16_without_bom_is_refused_even_with_tiny_blocks(monkeypatch):
    monkeypatch.setattr(aepx_stream, "BLOCK", 1)
    with pytest.raises(RemapError, match="UTF-16 without a byte-order mark"):
        convert_bytes(GOOD.encode("utf-16-le"))


def test_fast_check_defers_to_libxml2_and_knows_its_limits(tmp_path):
    """A "/>" inside a value fools the tag count: libxml2 then accepts the file. Mismatched names pass the count;
    only the full check sees them."""
    src = tmp_path / "t.aepx"
    src.write_text(GOOD.replace("<string>Lossless</string>", "<string>a/&gt;b /></string>"), encoding="utf-8")
    assert convert_aepx(src, io.BytesIO(), RULES.map).replaced == 2
    src.write_bytes(GOOD.encode().replace(b"</Als2>", b"</Als3>"))
    assert convert_aepx(src, io.BytesIO(), RULES.map, xml_check="fast").replaced == 2
    with pytest.raises(RemapError, match="Als3"):
        convert_aepx(src, io.BytesIO(), RULES.map, xml_check="full")
    with pytest.raises(ValueError):
        convert_aepx(src, io.BytesIO(), RULES.map, xml_check="maybe")


@pytest.mark.parametrize("damage, words", [
    (lambda d: d[: d.rindex(b"</Fold>")], "Premature end of data"),  # cut after a complete element
    (lambda d: d.replace(b"layer 1", b"lay\0er 1"), "NUL byte|Char 0x0"),
    (lambda d: d.replace(b"<Fold>", b"<!ELEMENT x ANY><Fold>"), "not well-formed"),
])
def test_fast_check_catches_damage(tmp_path, damage, words):
    src = tmp_path / "t.aepx"
    src.write_bytes(damage(GOOD.encode("utf-8")))
    with pytest.raises(RemapError, match=words):
        convert(src, tmp_path / "o.aepx", rules=RULES)
    assert not (tmp_path / "o.aepx").exists()


def test_fast_check_with_tiny_blocks(monkeypatch):
    data = FIXTURE.encode("utf-8")
    for block in (1, 2, 5):
        monkeypatch.setattr(aepx_stream, "BLOCK", block)
        out, result = convert_bytes(data)
        assert result.suspect is None and masked(out) == masked(data)
    with pytest.raises(RemapError, match="does not end with </AfterEffectsProject>"):
        convert_bytes(data[:-30])


def test_listed_changes_are_capped_but_counted(monkeypatch):
    monkeypatch.setattr(aepx_scanner, "CHANGES_KEPT", 2)
    out, result = convert_bytes(FIXTURE.encode("utf-8"))
    assert result.replaced == 7 and len(result.changes) == 2
