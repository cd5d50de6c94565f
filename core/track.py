"""`track()`: instrument a context manager or a closeable resource (`tracked()`: see `decorate`;
the recording helpers shared with it and with `track_stream()` live in `lifecycle`).

Contract (what instrumentation preserves; CPython's own test_contextlib cases):
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

Design of the hot path (target: a tracked `with` within 4x a bare one; benchmarks/). Measured on CPython
3.11, every Python-level call costs ~60-100 ns and every attribute read on a class that defines
`__getattr__` ~25 ns (it disables the interpreter's attribute specialisation), so:
- `track()` of a context manager whose label depends on its type only is one dict lookup
  (`_FAST`, filled by the first, slow `_track()` of that type), one handle allocation and one
  list; anything else (explicit kind/label/suppresses, resources, handles) takes `_track()`.
- A handle keeps its state in one list (`_s`, indices documented on `Tracked`): the hot methods
  read one attribute and then index a list, since `Tracked.__getattr__` (pass-through to the
  wrapped object) makes each attribute read slow.
- `__enter__`/`__exit__` (and the async twins) inline the common case - first entry, caller not
  in SKIP_FILES, room in the buffer, one frame - and leave every other case to helpers.
- The site is the caller's code object and instruction offset (`f_lasti`); the recorder turns
  them into "path:line" when it folds, once per site (`f_lineno` costs ~4x as much).
- GC-release detection: a handle entered by a `with`/`async with` statement cannot be
  collected before that statement calls its exit, so context handles have no `__del__`
  (calling one costs ~40-80 ns per handle). An entry made any other way (`__enter__()` by hand,
  `ExitStack.enter_context`) switches the handle to a subclass with `__del__` ("arming" it),
  which records `gc` if the handle dies while an entry is open. The `with` statement is
  recognised by the caller's current instruction (`BEFORE_WITH`, or the `SEND` after
  `GET_AWAITABLE 1` of an `async with`); any other bytecode arms, so an unknown interpreter
  version only costs speed. Resource handles always have `__del__` (acquired at `track()`).
  Caveat: a `with` over some other manager whose `__enter__` is a C callable that calls this
  handle's `__enter__` would be taken for a `with` on the handle.
- Thread names come from a per-thread token (`_tls.me`, a 1-tuple made once per thread) and
  task names from `asyncio.current_task`; both are recorded at entry (a later rename is not seen).
"""

from __future__ import annotations

import asyncio
import dis
import logging
import os
import sys
from collections.abc import Awaitable, Callable
from time import perf_counter_ns
from types import FrameType, TracebackType
from typing import TYPE_CHECKING, Any

from ._accel import speedups as _C
from .events import (
    ACQUIRE,
    FLAG_CLOSE,
    OUT_EXIT_RAISED,
    OUT_GC,
    OUT_RELEASED,
    OUT_RELEASED_WITH_ERROR,
    RELEASE,
)
from .kinds import _CACHE as _TYPE_INFO
from .kinds import Spec, classify, spec_of
from .lifecycle import (
    SKIP_FILES,
    _current_task,
    _exit_outcome,
    _get_running_loop,
    _getframe,
    _owner_now,
    _record,
    _skip,
    _thread_me,
    _tls,
    _user_frame,
    abort,
    acquire,
    error_text,
    release,
)
from .recorder import Recorder, _active, current_recorder


def _asyncio_current_tasks() -> dict[Any, Any] | None:
    """The dict `asyncio.current_task(loop)` reads, when it reads one: the C `_asyncio` module's
    `_current_tasks` (CPython 3.11-3.13). None elsewhere (3.14 keeps the task on the thread state)."""
    try:
        import _asyncio
    except ImportError:
        return None
    tasks = getattr(_asyncio, "_current_tasks", None)
    if _current_task is asyncio.current_task and tasks is getattr(asyncio.tasks, "_current_tasks", None):
        return tasks if isinstance(tasks, dict) else None
    return None


if TYPE_CHECKING or _C is None:

    class _HandleBase:
        """Pure-Python base of `Tracked`: the `_s` slot (the C accelerator's `HandleBase` has it too)."""

        __slots__ = ("_s",)

else:
    _HandleBase = _C.HandleBase

log = logging.getLogger("withscope")

SKIP_FILES.add(__file__)

# Opcodes that show a `with` / `async with` statement calling the handle (-1: never matches).
_BEFORE_WITH = dis.opmap.get("BEFORE_WITH", -1)
_SEND = dis.opmap.get("SEND", -1)
_GET_AWAITABLE = dis.opmap.get("GET_AWAITABLE", -1)

