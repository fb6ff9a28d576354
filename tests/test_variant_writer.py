"""Template variants are written byte-exactly: a variant differs from its template only in the replaced values.

Tested as remap is: the variant's bytes are the template's with exactly the planned edits applied, each edit lies
inside a value (a fileReference attribute, a layer name, the ldta header's name bytes, an expression literal's
content), and reading the variant back gives the new values with everything else unchanged.
"""
from __future__ import annotations

import io
import json
import os
import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from aeproject.chunks import ldta
from aeproject.offers import data_reads, reads_layer_name, template_offers
from aeproject.reader import read_project
from aeproject.variant import (
    Swap,
    VariantError,
    ldta_name_hex,
    plan_variant,
    relative_location,
    string_literals,
    variant_edits,
    volume_names,
)
from engines.aftereffects.sample_project import LayerSpec, sample_project_text
from remap.splice import ByteEdit, SpliceError, splice


def reader(data: bytes):
    return lambda start, end: data[start:end]


def apply(data: bytes, edits) -> bytes:
    out, pos = bytearray(), 0
    for e in sorted(edits):
        out += data[pos:e.start] + e.new
        pos = e.end
    return bytes(out + data[pos:])


def value_spans(project, data: bytes):
    """Every byte span a variant may change: fileReference attribute values, layer names, the ldta name window,
    the contents of expression string literals."""
    spans = []
    for item in project.footage:
        if item.file is not None:
            spans += [span for _, span in item.file.attributes.values()]
    for comp in project.comps:
        for layer in comp.layers:
            if layer.name_span:
                spans.append(layer.name_span)
            if layer.ldta_span:
                spans.append(type(layer.ldta_span)(layer.ldta_span.start + 128, layer.ldta_span.start + 192))
            for span in layer.expression_spans:
                raw = data[span.start:span.end].decode("utf-8")
                spans += [type(span)(span.start + a, span.start + b) for a, b, _, _ in string_literals(raw)]
    return spans


def template_bytes(layer_names, literals, footage):
    layers = [LayerSpec(name, text="t", expressions=("thisLayer.name",)) for name in layer_names]
    layers.append(LayerSpec("Lits", expressions=tuple(f'var a = "{k}"; var b = \'{k}\'; a + b' for k in literals)))
    return sample_project_text(footage=footage, layers=layers, output_folder="/out/").encode("utf-8")


_names = st.text(alphabet=st.sampled_from(list("abcXYZ09 _-&<>\"'é漢/\\")), min_size=1, max_size=12)
_values = st.text(alphabet=st.sampled_from(list("abcXYZ09 _-&<>\"'\\é漢/\n$")), min_size=0, max_size=40)


@settings(max_examples=40)
@given(names=st.lists(_names, min_size=1, max_size=3, unique=True),
       keys=st.lists(st.text(alphabet="ABCDEFGH", min_size=1, max_size=6), min_size=1, max_size=3, unique=True),
       new_names=st.lists(_values.filter(lambda v: v.strip() and "\n" not in v), min_size=3, max_size=3),
       new_literals=st.lists(_values, min_size=3, max_size=3),
       new_path=st.sampled_from(["/mnt/a b/ph&oto.png", "C:\\Users\\x\\é.png", "\\\\srv\\share\\p.png",
                                 "/Volumes/Media/p'q.png"]),
       pick=st.integers(0, 7))
def test_a_variant_differs_from_its_template_only_in_the_replaced_values(names, keys, new_names, new_literals,
                                                                         new_path, pick):
    data = template_bytes(names, keys, ["/tmp/t/photo.png", "D:\\media\\clip.mov"])
    project = read_project_bytes(data)
    layers = {n: v for n, v in zip(names, new_names)} if pick & 1 else {}
    literals = {k: v for k, v in zip(keys, new_literals)} if pick & 2 else {}
    swaps = [Swap("photo.png", new_path)] if pick & 4 or not (layers or literals) else []
    changes = plan_variant(project, reader(data), "/work/v/1/card.aepx", swaps, layers, literals)
    edits = variant_edits(changes)
    out = io.BytesIO()
    splice(io.BytesIO(data), out, edits)
    variant = out.getvalue()
    assert variant == apply(data, edits)
    allowed = value_spans(project, data)
    for edit in edits:  # every changed byte is inside one value
        assert any(s.start <= edit.start and edit.end <= s.end for s in allowed), edit
    back = read_project_bytes(variant)
    # the new values read back, and nothing else changed
    assert [c.name for c in back.comps] == [c.name for c in project.comps]
    assert len(back.render_queue) == len(project.render_queue)
    by_old = {layer.name: layer for layer in project.comps[0].layers}
    for old_layer, new_layer in zip(project.comps[0].layers, back.comps[0].layers):
        want = layers.get(old_layer.name, old_layer.name)
        assert new_layer.name == want
        assert new_layer.layer_id == old_layer.layer_id and new_layer.source_id == old_layer.source_id
        raw_hex = variant[new_layer.ldta_span.start:new_layer.ldta_span.end].decode()
        assert ldta(bytes.fromhex(raw_hex)).short_name == want.encode("cp1252", "replace")[:31].decode("cp1252")
    assert set(by_old) >= set(layers)
    footage = {f.item_id: f for f in back.footage}
    for item in project.footage:
        if swaps and item.label == "photo.png":
            assert footage[item.item_id].path == new_path
            assert footage[item.item_id].file.platform == ("Win" if new_path[0] in "C\\" else "MacPOSIX")
        else:
            assert footage[item.item_id].path == item.path
    lits = back.comps[0].layers[-1]
    raw = variant[lits.expression_spans[0].start:lits.expression_spans[-1].end].decode()
    values = [v for _, _, _, v in string_literals(raw)]
    for key in keys:
        assert values.count(literals.get(key, key)) >= 2 or key not in literals


