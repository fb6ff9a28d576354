"""The command-line side of the option table (``engines.aftereffects.options``): flags added from it, values read back.

`aefarm render` takes every option; `aefarm deadline bundle|submit` and `aefarm accsyn submit` take the ones their
farm passes on, with the same flags, types, bounds and help (not given: the farm's default, which is the table's);
`aefarm deadline task` takes the OpenJD template's values as text (``0``/``""`` = not set) under the same flags.
"""
from __future__ import annotations

import argparse
from typing import Any, Callable, Dict, Iterable, Optional

from engines.aftereffects.option_record import BOOL, OptionError, RenderOption
from engines.aftereffects.options import BY_NAME

GROUP_TITLES = {"planning": "planning (how many aerender children, which CPUs)",
                "running": "running (scheduling, watching, retrying, verifying)",
                "aerender": "aerender",
                "actions": "post-render actions (after every frame is verified)"}


def add_target_arguments(parser: argparse.ArgumentParser, required: bool = True) -> None:
    """``--comp NAME`` | ``--rqindex N``, exactly one (the Job checks it again with ``options.check_target``);
    ``required=False`` where another option can stand in for both (``deadline bundle --job``)."""
    target = parser.add_mutually_exclusive_group(required=required)
    for name in ("comp", "rqindex"):
        option = BY_NAME[name]
        target.add_argument(option.flag, type=cli_type(option), metavar=option.metavar, help=option.describe())


def add_option_arguments(parser: argparse.ArgumentParser, options: Iterable[RenderOption],
                         title: Optional[str] = None) -> None:
    """One flag per option (``--x``/``--no-x`` for booleans), default None (= the table's default)."""
    groups: Dict[str, Any] = {}
    for option in options:
        key = title or option.group
        if key not in groups:
            groups[key] = parser.add_argument_group(title or GROUP_TITLES.get(key, key))
        group = groups[key]
        if option.kind == BOOL:
            group.add_argument(option.flag, dest=option.name, action="store_true", default=None,
                               help=option.describe())
            group.add_argument(str(option.negative_flag), dest=option.name, action="store_false", default=None,
                               help=f"the opposite of {option.flag}")
        else:
            group.add_argument(option.flag, dest=option.name, type=cli_type(option), default=None,
                               metavar=option.metavar or "|".join(option.choices) or option.name.upper(),
                               help=option.describe())


def add_template_arguments(parser: argparse.ArgumentParser, options: Iterable[RenderOption]) -> None:
    """The OpenJD template's values under the options' flags, as text: ``0``/``""`` mean not set."""
    group = parser.add_argument_group("render options (the template's values; 0 or empty = not set)")
    for option in options:
        group.add_argument(option.flag, dest=option.name, default=None, metavar=option.openjd,
                           help=f"{{{{Param.{option.openjd}}}}}: {option.describe()}")


def option_values(args: argparse.Namespace, options: Iterable[RenderOption]) -> Dict[str, Any]:
    """Option name -> the value given on the command line (None: not given)."""
    return {option.name: getattr(args, option.name, None) for option in options}


def cli_type(option: RenderOption) -> Callable[[str], Any]:
    """An argparse ``type`` for ``option``: parse and check, refusing with argparse's one-line error."""
    def parse(text: str) -> Any:
        try:
            value = option.parse(text, "cli")
        except OptionError as exc:  # argparse names the flag itself: keep only what was expected
            raise argparse.ArgumentTypeError(f"{str(exc).rsplit(': ', 1)[-1]}, got {text!r}") from None
        if value is None and not (option.auto and text.strip().lower() == option.auto):
            raise argparse.ArgumentTypeError(f"expected a value, got {text!r}")
        return value

    parse.__name__ = option.name  # argparse names the type in "invalid <type> value" messages
    return parse
