"""aerender lines: splitting byte streams into lines and lines into events (docs/formats.md §3)."""
from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from stmpo.lines import (
    AeWarning,
    CompFinished,
    CompStarted,
    FatalError,
    FrameRendered,
    LineSplitter,
    TotalTime,
    decode_line,
    parse_duration,
    parse_line,
    timecode_to_frame,
)

# ---------------------------------------------------------------------------------------------------------------
# parse_line: every shape

RENDER = [
    # (line, expected event)
    ("PROGRESS:  0:00:00:00 (1): 0 Seconds", FrameRendered(1, "0:00:00:00", 0.0)),
    ("PROGRESS:  0:00:00:01 (2): 3 Seconds", FrameRendered(2, "0:00:00:01", 3.0)),
    ("PROGRESS:  0;00;00;01 (2): 3 Seconds", FrameRendered(2, "0;00;00;01", 3.0)),
    ("PROGRESS:  0:00:10:05 (245): 1 Min, 2 Sec", FrameRendered(245, "0:00:10:05", 62.0)),
    ("PROGRESS:  0:00:10:05 (245): 26 Hr, 15 Min", FrameRendered(245, "0:00:10:05", 26 * 3600 + 15 * 60.0)),
    ("PROGRESS:  0:00:00:02 (3): 1 Second", FrameRendered(3, "0:00:00:02", 1.0)),
    ("PROGRESS:  0:00:00:02 (3): 2 Hours, 1 Minute, 5 Seconds", FrameRendered(3, "0:00:00:02", 7265.0)),
    ("PROGRESS:0:00:00:02 (3): 0 Seconds", FrameRendered(3, "0:00:00:02", 0.0)),
    ("0:00:00:02 (3): 0 Seconds", FrameRendered(3, "0:00:00:02", 0.0)),          # log file: no prefix
    ("PROGRESS:  00012 (13): 0 Seconds", FrameRendered(13, "00012", 0.0)),       # project displayed in frames
    ("PROGRESS:  0:00:00:02 (3): ", FrameRendered(3, "0:00:00:02", 0.0)),        # no duration text
    ("  0:00:00:02 (3): 0 Seconds  ", FrameRendered(3, "0:00:00:02", 0.0)),
    ("\ufeffPROGRESS:  0:00:00:02 (3): 0 Seconds", FrameRendered(3, "0:00:00:02", 0.0)),
    # compositions: no/straight/curly quotes, any date format, with and without prefix
    ('PROGRESS:  4/30/2018 3:10:50 PM: Starting composition "main".', CompStarted("main", "4/30/2018 3:10:50 PM")),
    ("PROGRESS:  30.04.2018 15:10:50: Starting composition main.", CompStarted("main", "30.04.2018 15:10:50")),
    ("PROGRESS:  2018-04-30 15:10:50: Starting composition \u201cMy Comp\u201d.",
     CompStarted("My Comp", "2018-04-30 15:10:50")),
    ("PROGRESS:  2018/04/30 \u5348\u5f8c 3:10:50: Starting composition \u201emain\u201c.",
     CompStarted("main", "2018/04/30 \u5348\u5f8c 3:10:50")),
    ('4/30/2018 3:10:50 PM: Starting composition "main".', CompStarted("main", "4/30/2018 3:10:50 PM")),
    ('Starting composition "main"', CompStarted("main", "")),
    ('PROGRESS:  4/30/2018 3:11:50 PM: Finished composition "main".', CompFinished("main", "4/30/2018 3:11:50 PM")),
    ("PROGRESS:  30/04/2018 15:11:50: Finished composition \u201cv1.2\u201d.", CompFinished("v1.2", "30/04/2018 15:11:50")),
    ("PROGRESS:  Total Time Elapsed: 1 Min, 28 Sec", TotalTime(88.0)),
    ("Total Time Elapsed: 0 Seconds", TotalTime(0.0)),
    ("PROGRESS:  Total Time Elapsed: 26 Hr, 15 Min", TotalTime(94500.0)),
    # fatal
    ("aerender ERROR: No comp was found with the given name.",
     FatalError("aerender ERROR: No comp was found with the given name.")),
    ("PROGRESS:  After Effects error: Unable to Render: File Not Found D:\\x.psd",
     FatalError("After Effects error: Unable to Render: File Not Found D:\\x.psd")),
    ("aerender Error: After Effects error: out of memory", FatalError("aerender Error: After Effects error: out of memory")),
    ("AFTER EFFECTS ERROR: something", FatalError("AFTER EFFECTS ERROR: something")),
    ("4/30/2018 3:10:50 PM: After Effects error: crash", FatalError("4/30/2018 3:10:50 PM: After Effects error: crash")),
    ("aerender error", FatalError("aerender error")),
    # warnings
    ("WARNING:After Effects warning: Project has missing fonts.",
     AeWarning("WARNING:After Effects warning: Project has missing fonts.")),
    ("PROGRESS:  MISSING FOOTAGE, drawing color bars: File Not Found C:\\a.mov",
     AeWarning("MISSING FOOTAGE, drawing color bars: File Not Found C:\\a.mov")),
    ("After Effects warning: low memory", AeWarning("After Effects warning: low memory")),
]

