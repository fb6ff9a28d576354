"""The accsyn API client as `aefarm accsyn submit` uses it: a session, creating a compute job, one-line errors.

accsyn-python-api (``accsyn_api.session.Session``) reads its credentials from ACCSYN_WORKSPACE / ACCSYN_API_USER /
ACCSYN_API_KEY or the .env file ACCSYN_CREDENTIALS_PATH names, logs in when the session is made, configures the root
logger on import and writes tracebacks to stderr. Here a missing credential or a client that cannot import is bad
input (``AccsynError``, exit 2, one line); an error the server answers is turned into one line by
``api_error_line``; the client's own logging and stderr are held back.
"""
from __future__ import annotations

import contextlib
import io
import logging
import re
import sys
from typing import Any, Dict, Iterator

from engines.aftereffects.accsyn_errors import AccsynError

_FAILED_CALL = re.compile(r"^The (\S+) REST (\w+) .*? operation failed! Details: (.*?)(?: Traceback|$)", re.S)


def api_error_line(exc: BaseException) -> str:
    """One line from an accsyn-python-api error (its messages can embed the whole request and a traceback)."""
    text = str(exc)
    failed = _FAILED_CALL.match(text)
    if failed:
        url, method, body = failed.groups()
        text = f"{method} {url} failed: {' '.join(body.split())[:200] or 'empty answer'}"
    cut = text.find(" Details:")
    if cut > 0:
        text = text[:cut]
    return " ".join(text.split())[:500] or type(exc).__name__


_MISSING_CREDENTIAL = re.compile(r"Please supply your accsyn .*? or set (ACCSYN_\w+) environment")


@contextlib.contextmanager
def _quiet_client() -> Iterator[None]:
    """The client logs its errors as banners (it configures the root logger on import) and writes tracebacks to
    stderr; both are held back so the user sees our one line (the CLI adds nothing unless --debug)."""
    root = logging.getLogger()
    saved = root.handlers[:]
    root.handlers = [logging.NullHandler()]
    try:
        with contextlib.redirect_stderr(io.StringIO()):
            yield
    finally:
        root.handlers = saved


def open_session() -> Any:
    """An accsyn-python-api ``Session`` (credentials from its environment or .env file; it logs in).

    A missing credential is bad input (AccsynError, exit 2, one line naming the variable); a client that cannot
    import is too. Anything the server answers propagates as the client raised it."""
    try:
        from accsyn_api.session import Session
    except ImportError as exc:
        raise AccsynError(f"accsyn-python-api is not installed ({exc}): pip install accsyn-python-api") from None
    except TypeError as exc:  # accsyn-python-api >= 3.2 evaluates 3.10-only annotations at import on Python 3.9
        raise AccsynError(f"accsyn-python-api cannot be imported on Python {sys.version.split()[0]} ({exc}): "
                          "submit from Python 3.10 or newer") from None
    with _quiet_client():
        try:
            return Session()
        except Exception as exc:
            missing = _MISSING_CREDENTIAL.search(str(exc))
            if missing is None:
                raise
    raise AccsynError(f"accsyn credentials missing: set {missing.group(1)} (ACCSYN_WORKSPACE, ACCSYN_API_USER and "
                      "ACCSYN_API_KEY, in the environment or the .env file ACCSYN_CREDENTIALS_PATH names)")


def create_compute_job(payload: Dict[str, Any], session: Any = None) -> Any:
    """``Session().create("Compute", payload)`` with accsyn-python-api (a new session unless one is given)."""
    session = session if session is not None else open_session()
    with _quiet_client():
        return session.create("Compute", payload)


def job_id_of(result: Any) -> str:
    if isinstance(result, list) and result:
        result = result[0]
    if isinstance(result, dict):
        for key in ("id", "_id", "code"):
            if result.get(key):
                return str(result[key])
    raise ValueError(f"accsyn answered without a job id: {str(result)[:200]}")
