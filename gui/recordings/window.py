"""What the recordings layer uses of the main window and of its features, as Protocols.

The window (`shell.main_window.MainWindow`) and its features (`shell.features.Features`) live in
the shell, above this layer: the recordings name only these few members of them, so they never
import the shell (the layers' import contract). The window is also a `QMainWindow` (a parent,
a dialog's owner): the classes here take it as one and check it once.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from PySide6.QtWidgets import QLabel
    from withscope.gui.bridge.bridge import Bridge
    from withscope.gui.bridge.runs import RunController
    from withscope.gui.docks.message_bar import MessageBar
    from withscope.gui.docks.metrics_dock import MetricsDock
    from withscope.gui.docks.throughput_dock import ThroughputDock
    from withscope.gui.recordings.recordings import RunHistory
    from withscope.gui.recordings.replay import Replay
    from withscope.gui.timeline.timeline import TimelineView


class RecordingsWindow(Protocol):
    """The main window's members the recordings use (the views exist: see `when_ready`)."""

    @property
    def bridge(self) -> Bridge: ...
    @property
    def controller(self) -> RunController: ...
    @property
    def messages(self) -> MessageBar: ...
    @property
    def status_running(self) -> QLabel: ...
    @property
    def shut_down(self) -> bool: ...
    @property
    def timeline(self) -> TimelineView: ...
    @property
    def metrics(self) -> MetricsDock: ...
    @property
    def throughput(self) -> ThroughputDock: ...
    def when_ready(self, fn: Callable[..., Any], *args: Any) -> None: ...


class RecordingsFeatures(Protocol):
    """The window's features (menus and their plumbing) as the exports see them."""

    def runs(self) -> RunHistory: ...
    def replay_if_any(self) -> Replay | None: ...
