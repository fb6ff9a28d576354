"""One render option as a record: its names on every surface, and how its values are read, checked and written.

The table itself (which options exist, their names and bounds) is ``engines.aftereffects.options``; this module is
the grammar every surface shares: the kinds of value (whole number, number, boolean, choice, a comma list of choices,
text, path, program, percent pair), "not set" spelled per surface (``auto``, ``0``, ``""``), bounds and their
one-line errors, the help text with default and bounds, and the default read from the settings dataclass an option
feeds.
"""
from __future__ import annotations

import math
from dataclasses import MISSING, dataclass, fields
from typing import Any, Dict, Optional, Tuple, Type

from aefarm_common.errors import AefarmError
from stmpo.plan import PlanSettings
from stmpo.settings import RunOptions

# kinds of value
INT, FLOAT, BOOL, CHOICE, TEXT, PATH, PROGRAM, PERCENTS, CHOICES = (
    "int", "float", "bool", "choice", "text", "path", "program", "percents", "choices")
NUMBERS = (INT, FLOAT)
# what an option feeds
TARGET, PLAN, RUN, JOB = "target", "plan", "run", "job"
SURFACES = ("cli", "accsyn", "openjd")
TRUE_WORDS = ("true", "yes", "on", "1")
FALSE_WORDS = ("false", "no", "off", "0")
BUNDLE_KINDS = ("image", "video")


class OptionError(AefarmError, ValueError):
    """A render option with a value of the wrong kind or out of its bounds (one line naming it; exit 2)."""


