"""The frame-line grammar (issue 11): every real variant, generated, parsed back exactly; nothing that looks like
progress is dropped silently.

Variants (docs/formats.md §3, §7): launcher/render/log prefixes, extra spaces, `:` and drop-frame `;` timecodes, hour
counts past 24, frame-number and feet+frames displays, ordinals past 100 000, field letters `U`/`L`, the three
duration shapes, localized date stamps on comp lines (and fullwidth colons), LF / CRLF / CR-only line ends, cp1252.
"""
from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from stmpo.lines import (
    CompFinished,
    CompStarted,
    FrameRendered,
    LineSplitter,
    UnparsedProgress,
    parse_line,
    timecode_to_frame,
)

# ------------------------------------------------------------------------------------------------ the grammar

spaces = st.integers(0, 3).map(lambda n: " " * n)
prefix = st.sampled_from(["PROGRESS:  ", "PROGRESS: ", "PROGRESS:", "PROGRESS:    ", "", "\ufeffPROGRESS:  "])


@st.composite
def duration(draw):
    """(text, seconds) in the three shapes aerender prints."""
    shape = draw(st.integers(0, 2))
    if shape == 0:
        s = draw(st.integers(0, 59))
        return f"{s} Seconds", float(s)
    if shape == 1:
        m, s = draw(st.integers(1, 59)), draw(st.integers(0, 59))
        return f"{m} Min, {s} Sec", m * 60.0 + s
    h, m = draw(st.integers(1, 400)), draw(st.integers(0, 59))
    return f"{h} Hr, {m} Min", h * 3600.0 + m * 60.0


