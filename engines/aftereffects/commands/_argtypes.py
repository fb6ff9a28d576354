"""Argument types shared by the subcommands, so every number on the command line is checked and refused alike.

argparse turns ``ArgumentTypeError`` into the one-line `aefarm <cmd>: error: argument --x: ...` the CLI promises.
(The leading underscore keeps this module out of subcommand discovery.)
"""
from __future__ import annotations

import argparse
import math
from typing import Callable, Optional


def whole_number(low: int = 0, high: Optional[int] = None) -> Callable[[str], int]:
    """A parser for whole numbers in ``low..high`` (inclusive; no upper bound when ``high`` is None)."""
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
        if value < low or (high is not None and value > high):
            bounds = f">= {low}" if high is None else f"from {low} to {high}"
            raise argparse.ArgumentTypeError(f"expected a whole number {bounds}, got {text!r}")
        return value
    return parse


def number(low: float = 0.0, high: float = math.inf, *, what: str = "a number",
           exclusive_low: bool = False) -> Callable[[str], float]:
    """A parser for finite numbers in ``low..high`` (``nan`` and infinities are refused)."""
    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected {what}, got {text!r}") from None
        above_low = value > low if exclusive_low else value >= low
        if not (math.isfinite(value) and above_low and value <= high):
            if math.isinf(high):
                bounds = f"{'>' if exclusive_low else '>='} {low:g}"
            else:
                bounds = f"from {low:g} to {high:g}"
            raise argparse.ArgumentTypeError(f"expected {what} {bounds}, got {text!r}")
        return value
    return parse