# Entry states in a handle's `_s[3]` (values >= 0 are the id of the one open entry).
_NONE = -1  # nothing open
_UNRECORDED = -2  # one entry open whose acquisition was not recorded (buffer full, recorder error)
_MULTI = -3  # two or more entries open: `_s[4]` lists them as (owner, id), outermost first
# The inlined hot paths spell these as literals (a constant load is cheaper than a global's).
if (ACQUIRE, RELEASE, _NONE) != (0, 1, -1):  # pragma: no cover
    raise ImportError("core.track's inlined event codes are out of date")



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


def _release_open(s: list[Any], code: int) -> None:
    """Release every open entry of a handle's state `s` with outcome `code` (for `__del__`)."""
    cur = s[3]
    lids = [cur] if cur >= 0 else [lid for _owner, lid in s[4]] if cur == _MULTI else []
    s[3] = _NONE
    s[4] = None
    for lid in lids:
        if lid >= 0:
            release(s[1], lid, code, None, 0)


def _del_open(self: Tracked) -> None:
    # Acts only while an entry is open; the interpreter may be shutting down: say nothing.
    try:
        s = self._s
        if s[3] != _NONE:
            _release_open(s, OUT_GC)
    except Exception:
        pass


class Tracked(_HandleBase):
    """A tracked handle: behaves like the wrapped object and records its lifetime.

    Attribute access passes through to the wrapped object (special methods other than the
    context-manager, iterator and close protocols do not). Thread-safety and re-entry: see the
    module docstring. Handles are made by `track()`; the class tells them apart from the
    wrapped objects (`isinstance(h, Tracked)`).
    """

    __slots__ = ()

    # Invariant: `_s` is [obj, recorder, spec, entry, entries, owner] (+ [info, entered] in
    # resource mode): `entry` is the id of the one open entry (context mode) or of the resource
    # (resource mode), or _NONE / _UNRECORDED / _MULTI; `entries` is None unless `entry` is
    # _MULTI, then the list of open (owner, id) pairs, outermost first (id _UNRECORDED for an
    # entry that was not recorded); `owner` is the task or thread token of the single entry.
    _s: list[Any]

    # ------------------------------------------------------------------ introspection
    @property
    def wrapped(self) -> Any:
        """The object behind the handle."""
        return self._s[0]

    @property
    def lifetime_id(self) -> int | None:
        """Id of the open lifetime (innermost entry), or None when nothing is held."""
        s = self._s
        lid: int = s[3] if s[3] != _MULTI else s[4][-1][1]
        return lid if lid >= 0 else None

    def __getattr__(self, name: str) -> Any:
        if name == "_s":  # a half-built handle: never recurse
            raise AttributeError(name)
        return getattr(self._s[0], name)

    def __repr__(self) -> str:
        return f"<tracked {self._s[0]!r}>"

    def __iter__(self) -> Any:
        return iter(self._s[0])

    def __next__(self) -> Any:
        return next(self._s[0])

    def __aiter__(self) -> Any:
        return aiter(self._s[0])

    def __anext__(self) -> Awaitable[Any]:
        return anext(self._s[0])

    # -------------------------------------------------------------- entry bookkeeping
    def _begin(self, t_ns: int, frame: FrameType | None) -> None:
        """Record one entry (context mode) or the resource (resource mode, from `track()`)."""
        s = self._s
        try:
            lid, owner = _record(s[1], s[2], frame, t_ns)
        except Exception:
            log.exception("withscope: could not record an acquisition")
            lid, owner = -1, None
        if lid < 0:
            lid = _UNRECORDED
        self._push(lid, owner)

    def _push(self, lid: int, owner: object) -> None:
        s = self._s
        if owner is None:
            owner = _owner_now()
        cur = s[3]
        if cur == _NONE:
            s[3] = lid
            s[5] = owner
        elif cur == _MULTI:
            s[4].append((owner, lid))
        else:
            s[4] = [(s[5], cur), (owner, lid)]
            s[3] = _MULTI
            s[5] = None

    def _take(self) -> int:
        """Take the innermost open entry of the running task or thread (else the innermost one)
        off the handle; returns its id (< 0 when there is none or it was not recorded)."""
        s = self._s
        cur: int = s[3]
        if cur != _MULTI:
            s[3] = _NONE
            return cur
        entries: list[tuple[object, int]] = s[4]
        owner = _owner_now()
        i = len(entries) - 1
        while i >= 0 and entries[i][0] is not owner:
            i -= 1
        lid = entries.pop(i if i >= 0 else -1)[1]
        if len(entries) == 1:
            s[5], s[3] = entries[0]
            s[4] = None
        return lid

    def _end(self, lid: int, code: int, exc: BaseException | None, flags: int) -> None:
        if lid < 0:
            return
        try:
            release(self._s[1], lid, code, exc, flags)
        except Exception:
            log.exception("withscope: could not record a release")

    def _exited(self, lid: int, et: type[BaseException] | None, ev: BaseException | None, ret: object) -> None:
        """Record the release by a `with` exit that an exception passed through (or not)."""
        code, flags = _exit_outcome(et, ev, ret, self._s[2][2])
        self._end(lid, code, ev if et is not None else None, flags)

    def _arm(self) -> None:
        """Entered other than by a `with` statement: from now on `__del__` watches the handle."""
        self.__class__ = _ARMED.get(type(self), type(self))

    def _slow_enter(self, t_ns: int, f: FrameType | None) -> None:
        """Everything the inlined `__enter__` leaves out (nested entry, full buffer, deep stacks,
        a caller in SKIP_FILES)."""
        try:
            f = _skip(f)
        except Exception:
            f = None
        self._begin(t_ns, f)

    # ------------------------------------------------------------- protocol defaults
    # The classes made by `track()` override what the wrapped type supports; what is left
    # raises the TypeError a bare `with` raises.
    def __enter__(self) -> Any:
        raise _no_protocol(self._s[0], False)

    async def __aenter__(self) -> Any:
        raise _no_protocol(self._s[0], True)

    def __exit__(self, et: type[BaseException] | None, ev: BaseException | None, tb: TracebackType | None) -> Any:
        s = self._s
        obj = s[0]
        lid = s[3]
        if lid >= 0:
            s[3] = -1  # _NONE
        elif lid != -1:
            lid = self._take()
        try:
            ret = type(obj).__exit__(obj, et, ev, tb)
        except BaseException as exc:
            self._end(lid, OUT_RELEASED_WITH_ERROR if exc is ev else OUT_EXIT_RAISED, exc, 0)
            raise
        if lid >= 0:
            if et is None:  # the common case, inlined
                try:
                    s[1]._buf.append((1, lid, perf_counter_ns()))  # 1: RELEASE
                except Exception:
                    log.exception("withscope: could not record a release")
            else:
                self._exited(lid, et, ev, ret)
        return ret

    async def __aexit__(
        self, et: type[BaseException] | None, ev: BaseException | None, tb: TracebackType | None
    ) -> Any:
        s = self._s
        obj = s[0]
        lid = s[3]
        if lid >= 0:
            s[3] = -1  # _NONE
        elif lid != -1:
            lid = self._take()
        try:
            ret = await type(obj).__aexit__(obj, et, ev, tb)
        except BaseException as exc:
            self._end(lid, OUT_RELEASED_WITH_ERROR if exc is ev else OUT_EXIT_RAISED, exc, 0)
            raise
        if lid >= 0:
            if et is None:  # the common case, inlined
                try:
                    s[1]._buf.append((1, lid, perf_counter_ns()))  # 1: RELEASE
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
        return self._closed_by(self._s[0].close, args, kwargs)

    def release(self, *args: Any, **kwargs: Any) -> Any:
        """Call the wrapped object's `release()`; without arguments, record the release.

        With arguments (`pool.release(conn)`) it releases something else: passed through unrecorded.
        """
        method = self._s[0].release
        if args or kwargs:
            return method(*args, **kwargs)
        return self._closed_by(method, args, kwargs)

    async def aclose(self, *args: Any, **kwargs: Any) -> Any:
        """Await the wrapped object's `aclose()` and record the release."""
        method = self._s[0].aclose
        lid = self._take()
        try:
            ret = await method(*args, **kwargs)
        except BaseException as exc:
            self._end(lid, OUT_EXIT_RAISED, exc, FLAG_CLOSE)
            raise
        self._end(lid, OUT_RELEASED, None, FLAG_CLOSE)
        return ret


