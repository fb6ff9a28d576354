"""The sample .aepx writer: the shape docs/formats.md §1 describes, so scanners, converters and the simulator meet reality."""
from __future__ import annotations

import os

import pytest
from hypothesis import given
from hypothesis import strategies as st
from lxml import etree

from engines.aftereffects.sample_project import NAMESPACE, sample_project_text, write_sample_project

NS = {"ae": NAMESPACE}


def parse(path):
    parser = etree.XMLParser(resolve_entities=False, no_network=True, huge_tree=True)
    return etree.parse(str(path), parser)


def footage_refs(tree):
    return tree.xpath("//ae:Fold//ae:Item/ae:Pin/ae:Als2/ae:fileReference", namespaces=NS)


def test_declaration_namespace_tabs_and_utf8(tmp_path):
    out = write_sample_project(tmp_path / "p.aepx", footage=["/Volumes/proj/Ünï/a.png"])
    raw = out.read_bytes()
    assert raw.startswith(b'<?xml version="1.0" encoding="UTF-8"?>\n<AfterEffectsProject xmlns="')
    assert not raw.startswith(b"\xef\xbb\xbf")
    assert "Ünï".encode("utf-8") in raw  # raw UTF-8, not character references
    assert b"\n\t<Fold>\n\t\t<Item>\n" in raw
    root = parse(out).getroot()
    assert root.tag == f"{{{NAMESPACE}}}AfterEffectsProject"
    assert all(el.tag.startswith(f"{{{NAMESPACE}}}") for el in root.iter(etree.Element))


def test_footage_platform_folder_and_attribute_order(tmp_path):
    paths = ["D:\\Projects\\x\\nm.png", "\\\\srv\\share\\plates\\sh010\\", "/mnt/projects/a b/c.mov",
             "/Volumes/media/seq/", "p:/JOB_7/mixed\\slash.wav"]
    out = write_sample_project(tmp_path / "p.aepx", footage=paths)
    refs = footage_refs(parse(out))
    got = [(r.get("fullpath"), r.get("platform"), r.get("target_is_folder")) for r in refs]
    assert got == [
        ("D:\\Projects\\x\\nm.png", "Win", "0"),
        ("\\\\srv\\share\\plates\\sh010", "Win", "1"),
        ("/mnt/projects/a b/c.mov", "MacPOSIX", "0"),
        ("/Volumes/media/seq", "MacPOSIX", "1"),
        ("p:/JOB_7/mixed\\slash.wav", "Win", "0"),
    ]
    assert refs[1].get("server_name") == "srv" and refs[1].get("server_volume_name") == "share"
    for ref in refs:
        assert list(ref.keys()) == ["ascendcount_base", "ascendcount_target", "fullpath", "platform",
                                    "server_name", "server_volume_name", "target_is_folder"]
        # footage is told from output by its Pin ancestor
        assert ref.getparent().getparent().tag == f"{{{NAMESPACE}}}Pin"


def test_footage_items_are_type_0007_and_comps_0004_with_names(tmp_path):
    out = write_sample_project(tmp_path / "p.aepx", footage=["/a/b.png"], comps=["Main", "Titles & <FX>"])
    tree = parse(out)
    items = tree.xpath("/ae:AfterEffectsProject/ae:Fold/ae:Item", namespaces=NS)
    kinds = [item.find("ae:idta", NS).get("bdata")[:4] for item in items]
    assert kinds == ["0007", "0004", "0004"]
    names = [item.find("ae:string", NS).text for item in items[1:]]
    assert names == ["Main", "Titles & <FX>"]
    assert b"Titles &amp; &lt;FX&gt;" in out.read_bytes()


def test_render_queue_output_folder_and_template(tmp_path):
    out = write_sample_project(tmp_path / "p.aepx", output_folder="\\\\fs\\renders\\JOB\\", output_template="[compName]_[####].tif")
    tree = parse(out)
    refs = tree.xpath("//ae:LRdr/ae:LItm/ae:LOm/ae:Als2/ae:fileReference", namespaces=NS)
    assert len(refs) == 1
    assert refs[0].get("fullpath") == "\\\\fs\\renders\\JOB"
    assert refs[0].get("target_is_folder") == "1" and refs[0].get("platform") == "Win"
    strings = [s.text for s in tree.xpath("//ae:LOm/ae:string", namespaces=NS)]
    assert strings == ["Lossless", "[compName]_[####].tif"]
    assert footage_refs(tree) == []


