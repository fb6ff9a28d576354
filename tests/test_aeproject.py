"""The project model reader: real .aepx data decodes to what an independent reader (aepx.js) says it holds, the
sample writer's chunks round-trip, the render queue is grouped as After Effects lays it out, and every span points at
the value it names."""
from __future__ import annotations

import io
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from aeproject import chunks, cos
from aeproject.errors import ProjectError
from aeproject.reader import read_project
from aeproject.xmlstream import START, TEXT, Scanner
from engines.aftereffects import sample_chunks
from engines.aftereffects.sample_project import CompSpec, QueueSpec, sample_project_text, write_sample_project

FIXTURES = Path(__file__).parent / "fixtures" / "aeproject"


# ------------------------------------------------------------------------------------------------ real files
def test_real_text_layer_project_1layer():
    """aepx.js examples/output/1layer.aepx.json: testcomp1 is 1920x1080 at 60 fps, 30 s (1800 frames); its text
    layer (id 12) shows no item. Its font set holds TimesNewRomanPSMT, Myriad-Roman and AdobeInvisFont; the one
    character run uses font 0."""
    project = read_project(FIXTURES / "1layer-excerpt.aepx")
    assert str(project.version) == "15.0x180" and project.version.os_name == "Windows"
    [comp] = project.comps
    assert (comp.name, comp.item_id, comp.width, comp.height) == ("testcomp1", 1, 1920, 1080)
    assert comp.frame_rate == 60 and comp.duration_frames == 1800
    assert (comp.first_frame, comp.last_frame, comp.work_area) == (0, 1799, (0, 1799))
    [layer] = comp.layers
    assert (layer.layer_id, layer.name, layer.source_id, layer.is_text) == (12, "<empty text layer>", 0, True)
    assert layer.fonts == ["TimesNewRomanPSMT"] and project.fonts == ["TimesNewRomanPSMT"]
    assert project.render_queue == [] and project.footage == [] and project.notes == []


def test_real_footage_folders_and_a_29_97_comp_testproject():
    """aepx.js test/json/testProject.aepx.json: footage 1 is a 500x500 PNG still, 82 a 400x640 movie of 1 s, the
    solid 'Null 1' (id 55, 100x100) sits in the folder 'Solids'; Test-Comp-Animated (id 24) is 2400x3840 at
    29.97 fps for 2894 frames, and its layers 36 and 53 show item 1."""
    project = read_project(FIXTURES / "testProject-excerpt.aepx")
    assert str(project.version) == "13.7x124" and project.version.os_name == "macOS"
    png, movie, solid = project.footage
    assert (png.item_id, png.kind, png.source_format, png.width, png.height, png.still) == \
        (1, "file", "png!", 500, 500, True)
    assert png.path.endswith("/(Footage)/jam3Logo_1.png") and png.file.platform == "MacPOSIX"
    assert png.label == "jam3Logo_1.png"
    assert (movie.item_id, movie.source_format, movie.width, movie.height, movie.still) == \
        (82, "MOoV", 400, 640, False)
    assert (solid.item_id, solid.kind, solid.label, solid.folder, solid.file) == (55, "solid", "Null 1", "Solids", None)
    assert project.folders == ["Solids"]
    [comp] = project.comps
    assert (comp.name, comp.item_id, comp.width, comp.height) == ("Test-Comp-Animated", 24, 2400, 3840)
    assert abs(comp.frame_rate - 29.97) < 1e-4 and comp.duration_frames == 2894
    assert [(layer.layer_id, layer.name, layer.source_id) for layer in comp.layers] == \
        [(36, "staticLogo", 1), (53, "animatedLogoBezier", 1)]
    assert project.fonts == []


