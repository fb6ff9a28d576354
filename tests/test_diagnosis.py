"""Warning classes and failure kinds (stmpo.diagnosis), on real aerender wordings from public reports and variants.

REAL_* fixtures are lines as people posted them (source in the comment); the mojibake is kept as posted (U+FFFD).
"""
from __future__ import annotations

import pytest

from stmpo.diagnosis import (
    FAILING_BY_DEFAULT,
    MISSING_EFFECTS,
    MISSING_FONTS,
    MISSING_FOOTAGE,
    OTHER,
    PERMANENT,
    TRANSIENT,
    Failure,
    classify_error,
    classify_invocation,
    classify_warning,
    effective_allow,
    parse_allow,
    unique_failures,
    warning_fails,
)
from stmpo.errors import StmpoError
from stmpo.lines import AeWarning, FatalError, parse_line

R = "\ufffd"  # what undecodable bytes become

REAL_WARNINGS = [
    # github.com/inlife/nexrender/issues/206 (AE on Windows 10): missing footage only inside a warning
    ("WARNING:After Effects warning: logged one error  error: Unable to Render: File Not Found "
     "C:\\Users\\...\\(Footage)\\_Ressourcen\\Bilder\\Platzhalter Bild.jpg", MISSING_FOOTAGE),
    # github.com/inlife/nexrender/issues/123, /1043 (with a space after WARNING:)
    ("WARNING:After Effects warning: Project has missing fonts.", MISSING_FONTS),
    ("WARNING: After Effects warning: Project has missing fonts.", MISSING_FONTS),
    # github.com/inlife/nexrender/issues/148 (aerender 13.5): grouped missing dependencies naming fonts
    ("WARNING:After Effects warning: Grouped_Message_{some layers have missing dependencies. Press Ctrl-C to copy "
     "this list.|||a layer has missing dependencies.###@0 dependencies are missing:}Text Layer: Font family: Bebas, "
     "Font style: Regular", MISSING_FONTS),
    # github.com/filipedeschamps/video-maker/issues/343 (Portuguese After Effects 16.1, cp1252 shown as U+FFFD)
    (f"WARNING:Aviso do After Effects: registrado um erro \u00b6 \"Erro do After Effects: N{R}o {R} poss{R}vel "
     f"renderizar: arquivo /Users/filipedeschamps/video-maker/content/6-converted.png n{R}o localizado\"",
     MISSING_FOOTAGE),
    ("WARNING:Aviso do After Effects: O projeto tem fontes ausentes.", MISSING_FONTS),
    # github.com/inlife/nexrender/issues/342 (aerender 17.0.5): a warning that does not make the output wrong
    ("WARNING:After Effects warning: timeSpanStart of -0,87 seconds will cause render to have frames outside of "
     "range defined by comp displayStartTime (0,87) and end of comp duration (26,63). Render will succeed, but may "
     "have blank frames.", OTHER),
    # docs/formats.md §3 (Adobe's -continueOnMissingFootage behaviour)
    ("MISSING FOOTAGE, drawing color bars: File Not Found C:\\a.mov", MISSING_FOOTAGE),
]

VARIANT_WARNINGS = [
    ("WARNING:After Effects warning: missing footage /mnt/plates/a_0001.exr", MISSING_FOOTAGE),
    ("WARNING:After Effects warning: Cannot find the file \\\\server\\share\\plate.mov", MISSING_FOOTAGE),
    ("WARNING:After Effects warning: The footage \u201cplate.mov\u201d is missing.", MISSING_FOOTAGE),
    ("WARNING:After Effects warning: Could not read from source. Please check the settings and try again.",
     MISSING_FOOTAGE),
    ("WARNING:After Effects warning: 2 files are offline; offline footage is rendered as colour bars",
     MISSING_FOOTAGE),
    ("WARNING:After Effects warning: Font \u201cHelvetica Neue Bold\u201d is missing and was substituted.",
     MISSING_FONTS),
    ("WARNING:After Effects warning: The font Bebas Neue is not available.", MISSING_FONTS),
    ("WARNING:Warnung von After Effects: Das Projekt enth\ufffdlt fehlende Schriftarten.", MISSING_FONTS),
    ("WARNING:After Effects warning: Project has missing effects: Optical Flares", MISSING_EFFECTS),
    ("WARNING:After Effects warning: The plug-in \u201cSapphire\u201d was not found.", MISSING_EFFECTS),
    ("WARNING:After Effects warning: Effect \u201cDeep Glow\u201d is missing.", MISSING_EFFECTS),
    ("WARNING:After Effects warning: plugin Trapcode Particular could not be loaded", MISSING_EFFECTS),
    ("WARNING:After Effects warning: layer 3 uses Missing: ADBE Foo", MISSING_EFFECTS),
    ("WARNING:After Effects warning: low memory, purging the cache", OTHER),
    ("WARNING:After Effects warning: could not write the disk cache", OTHER),
    # a warning we cannot read that names a file: footage (the structural fallback)
    ("WARNING:After Effects\u8b66\u544a: \u7d20\u6750\u6587\u4ef6 D:\\proj\\plate.mov \u4e22\u5931", MISSING_FOOTAGE),
    (f"WARNING:After Effects{R}: {R}{R}{R} /Volumes/Media/plate_0001.dpx", MISSING_FOOTAGE),
    # ... and one that names no file stays other
    (f"WARNING:After Effects{R}: {R}{R}{R} 12", OTHER),
]


