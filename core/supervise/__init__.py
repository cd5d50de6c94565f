"""withscope.core.supervise: running a target in its own process and observing it from here.

Public API::

    from withscope.core.supervise import ChildRun, child_target

    run = ChildRun(child_target("tool.py", ["--verbose"]), RunOptions(timeout_s=30))

The observed process carries only `withscope.core.agent` (standard library); this side samples
its process tree, folds its batches into a recorder, applies the rules and records.

The names are loaded on first use (PEP 562): `supervise.target` and `supervise.spawn` alone
(what `withscope run` needs to start the observed process) do not import the runner, the rules
or psutil.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .child_run import ChildRun
    from .feed import ChildRecorder
    from .spawn import default_python
    from .target import ChildTarget, child_target

# public name -> the submodule that defines it
_HOME = {
    "ChildRecorder": "feed",
    "ChildRun": "child_run",
    "ChildTarget": "target",
    "child_target": "target",
    "default_python": "spawn",
}

__all__ = ["ChildRecorder", "ChildRun", "ChildTarget", "child_target", "default_python"]


def __getattr__(name: str) -> Any:
    home = _HOME.get(name)
    if home is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{home}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *__all__])
