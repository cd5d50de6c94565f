"""`track()` and `tracked()`: instrument a context manager or a closeable resource.

Contract (what instrumentation preserves, see shared/PITFALLS.md):
- the value bound by `with ... as x`, every exception, its chaining and any suppression by a
  truthy `__exit__` are exactly what the wrapped object produces; the handle returns the
  wrapped `__exit__`'s own return value;
- a failed `__enter__` acquires nothing;
- an error inside the recorder is logged and never reaches the observed code.

Two modes, chosen by the wrapped type (see `kinds.classify`):
- *resource* (the type has `close()`/`aclose()`: files, sockets, connections, ExitStack):
  acquired when `track()` is called, released by `close()`/`aclose()`/`release()` through the
  handle, by the exit of a `with` block (unless that type's `with` does not release, like
  `sqlite3.Connection`), or by the garbage collector (outcome `gc`);
- *context* (any other context manager: generator managers, pool checkouts, locks):
  acquired when its `__enter__`/`__aenter__` returns, released on exit. A handle in this mode
  may be re-entered (nested) when the wrapped manager allows it; each entry is one lifetime.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import sys
import traceback
from collections.abc import Callable
from threading import current_thread, get_ident
from time import perf_counter_ns
from types import FrameType, TracebackType
from typing import Any, TypeVar, overload

from .events import (
    ABORT,
    ACQUIRE,
    FLAG_CLOSE,
    FLAG_DECLARED,
    FLAG_SUPPRESSED,
    OUT_EXIT_RAISED,
    OUT_GC,
    OUT_RELEASED,
    OUT_RELEASED_WITH_ERROR,
    RELEASE,
)
from .kinds import TypeInfo, classify, label_of
from .recorder import Recorder, current_recorder

log = logging.getLogger("withscope")

_get_running_loop = asyncio._get_running_loop
_current_task = asyncio.current_task

# Frames in these files are never a user's acquisition site.
SKIP_FILES: set[str] = {__file__, contextlib.__file__}

T = TypeVar("T")


def _user_frame(depth: int) -> FrameType | None:
    """The first frame above `depth` that is not withscope's own nor contextlib's."""
    f: FrameType | None = sys._getframe(depth + 1)
    skip = SKIP_FILES
    while f is not None and f.f_code.co_filename in skip:
        f = f.f_back
    return f


def acquire(rec: Recorder, kind: str, label: str, frame: FrameType | None, t_ns: int) -> int:
    """Record an acquisition (hot path). Returns the new lifetime id."""
    lid = next(rec._ids)
    tid = get_ident()
    names = rec._thread_names
    if tid not in names:
        names[tid] = current_thread().name
    task = None
    loop = _get_running_loop()
    if loop is not None:
        current = _current_task(loop)
        if current is not None:
            task = current.get_name()
    stack = None
    if rec.stack_depth > 1 and frame is not None:
        stack = tuple(
            f"{fs.filename}:{fs.lineno} in {fs.name}"
            for fs in traceback.extract_stack(frame, limit=rec.stack_depth)[::-1]
        )
    ev = (
        ACQUIRE,
        lid,
        t_ns,
        kind,
        label,
        None if frame is None else frame.f_code,
        0 if frame is None else frame.f_lineno,
        stack,
        tid,
        task,
    )
    buf = rec._buf
    if len(buf) < rec.capacity:
        buf.append(ev)
    else:
        rec.note_dropped()
    return lid


def error_text(exc: BaseException) -> str:
    msg = str(exc)
    return f"{type(exc).__name__}: {msg}" if msg else type(exc).__name__


def release(rec: Recorder, lid: int, code: int, exc: BaseException | None, flags: int) -> None:
    """Record a release (hot path)."""
    if exc is None:
        ev: tuple[Any, ...] = (RELEASE, lid, perf_counter_ns(), code, None, None, flags)
    else:
        tp = type(exc)
        ev = (RELEASE, lid, perf_counter_ns(), code, error_text(exc), f"{tp.__module__}.{tp.__qualname__}", flags)
    buf = rec._buf
    if len(buf) < rec.capacity:
        buf.append(ev)
    else:
        rec.note_dropped()


def abort(rec: Recorder, lid: int) -> None:
    rec.push((ABORT, lid))


def _exit_outcome(
    et: type[BaseException] | None, ev: BaseException | None, ret: object, suppresses: tuple[type, ...]
) -> tuple[int, int]:
    if et is None:
        return OUT_RELEASED, 0
    flags = 0
    if ret:
        flags = FLAG_SUPPRESSED
        if suppresses and isinstance(ev, suppresses):
            flags |= FLAG_DECLARED
    return OUT_RELEASED_WITH_ERROR, flags


class Tracked:
    """A tracked handle: behaves like the wrapped object and records its lifetime.

    Attribute access passes through to the wrapped object. Thread-safety: a handle may be used
    from the thread or task that would use the wrapped object; recording itself is thread-safe.
    Re-entry: see the module docstring.
    """

    __slots__ = ("_info", "_kind", "_label", "_lid", "_obj", "_outer", "_rec", "_suppresses")

    # Invariant: _lid >= 0 exactly while this handle holds an open lifetime (the resource, or the
    # innermost entry in context mode); _outer holds the ids of enclosing entries, outermost first.
    _obj: Any
    _rec: Recorder
    _info: TypeInfo
    _kind: str | None
    _label: str | None
    _lid: int
    _outer: list[int] | None
    _suppresses: tuple[type[BaseException], ...]

    def __init__(
        self,
        obj: Any,
        rec: Recorder,
        info: TypeInfo,
        kind: str | None,
        label: str | None,
        suppresses: tuple[type[BaseException], ...],
    ) -> None:
        self._obj = obj
        self._rec = rec
        self._info = info
        self._kind = kind
        self._label = label
        self._lid = -1
        self._outer = None
        self._suppresses = suppresses

    # ------------------------------------------------------------------ introspection
    @property
    def wrapped(self) -> Any:
        """The object behind the handle."""
        return self._obj

    @property
    def lifetime_id(self) -> int | None:
        """Id of the open lifetime (innermost entry), or None when nothing is held."""
        return self._lid if self._lid >= 0 else None

    def __getattr__(self, name: str) -> Any:
        return getattr(self._obj, name)

    def __repr__(self) -> str:
        return f"<tracked {self._obj!r}>"

    def __iter__(self) -> Any:
        return iter(self._obj)

    def __next__(self) -> Any:
        return next(self._obj)

    def __aiter__(self) -> Any:
        return self._obj.__aiter__()

    async def __anext__(self) -> Any:
        return await self._obj.__anext__()

    # ----------------------------------------------------------------------- recording
    def _begin(self, t_ns: int, depth: int) -> None:
        try:
            obj = self._obj
            frame = _user_frame(depth + 1)
            lid = acquire(
                self._rec,
                self._kind or self._info.kind,
                self._label or label_of(obj, self._info),
                frame,
                t_ns,
            )
            if self._lid >= 0:
                if self._outer is None:
                    self._outer = []
                self._outer.append(self._lid)
            self._lid = lid
        except Exception:
            log.exception("withscope: could not record an acquisition")

    def _take(self) -> int:
        """Pop the innermost open lifetime id (or -1)."""
        lid = self._lid
        outer = self._outer
        self._lid = outer.pop() if outer else -1
        return lid

    def _end(self, lid: int, code: int, exc: BaseException | None, flags: int) -> None:
        if lid < 0:
            return
        try:
            release(self._rec, lid, code, exc, flags)
        except Exception:
            log.exception("withscope: could not record a release")

    def _exit_lid(self) -> int:
        """The lifetime a `with` exit releases, taken off the handle; -1 if none."""
        if self._info.resource and not self._info.releases_on_exit:
            return -1
        return self._take()

    # ------------------------------------------------------------------- sync protocol
    def __enter__(self) -> Any:
        obj = self._obj
        if self._info.resource:
            try:
                return type(obj).__enter__(obj)
            except BaseException:
                self._withdraw()
                raise
        t = perf_counter_ns()
        value = type(obj).__enter__(obj)
        self._begin(t, 1)
        return value

    def __exit__(
        self, et: type[BaseException] | None, ev: BaseException | None, tb: TracebackType | None
    ) -> Any:
        obj = self._obj
        lid = self._exit_lid()
        try:
            ret = type(obj).__exit__(obj, et, ev, tb)
        except BaseException as exc:
            self._end(lid, OUT_RELEASED_WITH_ERROR if exc is ev else OUT_EXIT_RAISED, exc, 0)
            raise
        if lid >= 0:
            code, flags = _exit_outcome(et, ev, ret, self._suppresses)
            self._end(lid, code, ev, flags)
        return ret

    # ------------------------------------------------------------------ async protocol
    async def __aenter__(self) -> Any:
        obj = self._obj
        if self._info.resource:
            try:
                return await type(obj).__aenter__(obj)
            except BaseException:
                self._withdraw()
                raise
        t = perf_counter_ns()
        value = await type(obj).__aenter__(obj)
        self._begin(t, 1)
        return value

    async def __aexit__(
        self, et: type[BaseException] | None, ev: BaseException | None, tb: TracebackType | None
    ) -> Any:
        obj = self._obj
        lid = self._exit_lid()
        try:
            ret = await type(obj).__aexit__(obj, et, ev, tb)
        except BaseException as exc:
            self._end(lid, OUT_RELEASED_WITH_ERROR if exc is ev else OUT_EXIT_RAISED, exc, 0)
            raise
        if lid >= 0:
            code, flags = _exit_outcome(et, ev, ret, self._suppresses)
            self._end(lid, code, ev, flags)
        return ret

    # -------------------------------------------------------------- explicit release
    def _closed_by(self, method: Callable[[], Any]) -> Any:
        lid = self._take()
        try:
            ret = method()
        except BaseException as exc:
            self._end(lid, OUT_EXIT_RAISED, exc, FLAG_CLOSE)
            raise
        self._end(lid, OUT_RELEASED, None, FLAG_CLOSE)
        return ret

    def close(self) -> Any:
        """Close the wrapped object and record the release."""
        return self._closed_by(self._obj.close)

    def release(self) -> Any:
        """Call the wrapped object's `release()` and record the release."""
        return self._closed_by(self._obj.release)

    async def aclose(self) -> Any:
        """Await the wrapped object's `aclose()` and record the release."""
        lid = self._take()
        try:
            ret = await self._obj.aclose()
        except BaseException as exc:
            self._end(lid, OUT_EXIT_RAISED, exc, FLAG_CLOSE)
            raise
        self._end(lid, OUT_RELEASED, None, FLAG_CLOSE)
        return ret

    def _withdraw(self) -> None:
        """A failed `__enter__` of a resource that was never entered before acquires nothing."""
        if self._lid >= 0 and self._outer is None:
            lid, self._lid = self._lid, -1
            try:
                abort(self._rec, lid)
            except Exception:
                log.exception("withscope: could not withdraw an acquisition")

    def __del__(self) -> None:
        # Cheap when released: one attribute read. Acts only while a lifetime is still open.
        try:
            lid = self._lid
        except AttributeError:
            return
        if lid < 0:
            return
        try:
            rec = self._rec
            release(rec, lid, OUT_GC, None, 0)
            for outer in self._outer or ():
                release(rec, outer, OUT_GC, None, 0)
        except Exception:  # interpreter shutdown, recorder gone: nothing to tell
            pass


