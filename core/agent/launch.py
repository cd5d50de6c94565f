"""Running the target inside the observed process, as Python itself would (standard library only).

- a script (`path.py`, or a folder / zip with `__main__.py`): compiled and executed in the real
  `__main__` module (as `python path.py` does: its globals live until the interpreter exits),
  `sys.argv = [path, *args]`, `sys.path[0]` its folder;
- a module (`-m pkg.mod`): `runpy`'s own `python -m` path (`__main__`, `sys.argv[0]` the module's
  file, `sys.path[0]` the working directory);
- `file.py:function` / `module:function` and catalogue names: resolved by `core.targets` (the file
  loaded once under a private module name), then called; an async function (or a coroutine a sync
  one returns) runs under `asyncio.run`; catalogue entries get a `WorkloadContext`.

All on the main thread: signals, `signal.signal` and `input()` work as in a plain run. Repeats
are marked `repeat i/N start` / `repeat i/N end` (the texts `core.rules` reads); the end of the
target's own code is marked `workload end`, before a catalogue entry's leftovers are closed.
`run()` returns how the target ended as `("ok", None)`, `("exit", code)`, `("error", text)` or,
when it could not even be loaded (no such module or function), `("target", text)`; an error is
returned after printing an uncaught exception as Python would (through `sys.excepthook`, without the
agent's own frames).
"""

from __future__ import annotations

import contextlib
import gc
import importlib.machinery
import os
import sys
import threading
from collections.abc import Awaitable, Callable, Coroutine
from types import TracebackType
from typing import Any

from withscope.core import marks
from withscope.core.recorder import Recorder

# asyncio, runpy, traceback, pathlib and the redaction are imported where they are needed: the
# agent's own start-up is part of every run's (an empty script's whole run is mostly start-up).


_AGENT_DIR = os.path.dirname(os.path.abspath(__file__))
_INSTRUMENT_DIR = os.path.join(_AGENT_DIR, "instrument") + os.sep
_CORE_DIR = os.path.dirname(_AGENT_DIR)
_LIB_DIR = os.path.dirname(os.__file__)
_OWN_FILES = frozenset({os.path.join(_LIB_DIR, "runpy.py"), os.path.join(_CORE_DIR, "targets.py")})

Outcome = tuple[str, Any]  # ("ok", None) | ("exit", int) | ("error", str) | ("target", str)


def redact_text(text: str) -> str:
    """`core.redact.redact_text` (imported on first use)."""
    from ..redact import redact_text as scrub  # noqa: TID252

    return scrub(text)


def _own(filename: str) -> bool:
    return filename.startswith(_AGENT_DIR) or filename in _OWN_FILES or filename.startswith("<frozen runpy")


def _user_traceback(tb: TracebackType | None) -> TracebackType | None:
    """`tb` without the leading frames of the agent, runpy and the target loader, nor the frames of
    the automatic instrumentation's wrappers (an `open()` of a missing file raises through one)."""
    while tb is not None and _own(tb.tb_frame.f_code.co_filename):
        tb = tb.tb_next
    entries = []
    while tb is not None:
        if not tb.tb_frame.f_code.co_filename.startswith(_INSTRUMENT_DIR):
            entries.append(tb)
        tb = tb.tb_next
    out: TracebackType | None = None
    for entry in reversed(entries):
        out = TracebackType(out, entry.tb_frame, entry.tb_lasti, entry.tb_lineno)
    return out


