"""`BatchStreamer`: drains the observed process's recorder and writes its batches to the parent.

Runs inside the observed process (standard library only). A daemon thread drains the recorder
every `interval_s` (50 ms); every chunk a drain folds becomes one frame, written to the inherited
pipe at once by the thread that drained it; `flush()` drains and writes from any thread (the agent
calls it at repeat boundaries, at the end, from `atexit` and from its signal handlers). A crash
loses at most the events of the last interval.

Back-pressure, never an unbounded queue: frames are written with blocking writes as they are
made, so at most a frame or two wait in `_out`. When the parent reads slower than the program
makes events, the writing thread waits on the pipe; meanwhile the recorder's buffer fills. A
lossless recorder (the parent records the run: nothing may be lost) then makes the program's
threads wait for room before their next acquisition (`Recorder.relieve`, which drains - and so
writes - on the producing thread): the program runs at the pace the parent can take. A recorder
that drops (no recording) counts what its full buffer refuses and the program runs at its own pace.

Each batch carries the data of the lifetimes it acquired or released (the recorder's table rows,
column by column as raw arrays, read while the drain holds its lock, with the names added to the
table since the last batch), the new points of the streams it touched, its marks and the
recorder's drop count: the parent never looks anything up in this process.

A process forked by the target inherits no streamer: `forked()` (registered with
`os.register_at_fork`) closes the pipe in the child, so only the observed process writes to it
and the parent sees the end of the pipe when that process ends. Around a fork the drain thread is
stopped and started again (`before_fork` / `after_fork_in_parent`): the program forks with its
own threads only.

Thread-safety: `flush()` may be called from any thread and from a signal handler; frames are
written whole under one lock (a flush that cannot take it within a second gives up, so a signal
arriving while the same thread writes cannot deadlock). A write to a closed pipe (the parent
went away) stops the streamer; the program goes on unobserved.
"""

from __future__ import annotations

import contextlib
import os
import threading
import time
import warnings
from array import array
from collections import deque
from collections.abc import Callable
from typing import Any

from ..lifetime_table import LifetimeTable  # noqa: TID252 (mypy sees this tree as `core`)
from ..recorder import Batch, Recorder  # noqa: TID252
from .wire import encode

_BIG = 1 << 62
PIPE_SIZE = 1 << 20  # bytes the pipe holds (Linux's default limit for an unprivileged process)
_FORK_WARNING = r"This process \(pid=\d+\) is multi-threaded, use of fork\(\) may lead to deadlocks in the child\."


def _own_threads() -> int:
    """Threads of this process now, as the OS counts them."""
    try:
        return len(os.listdir("/proc/self/task"))
    except OSError:
        return threading.active_count()


class BatchStreamer:
    """Streams one recorder's batches to a pipe fd; see the module docstring."""

    def __init__(self, recorder: Recorder, fd: int, interval_s: float = 0.05) -> None:
        self.recorder = recorder
        self.fd = fd
        self.interval_s = interval_s
        self.pid = os.getpid()
        self.frames = 0
        self.closed = False
        # Frames made and not yet written: at most the one being written and one per thread
        # waiting for the write lock (each maker writes what it made before it goes on).
        self._out: deque[bytes] = deque()
        self._series_sent: dict[int, int] = {}  # stream id -> points already sent
        # Invariant: the parent's tables of names (strings, kinds, threads) mirror this recorder's
        # index for index; each batch carries the names added since the last one.
        self._n_strings, self._n_kinds, self._n_threads = 1, 0, 0
        self._write_lock = threading.Lock()
        self._wake = threading.Event()
        self._stop = False
        self._thread: threading.Thread | None = None
        self._fork_filter: Any = None  # a warnings filter set for one fork (see before_fork)
        # Called before each drain (the automatic instrumentation records what it saw); never raises.
        self.before_drain: Callable[[], None] | None = None
        self._unsubscribe = recorder.subscribe(self._on_batch)
        with contextlib.suppress(OSError, ImportError):  # a larger pipe: fewer waits per frame
            import fcntl

            fcntl.fcntl(fd, getattr(fcntl, "F_SETPIPE_SZ", 1031), PIPE_SIZE)

    # ------------------------------------------------------------------------ lifecycle
    def start(self) -> None:
        """Start the background drain thread (daemon: it never keeps the process alive)."""
        self._thread = threading.Thread(target=self._loop, name="withscope-agent-drain", daemon=True)
        self._thread.start()

    def _loop(self) -> None:
        while not self._stop:
            self._wake.wait(self.interval_s)
            self._drop_fork_filter()
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

    def before_fork(self) -> None:
        """Before the program forks: stop the drain thread, so the process forks with the threads
        the program made and no more (from 3.12 Python warns when a multi-threaded process forks:
        the program must see that warning exactly when it would see it without withscope)."""
        thread = self._thread
        if thread is None or not thread.is_alive() or thread is threading.current_thread():
            return
        self._stop = True
        self._wake.set()
        thread.join(1.0)
        self._thread = None
        # The OS thread ends a moment after join() returns; Python counts the OS's threads.
        deadline = time.monotonic() + 0.05
        while os.path.isdir(f"/proc/self/task/{thread.native_id}") and time.monotonic() < deadline:
            time.sleep(0.0005)
        # From 3.13 the warning is issued after the `after_in_parent` hooks, which start the drain
        # thread again: when the program has no thread of its own, Python would not warn, so
        # neither may the thread restarted for this fork (the filter goes at its first turn).
        if self._fork_filter is None and _own_threads() == 1:
            warnings.filterwarnings("ignore", message=_FORK_WARNING, category=DeprecationWarning)
            self._fork_filter = warnings.filters[0]

    def after_fork_in_parent(self) -> None:
        """After the program forked, in the observed process: drain again."""
        if self._thread is None and not self.closed:
            self._stop = False
            self._wake.clear()
            self.start()

    def _drop_fork_filter(self) -> None:
        entry, self._fork_filter = self._fork_filter, None
        if entry is not None:
            filters = warnings.filters
            if isinstance(filters, list):
                with contextlib.suppress(ValueError):
                    filters.remove(entry)
            mutated = getattr(warnings, "_filters_mutated", None)  # the warnings' caches know of it
            if mutated is not None:
                mutated()

    def forked(self) -> None:
        """In a child forked by the target: this process is not the observed one; drop the pipe."""
        if os.getpid() == self.pid:
            return
        self._drop_fork_filter()
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
            if self.before_drain is not None:
                self.before_drain()
            self.recorder.drain()
        self._write_pending()

    def _write_pending(self) -> None:
        if self.closed or not self._write_lock.acquire(timeout=1.0):
            return
        try:
            while self._out and not self.closed:
                frame = self._out.popleft()
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
        # Written now, on the draining thread (a producer relieving a lossless recorder, or the
        # drain thread): a slow parent makes this write wait, which is the back-pressure.
        self._write_pending()

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