def track(
    obj: Any,
    kind: str | None = None,
    label: str | None = None,
    *,
    suppresses: tuple[type[BaseException], ...] = (),
    recorder: Recorder | None = None,
) -> Any:
    """Return a tracked handle for `obj` (a context manager, sync or async, or a closeable object).

    `kind` defaults from the type (`file`, `socket`, `db.connection`, ...), `label` to something
    a person recognises (a path, a peer address, a DSN without password). `suppresses` lists
    the exception types the manager is meant to swallow (others swallowed raise an alert).
    Records into `recorder`, else the active recorder (see `Recorder`).
    """
    if type(obj) is Tracked:
        return obj
    info = classify(type(obj))
    if not (info.resource or info.sync_cm or info.async_cm):
        raise TypeError(
            f"track() needs a context manager or an object with close()/aclose(); "
            f"got {type(obj).__qualname__} (use track_stream() for iterators)"
        )
    rec = recorder if recorder is not None else current_recorder()
    handle = Tracked(obj, rec, info, kind, label, tuple(suppresses))
    if info.resource:
        handle._begin(perf_counter_ns(), 1)
    return handle


F = TypeVar("F", bound=Callable[..., Any])


@overload
def tracked(target: type[T], /) -> type[T]: ...
@overload
def tracked(target: F, /) -> F: ...
@overload
def tracked(
    target: None = None,
    /,
    *,
    kind: str | None = None,
    label: str | None = None,
    suppresses: tuple[type[BaseException], ...] = (),
) -> Callable[[Any], Any]: ...