def read_project_bytes(data: bytes):
    import tempfile

    with tempfile.NamedTemporaryFile(suffix=".aepx", delete=False) as handle:
        handle.write(data)
    try:
        return read_project(handle.name)
    finally:
        os.unlink(handle.name)


def test_the_fileReference_follows_its_new_path_consistently(tmp_path):
    data = template_bytes(["N"], ["K"], ["D:\\media\\photo.png"])
    project = read_project_bytes(data)
    changes = plan_variant(project, reader(data), "/work/jobs/v1/card.aepx",
                           [Swap("photo.png", "/work/media/a.png")])
    variant = apply(data, variant_edits(changes))
    tag = re.search(rb"<fileReference [^>]*a\.png[^>]*/>", variant).group(0).decode()
    attrs = dict(re.findall(r'(\w+)="([^"]*)"', tag))
    assert attrs == {"ascendcount_base": "3", "ascendcount_target": "2", "fullpath": "/work/media/a.png",
                     "platform": "MacPOSIX", "server_name": "", "server_volume_name": "",
                     "target_is_folder": "0"}
    assert list(attrs) == sorted(attrs)  # the seven attributes, still in After Effects' order


@pytest.mark.parametrize("project, target, expected", [
    ("/a/b/p.aepx", "/a/b/x.png", (1, 1)),
    ("/a/b/p.aepx", "/a/c/x.png", (2, 2)),
    ("/a/b/p.aepx", "/x.png", (3, 1)),
    ("C:\\jobs\\p.aepx", "c:\\JOBS\\media\\x.png", (1, 2)),  # Windows: no case
    ("C:\\jobs\\p.aepx", "D:\\x.png", (3, 2)),  # another drive: counted up to the root
    ("/a/p.aepx", "C:\\x.png", (3, 2)),  # another OS's path: the same
    ("/a/b/p.aepx", "/a/b/seq/", (1, 1)),
])
def test_relative_location_names_the_file_it_is_computed_for(project, target, expected):
    assert relative_location(project, target) == expected
    base, count = expected
    sep = "\\" if "\\" in project else "/"
    if sep == "\\" and not target.lower().startswith(project[:2].lower()):
        return  # no shared root: nothing to resolve to
    if sep == "/" and not target.startswith("/"):
        return
    # the documented reading: climb `base` levels from the project file, then the last `count` components
    folder = [p for p in project.split(sep)][:-1]
    up = folder[:len(folder) - (base - 1)]
    tail = [p for p in re.split(r"[\\/]", target) if p][-count:]
    resolved = sep.join(up + tail)
    assert resolved.lower() == target.rstrip("/\\").lower()


@pytest.mark.parametrize("new, old, expected", [
    ("\\\\srv\\share\\a\\b.png", "D:\\x.png", ("srv", "share")),
    ("D:\\y\\b.png", "d:\\x.png", ("ws-01", "HDD")),  # same drive: the template's names stay
    ("E:\\y\\b.png", "D:\\x.png", ("", "")),  # another drive: unknown, never invented
    ("/Volumes/Media/b.png", "/Users/x.png", ("", "Media")),
    ("/Users/b.png", "/Users/x.png", ("ws-01", "HDD")),
    ("/Users/b.png", "D:\\x.png", ("", "")),
])
def test_volume_names_follow_the_path(new, old, expected):
    assert volume_names(new, old, "ws-01", "HDD") == expected


def test_ldta_name_is_cut_and_padded_like_after_effects_writes_it():
    assert ldta_name_hex("NAME") == ("4e414d45" + "00" * 28)
    long = ldta_name_hex("x" * 40)
    assert len(long) == 64 and long.endswith("00") and bytes.fromhex(long).rstrip(b"\0") == b"x" * 31
    assert bytes.fromhex(ldta_name_hex("漢é")).rstrip(b"\0") == "?é".encode("cp1252")


