"""What a leak rule sees (`RuleContext`), how it is tuned (`RuleConfig`), and shared wording.

A rule is a pure function `rule(ctx) -> list[Alert]`: no I/O, no clock, no globals. Facts that
need I/O at the end of a run (which temp paths still exist, which PostgreSQL backends are still
connected) are gathered by the caller (the runner) and passed in as data, so every rule can be
tested on hand-built records.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from withscope.core.events import Alert, Lifetime, Mark, Sample, Severity, StreamStats


# Mark texts the runner writes around each repeat; the OS-growth rules read them back.
@dataclass(frozen=True, slots=True)
class RuleConfig:
    """Thresholds of the rules. Defaults suit the catalogue and most user code."""

    late_release_s: float = 2.0
    # Kinds that are meant to live long (a pool for the whole program, a long stream).
    late_release_exclude: frozenset[str] = frozenset({"db.pool", "stream"})
    decay_ratio: float = 2.5  # fitted per-chunk cost at 7/8 of the stream vs at 1/8
    decay_min_rising: float = 0.6  # share of segment pairs whose cost rises
    decay_min_segments: int = 4  # series segments needed (one per `interval_s` of the stream)
    decay_min_chunks: int = 16
    growth_min_repeats: int = 3
    memory_slope_bytes: int = 1 << 20  # RSS growth per repeat that counts as a leak
    disabled: frozenset[str] = frozenset()  # rule names not to evaluate


@dataclass(frozen=True, slots=True)
class DbBackend:
    """One row of `pg_stat_activity` for this run's application_name."""

    pid: int
    state: str  # "idle", "idle in transaction", "active", ...
    query: str  # last query text (truncated)
    age_s: float  # since backend_start


@dataclass(frozen=True, slots=True)
class DbFacts:
    """What the server said after the run. `error` is set when it could not be asked."""

    application_name: str
    backends: tuple[DbBackend, ...] = ()
    error: str | None = None


@dataclass(frozen=True, slots=True)
class RuleContext:
    """Everything the rules may look at, as immutable data.

    `lifetimes`: at `final`, every lifetime of the run; during a live update the caller may pass
    only those released since the last update plus all open ones (rules only ever look at
    those). `now_ns` is the perf_counter_ns time of the evaluation. `existing_paths` holds the
    temp-file labels still on disk, `db` the PostgreSQL facts (None without PostgreSQL); both
    matter only at `final`.
    """

    lifetimes: Sequence[Lifetime] = ()
    streams: Sequence[StreamStats] = ()
    samples: Sequence[Sample] = ()
    marks: Sequence[Mark] = ()
    now_ns: int = 0
    final: bool = False
    config: RuleConfig = field(default_factory=RuleConfig)
    t0_ns: int = 0
    existing_paths: frozenset[str] = frozenset()
    db: DbFacts | None = None


Rule = Callable[[RuleContext], list[Alert]]


@dataclass(frozen=True, slots=True)
class RuleSpec:
    """A named rule and when it runs: `live` (every update) and/or at the `final` update."""

    name: str
    func: Rule
    live: bool
    final: bool
    doc: str


# ---------------------------------------------------------------------------------- wording
# kind -> (acquire verb, release phrase, hint)
_KIND_WORDS: dict[str, tuple[str, str, str]] = {
    "file": ("opened", "closed", "open it with `with open(...) as f:` so it closes on every path"),
    "tempfile": ("created", "closed", "use `with tempfile.NamedTemporaryFile() as f:` so it is closed and deleted"),
    "tempdir": ("created", "cleaned up", "use `with tempfile.TemporaryDirectory() as d:`"),
    "socket": ("opened", "closed", "use `with socket.create_connection(...) as s:` or contextlib.closing(sock)"),
    "db.connection": ("opened", "closed", "use `with`/`async with` on the connection, or close() it in a `finally`"),
    "db.pool": ("created", "closed", "use `async with create_pool(...) as pool:` so the pool closes"),
    "pool.checkout": (
        "checked out",
        "returned to the pool",
        "return the connection to the pool: `async with pool.acquire() as conn:`",
    ),
    "db.transaction": (
        "begun",
        "committed or rolled back",
        "use `async with conn.transaction():` (or try/except with ROLLBACK) so errors roll back",
    ),
    "db.cursor": ("opened", "closed", "use `with conn.cursor() as cur:`"),
    "stream": (
        "started",
        "closed",
        "close a stream you stop early: `async with contextlib.aclosing(stream):` / `with contextlib.closing(...)`",
    ),
    "stream.writer": ("opened", "closed", "call `writer.close()` then `await writer.wait_closed()` in a `finally`"),
    "exitstack": ("entered", "closed", "use `with ExitStack() as stack:`; after pop_all(), close() what it returns"),
    "lock": ("acquired", "released", "use `with lock:` / `async with lock:` so it is released on every path"),
    "process": ("started", "waited for", "use `with subprocess.Popen(...) as p:`"),
    "context": ("entered", "exited", "use it in a `with` statement so its exit always runs"),
}
_DEFAULT_WORDS = ("acquired", "released", "use it in a `with` statement, or release it in a `finally`")
SQLITE_HINT = (
    "close it on every path: `with contextlib.closing(sqlite3.connect(...)) as conn:` or close() in a `finally` "
    "(a bare `with sqlite3.connect(...)` only commits or rolls back; it does not close)"
)


def words(kind: str) -> tuple[str, str, str]:
    """(acquire verb, release phrase, hint) for a kind."""
    return _KIND_WORDS.get(kind, _DEFAULT_WORDS)


def hint_for(lt: Lifetime) -> str:
    """The fix for a lifetime that was not released properly."""
    if lt.kind == "db.connection" and lt.label.startswith("sqlite"):
        return SQLITE_HINT
    return words(lt.kind)[2]


def describe(lt: Lifetime) -> str:
    """'file /tmp/x.txt opened at app.py:12' (the site is left out when unknown)."""
    verb = words(lt.kind)[0]
    where = f" at {lt.site}" if lt.site else ""
    return f"{lt.kind} {lt.label} {verb}{where}"


def seconds(ns: int) -> str:
    s = ns / 1e9
    return f"{s * 1000:.0f} ms" if s < 1 else f"{s:.1f} s"


def alert(
    rule: str,
    severity: Severity,
    message: str,
    hint: str,
    lt: Lifetime | None = None,
    t_ns: int | None = None,
    site: str | None = None,
) -> Alert:
    """An Alert about `lt` (site and stack taken from it) or about the run as a whole."""
    if lt is None:
        return Alert(rule, severity, message, hint, None, site, (), t_ns)
    return Alert(rule, severity, message, hint, lt.id, lt.site, lt.stack, t_ns)
