"""Path mapping rules: every path form of docs/formats.md §2, validation, and the laws (hypothesis)."""
from __future__ import annotations

import json
import string

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from remap.errors import RemapError
from remap.paths import ae_platform, parse_path, path_os, path_to_uri, uri_to_path
from remap.rule import Rule
from remap.rules import RuleSet

RULES = RuleSet.from_cli([
    r"P:\=/mnt/p",
    r"\\srv\proj=/mnt/proj",
    r"C:\projects=/mnt/projects",
    r"C:\projects\client A=/mnt/clientA",
    "/Volumes/Projects=/mnt/vp",
    "/projects=/mnt/projects",
    r"Q:\=\\fs\q",
    "/Volumes/Win=W:\\",
    r"R:/=S:/r",
    r"C:\Prøjekt=/mnt/prø",
])

MAPPED = [
    # drive letters in either case, either separator, mixed
    (r"P:\a\b.png", "/mnt/p/a/b.png"),
    (r"p:\a\b.png", "/mnt/p/a/b.png"),
    ("P:/a/b.png", "/mnt/p/a/b.png"),
    (r"p:/a\b/c.png", "/mnt/p/a/b/c.png"),
    # component boundary and longest prefix
    (r"C:\projects\x.png", "/mnt/projects/x.png"),
    (r"C:\PROJECTS\x.png", "/mnt/projects/x.png"),
    (r"C:\projects\client A\x.png", "/mnt/clientA/x.png"),
    (r"c:/projects/CLIENT a/x.png", "/mnt/clientA/x.png"),
    (r"C:\projects\client AB\x.png", "/mnt/projects/client AB/x.png"),
    # equal to the prefix: the destination, no trailing separator added; a trailing one is kept
    (r"C:\projects", "/mnt/projects"),
    (r"C:\projects" + "\\", "/mnt/projects/"),
    (r"C:\projects\client A", "/mnt/clientA"),
    (r"P:" + "\\", "/mnt/p/"),
    # the remainder keeps its text (no normalisation), re-joined with the destination's separator
    (r"C:\projects\a\..\b\.\c", "/mnt/projects/a/../b/./c"),
    (r"C:\projects\a\\b", "/mnt/projects/a//b"),
    (r"C:\projects\ünï cødé\ß.png", "/mnt/projects/ünï cødé/ß.png"),
    (r"C:\projects\seq_[####].exr", "/mnt/projects/seq_[####].exr"),
    # UNC, either separator, any case
    (r"\\srv\proj\a\b", "/mnt/proj/a/b"),
    (r"\\SRV\Proj\a\b", "/mnt/proj/a/b"),
    ("//srv/proj/a/b", "/mnt/proj/a/b"),
    (r"\\srv\proj", "/mnt/proj"),
    # long-path prefixes
    (r"\\?\C:\projects\a", "/mnt/projects/a"),
    (r"\\?\UNC\srv\proj\a", "/mnt/proj/a"),
    (r"\\?\unc\SRV\proj\a", "/mnt/proj/a"),
    # file: URIs stay URIs; the remainder keeps its percent-encoding
    ("file:///C:/projects/a%20b.png", "file:///mnt/projects/a%20b.png"),
    ("FILE:///c:/Projects/a.png", "file:///mnt/projects/a.png"),
    ("file://srv/proj/x%23y", "file:///mnt/proj/x%23y"),
    ("file:///Volumes/Projects/x", "file:///mnt/vp/x"),
    ("file://localhost/Volumes/Projects/x", "file:///mnt/vp/x"),
    ("file:/Volumes/Projects/x", "file:///mnt/vp/x"),
    ("file:///C:/Pr%C3%B8jekt/x", "file:///mnt/pr%C3%B8/x"),
    ("file:///C:/projects", "file:///mnt/projects"),
    ("file:///Volumes/Win/a%20b", "file:///W:/a%20b"),
    # POSIX: case-sensitive
    ("/Volumes/Projects/a/b.mov", "/mnt/vp/a/b.mov"),
    ("/Volumes/Projects", "/mnt/vp"),
    ("/projects/a", "/mnt/projects/a"),
    # to Windows: the destination's separator; long paths stay long (backslashes only)
    (r"Q:\a/b", r"\\fs\q\a\b"),
    (r"\\?\Q:\a\b", r"\\?\UNC\fs\q\a\b"),
    ("/Volumes/Win/a/b", r"W:\a\b"),
    ("/Volumes/Win", "W:\\"),
    (r"R:\a\b", "S:/r/a/b"),
    (r"\\?\R:\a", r"\\?\S:\r\a"),
    # non-ASCII sources match case-insensitively too
    (r"c:\PRØJEKT\x", "/mnt/prø/x"),
    # already mapped (inside a destination): unchanged, so mapping is idempotent
    ("/mnt/projects/a", "/mnt/projects/a"),
    ("/mnt/p/x", "/mnt/p/x"),
    (r"\\fs\q\a", r"\\fs\q\a"),
]

