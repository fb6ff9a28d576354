"""Reading children's pipes as whole lines: the one piece of I/O between aerender's stdout and `parse_line`.

Two ways, same callbacks (`on_line(text)` per whole line, `on_eof()` once after the last line):
- `LineMux().add(proc.stdout, on_line, on_eof)`: one thread serves every pipe (POSIX selectors; a thread per pipe
  on Windows, where pipes cannot be selected). Cheapest; what the executor should use.
- `start_pump(proc.stdout, on_line, on_eof=...)` / `pump(...)`: a thread per pipe; simplest, works everywhere.
A read returns whatever the pipe holds, so a burst of lines costs one wake-up, not one per line.
benchmarks/bench_progress_overhead.py measures both.
"""
from __future__ import annotations

import os
import selectors
import sys
import threading
from typing import IO, Callable, List, Optional, Tuple, Union

from stmpo.lines import LineSplitter

__all__ = ["pump", "start_pump", "LineMux", "ReaderHandle"]

READ_SIZE = 64 * 1024


def _reader(stream: Union[IO[bytes], int]) -> Callable[[], bytes]:
    if isinstance(stream, int):
        return lambda: os.read(stream, READ_SIZE)
    read1 = getattr(stream, "read1", None)
    if read1 is not None:  # BufferedReader (Popen's stdout): returns what is available, never waits for a full block
        return lambda: read1(READ_SIZE)
    raw = stream
    return lambda: raw.read(READ_SIZE)


def pump(stream: Union[IO[bytes], int], on_line: Callable[[str], None],
         splitter: Optional[LineSplitter] = None) -> None:
    """Read `stream` (a binary pipe or a file descriptor) until EOF, calling `on_line(text)` per whole line.

    Blocks; run it in a thread. The unterminated last line is delivered at EOF. An OSError/ValueError from the read
    (pipe closed under us during cancel) ends the pump like EOF. Exceptions raised by `on_line` propagate: the caller
    owns its callback's errors.
    """
    read = _reader(stream)
    split = splitter or LineSplitter()
    while True:
        try:
            data = read()
        except (OSError, ValueError):
            data = b""
        if not data:
            break
        for line in split.feed(data):
            on_line(line)
    for line in split.flush():
        on_line(line)


def start_pump(stream: Union[IO[bytes], int], on_line: Callable[[str], None], name: str = "stmpo-reader",
               on_eof: Optional[Callable[[], None]] = None) -> threading.Thread:
    """`pump` in a started daemon thread; `on_eof()` runs in that thread after the last line (also on error)."""
    def run() -> None:
        try:
            pump(stream, on_line)
        finally:
            if on_eof is not None:
                on_eof()

    thread = threading.Thread(target=run, name=name, daemon=True)
    thread.start()
    return thread


