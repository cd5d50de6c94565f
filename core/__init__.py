"""withscope.core: the pure-Python recording core. Never imports Qt; runs headless under asyncio.

Public API (re-exported explicitly)::

    from withscope.core import Recorder, track, tracked, track_stream

The names are loaded on first use (PEP 562), so importing a submodule alone (the pytest plugin,
the CLI's argument parser) does not pay for the recorder, asyncio and the accelerator.
"""

from __future__ import annotations

import importlib
import sys
import types
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .events import Alert, Lifetime, Mark, Outcome, Sample, Severity, StreamStats
    from .recorder import Batch, Recorder, current_recorder, default_recorder
    from .streams import AsyncTrackedStream, TrackedStream, track_stream
    from .track import Tracked, track, tracked

# public name -> the submodule that defines it
_HOME = {
    "Alert": "events",
    "Lifetime": "events",
    "Mark": "events",
    "Outcome": "events",
    "Sample": "events",
    "Severity": "events",
    "StreamStats": "events",
    "Batch": "recorder",
    "Recorder": "recorder",
    "current_recorder": "recorder",
    "default_recorder": "recorder",
    "AsyncTrackedStream": "streams",
    "TrackedStream": "streams",
    "track_stream": "streams",
    "Tracked": "track",
    "track": "track",
    "tracked": "track",
}

__all__ = [
    "Alert",
    "AsyncTrackedStream",
    "Batch",
    "Lifetime",
    "Mark",
    "Outcome",
    "Recorder",
    "Sample",
    "Severity",
    "StreamStats",
    "Tracked",
    "TrackedStream",
    "current_recorder",
    "default_recorder",
    "track",
    "track_stream",
    "tracked",
]
assert set(__all__) == set(_HOME)


def __getattr__(name: str) -> Any:
    home = _HOME.get(name)
    if home is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{home}", __name__), name)
    if name != "track":  # (the package property answers `track`: see _Package)
        globals()[name] = value  # later look-ups skip this function
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})


class _Package(types.ModuleType):
    """`withscope.core.track` is the function, never the submodule of the same name. (The import
    system binds a submodule to its package's attribute when it first loads it: whoever imports
    `withscope.core.track` the module before `track` the function is asked for would otherwise
    turn `from withscope.core import track` into the module.)"""

    @property
    def track(self) -> Any:
        return __getattr__("track")

    @track.setter
    def track(self, value: Any) -> None:  # the import system binding the submodule: keep the function
        pass


sys.modules[__name__].__class__ = _Package
