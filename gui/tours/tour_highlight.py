"""What a tour step points at, made visible: a flashing frame around the focused view, a band
over the lanes of one resource kind in the timeline, and the first alert of one rule selected.

`Highlighter.focus(focus)` raises the view (`timeline`, `alerts`, `metrics`, `throughput`,
`catalogue`) and flashes a frame around it; with a `kind`, the timeline is grouped by kind and a
band covers that kind's lanes (kept in place as lanes grow); with a `rule`, the first alert of
that rule is selected in the alerts dock as soon as it arrives (which also highlights its bar
and shows its details). `clear()` removes it all. Nothing here changes the views' data.

GUI thread only.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtCore import QObject, QPoint, Qt, QTimer
from PySide6.QtGui import QColor
from PySide6.QtWidgets import QFrame, QMainWindow, QWidget
from withscope.gui.style import theme as th

if TYPE_CHECKING:  # imported where a band is drawn: `withscope demo` shows its window first
    import pyqtgraph as pg
    from withscope.core.tours import Focus
    from withscope.gui.bridge.bridge import RunAlert
    from withscope.gui.tours.window import TourWindow

FLASH_MS = 260
FLASHES = 6  # visibility toggles before the frame stays on
ACCENT = "#f28e2b"


class FlashFrame(QFrame):
    """A mouse-transparent coloured frame drawn over another widget of the window."""

    def __init__(self, parent: QWidget) -> None:
        super().__init__(parent)
        self.setObjectName("tourFlash")
        self.setAttribute(Qt.WidgetAttribute.WA_TransparentForMouseEvents)
        self.setStyleSheet(f"QFrame#tourFlash {{ border: 3px solid {ACCENT}; border-radius: 6px; "
                           "background: transparent; }")
        self.target: QWidget | None = None
        self.hide()

    def follow(self) -> None:
        t = self.target
        if t is None or not t.isVisible():
            self.hide()
            return
        parent = self.parentWidget()
        assert parent is not None  # built with the window as its parent
        top_left = t.mapTo(parent, QPoint(0, 0))
        self.setGeometry(top_left.x() - 2, top_left.y() - 2, t.width() + 4, t.height() + 4)
        self.raise_()


class Highlighter(QObject):
    def __init__(self, win: TourWindow) -> None:
        assert isinstance(win, QMainWindow)  # the main window: this object's parent, the frame's host
        super().__init__(win)
        self.win = win
        self.frame = FlashFrame(win)
        self.view: str | None = None
        self.rule: str | None = None
        self.kind: str | None = None
        self.band: pg.LinearRegionItem | None = None
        self.selected_alert: RunAlert | None = None  # the alert selected for `rule`
        self._flashes = 0
        self._timer = QTimer(self)
        self._timer.setInterval(FLASH_MS)
        self._timer.timeout.connect(self._tick)
        win.bridge.alertsAdded.connect(self._on_alerts)
        win.bridge.lifetimesChanged.connect(self._on_lifetimes)

    def widget_for(self, view: str) -> QWidget:
        w = self.win
        return {"alerts": w.alerts, "metrics": w.metrics, "throughput": w.throughput,
                "catalogue": w.catalogue}.get(view, w.timeline)

    # ------------------------------------------------------------------ focus
    def focus(self, focus: Focus) -> None:
        """Point at `focus` (a `core.tours.Focus`)."""
        self.clear()
        self.view, self.rule, self.kind = focus.view, focus.rule, focus.kind
        target = self.widget_for(focus.view)
        if target is not self.win.timeline:
            target.show()
            target.raise_()
        if self.rule is not None and focus.view != "alerts":
            self.win.alerts.show()
            self.win.alerts.raise_()
        self.flash(target)
        if self.kind is not None:
            if self.win.timeline.group_by != "kind":
                self.win.timeline.set_group_by("kind")
            self._update_band()
        self.select_rule_alert()

    def flash(self, target: QWidget | None = None) -> None:
        if target is not None:
            self.frame.target = target
        self._flashes = 0
        self._place()  # never shown before it is placed (it would flash at the window's corner)
        QTimer.singleShot(0, self._place)  # again once the dock raise has laid it out
        self._timer.start()

    def _place(self) -> None:
        self.frame.follow()
        t = self.frame.target
        self.frame.setVisible(t is not None and t.isVisible())

    def _tick(self) -> None:
        self._flashes += 1
        self.frame.follow()
        if self._flashes < FLASHES:
            self.frame.setVisible(self._flashes % 2 == 0)
        else:
            self.frame.setVisible(self.frame.target is not None and self.frame.target.isVisible())
            self._timer.setInterval(FLASH_MS * 4)  # then keep the frame on the target as it moves

    def after_runs(self) -> None:
        """The step's runs finished: select the rule's alert and flash again."""
        self.select_rule_alert()
        self._update_band()
        if self.frame.target is not None:
            self._timer.setInterval(FLASH_MS)
            self.flash()

    # ------------------------------------------------------------------ rule and kind
    def select_rule_alert(self) -> bool:
        if self.rule is None:
            return False
        rows = self.win.alerts.model.rows
        idx = next((i for i in range(len(rows) - 1, -1, -1) if rows[i].alert.rule == self.rule
                    and (self.kind is None or self._alert_kind(rows[i]) in (None, self.kind))), None)
        if idx is None:
            idx = next((i for i in range(len(rows) - 1, -1, -1) if rows[i].alert.rule == self.rule), None)
        if idx is None:
            return False
        if self.selected_alert is rows[idx]:
            return True
        self.selected_alert = rows[idx]
        self.win.alerts.select_row(idx)
        return True

    def _alert_kind(self, ra: RunAlert) -> str | None:
        store = self.win.bridge.store
        row = ra.row
        if row is None and ra.alert.lifetime_id is not None:
            row = store.row_of(ra.run, ra.alert.lifetime_id)
        return None if row is None or row >= store.n else store.kinds[int(store.kind[row])]

    def _on_alerts(self, _alerts: object) -> None:
        if self.rule is not None and self.selected_alert is None:
            self.select_rule_alert()

    def _on_lifetimes(self, _delta: object) -> None:
        if self.kind is not None:
            self._update_band()

    def band_range(self) -> tuple[float, float] | None:
        """(top, bottom) y of the focused kind's lanes in the timeline, None when not shown."""
        tl = self.win.timeline
        if self.kind is None or tl.group_by != "kind":
            return None
        for name, top, rows in tl.layout_.groups():
            if name == self.kind:
                return top - 0.15, top + rows + 0.15
        return None

    def _update_band(self) -> None:
        rng = self.band_range()
        if rng is None:
            if self.band is not None:
                self.band.hide()
            return
        if self.band is None:
            colour = QColor(ACCENT)
            fill = QColor(colour)
            fill.setAlpha(40 if th.current().dark else 30)
            import pyqtgraph as pg

            self.band = pg.LinearRegionItem(values=rng, orientation="horizontal", movable=False,
                                            brush=pg.mkBrush(fill), pen=pg.mkPen(colour, width=1))
            self.band.setZValue(5)  # over the lane bands and bars (translucent), under the "now" line
            self.win.timeline.plot.addItem(self.band, ignoreBounds=True)
        else:
            self.band.setRegion(rng)
        self.band.show()

    # ------------------------------------------------------------------ ending
    def clear(self) -> None:
        self._timer.stop()
        self._timer.setInterval(FLASH_MS)
        self.frame.hide()
        self.frame.target = None
        self.view = self.rule = self.kind = None
        self.selected_alert = None
        if self.band is not None:
            self.win.timeline.plot.removeItem(self.band)
            self.band = None
