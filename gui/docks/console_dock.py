"""Console dock: what the runs' programs print, live, with each line tagged with its run.

`ConsoleBuffer` (gui/model/console.py) is the model: the `RunController` adds every line a run's program writes to its
stdout or stderr (`core.supervise.output` has already split and elided them) and it keeps at most
`HISTORY` lines not yet shown (older ones are counted as dropped). `ConsoleDock` is the view: a
read-only `QPlainTextEdit` limited to `HISTORY` blocks, appended once per bridge frame (never per
line), stderr in the theme's error colour, each line after its run's tag; it stays at the bottom
unless the user scrolled up. Clear empties it. GUI thread only.
"""

from __future__ import annotations

from PySide6.QtGui import QColor, QFont, QFontDatabase, QTextCharFormat, QTextCursor
from PySide6.QtWidgets import QDockWidget, QHBoxLayout, QLabel, QPlainTextEdit, QPushButton, QVBoxLayout, QWidget
from withscope.gui.model.console import HISTORY, ConsoleBuffer
from withscope.gui.style import theme as th

TAG_CHARS = 32  # a run's tag (its program and number, `tool.py #2`) is cut to this many characters
STDERR_COLOUR = "#e15759"  # the theme's error red (the message bar's border)
EMPTY_TEXT = "The output of the programs you run appears here (stdout, and stderr in red)."


def tag(name: str) -> str:
    return name if len(name) <= TAG_CHARS else name[: TAG_CHARS - 1] + "…"


class ConsoleDock(QDockWidget):
    def __init__(self, buffer: ConsoleBuffer, frames_signal: object, parent: QWidget | None = None) -> None:
        """`frames_signal`: a signal emitted every frame (the bridge's `statsChanged`)."""
        super().__init__("Console", parent)
        self.setObjectName("consoleDock")
        self.buffer = buffer
        self.view = QPlainTextEdit()
        self.view.setReadOnly(True)
        self.view.setMaximumBlockCount(HISTORY)
        self.view.setLineWrapMode(QPlainTextEdit.LineWrapMode.NoWrap)
        self.view.setPlaceholderText(EMPTY_TEXT)
        self.view.setFont(QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont))
        self.clear_button = QPushButton("Clear")
        self.clear_button.setToolTip("Empty the console (the runs go on)")
        self.clear_button.clicked.connect(self.clear)
        self.count_label = QLabel("")
        bar = QHBoxLayout()
        bar.setContentsMargins(0, 0, 0, 0)
        bar.addWidget(self.count_label, 1)
        bar.addWidget(self.clear_button)
        body = QWidget()
        box = QVBoxLayout(body)
        box.setContentsMargins(4, 2, 4, 4)
        box.setSpacing(2)
        box.addLayout(bar)
        box.addWidget(self.view, 1)
        self.setWidget(body)
        self.lines_shown = 0
        self._formats: dict[str, QTextCharFormat] = {}
        self._tag_format = QTextCharFormat()
        self.set_theme(th.current())
        th.notifier().changed.connect(self.set_theme)
        frames_signal.connect(self.flush)  # type: ignore[attr-defined]

    def set_theme(self, theme: th.Theme) -> None:
        out = QTextCharFormat()
        out.setForeground(QColor(theme.foreground))
        err = QTextCharFormat()
        err.setForeground(QColor(STDERR_COLOUR))
        self._formats = {"stdout": out, "stderr": err}
        self._tag_format = QTextCharFormat()
        dim = QColor(theme.foreground)
        dim.setAlpha(140)
        self._tag_format.setForeground(dim)
        self._tag_format.setFontWeight(QFont.Weight.Normal)

    def flush(self, _stats: object = None) -> None:
        """Append what the runs printed since the last frame."""
        lines = self.buffer.take()
        if not lines:
            return
        bar = self.view.verticalScrollBar()
        at_bottom = bar.value() >= bar.maximum() - 2
        cursor = QTextCursor(self.view.document())
        cursor.movePosition(QTextCursor.MoveOperation.End)
        cursor.beginEditBlock()
        for line in lines[-HISTORY:]:
            if self.lines_shown:
                cursor.insertBlock()
            cursor.insertText(f"[{tag(line.name)}] ", self._tag_format)
            cursor.insertText(line.text, self._formats.get(line.stream, self._formats["stdout"]))
            self.lines_shown += 1
        cursor.endEditBlock()
        if at_bottom:
            bar.setValue(bar.maximum())
        dropped = f" · {self.buffer.dropped:,} not shown (too many at once)" if self.buffer.dropped else ""
        self.count_label.setText(f"{self.buffer.total:,} lines{dropped}")

    def text(self) -> str:
        return self.view.toPlainText()

    def clear(self) -> None:
        self.buffer.take()
        self.view.clear()
        self.lines_shown = 0
        self.count_label.setText("")

    def line_colours(self) -> list[tuple[str, str]]:
        """(text after the tag, colour name) of every line shown (for tests and checks)."""
        out = []
        block = self.view.document().begin()
        while block.isValid():
            colour = ""
            it = block.begin()
            while not it.atEnd():  # the tag's fragment first, then the line's
                frag = it.fragment()
                if frag.isValid():
                    colour = frag.charFormat().foreground().color().name()
                it += 1
            out.append((block.text().split("] ", 1)[-1], colour))
            block = block.next()
        return out