def test_empty_render_queue_without_output_folder(tmp_path):
    """After Effects always writes LRdr; an empty queue is an lhd3 counting 0 items and an empty LItm (as in
    real files: aepx.js's empty.aepx, nexrender's nm05ae12.aepx)."""
    tree = parse(write_sample_project(tmp_path / "p.aepx"))
    lrdr = tree.xpath("/ae:AfterEffectsProject/ae:LRdr", namespaces=NS)
    assert len(lrdr) == 1
    lhd3 = bytes.fromhex(lrdr[0].find("ae:list/ae:lhd3", NS).get("bdata"))
    assert int.from_bytes(lhd3[10:12], "big") == 0 and int.from_bytes(lhd3[18:20], "big") == 2246
    assert tree.xpath("//ae:LItm/*", namespaces=NS) == [] and tree.xpath("//ae:LOm", namespaces=NS) == []


def test_expressions_are_escaped_and_round_trip(tmp_path):
    expr = '$.evalFile("P:/scripts\\\\a&b.jsx"); value < 3'
    out = write_sample_project(tmp_path / "p.aepx", expressions=[expr])
    raw = out.read_bytes().decode("utf-8")
    assert '<tdbs><cdat bdata="0000"/><string>$.evalFile(&quot;P:/scripts\\\\a&amp;b.jsx&quot;); value &lt; 3' \
           "</string></tdbs>" in raw
    texts = [s.text for s in parse(out).xpath("//ae:tdbs[ae:cdat[@bdata='0000']]/ae:string", namespaces=NS)]
    assert texts == [expr]


def test_escaping_in_paths(tmp_path):
    path = "/Users/me/Director's Cut & <b> \"q\"/x.png"
    out = write_sample_project(tmp_path / "p.aepx", footage=[path])
    assert footage_refs(parse(out))[0].get("fullpath") == path


def test_atomic_write_leaves_no_temp_and_returns_path(tmp_path):
    dst = tmp_path / "p.aepx"
    dst.write_text("old")
    assert write_sample_project(dst, comps=["A"]) == dst
    assert os.listdir(tmp_path) == ["p.aepx"]
    assert dst.read_text(encoding="utf-8").endswith("</AfterEffectsProject>\n")


def test_failed_write_leaves_old_file(tmp_path):
    dst = tmp_path / "p.aepx"
    dst.write_text("old")
    with pytest.raises(ValueError):
        write_sample_project(dst, comps=["bad\x01name"])
    assert dst.read_text() == "old" and os.listdir(tmp_path) == ["p.aepx"]


def test_a_single_string_is_refused_not_split_into_characters():
    with pytest.raises(TypeError):
        sample_project_text(footage="/a/b.png")


xml_text = st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00\ufffe\uffff"
                                 + "".join(chr(c) for c in range(1, 32) if c not in (9, 10, 13))),
                   min_size=1, max_size=30)


@given(name=xml_text, path_tail=xml_text, expr=xml_text)
def test_any_text_round_trips_through_lxml(name, path_tail, expr):
    path = "/x/" + path_tail
    text = sample_project_text(footage=[path], comps=[name], expressions=[expr])
    parser = etree.XMLParser(resolve_entities=False, no_network=True)
    root = etree.fromstring(text.encode("utf-8"), parser)
    ref = root.find(".//ae:Pin/ae:Als2/ae:fileReference", NS)
    assert ref.get("fullpath") == path.rstrip("/\\")
    assert ref.get("target_is_folder") == ("1" if path[-1] in "/\\" else "0")
    comp = root.xpath("//ae:Item[starts-with(ae:idta/@bdata, '0004')]/ae:string", namespaces=NS)[0]
    assert (comp.text or "") == name
    got_expr = root.xpath("//ae:tdbs[ae:cdat[@bdata='0000']]/ae:string", namespaces=NS)[0].text or ""
    assert got_expr == expr
