"""`aefarm accsyn submit` against a loopback server speaking the accsyn wire protocol subset, with the real
accsyn-python-api as the client (ACCSYN_PROXY=127.0.0.1:<port> makes it plain HTTP to that port). No test touches
the internet: the server answers the workspace look-up, the login and the `compute/create` event itself."""
from __future__ import annotations

import base64
import gzip
import json
import os
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import unquote, urlsplit

import pytest

from engines.aftereffects.sample_project import write_sample_project

# accsyn-python-api >= 3.2 does not import on Python 3.9 (an upstream annotation bug); the fake server speaks the
# wire protocol of the 3.x client that the supported Pythons install
needs_client = pytest.mark.skipif(sys.version_info < (3, 10), reason="accsyn-python-api >= 3.2 needs Python 3.10+")

USER, KEY, WORKSPACE = "render@studio.test", "k3y-abcdef-123456", "studio"


class FakeAccsyn(BaseHTTPRequestHandler):
    """The subset: GET workspace look-up, PUT /api/v3/api/login, POST /api/v3/event (create)."""

    def log_message(self, *args):  # keep the test output clean
        pass

    def _send(self, body: dict, status: int = 200) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _body(self) -> dict:
        length = int(self.headers.get("Content-Length") or 0)
        return json.loads(self.rfile.read(length) or b"{}")

    def do_GET(self):
        self.server.calls.append(("GET", urlsplit(self.path).path))
        query = json.loads(unquote(urlsplit(self.path).query)) if urlsplit(self.path).query else {}
        if query.get("ident") != WORKSPACE:
            return self._send({"message": f"unknown workspace {query.get('ident')}"})
        self._send({"result": {"hostname": "studio.accsyn.test", "port": 443}})

    def do_PUT(self):
        self.server.calls.append(("PUT", self.path))
        if self.path != "/api/v3/api/login":
            return self._send({"message": "no such endpoint"}, 404)
        expected = f"basic {base64.b64encode(USER.encode()).decode()}:{base64.b64encode(KEY.encode()).decode()}"
        if self.headers.get("Authorization") != expected or self.headers.get("X-Accsyn-Workspace") != WORKSPACE:
            return self._send({"message": "Invalid API credentials"})
        self._send({"result": {"role": "standard", "id": "u-1", "session_id": "sess-77"}})

    def do_POST(self):
        self.server.calls.append(("POST", self.path))
        event = self._body()
        if "gz_data" in event:
            event["data"] = json.loads(gzip.decompress(base64.b64decode(event.pop("gz_data"))))
        self.server.events.append(event)
        if event.get("session") != "sess-77":
            return self._send({"message": "Not logged in"})
        mode = self.server.mode
        if mode == "message":
            return self._send({"message": "Compute app 'aftereffects' is not enabled for this workspace"})
        if mode == "exception":
            return self._send({"exception": "Traceback (most recent call last): KeyError: 'x'"}, 500)
        if mode == "garbage":
            data = b"<html>502 Bad Gateway</html>"
            self.send_response(502)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)
            return
        self._send({"result": [{"id": "65f0c0ffee", "code": "shot-render", "status": "init"}]})


@pytest.fixture
def accsyn_server():
    server = ThreadingHTTPServer(("127.0.0.1", 0), FakeAccsyn)
    server.calls, server.events, server.mode = [], [], "ok"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


@pytest.fixture
def submit_env(accsyn_server, tmp_path):
    creds = tmp_path / "empty.env"
    creds.write_text("")
    env = {k: v for k, v in os.environ.items() if "proxy" not in k.lower() and not k.startswith("ACCSYN_")}
    env.update(ACCSYN_PROXY=f"127.0.0.1:{accsyn_server.server_address[1]}", ACCSYN_WORKSPACE=WORKSPACE,
               ACCSYN_API_USER=USER, ACCSYN_API_KEY=KEY, ACCSYN_CREDENTIALS_PATH=str(creds),
               NO_PROXY="127.0.0.1,localhost")
    return env


@pytest.fixture
def project(tmp_path):
    (tmp_path / "a.png").write_bytes(b"x")
    path = tmp_path / "shot.aepx"
    write_sample_project(path, footage=[str(tmp_path / "a.png"), "C:\\proj\\b.png"])
    return path


def submit(aefarm, project, env, *extra):
    return aefarm("accsyn", "submit", project, "--comp", "Main", "--frames", "1-20", "--output",
                  project.parent / "renders", "--engine", "aftereffects", "--filters", "site:sthlm,ram:>16g",
                  "--map", "C:\\proj=/mnt/proj", "--bucket-size", "5", "--name", "shot render", *extra,
                  env=env, cwd=project.parent, timeout=60)


