"""`tracked()`: track every instance of a context-manager class or every call of a factory.

Behaviour and guarantees are those of `track()` (see `core.track`): what the block sees,
raises and suppresses is unchanged, a failed enter acquires nothing, recorder errors are logged.
An instrumented class records each entry as one lifetime (context mode) into the recorder
active at that entry; re-entries pair LIFO, per task/thread (like a shared `track()` handle).
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable
from time import perf_counter_ns
from typing import Any, TypeVar, overload

from .events import OUT_EXIT_RAISED, OUT_RELEASED_WITH_ERROR
from .kinds import Spec
from .lifecycle import SKIP_FILES, _exit_outcome, _owner_now, _record, _user_frame, release
from .recorder import Recorder, current_recorder
from .track import _track

log = logging.getLogger("withscope")
SKIP_FILES.add(__file__)

T = TypeVar("T")
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
        supp = tuple(suppresses)

        @functools.wraps(t)
        def factory(*args: Any, **kwargs: Any) -> Any:
            return _track(t(*args, **kwargs), kind, default_label, supp, None)

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
    spec: Spec = (kind or "resource", label or cls.__qualname__, suppresses, True)
    # id(instance) -> [(owner, recorder, lid), ...] of open entries, innermost last.
    # Invariant: an entry is pushed for every successful enter (lid -1 if not recorded) and
    # popped by the next exit of the same owner (else the innermost), so entries stay paired.
    open_entries: dict[int, list[tuple[object, Recorder | None, int]]] = {}

    def begin(self: Any, t_ns: int) -> None:
        rec: Recorder | None = None
        lid, owner = -1, None
        try:
            rec = current_recorder()
            lid, owner = _record(rec, spec, _user_frame(2), t_ns)
        except Exception:
            log.exception("withscope: could not record an acquisition")
        if owner is None:
            owner = _owner_now()
        open_entries.setdefault(id(self), []).append((owner, rec, lid))

    def make_room() -> None:  # before the clock is read (see Recorder.make_room)
        try:
            current_recorder().make_room()
        except Exception:
            log.exception("withscope: could not make room in the recorder")

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
            make_room()
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
            make_room()
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