UNTOUCHED = [
    r"C:\projects2\x.png",  # component boundary
    r"\\srv\project2\x",
    r"\\srv2\proj\x",
    r"D:\x",
    "/other/x",
    "/volumes/projects/a",  # POSIX is case-sensitive by default
    "/Volumes/ProjectsX/a",
    # relative paths of every kind
    "projects/x", r".\x", "x", r"\x", "C:x", "P:", "~/x", "", "../p/x", "file:relative/x",
]


@pytest.mark.parametrize("path, expected", MAPPED)
def test_map_table(path, expected):
    assert RULES.map(path) == expected


@pytest.mark.parametrize("path", UNTOUCHED)
def test_untouched_table(path):
    assert RULES.map(path) is None
    assert RULES.match(path) is None


@pytest.mark.parametrize("path, expected", MAPPED)
def test_mapping_the_output_again_changes_nothing(path, expected):
    assert RULES.map(expected) == expected


def test_match_reports_the_rule_applied():
    mapped, rule = RULES.match(r"C:\projects\client A\x")
    assert mapped == "/mnt/clientA/x"
    assert rule.origin == "--map #4" and rule.source_os == "windows" and rule.case_sensitive is False
    assert RULES.match("/Volumes/Projects/x")[1].case_sensitive is True


def test_destination_containing_its_source_never_loops():
    rules = RuleSet.from_cli(["/projects=/mnt/projects", "/mnt=/mnt/nfs"])
    assert rules.map("/projects/a") == "/mnt/projects/a"
    assert rules.map("/mnt/x") == "/mnt/nfs/x"
    assert rules.map("/mnt/nfs/x") == "/mnt/nfs/x"
    inside = RuleSet.from_cli([r"C:\proj=C:\proj\sub"])
    assert inside.map(r"C:\proj\a") == r"C:\proj\sub\a"
    assert inside.map(r"C:\proj\sub\a") == r"C:\proj\sub\a"


def test_case_insensitive_posix_option():
    rules = RuleSet.from_cli(["/Volumes/Projects=/mnt/vp"], case_insensitive_posix=True)
    assert rules.map("/volumes/PROJECTS/Shot/a.png") == "/mnt/vp/Shot/a.png"
    assert RuleSet([Rule("/Volumes/P", "/mnt/p", "posix", False, "x")]).map("/volumes/p/a") == "/mnt/p/a"


def test_root_sources_and_destinations():
    rules = RuleSet.from_cli([r"C:\=/"])
    assert rules.map(r"C:\a\b") == "/a/b"
    assert rules.map("C:\\") == "/"
    assert RuleSet.from_cli(["/=D:\\"]).map("/a/b") == r"D:\a\b"
    assert RuleSet.from_cli(["/=D:\\"]).map("/") == "D:\\"
    with pytest.raises(RemapError, match="mapped again"):
        RuleSet.from_cli([r"C:\=/", "/=D:\\"])  # C:\x -> /x -> D:\x: not idempotent
    with pytest.raises(RemapError, match="mapped again"):
        RuleSet.from_cli(["/Volumes/X=/"])  # /Volumes/X/Volumes/X/a -> /Volumes/X/a -> /a


def test_trailing_separators_in_rules_are_ignored():
    a = RuleSet.from_cli([r"P:\proj\=/mnt/p/"])
    b = RuleSet.from_cli([r"p:/proj=/mnt/p"])
    assert a.map(r"P:\proj\x") == b.map(r"P:\proj\x") == "/mnt/p/x"
    assert a.map(r"P:\proj") == "/mnt/p"
    assert a.fingerprint() == b.fingerprint()


def test_bare_drive_in_rules_means_the_drive_root():
    rules = RuleSet.from_cli(["P:=/mnt/p", "/Volumes/Q=Q:"])
    assert rules.map(r"P:\a") == "/mnt/p/a"
    assert rules.map("/Volumes/Q/a") == r"Q:\a"