NOT_EVENTS = [
    "aerender version 24.6x67",
    "PROGRESS: Launching After Effects...",
    "PROGRESS: ...After Effects successfully launched",
    "PROGRESS: Adding specified comp to Render Queue",
    "PROGRESS:  Render Settings: Best Settings",
    "PROGRESS:  Start: 0:00:00:00",
    "PROGRESS:  Output To: D:\\out\\x_[#####].png",
    "PROGRESS:  Output To: D:\\aerender error\\x_[#####].png",      # "aerender error" inside a path
    "PROGRESS:  Output Module: error-free lossless",                 # bare "error" is not fatal
    "PROGRESS:  Skipped frames due to error concealment: 0",
    "Errors: 0",
    "",
    "   ",
    "PROGRESS:",
    "PROGRESS:  4/30/2018 3:10:50 PM",
]


@pytest.mark.parametrize("line,expected", RENDER)
def test_parse_line_shapes(line, expected):
    assert parse_line(line) == expected


@pytest.mark.parametrize("line", NOT_EVENTS)
def test_lines_without_events(line):
    assert parse_line(line) is None


@given(spaces=st.text(" \t\u3000", min_size=1, max_size=3),
       tc=st.lists(st.text("0123456789\u0663", min_size=1, max_size=3), min_size=4, max_size=4),
       index=st.text("0123456789", min_size=1, max_size=5), between=st.sampled_from([" ", "", "  ", "\t"]),
       seconds=st.text("0123456789\u0663", min_size=1, max_size=4),
       unit=st.sampled_from(["Seconds", "Second", "seconds", "Sec", "Seconds.", "Seconds ", "Min", "Secondsx"]),
       sep=st.sampled_from([":", ";", "."]), head=st.sampled_from(["PROGRESS:", "progress:", "PROGRESS :"]))
def test_the_common_frame_line_fast_path_agrees_with_the_general_grammar(spaces, tc, index, between, seconds, unit,
                                                                        sep, head):
    """Frame lines near the shape aerender prints (the fast path's) parse exactly as the general path does (a
    leading space sends a line through the general path only)."""
    text = f"{head}{spaces}{sep.join(tc)}{between}({index}):{between}{seconds} {unit}"
    assert parse_line(text) == parse_line(" " + text)


def test_launcher_and_render_spacing_both_parse():
    one = parse_line("PROGRESS: 0:00:00:01 (2): 3 Seconds")
    two = parse_line("PROGRESS:  0:00:00:01 (2): 3 Seconds")
    assert one == two == FrameRendered(2, "0:00:00:01", 3.0)


