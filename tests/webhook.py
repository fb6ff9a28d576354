"""A real HTTP server on 127.0.0.1 that receives webhook POSTs (for the notify tests)."""
from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, List


class Webhook:
    """Collects JSON bodies POSTed to it. ``fail_first`` requests get HTTP ``fail_status``; ``delay`` seconds are
    slept before each answer (to test timeouts)."""

    def __init__(self, fail_first: int = 0, fail_status: int = 503, delay: float = 0.0) -> None:
        self.bodies: List[Any] = []
        self.requests = 0
        self.fail_first, self.fail_status, self.delay = fail_first, fail_status, delay
        self.lock = threading.Lock()
        hook = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server's name
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length)
                with hook.lock:
                    hook.requests += 1
                    failing = hook.requests <= hook.fail_first
                if hook.delay:
                    time.sleep(hook.delay)
                if failing:
                    self.send_response(hook.fail_status)
                    self.end_headers()
                    return
                with hook.lock:
                    hook.bodies.append(json.loads(body.decode("utf-8")))
                self.send_response(200)
                self.send_header("Content-Type", "text/plain")
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> "Webhook":
        self.thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.server.shutdown()
        self.server.server_close()


def closed_port_url() -> str:
    """A URL on 127.0.0.1 where nothing listens."""
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}/hook"
