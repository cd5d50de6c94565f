"""The recorder: a bounded buffer of raw events, folded in batches into a columnar table.

Producers (any thread, any task) append tuples to the buffer; that is all the hot path does.
(With the C accelerator the buffer is `_speedups.EventBuf`: the hot path's acquisitions and clean
releases are kept as C records and become the same tuples only when a drain takes them.)
Consumers call `drain()` (from any thread; drains serialise on one lock, e.g. the GUI timer or
an asyncio task): it folds the pending events into `LifetimeTable` columns and hands a `Batch`
to every subscriber. Nothing here imports Qt or knows how events are shown.

Bounded memory, never silent: the buffer admits new acquisitions, stream updates and marks
only while it holds fewer than `capacity` events; each refused event is counted in `dropped`
(and in every `Batch.dropped_total`). A refused acquisition returns id -1, so no release is
ever recorded for it. Releases and withdrawals (ABORT) of *admitted* acquisitions are always
admitted - a full buffer never turns a released resource into a fake leak - so the buffer
holds at most `capacity` + (lifetimes open at that moment) events.

Lossless mode (`lossless = True`, set by a recording writer: a recording loses no event): a
full buffer is never a drop but back-pressure, and "full" means `LOSSLESS_CAPACITY` events (or
`capacity` if smaller), so little is ever pending: what happened is folded, and written, soon.
A producer that finds the buffer full drains one chunk itself (`relieve`), or, while another
thread drains, waits until that drain has taken events out. The producer is slowed to the pace
of the drain and its subscribers (a recording writer's queue and an agent's pipe are bounded
too); one stall lasts about one chunk's fold and write. The wait never falls inside a lifetime:
an acquisition relieves the buffer *before* it reads the clock (the hot paths compare the
pending events with `_room` - the limit in lossless mode, never reached otherwise - first, and
`acquire()`'s callers call `make_room`), and an acquisition that then finds the buffer full
again (another thread filled it meanwhile) is admitted beyond the limit instead of waiting. So
the buffer holds at most the limit plus one acquisition per producing thread, plus the
releases of open lifetimes. Stream updates and marks relieve in `push` (their time is taken
before: a point, not an interval). A producer that is itself inside a drain on its thread (a
finalizer run by the fold, a subscriber that tracks something) cannot wait for that drain: its
event is admitted beyond the limit, never dropped.

Drains fold in chunks of at most `DRAIN_CHUNK` events, each chunk a `Batch` to the subscribers:
no single C-level call (taking the events, filtering them, writing a column) holds the GIL for
longer than one chunk, so a drain of a large backlog never stalls the observed threads for
more than a few milliseconds at a time.

Folding (target: >= 1M events/s ingested while 4 producer threads run; benchmarks/). A drain pops its
events in one C-level call, splits acquisitions from the rest in C (`filter` on the event
code), and folds the acquisitions column by column: ids, kinds/labels (once per shared spec
object), sites (once per code object and instruction offset), thread and task names each
resolve through a dict, and each column is written with one slice assignment when the ids of
the batch are contiguous (the usual case; otherwise one store per id). Releases, withdrawals,
stream counters and marks then follow one by one, in buffer order. Acquisitions are folded
before the rest of their batch, which keeps the invariant of `events.py` (a release follows its
acquisition). If the column fold fails, every acquisition of the batch is folded on its own so
that one bad event costs only itself (each failure is logged).
"""

from __future__ import annotations

import contextvars
import itertools
import logging
import sys
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from itertools import filterfalse, repeat, starmap
from operator import itemgetter
from typing import Any

from ._accel import speedups as _C
from .events import (
    ABORT,
    MARK,
    OUT_MISSING,
    OUT_OPEN,
    RELEASE,
    STACK,
    STREAM,
    Lifetime,
    Mark,
    StreamStats,
)
from .lifetime_table import LifetimeTable as LifetimeTable  # public: a Batch's ids index its table