def tracked(
    target: Any = None,
    /,
    *,
    kind: str | None = None,
    label: str | None = None,
    suppresses: tuple[type[BaseException], ...] = (),
) -> Any:
    """Decorate a context-manager class or a `@contextmanager`/`@asynccontextmanager` factory so
    that every instance is tracked. Usable bare (`@tracked`) or with arguments.

    On a class, its `__enter__`/`__exit__` (and `__aenter__`/`__aexit__`) are instrumented in
    place, so `isinstance` and subclassing keep working; each entry is one lifetime. On a
    factory, each call returns `track(factory(...))`.
    """

    def decorate(t: Any) -> Any:
        if isinstance(t, type):
            return _instrument_class(t, kind, label, tuple(suppresses))
        if not callable(t):
            raise TypeError(f"tracked() decorates a class or a factory function, not {t!r}")
        default_label = label or getattr(t, "__qualname__", None)

        @functools.wraps(t)
        def factory(*args: Any, **kwargs: Any) -> Any:
            return track(t(*args, **kwargs), kind=kind, label=default_label, suppresses=tuple(suppresses))

        return factory

    return decorate(target) if target is not None else decorate


def _instrument_class(
    cls: type, kind: str | None, label: str | None, suppresses: tuple[type[BaseException], ...]
) -> type:
    kind_ = kind or "resource"
    label_ = label or cls.__qualname__
    # id(instance) -> [(recorder, lid), ...] of open entries, innermost last.
    open_entries: dict[int, list[tuple[Recorder, int]]] = {}

    def begin(self: Any, t_ns: int) -> None:
        try:
            rec = current_recorder()
            lid = acquire(rec, kind_, label_, _user_frame(2), t_ns)
            open_entries.setdefault(id(self), []).append((rec, lid))
        except Exception:
            log.exception("withscope: could not record an acquisition")

    def take(self: Any) -> tuple[Recorder, int] | None:
        entries = open_entries.get(id(self))
        if not entries:
            return None
        entry = entries.pop()
        if not entries:
            open_entries.pop(id(self), None)
        return entry

    def end(entry: tuple[Recorder, int] | None, code: int, exc: BaseException | None, flags: int) -> None:
        if entry is not None:
            try:
                release(entry[0], entry[1], code, exc, flags)
            except Exception:
                log.exception("withscope: could not record a release")

    if hasattr(cls, "__enter__") and hasattr(cls, "__exit__"):
        orig_enter, orig_exit = cls.__enter__, cls.__exit__

        @functools.wraps(orig_enter)
        def __enter__(self: Any) -> Any:
            t = perf_counter_ns()
            value = orig_enter(self)
            begin(self, t)
            return value

        @functools.wraps(orig_exit)
        def __exit__(self: Any, et: Any, ev: Any, tb: Any) -> Any:
            entry = take(self)
            try:
                ret = orig_exit(self, et, ev, tb)
            except BaseException as exc:
                end(entry, OUT_RELEASED_WITH_ERROR if exc is ev else OUT_EXIT_RAISED, exc, 0)
                raise
            code, flags = _exit_outcome(et, ev, ret, suppresses)
            end(entry, code, ev, flags)
            return ret

        cls.__enter__ = __enter__
        cls.__exit__ = __exit__

    if hasattr(cls, "__aenter__") and hasattr(cls, "__aexit__"):
        orig_aenter, orig_aexit = cls.__aenter__, cls.__aexit__

        @functools.wraps(orig_aenter)
        async def __aenter__(self: Any) -> Any:
            t = perf_counter_ns()
            value = await orig_aenter(self)
            begin(self, t)
            return value

        @functools.wraps(orig_aexit)
        async def __aexit__(self: Any, et: Any, ev: Any, tb: Any) -> Any:
            entry = take(self)
            try:
                ret = await orig_aexit(self, et, ev, tb)
            except BaseException as exc:
                end(entry, OUT_RELEASED_WITH_ERROR if exc is ev else OUT_EXIT_RAISED, exc, 0)
                raise
            code, flags = _exit_outcome(et, ev, ret, suppresses)
            end(entry, code, ev, flags)
            return ret

        cls.__aenter__ = __aenter__
        cls.__aexit__ = __aexit__

    if not (hasattr(cls, "__enter__") or hasattr(cls, "__aenter__")):
        raise TypeError(f"tracked() needs a context-manager class; {cls.__qualname__} has no __enter__/__aenter__")
    return cls
