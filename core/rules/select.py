"""`final_candidates`: the few lifetimes the final rules can report on, picked from the columns.

Every rule reports only lifetimes that are open, released by the GC, whose exit raised or
swallowed an undeclared exception, held longer than the late-release threshold, or of a kind a
rule looks up by id (temporary files, streams). After a run of millions of lifetimes, building
every one of them as an object for the rules costs gigabytes and minutes; this reads the columns
of a `TableLifetimes` and builds only those. Any other sequence is returned as it is.

Keep in step with the rules: tests/rules/test_select.py checks, on generated lifetimes, that the
final rules find the same alerts from the candidates as from every lifetime.
"""

from __future__ import annotations

from collections.abc import Sequence

from withscope.core.events import (
    FLAG_DECLARED,
    FLAG_SUPPRESSED,
    OUT_EXIT_RAISED,
    OUT_GC,
    OUT_OPEN,
    Lifetime,
)
from withscope.core.snapshot import TableLifetimes

from .base import RuleConfig
from .tempfiles import TEMP_KINDS

# Kinds some rule looks up by lifetime id whatever their outcome.
LOOKED_UP_KINDS = frozenset(TEMP_KINDS | {"stream"})


def final_candidates(
    lifetimes: Sequence[Lifetime], config: RuleConfig, now_ns: int, released_after_ns: int | None = None
) -> Sequence[Lifetime]:
    """The lifetimes of `lifetimes` any rule could report at the final update (see the module
    docstring), in id order; `lifetimes` itself unless it is a columnar `TableLifetimes`.

    `released_after_ns`: lifetimes released after it are candidates too (a caller that judges
    the lifetimes as the workload left them turns those back into open ones)."""
    if not isinstance(lifetimes, TableLifetimes):
        return lifetimes
    ids = set(lifetimes.ids_with_outcome(OUT_OPEN, OUT_GC, OUT_EXIT_RAISED))
    ids.update(lifetimes.ids_with_flags(FLAG_SUPPRESSED, none_of=FLAG_DECLARED))
    ids.update(lifetimes.ids_of_kinds(LOOKED_UP_KINDS))
    ids.update(lifetimes.ids_held_over(int(config.late_release_s * 1e9), now_ns, config.late_release_exclude))
    if released_after_ns is not None:
        ids.update(lifetimes.ids_released_after(released_after_ns))
    return lifetimes.select(sorted(ids))
