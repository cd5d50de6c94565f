"""Shared fixtures. The suite checks itself for leaks: a test that leaves threads behind fails,
and so does a (non-GUI) test that leaves file descriptors open - sockets, files, pipes, database
connections - once the garbage collector has run (Qt opens fds of its own on first use, so GUI
tests are checked by tests/gui/conftest.py for widgets and timers instead)."""

from __future__ import annotations

import contextlib
import gc
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


def _open_fds() -> dict[int, str]:
    fds: dict[int, str] = {}
    for name in os.listdir("/proc/self/fd"):
        with contextlib.suppress(OSError):  # closed meanwhile (the listing's own fd)
            fds[int(name)] = os.readlink(f"/proc/self/fd/{name}")
    return fds


@pytest.fixture(autouse=True)
def _no_leaked_fds(request: pytest.FixtureRequest) -> Iterator[None]:
    gui = request.node.get_closest_marker("gui") or request.node.path.parent.name == "gui"
    if gui or not os.path.isdir("/proc/self/fd"):
        yield
        return
    before = _open_fds()
    yield
    gc.collect()
    after = _open_fds()
    leaked = {fd: target for fd, target in after.items() if before.get(fd) != target}
    assert not leaked, f"test left file descriptors open: {sorted(leaked.values())}"


@pytest.fixture(autouse=True)
def _export_formats_restored() -> Iterator[None]:
    """A test that registers export formats (the GUI's png/svg) does not leave them registered for
    the tests after it (`withscope export` without the GUI must keep saying it needs it)."""
    import sys

    mod = sys.modules.get("withscope.core.exporters")
    before = dict(mod._registered) if mod is not None else {}
    yield
    mod = sys.modules.get("withscope.core.exporters")
    if mod is not None:
        mod._registered.clear()
        mod._registered.update(before)
