"""The one stdout writer, the reporters' exact protocol lines, per-child logs, secrets, and the pipe reader."""
from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import threading

import pytest

from stmpo.childlogs import ChildLogs
from stmpo.frames import FrameSet
from stmpo.lines import LineSplitter
from stmpo.progress import (
    AccsynReporter,
    BarReporter,
    LogReporter,
    OpenJDReporter,
    format_percent,
    make_reporter,
)
from stmpo.reader import pump, start_pump
from stmpo.redact import Redactor
from stmpo.writer import OutputWriter


class ChunkStream(io.StringIO):
    """Records every write() call separately, to check that writes are whole lines."""

    def __init__(self):
        super().__init__()
        self.writes = []

    def write(self, s):
        self.writes.append(s)
        return super().write(s)


def run_reporter(cls, events, **kw):
    stream = io.StringIO()
    writer = OutputWriter(stream, batch_interval=0)
    reporter = cls(writer, 0, redactor=Redactor(), **kw)
    events(reporter)
    reporter.close()
    writer.close()
    return stream.getvalue().splitlines()


def scenario(r):
    r.run_started(4, ["plan: 2 children"])
    r.child_started(1, 111, FrameSet.parse("1-2"))
    r.child_output(1, 111, "PROGRESS:  0:00:00:00 (1): 0 Seconds")
    r.frame_done(1)
    r.frame_done(1)                       # a frame verified twice counts once
    r.child_started(2, 222, FrameSet.parse("3-4"))
    r.frame_done(2)
    r.chunk_failed(2, "stalled 30 s\nno output", True)
    r.message("hello", public=True)
    r.message("quiet")
    r.frame_done(3)
    r.run_finished(False, FrameSet.parse("4"), "3 of 4 frames rendered")


# ---------------------------------------------------------------------------------------------------------------
# reporters: exact output

def test_log_reporter_output():
    assert run_reporter(LogReporter, scenario) == [
        "plan: 2 children",
        "rendering 4 frames",
        "[chunk 1 pid 111] started, frames 1-2",
        "[chunk 1 pid 111] PROGRESS:  0:00:00:00 (1): 0 Seconds",
        "progress: 1/4 frames (25%)",
        "[chunk 2 pid 222] started, frames 3-4",
        "progress: 2/4 frames (50%)",
        "[chunk 2] failed: stalled 30 s no output (retrying)",
        "hello",
        "quiet",
        "progress: 3/4 frames (75%)",
        "missing frames: 4",
        "3 of 4 frames rendered",
    ]


def test_openjd_reporter_output():
    assert run_reporter(OpenJDReporter, scenario) == [
        "plan: 2 children",
        "openjd_status: Rendering 4 frames",
        "[chunk 1 pid 111] started, frames 1-2",
        "[chunk 1 pid 111] PROGRESS:  0:00:00:00 (1): 0 Seconds",
        "openjd_progress: 25",
        "[chunk 2 pid 222] started, frames 3-4",
        "openjd_progress: 50",
        "openjd_status: chunk 2 failed: stalled 30 s no output; retrying",
        "openjd_status: hello",
        "quiet",
        "openjd_progress: 75",
        "openjd_fail: 3 of 4 frames rendered (missing frames: 4)",
    ]


def test_openjd_success_ends_at_100_and_progress_has_one_decimal_at_most():
    def events(r):
        r.run_started(3, [])
        for frame in (1, 2, 3):
            r.frame_done(frame)
        r.run_finished(True, FrameSet.from_frames([]), "3 frames rendered")
    assert run_reporter(OpenJDReporter, events) == [
        "openjd_status: Rendering 3 frames",
        "openjd_progress: 33.3", "openjd_progress: 66.6", "openjd_progress: 100",
        "openjd_status: 3 frames rendered",
    ]


@pytest.mark.parametrize("tenths,text", [(0, "0"), (5, "0.5"), (333, "33.3"), (500, "50"), (1000, "100")])
def test_format_percent(tenths, text):
    assert format_percent(tenths) == text


def test_openjd_child_cannot_forge_protocol_lines():
    def events(r):
        r.run_started(1, [])
        r.child_output(1, 5, "openjd_fail: forged")
    lines = run_reporter(OpenJDReporter, events)
    assert not any(line.startswith("openjd_fail") for line in lines)
    assert "[chunk 1 pid 5] openjd_fail: forged" in lines


