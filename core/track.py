"""`track()` and `tracked()`: instrument a context manager or a closeable resource.

Contract (what instrumentation preserves, see shared/PITFALLS.md):
- the value bound by `with ... as x`, every exception, its chaining (`__context__`,
  `__cause__`) and any suppression by a truthy `__exit__` are exactly what the wrapped object
  produces; the handle's `__exit__` returns the wrapped `__exit__`'s own return value. A type
  that does not support the (async) context-manager protocol raises the same `TypeError` as a
  bare `with`;
- a failed `__enter__`/`__aenter__` acquires nothing;
- an error inside the recorder is logged (logger "withscope") and never reaches the observed code.

Two modes, chosen by the wrapped type (see `kinds.classify`):
- *resource* (the type has `close()`/`aclose()`: files, sockets, connections, pools, ExitStack):
  acquired when `track()` is called; released by `close()`/`aclose()` through the handle, by a
  no-argument `release()` through the handle, by the exit of a `with` block (unless that type's
  `with` does not release, like `sqlite3.Connection`), or by the garbage collector (outcome
  `gc`, when the *handle* dies while open). If the first `__enter__`/`__aenter__` of the handle
  fails (a pool that cannot connect, a closed file), the acquisition is withdrawn (an ABORT
  event): the resource was never usable. A later failing entry withdraws nothing.
- *context* (any other context manager: generator managers, pool checkouts, locks, timeouts):
  acquired when its `__enter__`/`__aenter__` returns, released on exit. A handle in this mode
  may be re-entered (nested) when the wrapped manager allows it (RLock): each entry is one
  lifetime and exits release them LIFO. A non-reentrant manager entered twice raises exactly
  as it does bare; an exit without an entry records nothing.

`release(*args)` with arguments (e.g. `pool.release(conn)`) is not the end of the handle's
resource: it passes through unrecorded. `close()`/`aclose()`/`release()` of a driver whose method
is a coroutine function (asyncpg, psycopg async) return an awaitable; the release is recorded when
it completes.

Thread-safety and sharing: recording is thread-safe. One handle entered concurrently by several
asyncio tasks (a tracked `asyncio.Semaphore`) pairs each exit with the entry of the same task.
A handle entered concurrently from several *threads* is recorded best-effort (its entry stack
is not locked - the hot path takes no lock): prefer `track(x)` at each `with` line, or
`@tracked` on the class.

Cost: a tracked `with` is a `__slots__` handle, one caller frame and one deque append on enter
and on exit; `__del__` reads one attribute when the handle is already released.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import sys
import threading
from collections.abc import Awaitable, Callable
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
from .kinds import _CACHE as _TYPE_INFO
from .kinds import TypeInfo, classify, label_of
from .recorder import Recorder, current_recorder, format_site

log = logging.getLogger("withscope")

_get_running_loop = asyncio._get_running_loop
_current_task = asyncio.current_task

# Frames in these files are never a user's acquisition site.
SKIP_FILES: set[str] = {__file__, contextlib.__file__}

T = TypeVar("T")

# Per-thread identity: a 1-tuple (thread name,) created once per thread. The tuple object is the
# thread's "owner" token (unique while the thread lives); its item is recorded as the thread name
# (a thread renamed after its first acquisition keeps its first name).
_tls = threading.local()


def _thread_me() -> tuple[str]:
    try:
        me: tuple[str] = _tls.me
    except AttributeError:
        me = _tls.me = (threading.current_thread().name,)
    return me


def _owner_now() -> object:
    """Who is running: the current asyncio task, else the current thread's token."""
    loop = _get_running_loop()
    if loop is not None:
        task = _current_task(loop)
        if task is not None:
            return task
    return _thread_me()


def _user_frame(depth: int) -> FrameType | None:
    """The first frame above `depth` (0 = the caller of `_user_frame`) that is not withscope's
    own nor contextlib's."""
    try:
        f: FrameType | None = sys._getframe(depth + 1)
    except ValueError:  # the stack is not that deep
        return None
    skip = SKIP_FILES
    while f is not None and f.f_code.co_filename in skip:
        f = f.f_back
    return f


def _stack(frame: FrameType | None, depth: int) -> tuple[str, ...]:
    out: list[str] = []
    while frame is not None and len(out) < depth:
        code = frame.f_code
        out.append(f"{format_site(code, frame.f_lineno)} in {code.co_qualname}")
        frame = frame.f_back
    return tuple(out)