log = logging.getLogger("withscope")

DEFAULT_CAPACITY = 1 << 20  # pending events before new ones are dropped (and counted)
DRAIN_CHUNK = 1 << 14  # events folded per Batch (and per GIL-holding C call) by a drain
LOSSLESS_CAPACITY = 1 << 13  # pending events at which a lossless recorder's producers relieve it
_NEVER = sys.maxsize  # `_room` of a recorder that drops: no pending count reaches it

_CODE = itemgetter(0)


@dataclass(frozen=True, slots=True)
class Batch:
    """What one `drain()` folded. Lifetime ids index `Recorder.table`."""

    events: int
    acquired: tuple[int, ...]  # acquisitions folded by this drain (minus those withdrawn in it)
    released: tuple[int, ...]
    streams: tuple[int, ...]
    marks: tuple[Mark, ...]
    dropped_total: int
    # Acquisitions withdrawn because their `__enter__`/`__aenter__` failed (resource mode): a
    # consumer that showed them from an earlier batch should remove them. `lifetime(id)` is None.
    aborted: tuple[int, ...] = ()


class _StreamAcc:
    __slots__ = ("chunks", "ended", "first_ns", "label", "last_ns", "nbytes", "series", "started_ns")

    def __init__(self, label: str, started_ns: int) -> None:
        self.label = label
        self.started_ns = started_ns
        self.first_ns: int | None = None
        self.last_ns = started_ns
        self.chunks = 0
        self.nbytes = 0
        self.ended = False
        self.series: list[tuple[int, int, int]] = []

    def end(self, t_ns: int) -> None:
        """The stream's lifetime was released at `t_ns`."""
        self.ended = True
        self.last_ns = max(self.last_ns, t_ns)


