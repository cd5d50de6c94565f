"""What a sample workload is: a correct or faulty variant of one resource-management pattern."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Literal

from withscope.core.context import DatabaseConfig, WorkloadContext

log = logging.getLogger("withscope")

Variant = Literal["correct", "faulty"]


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
    # Rules expected in addition to `expected_rules` when the database is PostgreSQL (a leaked
    # connection is also a server backend still open: `db-backend-leak`).
    postgres_rules: frozenset[str] = frozenset()

    def expected_for(self, db: DatabaseConfig) -> frozenset[str]:
        """The rules this workload must trigger when run against `db`."""
        return self.expected_rules | self.postgres_rules if db.is_postgres else self.expected_rules