def _acquire(rec: Recorder, kind: str, label: str, frame: FrameType | None, t_ns: int) -> tuple[int, object]:
    """Record an acquisition (hot path). Returns (lifetime id, owner); id -1 when the buffer was
    full (the acquisition is counted in `rec.dropped`, and no release must be recorded)."""
    buf = rec._buf
    if len(buf) >= rec.capacity:
        rec.note_dropped()
        return -1, None
    lid = next(rec._ids)
    try:
        me: Any = _tls.me
    except AttributeError:
        me = _thread_me()
    owner = me
    task_name = None
    loop = _get_running_loop()
    if loop is not None:
        task = _current_task(loop)
        if task is not None:
            owner = task
            task_name = task.get_name()
    if frame is None:
        buf.append((ACQUIRE, lid, t_ns, kind, label, None, 0, None, me[0], task_name))
    else:
        stack = _stack(frame, rec.stack_depth) if rec.stack_depth > 1 else None
        buf.append((ACQUIRE, lid, t_ns, kind, label, frame.f_code, frame.f_lineno, stack, me[0], task_name))
    return lid, owner


def acquire(rec: Recorder, kind: str, label: str, frame: FrameType | None, t_ns: int) -> int:
    """Record an acquisition (hot path). Returns the new lifetime id, or -1 when the buffer was
    full: the drop is counted, and the caller must not record a release for -1."""
    return _acquire(rec, kind, label, frame, t_ns)[0]


def error_text(exc: BaseException) -> str:
    msg = str(exc)
    return f"{type(exc).__name__}: {msg}" if msg else type(exc).__name__


def release(rec: Recorder, lid: int, code: int, exc: BaseException | None, flags: int) -> None:
    """Record the release of lifetime `lid` >= 0 (hot path). Never refused by a full buffer."""
    if exc is None:
        rec._buf.append((RELEASE, lid, perf_counter_ns(), code, None, None, flags))
    else:
        tp = type(exc)
        rec._buf.append(
            (RELEASE, lid, perf_counter_ns(), code, error_text(exc), f"{tp.__module__}.{tp.__qualname__}", flags)
        )


def abort(rec: Recorder, lid: int) -> None:
    """Withdraw acquisition `lid` >= 0 (its `__enter__` failed). Never refused by a full buffer."""
    rec._buf.append((ABORT, lid))


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


def _no_protocol(obj: Any, is_async: bool) -> TypeError:
    """The TypeError a bare `with`/`async with` raises for `obj` (CPython 3.11+ wording)."""
    tp = type(obj)
    # CPython prints tp_name: `__name__` for classes defined in Python, "module.Name" for C types.
    heap = tp.__flags__ & (1 << 9)  # Py_TPFLAGS_HEAPTYPE
    name = tp.__name__ if heap or tp.__module__ == "builtins" else f"{tp.__module__}.{tp.__name__}"
    what = "asynchronous context manager" if is_async else "context manager"
    enter, exit_ = ("__aenter__", "__aexit__") if is_async else ("__enter__", "__exit__")
    if hasattr(tp, enter) and not hasattr(tp, exit_):
        return TypeError(f"'{name}' object does not support the {what} protocol (missed {exit_} method)")
    return TypeError(f"'{name}' object does not support the {what} protocol")


_SLOTS = frozenset(
    {"_entered", "_info", "_kind", "_label", "_lid", "_obj", "_outer", "_owner", "_rec", "_suppresses"}
)


