"""`LifetimeTable`: the recorder's columnar store of lifetimes, and the formatting of sites.

Written only by `Recorder.drain` (on whichever thread drains, under the recorder's lock); read by
`Recorder.lifetimes()` and by consumers that follow batches (the GUI's replay feed builds one of
its own through the same API). Row index == lifetime id.
"""

from __future__ import annotations

import os
from array import array
from collections.abc import Iterator
from operator import itemgetter
from types import CodeType
from typing import Any

from .events import (
    FLAG_CLOSE,
    FLAG_DECLARED,
    FLAG_SUPPRESSED,
    OUT_MISSING,
    OUT_OPEN,
    OUTCOME_BY_CODE,
    Lifetime,
)

_LID = itemgetter(1)
GROW_STEP = 1 << 16  # rows added to a column per C call when the table grows

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
        # Repeated one-item arrays: a memcpy, not a conversion per item. In steps of GROW_STEP
        # rows: each extend is one C call that holds the GIL, and the drain of an observed
        # process runs beside its threads (doubling a 10 M-row column at once held it ~50 ms).
        cols = (
            (self.acquired_ns, 0), (self.released_ns, -1), (self.outcome, OUT_MISSING), (self.flags, 0),
            (self.kind, 0), (self.label, 0), (self.site, 0), (self.thread, 0), (self.task, 0),
        )  # fmt: skip
        for col, fill in cols:
            step = array(col.typecode, [fill]) * min(extra, GROW_STEP)
            left = extra
            while left >= len(step):
                col.extend(step)
                left -= len(step)
            if left:
                col.extend(step[:left])

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
        return self.build(lid, self.outcome[lid], self.released_ns[lid], self.flags[lid])

    def build(self, lid: int, code: int, rel: int, flags: int) -> Lifetime:
        """The `Lifetime` of row `lid` with this outcome code, release time and flags (the table's
        own, or a frozen copy of those three columns: `snapshot.TableLifetimes`)."""
        is_open = code == OUT_OPEN
        err = None if is_open else self.errors.get(lid)
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
            released_ns=None if rel < 0 or is_open else rel,
            outcome=OUTCOME_BY_CODE[code],
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
