"""`TaskKeeper`: strong references to the asyncio tasks a part of the app starts (the loop keeps
only weak ones, and a task nobody holds can vanish mid-way), and their errors surfaced, never
lost: logged, and told to the user through `report` unless `quiet()` says the window has shut
down. Qt-free; loop thread only."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Iterator
from typing import Any

log = logging.getLogger("withscope")


class TaskKeeper:
    def __init__(self, report: Callable[[str], None], quiet: Callable[[], bool]) -> None:
        self._tasks: set[asyncio.Task[Any]] = set()
        self._report = report
        self._quiet = quiet

    def keep(self, task: asyncio.Task[Any]) -> None:
        self._tasks.add(task)
        task.add_done_callback(self._done)

    def _done(self, task: asyncio.Task[Any]) -> None:
        self._tasks.discard(task)
        if task.cancelled() or task.exception() is None:
            return
        exc = task.exception()
        log.error("withscope: %s failed", task.get_name(), exc_info=exc)
        if not self._quiet():
            self._report(f"Internal error in {task.get_name()}: {exc!r}")

    def cancel_all(self) -> None:
        for task in list(self._tasks):
            task.cancel()

    def __iter__(self) -> Iterator[asyncio.Task[Any]]:
        return iter(list(self._tasks))

    def __len__(self) -> int:
        return len(self._tasks)
