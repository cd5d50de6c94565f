"""What the tours use of the main window and of its features, as Protocols.

The window (`shell.main_window.MainWindow`) and its features (`shell.features.Features`) live in
the shell, above this layer: the tours name only these members of them, so they never import the
shell (the layers' import contract). The window is also a `QMainWindow` (the docks' host): the
classes here take it as one and check it once.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Protocol

from withscope.gui.recordings.window import RecordingsWindow

if TYPE_CHECKING:
    from PySide6.QtGui import QAction
    from PySide6.QtWidgets import QDockWidget
    from withscope.gui.docks.alerts_dock import AlertsDock
    from withscope.gui.docks.catalogue_dock import CatalogueDock
    from withscope.gui.recordings.replay import Replay


class TourWindow(RecordingsWindow, Protocol):
    """The main window's members a tour uses, besides those the recordings use."""

    @property
    def alerts(self) -> AlertsDock: ...
    @property
    def catalogue(self) -> CatalogueDock: ...
    @property
    def dock_sizes(self) -> Callable[[int, int], dict[str, int]]: ...  # (width, height) -> px by dock
    def _dock(self, attr: str) -> QDockWidget: ...
    def run_workloads(self, names: list[str], repeat: int = 1) -> None: ...
    def stop_all(self) -> None: ...
    def clear(self) -> None: ...


class TourFeatures(Protocol):
    """The window's features as a tour sees them (its menu action, the tour runner, the replay)."""

    @property
    def actions(self) -> dict[str, QAction]: ...
    def start_tour(self, spec: str | None) -> None: ...
    def replay_if_any(self) -> Replay | None: ...
