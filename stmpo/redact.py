"""Secrets never reach a log: values of secret-looking environment variables are replaced by ``***``.

Why a module of its own: every line a child prints, every message and every summary passes through a redactor before
it reaches stdout or a per-child log file, and the engine uses the same naming rule (``SECRET_NAME``) to find the
secrets of a job's env file or an accsyn payload. One rule, one place.
"""
from __future__ import annotations

import os
import re
from typing import Iterable, List, Mapping, Optional, Tuple

SECRET_NAME = re.compile(r"KEY|TOKEN|SECRET|PASSWORD|PASSWD|CREDENTIAL", re.IGNORECASE)
_MIN_SECRET_LEN = 6  # shorter values ("1", "true") would blank out ordinary text


class Redactor:
    """Replaces the values of secret-looking environment variables with `***`.

    Built once (scanning the environment per line would cost more than the rest of the line handling).
    """

    __slots__ = ("values",)

    def __init__(self, values: Iterable[str] = ()) -> None:
        self.values: Tuple[str, ...] = tuple(sorted({v for v in values if len(v) >= _MIN_SECRET_LEN},
                                                    key=len, reverse=True))

    @classmethod
    def from_env(cls, env: Optional[Mapping[str, str]] = None, extra: Iterable[str] = ()) -> "Redactor":
        """This process's secrets (or ``env``'s), plus ``extra`` values (a job's env file, a payload's keys)."""
        return cls([*secret_values(os.environ if env is None else env), *extra])

    def __call__(self, text: str) -> str:
        for value in self.values:
            if value in text:
                text = text.replace(value, "***")
        return text


def secret_values(env: Mapping[str, str]) -> List[str]:
    """Values of variables named like secrets (``*KEY*``, ``*TOKEN*``, ``*SECRET*``, ``*PASSWORD*`` ...)."""
    return [str(value).strip() for name, value in env.items() if SECRET_NAME.search(str(name)) and str(value).strip()]


_default_redactor: Optional[Redactor] = None


def redact(text: str) -> str:
    """`text` with the values of this process's *KEY*/*TOKEN*/*SECRET*/*PASSWORD* variables replaced by `***`.

    The environment is read on first use; call `refresh_secrets()` after changing it."""
    global _default_redactor
    if _default_redactor is None:
        _default_redactor = Redactor.from_env()
    return _default_redactor(text)


def refresh_secrets() -> None:
    global _default_redactor
    _default_redactor = Redactor.from_env()


