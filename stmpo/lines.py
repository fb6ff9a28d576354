"""aerender output as text lines and events (pure: no processes, no threads, no I/O).

aerender's stdout is messy in ways that matter for correctness: Windows builds end lines with `\\r\\n` or a bare
`\\r`, text may come in the ANSI code page instead of UTF-8, launcher and render lines use different spacing, log
files drop the `PROGRESS:` prefix, and comp names are quoted three ways. Everything here turns those bytes into
whole `str` lines and then into a few typed events, so the executor and the reporters never look at raw text.
See docs/formats.md §3.2.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import List, Optional, Union

__all__ = [
    "LineSplitter", "parse_line", "parse_duration", "timecode_to_frame", "rendered_frame", "decode_line",
    "FrameRendered", "CompStarted", "CompFinished", "TotalTime", "FatalError", "AeWarning", "UnparsedProgress",
    "Event", "MAX_LINE_BYTES",
]

# A progress line is < 200 bytes; anything past this is a runaway child (binary junk, no newline). Such a line is
# cut into pieces of at most this size so memory stays bounded and nothing is dropped.
MAX_LINE_BYTES = 64 * 1024


# ----------------------------------------------------------------------------------------------------------------
# bytes -> lines

def decode_line(raw: bytes) -> str:
    """UTF-8 if the line is valid UTF-8, else the Windows ANSI code page; never raises.

    Decided per line, not per stream: aerender (UTF-8 or ANSI) and After Effects (other) may differ in one pipe.
    """
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return raw.decode("cp1252", errors="replace")


def _cut_point(buf: bytes, limit: int) -> int:
    """Where to cut an over-long line: at `limit`, moved back (at most 3 bytes) so a UTF-8 character stays whole."""
    cut = limit
    for _ in range(3):
        if cut > 1 and 0x80 <= buf[cut] <= 0xBF:  # continuation byte: the character started earlier
            cut -= 1
        else:
            break
    return cut


class LineSplitter:
    """Incremental bytes -> whole text lines, for one pipe.

    Line ends are `\\n`, `\\r\\n` and a bare `\\r`. A `\\r` is acted on at once (a progress line ending in a bare CR
    is not held back waiting for the next read); when the next feed then starts with `\\n`, that `\\n` is the second
    half of a CRLF and is skipped. The result does not depend on where the byte stream was split into feeds.
    Lines longer than `max_line` bytes are cut into pieces of at most `max_line` bytes (cut points depend only on
    the line's bytes, so this too is independent of feed boundaries).
    """

    __slots__ = ("_buf", "_skip_lf", "_max")

    def __init__(self, max_line: int = MAX_LINE_BYTES) -> None:
        if max_line < 4:
            raise ValueError("max_line must be at least 4 bytes")
        self._buf = b""
        self._skip_lf = False
        self._max = max_line

    def feed(self, data: bytes) -> List[str]:
        """Add bytes; return the lines they completed (without line ends)."""
        if not data:
            return []
        if self._skip_lf:
            self._skip_lf = False
            if data[:1] == b"\n":
                data = data[1:]
        buf = self._buf + data if self._buf else data
        out: List[str] = []
        if b"\r" not in buf:
            # Fast path (the usual case on POSIX): only \n.
            *complete, rest = buf.split(b"\n")
            for raw in complete:
                self._emit(raw, out)
        else:
            rest = self._split_mixed(buf, out)
        while len(rest) > self._max:
            cut = _cut_point(rest, self._max)
            out.append(decode_line(rest[:cut]))
            rest = rest[cut:]
        self._buf = rest
        return out

    def _split_mixed(self, buf: bytes, out: List[str]) -> bytes:
        start = 0
        n = len(buf)
        while True:
            lf = buf.find(b"\n", start)
            cr = buf.find(b"\r", start)
            if lf < 0 and cr < 0:
                return buf[start:]
            if cr < 0 or (0 <= lf < cr):
                self._emit(buf[start:lf], out)
                start = lf + 1
                continue
            self._emit(buf[start:cr], out)
            if cr + 1 < n:
                start = cr + 2 if buf[cr + 1:cr + 2] == b"\n" else cr + 1
            else:  # CR is the last byte we have: the matching LF may open the next feed
                self._skip_lf = True
                return b""

    def _emit(self, raw: bytes, out: List[str]) -> None:
        while len(raw) > self._max:
            cut = _cut_point(raw, self._max)
            out.append(decode_line(raw[:cut]))
            raw = raw[cut:]
        out.append(decode_line(raw))

    def flush(self) -> List[str]:
        """End of stream: return the unterminated last line, if any."""
        rest, self._buf, self._skip_lf = self._buf, b"", False
        return [decode_line(rest)] if rest else []


# ----------------------------------------------------------------------------------------------------------------
# events

@dataclass(frozen=True)
class FrameRendered:
    """One frame finished rendering. `index` counts frames within this aerender run, 1-based; the comp frame is
    `timecode_to_frame(timecode, fps)` or the run's start + (index - 1) * increment. `field` is "U" or "L" when
    field rendering is on (aerender prints `(6U)`: upper or lower field first), else ""."""
    index: int
    timecode: str
    seconds: float
    field: str = ""


@dataclass(frozen=True)
class CompStarted:
    comp: str
    stamp: str = ""  # the date/time text aerender printed before it, as printed (format depends on the locale)


@dataclass(frozen=True)
class CompFinished:
    comp: str
    stamp: str = ""


@dataclass(frozen=True)
class TotalTime:
    seconds: float


@dataclass(frozen=True)
class FatalError:
    """A line after which this aerender run must count as failed, whatever its exit code."""
    text: str


@dataclass(frozen=True)
class AeWarning:
    text: str


@dataclass(frozen=True)
class UnparsedProgress:
    """A line that looks like a frame line (a timecode-like start, then `(` soon after) but does not parse, e.g.
    `PROGRESS:  0:00:00:05 (6X): 2 Seconds`. Never dropped: the executor counts it and names it in the run report
    (a new aerender variant must be seen, not silently lose frames). `text` is the line as received, stripped."""
    text: str


Event = Union[FrameRendered, CompStarted, CompFinished, TotalTime, FatalError, AeWarning, UnparsedProgress]

_PREFIX = re.compile(r"^\ufeff?\s*PROGRESS:\s*", re.IGNORECASE)
# Frame lines (docs/formats.md §3, §7): `H:MM:SS:FF` with `;` for drop-frame (any hour count), a frame number, or
# feet+frames; then `(ordinal)` with an optional field letter U/L; then `: duration` (missing in cut lines).
# Spaces anywhere between the parts; fullwidth parentheses and colon accepted (CJK builds).
_TC = r"(?:-?\d+(?:[:;.]\d+){3}|\d+\+\d+|-?\d+)"
_FRAME = re.compile(r"^(?P<tc>" + _TC + r")\s*[(\uff08]\s*(?P<n>\d+)\s*(?P<field>[ULul])?\s*[)\uff09]\s*"
                    r"(?:[:\uff1a]\s*(?P<dur>.*))?$")
# The frame line as aerender prints it nearly every time (`PROGRESS:  0:00:00:05 (6): 2 Seconds`): one match instead
# of the prefix strip, the general match and the duration parse (this runs for every line of every child)
_COMMON_FRAME = re.compile(r"PROGRESS:\s+(\d+:\d+:\d+:\d+) \((\d+)\): (\d+) Seconds?\Z")
# "looks like a frame line": a timecode-like first token, at most a few characters, then an opening parenthesis
_LOOKS_LIKE_FRAME = re.compile(r"^-?\d+(?:\s*[:;.,+]\s*\d+)*\s*\S{0,4}\s*[(\uff08]")
# Comp lines: `<stamp>: Starting composition "name".` The stamp is whatever the locale prints (`4/30/2018 3:10:50
# PM`, `30/04/2018 15:11:50`, `2018-04-30 15:11:50`, `2018.04.30. 15:11:50`, `2018年4月30日 15:11:50`), ended by an
# ASCII or fullwidth colon or by spaces.
_COMP = re.compile(r"^(?:(?P<stamp>.*?)(?:\s*[:\uff1a]\s*|\s+))?(?P<verb>Starting|Finished) composition\b\s*"
                   r"(?P<name>.*)$", re.IGNORECASE)
_TOTAL = re.compile(r"^Total Time Elapsed\s*:\s*(?P<dur>.*)$", re.IGNORECASE)
# `aerender SYNTAX ERROR: Illegal argument flag: -r` (aerender 23.2) counts as well
_FATAL = re.compile(r"after effects error\s*:|(?:^|[\s:])aerender\s+(?:syntax\s+)?error\b\s*(?:[:\-]|$)",
                    re.IGNORECASE)
_FATAL_AT_START = re.compile(r"^aerender\s+(?:syntax\s+)?error\b", re.IGNORECASE)
_WARNING = re.compile(r"^(?:WARNING\s*:|MISSING FOOTAGE\b)|after effects warning\s*:", re.IGNORECASE)
_DURATION_PART = re.compile(
    r"(\d+(?:[.,]\d+)?)\s*(hours?|hrs?|h|minutes?|mins?|m|seconds?|secs?|s)\b", re.IGNORECASE)
_UNIT_SECONDS = {"h": 3600.0, "m": 60.0, "s": 1.0}
_QUOTES = {'"': '"', "\u201c": "\u201d", "\u201e": "\u201c", "\u201d": "\u201d", "'": "'", "\u2018": "\u2019",
           "\u00ab": "\u00bb"}
# Cheap pre-filter: a line that contains none of these cannot be an event (most lines are frame lines, which
# start with a digit, so this mostly saves the regex work on launcher chatter).
_KEYWORDS = ("composition", "total", "error", "warning", "missing")


def parse_duration(text: str) -> Optional[float]:
    """`0 Seconds`, `1 Min, 2 Sec`, `26 Hr, 15 Min`, `1.5 Seconds` -> seconds; None when there is no duration."""
    total = 0.0
    found = False
    for number, unit in _DURATION_PART.findall(text):
        total += float(number.replace(",", ".")) * _UNIT_SECONDS[unit[0].lower()]
        found = True
    return total if found else None


def _strip_comp_name(name: str) -> str:
    name = name.strip()
    if name.endswith("."):
        name = name[:-1].rstrip()
    close = _QUOTES.get(name[:1])
    if close is not None and len(name) >= 2 and name.endswith(close):
        return name[1:-1]
    if close is not None and len(name) >= 2 and name[-1] in _QUOTES.values():  # mismatched curly pair
        return name[1:-1]
    return name


def parse_line(text: str) -> Optional[Event]:
    """One aerender stdout or log-file line -> an event, or None for lines that carry no progress information.

    Accepts launcher lines (`PROGRESS: x`), render lines (`PROGRESS:  x`) and log-file lines (no prefix).
    Fatal is only `After Effects error:` or `aerender ERROR` (any case): a bare "error" is not fatal.
    A line that looks like a frame line but does not parse is an `UnparsedProgress`, never None.
    """
    fast = _COMMON_FRAME.match(text)
    if fast is not None:  # the shape nearly every line has; the general path below gives the same event for it
        return FrameRendered(int(fast.group(2)), fast.group(1), float(fast.group(3)), "")
    line = _PREFIX.sub("", text, count=1).strip()
    if not line:
        return None
    numeric = line[0].isdigit() or line[0] == "-"
    if numeric:
        m = _FRAME.match(line)
        if m:
            dur = m.group("dur")
            seconds = parse_duration(dur) if dur else None
            field = m.group("field")
            return FrameRendered(int(m.group("n")), m.group("tc"), seconds if seconds is not None else 0.0,
                                 field.upper() if field else "")
    lowered = line.lower()
    if any(k in lowered for k in _KEYWORDS):
        event = _keyword_event(line)
        if event is not None:
            return event
    if numeric and _LOOKS_LIKE_FRAME.match(line):
        return UnparsedProgress(text.strip())
    return None


def _keyword_event(line: str) -> Optional[Event]:
    if _FATAL.search(line) or _FATAL_AT_START.match(line):
        return FatalError(line)
    if _WARNING.search(line):
        return AeWarning(line)
    m = _COMP.match(line)
    if m:
        comp = _strip_comp_name(m.group("name"))
        stamp = (m.group("stamp") or "").strip().rstrip(":\uff1a").rstrip()
        return CompStarted(comp, stamp) if m.group("verb").lower() == "starting" else CompFinished(comp, stamp)
    m = _TOTAL.match(line)
    if m:
        seconds = parse_duration(m.group("dur"))
        return TotalTime(seconds if seconds is not None else 0.0)
    return None


def rendered_frame(event: FrameRendered, start: int, increment: int = 1) -> int:
    """The comp frame of a frame line in a run started with `-s start -i increment` (timecodes need the comp's fps,
    which the executor rarely knows; the count in parentheses does not)."""
    return start + (event.index - 1) * increment


# ----------------------------------------------------------------------------------------------------------------
# timecodes

def timecode_to_frame(tc: str, fps: float) -> int:
    """Timecode as aerender prints it -> frame number.

    `H:MM:SS:FF` counts in the nominal rate (29.97 -> 30). `;` anywhere marks drop-frame: for 29.97 and 59.94 the
    frame numbers 0-1 (0-3 at 59.94) of every minute not divisible by ten are skipped, as SMPTE defines. A plain
    number is a frame number (projects displayed in frames); `F+FF` is 35mm feet+frames (16 frames per foot).
    Raises ValueError for text that is none of these.
    """
    tc = tc.strip()
    if fps <= 0:
        raise ValueError(f"fps must be positive, got {fps}")
    if re.fullmatch(r"-?\d+", tc):
        return int(tc)
    m = re.fullmatch(r"(\d+)\+(\d+)", tc)
    if m:
        return int(m.group(1)) * 16 + int(m.group(2))
    m = re.fullmatch(r"(-?)(\d+)[:;.](\d+)[:;.](\d+)[:;.](\d+)", tc)
    if not m:
        raise ValueError(f"not a timecode: {tc!r}")
    sign = -1 if m.group(1) else 1
    h, mi, s, f = (int(m.group(i)) for i in range(2, 6))
    nominal = int(round(fps))
    frames = ((h * 60 + mi) * 60 + s) * nominal + f
    is_ntsc = abs(fps * 1001 / 1000 - nominal) < 0.01 and nominal in (30, 60)
    if ";" in tc and is_ntsc:
        drop = nominal // 15  # 2 at 29.97, 4 at 59.94
        minutes = h * 60 + mi
        frames -= drop * (minutes - minutes // 10)
    return sign * frames