@pytest.mark.parametrize("text,seconds", [
    ("0 Seconds", 0.0), ("3 Seconds", 3.0), ("1 Min, 2 Sec", 62.0), ("26 Hr, 15 Min", 94500.0),
    ("1.5 Seconds", 1.5), ("1,5 Seconds", 1.5), ("2 min", 120.0), ("nothing", None), ("", None),
])
def test_parse_duration(text, seconds):
    assert parse_duration(text) == seconds


@given(st.text(max_size=200))
def test_parse_line_never_raises(text):
    event = parse_line(text)
    assert event is None or isinstance(event, (FrameRendered, CompStarted, CompFinished, TotalTime, FatalError,
                                               AeWarning))


@given(st.text(max_size=80).filter(lambda t: "effects" not in t.lower() and "aerender" not in t.lower()))
def test_bare_error_word_is_never_fatal(noise):
    assert not isinstance(parse_line(f"PROGRESS:  {noise} error {noise}"), FatalError)


# ---------------------------------------------------------------------------------------------------------------
# timecodes

@pytest.mark.parametrize("tc,fps,frame", [
    ("0:00:00:00", 24, 0), ("0:00:00:01", 24, 1), ("0:00:01:00", 24, 24), ("1:00:00:00", 25, 90000),
    ("0:00:01:00", 29.97, 30),                                     # non-drop counts in the nominal rate
    ("0;00;59;29", 29.97, 1799), ("0;01;00;02", 29.97, 1800),      # frames 0 and 1 of minute 1 are dropped
    ("0;10;00;00", 29.97, 17982), ("0;09;59;29", 29.97, 17981),    # minute 10 keeps its frames
    ("1;00;00;00", 29.97, 107892),                                 # one hour of 29.97 DF
    ("0;01;00;04", 59.94, 3600), ("0;10;00;00", 59.94, 35964),
    ("0;00;01;00", 24, 24),                                        # ';' at a non-NTSC rate: nothing to drop
    ("00012", 24, 12), ("-3", 24, -3), ("2+05", 24, 37),
])
def test_timecode_to_frame(tc, fps, frame):
    assert timecode_to_frame(tc, fps) == frame