@needs_client
def test_submit_creates_the_compute_job(aefarm, accsyn_server, submit_env, project):
    proc = submit(aefarm, project, submit_env)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "65f0c0ffee"
    methods = [m for m, _ in accsyn_server.calls]
    assert methods == ["GET", "PUT", "POST"] and accsyn_server.calls[-1][1] == "/api/v3/event"
    (event,) = accsyn_server.events
    assert event["uri"] == "compute/create" and event["workspace"] == WORKSPACE
    payload = event["data"]
    assert payload["name"] == "shot render" and payload["engine"] == "aftereffects"
    assert payload["input"] == str(project) and payload["output"] == str(project.parent / "renders")
    assert payload["range"] == "1-20" and payload["settings"] == {"task_bucketsize": 5}
    assert payload["filters"] == "site:sthlm,ram:>16g"
    assert payload["dependencies"] == [str(project.parent / "a.png"), "C:\\proj\\b.png"]
    assert payload["parameters"]["comp"] == "Main" and payload["parameters"]["input_conversion"] == "always"
    assert payload["parameters"]["mapped_share_paths"] == [{"remote": "C:\\proj", "local": "/mnt/proj"}]
    assert KEY not in proc.stdout + proc.stderr


@needs_client
@pytest.mark.parametrize("mode, expected", [
    ("message", "accsyn error: Compute app 'aftereffects' is not enabled for this workspace"),
    ("exception", "accsyn error: /event caused an exception!"),
    ("garbage", "accsyn error: POST http://127.0.0.1"),
])
def test_server_errors_are_one_clean_line(aefarm, accsyn_server, submit_env, project, mode, expected):
    accsyn_server.mode = mode
    proc = submit(aefarm, project, submit_env)
    assert proc.returncode == 1
    assert proc.stdout == ""
    lines = [line for line in proc.stderr.splitlines() if "warning: dependency" not in line]
    assert len(lines) == 1, proc.stderr
    assert lines[0].startswith("aefarm accsyn submit: " + expected), lines[0]
    assert "Traceback" not in lines[0] and KEY not in proc.stderr


@needs_client
def test_bad_credentials_are_one_clean_line(aefarm, accsyn_server, submit_env, project):
    submit_env["ACCSYN_API_KEY"] = "wrong-key-000000"
    proc = submit(aefarm, project, submit_env)
    assert proc.returncode == 1
    assert proc.stderr.strip().splitlines()[-1] == "aefarm accsyn submit: accsyn error: Invalid API credentials"
    assert accsyn_server.events == []


@needs_client
@pytest.mark.parametrize("variable", ["ACCSYN_WORKSPACE", "ACCSYN_API_USER", "ACCSYN_API_KEY"])
def test_missing_credentials_are_bad_input_in_one_line(aefarm, accsyn_server, submit_env, project, variable):
    del submit_env[variable]
    proc = submit(aefarm, project, submit_env)
    assert proc.returncode == 2
    assert proc.stdout == "" and proc.stderr.count("\n") == 1  # no warnings before it: nothing was submitted
    assert proc.stderr.startswith(f"aefarm: error: accsyn credentials missing: set {variable} ")
    assert accsyn_server.calls == []


def test_dry_run_sends_nothing(aefarm, accsyn_server, submit_env, project):
    proc = submit(aefarm, project, submit_env, "--dry-run")
    assert proc.returncode == 0
    assert json.loads(proc.stdout)["range"] == "1-20"
    assert accsyn_server.calls == []


def test_dry_run_needs_no_credentials(aefarm, accsyn_server, submit_env, project):
    for variable in ("ACCSYN_WORKSPACE", "ACCSYN_API_USER", "ACCSYN_API_KEY"):
        del submit_env[variable]
    proc = submit(aefarm, project, submit_env, "--dry-run")
    assert proc.returncode == 0 and json.loads(proc.stdout)["range"] == "1-20"


def test_render_options_become_job_parameters_under_their_accsyn_names(aefarm, accsyn_server, submit_env, project):
    proc = submit(aefarm, project, submit_env, "--dry-run", "--stall-timeout", "600", "--no-mfr", "--concurrency",
                  "4", "--max-concurrency", "3", "--fail-fast", "--retries", "0")
    assert proc.returncode == 0, proc.stderr
    parameters = json.loads(proc.stdout)["parameters"]
    assert parameters["stall_timeout"] == 600 and parameters["mfr"] is False and parameters["concurrency"] == 4
    assert parameters["max_concurrency"] == 3 and parameters["fail_fast"] is True and parameters["retries"] == 0
    assert "min_chunk" not in parameters  # not given: the app's default (the table's) applies on the node
    bad = submit(aefarm, project, submit_env, "--dry-run", "--stall-timeout", "29")
    assert bad.returncode == 2 and "--stall-timeout" in bad.stderr and bad.stdout == ""


def test_a_client_that_cannot_import_is_one_clear_error(monkeypatch):
    import builtins

    from engines.aftereffects.accsyn_client import create_compute_job
    from engines.aftereffects.accsyn_errors import AccsynError

    real_import = builtins.__import__

    def broken(name, *args, **kwargs):
        if name == "accsyn_api.session":
            raise TypeError("Parameters to generic types must be types.")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", broken)
    with pytest.raises(AccsynError, match="cannot be imported on Python .*3.10 or newer"):
        create_compute_job({"name": "x"})
