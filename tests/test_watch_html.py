"""The HTML report's model and page (stmpo.watch.html), thumbnails, and the read-only watch server over HTTP."""
from __future__ import annotations

import http.client
import json
import re
import threading
from pathlib import Path

import pytest
from watch_helpers import faulty_report

from stmpo.watch import board, html
from stmpo.watch.server import WatchServer
from stmpo.watch.session import html_path_for


def write_frames(folder: Path, frames, size=(96, 54)):
    from PIL import Image

    folder.mkdir(parents=True, exist_ok=True)
    for frame in frames:
        Image.new("RGB", size, (frame * 20 % 255, 80, 160)).save(folder / f"Main_{frame:05d}.png")


def test_model_numbers_come_from_the_report():
    rep = faulty_report()
    model = html.run_model(rep, thumbs=False)
    s = model["summary"]
    invocations = sum(len(c["invocations"]) for c in rep["chunks"])
    assert (s.total, s.verified, s.missing, s.slots, s.invocations) == (8, 8, 0, 2, invocations)
    assert s.wall == pytest.approx(rep["ended"] - rep["started"])
    assert [f["outcome"] for f in model["failures"]] == ["failed", "stalled", "killed"]
    assert len(model["timeline"]["lanes"]) == 2 and len(model["timeline"]["bars"]) == invocations


def test_page_is_self_contained_and_escaped(tmp_path):
    rep = faulty_report()
    rep["output"] = str(tmp_path / "out" / "[compName]_[#####].png")
    rep["job"] = {"comp": "Main", "project": "/p/<b>shot</b>.aepx"}
    rep["chunks"][0]["invocations"][0]["fatal"] = "aerender ERROR: <script>alert(1)</script>"
    write_frames(tmp_path / "out", range(1, 9))
    page = html.run_page(rep)
    assert "<script>alert(1)</script>" not in page and "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "<b>shot</b>" not in page
    assert not re.search(r"""(src|href)=["'](?!data:|#|run\?)""", page), "every resource inline or data:"
    assert "http://" not in page and "https://" not in page
    assert "Content-Security-Policy" in page and "<script" not in page  # the static report needs no script
    images = re.findall(r'<img src="([^"]+)"', page)
    assert len(images) == 3 and all(src.startswith("data:image/png;base64,") for src in images)
    assert page.count('class="inv ') == 4 and page.count('class="lane"') == 2


def test_thumbnails_first_slowest_last_and_unreadable_formats(tmp_path):
    rep = faulty_report()
    rep["output"] = str(tmp_path / "out" / "[compName]_[#####].png")
    rep["job"] = {"comp": "Main"}
    write_frames(tmp_path / "out", range(1, 9))
    thumbs = html.run_model(rep)["thumbs"]["items"]
    assert [(t["label"], t["frame"]) for t in thumbs] == [("first", 1), ("slowest", 6), ("last", 8)]
    assert all(t["uri"] for t in thumbs)
    assert thumbs[0]["note"] == "96x54"
    rep["output"] = str(tmp_path / "exr" / "[compName]_[#####].exr")
    (tmp_path / "exr").mkdir()
    for frame in range(1, 9):
        (tmp_path / "exr" / f"Main_{frame:05d}.exr").write_bytes(b"v/1\x01 not an image Pillow reads")
    items = html.run_model(rep)["thumbs"]["items"]
    assert items and all(t["uri"] is None and "cannot be previewed" in t["note"] for t in items)
    rep["output"] = str(tmp_path / "movie" / "[compName].mov")
    assert "movie output" in html.run_model(rep)["thumbs"]["note"]


def test_failures_show_the_last_aerender_lines_and_warnings_come_from_logs_without_a_live_view(tmp_path):
    rep = faulty_report()
    log = tmp_path / "chunk-001-pid-101.log"
    log.write_text("PROGRESS:  0:00:00:02 (2): 0 Seconds\nWARNING:After Effects warning: Project has missing fonts.\n"
                   "aerender ERROR: After Effects crashed\n[aefarm] exit code 1\n")
    rep["chunks"][0]["logs"] = [str(log)]
    model = html.run_model(rep, thumbs=False)
    crash = model["failures"][0]
    assert crash["lines"][-2:] == ["aerender ERROR: After Effects crashed", "[aefarm] exit code 1"]
    assert [w["text"] for w in model["warnings"]] == ["WARNING:After Effects warning: Project has missing fonts."]
    rep["warnings"] = []  # a report with the live field: it is the source, the logs are not read
    assert html.run_model(rep, thumbs=False)["warnings"] == []


def test_html_path_beside_the_report():
    assert html_path_for(Path("/r/run.json")) == Path("/r/run.html")
    assert html_path_for(Path("/r/run.JSON")) == Path("/r/run.html")
    assert html_path_for(Path("/r/run.txt")) == Path("/r/run.txt.html")
    assert html_path_for(Path("/r/run.json"), Path("/x/y.html")) == Path("/x/y.html")
    assert html_path_for(None) is None


