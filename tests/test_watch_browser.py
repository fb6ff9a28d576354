"""The HTML report and `aefarm watch` in real headless Chromium (Debian's chromium + chromium-driver, selenium).

Renders run on the aerender simulator (a test instrument). Every page must load with no console error and request
nothing but itself (the report file; for the watch server, its own origin). Screenshots are test artifacts: their
paths are printed (run pytest with -s to see them; AEFARM_TEST_ARTIFACTS=DIR keeps them in DIR).
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import urllib.request

import pytest
from browser import find_browser, new_profile, open_page, screenshot, start_driver

from engines.aftereffects.sample_project import write_sample_project

pytestmark = [pytest.mark.slow,
              pytest.mark.skipif(find_browser()[0] is None, reason=find_browser()[2] or "no browser")]

WRAPPER = """#!{python}
# Chooses the simulator's fault knobs per invocation (the simulator takes one FAULT_ONCE marker for all faults):
# the invocation that renders frame 3 crashes there once; the one that renders frame 14 hangs there once.
import os, sys
args = sys.argv[1:]
first, last = int(args[args.index("-s") + 1]), int(args[args.index("-e") + 1])
env = dict(os.environ)
markers = env["WATCH_TEST_MARKERS"]
if first <= 3 <= last:
    env.update(AERENDER_SIM_CRASH_AT_FRAME="3", AERENDER_SIM_FAULT_ONCE=os.path.join(markers, "crash"))
elif first <= 14 <= last:
    env.update(AERENDER_SIM_HANG_AT_FRAME="14", AERENDER_SIM_FAULT_ONCE=os.path.join(markers, "hang"))
