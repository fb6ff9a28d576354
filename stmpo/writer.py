"""The one writer of stdout: every line, from every thread, goes out whole and in order.

Why: farm daemons read our stdout line by line (`openjd_progress:`, accsyn's JSON frame lines). If a protocol line
and a child's output line were written by two threads at once they could interleave mid-line and the update would be
lost or corrupt. So every line goes through `OutputWriter`: a queue drained by a single thread that writes whole
lines in batches (one write + flush per batch keeps the parent cheap when 16 children are talking).
"""
from __future__ import annotations

import queue
import sys
import threading
import time
from typing import IO, List, Optional, Union

_STOP = object()


class OutputWriter:
    """The single owner of a text stream (stdout by default): `.line(text)` from any thread queues one whole line.

    A daemon thread drains the queue, waiting `batch_interval` seconds after the first line so that everything
    queued meanwhile goes out in one write + flush. Text with embedded line breaks becomes several whole lines.
    Characters the stream cannot encode are replaced, and a closed stream (reader went away) drops output instead
    of killing the render. After `close()` (which drains), `.line()` writes synchronously.
    """

    def __init__(self, stream: Optional[IO[str]] = None, batch_interval: float = 0.05) -> None:
        self._stream = stream if stream is not None else sys.stdout
        self._interval = max(0.0, batch_interval)
        self._queue: "queue.SimpleQueue[Union[str, threading.Event, object]]" = queue.SimpleQueue()
        # Re-entrant: a signal handler running on the main thread may report while that thread is inside line().
        self._lock = threading.RLock()
        self._closed = False
        self.broken = False
        self._thread = threading.Thread(target=self._run, name="stmpo-output", daemon=True)
        self._thread.start()

    def line(self, text: str) -> None:
        if "\n" in text or "\r" in text:
            text = text.replace("\r\n", "\n").replace("\r", "\n")
        with self._lock:
            if not self._closed:
                self._queue.put(text)
                return
            if not self._thread.is_alive():  # else close() timed out on a stuck stream: never write beside it
                self._write(text + "\n")

    def flush(self, timeout: Optional[float] = None) -> bool:
        """Wait until every line queued before this call is written; False on timeout."""
        with self._lock:
            if self._closed:
                self._flush_stream()
                return True
            done = threading.Event()
            self._queue.put(done)
        return done.wait(timeout)

    def close(self, timeout: Optional[float] = 10.0) -> None:
        with self._lock:
            if self._closed:
                return
            self._closed = True
            self._queue.put(_STOP)
            # Joined under the lock so late `.line()` calls wait and then write after everything queued.
            self._thread.join(timeout)

    def __enter__(self) -> "OutputWriter":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _run(self) -> None:
        get, get_nowait = self._queue.get, self._queue.get_nowait
        while True:
            item = get()
            if self._interval and item is not _STOP:
                time.sleep(self._interval)
            batch: List[str] = []
            waiters: List[threading.Event] = []
            stop = False
            while True:
                if item is _STOP:
                    stop = True
                elif isinstance(item, threading.Event):
                    waiters.append(item)
                elif isinstance(item, str):
                    batch.append(item)
                if len(batch) >= 20000:
                    break
                try:
                    item = get_nowait()
                except queue.Empty:
                    break
            if batch:
                batch.append("")
                self._write("\n".join(batch))
            for waiter in waiters:
                waiter.set()
            if stop:
                return

    def _write(self, chunk: str) -> None:
        if self.broken:
            return
        stream = self._stream
        try:
            try:
                stream.write(chunk)
            except UnicodeEncodeError:
                encoding = getattr(stream, "encoding", None) or "utf-8"
                stream.write(chunk.encode(encoding, "replace").decode(encoding, "replace"))
            stream.flush()
        except (OSError, ValueError):
            self.broken = True

    def _flush_stream(self) -> None:
        try:
            self._stream.flush()
        except (OSError, ValueError):
            self.broken = True


