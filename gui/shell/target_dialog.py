""""Open target…": run your own program, in the forms `withscope run` takes (non-modal: `open()`).

    Target      tool.py | pkg.module (with "Run as module") | file.py:function | module:function | catalogue name
    Arguments   the program's arguments, split as a POSIX shell would (`--name "a b"`)
    Folder      its working directory (empty: the app's)
    Python      its interpreter (empty: the active virtual environment's, else the app's)

The program runs in its own process (`RunRequest` -> `ChildRun`). For a `.py` file, "Function"
lists its top-level functions by parsing it (`ast`, nothing runs); "(whole script)" runs it as
`python tool.py ARGS` would. Run checks what can be checked without running anything (`check`)
and shows one line in the dialog when something is wrong, which then stays open; a valid request
is emitted (`requestChosen`) and remembered in the settings (`recall`/`remember`). The dialog and
its file pickers are opened with `open()`, never `exec()`: a nested event loop breaks qasync.
GUI thread only.
"""

from __future__ import annotations

import ast
import os
import shlex
from pathlib import Path

from PySide6.QtCore import Signal
from PySide6.QtWidgets import (
    QCheckBox,
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
from withscope.gui.bridge.runs import RunRequest, in_dir
from withscope.gui.shell.settings import Settings

WHOLE_SCRIPT = "(whole script)"
KEYS = ("target", "module", "args", "cwd", "python")  # settings keys, under "open_target/"


def functions_in(path: str) -> list[str]:
    """Names of the top-level (async) functions of a Python file; [] when it cannot be parsed."""
    try:
        tree = ast.parse(Path(path).read_text(encoding="utf-8"), filename=path)
    except (OSError, SyntaxError, ValueError):
        return []
    return [n.name for n in tree.body if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef)]


def check(target: str, args_text: str, *, module: bool, cwd: str, python: str) -> RunRequest | str:
    """The request the fields describe, or one line saying what is wrong with them."""
    from withscope.core.supervise.target import child_target
    from withscope.core.targets import TargetError

    target = target.strip()
    if not target:
        return "Give a script, a module, file.py:function, module:function or a catalogue name."
    try:
        args = tuple(shlex.split(args_text))
    except ValueError as exc:
        return f"Arguments: {exc}."
    cwd = os.path.expanduser(cwd.strip())
    if cwd and not os.path.isdir(cwd):
        return f"No such folder: {cwd}"
    python = os.path.expanduser(python.strip())
    if python and not (os.path.isfile(python) and os.access(python, os.X_OK)):
        return f"Not an interpreter that can be run: {python}"
    try:
        child_target(target if module else in_dir(target, cwd or None), args, module=module)
    except TargetError as exc:
        text = str(exc).splitlines()[0] if str(exc) else "this target cannot be run"
        return text[:1].upper() + text[1:]
    return RunRequest(target, args, module, cwd or None, python or None)


def recall(settings: Settings | None) -> dict[str, str]:
    """The fields of the last request run from the dialog ({} when none)."""
    if settings is None:
        return {}
    return {k: v for k in KEYS if (v := settings.get(f"open_target/{k}", ""))}


def remember(settings: Settings | None, fields: dict[str, str]) -> None:
    if settings is None:
        return
    for k in KEYS:
        settings.set(f"open_target/{k}", fields.get(k, ""))
    settings.sync()