@given(st.integers(min_value=0, max_value=2_000_000))
def test_drop_frame_timecodes_are_contiguous(n):
    """Law: encoding frame n as 29.97 DF timecode and decoding it gives n back (so no gaps, no repeats)."""
    per_10_min = 17982
    d, m = divmod(n, per_10_min)
    adjusted = n + 18 * d + (2 * ((m - 2) // 1798) if m > 1 else 0)
    ff, rest = adjusted % 30, adjusted // 30
    tc = f"{rest // 3600};{rest // 60 % 60:02d};{rest % 60:02d};{ff:02d}"
    assert timecode_to_frame(tc, 29.97) == n


@pytest.mark.parametrize("bad", ["", "abc", "1:2", "0:00:00:xx"])
def test_timecode_rejects_garbage(bad):
    with pytest.raises(ValueError):
        timecode_to_frame(bad, 24)


# ---------------------------------------------------------------------------------------------------------------
# byte streams -> lines

def split_all(chunks, **kw):
    splitter = LineSplitter(**kw)
    out = []
    for chunk in chunks:
        out.extend(splitter.feed(chunk))
    out.extend(splitter.flush())
    return out


@pytest.mark.parametrize("data,lines", [
    (b"a\nb\n", ["a", "b"]),
    (b"a\r\nb\r\n", ["a", "b"]),
    (b"a\rb\r", ["a", "b"]),
    (b"a\r\n\r\nb", ["a", "", "b"]),
    (b"a\r\rb", ["a", "", "b"]),
    (b"a\n\rb", ["a", "", "b"]),
    (b"tail", ["tail"]),
    (b"", []),
    ("caf\u00e9 \u2192 ok\n".encode("utf-8"), ["caf\u00e9 \u2192 ok"]),
    ("caf\u00e9 \u201cComp\u201d\r\n".encode("cp1252"), ["caf\u00e9 \u201cComp\u201d"]),
    (b"bad \x81\x8d byte\n", ["bad \ufffd\ufffd byte"]),          # undefined in cp1252: replaced, no raise
])
def test_splitter_table(data, lines):
    assert split_all([data]) == lines


def test_cr_at_end_of_feed_then_lf_at_start_of_next():
    splitter = LineSplitter()
    assert splitter.feed(b"PROGRESS:  0:00:00:01 (2): 3 Seconds\r") == ["PROGRESS:  0:00:00:01 (2): 3 Seconds"]
    assert splitter.feed(b"\nnext\r") == ["next"]
    assert splitter.feed(b"\r") == [""]   # a second CR is a real (empty) line, not half a CRLF
    assert splitter.flush() == []


def test_mixed_encodings_are_decided_per_line():
    data = "\u00fcber\n".encode("utf-8") + "\u00fcber\n".encode("cp1252")
    assert split_all([data]) == ["\u00fcber", "\u00fcber"]


def test_every_split_position_gives_the_same_lines():
    data = ("PROGRESS:  4/30/2018 3:10:50 PM: Starting composition \u201cM\u00e4in\u201d.\r\n"
            "PROGRESS:  0:00:00:00 (1): 0 Seconds\r"
            "PROGRESS:  0:00:00:01 (2): 3 Seconds\n\r\n").encode("cp1252")
    expected = split_all([data])
    assert expected[0].endswith("\u201cM\u00e4in\u201d.")
    for i in range(len(data) + 1):
        for j in range(i, len(data) + 1):
            assert split_all([data[:i], data[i:j], data[j:]]) == expected


def test_over_long_line_is_cut_not_lost():
    data = b"x" * 25 + b"\n" + "\u00e9".encode() * 10 + b"\n"
    lines = split_all([data], max_line=8)
    assert "".join(lines[:4]) == "x" * 25 and all(len(line.encode()) <= 8 for line in lines)
    assert "".join(lines[4:]) == "\u00e9" * 10   # cuts never split a UTF-8 character
    assert split_all([data[i:i + 1] for i in range(len(data))], max_line=8) == lines


_ALPHABET = [b"\r", b"\n", b"a", b"PROGRESS:  ", b"\xe9", b"\xc3\xa9", b"\xe2\x80\x9c", b"\x93", b"\x00"]


@given(st.lists(st.sampled_from(_ALPHABET), max_size=60).map(b"".join), st.data())
def test_feed_boundaries_do_not_matter(data, draw):
    """Law: splitting the same bytes at any feed boundaries gives the same lines."""
    cuts = sorted(draw.draw(st.lists(st.integers(0, len(data)), max_size=8)))
    pieces = [data[a:b] for a, b in zip([0] + cuts, cuts + [len(data)])]
    max_line = draw.draw(st.sampled_from([4, 7, 64 * 1024]))
    assert split_all(pieces, max_line=max_line) == split_all([data], max_line=max_line)


@given(st.lists(st.text(alphabet=st.characters(blacklist_characters="\r\n", blacklist_categories=("Cs",)),
                        max_size=20), max_size=10),
       st.sampled_from(["\n", "\r\n", "\r"]), st.sampled_from(["utf-8", "cp1252"]))
def test_lines_round_trip(lines, newline, encoding):
    lines = [line for line in lines if _encodable(line, encoding)]
    data = "".join(line + newline for line in lines).encode(encoding)
    got = split_all([data[i:i + 3] for i in range(0, len(data), 3)])
    if encoding == "utf-8":
        assert got == lines
    else:
        assert got == [decode_line(line.encode("cp1252")) for line in lines]


def _encodable(text, encoding):
    try:
        text.encode(encoding)
        return True
    except UnicodeEncodeError:
        return False


def test_rendered_frame_from_the_count():
    from stmpo.lines import rendered_frame
    event = parse_line("PROGRESS:  0:00:04:04 (5): 0 Seconds")
    assert rendered_frame(event, 97) == 101 and rendered_frame(event, 97, 2) == 105
