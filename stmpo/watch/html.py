"""The HTML report of a render: one self-contained page (inline CSS, SVG and, for the live view, a few lines of
JavaScript; thumbnails as ``data:`` URIs; nothing fetched from a network) built from a live or final JSON report.

``run_page(report)`` -> the whole page; ``run_model(report)`` -> the numbers it shows (tests compare them with the
JSON). Templates (jinja2, autoescaped) are package data in ``stmpo/watch/templates``.
"""
from __future__ import annotations

import os
import re
import time
from collections import OrderedDict
from pathlib import Path
from typing import Any, Dict, List, Mapping, Optional

from stmpo import runstats
from stmpo.estimate import format_seconds
from stmpo.watch import charts
from stmpo.watch.thumbs import ThumbCache, thumbnail

LOG_TAIL_LINES = 12
MAX_LOG_SCAN_LINES = 20000
STATUS_TEXT = {"running": "running", "done": "done", "failed": "failed", "cancelled": "cancelled", "lost": "lost"}

_env: Any = None


def environment() -> Any:
    """The jinja2 environment of the watch templates (autoescaped; built once)."""
    global _env
    if _env is None:
        import jinja2

        _env = jinja2.Environment(loader=jinja2.PackageLoader("stmpo.watch", "templates"), autoescape=True,
                                  trim_blocks=True, lstrip_blocks=True, undefined=jinja2.StrictUndefined)
        _env.filters["dur"] = format_seconds
        _env.filters["clock"] = clock_text
        _env.filters["pct"] = lambda v: "-" if v is None else f"{100.0 * v:.0f}%"
    return _env


def clock_text(epoch: Optional[float]) -> str:
    if not epoch:
        return "-"
    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(epoch))


def _log_for(chunk: Mapping[str, Any], pid: Optional[int]) -> Optional[Path]:
    for text in chunk.get("logs") or ():
        if pid is not None and re.search(rf"-pid-{int(pid)}\.log$", str(text)):
            return Path(text)
    return None


def log_tail(path: Optional[Path], lines: int = LOG_TAIL_LINES) -> List[str]:
    """The last ``lines`` lines of a per-child log (read-only; [] when it is gone)."""
    if path is None:
        return []
    try:
        with open(path, "rb") as handle:
            handle.seek(0, os.SEEK_END)
            size = handle.tell()
            handle.seek(max(0, size - 16384))
            data = handle.read().decode("utf-8", "replace")
    except OSError:
        return []
    return [line for line in data.splitlines() if line.strip()][-lines:]


def warnings_of(report: Mapping[str, Any]) -> List[dict]:
    """aerender warning lines, grouped by text: [{text, count, chunks}]. From the live ``warnings`` field when the
    report has it, else read from the per-child logs the report names."""
    found: List[dict] = list(report.get("warnings") or ()) if "warnings" in report else []
    if "warnings" not in report:
        from stmpo.lines import AeWarning, parse_line

        for chunk in report.get("chunks") or ():
            for text in chunk.get("logs") or ():
                try:
                    with open(text, encoding="utf-8", errors="replace") as handle:
                        for number, line in enumerate(handle):
                            if number >= MAX_LOG_SCAN_LINES:
                                break
                            if "arn" in line and isinstance(parse_line(line), AeWarning):
                                found.append({"chunk": chunk.get("chunk"), "text": line.strip()})
                except OSError:
                    continue
    grouped: "OrderedDict[str, dict]" = OrderedDict()
    for item in found:
        text = str(item.get("text", ""))
        entry = grouped.setdefault(text, {"text": text, "count": 0, "chunks": []})
        entry["count"] += 1
        if item.get("chunk") is not None and item["chunk"] not in entry["chunks"]:
            entry["chunks"].append(item["chunk"])
    return list(grouped.values())


def failures_of(report: Mapping[str, Any], views: List[runstats.InvocationView]) -> List[dict]:
    """Invocations that failed, stalled or were stopped, with the aerender lines that tell why (log tail)."""
    chunks = {c.get("chunk"): c for c in report.get("chunks") or ()}
    out = []
    for view in views:
        if view.outcome not in (runstats.FAILED, runstats.STALLED, runstats.KILLED):
            continue
        chunk = chunks.get(view.chunk) or {}
        out.append({"chunk": view.chunk, "slot": view.slot, "pid": view.pid, "frames": view.frames,
                    "outcome": view.outcome, "reason": view.reason, "exit_code": view.exit_code,
                    "retry": view.retry, "fatal": view.fatal, "log": str(_log_for(chunk, view.pid) or ""),
                    "lines": log_tail(_log_for(chunk, view.pid)),
                    "retried": any(c.get("retry") and c.get("chunk", 0) > view.chunk for c in chunks.values())})
    return out