def test_uri_rules_are_unwrapped():
    rules = RuleSet.from_cli(["file:///C:/My%20Proj=file:///mnt/my%20proj"])
    assert rules.map(r"C:\My Proj\a") == "/mnt/my proj/a"
    assert rules.map("file:///C:/My%20Proj/a%20b") == "file:///mnt/my%20proj/a%20b"


# ---- validation ---------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("pairs, words", [
    (["=/mnt/p"], ["--map #1", "empty source"]),
    (["/ok=/x", "proj=/mnt"], ["--map #2", "'proj'", "not absolute"]),
    ([r"P:\=mnt"], ["--map #1", "not an absolute path"]),
    (["P:/x"], ["--map #1", "SRC=DST"]),
    ([r"P:\=/a", "p:/=/b"], ["--map #2", "--map #1", "'/a'", "'/b'"]),
    (["/a=/b", "/b/c=/d"], ["--map #2", "inside the destination", "--map #1"]),
    (["/a=/b", "/b=/c"], ["--map #2", "inside the destination"]),
    (["/a/b/c=/a/b"], ["--map #1", "mapped again"]),
    ([r"\\=/x"], ["--map #1", "not absolute"]),
])
def test_bad_rules_are_one_clear_line(pairs, words):
    with pytest.raises(RemapError) as info:
        RuleSet.from_cli(pairs)
    message = str(info.value)
    assert "\n" not in message
    for word in words:
        assert word in message, (word, message)
    assert info.value.exit_code == 2


def test_duplicates_with_the_same_destination_collapse():
    rules = RuleSet.from_cli([r"P:\=/mnt/p", "p:/=/mnt/p/", r"P:\=/mnt/p"])
    assert len(rules) == 1 and bool(rules)
    assert [r.origin for r in rules] == ["--map #1"]
    assert not RuleSet() and len(RuleSet()) == 0 and RuleSet().map(r"P:\x") is None


def test_identity_rules_are_allowed_and_harmless():
    rules = RuleSet.from_cli(["/mnt/p=/mnt/p", "/mnt/p/old=/archive"])
    assert rules.map("/mnt/p/x") == "/mnt/p/x"
    assert rules.map("/mnt/p/old/x") == "/archive/x"


def test_pair_split_takes_the_first_equals_followed_by_an_absolute_path():
    rules = RuleSet.from_cli([r"P:\a=b=/mnt/x", "/a=/b=c"])
    assert [(r.source, r.destination) for r in rules] == [(r"P:\a=b", "/mnt/x"), ("/a", "/b=c")]


def test_rule_validates_itself():
    with pytest.raises(RemapError, match="rules file rule 3: source '/x' is not absolute"):
        Rule("/x", "D:\\", "windows", None, "rules file rule 3")
    with pytest.raises(RemapError, match="cannot be case-sensitive"):
        Rule("C:\\x", "/y", "windows", True, "r")
    with pytest.raises(RemapError, match="unknown source OS"):
        Rule("/x", "/y", "beos", None, "r")
    with pytest.raises(RemapError, match="r: empty destination"):
        Rule("/x", "  ", "", None, "r")
    with pytest.raises(RemapError):
        RuleSet(["/x=/y"])  # type: ignore[list-item]


def test_merged_validates_across_sets():
    a = RuleSet.from_cli([r"P:\=/mnt/p"])
    b = RuleSet.from_openjd_dict({"version": "pathmapping-1.0", "path_mapping_rules": [
        {"source_path_format": "WINDOWS", "source_path": "p:\\", "destination_path": "/other"}]})
    with pytest.raises(RemapError, match="rules file rule 1.*--map #1"):
        a.merged(b)
    c = a.merged(RuleSet.from_cli(["/Volumes/P=/mnt/p"]))
    assert len(c) == 2 and c.map("/Volumes/P/x") == "/mnt/p/x" and c.map(r"P:\x") == "/mnt/p/x"


# ---- OpenJD rules files -------------------------------------------------------------------------------------------

def test_openjd_rules_file(tmp_path):
    doc = {"version": "pathmapping-1.0", "path_mapping_rules": [
        {"source_path_format": "WINDOWS", "source_path": "Z:\\Projects", "destination_path": "/mnt/projects"},
        {"source_path_format": "POSIX", "source_path": "/Volumes/Z", "destination_path": "/mnt/z"},
    ]}
    path = tmp_path / "rules.json"
    path.write_text(json.dumps(doc), encoding="utf-8")
    rules = RuleSet.from_openjd_file(path)
    assert rules.map(r"z:\projects\a.png") == "/mnt/projects/a.png"
    assert rules.map("/Volumes/Z/a") == "/mnt/z/a"
    assert [r.origin for r in rules] == ["rules file rules.json rule 1", "rules file rules.json rule 2"]
    empty = tmp_path / "empty.json"
    empty.write_text("{}", encoding="utf-8")
    assert len(RuleSet.from_openjd_file(empty)) == 0


