"""Shared fixtures. The suite checks itself for leaks: a test that leaves threads behind fails."""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator

import pytest

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ.setdefault("QT_API", "pyside6")
os.environ.setdefault("PYQTGRAPH_QT_LIB", "PySide6")


@pytest.fixture(autouse=True)
def _no_leaked_threads() -> Iterator[None]:
    before = set(threading.enumerate())
    yield
    deadline = 2.0
    import time

    end = time.monotonic() + deadline
    while True:
        extra = [
            t for t in threading.enumerate()
            if t not in before and t.is_alive() and not t.daemon and not t.name.startswith(("asyncio_", "QThread"))
        ]
        if not extra or time.monotonic() > end:
            break
        time.sleep(0.01)
    assert not extra, f"test left threads running: {[t.name for t in extra]}"
