"""What the render watch adds around one run, in one place: the estimate from history before it, the live report
during it, and after it the final report's extra fields, the HTML report and the history record.

Use (``engines.aftereffects.render.render_job`` does, so every entry point gets it)::

    with watch_run(job, plan, reporter, host, project=original_project) as watch:
        return watch.finished(run(plan, job, watch.reporter, ...))

``job`` is read duck-typed: ``frames``, ``output``, ``comp``, ``rqindex``, ``options`` (``report``, optional
``report_html``, ``schedule``, ``min_chunk``, ``handoff``, ``use_increment``). Nothing here can fail a render: a
history that cannot be read or written, or an HTML report that cannot be written, is said in one message line.
"""
from __future__ import annotations

import json
import os
import platform
import time
from pathlib import Path
from typing import Any, Dict, Optional

from aefarm_common.atomic import atomic_write
from stmpo import history
from stmpo.estimate import Estimate, estimate
from stmpo.stepped import PER_FRAME, mode_of
from stmpo.watch.live import LiveReport, LiveWriter
from stmpo.watch.tee import WatchReporter

LIVE_INTERVAL = 1.0  # seconds between live report writes (at most)


def html_path_for(report: Optional[Path], explicit: Optional[Path] = None) -> Optional[Path]:
    """``explicit``, else the report's path with ``.html`` for its ``.json`` suffix (``x.json`` -> ``x.html``;
    another suffix gets ``.html`` appended), else None."""
    if explicit is not None:
        return Path(explicit)
    if report is None:
        return None
    report = Path(report)
    return report.with_suffix(".html") if report.suffix.lower() == ".json" else Path(str(report) + ".html")


def write_html(path: Path, report: dict) -> None:
    """The HTML report of ``report`` at ``path``, written atomically."""
    from stmpo.watch.html import run_page

    page = run_page(report)
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_write(path, mode="w") as handle:
        handle.write(page)