def drop_frame_timecode(n: int, fps: int) -> str:
    """Frame n as SMPTE drop-frame timecode at 29.97 (fps=30) or 59.94 (fps=60), written independently of the
    parser: drop 2 (4) frame numbers at the start of every minute except each tenth."""
    drop = 2 * fps // 30
    per_minute = fps * 60 - drop
    per_ten = per_minute * 10 + drop
    tens, rem = divmod(n, per_ten)
    n += drop * 9 * tens + (drop * ((rem - drop) // per_minute) if rem > drop else 0)
    ff, total = n % fps, n // fps
    return f"{total // 3600};{total // 60 % 60:02d};{total % 60:02d};{ff:02d}"


@st.composite
def timecode(draw):
    """(text, fps, comp frame) for every display aerender uses."""
    kind = draw(st.sampled_from(["smpte", "smpte", "drop", "frames", "feet"]))
    if kind == "smpte":
        fps = draw(st.sampled_from([24, 25, 30, 50, 60]))
        h, m, s, f = draw(st.integers(0, 120)), draw(st.integers(0, 59)), draw(st.integers(0, 59)), draw(
            st.integers(0, fps - 1))
        return f"{h}:{m:02d}:{s:02d}:{f:02d}", float(fps), ((h * 60 + m) * 60 + s) * fps + f
    if kind == "drop":
        fps = draw(st.sampled_from([30, 60]))
        n = draw(st.integers(0, 40_000_000))
        return drop_frame_timecode(n, fps), fps * 1000 / 1001, n
    if kind == "frames":
        n = draw(st.integers(0, 10_000_000))
        return f"{n:05d}", 24.0, n
    feet, frames = draw(st.integers(0, 100_000)), draw(st.integers(0, 15))
    return f"{feet}+{frames:02d}", 24.0, feet * 16 + frames


@st.composite
def frame_line(draw):
    """(line, expected FrameRendered, fps, expected comp frame)."""
    tc, fps, frame = draw(timecode())
    ordinal = draw(st.one_of(st.integers(1, 1000), st.integers(100_000, 50_000_000)))
    field = draw(st.sampled_from(["", "", "U", "L"]))
    text, seconds = draw(duration())
    sp = [draw(spaces) for _ in range(5)]
    line = f"{draw(prefix)}{tc}{sp[0] or ' '}({sp[1]}{ordinal}{field}{sp[2]}){sp[3]}:{sp[4] or ' '}{text}"
    return line, FrameRendered(ordinal, tc, seconds, field), fps, frame


STAMPS = [
    "4/30/2018 3:10:50 PM", "30/04/2018 15:11:50", "2018-04-30 15:11:50", "2018.04.30. 15:11:50",
    "30.04.2018 15:11:50", "2018/04/30 \u5348\u5f8c 3:11:50", "2018\u5e744\u670830\u65e5 15:11:50",
    "2018/4/30 \u4e0b\u5348 03:11:50", "30-04-2018 15:11:50",
]


@st.composite
def comp_line(draw):
    stamp = draw(st.sampled_from(STAMPS))
    verb = draw(st.sampled_from(["Starting", "Finished"]))
    name = draw(st.sampled_from(["main", "My Comp", "v1.2", "Titles \u00e9", "\u30e1\u30a4\u30f3"]))
    open_q, close_q = draw(st.sampled_from([('"', '"'), ("\u201c", "\u201d"), ("", "")]))
    colon = draw(st.sampled_from([": ", ":  ", "\uff1a", ": "]))
    line = f"{draw(prefix)}{stamp}{colon}{verb} composition {open_q}{name}{close_q}."
    event = (CompStarted if verb == "Starting" else CompFinished)(name, stamp)
    return line, event


# ------------------------------------------------------------------------------------------------ properties

@settings(max_examples=400)
@given(frame_line())
def test_generated_frame_lines_parse_to_frame_ordinal_field_and_seconds(case):
    line, expected, fps, frame = case
    event = parse_line(line)
    assert event == expected
    assert timecode_to_frame(event.timecode, fps) == frame


@settings(max_examples=200)
@given(comp_line())
def test_generated_comp_lines_keep_name_and_localized_stamp(case):
    line, expected = case
    assert parse_line(line) == expected


@settings(max_examples=150)
@given(st.lists(st.one_of(frame_line().map(lambda c: (c[0], c[1])), comp_line()), min_size=1, max_size=12),
       st.sampled_from(["\n", "\r\n", "\r"]), st.sampled_from(["utf-8", "cp1252"]), st.data())
def test_generated_streams_in_any_line_end_and_split(lines, newline, encoding, data):
    """A whole stdout stream (CR-only included), cut into arbitrary reads: every event comes out, in order."""
    usable = []
    for text, event in lines:
        try:
            text.encode(encoding)
        except UnicodeEncodeError:
            continue
        usable.append((text, event))
    raw = "".join(text + newline for text, _ in usable).encode(encoding)
    cuts = sorted(data.draw(st.lists(st.integers(0, len(raw)), max_size=6)))
    splitter = LineSplitter()
    got = []
    for a, b in zip([0] + cuts, cuts + [len(raw)]):
        got += splitter.feed(raw[a:b])
    got += splitter.flush()
    assert [parse_line(text) for text in got] == [event for _, event in usable]


# ------------------------------------------------------------------------------------------------ near misses

@pytest.mark.parametrize("line", [
    "PROGRESS:  0:00:00:05 (6X): 2 Seconds",            # an unknown field letter
    "PROGRESS:  0:00:00:05 (6) 2 Seconds",              # no colon before the duration
    "PROGRESS:  0:00:00:5a (6): 2 Seconds",             # a damaged timecode
    "PROGRESS:  0:00:00:05 (): 2 Seconds",              # no ordinal
    "PROGRESS:  0:00:00:05 (six): 2 Seconds",
    "PROGRESS:  0:00:00 (6): 2 Seconds",                # three-part timecode
    "PROGRESS:  0:00:00:05 (-6): 2 Seconds",
    "0:00:00:05 (6U2): 2 Seconds",                      # a log line (no prefix)
])
def test_lines_that_look_like_progress_but_do_not_parse_are_events(line):
    assert parse_line(line) == UnparsedProgress(line)


@pytest.mark.parametrize("line", [
    "PROGRESS:  4/30/2018 3:10:50 PM",
    "PROGRESS:      Frame Rate: 24.00 (comp)",
    "PROGRESS:  Start: 0:00:00:00",
    "PROGRESS:  Output To: D:\\out\\x_[#####].png",
    "PROGRESS:      Size: 1920 x 1080",
    "30.04.2018 15:10:50: Rendering (background)",   # a date, not a timecode, before the parenthesis
    "PROGRESS:  12 frames (approx.) left",
])
def test_other_lines_with_numbers_and_parentheses_are_not_progress(line):
    assert parse_line(line) is None


@pytest.mark.parametrize("line,expected", [
    ("PROGRESS:  0:00:00:05 (6U): 2 Seconds", FrameRendered(6, "0:00:00:05", 2.0, "U")),
    ("PROGRESS:  0:00:00:05 (6L): 2 Seconds", FrameRendered(6, "0:00:00:05", 2.0, "L")),
    ("PROGRESS:  0:00:00:05 (6 u): 2 Seconds", FrameRendered(6, "0:00:00:05", 2.0, "U")),
    ("PROGRESS:  0;00;00;05 (6): 0 Seconds", FrameRendered(6, "0;00;00;05", 0.0)),
    ("PROGRESS:  0:00:00;05 (6): 0 Seconds", FrameRendered(6, "0:00:00;05", 0.0)),
    ("PROGRESS:  27:13:10:05 (2352485): 1 Min, 2 Sec", FrameRendered(2352485, "27:13:10:05", 62.0)),
    ("PROGRESS:     0:00:00:05    (  6  )   :    2 Seconds", FrameRendered(6, "0:00:00:05", 2.0)),
    ("PROGRESS:  0:00:00:05 (6)", FrameRendered(6, "0:00:00:05", 0.0)),            # a line without a duration
    ("PROGRESS:  0:00:00:05 (6): 2 \u79d2", FrameRendered(6, "0:00:00:05", 0.0)),   # localized duration words
    ("PROGRESS:  0:00:00:05 \uff086\uff09\uff1a2 Seconds", FrameRendered(6, "0:00:00:05", 2.0)),
])
def test_frame_line_variants(line, expected):
    assert parse_line(line) == expected
