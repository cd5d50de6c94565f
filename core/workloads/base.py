"""What a sample workload is: a correct or faulty variant of one resource-management pattern."""

from __future__ import annotations

import threading
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

Variant = Literal["correct", "faulty"]


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


WorkloadFunc = Callable[[WorkloadContext], Awaitable[None] | None]


@dataclass(frozen=True, slots=True)
class Workload:
    """One catalogue entry. `name` is "<pattern>/<variant>", e.g. "class-cm/faulty"."""

    name: str
    pattern: str
    pattern_title: str
    variant: Variant
    title: str
    narration: str
    expected_rules: frozenset[str]
    func: WorkloadFunc
    blocking: bool = False  # a sync function: runs in an executor and must poll ctx.stop
    uses_db: bool = False
