"""``aefarm watch``'s read-only HTTP server: the run page of one report, or a board of every run in a folder.

Standard library only (``http.server.ThreadingHTTPServer``). It answers GET and HEAD and nothing else; it reads
report files and frame files and never writes, starts or stops anything. It binds to 127.0.0.1 on a free port
unless told otherwise; while bound to a loopback address it also refuses requests whose ``Host`` header names
another host (a web page elsewhere cannot read it through DNS rebinding). Pages carry a Content-Security-Policy
that forbids any request to another origin.

Routes: ``/`` (the run page for a report file, the board for a folder), ``/run?id=ID`` (a run of the board; ID is
the report's path relative to the folder, checked against the reports found there, never joined as a path),
``/api/runs`` (the board rows as JSON), ``/api/report?id=ID`` (one report as JSON). ``fragment=1`` returns only the
page's content block (the live view's refresh).
"""
from __future__ import annotations

import ipaddress
import json
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Dict, Optional, Tuple
from urllib.parse import parse_qs, urlsplit

from stmpo.watch import board, html
from stmpo.watch.thumbs import ThumbCache

CSP = ("default-src 'none'; img-src data:; style-src 'unsafe-inline'; script-src 'unsafe-inline'; "
       "connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'")
LOOPBACK_NAMES = ("localhost", "127.0.0.1", "::1")


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class WatchServer(ThreadingHTTPServer):
    """Serves ``target`` (a report file or a folder of reports) on ``address`` (port 0: a free port)."""

    daemon_threads = True
    allow_reuse_address = False

    def __init__(self, target: Path, address: Tuple[str, int] = ("127.0.0.1", 0), quiet: bool = True) -> None:
        self.target = Path(target).resolve()
        self.quiet = quiet
        self.thumbs = ThumbCache()
        if ":" in address[0]:
            import socket

            self.address_family = socket.AF_INET6
        super().__init__(address, WatchHandler)

    @property
    def url(self) -> str:
        host, port = _text(self.server_address[0]), self.server_address[1]
        shown = f"[{host}]" if ":" in host else host
        return f"http://{shown}:{port}/"

    def reports(self) -> Dict[str, Path]:
        """id -> path of every report the target holds."""
        if self.target.is_file():
            return {self.target.name: self.target}
        return {board.run_id(self.target, path): path for path in board.find_reports(self.target)}


class WatchHandler(BaseHTTPRequestHandler):
    server: WatchServer
    server_version = "aefarm-watch"
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the base class's signature
        if not self.server.quiet:
            super().log_message(format, *args)

    def do_HEAD(self) -> None:
        self._answer(head=True)

    def do_GET(self) -> None:
        self._answer(head=False)

    # -- routing ----------------------------------------------------------------------------------------------
    def _answer(self, head: bool) -> None:
        if not self._host_allowed():
            self._send(HTTPStatus.MISDIRECTED_REQUEST, "text/plain", b"unexpected Host header\n", head)
            return
        parts = urlsplit(self.path)
        query = parse_qs(parts.query)
        fragment = query.get("fragment", [""])[0] == "1"
        run_id = query.get("id", [""])[0]
        target = self.server.target
        try:
            if parts.path == "/" and target.is_dir():
                rows = board.board_rows(target)
                self._send_html(html.board_page(rows, str(target), fragment=fragment), head)
            elif parts.path in ("/", "/run"):
                path = self._report_path(run_id)
                if path is None:
                    self._not_found(head)
                    return
                report, why = board.read_report(path)
                if report is None:
                    self._send(HTTPStatus.SERVICE_UNAVAILABLE, "text/plain", f"{path.name}: {why}\n".encode(), head)
                    return
                report["status_shown"] = board.shown_status(report)
                back = "/" if target.is_dir() else None
                page = html.run_page(report, live=True, fragment=fragment, cache=self.server.thumbs, back=back)
                self._send_html(page, head)
            elif parts.path == "/api/runs":
                rows = board.board_rows(target) if target.is_dir() else [
                    board.board_row(target.parent, target, board.read_report(target)[0] or {"chunks": []})]
                self._send(HTTPStatus.OK, "application/json", json.dumps(rows, default=str).encode(), head)
            elif parts.path == "/api/report":
                path = self._report_path(run_id)
                if path is None:
                    self._not_found(head)
                    return
                self._send(HTTPStatus.OK, "application/json", path.read_bytes(), head)
            else:
                self._not_found(head)
        except (BrokenPipeError, ConnectionResetError):
            return
        except Exception as exc:  # noqa: BLE001 - one bad report must not stop the server
            self._send(HTTPStatus.INTERNAL_SERVER_ERROR, "text/plain",
                       f"aefarm watch: {type(exc).__name__}: {exc}\n".encode(), head)

    def _report_path(self, run_id: str) -> Optional[Path]:
        target = self.server.target
        if target.is_file():
            return target if run_id in ("", target.name) else None
        if not run_id:
            return None
        return self.server.reports().get(run_id)

    def _host_allowed(self) -> bool:
        bound = _text(self.server.server_address[0])
        if not is_loopback(bound):
            return True
        host = (self.headers.get("Host") or "").strip()
        if host.startswith("["):
            name = host[1:].split("]", 1)[0]
        else:
            name = host.rsplit(":", 1)[0] if host.count(":") == 1 else host
        return name in LOOPBACK_NAMES or is_loopback(name)

    # -- sending ----------------------------------------------------------------------------------------------
    def _not_found(self, head: bool) -> None:
        self._send(HTTPStatus.NOT_FOUND, "text/plain", b"not found\n", head)

    def _send_html(self, page: str, head: bool) -> None:
        self._send(HTTPStatus.OK, "text/html; charset=utf-8", page.encode("utf-8"), head)

    def _send(self, status: int, content_type: str, body: bytes, head: bool) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")
        self.send_header("Content-Security-Policy", CSP)
        self.send_header("X-Content-Type-Options", "nosniff")
        self.end_headers()
        if not head:
            self.wfile.write(body)