@pytest.mark.parametrize("doc, words", [
    ({"version": "pathmapping-2.0", "path_mapping_rules": []}, ["unsupported version"]),
    ({"version": "pathmapping-1.0"}, ["path_mapping_rules"]),
    ({"version": "pathmapping-1.0", "path_mapping_rules": [{"source_path_format": "DOS", "source_path": "a",
                                                              "destination_path": "/b"}]}, ["rule 1", "WINDOWS"]),
    ({"version": "pathmapping-1.0", "path_mapping_rules": [{"source_path_format": "POSIX", "source_path": "C:\\x",
                                                              "destination_path": "/b"}]}, ["rule 1", "not absolute"]),
    ({"version": "pathmapping-1.0", "path_mapping_rules": [{"source_path_format": "POSIX", "source_path": "/x",
                                                              "destination_path": 3}]}, ["destination_path"]),
    ({"version": "pathmapping-1.0", "path_mapping_rules": ["x"]}, ["rule 1", "object"]),
    ([], ["object"]),
])
def test_bad_openjd_documents(doc, words):
    with pytest.raises(RemapError) as info:
        RuleSet.from_openjd_dict(doc)
    for word in words:
        assert word in str(info.value)


@pytest.mark.parametrize("content, words", [("{", "invalid JSON"), (b"\xff\xfe", "not UTF-8")])
def test_unreadable_rules_file(tmp_path, content, words):
    path = tmp_path / "r.json"
    path.write_bytes(content if isinstance(content, bytes) else content.encode())
    with pytest.raises(RemapError, match=words):
        RuleSet.from_openjd_file(path)
    with pytest.raises(RemapError, match="cannot read"):
        RuleSet.from_openjd_file(tmp_path / "missing.json")


# ---- fingerprint --------------------------------------------------------------------------------------------------

def test_fingerprint_is_stable_and_ignores_order_origin_and_spelling():
    a = RuleSet.from_cli([r"P:\=/mnt/p", "/Volumes/P=/mnt/vp"])
    b = RuleSet([Rule("/Volumes/P", "/mnt/vp", origin="x"), Rule("p:/", "/mnt/p/", origin="y")])
    assert a.fingerprint() == b.fingerprint() and a == b
    assert len(a.fingerprint()) == 64 and all(c in string.hexdigits for c in a.fingerprint())
    assert a.fingerprint() != RuleSet.from_cli([r"P:\=/mnt/q", "/Volumes/P=/mnt/vp"]).fingerprint()
    assert a.fingerprint() != RuleSet.from_cli([r"P:\=/mnt/p", "/Volumes/P=/mnt/vp"],
                                               case_insensitive_posix=True).fingerprint()
    assert RuleSet().fingerprint() == RuleSet.from_openjd_dict({}).fingerprint()
    # a fixed value: output names derived from it must not change between releases by accident
    assert RuleSet.from_cli([r"P:\=/mnt/p"]).fingerprint() == RuleSet.from_cli(["P:/=/mnt/p"]).fingerprint()


# ---- one path -----------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("path, family, platform", [
    (r"C:\x", "windows", "Win"), ("c:/x", "windows", "Win"), (r"\\srv\share\x", "windows", "Win"),
    ("//srv/share", "windows", "Win"), (r"\\?\C:\x", "windows", "Win"), (r"\\?\UNC\srv\s\x", "windows", "Win"),
    ("file:///C:/x", "windows", "Win"), ("file://srv/share/x", "windows", "Win"),
    ("/Volumes/x", "posix", "MacPOSIX"), ("/", "posix", "MacPOSIX"), ("///x", "posix", "MacPOSIX"),
    ("file:///mnt/x", "posix", "MacPOSIX"),
    ("x/y", None, "MacPOSIX"), ("C:x", None, "MacPOSIX"), (r"\x", None, "MacPOSIX"), ("", None, "MacPOSIX"),
])
def test_path_os_and_ae_platform(path, family, platform):
    assert path_os(path) == family
    assert ae_platform(path) == platform


