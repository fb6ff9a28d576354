"""What the simulated aerender says, in the wordings and languages real After Effects uses (a TEST INSTRUMENT).

Wordings marked "report" are copied from public aerender output (the source is named); the others are our own
construction in the same family, for tests that must not depend on one spelling. Localized builds translate the
messages but keep the ASCII prefixes (`PROGRESS:`, `WARNING:`, `aerender ERROR`, `aerender Error:`).
"""
from __future__ import annotations

import datetime
from typing import Dict, Tuple

LANGUAGES: Tuple[str, ...] = ("en", "pt", "zh")

# missing footage reported only inside a warning
FOOTAGE_WORDINGS: Tuple[str, ...] = ("logged", "missing", "cannot", "pt")
_FOOTAGE_WARNING = {
    # report: github.com/inlife/nexrender/issues/206 (two spaces before "error:" as posted)
    "logged": "WARNING:After Effects warning: logged one error  error: Unable to Render: File Not Found {path}",
    "missing": "WARNING:After Effects warning: missing footage {path}",
    "cannot": "WARNING:After Effects warning: Cannot find the file {path}",
    # report: github.com/filipedeschamps/video-maker/issues/343 (Portuguese After Effects 16.1)
    "pt": "WARNING:Aviso do After Effects: registrado um erro \u00b6 \"Erro do After Effects: N\u00e3o \u00e9 "
          "poss\u00edvel renderizar: arquivo {path} n\u00e3o localizado\"",
}

FONT_WORDINGS: Tuple[str, ...] = ("project", "grouped", "pt")
_FONT_WARNING = {
    # report: github.com/inlife/nexrender/issues/123
    "project": "WARNING:After Effects warning: Project has missing fonts.",
    # report: github.com/inlife/nexrender/issues/148 (aerender 13.5)
    "grouped": "WARNING:After Effects warning: Grouped_Message_{some layers have missing dependencies. Press Ctrl-C "
               "to copy this list.|||a layer has missing dependencies.###@0 dependencies are missing:}Text Layer: "
               "Font family: Bebas, Font style: Regular",
    # report: github.com/filipedeschamps/video-maker/issues/343
    "pt": "WARNING:Aviso do After Effects: O projeto tem fontes ausentes.",
}

_EFFECT_WARNING = {
    "effect": "WARNING:After Effects warning: The effect \u201cDeep Glow\u201d is missing.",
    "plugin": "WARNING:After Effects warning: The plug-in \u201cSapphire S_Glow\u201d could not be loaded.",
}

_MESSAGES: Dict[str, Dict[str, str]] = {
    "en": {
        "file_not_found": "After Effects error: Unable to Render: File Not Found {path}",
        "no_comp": "aerender ERROR: No comp was found with the given name.",
        # report: github.com/inlife/nexrender/issues/542
        "another_instance": "aerender ERROR: After Effects can not render for aerender. Another instance of aerender, "
                            "or another script, may be running; or, AE may be waiting for response from a modal "
                            "dialog, or for a render to complete. Try running aerender without the -reuse flag to "
                            "invoke a separate instance of After Effects",
    },
    "pt": {
        "file_not_found": "aerender Error: Erro do After Effects: N\u00e3o \u00e9 poss\u00edvel renderizar: arquivo "
                          "{path} n\u00e3o localizado",
        "no_comp": "aerender ERROR: Nenhuma composi\u00e7\u00e3o foi encontrada com o nome fornecido.",
        "another_instance": "aerender ERROR: O After Effects n\u00e3o pode renderizar para o aerender. Outra "
                            "inst\u00e2ncia do aerender pode estar em execu\u00e7\u00e3o.",
    },
    "zh": {
        "file_not_found": "aerender Error: After Effects \u9519\u8bef: \u65e0\u6cd5\u6e32\u67d3: \u627e\u4e0d\u5230"
                          "\u6587\u4ef6 {path}",
        "no_comp": "aerender ERROR: \u627e\u4e0d\u5230\u5177\u6709\u7ed9\u5b9a\u540d\u79f0\u7684\u5408\u6210\u3002",
        "another_instance": "aerender ERROR: After Effects \u65e0\u6cd5\u4e3a aerender \u6e32\u67d3\u3002\u53e6\u4e00"
                            "\u4e2a aerender \u5b9e\u4f8b\u6b63\u5728\u8fd0\u884c\u3002",
    },
}


def message(language: str, key: str, **values: str) -> str:
    return _MESSAGES[language][key].format(**values)


def footage_warning(wording: str, path: str) -> str:
    return _FOOTAGE_WARNING[wording].format(path=path)


def font_warning(wording: str) -> str:
    return _FONT_WARNING[wording]


def effect_warning(wording: str) -> str:
    return _EFFECT_WARNING[wording]


def clock_text(moment: datetime.datetime, language: str = "en") -> str:
    """The date stamp on composition start and finish lines: `4/30/2018 3:10:50 PM` (en), `30/04/2018 15:10:50`
    (pt, as in github.com/filipedeschamps/video-maker/issues/343), `2018/04/30 15:10:50` (zh)."""
    if language == "pt":
        return moment.strftime("%d/%m/%Y %H:%M:%S")
    if language == "zh":
        return moment.strftime("%Y/%m/%d %H:%M:%S")
    hour = moment.hour % 12 or 12
    return (f"{moment.month}/{moment.day}/{moment.year} {hour}:{moment.minute:02d}:{moment.second:02d} "
            f"{'AM' if moment.hour < 12 else 'PM'}")