class Tracked:
    """A tracked handle: behaves like the wrapped object and records its lifetime.

    Attribute access passes through to the wrapped object (special methods other than the
    context-manager, iterator and close protocols do not). Thread-safety and re-entry: see the
    module docstring.
    """

    __slots__ = ("_entered", "_info", "_kind", "_label", "_lid", "_obj", "_outer", "_owner", "_rec", "_suppresses")

    # Invariant: the open lifetimes of this handle are `_outer` (outermost first, as (owner, id)
    # pairs) followed by (`_owner`, `_lid`). `_outer` is None unless two or more entries are open;
    # `_lid` is -1 when nothing is open (or when the only entry's acquisition was dropped).
    # Resource mode uses `_lid` only. `_owner` is set by the first context-mode entry;
    # `_entered` by the first successful resource-mode entry (read with a default).
    _obj: Any
    _rec: Recorder
    _info: TypeInfo
    _kind: str | None
    _label: str | None
    _lid: int
    _outer: list[tuple[object, int]] | None
    _owner: object
    _entered: bool
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
        if name in _SLOTS:  # an unset slot (half-built handle): never recurse into _obj
            raise AttributeError(name)
        return getattr(self._obj, name)

    def __repr__(self) -> str:
        return f"<tracked {self._obj!r}>"

    def __iter__(self) -> Any:
        return iter(self._obj)

    def __next__(self) -> Any:
        return next(self._obj)

    def __aiter__(self) -> Any:
        return aiter(self._obj)

    def __anext__(self) -> Awaitable[Any]:
        return anext(self._obj)

    # ----------------------------------------------------------------------- recording
    def _begin(self, t_ns: int, frame: FrameType | None) -> None:
        """Record one entry (context mode) or the resource (resource mode, from `track()`)."""
        try:
            info = self._info
            label = self._label or info.static_label or label_of(self._obj, info)
            lid, owner = _acquire(self._rec, self._kind or info.kind, label, frame, t_ns)
        except Exception:
            log.exception("withscope: could not record an acquisition")
            lid, owner = -1, None
        if self._lid < 0 and self._outer is None:
            self._lid = lid
            self._owner = owner
        else:
            if self._outer is None:
                self._outer = []
            self._outer.append((self._owner, self._lid))
            self._lid = lid
            self._owner = owner

    def _pop_owned(self) -> int:
        """Slow path (two or more entries open): take the innermost entry of the running task or
        thread (else the innermost one) and return its id."""
        entries = self._outer
        assert entries is not None
        entries.append((self._owner, self._lid))
        owner = _owner_now()
        i = len(entries) - 1
        while i >= 0 and entries[i][0] is not owner:
            i -= 1
        lid = entries.pop(i if i >= 0 else -1)[1]
        self._owner, self._lid = entries.pop()
        self._outer = entries or None
        return lid

    def _take(self) -> int:
        """Take the innermost open lifetime id off the handle (-1 if none)."""
        if self._outer is None:
            lid = self._lid
            self._lid = -1
            return lid
        return self._pop_owned()

    def _end(self, lid: int, code: int, exc: BaseException | None, flags: int) -> None:
        if lid < 0:
            return
        try:
            release(self._rec, lid, code, exc, flags)
        except Exception:
            log.exception("withscope: could not record a release")

    def _exited(self, lid: int, et: type[BaseException] | None, ev: BaseException | None, ret: object) -> None:
        """Record the release by a `with` exit that an exception passed through (or not)."""
        code, flags = _exit_outcome(et, ev, ret, self._suppresses)
        self._end(lid, code, ev if et is not None else None, flags)

    def _withdraw(self) -> None:
        """The first `__enter__` of a resource failed: it was never usable, withdraw it."""
        if self._lid >= 0 and not getattr(self, "_entered", False):
            lid, self._lid = self._lid, -1
            try:
                abort(self._rec, lid)
            except Exception:
                log.exception("withscope: could not withdraw an acquisition")

    # ------------------------------------------------------------------- sync protocol
    def __enter__(self) -> Any:
        obj = self._obj
        info = self._info
        if not info.sync_cm:
            raise _no_protocol(obj, False)
        if info.resource:
            try:
                value = type(obj).__enter__(obj)
            except BaseException:
                self._withdraw()
                raise
            self._entered = True
            return value
        t = perf_counter_ns()
        value = type(obj).__enter__(obj)
        self._begin(t, _user_frame(1))
        return value

    def __exit__(self, et: type[BaseException] | None, ev: BaseException | None, tb: TracebackType | None) -> Any:
        obj = self._obj
        if not self._info.releases_on_exit:
            lid = -1
        elif self._outer is None:
            lid = self._lid
            self._lid = -1
        else:
            lid = self._pop_owned()
        try:
            ret = type(obj).__exit__(obj, et, ev, tb)
        except BaseException as exc:
            self._end(lid, OUT_RELEASED_WITH_ERROR if exc is ev else OUT_EXIT_RAISED, exc, 0)
            raise
        if lid >= 0:
            if et is None:  # the common case, inlined: `release(rec, lid, OUT_RELEASED, None, 0)`
                try:
                    self._rec._buf.append((RELEASE, lid, perf_counter_ns(), OUT_RELEASED, None, None, 0))
                except Exception:
                    log.exception("withscope: could not record a release")
            else:
                self._exited(lid, et, ev, ret)
        return ret

    # ------------------------------------------------------------------ async protocol
    async def __aenter__(self) -> Any:
        obj = self._obj
        info = self._info
        if not info.async_cm:
            raise _no_protocol(obj, True)
        if info.resource:
            try:
                value = await type(obj).__aenter__(obj)
            except BaseException:
                self._withdraw()
                raise
            self._entered = True
            return value
        t = perf_counter_ns()
        value = await type(obj).__aenter__(obj)
        self._begin(t, _user_frame(1))
        return value

    async def __aexit__(
        self, et: type[BaseException] | None, ev: BaseException | None, tb: TracebackType | None
    ) -> Any:
        obj = self._obj
        if not self._info.releases_on_exit:
            lid = -1
        elif self._outer is None:
            lid = self._lid
            self._lid = -1
        else:
            lid = self._pop_owned()
        try:
            ret = await type(obj).__aexit__(obj, et, ev, tb)
        except BaseException as exc:
            self._end(lid, OUT_RELEASED_WITH_ERROR if exc is ev else OUT_EXIT_RAISED, exc, 0)
            raise
        if lid >= 0:
            if et is None:  # the common case, inlined: `release(rec, lid, OUT_RELEASED, None, 0)`
                try:
                    self._rec._buf.append((RELEASE, lid, perf_counter_ns(), OUT_RELEASED, None, None, 0))
                except Exception:
                    log.exception("withscope: could not record a release")
            else:
                self._exited(lid, et, ev, ret)
        return ret

    # -------------------------------------------------------------- explicit release
    def _closed_by(self, method: Callable[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        lid = self._take()
        try:
            ret = method(*args, **kwargs)
        except BaseException as exc:
            self._end(lid, OUT_EXIT_RAISED, exc, FLAG_CLOSE)
            raise
        if lid >= 0 and hasattr(ret, "__await__"):  # an async driver's close(): record when it completes
            return self._await_close(lid, ret)
        self._end(lid, OUT_RELEASED, None, FLAG_CLOSE)
        return ret

    async def _await_close(self, lid: int, awaitable: Awaitable[Any]) -> Any:
        try:
            ret = await awaitable
        except BaseException as exc:
            self._end(lid, OUT_EXIT_RAISED, exc, FLAG_CLOSE)
            raise
        self._end(lid, OUT_RELEASED, None, FLAG_CLOSE)
        return ret

    def close(self, *args: Any, **kwargs: Any) -> Any:
        """Close the wrapped object and record the release (arguments pass through)."""
        return self._closed_by(self._obj.close, args, kwargs)

    def release(self, *args: Any, **kwargs: Any) -> Any:
        """Call the wrapped object's `release()`; without arguments, record the release.

        With arguments (`pool.release(conn)`) it releases something else: passed through unrecorded.
        """
        method = self._obj.release
        if args or kwargs:
            return method(*args, **kwargs)
        return self._closed_by(method, args, kwargs)

    async def aclose(self, *args: Any, **kwargs: Any) -> Any:
        """Await the wrapped object's `aclose()` and record the release."""
        method = self._obj.aclose
        lid = self._take()
        try:
            ret = await method(*args, **kwargs)
        except BaseException as exc:
            self._end(lid, OUT_EXIT_RAISED, exc, FLAG_CLOSE)
            raise
        self._end(lid, OUT_RELEASED, None, FLAG_CLOSE)
        return ret

    def __del__(self) -> None:
        # Cheap when released: one attribute read. Acts only while a lifetime is still open.
        try:
            lid = self._lid
            outer = self._outer
        except AttributeError:
            return
        if lid < 0 and outer is None:
            return
        try:
            rec = self._rec
            if lid >= 0:
                release(rec, lid, OUT_GC, None, 0)
            for _owner, olid in outer or ():
                if olid >= 0:
                    release(rec, olid, OUT_GC, None, 0)
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
    Records into `recorder`, else the active recorder (see `Recorder`). A handle is returned
    as is. Raises TypeError for an object that is neither a context manager nor closeable.
    """
    tp = type(obj)
    if tp is Tracked:
        return obj
    info = _TYPE_INFO.get(tp) or classify(tp)
    if not (info.resource or info.sync_cm or info.async_cm):
        raise TypeError(
            f"track() needs a context manager or an object with close()/aclose(); "
            f"got {type(obj).__qualname__} (use track_stream() for iterators)"
        )
    rec = recorder if recorder is not None else current_recorder()
    handle = Tracked(obj, rec, info, kind, label, tuple(suppresses))
    if info.resource:
        handle._begin(perf_counter_ns(), _user_frame(1))
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
    place, so `isinstance` and subclassing keep working; each entry is one lifetime (context
    mode, even if the class has `close()`), recorded into the recorder active at the entry.
    Decorating a class twice (or a subclass that inherits instrumented methods) does not double
    the recording. On a factory (put `@tracked` *above* `@contextmanager`), each call returns
    `track(factory(...))`.
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


_MARK = "__withscope_tracked__"


def _instrument_class(
    cls: type, kind: str | None, label: str | None, suppresses: tuple[type[BaseException], ...]
) -> type:
    has_sync = hasattr(cls, "__enter__") and hasattr(cls, "__exit__")
    has_async = hasattr(cls, "__aenter__") and hasattr(cls, "__aexit__")
    if not (has_sync or has_async):
        raise TypeError(f"tracked() needs a context-manager class; {cls.__qualname__} has no __enter__/__aenter__")
    kind_ = kind or "resource"
    label_ = label or cls.__qualname__
    # id(instance) -> [(owner, recorder, lid), ...] of open entries, innermost last.
    # Invariant: an entry is pushed for every successful enter (lid -1 if not recorded) and
    # popped by the next exit of the same owner (else the innermost), so entries stay paired.
    open_entries: dict[int, list[tuple[object, Recorder | None, int]]] = {}

    def begin(self: Any, t_ns: int) -> None:
        rec: Recorder | None = None
        lid, owner = -1, None
        try:
            rec = current_recorder()
            lid, owner = _acquire(rec, kind_, label_, _user_frame(2), t_ns)
        except Exception:
            log.exception("withscope: could not record an acquisition")
        if owner is None:
            owner = _owner_now()
        open_entries.setdefault(id(self), []).append((owner, rec, lid))

    def take(self: Any) -> tuple[Recorder | None, int]:
        entries = open_entries.get(id(self))
        if not entries:
            return None, -1
        if len(entries) == 1:
            entry = entries.pop()
        else:
            owner = _owner_now()
            i = len(entries) - 1
            while i >= 0 and entries[i][0] is not owner:
                i -= 1
            entry = entries.pop(i if i >= 0 else -1)
        if not entries:
            open_entries.pop(id(self), None)
        return entry[1], entry[2]

    def end(rec: Recorder | None, lid: int, code: int, exc: BaseException | None, flags: int) -> None:
        if rec is not None and lid >= 0:
            try:
                release(rec, lid, code, exc, flags)
            except Exception:
                log.exception("withscope: could not record a release")

    def wrap_sync(orig_enter: Callable[..., Any], orig_exit: Callable[..., Any]) -> None:
        @functools.wraps(orig_enter)
        def __enter__(self: Any) -> Any:
            t = perf_counter_ns()
            value = orig_enter(self)
            begin(self, t)
            return value

        @functools.wraps(orig_exit)
        def __exit__(self: Any, et: Any, ev: Any, tb: Any) -> Any:
            rec, lid = take(self)
            try:
                ret = orig_exit(self, et, ev, tb)
            except BaseException as exc:
                end(rec, lid, OUT_RELEASED_WITH_ERROR if exc is ev else OUT_EXIT_RAISED, exc, 0)
                raise
            code, flags = _exit_outcome(et, ev, ret, suppresses)
            end(rec, lid, code, ev, flags)
            return ret

        setattr(__enter__, _MARK, True)
        setattr(__exit__, _MARK, True)
        cls.__enter__ = __enter__  # type: ignore[attr-defined]
        cls.__exit__ = __exit__  # type: ignore[attr-defined]

    def wrap_async(orig_aenter: Callable[..., Any], orig_aexit: Callable[..., Any]) -> None:
        @functools.wraps(orig_aenter)
        async def __aenter__(self: Any) -> Any:
            t = perf_counter_ns()
            value = await orig_aenter(self)
            begin(self, t)
            return value

        @functools.wraps(orig_aexit)
        async def __aexit__(self: Any, et: Any, ev: Any, tb: Any) -> Any:
            rec, lid = take(self)
            try:
                ret = await orig_aexit(self, et, ev, tb)
            except BaseException as exc:
                end(rec, lid, OUT_RELEASED_WITH_ERROR if exc is ev else OUT_EXIT_RAISED, exc, 0)
                raise
            code, flags = _exit_outcome(et, ev, ret, suppresses)
            end(rec, lid, code, ev, flags)
            return ret

        setattr(__aenter__, _MARK, True)
        setattr(__aexit__, _MARK, True)
        cls.__aenter__ = __aenter__  # type: ignore[attr-defined]
        cls.__aexit__ = __aexit__  # type: ignore[attr-defined]

    if has_sync and not getattr(cls.__enter__, _MARK, False):  # type: ignore[attr-defined]
        wrap_sync(cls.__enter__, cls.__exit__)  # type: ignore[attr-defined]
    if has_async and not getattr(cls.__aenter__, _MARK, False):  # type: ignore[attr-defined]
        wrap_async(cls.__aenter__, cls.__aexit__)  # type: ignore[attr-defined]
    return cls
