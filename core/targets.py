"""What to run: a catalogue name, `path/to/file.py:function` or `package.module:function`.

`resolve_target(spec)` returns a `Target` or raises `TargetError` whose message is one line
naming the problem and what exists ("app.py has no function 'mian'; functions there: main,
helper"). A user's function takes no required arguments, may be sync or async, and uses
`track()` from `withscope.core`; a sync one runs in an executor thread, so a run can only stop
it between its own steps (it cannot see the run's stop flag).

Loading a file runs its top-level code once (like `python file.py` would, under a private
module name) and puts its folder first on `sys.path` so sibling imports work.
"""

from __future__ import annotations

import importlib
import importlib.util
import itertools
import os
import sys
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # (the catalogue is imported only for a catalogue name: `withscope run app.py` never pays for it)
    from withscope.core.context import WorkloadContext
    from withscope.core.workloads.base import Workload

_module_ids = itertools.count(1)


class TargetError(ValueError):
    """A target that cannot be run; `str(err)` is one line for a person."""


@dataclass(frozen=True, slots=True)
class Target:
    """A resolved target. `func` takes a `WorkloadContext` when `takes_context`, else nothing."""

    name: str
    func: Callable[..., Any]
    is_async: bool
    takes_context: bool
    workload: Workload | None = None

    @property
    def blocking(self) -> bool:
        return not self.is_async

    def call(self, ctx: WorkloadContext) -> Any:
        """Call the function (returns a coroutine for async targets)."""
        return self.func(ctx) if self.takes_context else self.func()


def catalogue() -> list[Workload]:
    """Every catalogue entry, in catalogue order."""
    from withscope.core.workloads import CATALOGUE

    return list(CATALOGUE.values())


def _catalogue_get(name: str) -> Workload | None:
    from withscope.core.workloads import CATALOGUE

    return CATALOGUE.get(name)


def _examples() -> str:
    names = [w.name for w in catalogue()]
    shown = ", ".join(names[:4])
    return f"catalogue names like {shown}{', ...' if len(names) > 4 else ''} (see `withscope list`)"


def resolve_target(spec: str) -> Target:
    """Resolve a target string (see the module docstring). Raises `TargetError`."""
    spec = spec.strip()
    if not spec:
        raise TargetError("empty target: give a catalogue name, FILE.py:FUNCTION or MODULE:FUNCTION")
    wl = _catalogue_get(spec)
    if wl is not None:
        return Target(wl.name, wl.func, not wl.blocking, True, wl)
    if ":" not in spec:
        if spec.endswith(".py"):
            raise TargetError(f"{spec!r} names a file but no function: write {spec}:FUNCTION")
        raise TargetError(
            f"unknown target {spec!r}: not a catalogue name ({_examples()}), nor FILE.py:FUNCTION or MODULE:FUNCTION"
        )
    where, _, func_name = spec.rpartition(":")
    if not func_name.isidentifier() and not all(p.isidentifier() for p in func_name.split(".")):
        raise TargetError(f"{func_name!r} in {spec!r} is not a function name")
    if where.endswith(".py") or os.sep in where or "/" in where:
        module = _load_file(where)
        origin = where
    else:
        module = _import_module(where)
        origin = f"module {where}"
    func = _lookup(module, func_name, origin)
    return _check_callable(spec, func, origin, func_name)


def _load_file(path: str) -> Any:
    full = os.path.abspath(path)
    if not os.path.isfile(full):
        raise TargetError(f"no such file: {path}")
    name = f"withscope_target_{next(_module_ids)}_{os.path.splitext(os.path.basename(full))[0]}"
    spec = importlib.util.spec_from_file_location(name, full)
    if spec is None or spec.loader is None:
        raise TargetError(f"cannot load {path} as Python")
    module = importlib.util.module_from_spec(spec)
    folder = os.path.dirname(full)
    if folder not in sys.path:
        sys.path.insert(0, folder)
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    except SyntaxError as exc:
        sys.modules.pop(name, None)
        raise TargetError(f"{path}:{exc.lineno}: syntax error: {exc.msg}") from None
    except BaseException as exc:
        sys.modules.pop(name, None)
        if isinstance(exc, KeyboardInterrupt | SystemExit):
            raise
        raise TargetError(f"importing {path} failed: {type(exc).__name__}: {exc}") from None
    return module


def _import_module(name: str) -> Any:
    # Like `python -m`, a module target may live in the current directory; it goes last on the
    # path, so it never hides an installed module of the same name.
    cwd = os.getcwd()
    if cwd not in sys.path and "" not in sys.path:
        sys.path.append(cwd)
        importlib.invalidate_caches()
    try:
        return importlib.import_module(name)
    except ModuleNotFoundError as exc:
        if exc.name and name.startswith(exc.name):
            raise TargetError(
                f"no module named {exc.name!r} (for target module {name!r}; looked in the current "
                "directory and sys.path)"
            ) from None
        raise TargetError(f"importing {name} failed: ModuleNotFoundError: {exc}") from None
    except Exception as exc:
        raise TargetError(f"importing {name} failed: {type(exc).__name__}: {exc}") from None


def _lookup(module: Any, dotted: str, origin: str) -> Any:
    import inspect  # (here: `withscope run script.py` starts its process before it would need it)

    obj = module
    for part in dotted.split("."):
        try:
            obj = getattr(obj, part)
        except AttributeError:
            funcs = sorted(
                n
                for n, v in vars(module).items()
                if not n.startswith("_") and inspect.isfunction(v) and v.__module__ == module.__name__
            )
            listing = ", ".join(funcs) if funcs else "none"
            raise TargetError(f"{origin} has no function {dotted!r}; functions there: {listing}") from None
    return obj


def _check_callable(spec: str, func: Any, origin: str, name: str) -> Target:
    import inspect

    if not callable(func) or isinstance(func, type):
        raise TargetError(f"{name!r} in {origin} is a {type(func).__name__}, not a function")
    try:
        sig = inspect.signature(func)
    except (TypeError, ValueError):
        sig = None
    if sig is not None:
        required = [
            p.name
            for p in sig.parameters.values()
            if p.default is p.empty and p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)
        ]
        if required:
            raise TargetError(f"{name}() in {origin} needs arguments ({', '.join(required)}); a target takes none")
    is_async = inspect.iscoroutinefunction(func) or inspect.iscoroutinefunction(type(func).__call__)
    if inspect.isasyncgenfunction(func) or inspect.isgeneratorfunction(func):
        raise TargetError(f"{name}() in {origin} is a generator; a target is a plain or async function")
    return Target(spec, func, is_async, False, None)