class _SyncCtx(Tracked):
    """Context mode, the wrapped type has `__enter__`/`__exit__` (hot path)."""

    __slots__ = ()

    def __enter__(self) -> Any:
        s = self._s
        obj = s[0]
        rec = s[1]
        try:
            if len(rec._buf) >= rec._room:  # lossless and full: relieve before the clock is read
                rec.relieve()
        except Exception:
            log.exception("withscope: could not make room in the recorder")
        t = perf_counter_ns()
        value = type(obj).__enter__(obj)
        try:
            f = _getframe(1)
            code = f.f_code
            lasti = f.f_lasti
            if code.co_code[lasti] != _BEFORE_WITH:
                self._arm()
            buf = rec._buf
            if s[3] != -1 or len(buf) >= rec._limit or code.co_filename in SKIP_FILES:  # -1: _NONE
                self._slow_enter(t, f)
            else:
                lid = next(rec._ids)
                try:
                    me = _tls.me
                except AttributeError:
                    me = _thread_me()
                loop = _get_running_loop()
                if loop is None or (task := _current_task(loop)) is None:
                    buf.append((0, lid, t, s[2], code, lasti, me, None))  # 0: ACQUIRE
                    s[5] = me
                else:
                    buf.append((0, lid, t, s[2], code, lasti, me, task.get_name()))
                    s[5] = task
                s[3] = lid
        except Exception:
            log.exception("withscope: could not record an acquisition")
        return value