class Recorder:
    """Collects acquire/release/stream events from any thread or task (see the module docstring).

    `with Recorder() as rec:` makes `rec` the active recorder for the code inside: asyncio
    tasks started there inherit it through a context variable; other threads see the
    innermost active recorder of the process. Outside any such block, `track` records into
    `default_recorder()`.

    Producers may call from any thread. `drain()`, `lifetimes()` and the other readers may be
    called from any thread but serialise on one lock; subscribers run on the draining thread,
    under that lock. A drain started from inside a subscriber (e.g. calling `lifetimes()`)
    folds nothing and notifies nobody: it returns an empty batch. A Recorder can be entered
    more than once (nested activations stack), but is not meant to be shared by unrelated
    runs: make one per run.

    `capacity` bounds the pending (not yet drained) events, see the module docstring;
    `stack_depth` > 1 records that many frames per acquisition (opt-in: costs microseconds).
    """

    def __init__(
        self, *, capacity: int = DEFAULT_CAPACITY, stack_depth: int = 1, name: str = "recorder"
    ) -> None:
        if capacity < 1:
            raise ValueError("capacity must be at least 1")
        if stack_depth < 1:
            raise ValueError("stack_depth must be at least 1")
        self.name = name
        # Hot-path state (read by core.track / core.streams without method calls):
        self._capacity = capacity
        self._lossless = False  # see the module docstring and `lossless`
        self._cap = capacity  # the limit in force: `capacity`, or less in lossless mode
        self._stack_depth = stack_depth
        self.t0_ns = time.perf_counter_ns()
        self.wall_t0 = time.time()  # Unix time at t0_ns, to put perf_counter times on a date axis
        # A deque on the pure-Python path; the accelerator's EventBuf (same methods, plus `take`)
        # keeps the hot path's events as C records and hands them out as the same tuples.
        self._buf: Any = deque() if _C is None else _C.EventBuf()
        self._ids = itertools.count()
        # Called with each resource `track()` takes over into this recorder: the agent's automatic
        # instrumentation withdraws its own lifetime of it (one resource, one lifetime). Never raises.
        self.on_track: Callable[[Any], None] | None = None
        # Invariant (kept by `_sync_hot`): `_limit` is `_cap` when `stack_depth` is 1, else 0.
        # The inlined `__enter__` records only while the buffer holds fewer than `_limit` events;
        # at 0 every acquisition takes the general path (which checks `capacity` and captures the
        # stack). `_room` is `_cap` in lossless mode, else never reached: an acquisition that
        # finds that many pending relieves the buffer before it reads the clock. `_hot` is
        # [_buf, _ids, _limit, _room], the four in one read for the C hot path (core/_speedups.c).
        self._limit = 0
        self._room = _NEVER
        self._hot: list[Any] = []
        self._sync_hot()
        # Drop accounting: `next()` on a C counter is atomic under the GIL and takes no lock, so
        # it cannot deadlock when a finalizer (`__del__`) records from inside a drop on the same
        # thread. Read through `dropped`.
        self._drops = itertools.count()
        # Folded state.
        self._lock = threading.RLock()
        self.table = LifetimeTable()
        self._streams: dict[int, _StreamAcc] = {}
        self._marks: list[Mark] = []
        self._subscribers: list[Callable[[Batch], None]] = []
        self._tokens: list[contextvars.Token[Recorder | None]] = []
        self._draining = False  # a drain is folding/notifying (guarded by _lock)
        self._drain_thread = 0  # ident of the thread running the current drain (0: none)
        self.events_total = 0
        self.relieved = 0  # how many times a producer found the buffer full and drained a chunk

    @property
    def capacity(self) -> int:
        """Pending events before new acquisitions, stream updates and marks are refused."""
        return self._capacity

    @capacity.setter
    def capacity(self, value: int) -> None:
        if value < 1:
            raise ValueError("capacity must be at least 1")
        self._capacity = value
        self._sync_hot()

    @property
    def lossless(self) -> bool:
        """True: a full buffer is relieved by its producers (back-pressure), nothing is dropped."""
        return self._lossless

    @lossless.setter
    def lossless(self, value: bool) -> None:
        self._lossless = bool(value)
        self._sync_hot()

    @property
    def stack_depth(self) -> int:
        """Frames recorded per acquisition (1: the site only)."""
        return self._stack_depth

    @stack_depth.setter
    def stack_depth(self, value: int) -> None:
        if value < 1:
            raise ValueError("stack_depth must be at least 1")
        self._stack_depth = value
        self._sync_hot()

    def _sync_hot(self) -> None:
        """Derive `_cap`, `_limit` and `_hot` from the capacity, mode, stack depth and buffer."""
        self._cap = min(self._capacity, LOSSLESS_CAPACITY) if self._lossless else self._capacity
        self._limit = self._cap if self._stack_depth == 1 else 0
        self._room = self._cap if self._lossless else _NEVER
        self._hot[:] = [self._buf, self._ids, self._limit, self._room]

    def _set_buffer(self, buf: Any) -> None:
        """Swap the pending-event buffer (tests use a failing one); keeps `_hot` in step."""
        self._buf = buf
        self._sync_hot()

    # ----------------------------------------------------------------- producers (hot path)
    def push(self, event: tuple[Any, ...]) -> None:
        """Append one raw event; when the buffer is full the event is dropped and counted (in
        lossless mode the producer relieves the buffer first and nothing is dropped).

        For stream updates and marks. Releases and aborts bypass the cap (see module docstring).
        """
        buf = self._buf
        if len(buf) < self._cap or self.relieve():
            buf.append(event)
        else:
            self.note_dropped()

    def relieve(self) -> bool:
        """Called by a producer that found the buffer full: True when its event must be recorded.

        Not lossless: False (the caller drops and counts the event). Lossless: makes room - by
        draining one chunk on this thread, or by waiting while another thread's drain takes
        events out - and returns True; a producer inside a drain on its own thread returns True
        at once (its event goes beyond the limit). Never raises: a drain failure is logged and
        the event kept.
        """
        if not self._lossless:
            return False
        me = threading.get_ident()
        if self._drain_thread == me:
            return True  # re-entered from this thread's drain: it cannot be waited for
        self.relieved += 1
        buf = self._buf
        pause = 0.0002
        try:
            while len(buf) >= self._cap:
                if self._lock.acquire(blocking=False):
                    try:
                        if len(buf) >= self._cap:
                            self.drain(DRAIN_CHUNK)
                    finally:
                        self._lock.release()
                    break
                # Another thread is draining: it takes chunks out as it goes; wait for room.
                time.sleep(pause)
                pause = min(pause * 2, 0.005)
        except Exception:
            log.exception("withscope: relieving the recorder's buffer failed; the event is kept")
        return True

    def make_room(self) -> None:
        """Call before reading the clock for an acquisition: in lossless mode, relieve a full
        buffer now, so the wait is not part of the lifetime about to start. Never raises."""
        if len(self._buf) >= self._room:
            self.relieve()

    def note_dropped(self, n: int = 1) -> None:
        """Count `n` refused events. Lock-free; safe from finalizers and any thread."""
        drops = self._drops
        for _ in range(n):
            next(drops)

    def mark(self, text: str) -> None:
        """Record a named point in time (shown on every time axis)."""
        self.push((MARK, time.perf_counter_ns(), text))

    # ----------------------------------------------------------------------- activation
    def __enter__(self) -> Recorder:
        self._tokens.append(_active.set(self))
        with _global_lock:
            _global_stack.append(self)
        return self

    def __exit__(self, *exc: object) -> None:
        if self._tokens:
            token = self._tokens.pop()
            try:
                _active.reset(token)
            except ValueError:  # exited from another context (e.g. another task): best effort
                _active.set(None)
        with _global_lock:
            for i in range(len(_global_stack) - 1, -1, -1):
                if _global_stack[i] is self:
                    del _global_stack[i]
                    break
        self.drain()

    # ------------------------------------------------------------------------ consumers
    @property
    def dropped(self) -> int:
        """Events refused because the buffer was full (never silently): exact."""
        return int(repr(self._drops)[6:-1])  # "count(N)": the counter's next value is N

    @property
    def pending(self) -> int:
        return len(self._buf)

    def subscribe(self, callback: Callable[[Batch], None]) -> Callable[[], None]:
        """Call `callback(batch)` after every drain (on the draining thread). Returns an unsubscribe."""
        with self._lock:
            self._subscribers.append(callback)

        def unsubscribe() -> None:
            with self._lock:
                if callback in self._subscribers:
                    self._subscribers.remove(callback)

        return unsubscribe

    def drain(self, max_events: int | None = None) -> Batch:
        """Fold the events pending now (at most `max_events`) into the table and notify
        subscribers. Never blocks producers (lossless mode: see `relieve`).

        The events are folded in chunks of at most `DRAIN_CHUNK`, each handed to the subscribers
        as its own `Batch`; the returned batch covers them all. A subscriber that raises is
        logged and stays subscribed; the others still get the batch.
        """
        with self._lock:
            if self._draining:  # re-entered from a subscriber on this thread
                return Batch(0, (), (), (), (), self.dropped)
            self._draining = True
            self._drain_thread = threading.get_ident()
            try:
                todo = len(self._buf)  # producers only append: at least this many are there
                if max_events is not None:
                    todo = min(todo, max(0, max_events))
                batches: list[Batch] = []
                while True:
                    batch = self._fold(min(todo, DRAIN_CHUNK))
                    todo -= batch.events
                    batches.append(batch)
                    for cb in list(self._subscribers):
                        try:
                            cb(batch)
                        except Exception:
                            log.exception("withscope: a recorder subscriber failed; it stays subscribed")
                    if todo <= 0 or batch.events == 0:
                        break
            finally:
                self._draining = False
                self._drain_thread = 0
            return batches[0] if len(batches) == 1 else self._merge(batches)

    def _merge(self, batches: list[Batch]) -> Batch:
        """One batch for the chunks of a drain (what it folded in all, as one fold would say)."""
        outcome = self.table.outcome
        aborted = tuple(lid for b in batches for lid in b.aborted)
        acquired = tuple(lid for b in batches for lid in b.acquired)
        if aborted:
            acquired = tuple(lid for lid in acquired if outcome[lid] != OUT_MISSING)
        return Batch(
            sum(b.events for b in batches),
            acquired,
            tuple(lid for b in batches for lid in b.released),
            tuple(sorted({lid for b in batches for lid in b.streams})),
            tuple(m for b in batches for m in b.marks),
            batches[-1].dropped_total,
            aborted,
        )

    def _fold(self, n: int) -> Batch:
        """Fold the `n` oldest pending events (there are at least `n`: producers only append)."""
        buf = self._buf
        take = getattr(buf, "take", None)
        events = take(n) if take is not None else list(starmap(buf.popleft, repeat((), n)))
        self.events_total += n
        table = self.table
        acqs = list(filterfalse(_CODE, events))  # ACQUIRE is code 0
        acquired: tuple[int, ...] | list[int] = ()
        if acqs:
            acquired = self._fold_acquires(acqs)
        streams = self._streams
        released: list[int] = []
        aborted: list[int] = []
        touched: set[int] = set()
        marks: list[Mark] = []
        outcome = table.outcome
        released_ns = table.released_ns
        size = len(outcome)
        rest: Any = filter(_CODE, events) if len(acqs) < n else ()
        if _C is not None and rest:  # clean releases in C (same rules, same order per lifetime)
            released, rest = _C.fold_releases(list(rest), outcome, released_ns)
            if streams:
                for lid in released:
                    if lid in streams:
                        streams[lid].end(released_ns[lid])
                        touched.add(lid)
        for ev in rest:
            try:
                code = ev[0]
                if code == RELEASE:
                    lid = ev[1]
                    if lid >= size or outcome[lid] != OUT_OPEN:
                        continue  # unknown id, or already released: at most one release per acquire
                    released_ns[lid] = ev[2]
                    if len(ev) == 3:  # a clean release
                        outcome[lid] = 0
                    else:
                        outcome[lid] = ev[3]
                        table.flags[lid] = ev[6]
                        if ev[4] is not None:
                            table.errors[lid] = (ev[4], ev[5] or "")
                    released.append(lid)
                    if streams and lid in streams:
                        streams[lid].end(ev[2])
                        touched.add(lid)
                elif code == STREAM:
                    acc = streams.get(ev[1])
                    if acc is None:
                        continue
                    # A stream's last counters may arrive after its release (finalized late).
                    acc.last_ns = max(acc.last_ns, ev[2])
                    acc.chunks = ev[3]
                    acc.nbytes = ev[4]
                    if acc.first_ns is None and ev[3] > 0:
                        acc.first_ns = ev[5]
                    acc.series.append((ev[2], ev[3], ev[4]))
                    touched.add(ev[1])
                elif code == ABORT:
                    lid = ev[1]
                    if lid < size and outcome[lid] == OUT_OPEN:
                        outcome[lid] = OUT_MISSING
                        table.count -= 1
                        streams.pop(lid, None)
                        touched.discard(lid)
                        aborted.append(lid)
                elif code == STACK:
                    table.stacks[ev[1]] = ev[2]
                elif code == MARK:
                    m = Mark(ev[1], ev[2])
                    self._marks.append(m)
                    marks.append(m)
            except Exception:
                log.exception("withscope: could not fold event %r", ev[:2])
        if aborted:
            acquired = [lid for lid in acquired if outcome[lid] != OUT_MISSING]
        return Batch(
            n, tuple(acquired), tuple(released), tuple(sorted(touched)), tuple(marks), self.dropped, tuple(aborted)
        )

    def _fold_acquires(self, acqs: list[tuple[Any, ...]]) -> tuple[int, ...] | list[int]:
        """Fold a batch's ACQUIRE events; returns the ids folded."""
        try:
            return self._fold_acquire(acqs)
        except Exception:
            log.exception("withscope: could not fold a batch of %d acquisitions; folding them one by one", len(acqs))
        lids: list[int] = []
        for ev in acqs:
            try:
                self.table.fold_acquire(ev)
                self._add_stream(ev)
                lids.append(ev[1])
            except Exception:
                log.exception("withscope: could not fold event %r", ev[:2])
        return lids

    def _fold_acquire(self, acqs: list[tuple[Any, ...]]) -> tuple[int, ...]:
        lids, has_stream = self.table.fold_acquires(acqs)
        if has_stream:
            for ev in acqs:
                self._add_stream(ev)
        return lids

    def _add_stream(self, ev: tuple[Any, ...]) -> None:
        spec = ev[3]
        if spec[0] == "stream" and ev[1] not in self._streams:
            self._streams[ev[1]] = _StreamAcc(spec[1], ev[2])

    # -------------------------------------------------------------------------- queries
    def lifetimes(self) -> list[Lifetime]:
        """Every lifetime seen so far (drains first). Open ones have outcome `open`."""
        self.drain()
        with self._lock:
            return list(self.table)

    def lifetime(self, lid: int) -> Lifetime | None:
        with self._lock:
            return self.table.get(lid)

    def open_lifetimes(self) -> list[Lifetime]:
        self.drain()
        with self._lock:
            t = self.table
            return [lt for lid in range(len(t)) if t.outcome[lid] == OUT_OPEN and (lt := t.get(lid))]

    def streams(self) -> list[StreamStats]:
        """Stream metrics of every tracked stream, in acquisition order (drains first)."""
        self.drain()
        with self._lock:
            return [self._stream_stats(lid, acc) for lid, acc in sorted(self._streams.items())]

    def stream(self, lid: int) -> StreamStats | None:
        with self._lock:
            acc = self._streams.get(lid)
            return None if acc is None else self._stream_stats(lid, acc)

    @staticmethod
    def _stream_stats(lid: int, acc: _StreamAcc) -> StreamStats:
        return StreamStats(
            lifetime_id=lid,
            label=acc.label,
            started_ns=acc.started_ns,
            first_chunk_ns=acc.first_ns,
            last_ns=acc.last_ns,
            ended=acc.ended,
            chunks=acc.chunks,
            bytes=acc.nbytes,
            series=tuple(acc.series),
        )

    def marks(self) -> list[Mark]:
        self.drain()
        with self._lock:
            return list(self._marks)

    def seconds(self, t_ns: int) -> float:
        """A perf_counter_ns time as seconds since this recorder's t0."""
        return (t_ns - self.t0_ns) / 1e9

    def __repr__(self) -> str:
        return f"<Recorder {self.name!r} lifetimes={self.table.count} pending={self.pending}>"


_active: contextvars.ContextVar[Recorder | None] = contextvars.ContextVar("withscope_recorder", default=None)
_global_stack: list[Recorder] = []
_global_lock = threading.Lock()
_default: Recorder | None = None


def default_recorder() -> Recorder:
    """The process-wide recorder used when no `with Recorder()` is active."""
    global _default
    if _default is None:
        with _global_lock:
            if _default is None:
                _default = Recorder(name="default")
    return _default


def current_recorder() -> Recorder:
    """The active recorder of this task/thread (see `Recorder`)."""
    rec = _active.get()
    if rec is not None:
        return rec
    if _global_stack:
        return _global_stack[-1]
    return _default if _default is not None else default_recorder()