def test_openjd_progress_is_monotonic_under_threads():
    stream = io.StringIO()
    writer = OutputWriter(stream, batch_interval=0.001)
    reporter = OpenJDReporter(writer, 0, redactor=Redactor())
    reporter.run_started(997, [])
    frames = list(range(1, 998))

    def worker(part):
        for frame in part:
            reporter.frame_done(frame)
            reporter.child_output(1, 1, f"line {frame}")

    threads = [threading.Thread(target=worker, args=(frames[i::8],)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    reporter.run_finished(True, None, "done")
    writer.close()
    values = [float(line.split(": ", 1)[1]) for line in stream.getvalue().splitlines()
              if line.startswith("openjd_progress: ")]
    assert values == sorted(values) and len(set(values)) == len(values)
    assert values[-1] == 100.0 and all(0 < v <= 100 for v in values)
    assert all(len(v.split(".")[1]) <= 1 for v in map(str, values))


def test_accsyn_reporter_output():
    assert run_reporter(AccsynReporter, scenario) == [
        "plan: 2 children",
        "!Rendering 4 frames",
        "Additional accsyn PID(111) - main process",
        "[chunk 1 pid 111] started, frames 1-2",
        "[chunk 1 pid 111] PROGRESS:  0:00:00:00 (1): 0 Seconds",
        '{"taskstatus": true, "uri": "1", "status": "done"}',
        "Additional accsyn PID(222) - main process",
        "[chunk 2 pid 222] started, frames 3-4",
        '{"taskstatus": true, "uri": "2", "status": "done"}',
        "!chunk 2 failed: stalled 30 s no output; retrying",
        "!hello",
        "quiet",
        '{"taskstatus": true, "uri": "3", "status": "done"}',
        "!missing frames: 4",
        "!3 of 4 frames rendered",
    ]
    assert json.loads('{"taskstatus": true, "uri": "3", "status": "done"}')["uri"] == "3"


def test_bar_reporter_keeps_stdout_clean(tmp_path):
    err = io.StringIO()
    out = io.StringIO()
    writer = OutputWriter(out, batch_interval=0)
    reporter = BarReporter(writer, 0, log_dir=tmp_path, redactor=Redactor(), stream=err)
    reporter.run_started(2, ["plan line"])
    reporter.child_started(1, 42, FrameSet.parse("1-2"))
    reporter.child_output(1, 42, "PROGRESS:  0:00:00:00 (1): 0 Seconds")
    reporter.child_output(1, 42, "WARNING:After Effects warning: Project has missing fonts.")
    reporter.frame_done(1)
    reporter.frame_done(2)
    reporter.run_finished(True, None, "2 frames rendered")
    reporter.close()
    writer.close()
    assert out.getvalue() == "2 frames rendered\n"
    shown = err.getvalue()
    assert "plan line" in shown and "missing fonts" in shown and "2/2" in shown
    assert "0:00:00:00 (1)" not in shown                          # ordinary child output: log file only
    log = (tmp_path / "chunk-001-pid-42.log").read_text(encoding="utf-8")
    assert "PROGRESS:  0:00:00:00 (1): 0 Seconds\n" in log and "missing fonts" in log


def test_make_reporter_kinds(tmp_path):
    writer = OutputWriter(io.StringIO(), batch_interval=0)
    assert isinstance(make_reporter("auto", writer, 3, tty=False), LogReporter)
    assert isinstance(make_reporter("auto", writer, 3, tty=True), BarReporter)
    assert isinstance(make_reporter("openjd", writer, 3), OpenJDReporter)
    assert isinstance(make_reporter("accsyn", writer, 3), AccsynReporter)
    reporter = make_reporter("log", writer, 3, log_dir=tmp_path)
    assert reporter.total == 3 and reporter.log_path(2, 7) == tmp_path / "chunk-002-pid-7.log"
    with pytest.raises(ValueError, match="unknown progress kind 'nope'"):
        make_reporter("nope", writer, 3)
    writer.close()


# ---------------------------------------------------------------------------------------------------------------
# per-child logs and secrets

def test_child_logs_one_file_per_child(tmp_path):
    stream = io.StringIO()
    writer = OutputWriter(stream, batch_interval=0)
    reporter = LogReporter(writer, 2, log_dir=tmp_path / "logs", redactor=Redactor())
    reporter.child_started(3, 100, "1-1")
    reporter.child_output(3, 100, "first")
    reporter.child_output(4, 200, "lazy open")            # no child_started: the file opens on first line
    reporter.child_exited(3, 100, 0)
    reporter.close()
    writer.close()
    assert (tmp_path / "logs" / "chunk-003-pid-100.log").read_text() == "first\n[aefarm] exit code 0\n"
    assert (tmp_path / "logs" / "chunk-004-pid-200.log").read_text() == "lazy open\n"


def test_child_logs_concurrent_writers(tmp_path):
    logs = ChildLogs(tmp_path)

    def worker(chunk):
        for i in range(200):
            logs.write(chunk, 1, f"{chunk}:{i}")

    threads = [threading.Thread(target=worker, args=(c,)) for c in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    logs.close_all()
    for c in range(8):
        assert logs.path(c, 1).read_text().splitlines() == [f"{c}:{i}" for i in range(200)]


def test_redactor_from_env():
    env = {"ACCSYN_API_KEY": "abcdef123456", "MY_TOKEN": "tok-987654", "DB_PASSWORD": "hunter22!",
           "SHORT_SECRET": "abc", "PATH": "/usr/bin", "PWD": "/home/user/project"}
    redact = Redactor.from_env(env)
    text = "key=abcdef123456 t=tok-987654 p=hunter22! s=abc path=/usr/bin cwd=/home/user/project"
    assert redact(text) == "key=*** t=*** p=*** s=abc path=/usr/bin cwd=/home/user/project"
    assert Redactor()(text) == text


def test_reporters_redact_child_output_and_logs(tmp_path):
    stream = io.StringIO()
    writer = OutputWriter(stream, batch_interval=0)
    reporter = AccsynReporter(writer, 1, log_dir=tmp_path, redactor=Redactor.from_env({"X_SECRET": "s3cr3t-value"}))
    reporter.child_output(1, 9, "login with s3cr3t-value")
    reporter.message("token s3cr3t-value", public=True)
    reporter.close()
    writer.close()
    assert "s3cr3t-value" not in stream.getvalue()
    assert "[chunk 1 pid 9] login with ***" in stream.getvalue() and "!token ***" in stream.getvalue()
    assert (tmp_path / "chunk-001-pid-9.log").read_text() == "login with ***\n"


# ---------------------------------------------------------------------------------------------------------------
# OutputWriter

def test_writer_16_threads_lines_intact_and_ordered():
    stream = ChunkStream()
    writer = OutputWriter(stream, batch_interval=0.001)
    per_thread = 400

    def worker(t):
        for i in range(per_thread):
            writer.line(f"openjd_status: thread {t:02d} line {i:04d} " + "x" * (i % 50))

    threads = [threading.Thread(target=worker, args=(t,)) for t in range(16)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    writer.close()
    assert all(chunk.endswith("\n") for chunk in stream.writes)        # every write is whole lines
    assert len(stream.writes) < 16 * per_thread                        # batched
    lines = stream.getvalue().splitlines()
    assert len(lines) == 16 * per_thread
    for t in range(16):
        mine = [line for line in lines if line.startswith(f"openjd_status: thread {t:02d} ")]
        assert mine == [f"openjd_status: thread {t:02d} line {i:04d} " + "x" * (i % 50) for i in range(per_thread)]


def test_writer_splits_embedded_line_breaks_and_writes_after_close():
    stream = io.StringIO()
    writer = OutputWriter(stream, batch_interval=0)
    writer.line("a\r\nb\rc\nd")
    writer.line("")
    assert writer.flush(timeout=5)
    assert stream.getvalue() == "a\nb\nc\nd\n\n"
    writer.close()
    writer.close()                       # idempotent
    writer.line("late")                  # after close: written synchronously, not lost
    assert stream.getvalue().endswith("\nlate\n")


def test_writer_replaces_unencodable_characters():
    raw = io.BytesIO()
    stream = io.TextIOWrapper(raw, encoding="cp1252", write_through=True)
    writer = OutputWriter(stream, batch_interval=0)
    writer.line("caf\u00e9 \u2603 snow")
    writer.close()
    assert raw.getvalue() == b"caf\xe9 ? snow\n"


def test_writer_survives_a_closed_reader():
    class Broken(io.StringIO):
        def write(self, s):
            raise BrokenPipeError(32, "Broken pipe")

    writer = OutputWriter(Broken(), batch_interval=0)
    writer.line("x")
    assert writer.flush(timeout=5)
    writer.line("y")
    writer.close()
    assert writer.broken


# ---------------------------------------------------------------------------------------------------------------
# reading pipes

def test_pump_reads_an_fd_with_split_crlf():
    r, w = os.pipe()
    got = []
    thread = threading.Thread(target=pump, args=(r, got.append))
    thread.start()
    for piece in (b"one\r", b"\ntwo\r", b"three\n", "caf\u00e9".encode("cp1252")):
        os.write(w, piece)
    os.close(w)
    thread.join(10)
    os.close(r)
    assert got == ["one", "two", "three", "caf\u00e9"]


def test_start_pump_on_a_child_process():
    code = ("import sys\n"
            "for i in range(50):\n"
            "    sys.stdout.write('PROGRESS:  0:00:00:%02d (%d): 0 Seconds\\r\\n' % (i % 24, i + 1)); sys.stdout.flush()\n")
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE)
    got = []
    ended = threading.Event()
    thread = start_pump(proc.stdout, got.append, on_eof=ended.set)
    proc.wait(30)
    thread.join(10)
    proc.stdout.close()
    assert ended.is_set()
    assert got == ["PROGRESS:  0:00:00:%02d (%d): 0 Seconds" % (i % 24, i + 1) for i in range(50)]


def test_pump_uses_a_given_splitter():
    r, w = os.pipe()
    os.write(w, b"abcdefghij\n")
    os.close(w)
    got = []
    pump(r, got.append, LineSplitter(max_line=4))
    os.close(r)
    assert got == ["abcd", "efgh", "ij"]


def test_line_mux_reads_many_pipes_and_survives_a_bad_callback():
    from stmpo.reader import LineMux

    mux = LineMux(min_interval=0.001)
    pipes = [os.pipe() for _ in range(6)]
    got = {i: [] for i in range(6)}
    eofs = []

    def on_line(i):
        def handle(line):
            if i == 0 and line == "boom":
                raise RuntimeError("callback bug")
            got[i].append(line)
        return handle

    handles = [mux.add(r, on_line(i), on_eof=lambda i=i: eofs.append(i), name=str(i))
               for i, (r, w) in enumerate(pipes)]
    for n in range(30):
        for i, (r, w) in enumerate(pipes):
            os.write(w, (f"{i}:{n}\r" if n % 2 else f"{i}:{n}\r\n").encode() + (b"boom\n" if i == 0 and n == 3 else b""))
    for i, (r, w) in enumerate(pipes):
        os.write(w, f"tail{i}".encode())
        os.close(w)
    assert all(h.join(10) for h in handles)
    mux.close()
    for r, w in pipes:
        os.close(r)
    for i in range(6):
        assert got[i] == [f"{i}:{n}" for n in range(30)] + [f"tail{i}"]
    assert sorted(eofs) == list(range(6))
    assert isinstance(handles[0].error, RuntimeError) and handles[1].error is None


def test_line_mux_with_child_processes():
    from stmpo.reader import LineMux

    code = "import sys\nfor i in range(40): print('PROGRESS:  0:00:00:00 (%d): 0 Seconds' % (i + 1), flush=True)\n"
    mux = LineMux()
    procs = [subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE) for _ in range(4)]
    got = [[] for _ in procs]
    handles = [mux.add(p.stdout, got[i].append) for i, p in enumerate(procs)]
    for p, h in zip(procs, handles):
        p.wait(30)
        assert h.join(10)
        p.stdout.close()
    mux.close()
    assert got == [["PROGRESS:  0:00:00:00 (%d): 0 Seconds" % (i + 1) for i in range(40)]] * 4
    with pytest.raises(RuntimeError):
        mux.add(0, got[0].append)


def test_openjd_ok_run_reports_100_even_when_resumed_frames_were_not_counted():
    def events(r):
        r.run_started(4, [])
        r.frame_done(4)
        r.run_finished(True, None, "4 frames present")
    assert run_reporter(OpenJDReporter, events) == [
        "openjd_status: Rendering 4 frames", "openjd_progress: 25", "openjd_progress: 100",
        "openjd_status: 4 frames present",
    ]


def test_accsyn_announce_app():
    assert run_reporter(AccsynReporter, lambda r: r.announce_app(4242)) == ["Accsyn PID(4242)"]
