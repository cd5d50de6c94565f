"""Recording one acquisition or release into a recorder: the acquisition site, thread and task,
ids, outcomes. Shared by `track()` handles (`core.track`), `tracked()` (`core.decorate`) and
`track_stream()` (`core.streams`).

Thread-safety: every function may be called from any thread; none takes a lock (the recorder's
buffer, a deque or the accelerator's EventBuf, appends atomically under the GIL). Sites are
(code object, instruction offset) pairs that the recorder turns into "path:line" when it folds,
once per site.
"""

from __future__ import annotations

import asyncio
import contextlib
import sys
import threading
from collections.abc import Callable
from time import perf_counter_ns
from types import FrameType
from typing import Any

from .events import (
    ABORT,
    ACQUIRE,
    FLAG_DECLARED,
    FLAG_SUPPRESSED,
    OUT_RELEASED,
    OUT_RELEASED_WITH_ERROR,
    RELEASE,
    STACK,
)
from .kinds import Spec
from .lifetime_table import format_site
from .recorder import Recorder

_getframe = sys._getframe
_get_running_loop: Callable[[], asyncio.AbstractEventLoop | None] = asyncio._get_running_loop
_current_task: Callable[[asyncio.AbstractEventLoop | None], asyncio.Task[Any] | None] = asyncio.current_task

# Frames in these files are never a user's acquisition site (withscope's own modules add theirs).
SKIP_FILES: set[str] = {__file__, contextlib.__file__}

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


def _skip(f: FrameType | None) -> FrameType | None:
    """`f` or the first frame below it that is not withscope's own nor contextlib's."""
    skip = SKIP_FILES
    while f is not None and f.f_code.co_filename in skip:
        f = f.f_back
    return f


def _user_frame(depth: int) -> FrameType | None:
    """The first frame above `depth` (0 = the caller of `_user_frame`) that is not withscope's
    own nor contextlib's."""
    try:
        return _skip(_getframe(depth + 1))
    except ValueError:  # the stack is not that deep
        return None


def _stack(frame: FrameType | None, depth: int) -> tuple[str, ...]:
    out: list[str] = []
    while frame is not None and len(out) < depth:
        code = frame.f_code
        out.append(f"{format_site(code, frame.f_lineno)} in {code.co_qualname}")
        frame = frame.f_back
    return tuple(out)


def _record(rec: Recorder, spec: Spec, frame: FrameType | None, t_ns: int) -> tuple[int, object]:
    """Record an acquisition (the general path; `_Ctx*.__enter__` inline the common case).

    Returns (lifetime id, owner); id -1 when the buffer was full (the acquisition is counted in
    `rec.dropped`, and no release must be recorded). A lossless recorder never refuses one: its
    caller made room before it read the clock (`Recorder.make_room`), so a buffer found full
    here was filled by other threads meanwhile and the acquisition is admitted beyond the limit
    rather than waiting inside its own lifetime. Only a caller that skipped `make_room` (twice
    the limit pending) is made to relieve the buffer here."""
    buf = rec._buf
    pending = len(buf)
    if pending >= rec._cap:
        if not rec._lossless:
            rec.note_dropped()
            return -1, None
        if pending >= 2 * rec._cap:
            rec.relieve()
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
        buf.append((ACQUIRE, lid, t_ns, spec, None, 0, me, task_name))
    else:
        buf.append((ACQUIRE, lid, t_ns, spec, frame.f_code, frame.f_lasti, me, task_name))
        if rec.stack_depth > 1:
            buf.append((STACK, lid, _stack(frame, rec.stack_depth)))
    return lid, owner


def acquire(rec: Recorder, kind: str, label: str, frame: FrameType | None, t_ns: int) -> int:
    """Record an acquisition of `kind`/`label` at `frame`. Returns the new lifetime id, or -1
    when the buffer was full: the drop is counted, and the caller must not record a release.
    Call `rec.make_room()` before reading the clock for `t_ns` (see `_record`)."""
    return _record(rec, (kind, label, (), False), frame, t_ns)[0]


def error_text(exc: BaseException) -> str:
    msg = str(exc)
    return f"{type(exc).__name__}: {msg}" if msg else type(exc).__name__


def release(rec: Recorder, lid: int, code: int, exc: BaseException | None, flags: int) -> None:
    """Record the release of lifetime `lid` >= 0. Never refused by a full buffer."""
    if exc is None:
        if code == OUT_RELEASED and not flags:
            rec._buf.append((RELEASE, lid, perf_counter_ns()))
        else:
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