@pytest.mark.parametrize("line,cls", REAL_WARNINGS + VARIANT_WARNINGS)
def test_warning_classes(line, cls):
    event = parse_line(line)
    assert isinstance(event, AeWarning), "the line must reach the classifier as a warning"
    assert classify_warning(event.text) == cls


REAL_ERRORS = [
    # github.com/inlife/nexrender/issues/697, /600, /602, /110, /148
    ("aerender ERROR: No comp was found with the given name.", PERMANENT, "comp-not-found"),
    # github.com/inlife/nexrender/issues/28 (After Effects CC 2017)
    ("aerender ERROR: No output module template was found with the given name", PERMANENT,
     "output-module-template"),
    # github.com/inlife/nexrender/issues/968 (After Effects 23.6.2)
    ("After Effects error: The file you are attempting to open was created with After Effects version 23.6.2 "
     "(Windows 64) and cannot be opened with this version.", PERMANENT, "project-too-new"),
    # github.com/aws-deadline/deadline-cloud-for-after-effects/issues/286
    ("aerender Error: After Effects error: Could not read from source. Please check the settings and try again.",
     PERMANENT, "unreadable-footage"),
    # github.com/inlife/nexrender/issues/819 (aerender 23.2.1)
    ("aerender SYNTAX ERROR: Illegal argument flag: -r", PERMANENT, "bad-command-line"),
    # github.com/inlife/nexrender/issues/542 and /805: transient
    ("aerender ERROR: After Effects can not render for aerender. Another instance of aerender, or another script, "
     "may be running; or, AE may be waiting for response from a modal dialog, or for a render to complete. Try "
     "running aerender without the -reuse flag to invoke a separate instance of After Effects", TRANSIENT,
     "another-instance"),
    # github.com/inlife/nexrender/issues/223, /338, /607 (macOS Apple events)
    ("aerender ERROR -1701: AEGetParamPt failed at line 780", TRANSIENT, "apple-event"),
    # docs/formats.md §7 (Apple-event timeout)
    ("aerender ERROR -1712: AESend failed", TRANSIENT, "apple-event"),
    # github.com/inlife/nexrender/issues/428 (Chinese After Effects 17.1.1, as posted): unreadable, so transient
    (f"aerender Error: After Effects{R}: 2\"y 1 {R}{R}{R}", TRANSIENT, "unknown"),
    # github.com/inlife/nexrender/issues/999 (after a failing startup script)
    ("aerender ERROR: Runtime error in After Effects.", TRANSIENT, "unknown"),
]

VARIANT_ERRORS = [
    ("After Effects error: Unable to Render: File Not Found D:\\x.psd", PERMANENT, "file-not-found"),
    ("PROGRESS:  After Effects error: Unable to Render: File Not Found /mnt/a.png", PERMANENT, "file-not-found"),
    ("aerender ERROR: No render settings template was found with the given name.", PERMANENT,
     "render-settings-template"),
    ("aerender ERROR: -RStemplate \u201cFarm\u201d does not exist", PERMANENT, "render-settings-template"),
    ("aerender ERROR: No project file found at the given path: /p/x.aep", PERMANENT, "project-unreadable"),
    ("aerender ERROR: Unable to open the project file /p/x.aep: Permission denied", PERMANENT, "project-unreadable"),
    ("After Effects error: This project was created with a newer version of After Effects.", PERMANENT,
     "project-too-new"),
    ("After Effects error: The project file is damaged and could not be opened.", PERMANENT, "project-unreadable"),
    ("After Effects error: Unsupported compression type: ProRes RAW", PERMANENT, "unsupported-compression"),
    ("After Effects error: the codec H.265 10-bit is not supported by this output module", PERMANENT,
     "unsupported-compression"),
    ("aerender ERROR: Unknown flag: -bogus", PERMANENT, "bad-command-line"),
    ("After Effects error: Unable to Render: the output folder does not exist: /o", PERMANENT,
     "output-folder-missing"),
    ("aerender ERROR: After Effects error: Unable to obtain a license for After Effects. Sign in with an Adobe ID "
     "that has an active license and try again.", TRANSIENT, "licence"),
    ("aerender ERROR: After Effects quit unexpectedly (the process was killed by signal 9).", TRANSIENT, "crash"),
    ("After Effects error: crash occurred while invoking effect plug-in \u201cX\u201d.", TRANSIENT, "crash"),
    ("After Effects error: out of memory", TRANSIENT, "memory"),
    ("aerender Error: After Effects error: Unable to Render: an internal error occurred while rendering frame 4",
     TRANSIENT, "unknown"),
]


