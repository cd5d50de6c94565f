"""The tour panel (a dock): step title, narration, step n of N, Back / Next / Auto-play with a
pace, Presenter, and a tour chooser. It only shows and asks; `TourPlayer` decides.

Narration: blank lines split paragraphs, `backticks` mark code (monospace); a step's `code`
shows as a monospace block. A malformed or unknown tour shows its error in the panel (the file
and every problem), never in a modal dialog.

Keyboard while the panel has focus: Right / PageDown next, Left / PageUp back, Space play/pause
(presentation clickers send PageDown/PageUp). GUI thread only.
"""

from __future__ import annotations

import html
import re
from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QFont, QFontDatabase, QKeyEvent
from PySide6.QtWidgets import (
    QApplication,
    QComboBox,
    QDockWidget,
    QDoubleSpinBox,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QTextBrowser,
    QVBoxLayout,
    QWidget,
)
from withscope.core.tours import Focus, Tour, TourStep
from withscope.gui.style import theme as th

NEXT_KEYS = (Qt.Key.Key_Right, Qt.Key.Key_PageDown)
TITLE_SCALE = 1.45  # step title and narration, relative to the application font
NARRATION_SCALE = 1.15
BACK_KEYS = (Qt.Key.Key_Left, Qt.Key.Key_PageUp)
FOCUS_TEXT = {
    "timeline": "the timeline",
    "alerts": "the leak alerts",
    "metrics": "the process metrics",
    "throughput": "the streaming throughput",
    "catalogue": "the catalogue",
}


def narration_html(paragraphs: tuple[str, ...] | list[str], code: str | None, theme: th.Theme) -> str:
    """Paragraphs as HTML with `code` spans in monospace, then the code block (escaped)."""
    mono = QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont).family()
    code_bg = "#2a2f36" if theme.dark else "#eef1f4"
    span = f"<code style=\"font-family: '{mono}', monospace; background-color: {code_bg};\">"
    out = []
    for p in paragraphs:
        parts = re.split(r"`([^`]*)`", p)
        text = "".join(html.escape(s) if i % 2 == 0 else f"{span}&nbsp;{html.escape(s)}&nbsp;</code>"
                       for i, s in enumerate(parts))
        out.append(f"<p style='margin-bottom: 0.6em'>{text}</p>")
    if code:
        out.append(f"<pre style=\"font-family: '{mono}', monospace; background-color: {code_bg}; "
                   f"padding: 6px;\">{html.escape(code)}</pre>")
    return "\n".join(out)


def focus_text(focus: Focus) -> str:
    text = FOCUS_TEXT.get(focus.view, focus.view)
    extra = []
    if focus.rule:
        extra.append(f"the “{focus.rule}” alerts")
    if focus.kind:
        extra.append(f"the {focus.kind} bars")
    return text + (f" — {' and '.join(extra)}" if extra else "")


class TourBody(QWidget):
    """The panel's content; takes the keyboard (buttons and text never steal the focus)."""

    nextRequested = Signal()
    backRequested = Signal()
    playToggleRequested = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)

    def keyPressEvent(self, event: QKeyEvent) -> None:  # Qt API
        key = event.key()
        if key in NEXT_KEYS:
            self.nextRequested.emit()
        elif key in BACK_KEYS:
            self.backRequested.emit()
        elif key == Qt.Key.Key_Space:
            self.playToggleRequested.emit()
        else:
            super().keyPressEvent(event)
            return
        event.accept()

    def mousePressEvent(self, event: Any) -> None:  # Qt API: a click on the panel gives it the keys
        self.setFocus(Qt.FocusReason.MouseFocusReason)
        super().mousePressEvent(event)


