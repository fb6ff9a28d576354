"""What `aefarm accsyn run` does in place of the accsyn queue and daemon, as plain data.

A studio tests a job before submitting it, and our tests prove the app, under the real contract: the payload is
turned into the daemon's ``data.json`` wrapper as accsyn would, the range is cut into buckets of
``settings.task_bucketsize`` frames handed over in ``ACCSYN_ITEM``, and the app's stdout is read back for the
``taskstatus`` lines that tell accsyn a frame is done.
"""
from __future__ import annotations

import ast
import json
import time
from pathlib import Path
from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple, Union

from engines.aftereffects.accsyn_errors import AccsynError
from stmpo.errors import FrameSpecError
from stmpo.frames import FrameSet

APP_FILE = Path(__file__).with_name("accsyn_app.py")
CONFIG_START = "# -- ENGINE CONFIG START --"
CONFIG_END = "# -- ENGINE CONFIG END --"


def read_engine_config(path: Union[str, Path] = APP_FILE) -> Tuple[Dict[str, Any], Dict[str, Any]]:
    """``(SETTINGS, PARAMETERS)`` read from the app file the way accsyn reads it: as text, literals only."""
    text = Path(path).read_text(encoding="utf-8")
    try:
        block = text.split(CONFIG_START, 1)[1].split(CONFIG_END, 1)[0]
    except IndexError:
        raise AccsynError(f"{path}: no {CONFIG_START} ... {CONFIG_END} block") from None
    values: Dict[str, Any] = {}
    for node in ast.parse(block).body:
        if isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name):
            values[node.targets[0].id] = ast.literal_eval(node.value)
    if not isinstance(values.get("SETTINGS"), dict) or not isinstance(values.get("PARAMETERS"), dict):
        raise AccsynError(f"{path}: the engine config block must define SETTINGS and PARAMETERS dicts")
    return values["SETTINGS"], values["PARAMETERS"]


def load_payload(path: Union[str, Path]) -> Dict[str, Any]:
    p = Path(path)
    try:
        data = json.loads(p.read_text(encoding="utf-8-sig"))
    except OSError as exc:
        raise AccsynError(f"payload {p}: cannot read ({exc.strerror or exc})") from None
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise AccsynError(f"payload {p}: not valid JSON ({exc})") from None
    if not isinstance(data, dict):
        raise AccsynError(f"payload {p}: expected a JSON object")
    return data


def payload_range(payload: Mapping[str, Any], default: Optional[str] = None) -> FrameSet:
    value = payload.get("range", default)
    if value in (None, ""):
        raise AccsynError("payload: 'range' is missing")
    try:
        frames = FrameSet.parse(str(value))
    except FrameSpecError as exc:
        raise AccsynError(f"payload range {value!r}: {exc}") from None
    if not len(frames):
        raise AccsynError(f"payload range {value!r}: no frames")
    return frames


def bucket_size(payload: Mapping[str, Any], settings: Mapping[str, Any]) -> int:
    """``settings.task_bucketsize`` of the payload, else the app's default, capped at the app's maximum."""
    given = (payload.get("settings") or {}).get("task_bucketsize") if isinstance(payload.get("settings"), Mapping) \
        else None
    value: Any = given if given not in (None, "") else settings.get("default_bucketsize", 1)
    try:
        size = int(value)
    except (TypeError, ValueError):
        raise AccsynError(f"payload settings.task_bucketsize {value!r}: expected a whole number") from None
    if size < 1:
        raise AccsynError(f"payload settings.task_bucketsize {value!r}: must be at least 1")
    maximum = settings.get("max_bucketsize")
    return min(size, int(maximum)) if maximum else size


def buckets(frames: FrameSet, size: int) -> List[str]:
    """Work items as accsyn hands them out: ``A-B`` (or ``N``) spanning ``size`` consecutive frames of the range.

    The app intersects an item with the job's range, so ``1-100x5`` in buckets of 2 gives ``1-6``, ``11-16``, ...
    and never renders 2-5."""
    items: List[str] = []
    batch: List[int] = []
    for frame in frames:
        batch.append(frame)
        if len(batch) == size:
            items.append(_item(batch))
            batch = []
    if batch:
        items.append(_item(batch))
    return items


def _item(batch: Sequence[int]) -> str:
    return str(batch[0]) if len(batch) == 1 else f"{batch[0]}-{batch[-1]}"


def build_wrapper(payload: Mapping[str, Any], shares: Optional[List[Dict[str, Any]]] = None,
                  node_sharepaths: Optional[List[Dict[str, Any]]] = None, job_id: str = "local",
                  user: str = "local", site: Optional[str] = None) -> Dict[str, Any]:
    """The daemon's ``data.json`` for this payload (docs/formats.md §4)."""
    created = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime())
    params = payload.get("parameters") or {}
    if not isinstance(params, Mapping):
        raise AccsynError("payload: 'parameters' must be an object")
    compute = {
        "id": job_id, "code": str(payload.get("name") or job_id), "user": user, "created": created,
        "input": payload.get("input"), "output": payload.get("output"), "range": payload.get("range"),
        "parameters": dict(params), "envs": payload.get("envs") or {}, "settings": payload.get("settings") or {},
        "dependencies": payload.get("dependencies") or [], "filters": payload.get("filters") or "",
    }
    return {
        "compute": compute,
        "shares": list(shares or []),
        "client": {"config": {"sharepaths": list(node_sharepaths or [])}},
        "site": {"code": site or str(params.get("site") or "local")},
        "job": {"id": job_id, "code": compute["code"], "user": user, "created": created},
    }


def taskstatus_frame(line: str) -> Optional[int]:
    """The frame of an accsyn ``{"taskstatus": true, "uri": "<frame>", "status": "done"}`` line, else None."""
    text = line.strip()
    if not (text.startswith("{") and "taskstatus" in text):
        return None
    try:
        data = json.loads(text)
    except ValueError:
        return None
    if not isinstance(data, dict) or data.get("taskstatus") is not True or data.get("status") != "done":
        return None
    try:
        return int(str(data.get("uri")))
    except ValueError:
        return None