@pytest.mark.parametrize("literal, value", [
    ("KEY", 'say "hi" & <go>'),
    ("KEY", "C:\\path\\é"),
    ("KEY", "line\nbreak"),
    ("KEY", "it's"),
])
def test_literal_values_are_javascript_escaped_inside_xml(literal, value):
    data = template_bytes(["N"], [literal], [])
    project = read_project_bytes(data)
    changes = plan_variant(project, reader(data), "/v/p.aepx", literals={literal: value})
    variant = apply(data, variant_edits(changes))
    layer = read_project_bytes(variant).comps[0].layers[-1]
    raw = variant[layer.expression_spans[0].start:layer.expression_spans[0].end].decode()
    decoded = [v for _, _, _, v in string_literals(raw)]
    assert decoded == [value, value]
    assert "<" not in raw and "\n" not in raw  # XML text stays markup-free; a JS string holds no raw newline


def test_keys_that_name_nothing_are_refused_with_one_line():
    data = template_bytes(["N"], ["K"], ["/t/photo.png", "/u/photo.png"])
    project = read_project_bytes(data)
    read = reader(data)
    for call, words in [
        (lambda: plan_variant(project, read, "/v/p.aepx", [Swap("nope.png", "/x.png")]), "not a file footage"),
        (lambda: plan_variant(project, read, "/v/p.aepx", [Swap("photo.png", "/x.png")]), "#1"),  # ambiguous
        (lambda: plan_variant(project, read, "/v/p.aepx", [Swap("#1", "relative.png")]), "absolute"),
        (lambda: plan_variant(project, read, "/v/p.aepx", layers={"Nope": "x"}), "not in the template"),
        (lambda: plan_variant(project, read, "/v/p.aepx", literals={"ZZ": "x"}), "no expression"),
    ]:
        with pytest.raises(VariantError) as info:
            call()
        assert words in str(info.value) and "\n" not in str(info.value)
    assert plan_variant(project, read, "/v/p.aepx", [Swap("#2", "/x.png")])[0].new == "/x.png"  # by id


def test_splice_copies_real_files_and_refuses_a_changed_input(tmp_path):
    src = tmp_path / "in.bin"
    data = os.urandom(3 << 20)
    src.write_bytes(data)
    edits = [ByteEdit(10, 14, data[10:14], b"XY"), ByteEdit((2 << 20) + 5, (2 << 20) + 5, b"", b"inserted")]
    with open(src, "rb") as inp, open(tmp_path / "out.bin", "wb") as out:
        written = splice(inp, out, edits)
    assert (tmp_path / "out.bin").read_bytes() == apply(data, edits) and written == len(apply(data, edits))
    with pytest.raises(SpliceError, match="not the one read before"):
        splice(io.BytesIO(data), io.BytesIO(), [ByteEdit(0, 2, b"!!", b"x")])
    with pytest.raises(SpliceError, match="overlap"):
        splice(io.BytesIO(data), io.BytesIO(), [ByteEdit(0, 4, data[:4], b""), ByteEdit(2, 5, data[2:5], b"")])
    with pytest.raises(SpliceError, match="ends at byte"):
        splice(io.BytesIO(b"short"), io.BytesIO(), [ByteEdit(10, 12, b"ab", b"")])


def test_offers_list_footage_data_layers_and_literals():
    data = template_bytes(["Title"], ["PRICE"], ["/t/photo.png", "/t/data.json"])
    project = read_project_bytes(data)
    offers = template_offers(project, reader(data))
    assert [f["name"] for f in offers["footage"]] == ["photo.png"]
    assert [f["name"] for f in offers["data"]] == ["data.json"]
    title = [layer for layer in offers["layers"] if layer["name"] == "Title"][0]
    assert title["text"] and title["source_text_reads_name"]
    assert {"PRICE"} <= {lit["value"] for lit in offers["literals"]}
    json.dumps(offers)  # plain data


@pytest.mark.parametrize("expression, reads", [
    ("thisLayer.name", True), ("name", True), ("this.name", True), ("text.sourceText", False),
    ('"name"', False), ("thisComp.layer(1).name", False), ("myname", False),
])
def test_reads_layer_name(expression, reads):
    assert reads_layer_name(expression) is reads


def test_data_reads():
    assert data_reads('footage("data.json").sourceData.x + footage(\'b.csv\').dataValue([0,1])') == \
        ["data.json", "b.csv"]


def test_footage_can_become_an_image_sequence_folder():
    data = template_bytes(["N"], ["K"], ["/t/plate_0001.png"])
    project = read_project_bytes(data)
    changes = plan_variant(project, reader(data), "/work/v/card.aepx",
                           [Swap("plate_0001.png", "/media/shots/sh010", is_folder=True)])
    back = read_project_bytes(apply(data, variant_edits(changes)))
    item = back.footage[0]
    assert item.kind == "folder" and item.file.is_folder and item.path == "/media/shots/sh010"
    assert item.file.attributes["ascendcount_base"][0] == "3" and item.file.attributes["ascendcount_target"][0] == "3"
