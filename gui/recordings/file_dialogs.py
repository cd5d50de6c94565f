"""Non-modal file dialogs: `QFileDialog.open()` plus a callback, never `exec()` or the static
helpers (they spin a nested event loop, which breaks qasync coroutines: "Cannot enter into task").

Every dialog is parented to the window (no stray top-level widget) and deleted when closed; the
window keeps the latest one in `owner._file_dialog` so tests can find (and close) it.
GUI thread only.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QFileDialog, QWidget

RECORDING_FILTER = "withscope recordings (*.db *.withscope *.sqlite);;All files (*)"


def _dialog(owner: QWidget, title: str, directory: str) -> QFileDialog:
    old = getattr(owner, "_file_dialog", None)
    if isinstance(old, QFileDialog):
        with contextlib.suppress(RuntimeError):  # already deleted
            old.close()
    dlg = QFileDialog(owner, title, directory)
    dlg.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
    dlg.setWindowModality(Qt.WindowModality.WindowModal)
    owner._file_dialog = dlg  # type: ignore[attr-defined]
    return dlg


def open_file(owner: QWidget, title: str, name_filter: str, on_chosen: Callable[[Path], object],
              directory: str = "") -> QFileDialog:
    """Ask for one existing file; `on_chosen(path)` runs when the user picks one."""
    dlg = _dialog(owner, title, directory)
    dlg.setFileMode(QFileDialog.FileMode.ExistingFile)
    dlg.setNameFilter(name_filter)
    dlg.fileSelected.connect(lambda p: on_chosen(Path(p)))
    dlg.open()
    return dlg


def open_files(owner: QWidget, title: str, name_filter: str, on_chosen: Callable[[list[Path]], object],
               directory: str = "") -> QFileDialog:
    """Ask for one or more existing files."""
    dlg = _dialog(owner, title, directory)
    dlg.setFileMode(QFileDialog.FileMode.ExistingFiles)
    dlg.setNameFilter(name_filter)
    dlg.filesSelected.connect(lambda ps: on_chosen([Path(p) for p in ps]))
    dlg.open()
    return dlg


def save_file(owner: QWidget, title: str, name_filter: str, default: str, on_chosen: Callable[[Path], object],
              suffix: str = "") -> QFileDialog:
    """Ask where to save; `default` is the proposed file name (or path)."""
    dlg = _dialog(owner, title, str(Path(default).parent) if Path(default).parent != Path() else "")
    dlg.setAcceptMode(QFileDialog.AcceptMode.AcceptSave)
    dlg.setFileMode(QFileDialog.FileMode.AnyFile)
    dlg.setNameFilter(name_filter)
    if suffix:
        dlg.setDefaultSuffix(suffix.lstrip("."))
    dlg.selectFile(Path(default).name)
    dlg.fileSelected.connect(lambda p: on_chosen(Path(p)))
    dlg.open()
    return dlg


def choose_directory(owner: QWidget, title: str, on_chosen: Callable[[Path], object], directory: str = "",
                     on_cancel: Callable[[], None] | None = None) -> QFileDialog:
    dlg = _dialog(owner, title, directory)
    dlg.setFileMode(QFileDialog.FileMode.Directory)
    dlg.setOption(QFileDialog.Option.ShowDirsOnly, True)
    dlg.fileSelected.connect(lambda p: on_chosen(Path(p)))
    if on_cancel is not None:
        dlg.rejected.connect(on_cancel)
    dlg.open()
    return dlg