def test_uri_round_trip():
    assert uri_to_path("file:///C:/a%20b/c") == r"C:\a b\c"
    assert uri_to_path("file://srv/share/x") == r"\\srv\share\x"
    assert uri_to_path("file:///mnt/a%20b") == "/mnt/a b"
    assert uri_to_path("/mnt/x") is None
    for plain in (r"C:\a b\c", r"\\srv\share\x y", "/mnt/ä b"):
        assert uri_to_path(path_to_uri(plain)) == plain
    assert parse_path(r"\\?\UNC\srv\share\x").components == ["", "", "srv", "share", "x"]


# ---- laws ---------------------------------------------------------------------------------------------------------

NAME = st.text(alphabet=string.ascii_letters + string.digits + " ._-éßØ", min_size=1, max_size=8).filter(
    lambda s: s not in (".", ".."))
COMPONENTS = st.lists(NAME, min_size=1, max_size=3)


def _win(comps, drive="S", sep="\\"):
    return f"{drive}:{sep}" + sep.join(comps)


@st.composite
def rule_sets(draw):
    """Distinct Windows and POSIX sources, destinations in a separate tree (no chains), some nested sources."""
    rules = []
    seen = set()
    for index in range(draw(st.integers(1, 5))):
        comps = draw(COMPONENTS)
        kind = draw(st.sampled_from(["win", "posix", "unc"]))
        if kind == "win":
            src = _win(comps)
        elif kind == "unc":
            src = "\\\\srv\\" + "\\".join(comps)
        else:
            src = "/src/" + "/".join(comps)
        key = src.casefold() if kind != "posix" else src
        if key in seen:
            continue
        seen.add(key)
        dst = draw(st.sampled_from([f"/dst/{index}", f"D:\\dst{index}", f"\\\\fs\\d{index}", f"E:/d/{index}"]))
        rules.append(Rule(src, dst, origin=f"r{index}"))
    return RuleSet(rules)


@st.composite
def paths_for(draw, rules):
    """A path under one of the rules' sources (in another case / separator for Windows), or a random one."""
    rule = draw(st.sampled_from(list(rules)))
    rest = draw(st.lists(NAME, max_size=3))
    src = rule.source
    if rule.source_os == "windows":
        if draw(st.booleans()):
            src = src.replace("\\", "/") if not src.startswith("\\\\") else src
        if draw(st.booleans()):
            src = src.swapcase()
        sep = draw(st.sampled_from(["\\", "/"]))
    else:
        sep = "/"
    return src + "".join(sep + r for r in rest) if rest else src


@given(st.data())
def test_law_idempotent(data):
    rules = data.draw(rule_sets())
    path = data.draw(paths_for(rules))
    once = rules.map(path)
    assert once is not None
    assert rules.map(once) == once


@given(st.data())
def test_law_remainder_kept_and_rejoined(data):
    rules = data.draw(rule_sets())
    rule = data.draw(st.sampled_from(list(rules)))
    rest = data.draw(st.lists(NAME, min_size=1, max_size=4))
    seps = data.draw(st.lists(st.sampled_from(["\\", "/"]), min_size=len(rest), max_size=len(rest)))
    if rule.source_os == "posix":
        seps = ["/"] * len(rest)
    path = rule.source + "".join(sep + r for sep, r in zip(seps, rest))

    def folded(text: str, windows: bool) -> str:
        return text.replace("\\", "/").lower() if windows else text

    # a longer rule that also covers this path wins by design (test_law_longest_prefix_wins): not this law's case
    assume(not any(
        len(other.source) > len(rule.source)
        and (folded(path, other.source_os == "windows") + "/").startswith(
            folded(other.source, other.source_os == "windows").rstrip("/") + "/")
        for other in rules))
    mapped, used = rules.match(path)
    assert used == rule
    dst_sep = "/" if "/" in rule.destination else "\\"
    assert mapped == rule.destination + dst_sep + dst_sep.join(rest)


@given(prefix=COMPONENTS, extra=COMPONENTS, rest=st.lists(NAME, max_size=3))
def test_law_longest_prefix_wins(prefix, extra, rest):
    short = "/s/" + "/".join(prefix)
    long = short + "/" + "/".join(extra)
    rules = RuleSet([Rule(short, "/short"), Rule(long, "/long")])
    path = long + "".join("/" + r for r in rest)
    assert rules.map(path) == "/long" + "".join("/" + r for r in rest)
    assert rules.match(path)[1].source == long
    other = short + "/" + "/".join(extra[:-1] + [extra[-1] + "x"])
    assert rules.map(other) == "/short/" + other[len(short) + 1:]