def thumbnails_of(report: Mapping[str, Any], marks: Dict[int, runstats.FrameMark],
                  cache: Optional[ThumbCache] = None) -> dict:
    """{"items": [{label, frame, seconds, uri, note}], "note"}: the first, slowest and last delivered frames."""
    pattern_text = str(report.get("output") or "")
    if not marks or not pattern_text:
        return {"items": [], "note": "no frame rendered yet"}
    from stmpo.errors import StmpoError
    from stmpo.outputs import OutputPattern

    comp = str((report.get("job") or {}).get("comp") or "")
    try:
        pattern = OutputPattern(pattern_text, comp=comp)
    except StmpoError as exc:
        return {"items": [], "note": str(exc)}
    if pattern.is_movie:
        return {"items": [], "note": f"movie output ({pattern.extension}): no frame thumbnails"}
    frames = sorted(marks)
    slowest = max(frames, key=lambda f: marks[f].seconds)
    picks: "OrderedDict[int, List[str]]" = OrderedDict()
    for label, frame in (("first", frames[0]), ("slowest", slowest), ("last", frames[-1])):
        picks.setdefault(frame, []).append(label)
    items = []
    for frame, labels in picks.items():
        path = pattern.frame_path(frame)
        uri, note = (cache.get(path) if cache is not None else thumbnail(path))
        items.append({"label": " & ".join(labels), "frame": frame, "seconds": marks[frame].seconds, "uri": uri,
                      "note": note, "path": str(path)})
    return {"items": items, "note": ""}


def run_model(report: Mapping[str, Any], *, now: Optional[float] = None, thumbs: bool = True,
              cache: Optional[ThumbCache] = None) -> dict:
    """Everything the run page shows, computed from the report (see ``stmpo.runstats`` for the definitions)."""
    now = time.time() if now is None else now
    views = runstats.invocations(report)
    summary = runstats.summarize(report, views, now=now)
    status = str(report.get("status_shown") or summary.status)
    t0 = summary.started if summary.started is not None else min((v.start for v in views), default=now)
    t1 = summary.ended if summary.ended is not None else now
    t1 = max([t1] + [v.end for v in views if v.end is not None] + [t0 + 1.0])
    marks = runstats.frame_times(views)
    retried = [m.frame for v in views if v.retry for m in v.marks]
    job = report.get("job") or {}
    plan = report.get("plan") or {}
    estimate = report.get("estimate") if isinstance(report.get("estimate"), Mapping) else None
    title_bits = [f"comp {job['comp']}" if job.get("comp") else (f"render-queue item {job['rqindex']}"
                                                                 if job.get("rqindex") else "render")]
    if job.get("project"):
        title_bits.append(Path(str(job["project"])).name)
    eta = report.get("eta") if status == "running" else None
    return {
        "title": " · ".join(title_bits), "status": status, "summary": summary, "report": report,
        "text": report.get("summary") or "", "reason": report.get("reason") or "",
        "missing": report.get("missing") or "", "frames_spec": report.get("frames") or "",
        "output": report.get("output") or "", "job": job, "host": report.get("host") or {},
        "plan_lines": list(plan.get("explanation") or ()), "plan_warnings": list(plan.get("warnings") or ()),
        "timeline": charts.timeline(views, summary.slots, t0, t1) if views else None,
        "frame_chart": charts.frame_chart(marks, retried), "breakdown": charts.breakdown(summary),
        "failures": failures_of(report, views), "warnings": warnings_of(report),
        "thumbs": thumbnails_of(report, marks, cache) if thumbs else {"items": [], "note": ""},
        "chunks": report.get("chunks") or [], "messages": list(report.get("messages") or ())[-40:],
        "eta": eta, "eta_source": report.get("eta_source") or "", "estimate": estimate,
        "progress": (summary.verified / summary.total) if summary.total else 0.0,
        "generated": now, "t0": t0, "live_children": runstats.live_children(report),
    }


def run_page(report: Mapping[str, Any], *, live: bool = False, fragment: bool = False,
             now: Optional[float] = None, cache: Optional[ThumbCache] = None, back: Optional[str] = None) -> str:
    """The run page (``fragment``: only its content block, for the live view's refresh)."""
    model = run_model(report, now=now, cache=cache)
    template = environment().get_template("run_content.html.j2" if fragment else "run.html.j2")
    return template.render(m=model, live=live, back=back, final=model["status"] != "running")


def board_page(rows: List[dict], folder: str, *, fragment: bool = False, now: Optional[float] = None) -> str:
    """The render-watch board: one row per run report (see ``stmpo.watch.board.board_rows``)."""
    template = environment().get_template("board_content.html.j2" if fragment else "board.html.j2")
    return template.render(rows=rows, folder=folder, generated=time.time() if now is None else now, live=True)
