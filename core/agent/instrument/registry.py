"""The lifetimes automatic instrumentation saw: captured on the program's threads, recorded on the drain thread.

An acquisition (`Registry.capture`) costs the program a few dict writes and a weak reference:
it keeps the object's kind, label, time, site (code object and offset of the user's frame) and
raw stack, never the object itself. Everything the recorder sees - the acquisition, its stack,
its release - is appended by `Registry.poll`, which the agent calls on its drain thread every
50 ms (before each drain) and once more when the workload ends (`final=True`). So the recorder's
buffer only ever gets an acquisition before its release, from one thread at a time.

Releases, without any proxy around the object:
- polling (`poll`): each live object's own state is read (`closed`, `fileno() == -1`,
  `returncode`, `is_alive()`, `_shutdown`, a path gone); a release is recorded at the moment the
  poll SEES it: the resolution of a release time is the drain interval (50 ms);
- ResourceWarning (`resource_warning`): CPython warns, with the object as `source`, when it
  finalizes an unclosed file, socket or running subprocess; that lifetime ends `gc` at once;
- death (`_dead`, a weak reference's callback holding nothing of the object): an object that
  died unreleased without such a warning is recorded as released at its death (it was closed
  since the last poll, or it is of a kind CPython does not warn about);
- objects that cannot be weakly referenced (sqlite3 connections before 3.13) are held, and
  counted as dropped by the program when the registry's reference is the only one left: a
  connection still open then is a `gc` release, and the registry lets it go (it lives at most
  one drain interval longer than without withscope);
- at the end of the workload (`poll(final=True)`), what is still open stays open: `unreleased`.

Thread-safety: `capture`, `resource_warning` and the death callback run on any thread (a
finalizer's too) and only use dict/deque operations that are atomic under the GIL; `poll`
runs on one thread at a time (a lock taken without blocking, except for the final one).
"""

from __future__ import annotations

import contextlib
import itertools
import os
import sys
import threading
import weakref
from collections import deque
from collections.abc import Callable
from time import perf_counter_ns
from types import CodeType, FrameType
from typing import Any

from ...events import ABORT, ACQUIRE, OUT_GC, RELEASE, STACK  # noqa: TID252 (mypy sees this tree as `core`)
from ...lifetime_table import format_site  # noqa: TID252
from ...recorder import Recorder  # noqa: TID252
from .sites import raw_stack

Check = Callable[[Any], bool]  # True when the object has been released
Labeler = Callable[[Any], str]

_tls = threading.local()


def thread_token() -> tuple[str]:
    """This thread's 1-tuple (name,), made once per thread (the recorder's thread token)."""
    try:
        me: tuple[str] = _tls.me
    except AttributeError:
        me = _tls.me = (threading.current_thread().name,)
    return me


def _task_name() -> str | None:
    aio = sys.modules.get("asyncio")
    if aio is None:
        return None
    try:
        loop = aio.events._get_running_loop()
        if loop is None:
            return None
        task = aio.tasks.current_task(loop)
        return None if task is None else str(task.get_name())
    except Exception:
        return None


class _Seen:
    """What is known of one acquisition (no reference to the object; see `_Ref`/`_Held`)."""

    # No __slots__ here: each concrete class lists `_FIELDS` (a weak reference's layout allows no other base slots).
    code: CodeType
    kind: str
    label: str
    labeler: Labeler | None
    lasti: int
    lid: int
    me: tuple[str]
    oid: int
    stack: tuple[tuple[CodeType, int], ...]
    t_ns: int
    task: str | None
    check: Check
    key: int
    gc: bool  # its end was the garbage collector's (a ResourceWarning said so)

    def _init(self, key: int, oid: int, kind: str, label: str, check: Check, labeler: Labeler | None,
              site: FrameType, stack: tuple[tuple[CodeType, int], ...]) -> None:  # fmt: skip
        self.key, self.oid, self.kind, self.label, self.check, self.labeler = key, oid, kind, label, check, labeler
        self.code, self.lasti, self.stack = site.f_code, site.f_lasti, stack
        self.t_ns = perf_counter_ns()
        self.me = thread_token()
        self.task = _task_name()
        self.lid = -1  # Invariant: set once, by `poll`, when the acquisition is recorded
        self.gc = False

    def get(self) -> Any:
        raise NotImplementedError


_FIELDS = ("code", "kind", "label", "labeler", "lasti", "lid", "me", "oid", "stack", "t_ns", "task", "check", "key",
           "gc")  # fmt: skip


class _Ref(weakref.ref, _Seen):  # type: ignore[type-arg]
    """A weak reference to the object, carrying what was seen of its acquisition."""

    __slots__ = _FIELDS

    def get(self) -> Any:
        return self()