class _AsyncCtx(Tracked):
    """Context mode, the wrapped type has `__aenter__`/`__aexit__` (hot path)."""

    __slots__ = ()

    async def __aenter__(self) -> Any:
        s = self._s
        obj = s[0]
        rec = s[1]
        try:
            if len(rec._buf) >= rec._room:  # lossless and full: relieve before the clock is read
                rec.relieve()
        except Exception:
            log.exception("withscope: could not make room in the recorder")
        t = perf_counter_ns()
        value = await type(obj).__aenter__(obj)
        try:
            f = _getframe(1)
            code = f.f_code
            lasti = f.f_lasti
            co = code.co_code
            if co[lasti] != _SEND or co[lasti - 4] != _GET_AWAITABLE or co[lasti - 3] != 1:
                self._arm()
            buf = rec._buf
            if s[3] != -1 or len(buf) >= rec._limit or code.co_filename in SKIP_FILES:  # -1: _NONE
                self._slow_enter(t, f)
            else:
                lid = next(rec._ids)
                try:
                    me = _tls.me
                except AttributeError:
                    me = _thread_me()
                loop = _get_running_loop()
                if loop is None or (task := _current_task(loop)) is None:
                    buf.append((0, lid, t, s[2], code, lasti, me, None))  # 0: ACQUIRE
                    s[5] = me
                else:
                    buf.append((0, lid, t, s[2], code, lasti, me, task.get_name()))
                    s[5] = task
                s[3] = lid
        except Exception:
            log.exception("withscope: could not record an acquisition")
        return value


class _BothCtx(_SyncCtx, _AsyncCtx):
    __slots__ = ()


class _SyncCtxArmed(_SyncCtx):
    __slots__ = ()
    __del__ = _del_open


class _AsyncCtxArmed(_AsyncCtx):
    __slots__ = ()
    __del__ = _del_open


class _BothCtxArmed(_BothCtx):
    __slots__ = ()
    __del__ = _del_open


_ARMED: dict[type, type] = {_SyncCtx: _SyncCtxArmed, _AsyncCtx: _AsyncCtxArmed, _BothCtx: _BothCtxArmed}
_CTX_CLASS: dict[tuple[bool, bool], type[Tracked]] = {
    (True, False): _SyncCtx,
    (False, True): _AsyncCtx,
    (True, True): _BothCtx,
}


class _Resource(Tracked):
    """Resource mode: acquired by `track()`; `s[7]` is True once an entry succeeded."""

    __slots__ = ()
    __del__ = _del_open

    def _withdraw(self) -> None:
        """The first `__enter__` of a resource failed: it was never usable, withdraw it."""
        s = self._s
        if s[3] >= 0 and not s[7]:
            lid = s[3]
            s[3] = _NONE
            try:
                abort(s[1], lid)
            except Exception:
                log.exception("withscope: could not withdraw an acquisition")

    def __enter__(self) -> Any:
        s = self._s
        obj = s[0]
        if not s[6].sync_cm:
            raise _no_protocol(obj, False)
        try:
            value = type(obj).__enter__(obj)
        except BaseException:
            self._withdraw()
            raise
        s[7] = True
        return value

    async def __aenter__(self) -> Any:
        s = self._s
        obj = s[0]
        if not s[6].async_cm:
            raise _no_protocol(obj, True)
        try:
            value = await type(obj).__aenter__(obj)
        except BaseException:
            self._withdraw()
            raise
        s[7] = True
        return value

    def __exit__(self, et: type[BaseException] | None, ev: BaseException | None, tb: TracebackType | None) -> Any:
        s = self._s
        if s[6].releases_on_exit:
            return Tracked.__exit__(self, et, ev, tb)
        return type(s[0]).__exit__(s[0], et, ev, tb)

    async def __aexit__(
        self, et: type[BaseException] | None, ev: BaseException | None, tb: TracebackType | None
    ) -> Any:
        s = self._s
        if s[6].releases_on_exit:
            return await Tracked.__aexit__(self, et, ev, tb)
        return await type(s[0]).__aexit__(s[0], et, ev, tb)