# ------------------------------------------------------------------------------------------------ server
@pytest.fixture
def served(tmp_path):
    folder = tmp_path / "runs"
    (folder / "shot").mkdir(parents=True)
    done = faulty_report()
    running = faulty_report()
    running.update({"status": "running", "ok": None, "ended": None, "done_frames": 3, "total_frames": 8,
                    "eta": 12.0, "updated": running["started"] + 1.0, "host": {"name": "elsewhere"}, "pid": 1})
    (folder / "a.json").write_text(json.dumps(done))
    (folder / "shot" / "b.json").write_text(json.dumps(running))
    (folder / "notes.json").write_text('{"hello": 1}')
    (folder / "broken.json").write_text('{"chunks": [')
    server = WatchServer(folder)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True)
    thread.start()
    yield server, folder
    server.shutdown()
    server.server_close()


def get(server, path, method="GET", host=None):
    conn = http.client.HTTPConnection("127.0.0.1", server.server_address[1], timeout=10)
    conn.request(method, path, headers={"Host": host} if host else {})
    response = conn.getresponse()
    body = response.read()
    conn.close()
    return response.status, response.getheader("Content-Type") or "", body


def test_board_lists_every_report_and_nothing_else(served):
    server, folder = served
    assert server.server_address[0] == "127.0.0.1"
    status, kind, body = get(server, "/api/runs")
    rows = {r["id"]: r for r in json.loads(body)}
    assert status == 200 and sorted(rows) == ["a.json", "shot/b.json"]
    assert rows["a.json"]["status"] == "done" and rows["a.json"]["done"] == 8
    assert rows["shot/b.json"]["status"] == "running" and rows["shot/b.json"]["done"] == 3
    assert rows["shot/b.json"]["eta"] is not None
    status, kind, body = get(server, "/")
    page = body.decode()
    assert status == 200 and kind.startswith("text/html") and page.count('class="run"') == 2
    assert 'data-status="running"' in page and "fetch(" in page


def test_run_pages_and_the_refresh_fragment(served):
    server, _ = served
    status, _, body = get(server, "/run?id=shot/b.json")
    assert status == 200 and b'data-final="0"' in body and b"<html" in body
    status, _, body = get(server, "/run?id=a.json&fragment=1")
    assert status == 200 and b'data-final="1"' in body and b"<html" not in body
    status, _, body = get(server, "/api/report?id=a.json")
    assert status == 200 and json.loads(body)["ok"] is True


@pytest.mark.parametrize("path", ["/run?id=../../etc/passwd", "/run?id=notes.json", "/run?id=broken.json",
                                  "/run", "/api/report?id=/etc/passwd", "/nothing", "/run?id=a.json/.."])
def test_only_reports_found_in_the_folder_are_served(served, path):
    server, _ = served
    assert get(server, path)[0] == 404


def test_read_only_and_loopback_only(served):
    server, _ = served
    assert get(server, "/", method="POST")[0] == 501
    assert get(server, "/", method="DELETE")[0] == 501
    assert get(server, "/", host="attacker.example")[0] == 421
    assert get(server, "/", host=f"localhost:{server.server_address[1]}")[0] == 200


def test_a_running_report_whose_process_is_gone_is_lost():
    rep = faulty_report()
    rep.update({"status": "running", "ok": None, "host": {"name": "h"}, "pid": 2 ** 22 + 12345})
    assert board.shown_status(rep, this_host="h") == "lost"
    assert board.shown_status(rep, this_host="other") == "running"


# ------------------------------------------------------------------------------------------------ commands
def test_watch_command_bad_target(aefarm, tmp_path):
    proc = aefarm("watch", tmp_path / "missing", check=2)
    assert "no such report or folder" in proc.stderr and proc.stderr.count("\n") == 1


@pytest.mark.parametrize("make, flag_args, words", [
    (lambda d: d.mkdir(), ["--report-html", "{d}"], "is a folder"),
    (lambda d: None, ["--report", "{d}/r.json", "--report-html", "{d}/r.json"], "is the --report file"),
])
def test_render_report_html_bad_input(aefarm, tmp_path, make, flag_args, words):
    project = tmp_path / "shot.aepx"
    project.write_text("<xml/>")
    target = tmp_path / "x"
    make(target)
    args = [a.format(d=target) for a in flag_args]
    proc = aefarm("render", project, "--comp", "Main", "--output", tmp_path / "o_[####].png", "--frames", "1-2",
                  *args, check=2)
    assert words in proc.stderr and not proc.stdout


def test_a_single_report_file_is_served_at_the_root(tmp_path):
    path = tmp_path / "run.json"
    path.write_text(json.dumps(faulty_report()))
    server = WatchServer(path)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True)
    thread.start()
    try:
        status, kind, body = get(server, "/")
        assert status == 200 and b'id="timeline"' in body and b"all runs" not in body
        assert get(server, "/run?id=run.json")[0] == 200 and get(server, "/run?id=other.json")[0] == 404
        rows = json.loads(get(server, "/api/runs")[2])
        assert [(r["id"], r["status"], r["done"]) for r in rows] == [("run.json", "done", 8)]
    finally:
        server.shutdown()
        server.server_close()