class TourPanel(QDockWidget):
    backRequested = Signal()
    nextRequested = Signal()
    playToggled = Signal(bool)
    paceChanged = Signal(float)
    presenterToggled = Signal(bool)
    tourChosen = Signal(str)  # a tour name, or a path
    openFileRequested = Signal()
    play_button: QPushButton  # built by a later method of __init__

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__("Tour", parent)
        self.setObjectName("tourDock")
        self.body = TourBody()
        self.body.nextRequested.connect(self.nextRequested)
        self.body.backRequested.connect(self.backRequested)
        self.body.playToggleRequested.connect(lambda: self.play_button.toggle())
        self.scale = 1.0

        self.chooser = QComboBox()
        self.chooser.setToolTip("Choose a tour (built in, or from $WITHSCOPE_TOURS)")
        self.chooser.setFocusPolicy(Qt.FocusPolicy.ClickFocus)
        self.chooser.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        self.chooser.setMinimumContentsLength(14)
        self.chooser.activated.connect(self._on_chosen)
        self.open_button = QPushButton("Open tour file…")
        self.open_button.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.open_button.clicked.connect(self.openFileRequested)
        self.progress = QLabel()
        self.progress.setObjectName("tourProgress")
        self.progress.setAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        self.step_title = QLabel()
        self.step_title.setObjectName("tourStepTitle")
        self.step_title.setWordWrap(True)
        self.narration = QTextBrowser()
        self.narration.setObjectName("tourNarration")
        self.narration.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.narration.setOpenLinks(False)
        self.narration.setFrameShape(QTextBrowser.Shape.NoFrame)
        self.runs_label = QLabel()
        self.runs_label.setObjectName("tourRuns")
        self.runs_label.setWordWrap(True)
        self.look_label = QLabel()
        self.look_label.setObjectName("tourLook")
        self.look_label.setWordWrap(True)
        self.error = QLabel()
        self.error.setObjectName("tourError")
        self.error.setWordWrap(True)
        self.error.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.error.hide()

        self.back_button = QPushButton("◀ Back")
        self.next_button = QPushButton("Next ▶")
        self.play_button = QPushButton("Auto-play")
        self.play_button.setCheckable(True)
        self.play_button.setToolTip("Advance on its own: each step's runs, then the pace (Space)")
        self.pace = QDoubleSpinBox()
        self.pace.setRange(0.5, 600)
        self.pace.setDecimals(1)
        self.pace.setSingleStep(1)
        self.pace.setSuffix(" s")
        self.pace.setToolTip("Auto-play pace: how long a step stays after its runs finished")
        self.pace.setFocusPolicy(Qt.FocusPolicy.ClickFocus)
        self.presenter_button = QPushButton("Presenter")
        self.presenter_button.setCheckable(True)
        self.presenter_button.setToolTip("Larger fonts everywhere, for a projector")
        for b in (self.back_button, self.next_button, self.play_button, self.presenter_button):
            b.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.back_button.setToolTip("Previous step (Left / PageUp)")
        self.next_button.setToolTip("Next step (Right / PageDown)")
        self.back_button.clicked.connect(self.backRequested)
        self.next_button.clicked.connect(self.nextRequested)
        self.play_button.toggled.connect(self.playToggled)
        self.pace.valueChanged.connect(self.paceChanged)
        self.presenter_button.toggled.connect(self.presenterToggled)

        top = QHBoxLayout()
        top.addWidget(self.chooser, 1)
        top.addWidget(self.open_button)
        nav = QHBoxLayout()
        nav.addWidget(self.back_button)
        nav.addWidget(self.next_button)
        nav.addStretch(1)
        nav.addWidget(self.progress)
        play = QHBoxLayout()
        play.addWidget(self.play_button)
        play.addWidget(QLabel("pace"))
        play.addWidget(self.pace)
        play.addStretch(1)
        play.addWidget(self.presenter_button)
        box = QVBoxLayout(self.body)
        box.setContentsMargins(8, 6, 8, 8)
        box.setSpacing(6)
        box.addLayout(top)
        box.addWidget(self.error)
        box.addWidget(self.step_title)
        box.addWidget(self.narration, 1)
        box.addWidget(self.runs_label)
        box.addWidget(self.look_label)
        box.addLayout(nav)
        box.addLayout(play)
        self.setWidget(self.body)
        self.setFocusProxy(self.body)
        th.notifier().changed.connect(self._restyle)
        self._paragraphs: tuple[str, ...] = ()
        self._code: str | None = None
        self._restyle(th.current())
        self.set_scale(1.0)

    # ------------------------------------------------------------------ content
    def set_tours(self, entries: list[tuple[str, str]], current: str | None) -> None:
        """`entries`: (name or path, title) of the tours to offer."""
        self.chooser.blockSignals(True)
        self.chooser.clear()
        for key, title in entries:
            self.chooser.addItem(title, key)
        i = self.chooser.findData(current) if current is not None else -1
        self.chooser.setCurrentIndex(i)
        self.chooser.blockSignals(False)

    def _on_chosen(self, i: int) -> None:
        key = self.chooser.itemData(i)
        if key:
            self.tourChosen.emit(str(key))

    def show_step(self, tour: Tour, index: int, step: TourStep) -> None:
        self.error.hide()
        self.setWindowTitle(f"Tour — {tour.title}")
        self.progress.setText(f"Step {index + 1} of {len(tour.steps)}")
        self.step_title.setText(step.title)
        self._paragraphs, self._code = step.paragraphs, step.code
        self._render_narration()
        runs = ", ".join(step.workloads)
        if runs and step.repeat > 1:
            runs += f" (×{step.repeat})"
        self.runs_label.setText(f"Runs: {runs}" if runs else "")
        self.runs_label.setVisible(bool(runs))
        self.look_label.setText(f"Look at {focus_text(step.focus)}.")
        self.back_button.setEnabled(index > 0)
        self.next_button.setEnabled(index < len(tour.steps) - 1)
        self.next_button.setText("Next ▶" if index < len(tour.steps) - 1 else "End")

    def set_status(self, text: str) -> None:
        base = self.runs_label.text().split(" — ", 1)[0]
        if base:
            self.runs_label.setText(f"{base} — {text}" if text else base)

    def show_error(self, text: str) -> None:
        """A tour that cannot be shown: the file and its problems, in the panel (non-modal)."""
        self.error.setText(f"⚠ {html.escape(text)}".replace("\n", "<br>"))
        self.error.setTextFormat(Qt.TextFormat.RichText)
        self.error.show()

    def set_playing(self, on: bool) -> None:
        if self.play_button.isChecked() != on:
            self.play_button.blockSignals(True)
            self.play_button.setChecked(on)
            self.play_button.blockSignals(False)
        self.play_button.setText("Pause" if on else "Auto-play")

    def set_pace(self, seconds: float) -> None:
        self.pace.blockSignals(True)
        self.pace.setValue(seconds)
        self.pace.blockSignals(False)

    def set_presenter(self, on: bool) -> None:
        self.presenter_button.blockSignals(True)
        self.presenter_button.setChecked(on)
        self.presenter_button.blockSignals(False)

    # ------------------------------------------------------------------ look
    def set_scale(self, scale: float) -> None:
        """Fonts of the panel relative to the application font (presenter mode scales that font;
        `scale` is what it was scaled by)."""
        self.scale = scale
        base = QFont(QApplication.font())
        size = base.pointSizeF() if base.pointSizeF() > 0 else 10.0
        title = QFont(base)
        title.setPointSizeF(size * TITLE_SCALE)
        title.setBold(True)
        self.step_title.setFont(title)
        text = QFont(base)
        text.setPointSizeF(size * NARRATION_SCALE)
        self.narration.document().setDefaultFont(text)
        self._render_narration()

    def _render_narration(self) -> None:
        self.narration.setHtml(narration_html(self._paragraphs, self._code, th.current()))

    def _restyle(self, theme: th.Theme) -> None:
        self.error.setStyleSheet("QLabel#tourError { color: #e15759; font-weight: 600; }")
        self.progress.setStyleSheet(f"color: {theme.muted};")
        self.look_label.setStyleSheet("QLabel#tourLook { font-weight: 600; }")
        self._render_narration()

    def narration_text(self) -> str:
        return self.narration.toPlainText()
