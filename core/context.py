"""The context of one run, as the runner hands it to what it runs: where the run may write
(`tmpdir`), which database it uses (`DatabaseConfig`), its stop flag, its scale, and what a
faulty workload leaks on purpose (`Leftovers`, closed by the run's cleanup)."""

from __future__ import annotations

import asyncio
import inspect
import itertools
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

log = logging.getLogger("withscope")


@dataclass(frozen=True, slots=True)
class DatabaseConfig:
    """Where database workloads connect. `dsn` None means SQLite in `WorkloadContext.tmpdir`."""

    dsn: str | None = None
    # Set on every server connection (asyncpg `server_settings`, psycopg `application_name`), so the
    # `db-backend-leak` rule can find this run's backends in pg_stat_activity.
    application_name: str = "withscope"

    @property
    def is_postgres(self) -> bool:
        return self.dsn is not None and self.dsn.startswith(("postgres://", "postgresql://"))


Closer = Callable[[], object]


class Leftovers:
    """What a run still holds on purpose: the resources a faulty workload leaks, kept alive by the run.

    A faulty workload registers the handle it leaks (`keep`), so the leak stays *open* - not
    collected - until the runner has evaluated the end-of-run rules and taken its snapshot; then
    the runner calls `close_all()`. Without this, CPython would collect a dropped handle at once
    (`gc` outcome instead of `open`), or asyncio would finalize an abandoned generator at some
    later, racy point, and unclosed sockets/files would emit ResourceWarning at collection.
    The database helpers (`workloads.db`) register every connection and transaction they open
    and discard it again when it is closed, so whatever is still here at the end was leaked.

    Thread-safety: `keep`/`discard` may be called from any thread (blocking workloads run in an
    executor); `close_all` runs on the event loop of the run. Closing happens through each
    handle's own closer, so the recorder sees those releases *after* the run's end.
    """

    __slots__ = ("_entries", "_ids", "_lock")

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._ids = itertools.count(1)
        # Invariant: insertion order == keep order; close_all closes newest first (LIFO, like ExitStack).
        self._entries: dict[int, tuple[object, Closer | None]] = {}

    def keep(self, obj: object, closer: Closer | None = None) -> int:
        """Hold `obj` until `close_all()`, which calls `closer()` (awaiting it if it returns an awaitable).
        Returns a token for `discard`."""
        with self._lock:
            token = next(self._ids)
            self._entries[token] = (obj, closer)
        return token

    def discard(self, token: int) -> None:
        """Forget an entry (its resource was released normally). Unknown tokens are ignored."""
        with self._lock:
            self._entries.pop(token, None)

    def __len__(self) -> int:
        with self._lock:
            return len(self._entries)

    def held(self) -> list[object]:
        """The objects still held, oldest first."""
        with self._lock:
            return [obj for obj, _ in self._entries.values()]

    async def close_all(self, timeout_s: float = 5.0) -> list[str]:
        """Close everything still held, newest first; each closer gets `timeout_s`.

        Never raises for a failing closer (returns one line per failure, also logged); a
        `CancelledError` of the caller propagates, leaving the remaining entries held.
        """
        errors: list[str] = []
        while True:
            with self._lock:
                if not self._entries:
                    return errors
                token = next(reversed(self._entries))
                obj, closer = self._entries.pop(token)
            if closer is None:
                continue
            try:
                result = closer()
                if inspect.isawaitable(result):
                    await asyncio.wait_for(result, timeout_s)
            except Exception as exc:  # one failing closer must not keep the others open
                errors.append(f"{type(obj).__qualname__}: {type(exc).__name__}: {exc}")
                log.warning("withscope: could not close a leftover %r: %s", obj, exc)


@dataclass(slots=True)
class WorkloadContext:
    """What the runner hands a catalogue workload. Users' own targets take no arguments.

    Thread-safety: `stop` may be set from any thread; blocking workloads poll it between steps
    and return promptly (releasing what they hold, unless leaking is their point).
    """

    tmpdir: Path
    db: DatabaseConfig = field(default_factory=DatabaseConfig)
    stop: threading.Event = field(default_factory=threading.Event)
    scale: float = 1.0  # < 1 for quick test runs: fewer iterations, shorter sleeps
    # What a faulty workload leaks on purpose; the runner closes it after the end-of-run rules.
    leftovers: Leftovers = field(default_factory=Leftovers)

    def count(self, n: int, minimum: int = 1) -> int:
        """`n` iterations scaled by `scale` (at least `minimum`)."""
        return max(minimum, round(n * self.scale))

    def seconds(self, s: float) -> float:
        """A sleep or timeout of `s` seconds scaled by `scale`."""
        return s * self.scale
