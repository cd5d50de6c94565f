"""`Frames`: the views' redraws spread over a frame, one view per loop turn.

The bridge publishes a frame's data in one timer callback; if every view changed its items right
there, Qt would repaint them all in the same pass, right after it - one long stall of the event
loop (tens of ms) per frame, which workloads on the loop feel as lag. Instead a view asks
`request(present)` for a slot: the callbacks run one per `SLOT_MS`, in request order, each followed
by the repaint of just what it changed, with the loop free in between. A callback requested again
before its slot runs once.

While the owner is not live (no frame timer: tests, replay seeking, start-up) `request` runs the
callback at once, so views built on a bare `Bridge` stay synchronous. GUI thread only.
"""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import QObject, QTimer
from PySide6.QtWidgets import QWidget

SLOT_MS = 10  # between two views' redraws: room for the loop's other callbacks and the 5 ms repaint delay


def on_screen(widget: QWidget) -> bool:
    """Shown and not covered: a dock behind another tab stays `isVisible()` but shows nothing."""
    return widget.isVisible() and not widget.visibleRegion().isEmpty()


class Frames(QObject):
    def __init__(self, live: Callable[[], bool], parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._live = live
        self._queue: dict[Callable[[], None], None] = {}  # insertion-ordered set
        self._releases: dict[QWidget, Callable[[], None]] = {}  # hold(): one callback per widget
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setInterval(SLOT_MS)
        self._timer.timeout.connect(self._run_next)

    @property
    def live(self) -> bool:
        """True while frames are staggered (the owner's frame timer runs)."""
        return self._live()

    def request(self, present: Callable[[], None]) -> None:
        """Run `present` in the next free slot (at once while not live)."""
        if not self._live():
            self._queue.pop(present, None)
            present()
            return
        self._queue[present] = None
        if not self._timer.isActive():
            self._timer.start()

    def hold(self, widget: QWidget) -> None:
        """Keep `widget` from repainting until a slot of its own: what changed in it now (say, an x
        range linked to another view's) is painted then, not in the current pass."""
        if not self._live() or not widget.updatesEnabled() or not widget.isVisible():
            return
        widget.setUpdatesEnabled(False)
        release = self._releases.get(widget)
        if release is None:
            def release(w: QWidget = widget) -> None:
                w.setUpdatesEnabled(True)  # repaints it

            self._releases[widget] = release
            widget.destroyed.connect(lambda *_: self._forget(release))
        self.request(release)

    def _forget(self, release: Callable[[], None]) -> None:
        self._queue.pop(release, None)
        for w, r in list(self._releases.items()):
            if r is release:
                del self._releases[w]

    @property
    def pending(self) -> int:
        return len(self._queue)

    def _run_next(self) -> None:
        if not self._queue:
            return
        present = next(iter(self._queue))
        del self._queue[present]
        try:
            present()
        finally:
            if self._queue:
                self._timer.start()

    def flush(self) -> None:
        """Run every pending callback now (e.g. before a screenshot)."""
        self._timer.stop()
        while self._queue:
            present = next(iter(self._queue))
            del self._queue[present]
            present()

    def clear(self) -> None:
        self._timer.stop()
        self._queue.clear()