# type -> (handle class, shared spec) of context managers that `track()` handles inline.
_FAST: dict[type, tuple[type[Tracked], Spec]] = {}


def _track_py(
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
    fast = _FAST.get(type(obj))
    if fast is None or kind or label or suppresses:
        return _track(obj, kind, label, suppresses, recorder)
    if recorder is None:
        recorder = _active.get()
        if recorder is None:
            recorder = current_recorder()
    cls, spec = fast
    handle = cls()
    handle._s = [obj, recorder, spec, -1, None, None]  # -1: _NONE
    return handle


def _track(
    obj: Any,
    kind: str | None,
    label: str | None,
    suppresses: tuple[type[BaseException], ...],
    recorder: Recorder | None,
) -> Any:
    """`track()` of anything but a plain context manager of a known type (see `track`)."""
    if isinstance(obj, Tracked):
        return obj
    tp = type(obj)
    info = _TYPE_INFO.get(tp) or classify(tp)
    if not (info.resource or info.sync_cm or info.async_cm):
        raise TypeError(
            f"track() needs a context manager or an object with close()/aclose(); "
            f"got {tp.__qualname__} (use track_stream() for iterators)"
        )
    rec = recorder if recorder is not None else current_recorder()
    suppresses = tuple(suppresses)
    spec = spec_of(obj, info, kind, label, suppresses)
    if info.resource:
        if rec.on_track is not None:  # automatic instrumentation: the tracked lifetime replaces its own
            rec.on_track(obj)
        handle: Tracked = _Resource()
        handle._s = [obj, rec, spec, _NONE, None, None, info, False]
        rec.make_room()
        handle._begin(perf_counter_ns(), _user_frame(0))
        return handle
    cls = _CTX_CLASS[info.sync_cm, info.async_cm]
    if info.spec is not None and tp not in _FAST:
        _FAST[tp] = (cls, info.spec)
    handle = cls()
    handle._s = [obj, rec, spec, _NONE, None, None]
    return handle


def _recording_failed(what: str, exc: BaseException) -> None:
    """The C accelerator could not record `what`: log it like the Python hot path does."""
    log.error("withscope: could not record %s", what, exc_info=exc)


if _C is not None:
    # The C hot path: same events as the Python methods above, which stay as the fallback and
    # as the slow paths the C code calls back into (`_arm`, `_slow_enter`, `_take`, `_end`, `_exited`).
    _C.configure(
        skip_files=SKIP_FILES,
        thread_me=_thread_me,
        get_running_loop=_get_running_loop,
        current_task=_current_task,
        failed=_recording_failed,
        fast=_FAST,
        track_slow=_track,
        active=_active,
        current_recorder=current_recorder,
        before_with=_BEFORE_WITH,
        send=_SEND,
        get_awaitable=_GET_AWAITABLE,
        current_tasks=_asyncio_current_tasks(),
        loop_in_thread_state=_get_running_loop is getattr(sys.modules.get("_asyncio"), "_get_running_loop", None),
    )
    if hasattr(os, "register_at_fork"):  # the C path compares the running loop's pid with this one
        os.register_at_fork(after_in_child=_C.after_fork_in_child)
    _SyncCtx.__enter__ = _C.HandleBase.sync_enter  # type: ignore[method-assign]
    Tracked.__exit__ = _C.HandleBase.sync_exit  # type: ignore[method-assign]
    _AsyncCtx.__aenter__ = _C.HandleBase.async_enter  # type: ignore[method-assign]
    Tracked.__aexit__ = _C.HandleBase.async_exit  # type: ignore[method-assign]

# With the accelerator, `track` is the same function with its fast path (a context manager of a
# known type) in C; everything else still goes through `_track`.
if TYPE_CHECKING or _C is None:  # noqa: SIM108  (mypy narrows only an if statement)
    track = _track_py
else:
    track = _C.track

from .decorate import tracked  # noqa: E402  (re-exported: `withscope.core.track.tracked`)

__all__ = ["SKIP_FILES", "Tracked", "abort", "acquire", "error_text", "release", "track", "tracked"]
