"""withscope.core: the pure-Python recording core. Never imports Qt; runs headless under asyncio.

Public API (re-exported explicitly)::

    from withscope.core import Recorder, track, tracked, track_stream

"""

from .events import Alert, Lifetime, Mark, Outcome, Sample, Severity, StreamStats
from .recorder import Batch, Recorder, current_recorder, default_recorder
from .streams import AsyncTrackedStream, TrackedStream, track_stream
from .track import Tracked, track, tracked

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