class TargetDialog(QDialog):
    requestChosen = Signal(object)  # RunRequest

    def __init__(self, parent: QWidget | None = None, settings: Settings | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Open target")
        self.settings = settings
        self.target_edit = QLineEdit()
        self.target_edit.setPlaceholderText("tool.py, package.module, file.py:function or a catalogue name")
        self.func_combo = QComboBox()
        self.func_combo.setEditable(True)
        self.func_combo.setMinimumContentsLength(18)
        self.module_box = QCheckBox("Run as a module (python -m)")
        self.args_edit = QLineEdit()
        self.args_edit.setPlaceholderText('e.g. --count 3 "a name with spaces"')
        self.cwd_edit = QLineEdit()
        self.cwd_edit.setPlaceholderText(f"(this folder: {os.getcwd()})")
        self.python_edit = QLineEdit()
        from withscope.core.supervise.spawn import default_python

        self.python_edit.setPlaceholderText(f"(default: {default_python()})")
        form = QFormLayout()
        form.addRow("Target", self._with_browse(self.target_edit, self._browse_target))
        form.addRow("Function", self.func_combo)
        form.addRow("", self.module_box)
        form.addRow("Arguments", self.args_edit)
        form.addRow("Working folder", self._with_browse(self.cwd_edit, self._browse_cwd))
        form.addRow("Python", self._with_browse(self.python_edit, self._browse_python))
        help_ = QLabel(
            "Runs the program in its own process, as <code>python tool.py ARGS</code> (or <code>-m</code>) would, "
            "and shows its output in the Console. A <code>file.py:function</code> target runs one function "
            "(sync or async, no arguments). Use <code>track()</code> from <code>withscope.core</code> to name "
            "your own resources."
        )
        help_.setWordWrap(True)
        self.error_label = QLabel("")
        self.error_label.setObjectName("targetError")
        self.error_label.setStyleSheet("color: #e15759;")
        self.error_label.hide()
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Cancel)
        self.run_button = self.buttons.addButton("Run", QDialogButtonBox.ButtonRole.AcceptRole)
        self.buttons.accepted.connect(self.accept)
        self.buttons.rejected.connect(self.reject)
        box = QVBoxLayout(self)
        box.addLayout(form)
        box.addWidget(help_)
        box.addWidget(self.error_label)
        box.addWidget(self.buttons)
        self.target_edit.editingFinished.connect(self._refresh_functions)
        self.cwd_edit.editingFinished.connect(self._refresh_functions)
        self.module_box.toggled.connect(self._refresh_functions)
        self._picker: QFileDialog | None = None
        self.set_fields(recall(settings))
        self.resize(640, self.sizeHint().height())

    def _with_browse(self, edit: QLineEdit, slot: object) -> QHBoxLayout:
        row = QHBoxLayout()
        row.addWidget(edit, 1)
        button = QPushButton("Browse…")
        button.clicked.connect(slot)
        row.addWidget(button)
        return row

    # ------------------------------------------------------------------ fields
    def fields(self) -> dict[str, str]:
        target = self.target_edit.text().strip()
        func = self.func_combo.currentText().strip()
        if func and func != WHOLE_SCRIPT and not self.module_box.isChecked() and ":" not in target:
            target = f"{target}:{func}"
        return {"target": target, "module": "1" if self.module_box.isChecked() else "",
                "args": self.args_edit.text(), "cwd": self.cwd_edit.text().strip(),
                "python": self.python_edit.text().strip()}  # fmt: skip

    def set_fields(self, fields: dict[str, str]) -> None:
        target = fields.get("target", "")
        path, sep, func = target.rpartition(":")
        file_func = bool(sep) and path.endswith((".py", ".pyw"))
        self.target_edit.setText(path if file_func else target)
        self.module_box.setChecked(bool(fields.get("module")))
        self.args_edit.setText(fields.get("args", ""))
        self.cwd_edit.setText(fields.get("cwd", ""))
        self.python_edit.setText(fields.get("python", ""))
        self._refresh_functions()
        self.func_combo.setCurrentText(func if file_func else WHOLE_SCRIPT if self.func_combo.count() else "")

    def request(self) -> RunRequest | str:
        """The request the fields describe, or one line saying what is wrong."""
        f = self.fields()
        return check(f["target"], f["args"], module=bool(f["module"]), cwd=f["cwd"], python=f["python"])

    def accept(self) -> None:
        req = self.request()
        if isinstance(req, str):
            self.error_label.setText(req)
            self.error_label.show()
            return  # stays open: the user corrects the field
        self.error_label.hide()
        remember(self.settings, self.fields())
        self.requestChosen.emit(req)
        super().accept()

    # ------------------------------------------------------------------ browsing
    def _open_picker(self, title: str, start: str, *, folder: bool = False, filter_: str = "", slot: object) -> None:
        dlg = QFileDialog(self, title, start or os.getcwd(), filter_)
        dlg.setFileMode(QFileDialog.FileMode.Directory if folder else QFileDialog.FileMode.ExistingFile)
        dlg.fileSelected.connect(slot)
        self._picker = dlg
        dlg.open()

    def _browse_target(self) -> None:
        start = os.path.dirname(in_dir(self.target_edit.text().strip(), self.cwd_edit.text().strip() or None))
        self._open_picker("Python program to run", start or self.cwd_edit.text(),
                          filter_="Python files (*.py *.pyw)", slot=self._on_target_file)  # fmt: skip

    def _on_target_file(self, path: str) -> None:
        self.module_box.setChecked(False)
        self.target_edit.setText(path)
        self._refresh_functions()

    def _browse_cwd(self) -> None:
        self._open_picker("Working folder", self.cwd_edit.text(), folder=True, slot=self.cwd_edit.setText)

    def _browse_python(self) -> None:
        self._open_picker("Python interpreter", os.path.dirname(self.python_edit.text()), slot=self.python_edit.setText)

    def _refresh_functions(self) -> None:
        current = self.func_combo.currentText()
        self.func_combo.clear()
        target = self.target_edit.text().strip()
        path = in_dir(target, self.cwd_edit.text().strip() or None)
        is_file = not self.module_box.isChecked() and ":" not in target and path.endswith((".py", ".pyw"))
        self.func_combo.setEnabled(is_file)
        if is_file:
            self.func_combo.addItems([WHOLE_SCRIPT, *functions_in(path)])
            self.func_combo.setCurrentText(current or WHOLE_SCRIPT)
