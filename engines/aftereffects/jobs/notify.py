"""The notify action: tell someone a variant is done, by webhook and/or a command. Never a render's failure.

- webhook: an HTTP(S) POST of the variant's JSON result (``Content-Type: application/json``), each attempt bounded
  by ``timeout`` seconds, retried up to ``retries`` more times (waiting 0.5 s, 1 s, 2 s, ... at most 10 s) on a
  network error, a timeout or an HTTP 5xx/429 answer; any 2xx answer is success, other 4xx answers are final.
- command: a program with arguments (row fields filled in; never through a shell), the JSON result on its stdin,
  ``timeout`` seconds to finish; exit 0 is success. Retried like the webhook.

Each returns an outcome for the report (ok, attempts, the last status or error); nothing here raises.
"""
from __future__ import annotations

import json
import subprocess
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from typing import Any, Callable, Dict, List, Optional, Sequence

USER_AGENT = "aefarm-notify/1"
MAX_WAIT = 10.0


@dataclass
class NotifyOutcome:
    """How one notification went: ``ok``, ``attempts`` made, the last ``status`` (HTTP code or exit code), ``error``."""

    kind: str
    target: str
    ok: bool = False
    attempts: int = 0
    status: Optional[int] = None
    error: str = ""
    history: List[str] = field(default_factory=list)

    def to_json(self) -> Dict[str, Any]:
        return {"kind": self.kind, "target": self.target, "ok": self.ok, "attempts": self.attempts,
                "status": self.status, "error": self.error or None}


def _wait(attempt: int) -> float:
    return min(MAX_WAIT, 0.5 * (2 ** attempt))


def post_json(url: str, payload: Any, retries: int = 3, timeout: float = 10.0,
              sleep: Callable[[float], None] = time.sleep) -> NotifyOutcome:
    """POST ``payload`` as JSON to ``url`` with bounded retries (see the module docstring)."""
    body = json.dumps(payload, ensure_ascii=False, sort_keys=True).encode("utf-8")
    outcome = NotifyOutcome("webhook", url)
    for attempt in range(retries + 1):
        if attempt:
            sleep(_wait(attempt - 1))
        outcome.attempts += 1
        request = urllib.request.Request(url, data=body, method="POST",
                                         headers={"Content-Type": "application/json", "User-Agent": USER_AGENT})
        try:
            with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310 - the job's own URL
                outcome.status = response.status
                response.read(65536)
            if 200 <= (outcome.status or 0) < 300:
                outcome.ok, outcome.error = True, ""
                return outcome
            outcome.error = f"HTTP {outcome.status}"
        except urllib.error.HTTPError as exc:
            outcome.status, outcome.error = exc.code, f"HTTP {exc.code} {exc.reason}"
            if 400 <= exc.code < 500 and exc.code not in (408, 429):
                return outcome  # the server refused the request itself: asking again changes nothing
        except (urllib.error.URLError, OSError, ValueError) as exc:
            reason = getattr(exc, "reason", exc)
            outcome.error = " ".join(str(reason).split()) or type(exc).__name__
        outcome.history.append(outcome.error)
    return outcome


def run_command(argv: Sequence[str], payload: Any, retries: int = 0, timeout: float = 10.0,
                sleep: Callable[[float], None] = time.sleep) -> NotifyOutcome:
    """Run ``argv`` with the JSON ``payload`` on stdin (no shell), with bounded retries and a timeout."""
    body = json.dumps(payload, ensure_ascii=False, sort_keys=True)
    outcome = NotifyOutcome("command", " ".join(argv))
    for attempt in range(retries + 1):
        if attempt:
            sleep(_wait(attempt - 1))
        outcome.attempts += 1
        try:
            proc = subprocess.run(list(argv), input=body, text=True, capture_output=True, timeout=timeout)
        except subprocess.TimeoutExpired:
            outcome.error = f"did not finish within {timeout:g} s"
        except OSError as exc:
            outcome.error = f"could not start {argv[0]}: {exc.strerror or exc}"
            return outcome
        else:
            outcome.status = proc.returncode
            if proc.returncode == 0:
                outcome.ok, outcome.error = True, ""
                return outcome
            tail = proc.stderr.strip().splitlines()[-1] if proc.stderr.strip() else ""
            outcome.error = f"exit code {proc.returncode}" + (f": {tail}" if tail else "")
        outcome.history.append(outcome.error)
    return outcome


def check_url(url: str, where: str) -> str:
    """``url`` if it is an absolute http(s) URL with a host, else ValueError naming ``where``."""
    from urllib.parse import urlsplit

    parts = urlsplit(url.strip())
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ValueError(f"{where} {url!r}: expected an http:// or https:// URL")
    return url.strip()