@pytest.mark.parametrize("line,kind,reason", REAL_ERRORS + VARIANT_ERRORS)
def test_error_kinds(line, kind, reason):
    event = parse_line(line)
    assert isinstance(event, FatalError), "the line must reach the classifier as a fatal error"
    failure = classify_error(event.text)
    assert (failure.kind, failure.reason) == (kind, reason)
    assert failure.text == event.text


def test_lines_that_are_not_failures_stay_out():
    """An INFO line about converting an old project (nexrender #999) is neither a warning nor fatal."""
    assert parse_line("INFO:After Effects: this project must be converted from version 23.1 (Macintosh 64). The "
                      "original file will be unchanged.") is None
    assert classify_warning("INFO:After Effects: this project must be converted from version 23.1") == OTHER


# ---------------------------------------------------------------------------------------------------- policy

def test_failing_classes_fail_unless_allowed():
    assert FAILING_BY_DEFAULT == {MISSING_FOOTAGE, MISSING_FONTS, MISSING_EFFECTS}
    for cls in FAILING_BY_DEFAULT:
        assert warning_fails(cls)
        assert not warning_fails(cls, {cls})
        assert all(warning_fails(cls, {other}) for other in FAILING_BY_DEFAULT - {cls})
    assert not warning_fails(OTHER)


def test_parse_allow():
    assert parse_allow("missing-footage, missing-fonts,") == {MISSING_FOOTAGE, MISSING_FONTS}
    assert parse_allow("MISSING-EFFECTS") == {MISSING_EFFECTS}
    assert parse_allow("") == frozenset()
    with pytest.raises(StmpoError, match="unknown warning class missing-fontz") as info:
        parse_allow("missing-fontz")
    assert info.value.exit_code == 2
    with pytest.raises(StmpoError, match="other"):
        parse_allow("other")


def test_continue_on_missing_footage_allows_missing_footage():
    assert effective_allow((), continue_on_missing_footage=True) == {MISSING_FOOTAGE}
    assert effective_allow({MISSING_FONTS}) == {MISSING_FONTS}
    assert not warning_fails(MISSING_FOOTAGE, effective_allow((), True))
    assert warning_fails(MISSING_FONTS, effective_allow((), True))


# ------------------------------------------------------------------------------------------- invocations

def test_invocation_precedence():
    busy = "aerender ERROR: After Effects can not render for aerender. Another instance of aerender is running"
    no_comp = "aerender ERROR: No comp was found with the given name."
    # a permanent line wins over everything, wherever it is
    assert classify_invocation([busy, no_comp], stalled=True, exit_code=1).reason == "comp-not-found"
    # else a stall, then the first fatal line, then a signal or a non-zero exit, then incomplete output
    assert classify_invocation([busy], stalled=True).reason == "stall"
    assert classify_invocation([busy], exit_code=1) == Failure(TRANSIENT, "another-instance", busy)
    assert classify_invocation(signal_number=9, exit_code=-9) == Failure(
        TRANSIENT, "crash", "killed by signal 9 without an error line")
    assert classify_invocation(exit_code=3).text == "exited with status 3 without an error line"
    assert classify_invocation(exit_code=0, incomplete=True).reason == "incomplete"
    assert classify_invocation(exit_code=0) is None
    assert classify_invocation() is None
    # a fatal line with exit 0 still fails (aerender exits 0 after fatal errors)
    assert classify_invocation([no_comp], exit_code=0).permanent


def test_a_permanent_error_hit_by_several_children_is_reported_once():
    line = "aerender ERROR: No comp was found with the given name."
    failures = [classify_error(line), classify_error(line.replace(" was ", "  was ")), classify_error("crash"),
                classify_error(line)]
    assert unique_failures(failures) == [classify_error(line), classify_error("crash")]