@dataclass(frozen=True)
class RenderOption:
    """One render option: its names on every surface, kind, bounds and help (the default comes from ``feeds``).

    ``low``/``high`` are inclusive bounds (``above_low``: ``low`` itself is refused); ``auto`` is the word that
    means "not set" on the CLI and in accsyn; ``openjd_kinds`` are the bundles whose template exposes ``openjd``.
    """

    name: str
    feeds: str
    kind: str
    help: str
    metavar: Optional[str] = None
    accsyn: Optional[str] = None
    openjd: Optional[str] = None
    low: Optional[float] = None
    high: Optional[float] = None
    above_low: bool = False
    choices: Tuple[str, ...] = ()
    auto: Optional[str] = None
    group: str = "running"
    openjd_kinds: Tuple[str, ...] = BUNDLE_KINDS
    unit: str = ""
    default_text: str = ""  # how help shows a default worked out at run time (None in the settings)
    job_default: Any = None  # the default of a ``job``/``target`` option (the Job's field default; a test checks)

    @property
    def flag(self) -> str:
        """The command-line flag (``--stall-timeout``)."""
        return "--" + self.name.replace("_", "-")

    @property
    def negative_flag(self) -> Optional[str]:
        """``--no-<name>`` for booleans, else None."""
        return "--no-" + self.name.replace("_", "-") if self.kind == BOOL else None

    @property
    def default(self) -> Any:
        """The value when the option is not given: the field default of the settings object it feeds."""
        if self.feeds in FEEDS_CLASS:
            return field_default(FEEDS_CLASS[self.feeds], self.name)
        return self.job_default

    @property
    def zero_is_unset(self) -> bool:
        """On the farm surfaces a number that defaults to None is written 0 when not set (0 is never valid)."""
        return self.kind in NUMBERS and self.default is None

    def name_on(self, surface: str) -> str:
        """How a message names this option on ``surface`` (flag, ``parameters.<name>`` or the OpenJD name)."""
        if surface == "accsyn" and self.accsyn:
            return f"parameters.{self.accsyn}"
        if surface == "openjd" and self.openjd:
            return self.openjd
        return self.flag

    def bounds_text(self) -> str:
        """``from 30 to 86400`` / ``>= 0`` / ``> 0 and <= 1024`` (empty without bounds)."""
        low, high = self.low, self.high
        if low is None and high is None:
            return ""
        if self.above_low:
            return f"> {low:g}" + (f" and <= {high:g}" if high is not None else "")
        if high is None:
            return f">= {low:g}"
        return f"from {low:g} to {high:g}"

    def describe(self) -> str:
        """The help text with the default and the bounds, as every surface shows it."""
        if self.feeds == TARGET:
            return self.help
        default = self.default
        if self.default_text:
            shown = self.default_text
        elif default is None:
            shown = self.auto or ""
        elif self.kind == BOOL:
            shown = "on" if default else "off"
        elif self.kind == CHOICES:
            shown = ",".join(default) or "none"
        else:
            shown = f"{default:g}" if isinstance(default, float) else str(default)
        extra = [f"default {shown}"] if shown else []
        if self.bounds_text():
            extra.append(self.bounds_text() + (f" {self.unit}" if self.unit else ""))
        return f"{self.help} ({'; '.join(extra)})" if extra else self.help

    # ------------------------------------------------------------------------------------------------ values
    def check(self, value: Any, surface: str = "cli", error: Type[Exception] = OptionError,
              shown: Any = None) -> Any:
        """``value`` (already of the option's type) if it is inside the bounds, else ``error`` naming it (and
        ``shown``, the value as given, when it was converted)."""
        if value is None:
            return None
        where = f"{self.name_on(surface)} {value if shown is None else shown!r}"
        if self.kind in NUMBERS:
            if isinstance(value, bool) or not isinstance(value, (int, float)) or (
                    self.kind == INT and not float(value).is_integer()):
                raise error(f"{where}: expected a {'whole ' if self.kind == INT else ''}number")
            number = float(value)
            too_low = self.low is not None and (number <= self.low if self.above_low else number < self.low)
            too_high = self.high is not None and number > self.high
            if not math.isfinite(number) or too_low or too_high:
                what = "a whole number" if self.kind == INT else (self.unit or "a number")
                raise error(f"{where}: expected {what} {self.bounds_text()}".rstrip())
            return int(value) if self.kind == INT else float(value)
        if self.kind == BOOL and not isinstance(value, bool):
            raise error(f"{where}: expected true or false")
        if self.kind == CHOICE and value not in self.choices:
            raise error(f"{where}: expected one of {', '.join(self.choices)}")
        if self.kind == CHOICES and not (isinstance(value, tuple) and all(v in self.choices for v in value)):
            raise error(f"{where}: expected a comma list of {', '.join(self.choices)}")
        if self.kind == PERCENTS:
            if not (isinstance(value, tuple) and len(value) == 2 and all(
                    isinstance(v, int) and not isinstance(v, bool) and 1 <= v <= 100 for v in value)):
                raise error(f"{where}: expected two whole numbers from 1 to 100 ('CACHE% MAX%')")
        if self.kind in (TEXT, PATH, PROGRAM) and (not isinstance(value, str) or not value.strip()
                                                   or "\0" in value):
            raise error(f"{where}: expected a non-empty {'text' if self.kind == TEXT else 'path'}")
        return value

    def parse(self, raw: Any, surface: str = "cli", error: Type[Exception] = OptionError) -> Any:
        """The value of ``raw`` (text from a command line or template, or a JSON value from accsyn), checked.

        None means "not set": ``None``, ``""``, the ``auto`` word and, on the farm surfaces, ``0`` for numbers that
        default to None. Raises ``error`` with one line naming the option as ``surface`` calls it."""
        where = self.name_on(surface)
        if raw is None:
            return None
        if self.kind == CHOICES and isinstance(raw, (list, tuple)) and all(isinstance(v, str) for v in raw):
            raw = ",".join(raw)  # accsyn parameters may hold a JSON list
        text = raw.strip() if isinstance(raw, str) else None
        if text == "" or (text is not None and self.auto and text.lower() == self.auto):
            return None
        if self.kind in NUMBERS:
            if isinstance(raw, bool) or not isinstance(raw, (int, float, str)):
                raise error(f"{where} {raw!r}: expected a {'whole ' if self.kind == INT else ''}number")
            try:
                number: Any = float(text) if text is not None else raw
                if self.kind == INT:
                    number = int(text) if text is not None else raw
            except ValueError:
                raise error(f"{where} {raw!r}: expected a {'whole ' if self.kind == INT else ''}number") from None
            if surface != "cli" and self.zero_is_unset and number == 0:
                return None
            return self.check(number, surface, error, shown=raw)
        if self.kind == BOOL:
            if isinstance(raw, bool):
                return raw
            if isinstance(raw, (int, float)) and raw in (0, 1):
                return bool(raw)
            if text is not None and text.lower() in TRUE_WORDS + FALSE_WORDS:
                return text.lower() in TRUE_WORDS
            raise error(f"{where} {raw!r}: expected true or false")
        if text is None:
            raise error(f"{where} {raw!r}: expected text")
        if self.kind == CHOICE:
            return self.check(text.lower(), surface, error, shown=raw)
        if self.kind == CHOICES:
            named = [part.strip().lower() for part in text.split(",") if part.strip()]
            if not named:  # only separators: neither "not set" (empty) nor a class
                raise error(f"{where} {raw!r}: expected one or more of {', '.join(self.choices)} (comma list)")
            ordered = tuple(c for c in self.choices if c in named)  # table order, each once
            return self.check(ordered if len(set(named)) == len(ordered) else tuple(named), surface, error,
                              shown=raw)
        if self.kind == PERCENTS:
            parts = text.replace(",", " ").split()
            try:
                pair = tuple(int(p) for p in parts)
            except ValueError:
                pair = ()
            return self.check(pair if len(pair) == 2 else raw, surface, error, shown=raw)
        return self.check(raw if self.kind == TEXT else text, surface, error, shown=raw)

    def encode(self, value: Any, surface: str) -> Any:
        """``value`` as ``surface`` writes it: accsyn JSON values, OpenJD text (None -> the "not set" spelling)."""
        if surface == "openjd":
            if value is None:
                return "0" if self.kind in NUMBERS else ""
            if self.kind == BOOL:
                return "true" if value else "false"
            if self.kind == CHOICES:
                return ",".join(value)
            return number_text(value) if self.kind in NUMBERS else str(value)
        if self.kind == CHOICES:
            return ",".join(value or ())
        if value is None:
            if self.auto:
                return self.auto
            return 0 if self.kind in NUMBERS else ""
        if self.kind == FLOAT and float(value).is_integer():
            return int(value)
        return value


def number_text(value: Any) -> str:
    return str(int(value)) if float(value).is_integer() else repr(float(value))


def field_default(cls: type, name: str) -> Any:
    """The default of dataclass field ``name`` of ``cls`` (KeyError when it has none)."""
    for item in fields(cls):
        if item.name == name:
            if item.default is not MISSING:
                return item.default
            if item.default_factory is not MISSING:
                return item.default_factory()
    raise KeyError(f"{cls.__name__}.{name} has no default")


FEEDS_CLASS: Dict[str, type] = {PLAN: PlanSettings, RUN: RunOptions}