class WatchSession:
    reporter: Any  # give this one to the executor

    def __init__(self, job: Any, plan: Any, reporter: Any, host: Any = None,
                 project: Optional[Path] = None, history: bool = True) -> None:
        self.job, self.plan, self.inner = job, plan, reporter
        self.uses_history = history
        options = getattr(job, "options", None)
        self.report_path: Optional[Path] = getattr(options, "report", None)
        self.html_path = html_path_for(self.report_path, getattr(options, "report_html", None))
        self.project = Path(project if project is not None else job.project)
        self.cpus = int(getattr(host, "logical_cpus", 0) or os.cpu_count() or 1)
        self.host = {"name": platform.node(), "cpus": self.cpus}
        self.options: Dict[str, Any] = {"schedule": getattr(options, "schedule", "dynamic"),
                        "min_chunk": int(getattr(options, "min_chunk", 2)),
                        "handoff": bool(getattr(options, "handoff", True)),
                        "use_increment": mode_of(str(getattr(options, "stepped", "auto")),
                                                 bool(getattr(options, "use_increment", False))) != PER_FRAME}
        self.project_hash: Optional[str] = None
        self.estimate: Optional[Estimate] = None
        self.live: Optional[LiveReport] = None
        self.live_writer: Optional[LiveWriter] = None
        self._prepare()
        self.reporter = WatchReporter(reporter, self.live, self.live_writer, self.estimate)

    # -- before ---------------------------------------------------------------------------------------------
    def _prepare(self) -> None:
        if self.uses_history:  # project_hash stays None otherwise: no record either
            self._estimate()
        # kept in memory for every run (start-up boundaries for the history, warnings for the HTML report), written
        # to the report file while the run lasts only when there is one
        redact = getattr(self.inner, "redact", None) or (lambda text: text)
        self.live = LiveReport(self.context(), slots=int(getattr(self.plan, "concurrency", 1)),
                               total=len(self.job.frames), redact=redact,
                               predicted=self.estimate.seconds if self.estimate else None)
        if self.report_path is not None:
            self.live_writer = LiveWriter(Path(self.report_path), self.live.to_json, LIVE_INTERVAL).start()

    def _estimate(self) -> None:
        try:
            self.project_hash = history.project_hash(self.project)
            slots = int(getattr(self.plan, "concurrency", 1))
            movie = str(self.job.output).lower().endswith((".mov", ".mp4", ".avi"))
            self.estimate = estimate(
                history.load(), list(self.job.frames), slots, project_hash=self.project_hash,
                project_name=self.project.name, comp=self.job.comp, rqindex=self.job.rqindex, cpus=self.cpus,
                min_chunk=self.options["min_chunk"], mode="static" if movie else self.options["schedule"],
                handoff=self.options["handoff"], use_increment=self.options["use_increment"])
        except Exception as exc:  # noqa: BLE001 - no estimate is never a reason not to render
            self.inner.message(f"history: no estimate ({type(exc).__name__}: {exc})")

    def context(self) -> dict:
        """The fields the watch adds to a report: job, host, pid, estimate, frames, output, plan."""
        plan = self.plan.to_dict() if hasattr(self.plan, "to_dict") else {}
        return {
            "job": {"project": str(self.project), "comp": self.job.comp, "rqindex": self.job.rqindex,
                    "rendered_project": str(self.job.project)},
            "host": dict(self.host), "pid": os.getpid(),
            "estimate": self.estimate.to_json() if self.estimate else None,
            "frames": str(self.job.frames), "output": str(self.job.output), "plan": plan,
            "html": str(self.html_path) if self.html_path else None,
        }

    # -- after ----------------------------------------------------------------------------------------------
    def finished(self, run_report: Any) -> Any:
        """Final report + watch fields, HTML report, history record; returns ``run_report`` unchanged."""
        if self.live_writer is not None:
            self.live_writer.close(final_write=False)  # already closed by run_finished; never writes after it
        data = dict(run_report.to_json())
        for key, value in self.context().items():
            if not data.get(key):
                data[key] = value
        total = len(self.job.frames)
        data.update({
            "status": "done" if run_report.ok else ("cancelled" if run_report.cancelled else "failed"),
            "total_frames": total, "done_frames": max(0, total - int(data.get("missing_count") or 0)),
            "updated": time.time(), "eta": None, "eta_source": "", "live": False,
            "warnings": list(self.live.warnings) if self.live else [],
            "messages": list(self.live.messages) if self.live else [],
        })
        if self.live is not None:
            rendering = self.live.rendering_times()
            for chunk in data.get("chunks") or ():
                for inv in chunk.get("invocations") or ():
                    inv["rendering"] = rendering.get((chunk.get("chunk"), inv.get("pid")))
        if self.report_path is not None:
            try:
                with atomic_write(Path(self.report_path), mode="w") as handle:
                    json.dump(data, handle, indent=2, sort_keys=True)
                    handle.write("\n")
            except OSError as exc:
                self.inner.message(f"report: could not add the watch fields to {self.report_path}: {exc}")
        self._write_html(data)
        self._record(data)
        return run_report

    def failed(self, exc: BaseException) -> None:
        """The run raised. Before it started (a refused request) nothing is written; once its live report exists,
        the live report and the HTML report say it failed. Nothing goes into the history."""
        started = self.live_writer is not None and self.live_writer.writes > 0
        if not started:
            if self.live_writer is not None:
                self.live_writer.close(final_write=False)
            return
        self.reporter.fail(str(exc) or type(exc).__name__)
        if self.live is not None:
            self._write_html(self.live.to_json())

    def _write_html(self, data: dict) -> None:
        if self.html_path is None:
            return
        try:
            write_html(self.html_path, data)
            self.inner.message(f"HTML report: {self.html_path}")
        except Exception as exc:  # noqa: BLE001 - the render's result stands without its picture
            self.inner.message(f"HTML report: could not write {self.html_path}: {type(exc).__name__}: {exc}")

    def _record(self, data: dict) -> None:
        if self.project_hash is None:
            return
        try:
            record = history.record_from_report(
                data, project_hash=self.project_hash, project_name=self.project.name, comp=self.job.comp,
                rqindex=self.job.rqindex, host=self.host, options=self.options)
            if record is not None:
                history.append(record)
        except Exception as exc:  # noqa: BLE001 - e.g. a read-only state folder or a held lock
            self.inner.message(f"history: this render was not recorded ({type(exc).__name__}: {exc})")


class _Watching:
    def __init__(self, session: WatchSession) -> None:
        self.session = session

    def __enter__(self) -> WatchSession:
        return self.session

    def __exit__(self, exc_type: Any, exc: Optional[BaseException], tb: Any) -> None:
        if exc is not None:
            self.session.failed(exc)


def watch_run(job: Any, plan: Any, reporter: Any, host: Any = None, project: Optional[Path] = None,
              history: bool = True) -> _Watching:
    """A context manager giving the ``WatchSession`` of one run (see the module docstring). ``history=False``: no
    estimate before and no history record after (a pool of several renders, ``engines.aftereffects.pool``)."""
    return _Watching(WatchSession(job, plan, reporter, host, project, history))

