"""`BatchStreamer`: drains the observed process's recorder and writes its batches to the parent.

Runs inside the observed process (standard library only). A daemon thread drains the recorder
every `interval_s` (50 ms) and writes one frame per non-empty drain to the inherited pipe; `flush()`
does the same at once from any thread (the agent calls it at repeat boundaries, at the end, from
`atexit` and from its signal handlers). A crash loses at most the events of the last interval.

Each batch carries the data of the lifetimes it acquired or released (read from the recorder's
table while the drain holds its lock), the new points of the streams it touched, its marks and
the recorder's drop count: the parent never looks anything up in this process.

A process forked by the target inherits no streamer: `forked()` (registered with
`os.register_at_fork`) closes the pipe in the child, so only the observed process writes to it
and the parent sees the end of the pipe when that process ends.

Thread-safety: `flush()` may be called from any thread and from a signal handler; frames are
written whole under one lock (a flush that cannot take it within a second gives up, so a signal
arriving while the same thread writes cannot deadlock). A write to a closed pipe (the parent
went away) stops the streamer; the program goes on unobserved.
"""

from __future__ import annotations

import contextlib
import os
import threading
from typing import Any

from ..events import OUT_MISSING  # noqa: TID252 (mypy sees this tree as `core`)
from ..recorder import Batch, Recorder  # noqa: TID252
from .wire import encode


class BatchStreamer:
    """Streams one recorder's batches to a pipe fd; see the module docstring."""

    def __init__(self, recorder: Recorder, fd: int, interval_s: float = 0.05) -> None:
        self.recorder = recorder
        self.fd = fd
        self.interval_s = interval_s
        self.pid = os.getpid()
        self.frames = 0
        self.closed = False
        self._out: list[bytes] = []  # frames built by the subscriber, written by the flusher
        self._series_sent: dict[int, int] = {}  # stream id -> points already sent
        self._write_lock = threading.Lock()
        self._wake = threading.Event()
        self._stop = False
        self._thread: threading.Thread | None = None
        self._unsubscribe = recorder.subscribe(self._on_batch)

    # ------------------------------------------------------------------------ lifecycle
    def start(self) -> None:
        """Start the background drain thread (daemon: it never keeps the process alive)."""
        self._thread = threading.Thread(target=self._loop, name="withscope-agent-drain", daemon=True)
        self._thread.start()

    def _loop(self) -> None:
        while not self._stop:
            self._wake.wait(self.interval_s)
            self._wake.clear()
            if self._stop:
                break
            self.flush()

    def close(self) -> None:
        """Final flush, stop the thread, close the pipe. Idempotent."""
        if self.closed or os.getpid() != self.pid:
            return
        self._stop = True
        self._wake.set()
        self.flush()
        self.closed = True
        self._unsubscribe()
        with contextlib.suppress(OSError):
            os.close(self.fd)

    def forked(self) -> None:
        """In a child forked by the target: this process is not the observed one; drop the pipe."""
        if os.getpid() == self.pid:
            return
        self.closed = True
        self._stop = True
        with contextlib.suppress(OSError):
            os.close(self.fd)

    # -------------------------------------------------------------------------- sending
    def send(self, message: tuple[Any, ...]) -> None:
        """Write one message now (after the batches drained so far)."""
        self._out.append(encode(message))
        self._write_pending()

    def flush(self) -> None:
        """Drain the recorder and write every pending frame. Any thread; a signal handler too."""
        if self.closed or os.getpid() != self.pid:
            return
        with contextlib.suppress(Exception):  # a failure of the recorder must not reach the program
            self.recorder.drain()
        self._write_pending()

    def _write_pending(self) -> None:
        if self.closed or not self._write_lock.acquire(timeout=1.0):
            return
        try:
            while self._out and not self.closed:
                frame = self._out.pop(0)
                view = memoryview(frame)
                while view:
                    written = os.write(self.fd, view)
                    view = view[written:]
                self.frames += 1
        except OSError:  # the parent is gone (EPIPE) or the fd was closed: stop observing
            self.closed = True
            self._stop = True
            self._out.clear()
        finally:
            self._write_lock.release()

    # ------------------------------------------------------------------ batch -> message
    def _on_batch(self, batch: Batch) -> None:
        """Recorder subscriber: runs on the draining thread, under the recorder's lock."""
        if not (batch.acquired or batch.released or batch.streams or batch.marks or batch.aborted):
            return
        rec = self.recorder
        t = rec.table
        s = t.strings
        outcome = t.outcome
        ids = dict.fromkeys(batch.acquired + batch.released) if batch.released else batch.acquired
        lifetimes = []
        for lid in ids:
            code = outcome[lid]
            if code == OUT_MISSING:
                continue
            site, task = t.site[lid], t.task[lid]
            err = t.errors.get(lid)
            lifetimes.append((
                lid, t.kinds[t.kind[lid]], s[t.label[lid]], s[site] if site else None,
                t.threads[t.thread[lid]], s[task] if task else None, t.acquired_ns[lid], t.released_ns[lid],
                code, t.flags[lid], err[0] if err else None, err[1] if err else None, t.stacks.get(lid, ()),
            ))  # fmt: skip
        streams = []
        for lid in batch.streams:
            st = rec.stream(lid)
            if st is None:
                continue
            done = self._series_sent.get(lid, 0)
            self._series_sent[lid] = len(st.series)
            streams.append((
                lid, st.label, st.started_ns, st.first_chunk_ns, st.last_ns, st.ended, st.chunks, st.bytes,
                list(st.series[done:]),
            ))  # fmt: skip
        marks = [(m.t_ns, m.text) for m in batch.marks]
        self._out.append(
            encode(("batch", batch.events, batch.dropped_total, lifetimes, streams, marks, list(batch.aborted)))
        )
