"""The text summary `withscope run` prints: a reader of a `RunSnapshot` like the other exporters.

    from withscope.core.exporters.text import format_summary
    print(format_summary(snapshot))

Status, lifetimes by kind and outcome (as the target's own code left them: what only the run's
cleanup released counts as open), alerts grouped by rule and site with their hints, and streams.
Every value that comes from the observed program is escaped: a label holding ``"\\x1b[2J"``
shows as that text, never clears the screen; secrets are redacted.
"""

from __future__ import annotations

from collections import Counter

from withscope.core import units
from withscope.core.events import Alert
from withscope.core.redact import redact_text
from withscope.core.snapshot import RunSnapshot
from withscope.core.textsafe import printable

OUTCOME_COLUMNS = ("released", "released-with-error", "exit-raised", "gc", "open")


def _p(value: object) -> str:
    """A value from the observed program as one line a terminal shows as is (no secret, every
    control character, bidirectional control and lone surrogate escaped)."""
    return printable(redact_text(str(value)))


def _table(rows: list[list[str]], right: frozenset[int] | set[int] = frozenset()) -> list[str]:
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    out = []
    for r in rows:
        cells = [c.rjust(w) if i in right else c.ljust(w) for i, (c, w) in enumerate(zip(r, widths, strict=True))]
        out.append("  " + "  ".join(cells).rstrip())
    return out


def _lifetimes(snap: RunSnapshot) -> list[str]:
    lines = [f"Lifetimes ({len(snap.lifetimes)}), as the workload left them"]
    if not snap.lifetimes:
        lines.append("  none tracked (use track() from withscope.core in the code you run)")
        return lines
    end = snap.workload_end_ns
    by_kind: dict[str, Counter[str]] = {}
    closed_by_cleanup = 0
    for lt in snap.lifetimes:
        state = lt.outcome.value
        if snap.released_by_cleanup(lt, end):
            state = "open"  # released only by the run's cleanup (or the GC it ran)
            closed_by_cleanup += 1
        by_kind.setdefault(lt.kind, Counter())[state] += 1
    rows = [["kind", "total", *OUTCOME_COLUMNS]]
    for kind, counts in by_kind.items():
        rows.append([_p(kind), str(sum(counts.values())), *[str(counts.get(c, 0) or "-") for c in OUTCOME_COLUMNS]])
    lines += _table(rows, right=set(range(1, len(OUTCOME_COLUMNS) + 2)))
    if closed_by_cleanup:
        lines.append(f"  ({closed_by_cleanup} left open were released by the run's cleanup afterwards)")
    return lines


def _alerts(snap: RunSnapshot) -> list[str]:
    if not snap.alerts:
        if snap.status == "ok":
            return ["No alerts: every tracked resource was released properly."]
        return [f"No alerts in what ran before the run ended ({_p(snap.status)})."]
    lines = [f"Alerts ({len(snap.alerts)})"]
    # Alerts of one rule at one site (the same line leaking on every request) are one entry:
    # the first message stands for the others.
    groups: dict[tuple[str, str, str | None, str], list[Alert]] = {}
    for a in snap.alerts:
        groups.setdefault((a.severity.value, a.rule, a.site, a.hint), []).append(a)
    for same in groups.values():
        a = same[0]
        where = f"  at {_p(a.site)}" if a.site else ""
        times = f"  (x{len(same)})" if len(same) > 1 else ""
        lines.append(f"  {a.severity.value.upper():<8} {_p(a.rule)}{where}{times}")
        lines.append(f"    {_p(a.message)}")
        if len(same) > 1:
            lines.append(f"    ... and {len(same) - 1} more like it (all of them are in --json)")
        lines.append(f"    hint: {_p(a.hint)}")
    return lines


def _streams(snap: RunSnapshot) -> list[str]:
    lines = [f"Streams ({len(snap.streams)})"]
    rows = [["label", "ttfb", "duration", "chunks", "bytes", "throughput"]]
    for st in snap.streams:
        ttfb = "-" if st.ttfb_ns is None else f"{st.ttfb_ns / 1e6:.1f} ms"
        rows.append([
            _p(st.label),
            ttfb,
            f"{st.duration_ns / 1e6:.1f} ms",
            f"{st.chunks:,}",
            units.fmt_bytes(st.bytes),  # one convention (decimal) in every view
            f"{units.fmt_bytes(st.throughput_bps)}/s",
        ])  # fmt: skip
    return lines + _table(rows, right={1, 2, 3, 4, 5})


def format_summary(snap: RunSnapshot) -> str:
    """A readable summary: status, lifetimes by kind and outcome, alerts with sites and hints, streams."""
    meta = snap.meta
    repeat = _p(meta.get("repeat", "1"))
    lines = [
        f"withscope run {_p(snap.target)}: {_p(snap.status)} in {snap.duration_s:.2f} s "
        f"({repeat} repeat{'s' if repeat != '1' else ''}, db {_p(meta.get('db', 'sqlite'))})"
    ]
    if snap.error:
        lines.append(f"  error: {_p(snap.error)}")
    if meta.get("cleanup_error"):
        lines.append(f"  cleanup: {_p(meta['cleanup_error'])}")
    if snap.dropped_events:
        lines.append(f"  warning: {snap.dropped_events} events were dropped (recorder buffer full)")
    lines += ["", *_lifetimes(snap), "", *_alerts(snap)]
    if snap.streams:
        lines += ["", *_streams(snap)]
    return "\n".join(lines)


__all__ = ["format_summary"]
