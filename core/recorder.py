"""The recorder: a bounded buffer of raw events, folded in batches into a columnar table.

Producers (any thread, any task) append tuples to the buffer; that is all the hot path does.
Consumers call `drain()` (from any thread; drains serialise on one lock, e.g. the GUI timer or
an asyncio task): it folds the pending events into `LifetimeTable` columns and hands a `Batch`
to every subscriber. Nothing here imports Qt or knows how events are shown.

Bounded memory, never silent: the buffer admits new acquisitions, stream updates and marks
only while it holds fewer than `capacity` events; each refused event is counted in `dropped`
(and in every `Batch.dropped_total`). A refused acquisition returns id -1, so no release is
ever recorded for it. Releases and withdrawals (ABORT) of *admitted* acquisitions are always
admitted - a full buffer never turns a released resource into a fake leak - so the buffer
holds at most `capacity` + (lifetimes open at that moment) events.

Folding (issue 6: >= 1M events/s ingested while 4 producer threads run). A drain pops its
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
import os
import threading
import time
from array import array
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from itertools import filterfalse, repeat, starmap
from operator import itemgetter
from types import CodeType
from typing import Any

from .events import (
    ABORT,
    FLAG_CLOSE,
    FLAG_DECLARED,
    FLAG_SUPPRESSED,
    MARK,
    OUT_MISSING,
    OUT_OPEN,
    OUTCOME_BY_CODE,
    RELEASE,
    STACK,
    STREAM,
    Lifetime,
    Mark,
    StreamStats,
)

log = logging.getLogger("withscope")

DEFAULT_CAPACITY = 1 << 20  # pending events before new ones are dropped (and counted)

_CODE = itemgetter(0)
_LID = itemgetter(1)


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


class LifetimeTable:
    """Columnar lifetimes: row index == lifetime id. Written only by `Recorder.drain`.

    Invariant: every column has the same length; rows whose acquire was not (yet) seen hold
    `OUT_MISSING` in `outcome` and are skipped by readers.
    """

    def __init__(self) -> None:
        self.acquired_ns = array("q")
        self.released_ns = array("q")  # -1 while open
        self.outcome = array("b")
        self.flags = array("B")
        self.kind = array("H")
        self.label = array("I")
        self.site = array("I")
        self.thread = array("I")  # thread names: one per thread ever seen, may exceed 65,535
        self.task = array("I")
        self.errors: dict[int, tuple[str, str]] = {}
        self.stacks: dict[int, tuple[str, ...]] = {}
        self.strings: list[str] = [""]
        self._string_ids: dict[str, int] = {"": 0}
        self.kinds: list[str] = []
        self._kind_ids: dict[str, int] = {}
        self.threads: list[str] = []
        self._thread_ids: dict[str, int] = {}
        self.count = 0  # rows with a seen acquire
        # Fold caches (see the module docstring). Shared specs and code objects are pinned here
        # so that their ids are never reused while they key a cache entry.
        self._spec_kind: dict[int, int] = {}  # id(shared spec) -> kind id
        self._spec_label: dict[int, int] = {}  # id(shared spec) -> label string id
        self._spec_pin: list[object] = []
        self._stream_specs: set[int] = set()  # ids of pinned specs of kind "stream"
        self._site_ids: dict[tuple[int, int], int] = {(id(None), 0): 0}  # (id(code), lasti) -> string id
        self._code_pin: dict[int, CodeType] = {}
        self._thread_tokens: dict[object, int] = {}  # thread token (name,) -> thread id
        self._task_ids: dict[str | None, int] = {None: 0}  # task name -> string id

    def __len__(self) -> int:
        return len(self.outcome)

    def intern(self, s: str) -> int:
        i = self._string_ids.get(s)
        if i is None:
            i = self._string_ids[s] = len(self.strings)
            self.strings.append(s)
        return i

    def kind_id(self, kind: str) -> int:
        i = self._kind_ids.get(kind)
        if i is None:
            i = self._kind_ids[kind] = len(self.kinds)
            self.kinds.append(kind)
        return i

    def thread_id(self, name: str) -> int:
        i = self._thread_ids.get(name)
        if i is None:
            i = self._thread_ids[name] = len(self.threads)
            self.threads.append(name)
        return i

    def grow(self, n: int) -> None:
        extra = n - len(self.outcome)
        if extra <= 0:
            return
        # Repeated one-item arrays: a memcpy, not a conversion per item.
        self.acquired_ns.extend(array("q", [0]) * extra)
        self.released_ns.extend(array("q", [-1]) * extra)
        self.outcome.extend(array("b", [OUT_MISSING]) * extra)
        for col in (self.flags, self.kind, self.label, self.site, self.thread, self.task):
            col.extend(array(col.typecode, [0]) * extra)

    # ----------------------------------------------------------------- folding (drain only)
    def _resolve(
        self, specs: tuple[Any, ...], codes: tuple[Any, ...], lastis: tuple[int, ...], threads: tuple[Any, ...],
        tasks: tuple[Any, ...],
    ) -> tuple[list[int], list[tuple[int, int]], list[int], bool]:
        """Make sure every spec, site, thread and task of a batch has its ids in the caches.

        Returns (spec keys, site keys, ids of the specs that were added for this batch only,
        whether any lifetime of the batch is a stream)."""
        spec_keys = list(map(id, specs))
        kinds = self._spec_kind
        temporary: list[int] = []
        has_stream = bool(self._stream_specs) and not self._stream_specs.isdisjoint(spec_keys)
        missing = set(spec_keys).difference(kinds)
        if missing:
            by_id = dict(zip(spec_keys, specs, strict=True))
            for key in missing:
                spec = by_id[key]
                kinds[key] = self.kind_id(spec[0])
                self._spec_label[key] = self.intern(spec[1])
                if spec[0] == "stream":
                    has_stream = True
                if spec[3]:
                    self._spec_pin.append(spec)
                    if spec[0] == "stream":
                        self._stream_specs.add(key)
                else:
                    temporary.append(key)
        site_keys = list(zip(map(id, codes), lastis, strict=True))
        sites = self._site_ids
        missing_sites = set(site_keys).difference(sites)
        if missing_sites:
            code_by_id = {id(c): c for c in codes}
            for site_key in missing_sites:
                code = code_by_id[site_key[0]]
                self._code_pin[site_key[0]] = code
                sites[site_key] = self.intern(format_site(code, line_of(code, site_key[1])))
        tokens = self._thread_tokens
        for token in set(threads).difference(tokens):
            tokens[token] = self.thread_id(token[0])
        task_ids = self._task_ids
        for name in set(tasks).difference(task_ids):
            task_ids[name] = self.intern(name)
        return spec_keys, site_keys, temporary, has_stream

    def fold_acquires(self, acqs: list[tuple[Any, ...]]) -> tuple[tuple[int, ...], bool]:
        """Fold ACQUIRE events (sorted by id in place) column by column; returns their ids and
        whether any of them is a stream."""
        acqs.sort(key=_LID)
        _, lids, times, specs, codes, lastis, threads, tasks = zip(*acqs, strict=True)
        spec_keys, site_keys, temporary, has_stream = self._resolve(specs, codes, lastis, threads, tasks)
        lo, hi, n = lids[0], lids[-1], len(lids)
        if hi >= len(self.outcome):
            self.grow(max(hi + 1, len(self.outcome) * 2, 1024))
        # `outcome` last: a row is seen (not OUT_MISSING) only once all its columns are written.
        columns: list[tuple[array[Any], array[Any]]] = [
            (self.acquired_ns, array("q", times)),
            (self.kind, array("H", map(self._spec_kind.__getitem__, spec_keys))),
            (self.label, array("I", map(self._spec_label.__getitem__, spec_keys))),
            (self.site, array("I", map(self._site_ids.__getitem__, site_keys))),
            (self.thread, array("I", map(self._thread_tokens.__getitem__, threads))),
            (self.task, array("I", map(self._task_ids.__getitem__, tasks))),
            (self.outcome, array("b", [OUT_OPEN]) * n),
        ]
        for key in temporary:
            del self._spec_kind[key], self._spec_label[key]
        if hi - lo + 1 == n:  # contiguous ids (ids are unique): one slice per column
            for col, values in columns:
                col[lo : hi + 1] = values
        else:
            for col, values in columns:
                for lid, v in zip(lids, values, strict=True):
                    col[lid] = v
        self.count += n
        return lids, has_stream

    def fold_acquire(self, ev: tuple[Any, ...]) -> None:
        """Fold one ACQUIRE event (the careful path, when a batch could not be folded at once)."""
        _, lid, t_ns, spec, code, lasti, thread, task = ev
        kind, label = self.kind_id(spec[0]), self.intern(spec[1])
        site = self.intern(format_site(code, line_of(code, lasti))) if code is not None else 0
        thread_id, task_id = self.thread_id(thread[0]), self.intern(task) if task else 0
        if lid >= len(self.outcome):
            self.grow(max(lid + 1, len(self.outcome) * 2, 1024))
        if self.outcome[lid] != OUT_MISSING:
            return  # already folded
        self.acquired_ns[lid] = t_ns
        self.kind[lid] = kind
        self.label[lid] = label
        self.site[lid] = site
        self.thread[lid] = thread_id
        self.task[lid] = task_id
        self.outcome[lid] = OUT_OPEN
        self.count += 1

    def get(self, lid: int) -> Lifetime | None:
        if lid < 0 or lid >= len(self.outcome) or self.outcome[lid] == OUT_MISSING:
            return None
        rel = self.released_ns[lid]
        flags = self.flags[lid]
        err = self.errors.get(lid)
        s = self.strings
        task = self.task[lid]
        site = self.site[lid]
        return Lifetime(
            id=lid,
            kind=self.kinds[self.kind[lid]],
            label=s[self.label[lid]],
            site=s[site] if site else None,
            stack=self.stacks.get(lid, ()),
            thread=self.threads[self.thread[lid]],
            task=s[task] if task else None,
            acquired_ns=self.acquired_ns[lid],
            released_ns=None if rel < 0 else rel,
            outcome=OUTCOME_BY_CODE[self.outcome[lid]],
            error=err[0] if err else None,
            error_type=err[1] if err else None,
            suppressed=bool(flags & FLAG_SUPPRESSED),
            suppression_declared=bool(flags & FLAG_DECLARED),
            released_by_close=bool(flags & FLAG_CLOSE),
        )

    def __iter__(self) -> Iterator[Lifetime]:
        for lid in range(len(self.outcome)):
            lt = self.get(lid)
            if lt is not None:
                yield lt


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


_site_cache: dict[tuple[CodeType, int], str] = {}
_cwd = os.getcwd()


def line_of(code: CodeType, lasti: int) -> int:
    """The line of byte offset `lasti` in `code` (what `frame.f_lineno` gives for that offset)."""
    for start, end, line in code.co_lines():
        if start <= lasti < end:
            return line if line is not None else code.co_firstlineno
    return code.co_firstlineno


def format_site(code: CodeType, lineno: int) -> str:
    """`relative/path.py:42` (relative to the working directory when under it)."""
    key = (code, lineno)
    site = _site_cache.get(key)
    if site is None:
        path = code.co_filename
        if path.startswith(_cwd + os.sep):
            path = path[len(_cwd) + 1 :]
        site = _site_cache[key] = f"{path}:{lineno}"
    return site


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
        self._stack_depth = stack_depth
        # Invariant: `_limit` is `capacity` when `stack_depth` is 1, else 0. The inlined
        # `__enter__` records only while the buffer holds fewer than `_limit` events; at 0 every
        # acquisition takes the general path (which checks `capacity` and captures the stack).
        self._limit = capacity if stack_depth == 1 else 0
        self.t0_ns = time.perf_counter_ns()
        self.wall_t0 = time.time()  # Unix time at t0_ns, to put perf_counter times on a date axis
        self._buf: deque[tuple[Any, ...]] = deque()
        self._ids = itertools.count()
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
        self.events_total = 0

    @property
    def capacity(self) -> int:
        """Pending events before new acquisitions, stream updates and marks are refused."""
        return self._capacity

    @capacity.setter
    def capacity(self, value: int) -> None:
        if value < 1:
            raise ValueError("capacity must be at least 1")
        self._capacity = value
        self._limit = value if self._stack_depth == 1 else 0

    @property
    def stack_depth(self) -> int:
        """Frames recorded per acquisition (1: the site only)."""
        return self._stack_depth

    @stack_depth.setter
    def stack_depth(self, value: int) -> None:
        if value < 1:
            raise ValueError("stack_depth must be at least 1")
        self._stack_depth = value
        self._limit = self._capacity if value == 1 else 0

    # ----------------------------------------------------------------- producers (hot path)
    def next_id(self) -> int:
        return next(self._ids)

    def push(self, event: tuple[Any, ...]) -> None:
        """Append one raw event; when the buffer is full the event is dropped and counted.

        For stream updates and marks. Releases and aborts bypass the cap (see module docstring).
        """
        buf = self._buf
        if len(buf) < self.capacity:
            buf.append(event)
        else:
            self.note_dropped()

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
        """Fold pending events into the table and notify subscribers. Never blocks producers.

        A subscriber that raises is logged and stays subscribed; the others still get the batch.
        """
        with self._lock:
            if self._draining:  # re-entered from a subscriber on this thread
                return Batch(0, (), (), (), (), self.dropped)
            self._draining = True
            try:
                batch = self._fold(max_events)
                for cb in list(self._subscribers):
                    try:
                        cb(batch)
                    except Exception:
                        log.exception("withscope: a recorder subscriber failed; it stays subscribed")
            finally:
                self._draining = False
            return batch

    def _fold(self, max_events: int | None) -> Batch:
        buf = self._buf
        n = len(buf)  # producers only append: at least n events are there to pop
        if max_events is not None and max_events < n:
            n = max(0, max_events)
        events = list(starmap(buf.popleft, repeat((), n)))
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
        for ev in filter(_CODE, events) if len(acqs) < n else ():
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
                        acc = streams[lid]
                        acc.ended = True
                        acc.last_ns = max(acc.last_ns, ev[2])
                        touched.add(lid)
                elif code == STREAM:
                    acc = streams.get(ev[1])  # type: ignore[assignment]
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