@given(st.data())
def test_law_unmatched_untouched(data):
    rules = data.draw(rule_sets())
    comps = data.draw(COMPONENTS)
    path = data.draw(st.sampled_from([_win(comps, drive="Y"), "/elsewhere/" + "/".join(comps),
                                      "\\\\other\\" + "\\".join(comps), "/".join(comps)]))
    assert rules.map(path) is None


@given(prefix=COMPONENTS, rest=st.lists(NAME, max_size=3), inside=st.booleans())
def test_law_destination_containing_its_source_maps_once(prefix, rest, inside):
    src = "/" + "/".join(prefix)
    dst = src + "/sub" if inside else "/mnt" + src
    rules = RuleSet([Rule(src, dst)])
    path = src + "".join("/" + r for r in rest)
    once = rules.map(path)
    assert once == dst + "".join("/" + r for r in rest)
    assert rules.map(once) == once


@given(st.data())
def test_law_windows_case_and_separator_do_not_matter(data):
    comps = data.draw(COMPONENTS)
    rest = data.draw(st.lists(NAME, max_size=3))
    rules = RuleSet([Rule(_win(comps), "/m")])
    variant = _win([c.swapcase() for c in comps], drive="s", sep="/")
    assume(all(c.swapcase().casefold() == c.casefold() for c in comps))
    assert rules.map(variant + "".join("\\" + r for r in rest)) == "/m" + "".join("/" + r for r in rest)


SMALL = st.lists(st.sampled_from(["a", "A", "b", "c"]), min_size=0, max_size=3)


def _small_path(draw_kind, comps):
    if draw_kind == "win":
        return "C:\\" + "\\".join(comps)
    return "/" + "/".join(comps)


@given(st.data())
def test_law_any_accepted_rule_set_is_idempotent(data):
    """Rules drawn from a tiny vocabulary overlap in every way; a set that is accepted must map idempotently."""
    rules = []
    for index in range(data.draw(st.integers(1, 4))):
        src = _small_path(data.draw(st.sampled_from(["win", "posix"])), data.draw(SMALL))
        dst = _small_path(data.draw(st.sampled_from(["win", "posix"])), data.draw(SMALL))
        insensitive = data.draw(st.booleans())
        rules.append(Rule(src, dst, case_sensitive=None if src.startswith("C:") or not insensitive else False,
                          origin=f"r{index}"))
    try:
        rule_set = RuleSet(rules)
    except RemapError as exc:
        assert "\n" not in str(exc)
        return
    for _ in range(5):
        path = _small_path(data.draw(st.sampled_from(["win", "posix"])), data.draw(SMALL))
        once = rule_set.map(path)
        if once is not None:
            assert rule_set.map(once) == once, (rules, path, once)


def test_openjd_round_trip():
    rules = RuleSet.from_cli([r"P:\=/mnt/p", "/Volumes/P=Q:\\"])
    doc = rules.to_openjd_dict()
    assert doc["version"] == "pathmapping-1.0"
    assert [r["source_path_format"] for r in doc["path_mapping_rules"]] == ["WINDOWS", "POSIX"]
    assert RuleSet.from_openjd_dict(json.loads(json.dumps(doc))).fingerprint() == rules.fingerprint()
    assert RuleSet().to_openjd_dict() == {}


@given(drive=st.sampled_from("cCzZ"), comps=st.lists(NAME, max_size=4), unc=st.booleans(),
       seps=st.lists(st.sampled_from(["\\", "/"]), min_size=6, max_size=6))
def test_windows_parsing_agrees_with_pathlib(drive, comps, unc, seps):
    """pathlib is the reference for what the drive/share of a Windows path is; we only keep the text verbatim."""
    from pathlib import PureWindowsPath

    head = f"{seps[0]}{seps[1]}srv{seps[2]}share" if unc else f"{drive}:"
    path = head + "".join(seps[(i % 3) + 3] + c for i, c in enumerate(comps)) + ("" if comps or unc else "\\")
    parsed = parse_path(path)
    assert parsed is not None and parsed.family == "windows"
    pure = PureWindowsPath(path)
    assert pure.is_absolute()
    ours_drive = "\\\\" + "\\".join(parsed.components[2:4]) if unc else parsed.components[0]
    assert ours_drive.casefold() == pure.drive.replace("/", "\\").casefold()
    assert [c for c in parsed.components[(4 if unc else 1):] if c] == list(pure.parts[1:])