def error_text(exc: BaseException) -> str:
    """'ValueError: boom (raised at app.py:12 in load)': one line for a person; the site is the
    innermost frame outside the standard library and withscope (else the innermost)."""
    import traceback

    msg = str(exc).strip()
    text = f"{type(exc).__name__}: {msg}" if msg else type(exc).__name__
    text = text.splitlines()[0]
    frames = traceback.extract_tb(exc.__traceback__) if exc.__traceback__ is not None else []
    own = [f for f in frames if not f.filename.startswith((_LIB_DIR, _CORE_DIR)) and not f.filename.startswith("<")]
    pick = own[-1] if own else (frames[-1] if frames else None)
    if pick is not None:
        path = pick.filename
        try:
            rel = os.path.relpath(path)
            path = rel if not rel.startswith("..") else path
        except ValueError:
            pass
        text += f" (raised at {path}:{pick.lineno} in {pick.name})"
    return text


# ------------------------------------------------------------------------------ targets
def _run_script(path: str) -> None:
    if os.path.isdir(path) or (not path.endswith((".py", ".pyw")) and not os.path.isfile(path)):
        import runpy

        runpy.run_path(path, run_name="__main__")  # a folder or zip with __main__.py
        return
    main = sys.modules["__main__"]
    d = main.__dict__
    d.clear()
    d.update(
        __name__="__main__", __doc__=None, __package__=None, __spec__=None, __file__=path, __cached__=None,
        __loader__=importlib.machinery.SourceFileLoader("__main__", path), __builtins__=__builtins__,
    )  # fmt: skip
    with open(path, "rb") as f:
        source = f.read()
    code = compile(source, path, "exec", dont_inherit=True)
    exec(code, d)


def _run_module(name: str) -> None:
    import runpy

    as_main = getattr(runpy, "_run_module_as_main", None)  # what `python -m` itself calls
    if as_main is not None:
        as_main(name, alter_argv=True)
    else:  # pragma: no cover - every CPython 3.11-3.13 has it
        runpy.run_module(name, run_name="__main__", alter_sys=True)


def _prepare(spec: dict[str, Any]) -> tuple[Callable[[], Any], Any]:
    """The call that runs the target once, and the catalogue's WorkloadContext (or None).
    Sets `sys.argv` and `sys.path[0]` as Python would for that kind of target."""
    kind, target, args = spec["kind"], spec["target"], list(spec.get("args", ()))
    rest = [p for p in sys.path if p not in ("", spec.get("shim"))]
    shim = [spec["shim"]] if spec.get("shim") else []
    if kind == "script":
        path = os.path.abspath(target)
        sys.argv = [target, *args]
        sys.path[:] = [os.path.dirname(path), *shim, *rest]
        return (lambda: _run_script(path)), None
    if kind == "module":
        sys.argv = [target, *args]
        sys.path[:] = [os.getcwd(), *shim, *rest]
        return (lambda: _run_module(target)), None
    sys.path[:] = [*shim, *rest]
    from ..targets import resolve_target  # noqa: TID252

    resolved = resolve_target(target)
    sys.argv = [target.rpartition(":")[0] or target, *args]
    ctx = None
    if resolved.workload is not None:
        from pathlib import Path

        from withscope.core.context import DatabaseConfig, WorkloadContext

        db = DatabaseConfig(dsn=spec.get("dsn"), application_name=spec.get("application_name", "withscope"))
        ctx = WorkloadContext(
            tmpdir=Path(spec["tmpdir"]), db=db, stop=threading.Event(), scale=float(spec.get("scale", 1.0))
        )
    bound = ctx
    return (lambda: resolved.call(bound)), ctx  # type: ignore[arg-type]


def _exit_code(exc: SystemExit) -> int:
    code = exc.code
    if code is None:
        return 0
    if isinstance(code, int):
        return code
    print(code, file=sys.stderr)  # what Python prints for sys.exit("message")
    return 1


