"""`BatchStreamer`: drains the observed process's recorder and writes its batches to the parent.

Runs inside the observed process (standard library only). A daemon thread drains the recorder
every `interval_s` (50 ms) and writes one frame per non-empty drain to the inherited pipe; `flush()`
does the same at once from any thread (the agent calls it at repeat boundaries, at the end, from
`atexit` and from its signal handlers). A crash loses at most the events of the last interval.

Each batch carries the data of the lifetimes it acquired or released (the recorder's table rows,
column by column as raw arrays, read while the drain holds its lock, with the names added to the
table since the last batch), the new points of the streams it touched, its marks and the
recorder's drop count: the parent never looks anything up in this process.

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
from array import array
from typing import Any

from ..lifetime_table import LifetimeTable  # noqa: TID252 (mypy sees this tree as `core`)
from ..recorder import Batch, Recorder  # noqa: TID252
from .wire import encode

_BIG = 1 << 62


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
        # Invariant: the parent's tables of names (strings, kinds, threads) mirror this recorder's
        # index for index; each batch carries the names added since the last one.
        self._n_strings, self._n_kinds, self._n_threads = 1, 0, 0
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
        rows = self._rows(t, batch) if batch.acquired or batch.released else None
        names = (
            self._n_strings, t.strings[self._n_strings :], self._n_kinds, t.kinds[self._n_kinds :],
            self._n_threads, t.threads[self._n_threads :],
        )  # fmt: skip
        self._n_strings, self._n_kinds, self._n_threads = len(t.strings), len(t.kinds), len(t.threads)
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
            encode(("batch", batch.events, batch.dropped_total, rows, streams, marks, list(batch.aborted), names))
        )

    @staticmethod
    def _rows(t: LifetimeTable, batch: Batch) -> tuple[Any, ...]:
        """The table's rows of the lifetimes this batch acquired or released, column by column
        (see `wire`): one slice per column over [lo, hi] when the ids are dense there, else the
        listed ids."""
        acquired, released = batch.acquired, batch.released
        lo = min(acquired[0] if acquired else _BIG, min(released) if released else _BIG)
        hi = max(acquired[-1] if acquired else -1, max(released) if released else -1)
        cols = (t.acquired_ns, t.released_ns, t.outcome, t.flags, t.kind, t.label, t.site, t.thread, t.task)
        ids: list[int] | None = None
        if hi - lo + 1 <= 2 * (len(acquired) + len(released)):
            data = [col[lo : hi + 1].tobytes() for col in cols]
            changed: Any = range(lo, hi + 1)
        else:
            ids = sorted(set(acquired).union(released))
            data = [array(col.typecode, map(col.__getitem__, ids)).tobytes() for col in cols]
            changed = ids
        errors = [(lid, *t.errors[lid]) for lid in released if lid in t.errors] if t.errors else []
        stacks = [(lid, t.stacks[lid]) for lid in changed if lid in t.stacks] if t.stacks else []
        return (lo, hi, ids, *data, errors, stacks)
