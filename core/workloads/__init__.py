"""The sample workload catalogue: each resource-management pattern, done right and done wrong.

`CATALOGUE` maps "<pattern>/<variant>" to its `Workload`, in teaching order (patterns in the
order of the guide, the correct variant before the faulty one). Every faulty variant declares
the leak rules a single run triggers (`Workload.expected_for(db)`), every correct one none.

    from withscope.core.workloads import CATALOGUE, get, patterns
"""

from __future__ import annotations

from .accumulation import WORKLOADS as _ACCUMULATION
from .async_pool import WORKLOADS as _ASYNC_POOL
from .base import Variant, Workload, WorkloadFunc
from .class_cm import WORKLOADS as _CLASS_CM
from .cleanup import WORKLOADS as _CLEANUP
from .exit_stack import WORKLOADS as _EXIT_STACK
from .sockets import WORKLOADS as _SOCKETS
from .sqlite_trap import WORKLOADS as _SQLITE_TRAP
from .stream_metrics import WORKLOADS as _STREAM_METRICS
from .streaming import WORKLOADS as _STREAMING
from .suppression import WORKLOADS as _SUPPRESSION
from .transactions import WORKLOADS as _TRANSACTIONS

# Teaching order: the guide's patterns first, then sockets and the sqlite3 trap.
_ORDER = (
    _CLASS_CM,
    _ASYNC_POOL,
    _TRANSACTIONS,
    _CLEANUP,
    _SUPPRESSION,
    _STREAMING,
    _ACCUMULATION,
    _STREAM_METRICS,
    _EXIT_STACK,
    _SOCKETS,
    _SQLITE_TRAP,
)

CATALOGUE: dict[str, Workload] = {w.name: w for variants in _ORDER for w in variants}


class UnknownWorkload(KeyError):
    """`get()` was asked for a name the catalogue does not have. `str()` is the message itself."""

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else "unknown workload"


def get(name: str) -> Workload:
    """The catalogue entry `name` ("<pattern>/<variant>"); raises `UnknownWorkload` (a KeyError)
    whose message names the unknown workload and lists the known ones."""
    try:
        return CATALOGUE[name]
    except KeyError:
        known = ", ".join(CATALOGUE)
        raise UnknownWorkload(f"unknown workload {name!r}; the catalogue has: {known}") from None


def patterns() -> list[tuple[str, str, list[Workload]]]:
    """(pattern id, pattern title, its variants in catalogue order), patterns in teaching order."""
    out: dict[str, tuple[str, list[Workload]]] = {}
    for w in CATALOGUE.values():
        out.setdefault(w.pattern, (w.pattern_title, []))[1].append(w)
    return [(pid, title, variants) for pid, (title, variants) in out.items()]


__all__ = [
    "CATALOGUE",
    "UnknownWorkload",
    "Variant",
    "Workload",
    "WorkloadFunc",
    "get",
    "patterns",
]