def test_real_spans_point_at_the_raw_values():
    """What a template job rewrites: a fileReference's fullpath, an item or layer name (escaped as written)."""
    raw = (FIXTURES / "1layer-excerpt.aepx").read_bytes()
    project = read_project(FIXTURES / "1layer-excerpt.aepx")
    comp = project.comps[0]
    assert raw[comp.name_span.start:comp.name_span.end] == b"testcomp1"
    layer = comp.layers[0]
    assert raw[layer.name_span.start:layer.name_span.end] == b"&lt;empty text layer&gt;"
    raw = (FIXTURES / "testProject-excerpt.aepx").read_bytes()
    project = read_project(FIXTURES / "testProject-excerpt.aepx")
    for item in project.footage:
        if item.file is not None:
            assert raw[item.file.span.start:item.file.span.end].decode() == item.file.path


def test_real_chunk_layouts_decode_by_hand():
    """The layouts of aeproject.chunks on real bytes: the 29.97 fps cdta and an ldta of testProject.aepx."""
    data = bytes.fromhex(
        "000100010000032000005da800000000000002580000000000005da80000000000000258ffffffff00000258002353c00000"
        "5da8ffffff000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000"
        "0000000000000000000000000000000000000000000000000000000000000000000000000000020009600f00000000010000"
        "000100000000001df852000000000000000000000bb5000000b4000001680000000000000168000000000000000000000080"
        "00000010")
    assert len(data) == 204
    settings = chunks.cdta(data)
    assert (settings.width, settings.height, settings.work_area_end) == (2400, 3840, None)
    assert settings.frame_rate == 29 + 63570 / 65536 and settings.frames(settings.duration) == 2894
    layer = chunks.ldta(bytes.fromhex(
        "0000003500020000000000010000000000005da80000000000005da800046a7800000bb50001040700000001000000000000"
        "0000000000000000000100050000616e696d617465644c6f676f42657a696572000000000000000000000000000000000007"
        "0000000000000000000000010000000000000000000000000000000000000000000000000000000000000000000000000000"
        "00000000000000000000"))
    assert (layer.layer_id, layer.source_id, layer.short_name) == (53, 1, "animatedLogoBezier")
    header = chunks.lhd3(bytes.fromhex("00d00bee000000000000000000000001000002020000000500000001000000050000000000000000"
                                       "000000000000000000000000"))
    # nm05ae12.aepx (AE 12.1): an empty queue in an older layout (514-byte items, kind 5 where AE 15+ writes 1)
    assert (header.item_count, header.item_size, header.kind) == (0, 514, 5)
    assert chunks.render_settings(bytes(514)) is None  # not decoded: unknown layout


def test_real_btdk_font_set_and_runs():
    layer = read_project(FIXTURES / "1layer-excerpt.aepx").comps[0].layers[0]
    raw = (FIXTURES / "1layer-excerpt.aepx").read_text(encoding="utf-8")
    hexdata = raw.split('<btdk bdata="', 1)[1].split('"', 1)[0]
    data = cos.parse(bytes.fromhex(hexdata))
    assert cos.font_set(data) == ["TimesNewRomanPSMT", "Myriad-Roman", "AdobeInvisFont"]
    assert cos.run_font_indices(data) == [0] and layer.fonts == ["TimesNewRomanPSMT"]
    # data the parser cannot follow still names the font set (by the CoolTypeFont marker), never the invisible font
    assert cos.fonts_used(bytes.fromhex(hexdata)[:900]) == ["TimesNewRomanPSMT", "Myriad-Roman"]


# ------------------------------------------------------------------------------------------------ the sample shape
@given(width=st.integers(1, 30000), height=st.integers(1, 30000),
       fps=st.sampled_from([23.976, 24.0, 25.0, 29.97, 30.0, 48.0, 50.0, 59.94, 60.0, 120.0]),
       duration=st.integers(1, 1_000_000), start=st.integers(-100_000, 100_000),
       work=st.tuples(st.integers(0, 1000), st.integers(-1, 1000)))
