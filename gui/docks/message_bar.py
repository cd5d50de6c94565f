"""A non-modal message bar above the timeline: errors stay until dismissed, info fades after a while.

Never a modal dialog (a nested event loop inside a qasync coroutine fails with "Cannot enter into
task"): messages never block the loop. Every
message is also kept in `history` (bounded). Messages quote errors (a driver's may echo a DSN):
each text passes through `redact_text` before it is shown or kept. GUI thread only.
"""

from __future__ import annotations

import time
from collections import deque

from PySide6.QtCore import Qt, QTimer
from PySide6.QtWidgets import QFrame, QHBoxLayout, QLabel, QToolButton, QWidget
from withscope.core.redact import redact_text

INFO_TIMEOUT_MS = 8000


class MessageBar(QFrame):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("messageBar")
        self.label = QLabel()
        self.label.setWordWrap(True)
        self.label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        close = QToolButton()
        close.setText("✕")
        close.setAutoRaise(True)
        close.setToolTip("Dismiss")
        close.clicked.connect(self.hide)
        box = QHBoxLayout(self)
        box.setContentsMargins(10, 6, 6, 6)
        box.addWidget(self.label, 1)
        box.addWidget(close, 0, Qt.AlignmentFlag.AlignTop)
        self.history: deque[tuple[float, str, str]] = deque(maxlen=200)
        self.level = "info"
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.timeout.connect(self.hide)
        self.hide()

    def show_message(self, level: str, text: str) -> None:
        """`level` is "error", "warning" or "info"; info messages hide themselves."""
        text = redact_text(text)
        self.history.append((time.time(), level, text))
        self.level = level
        self.setProperty("level", "info" if level == "info" else "error")
        self.style().unpolish(self)
        self.style().polish(self)
        prefix = {"error": "⚠ ", "warning": "⚠ "}.get(level, "")
        self.label.setText(prefix + text)
        self.show()
        if level == "info":
            self._timer.start(INFO_TIMEOUT_MS)
        else:
            self._timer.stop()

    def text(self) -> str:
        return self.label.text()
