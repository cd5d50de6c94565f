"""Persistent window state (QSettings): geometry, dock layout, theme choice, lane grouping.

`Settings(path)` uses an INI file at `path` (tests, portable installs); `Settings()` the
platform's usual place for organisation "withscope". GUI thread only.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QByteArray, QSettings

STATE_VERSION = 1  # bump when docks are added/renamed: old layouts are then ignored


class Settings:
    def __init__(self, path: str | Path | None = None) -> None:
        if path is None:
            self.qs = QSettings("withscope", "withscope")
        else:
            self.qs = QSettings(str(path), QSettings.Format.IniFormat)

    def get(self, key: str, default: str = "") -> str:
        value = self.qs.value(key, default)
        return str(value) if value is not None else default

    def set(self, key: str, value: str) -> None:
        self.qs.setValue(key, value)

    def geometry(self) -> QByteArray | None:
        v = self.qs.value("window/geometry")
        return v if isinstance(v, QByteArray) and not v.isEmpty() else None

    def state(self) -> QByteArray | None:
        v = self.qs.value("window/state")
        return v if isinstance(v, QByteArray) and not v.isEmpty() else None

    def save_window(self, geometry: QByteArray, state: QByteArray) -> None:
        self.qs.setValue("window/geometry", geometry)
        self.qs.setValue("window/state", state)
        self.qs.sync()

    def sync(self) -> None:
        self.qs.sync()
