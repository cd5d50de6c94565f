""""Open target…": choose your own `file.py:function` to run (non-modal: `open()` + `accepted`).

Browsing lists the top-level functions of the chosen file by parsing it (`ast`, nothing runs).
Resolution errors are reported by the runner (core/targets.py) in the message bar.
GUI thread only.
"""

from __future__ import annotations

import ast
from pathlib import Path

from PySide6.QtCore import Signal
from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)


def functions_in(path: str) -> list[str]:
    """Names of the top-level (async) functions of a Python file; [] when it cannot be parsed."""
    try:
        tree = ast.parse(Path(path).read_text(encoding="utf-8"), filename=path)
    except (OSError, SyntaxError, ValueError):
        return []
    return [n.name for n in tree.body if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef)]


class TargetDialog(QDialog):
    targetChosen = Signal(str)  # "path/file.py:function"

    def __init__(self, parent: QWidget | None = None, initial: str = "") -> None:
        super().__init__(parent)
        self.setWindowTitle("Open target")
        self.file_edit = QLineEdit()
        self.file_edit.setPlaceholderText("path/to/file.py")
        self.func_combo = QComboBox()
        self.func_combo.setEditable(True)
        self.func_combo.setMinimumContentsLength(18)
        browse = QPushButton("Browse…")
        browse.clicked.connect(self._browse)
        row = QHBoxLayout()
        row.addWidget(self.file_edit, 1)
        row.addWidget(browse)
        form = QFormLayout()
        form.addRow("File", row)
        form.addRow("Function", self.func_combo)
        help_ = QLabel(
            "Runs <code>file.py:function</code> under withscope. The function takes no arguments, "
            "may be sync or async, and uses <code>track()</code> from <code>withscope.core</code>."
        )
        help_.setWordWrap(True)
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Cancel)
        self.run_button = self.buttons.addButton("Run", QDialogButtonBox.ButtonRole.AcceptRole)
        self.buttons.accepted.connect(self.accept)
        self.buttons.rejected.connect(self.reject)
        box = QVBoxLayout(self)
        box.addLayout(form)
        box.addWidget(help_)
        box.addWidget(self.buttons)
        self.file_edit.editingFinished.connect(self._refresh_functions)
        if initial:
            path, _, func = initial.rpartition(":")
            self.file_edit.setText(path or initial)
            self._refresh_functions()
            self.func_combo.setCurrentText(func)
        self._file_dialog: QFileDialog | None = None

    def spec(self) -> str:
        return f"{self.file_edit.text().strip()}:{self.func_combo.currentText().strip()}"

    def accept(self) -> None:
        if self.file_edit.text().strip() and self.func_combo.currentText().strip():
            self.targetChosen.emit(self.spec())
        super().accept()

    def _browse(self) -> None:
        dlg = QFileDialog(self, "Python file to run", self.file_edit.text() or ".", "Python files (*.py)")
        dlg.setFileMode(QFileDialog.FileMode.ExistingFile)
        dlg.fileSelected.connect(self._on_file)
        self._file_dialog = dlg
        dlg.open()

    def _on_file(self, path: str) -> None:
        self.file_edit.setText(path)
        self._refresh_functions()

    def _refresh_functions(self) -> None:
        current = self.func_combo.currentText()
        self.func_combo.clear()
        self.func_combo.addItems(functions_in(self.file_edit.text().strip()))
        if current:
            self.func_combo.setCurrentText(current)