def run(
    spec: dict[str, Any], rec: Recorder, flush: Callable[[], None], at_end: Callable[[], None] | None = None
) -> Outcome:
    """Run the target `spec` describes (repeats included); see the module docstring. `at_end` is
    called when the target's own code is over, just before the `workload end` mark."""
    if spec.get("dsn"):  # a driver's error may echo it: scrubbed from what withscope prints
        from ..redact import register_dsn  # noqa: TID252

        register_dsn(spec["dsn"])
    n = max(1, int(spec.get("repeat", 1)))
    try:
        call, ctx = _prepare(spec)
    except SystemExit as exc:
        return _ended(exc)
    except BaseException as exc:  # a target that cannot be loaded (TargetError, ImportError, ...)
        if type(exc).__name__ == "TargetError":
            return "target", redact_text(str(exc).splitlines()[0])
        return _ended(exc)
    try:
        rec.mark(marks.RUN_START)
        flush()  # the parent knows the target started, even if what follows holds the GIL for long
        first = _repeat_sync(call, rec, flush, n, ctx, at_end)
        if first is not None:  # async: the rest runs in one event loop
            import asyncio

            asyncio.run(_repeat_async(first, call, rec, flush, n, ctx, at_end))
    except BaseException as exc:
        return _ended(exc)
    return "ok", None


def _ended(exc: BaseException) -> Outcome:
    if isinstance(exc, SystemExit):
        code = _exit_code(exc)
        return ("ok", None) if code == 0 else ("exit", code)
    with contextlib.suppress(Exception):
        _report(exc, _user_traceback(exc.__traceback__))
    return "error", redact_text(error_text(exc))


def _report(exc: BaseException, tb: TracebackType | None) -> None:
    """The traceback Python prints, with the secrets withscope was given (the --db DSN's password,
    which drivers echo in their errors) scrubbed. A hook the program installed reports as it likes."""
    if sys.excepthook is not sys.__excepthook__:
        sys.excepthook(type(exc), exc, tb)
        return
    import traceback

    sys.stderr.write(redact_text("".join(traceback.format_exception(type(exc), exc, tb))))
    sys.stderr.flush()


def _repeat_sync(
    call: Callable[[], Any],
    rec: Recorder,
    flush: Callable[[], None],
    n: int,
    ctx: Any,
    at_end: Callable[[], None] | None = None,
) -> Awaitable[Any] | None:
    """Run the repeats of a sync target; for an async one, return its first coroutine (not awaited)."""
    ended = False
    try:
        for i in range(1, n + 1):
            rec.mark(marks.repeat_start(i, n))
            result = call()
            if isinstance(result, Coroutine):
                ended = True  # the async runner marks the end
                return result
            rec.mark(marks.repeat_end(i, n))
            flush()
    finally:
        if not ended:
            if at_end is not None:
                at_end()
            rec.mark(marks.WORKLOAD_END)
            if ctx is not None:
                _cleanup_sync(ctx)
    return None


async def _repeat_async(
    first: Awaitable[Any],
    call: Callable[[], Any],
    rec: Recorder,
    flush: Callable[[], None],
    n: int,
    ctx: Any,
    at_end: Callable[[], None] | None = None,
) -> None:
    try:
        for i in range(1, n + 1):
            if i > 1:
                rec.mark(marks.repeat_start(i, n))
            await (first if i == 1 else call())
            rec.mark(marks.repeat_end(i, n))
            flush()
    finally:
        if at_end is not None:
            at_end()
        rec.mark(marks.WORKLOAD_END)
        if ctx is not None:
            errors = await ctx.leftovers.close_all()
            if errors:
                print(redact_text(f"withscope: closing leftovers: {'; '.join(errors)}"), file=sys.stderr)
            gc.collect()
            for _ in range(3):  # let finalizers scheduled by the collection (async generators) run
                await _sleep0()


def _cleanup_sync(ctx: Any) -> None:
    import asyncio

    try:
        errors = asyncio.run(ctx.leftovers.close_all())
    except Exception as exc:
        errors = [error_text(exc)]
    if errors:
        print(redact_text(f"withscope: closing leftovers: {'; '.join(errors)}"), file=sys.stderr)
    gc.collect()


async def _sleep0() -> None:
    import asyncio

    await asyncio.sleep(0)
