"""What an aerender line means for the render (pure: text in, classes out; no processes, no I/O).

Two decisions (issue 11, docs/formats.md §7):

1. **Warning classes.** After Effects reports conditions that make the output wrong as warnings, and renders anyway:
   `missing-footage` (in any wording, also an error logged inside a WARNING line), `missing-fonts` (substitute
   fonts in every frame), `missing-effects` (effects / plug-ins not installed). Each of these fails the chunk by
   default; naming a class in the allow set (`--allow missing-footage,missing-fonts`) downgrades it to a warning.
   Anything else is `other` and only warns. `--continue-on-missing-footage` asks aerender to draw colour bars for
   missing footage: that request allows `missing-footage` (see `effective_allow`).
2. **Failure kinds.** A failed invocation is `permanent` (the same input fails the same way: fail at once, no retry)
   or `transient` (worth a fresh process: retry as before). Permanent: no comp with the given name, File Not Found,
   an unknown render-settings or output-module template, an unreadable or too-new project, unsupported compression,
   unreadable source footage, a command line aerender refuses. Transient: a crash or exit without a line, a stall,
   `Another instance of aerender is running`, Apple-event failures (`aerender ERROR -1712: AESend failed`), licence
   hiccups, running out of memory, and every error we do not recognise (as before: retried, bounded by --retries).

How lines are matched. Localized After Effects prints localized text, on Windows in the ANSI code page, so a
Chinese or Portuguese message can reach us as mojibake (`aerender Error: After Effects\\ufffd: 2"y 1 ...`). Only the
ASCII prefixes are stable: `PROGRESS:`, `WARNING:`, `INFO:`, `aerender ERROR`, `aerender Error:`, `After Effects
error:`, and the numeric Apple-event codes. So: (a) which lines are warnings or fatal is decided by those prefixes
(`stmpo.lines`); (b) the class is decided by English phrases, matched case-insensitively with any run of spaces
(aerender doubles spaces); (c) a few localized phrases seen in public reports are matched by their ASCII letters only
(so the phrase still matches when the accented letters arrive as U+FFFD); (d) a structural fallback: a WARNING line
we cannot read that names an absolute file path is `missing-footage` (a warning about a file is, in every report we
found, footage that could not be read), because letting wrong output pass is worse than failing a chunk that
`--allow missing-footage` can accept. An error line we cannot read is transient.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Collection, FrozenSet, Iterable, List, Optional, Sequence, Tuple

from stmpo.errors import StmpoError

__all__ = [
    "MISSING_FOOTAGE", "MISSING_FONTS", "MISSING_EFFECTS", "OTHER", "WARNING_CLASSES", "FAILING_BY_DEFAULT",
    "PERMANENT", "TRANSIENT", "Failure", "classify_warning", "warning_fails", "parse_allow", "effective_allow",
    "classify_error", "classify_invocation", "unique_failures",
]

MISSING_FOOTAGE = "missing-footage"
MISSING_FONTS = "missing-fonts"
MISSING_EFFECTS = "missing-effects"
OTHER = "other"
WARNING_CLASSES = (MISSING_FOOTAGE, MISSING_FONTS, MISSING_EFFECTS, OTHER)
FAILING_BY_DEFAULT: FrozenSet[str] = frozenset({MISSING_FOOTAGE, MISSING_FONTS, MISSING_EFFECTS})

PERMANENT = "permanent"
TRANSIENT = "transient"


_SPACES = r"[ \t]+"


def _rx(*patterns: str) -> "re.Pattern[str]":
    """One case-insensitive pattern; a space in a pattern matches any run of whitespace (aerender doubles spaces)."""
    return re.compile("|".join("(?:" + p.replace(" ", _SPACES) + ")" for p in patterns), re.IGNORECASE)


# ---------------------------------------------------------------------------------------------- warning classes

_FONTS = _rx(
    r"missing fonts?\b", r"\bfonts? (?:is|are|was|were) missing", r"\bfont family:",
    r"\bfont\b.{0,80}\b(?:is missing|not found|not installed|not available|unavailable|substituted)",
    r"\bsubstitut\w* fonts?", r"missingorsubstitutedfonts",
    # localized phrases from reports (ASCII letters only, so mojibake still matches): pt "O projeto tem fontes
    # ausentes"; de/fr/es/it by the same construction (not seen in a report)
    r"\bfontes ausentes", r"\bfehlende schriftart", r"\bschriftarten fehlen", r"\bpolices manquantes",
    r"\bfuentes que faltan", r"\bfaltan fuentes", r"\bfont mancanti",
)
_EFFECTS = _rx(
    r"missing effects?\b", r"\beffects? (?:is|are|was|were) missing", r"missing plug-?ins?\b",
    r"\bplug-?ins?\b.{0,80}\b(?:is missing|are missing|not found|not installed|could not be loaded|"
    r"failed to load|not available|unavailable)",
    r"\beffect\b.{0,80}\b(?:is missing|not found|not installed|not available|unavailable)", r"\bmissing: ",
)
_FOOTAGE = _rx(
    r"file not found", r"missing footage", r"\bfootage\b.{0,80}\b(?:is missing|are missing|not found|missing)",
    r"\bmissing (?:files?|sources?|media)\b", r"\b(?:cannot|can not|can't|could not|couldn't|unable to) find\b",
    r"could not read from source", r"\bmissing dependenc", r"\boffline (?:footage|file|media)",
)
# a WARNING we could not read that names a file: a drive letter, a UNC share, or a POSIX path of two components
_PATH = re.compile(r"(?:^|[\s\"'(\u00b6\u201c])(?:[A-Za-z]:[\\/]|\\\\[^\\\s]+\\|/[^/\s]+/[^/\s])")


def classify_warning(text: str) -> str:
    """The class of one warning line (an `AeWarning` event's text, or any line): MISSING_FONTS, MISSING_EFFECTS,
    MISSING_FOOTAGE or OTHER. Fonts are tried first (a "missing dependencies" group naming a font family is fonts),
    then effects, then footage, then the path fallback for lines we cannot read."""
    if _FONTS.search(text):
        return MISSING_FONTS
    if _EFFECTS.search(text):
        return MISSING_EFFECTS
    if _FOOTAGE.search(text):
        return MISSING_FOOTAGE
    if not _readable(text) and _PATH.search(text):
        return MISSING_FOOTAGE
    return OTHER


_ENGLISH_WARNING = re.compile(r"after effects warning\s*:", re.IGNORECASE)
_NOT_ENGLISH = re.compile(r"[^\x00-\x7f\u2018\u2019\u201c\u201d]")  # U+FFFD (mojibake) included


def _readable(text: str) -> bool:
    """An English After Effects warning with nothing localized or garbled in it: if none of our phrases matched,
    it really is about something else."""
    return bool(_ENGLISH_WARNING.search(text)) and not _NOT_ENGLISH.search(text)


def parse_allow(spec: str) -> FrozenSet[str]:
    """`--allow missing-footage,missing-fonts` -> frozenset of class names; spaces and empty items are ignored.
    StmpoError (one line, exit 2) for a name that is not a failing warning class."""
    names = frozenset(part.strip().lower() for part in spec.split(",") if part.strip())
    unknown = sorted(names - FAILING_BY_DEFAULT)
    if unknown:
        raise StmpoError(f"--allow: unknown warning class {', '.join(unknown)} "
                         f"(known: {', '.join(sorted(FAILING_BY_DEFAULT))})")
    return names


def effective_allow(allow: Collection[str], continue_on_missing_footage: bool = False) -> FrozenSet[str]:
    """The allow set in force: `--continue-on-missing-footage` keeps its meaning (render colour bars for missing
    footage and succeed), so it allows `missing-footage`."""
    return frozenset(allow) | ({MISSING_FOOTAGE} if continue_on_missing_footage else frozenset())


def warning_fails(warning_class: str, allow: Collection[str] = ()) -> bool:
    """Whether a warning of this class fails the chunk: its class fails by default and is not allowed."""
    return warning_class in FAILING_BY_DEFAULT and warning_class not in allow


# ----------------------------------------------------------------------------------------------- failure kinds

@dataclass(frozen=True)
class Failure:
    """Why an invocation failed. kind: PERMANENT or TRANSIENT. reason: a short id (e.g. "comp-not-found",
    "another-instance", "stall"). text: the aerender line as printed (or a description for crashes and stalls)."""
    kind: str
    reason: str
    text: str

    @property
    def permanent(self) -> bool:
        return self.kind == PERMANENT


# (reason, pattern), tried in order; the transient ones that name a cause come first so that, e.g., a licence
# dialog line mentioning a file is still a licence hiccup
_TRANSIENT_FIRST: Sequence[Tuple[str, "re.Pattern[str]"]] = (
    ("another-instance", _rx(r"another instance of aerender", r"can ?not render for aerender")),
    ("apple-event", _rx(r"-17\d\d\b", r"\bAE\w*(?:Send|Param\w*|Event\w*) failed", r"apple ?event")),
)
_PERMANENT: Sequence[Tuple[str, "re.Pattern[str]"]] = (
    ("comp-not-found", _rx(r"no comp was found", r"\bcomp\w*\b.{0,40}\bnot found")),
    ("render-settings-template", _rx(r"render settings template.{0,40}(?:not found|was found|does not exist)",
                                     r"rstemplate.{0,40}(?:not found|does not exist)")),
    ("output-module-template", _rx(r"output module template.{0,40}(?:not found|was found|does not exist)",
                                   r"omtemplate.{0,40}(?:not found|does not exist)")),
    ("file-not-found", _rx(r"file not found", r"missing footage", r"\bfootage\b.{0,80}\bnot found")),
    ("project-too-new", _rx(r"cannot be opened with this version", r"created with a newer version",
                            r"newer version of after effects")),
    ("project-unreadable", _rx(r"no project file", r"\bproject\b.{0,80}\b(?:damaged|corrupt|unreadable|"
                                                   r"not a valid|could not be (?:opened|read))",
                               r"unable to open the project", r"can ?not (?:open|read) (?:the )?project",
                               r"couldn't (?:open|read) (?:the )?project", r"file is damaged")),
    ("unsupported-compression", _rx(r"unsupported (?:compression|codec)", r"(?:compression|codec)\b.{0,40}\bnot "
                                                                          r"supported")),
    ("unreadable-footage", _rx(r"could not read from source")),
    ("bad-command-line", _rx(r"syntax error", r"illegal argument", r"unknown flag", r"needs \d+ arguments?",
                             r"cannot be used together", r"no output file was specified",
                             r"no render queue item with index", r"render queue is empty")),
    ("output-folder-missing", _rx(r"output folder does not exist")),
)
_TRANSIENT: Sequence[Tuple[str, "re.Pattern[str]"]] = (
    ("licence", _rx(r"licen[cs]e", r"\bsign in\b", r"\bactivat", r"subscription", r"serial number")),
    ("crash", _rx(r"quit unexpectedly", r"crash", r"killed by signal", r"terminated unexpectedly",
                  r"access violation", r"segmentation")),
    ("memory", _rx(r"out of memory", r"\bmemory\b.{0,40}\b(?:low|exhausted|insufficient)")),
)


def classify_error(text: str) -> Failure:
    """The failure kind of one fatal line (a `FatalError` event's text). Unrecognised text is transient "unknown"."""
    for reason, pattern in _TRANSIENT_FIRST:
        if pattern.search(text):
            return Failure(TRANSIENT, reason, text)
    for reason, pattern in _PERMANENT:
        if pattern.search(text):
            return Failure(PERMANENT, reason, text)
    for reason, pattern in _TRANSIENT:
        if pattern.search(text):
            return Failure(TRANSIENT, reason, text)
    return Failure(TRANSIENT, "unknown", text)


def classify_invocation(fatal_lines: Iterable[str] = (), *, stalled: bool = False, exit_code: Optional[int] = None,
                        signal_number: Optional[int] = None, incomplete: bool = False) -> Optional[Failure]:
    """Why one aerender invocation failed, or None when nothing says it did.

    fatal_lines: the texts of its FatalError events, in order. stalled: the stall watchdog ended it. exit_code: its
    exit status (None while unknown); signal_number: the signal that killed it, if any. incomplete: it exited
    cleanly without delivering every frame it was given.
    Precedence: the first permanent line (the render cannot succeed, whatever else happened); a stall; the first
    fatal line; death by a signal or a non-zero exit ("crash"); incomplete output; else None.
    """
    failures = [classify_error(text) for text in fatal_lines]
    for failure in failures:
        if failure.permanent:
            return failure
    if stalled:
        return Failure(TRANSIENT, "stall", "no progress line within the stall timeout")
    if failures:
        return failures[0]
    if signal_number is not None:
        return Failure(TRANSIENT, "crash", f"killed by signal {signal_number} without an error line")
    if exit_code not in (None, 0):
        return Failure(TRANSIENT, "crash", f"exited with status {exit_code} without an error line")
    if incomplete:
        return Failure(TRANSIENT, "incomplete", "exited without delivering every frame and without an error line")
    return None


def unique_failures(failures: Iterable[Failure]) -> List[Failure]:
    """Each (kind, reason, text) once, in first-seen order: a permanent error several children hit is reported
    once."""
    seen = set()
    out = []
    for failure in failures:
        key = (failure.kind, failure.reason, " ".join(failure.text.split()))
        if key not in seen:
            seen.add(key)
            out.append(failure)
    return out