def test_cdta_round_trips(width, height, fps, duration, start, work):
    """Exact to the frame for comps up to a million frames (the 16.16 frame rate is After Effects' own rounding)."""
    settings = chunks.cdta(sample_chunks.cdta(width, height, fps, duration, start, work))
    assert (settings.width, settings.height) == (width, height)
    assert abs(settings.frame_rate - fps) < 1 / 65536
    assert settings.frames(settings.duration) == duration and settings.frames(settings.display_start) == start
    assert settings.frames(settings.work_area_start) == work[0]
    if work[1] < 0:
        assert settings.work_area_end is None
    else:
        assert settings.frames(settings.work_area_end) == work[1] + 1


@given(comp_id=st.integers(0, 2**32 - 1), queued=st.booleans(), span=st.tuples(st.integers(0, 10**6),
       st.integers(0, 10**6)), template=st.text(st.characters(min_codepoint=32, max_codepoint=126), max_size=63))
def test_render_settings_round_trip(comp_id, queued, span, template):
    item = chunks.render_settings(sample_chunks.render_settings(comp_id, queued, 25.0, span, template))
    assert (item.comp_id, item.status, item.template) == (comp_id, 2 if queued else 1, template)
    assert round(item.start * 25) == span[0] and round(item.duration * 25) == span[1]
    assert item.time_span_source == (2 if span[1] else 0)


def test_render_queue_items_output_modules_and_comp_links(tmp_path):
    comps = [CompSpec("Main"), CompSpec("Titles", frame_rate=29.97, duration_frames=300, display_start_frame=1001)]
    queue = [QueueSpec("Titles", output_folder="/renders/titles/", output_template="[compName]_[####].tif",
                       format="TIFF Sequence with Alpha", format_id="TIF ", comment="for review"),
             QueueSpec(0, queued=False, span=(24, 48), output_folder="D:\\movies\\", output_template="main.mov",
                       format="H.264", format_id="H264")]
    project = read_project(write_sample_project(tmp_path / "q.aepx", comps=comps, queue=queue))
    first, second = project.render_queue
    assert (first.index, project.queue_comp(first).name, first.queued, first.status_name) == \
        (1, "Titles", True, "queued")
    assert (first.start_frame, first.duration_frames, first.settings, first.comment) == \
        (1001, 300, "Best Settings", "for review")
    [om] = first.output_modules
    assert (om.folder.path, om.file_template, om.format, om.format_id) == \
        ("/renders/titles", "[compName]_[####].tif", "TIFF Sequence with Alpha", "TIF ")
    assert (project.queue_comp(second).name, second.queued, second.status_name, second.render_flag) == \
        ("Main", False, "unqueued", False)
    assert (second.start_frame, second.duration_frames) == (24, 48)
    assert (second.output_modules[0].folder.path, second.output_modules[0].folder.platform) == ("D:\\movies", "Win")


def test_sample_text_layers_report_only_the_fonts_their_runs_use(tmp_path):
    project = read_project(write_sample_project(tmp_path / "f.aepx", comps=[
        CompSpec("A", fonts=("Helvetica-Bold", "ArialMT")), CompSpec("B", fonts=("ArialMT",))]))
    assert project.fonts == ["ArialMT", "Helvetica-Bold"]  # never the unused MyriadPro-Regular nor AdobeInvisFont
    assert [layer.fonts for layer in project.comps[0].layers if layer.is_text] == [["Helvetica-Bold", "ArialMT"]]


def test_expression_spans_and_nested_folders(tmp_path):
    text = sample_project_text(footage=["/a/b.png"], expressions=["thisComp.name", 'x = "a&b"'])
    path = tmp_path / "e.aepx"
    path.write_text(text, encoding="utf-8")
    raw = path.read_bytes()
    layer = read_project(path).comps[0].layers[0]
    assert [raw[s.start:s.end] for s in layer.expression_spans] == [b"thisComp.name", b"x = &quot;a&amp;b&quot;"]