sim = env["WATCH_TEST_SIM"]
os.execve(sim, [sim] + args, env)
"""


@pytest.fixture(scope="module")
def driver():
    drv = start_driver(new_profile())
    yield drv
    drv.quit()


def run_js(driver, script):
    return driver.execute_script(script)


def test_html_report_of_a_faulty_run_shows_the_crash_the_stall_and_the_retries(driver, tmp_path, aerender_sim,
                                                                               fast_render):
    project = write_sample_project(tmp_path / "shot.aepx")
    wrapper = tmp_path / "aerender-faulty"
    wrapper.write_text(WRAPPER.format(python=sys.executable))
    wrapper.chmod(0o755)
    (tmp_path / "markers").mkdir()
    out = tmp_path / "out"
    out.mkdir()
    report_path = tmp_path / "faulty.json"
    env = {**os.environ, "WATCH_TEST_MARKERS": str(tmp_path / "markers"), "WATCH_TEST_SIM": aerender_sim,
           "AERENDER_SIM_FRAME_SECONDS": "0.1"}
    proc = fast_render(project, "--comp", "Main", "--output", out / "[compName]_[#####].png", "--frames",
                       "1-16", "--concurrency", "2", "--no-mfr", "--ram-per-child-gb", "0.5", "--aerender", wrapper,
                       "--kill-grace", "1", "--retries", "1", "--progress", "log",
                       "--report", report_path, "--log-dir", tmp_path / "logs", stall=1.0, env=env, timeout=180)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr
    assert sorted(p.name for p in (tmp_path / "markers").iterdir()) == ["crash", "hang"]
    data = json.loads(report_path.read_text())
    invocations = [(c, i) for c in data["chunks"] for i in c["invocations"]]
    assert any(i["fatal"] for _, i in invocations) and any(i["stalled"] for _, i in invocations)
    assert any(c["retry"] for c in data["chunks"])
    html_path = report_path.with_suffix(".html")
    assert f"HTML report: {html_path}" in proc.stdout

    url = html_path.as_uri()
    errors, requests = open_page(driver, url)
    assert errors == [], errors
    assert [u for u in requests if u != url and not u.startswith("data:")] == [], requests
    lanes = run_js(driver, "return document.querySelectorAll('#timeline g.lane').length")
    bars = run_js(driver, "return Array.from(document.querySelectorAll('#timeline g.inv')).map(g => "
                          "[g.dataset.chunk, g.dataset.pid, g.dataset.outcome, g.dataset.retry])")
    assert lanes == data["plan"]["concurrency"] == 2
    assert sorted((str(c["chunk"]), str(i["pid"])) for c, i in invocations) == sorted((b[0], b[1]) for b in bars)
    outcomes = {b[2] for b in bars}
    assert {"failed", "stalled"} <= outcomes, bars
    retried = {str(c["chunk"]) for c in data["chunks"] if c["retry"]}
    assert retried and {b[0] for b in bars if b[3] == "1"} == retried
    # the bars are drawn: visible, inside the timeline, one per invocation
    visible = run_js(driver, "return Array.from(document.querySelectorAll('#timeline g.inv rect.bar'))"
                             ".filter(r => r.getBoundingClientRect().width > 0).length")
    assert visible == len(invocations)
    missing = data["missing_count"]
    cards = {key: driver.find_element("id", key).text for key in
             ("total", "verified", "missing", "slots", "invocations")}
    assert cards == {"total": "16", "verified": str(16 - missing), "missing": str(missing), "slots": "2",
                     "invocations": str(len(invocations))}
    wall = float(driver.find_element("id", "wall").get_attribute("data-seconds"))
    assert wall == pytest.approx(data["ended"] - data["started"], abs=0.01)
    failures = run_js(driver, "return Array.from(document.querySelectorAll('#failures tr[data-outcome]'))"
                              ".map(r => r.dataset.outcome)")
    assert "failed" in failures and "stalled" in failures
    assert "aerender ERROR" in driver.find_element("id", "failures").text
    thumbs = run_js(driver, "return Array.from(document.querySelectorAll('#thumbs img'))"
                            ".map(i => [i.naturalWidth, i.src.slice(0, 22)])")
    assert thumbs and all(w > 0 and src == "data:image/png;base64," for w, src in thumbs)
    shot = screenshot(driver, "faulty-run-report.png", tmp_path)
    assert shot.stat().st_size > 10_000


def _get_json(url):
    with urllib.request.urlopen(url, timeout=10) as response:
        return json.loads(response.read())


def test_watch_shows_two_concurrent_renders_live(driver, tmp_path, aerender_sim):
    project = write_sample_project(tmp_path / "shot.aepx")
    runs = tmp_path / "runs"
    runs.mkdir()
    watch = subprocess.Popen([sys.executable, "-m", "engines.aftereffects", "watch", str(runs)],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    renders = []
    try:
        line = watch.stdout.readline()
        assert line.startswith("aefarm watch: http://127.0.0.1:"), line + watch.stderr.read()
        base = line.split()[2]
        assert _get_json(base + "api/runs") == []
        env = {**os.environ, "AERENDER_SIM_FRAME_SECONDS": "0.2"}
        for name in ("a", "b"):
            out = tmp_path / f"out-{name}"
            out.mkdir()
            renders.append(subprocess.Popen(
                [sys.executable, "-m", "engines.aftereffects", "render", str(project), "--comp", "Main", "--output",
                 str(out / "[compName]_[#####].png"), "--frames", "1-40", "--concurrency", "2", "--no-mfr",
                 "--ram-per-child-gb", "0.5", "--aerender", aerender_sim, "--progress", "log",
                 "--report", str(runs / f"{name}.json"), "--log-dir", str(tmp_path / f"logs-{name}")],
                env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True))
        both_running = None
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline and both_running is None:
            rows = _get_json(base + "api/runs")
            if len(rows) == 2 and all(r["status"] == "running" for r in rows):
                both_running = rows
            elif any(p.poll() is not None for p in renders):
                break
            time.sleep(0.1)
        assert both_running is not None, "never saw both renders running at once"
        assert sorted(r["id"] for r in both_running) == ["a.json", "b.json"]
        assert all(r["total"] == 40 and r["slots"] == 2 and r["elapsed"] >= 0 for r in both_running)
        live_page = urllib.request.urlopen(base + "run?id=a.json", timeout=10).read().decode()
        assert 'data-final="0"' in live_page or 'data-status="done"' in live_page

        errors, requests = open_page(driver, base)
        statuses = run_js(driver, "return Array.from(document.querySelectorAll('#runs tr.run'))"
                                  ".map(r => [r.dataset.id, r.dataset.status])")
        assert sorted(i for i, _ in statuses) == ["a.json", "b.json"]
        screenshot(driver, "watch-board-running.png", tmp_path)
        # the page refreshes itself until both are done (no reload from the test)
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            statuses = run_js(driver, "return Array.from(document.querySelectorAll('#runs tr.run'))"
                                      ".map(r => [r.dataset.id, r.dataset.status, r.dataset.done])")
            if len(statuses) == 2 and all(s == "done" for _, s, _ in statuses):
                break
            time.sleep(0.5)
        assert all(s == "done" and d == "40" for _, s, d in statuses), statuses
        assert [p.wait(timeout=60) for p in renders] == [0, 0]
        assert severe_free(driver) and errors == [], errors
        origin = base.rstrip("/")
        assert [u for u in requests if not u.startswith(origin) and not u.startswith("data:")] == [], requests
        screenshot(driver, "watch-board-done.png", tmp_path)

        errors, requests = open_page(driver, base + "run?id=b.json")
        assert errors == [] and all(u.startswith(origin) or u.startswith("data:") for u in requests)
        data = json.loads((runs / "b.json").read_text())
        lanes = run_js(driver, "return document.querySelectorAll('#timeline g.lane').length")
        bars = run_js(driver, "return document.querySelectorAll('#timeline g.inv').length")
        assert lanes == data["plan"]["concurrency"]
        assert bars == sum(len(c["invocations"]) for c in data["chunks"])
        assert driver.find_element("id", "verified").text == "40"
        screenshot(driver, "watch-run-page.png", tmp_path)
    finally:
        for proc in renders:
            if proc.poll() is None:
                proc.terminate()
                proc.wait(timeout=30)
        watch.terminate()
        watch.wait(timeout=30)


def severe_free(driver) -> bool:
    return not [e for e in driver.get_log("browser") if e.get("level") == "SEVERE"]