class ReaderHandle:
    """One pipe being read: `join()` returns once its last line was delivered (EOF or error)."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.done = threading.Event()
        self.error: Optional[BaseException] = None  # first exception raised by this pipe's callbacks

    def join(self, timeout: Optional[float] = None) -> bool:
        return self.done.wait(timeout)


class LineMux:
    """Many child pipes read by ONE thread (POSIX `selectors`), each pipe with its own splitter and callbacks.

    Why: with a thread per pipe, 16 children each waking their own thread for every line cost the parent roughly
    twice the CPU of one thread serving all pipes (see the benchmark). `min_interval` additionally batches: after
    each round the thread waits that long before looking again, so bursts cost one wake-up.
    On Windows (pipes cannot be selected) `add()` falls back to a reader thread per pipe, same callbacks.

    Callbacks run on the mux thread and must be quick. A callback that raises is recorded on its handle
    (`handle.error`) and the pipe keeps being read: one broken callback must not starve every other child.
    Read pipes through the mux only (`proc.stdout` must not also be read elsewhere: its buffer would hide data).
    """

    _selector: selectors.BaseSelector  # POSIX only, like the wake-up pipe
    _wake_r: int
    _wake_w: int

    def __init__(self, min_interval: float = 0.05, name: str = "stmpo-mux") -> None:
        self._threads_only = sys.platform == "win32"  # Windows pipes cannot be selected
        self._min_interval = max(0.0, min_interval)
        self._lock = threading.Lock()
        self._pending: List[Tuple[int, _Pipe]] = []
        self._closed = False
        self._closing = threading.Event()  # interrupts the batching pause, so close() and EOFs are never delayed
        self._thread: Optional[threading.Thread] = None
        self._name = name
        if sys.platform != "win32":
            self._selector = selectors.DefaultSelector()
            self._wake_r, self._wake_w = os.pipe()
            os.set_blocking(self._wake_r, False)
            self._selector.register(self._wake_r, selectors.EVENT_READ, None)

    def add(self, stream: Union[IO[bytes], int], on_line: Callable[[str], None],
            on_eof: Optional[Callable[[], None]] = None, name: str = "pipe") -> ReaderHandle:
        handle = ReaderHandle(name)
        if self._threads_only:
            def guarded(line: str) -> None:
                _call(handle, on_line, line)

            def eof() -> None:
                if on_eof is not None:
                    _call(handle, on_eof)
                handle.done.set()
            start_pump(stream, guarded, name=f"stmpo-reader-{name}", on_eof=eof)
            return handle
        fd = stream if isinstance(stream, int) else stream.fileno()
        with self._lock:
            if self._closed:
                raise RuntimeError("LineMux is closed")
            self._pending.append((fd, _Pipe(handle, on_line, on_eof)))
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name=self._name, daemon=True)
                self._thread.start()
        os.write(self._wake_w, b"x")
        return handle

    def close(self, timeout: Optional[float] = 5.0) -> None:
        """Stop the thread; pipes still open are delivered no more lines (their handles are marked done)."""
        if self._threads_only:
            return
        with self._lock:
            if self._closed:
                return
            self._closed = True
            thread = self._thread
        self._closing.set()
        os.write(self._wake_w, b"x")
        if thread is not None:
            thread.join(timeout)
        else:
            self._cleanup()

    def _cleanup(self) -> None:
        for key in list(self._selector.get_map().values()):
            if key.data is not None:
                key.data.handle.done.set()
        self._selector.close()
        os.close(self._wake_r)
        os.close(self._wake_w)

    def _run(self) -> None:
        sel = self._selector
        try:
            while True:
                with self._lock:
                    pending, self._pending = self._pending, []
                    closed = self._closed
                if closed:
                    return
                for fd, pipe in pending:
                    try:
                        sel.register(fd, selectors.EVENT_READ, pipe)
                    except (KeyError, ValueError, OSError):  # closed by its owner already, or a duplicate
                        pipe.finish()
                lines_read = False
                for key, _ in sel.select():
                    pipe = key.data
                    if pipe is None:
                        try:
                            os.read(self._wake_r, 4096)
                        except BlockingIOError:
                            pass
                        continue
                    try:
                        data = os.read(key.fd, READ_SIZE)
                    except OSError:
                        data = b""
                    if data:
                        lines_read = True
                        for line in pipe.splitter.feed(data):
                            _call(pipe.handle, pipe.on_line, line)
                    else:
                        sel.unregister(key.fd)
                        pipe.finish()
                if self._min_interval and lines_read:  # batch chatty children; an EOF or a wake-up never waits
                    self._closing.wait(self._min_interval)
        finally:
            self._cleanup()


class _Pipe:
    __slots__ = ("handle", "on_line", "on_eof", "splitter")

    def __init__(self, handle: ReaderHandle, on_line: Callable[[str], None],
                 on_eof: Optional[Callable[[], None]]) -> None:
        self.handle, self.on_line, self.on_eof = handle, on_line, on_eof
        self.splitter = LineSplitter()

    def finish(self) -> None:
        for line in self.splitter.flush():
            _call(self.handle, self.on_line, line)
        if self.on_eof is not None:
            _call(self.handle, self.on_eof)
        self.handle.done.set()


def _call(handle: ReaderHandle, func: Callable[..., None], *args: str) -> None:
    try:
        func(*args)
    except Exception as exc:  # noqa: BLE001 - recorded for the owner; the shared reader must keep going
        if handle.error is None:
            handle.error = exc