class _Held(_Seen):
    """A strong reference, for objects that cannot be weakly referenced (see the module docstring)."""

    __slots__ = (*_FIELDS, "obj")

    def __init__(self, obj: Any) -> None:
        self.obj = obj

    def get(self) -> Any:
        return self.obj


class _Path(_Seen):
    """A path the program created (`mkstemp`, `mkdtemp`): released when it no longer exists."""

    __slots__ = (*_FIELDS, "path")

    def __init__(self, path: str) -> None:
        self.path = path

    def get(self) -> Any:
        return self.path


class Registry:
    """See the module docstring. One per observed process."""

    def __init__(self, recorder: Recorder) -> None:
        self.rec = recorder
        self._keys = itertools.count()
        self._live: dict[int, _Seen] = {}  # key -> seen, while not known to be released
        self._new: dict[int, _Seen] = {}  # key -> seen, acquisition not recorded yet
        self._by_id: dict[int, _Seen] = {}  # id(object) -> seen, while alive (ResourceWarning's source)
        self._ended: deque[tuple[_Seen, int, int]] = deque()  # (seen, t_ns, outcome) to record
        self._dying: deque[tuple[_Seen, int]] = deque()  # died since the last poll
        self._dying_prev: list[tuple[_Seen, int]] = []
        self._forgotten: deque[_Seen] = deque()  # taken over by track() (withdrawn if recorded)
        self._lock = threading.Lock()
        self.at_final: list[Callable[[], None]] = []  # called after the final poll
        self._on_death = self._dead  # one bound method for every weak reference
        self.errors = 0  # failures inside the instrumentation (never raised into the program)

    # --------------------------------------------------------------- program's threads
    def capture(self, obj: Any, kind: str, label: str, check: Check, site: FrameType, caller: FrameType,
                labeler: Labeler | None = None) -> None:  # fmt: skip
        """A new `obj` of `kind` was acquired at `site` (the user's frame; `caller` is the frame
        that called the acquiring function, where the kept stack starts)."""
        key = next(self._keys)
        seen: _Seen
        try:
            seen = _Ref(obj, self._on_death)
        except TypeError:
            seen = _Held(obj)
        # Inlined `_Seen._init` (the program's hot path: open(), socket()).
        seen.key, seen.oid, seen.kind, seen.label, seen.check, seen.labeler = key, id(obj), kind, label, check, labeler
        seen.code, seen.lasti, seen.lid, seen.gc = site.f_code, site.f_lasti, -1, False
        # The stack below the site is kept when the acquisition went through a library (the details
        # show the way in) or when the recorder asks for stacks (`stack_depth` > 1).
        seen.stack = raw_stack(caller) if caller is not site or self.rec._stack_depth > 1 else ()
        seen.t_ns = perf_counter_ns()
        try:
            seen.me = _tls.me
        except AttributeError:
            seen.me = thread_token()
        seen.task = _task_name() if "asyncio" in sys.modules else None
        self._live[key] = seen
        self._new[key] = seen
        self._by_id[seen.oid] = seen

    def capture_path(self, path: str, kind: str, site: FrameType, caller: FrameType) -> None:
        key = next(self._keys)
        seen = _Path(path)
        seen._init(key, -1, kind, path, _path_gone, None, site, raw_stack(caller))
        self._live[key] = seen
        self._new[key] = seen

    def find(self, obj: Any) -> _Seen | None:
        """What was captured for `obj` (alive), if anything."""
        seen = self._by_id.get(id(obj))
        return seen if seen is not None and seen.get() is obj else None

    def forget(self, obj: Any) -> None:
        """`track()` took `obj` over: its automatic lifetime is withdrawn (never recorded, or
        aborted by the next poll), so the resource is one lifetime, the tracked one."""
        seen = self.find(obj)
        if seen is None or self._live.pop(seen.key, None) is None:
            return
        self._new.pop(seen.key, None)
        if self._by_id.get(seen.oid) is seen:
            del self._by_id[seen.oid]
        self._forgotten.append(seen)

    def ended_by_gc(self, seen: _Seen) -> bool:
        """`seen`'s object is being finalized unreleased (a ResourceWarning said so)."""
        if self._live.pop(seen.key, None) is None:
            return False
        seen.gc = True
        self._ended.append((seen, perf_counter_ns(), OUT_GC))
        return True

    def ended_by_label(self, kind: str, text: str) -> bool:
        """A live lifetime of `kind` whose label `text` names was cleaned up by its finalizer
        (`TemporaryDirectory`'s warning names the path). True when one was found."""
        for seen in list(self._live.values()):
            if seen.kind == kind and repr(seen.label) in text and self.ended_by_gc(seen):
                return True
        return False

    def orphan_gc(self, kind: str, label: str, site: FrameType, caller: FrameType) -> None:
        """A resource nothing captured was finalized unreleased: a lifetime acquired and ended now."""
        key = next(self._keys)
        seen = _Path(label)  # holds nothing
        seen._init(key, -1, kind, label, _never, None, site, raw_stack(caller))
        self._new[key] = seen
        self._ended.append((seen, seen.t_ns, OUT_GC))

    def _dead(self, ref: Any) -> None:
        # A weak reference's callback: any thread, possibly inside a garbage collection.
        self._dying.append((ref, perf_counter_ns()))

    # ------------------------------------------------------------------ drain thread
    def poll(self, final: bool = False) -> None:
        """Record what was seen since the last poll (see the module docstring). Never raises."""
        if not self._lock.acquire(timeout=1.0 if final else 0):
            return
        try:
            self._poll(final)
        except Exception:
            self.errors += 1
        finally:
            self._lock.release()
        if final:
            for call in self.at_final:
                try:
                    call()
                except Exception:
                    self.errors += 1

    def _poll(self, final: bool) -> None:
        rec = self.rec
        new = self._new
        for key in list(new):
            seen = new.pop(key, None)
            if seen is not None:
                self._emit(rec, seen)
        # Deaths are judged one poll later: a collection calls the weak references' callbacks
        # before the finalizers that issue the ResourceWarning of the same objects.
        dying = self._dying
        ready, self._dying_prev = self._dying_prev, []
        while dying:
            self._dying_prev.append(dying.popleft())
        if final:
            ready += self._dying_prev
            self._dying_prev = []
        live = self._live
        for seen, t_ns in ready:
            if live.pop(seen.key, None) is not None:
                self._ended.append((seen, t_ns, -1))
        now = perf_counter_ns()
        for seen in list(live.values()):
            obj = seen.get()
            if obj is None:
                continue  # died: the callback queued it
            try:
                done = seen.check(obj)
            except Exception:
                done = True  # its state can no longer be read (detached, closed underneath)
            if not done and isinstance(seen, _Held) and sys.getrefcount(obj) <= 3:
                # only this registry holds it (the slot, `obj`, getrefcount's argument): dropped
                seen.obj = None
                seen.gc = True
                if live.pop(seen.key, None) is not None:
                    self._ended.append((seen, now, OUT_GC))
                continue
            if done and live.pop(seen.key, None) is not None:
                self._ended.append((seen, now, -1))
                if isinstance(seen, _Held):
                    seen.obj = None
        ended = self._ended
        buf = rec._buf
        forgotten = self._forgotten
        while forgotten:
            seen = forgotten.popleft()
            if seen.lid >= 0:
                buf.append((ABORT, seen.lid))
        while ended:
            seen, t_ns, outcome = ended.popleft()
            if seen.lid < 0 and new.pop(seen.key, None) is not None:
                self._emit(rec, seen)
            if self._by_id.get(seen.oid) is seen:
                del self._by_id[seen.oid]
            if seen.lid < 0:
                continue  # dropped by a full buffer
            if outcome == OUT_GC:
                buf.append((RELEASE, seen.lid, t_ns, OUT_GC, None, None, 0))
            else:
                buf.append((RELEASE, seen.lid, t_ns))

    def _emit(self, rec: Recorder, seen: _Seen) -> None:
        buf = rec._buf
        if len(buf) >= rec._cap and not rec._lossless:
            rec.note_dropped()
            self._live.pop(seen.key, None)
            return
        label = seen.label
        if seen.labeler is not None and label == seen.kind:  # nothing better known yet (a peer from connect)
            obj = seen.get()
            if obj is not None:
                with contextlib.suppress(Exception):
                    label = seen.labeler(obj) or label
        lid = next(rec._ids)
        buf.append((ACQUIRE, lid, seen.t_ns, (seen.kind, label, (), False), seen.code, seen.lasti, seen.me,
                    seen.task))  # fmt: skip
        # The stack is for the details of what an alert may name: not for an object that is gone
        # already and was not the collector's to close (it was released properly).
        if len(seen.stack) > 1 and (seen.gc or seen.get() is not None):
            buf.append((STACK, lid, tuple(f"{format_site(c, n)} in {c.co_qualname}" for c, n in seen.stack)))
        seen.lid = lid

    def open_count(self) -> int:
        return len(self._live)


def _path_gone(path: str) -> bool:
    return not os.path.lexists(path)


def _never(_: Any) -> bool:
    return False