# ------------------------------------------------------------------------------------------------ refusals
@pytest.mark.parametrize("content, word", [
    (b"RIFX\x00\x00\x10\x00Egg!LIST", "save it as .aepx"),
    (b"<?xml version='1.0'?><root/>", "not an After Effects project"),
    (b'<?xml version="1.0"?>\n<!DOCTYPE x [<!ENTITY a "b">]><AfterEffectsProject/>', "DOCTYPE"),
    (b'<AfterEffectsProject><Fold><Item></Fold></AfterEffectsProject>', "does not close <Item>"),
    (b'<AfterEffectsProject><Fold><Item>', "truncated"),
    (b'<AfterEffectsProject><Fold><Item><string>a &bogus; b</string></Item></Fold></AfterEffectsProject>',
     "undefined entity"),
    (b'<AfterEffectsProject><string>\xff\xfe</string></AfterEffectsProject>', "UTF-8"),
    (b'<AfterEffectsProject></AfterEffectsProject><AfterEffectsProject/>', "second root"),
    (b'<AfterEffectsProject><!DOCTYPE x></AfterEffectsProject>', "DOCTYPE"),
    ("<AfterEffectsProject/>".encode("utf-16"), "UTF-16"),
])
def test_bad_projects_are_one_line_errors(tmp_path, content, word):
    path = tmp_path / "bad.aepx"
    path.write_bytes(content)
    with pytest.raises(ProjectError) as info:
        read_project(path)
    message = str(info.value)
    assert word in message and "\n" not in message and str(path) in message


def test_missing_and_folder_projects(tmp_path):
    with pytest.raises(ProjectError, match="no such file"):
        read_project(tmp_path / "none.aepx")
    with pytest.raises(ProjectError, match="folder"):
        read_project(tmp_path)


# ------------------------------------------------------------------------------------------------ the stream
def _events(data: bytes, block: int, max_token: int = 1 << 26):
    scanner = Scanner(io.BytesIO(data), "t", ["idta", "fileReference", "cdta", "btdk"], block=block,
                      max_token=max_token)
    return [(e.kind, e.name, e.start, e.end, e.text, e.depth,
             {k: tuple(v) for k, v in (e.attrs or {}).items()}) for e in scanner.events()], scanner


SAMPLE = sample_project_text(footage=["C:\\a & b\\plate_0001.png", "/x/\u00e9t\u00e9/seq/"],
                             comps=[CompSpec("Main", fonts=("ArialMT",)), "T\u00eftres <&>"],
                             output_folder="/out/", expressions=['"quoted" & <less>']).encode("utf-8")


@given(block=st.integers(1, 300))
def test_events_do_not_depend_on_where_blocks_end(block):
    assert _events(SAMPLE, block)[0] == _events(SAMPLE, 1 << 20)[0]


def test_text_events_and_attribute_spans():
    events, _ = _events(SAMPLE, 7)
    texts = [(e[4], SAMPLE[e[2]:e[3]]) for e in events if e[0] == TEXT and e[4]]
    assert ("T\u00eftres <&>", "T\u00eftres &lt;&amp;&gt;".encode("utf-8")) in texts
    refs = [e[6] for e in events if e[0] == START and e[1] == "fileReference"]
    value, start, end = refs[0]["fullpath"]
    assert value == "C:\\a & b\\plate_0001.png" and SAMPLE[start:end] == b"C:\\a &amp; b\\plate_0001.png"


def test_a_kept_tag_longer_than_the_limit_is_skipped_and_noted():
    events, scanner = _events(SAMPLE, 64, max_token=512)
    btdk = [e for e in events if e[0] == START and e[1] == "btdk"]
    assert btdk and btdk[0][6] == {} and any("btdk" in note for note in scanner.notes)
    assert [e for e in events if e[1] == "idta" and e[6]]  # short kept tags are still read
