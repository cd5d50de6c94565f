"""One self-contained HTML report of a run, for sharing a diagnosis.

No external resource of any kind (no script, stylesheet, font or image URL): the style is
inline, the plots are inline SVG drawn by `_svg` without Qt. Sections: summary, alerts (with
hints, sites and stacks), the plots (lifetime timeline, process metrics, stream throughput),
streams, and the lifetime table. Every piece of run data is HTML-escaped.
"""

from __future__ import annotations

import datetime as _dt
from collections import Counter
from pathlib import Path

from withscope.core.events import Lifetime, Severity
from withscope.core.outputs import open_text, recording_inputs
from withscope.core.snapshot import RunSnapshot
from withscope.core.status import RunStatus
from withscope.core.units import fmt_bytes as fmt_size
from withscope.core.units import fmt_rate

from ._common import OUTCOME_ORDER, fmt_bytes, fmt_seconds
from ._svg import esc, metrics_svg, throughput_svg, timeline_svg

MAX_TABLE_ROWS = 5000

_CSS = """
:root{--fg:#1d1f23;--bg:#ffffff;--muted:#5f6670;--line:#d8dbe0;--card:#f5f6f8;--crit:#c62828;--warn:#b26a00;
--info:#1565c0;--ok:#2e7d32}
@media (prefers-color-scheme: dark){:root{--fg:#e6e8eb;--bg:#17191c;--muted:#9aa1ab;--line:#33373d;
--card:#202328;--crit:#ef5350;--warn:#ffb74d;--info:#64b5f6;--ok:#81c784}}
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",sans-serif;color:var(--fg);background:var(--bg);
margin:0 auto;max-width:1000px;padding:24px}
h1{font-size:22px;margin:0 0 4px}h2{font-size:17px;margin:28px 0 8px;border-bottom:1px solid var(--line);
padding-bottom:4px}.muted{color:var(--muted)}code,.mono{font-family:ui-monospace,Menlo,Consolas,monospace;
font-size:12.5px}table{border-collapse:collapse;width:100%}th,td{text-align:left;padding:4px 8px;
border-bottom:1px solid var(--line);vertical-align:top}th{font-weight:600;background:var(--card)}
.cards{display:flex;flex-wrap:wrap;gap:10px;margin:12px 0}.card{background:var(--card);border-radius:6px;
padding:8px 12px;min-width:110px}.card b{display:block;font-size:18px}.badge{display:inline-block;
border-radius:10px;padding:0 8px;font-size:12px;font-weight:600;color:#fff}.critical{background:var(--crit)}
.warning{background:var(--warn)}.info{background:var(--info)}.ok{background:var(--ok)}
.error,.cancelled,.running{background:var(--crit)}.hint{color:var(--muted)}svg.plot{max-width:100%;height:auto;
color:var(--fg)}details summary{cursor:pointer;color:var(--muted)}pre{margin:4px 0;white-space:pre-wrap}
td.num{text-align:right;font-variant-numeric:tabular-nums}
"""

_SEVERITY_ORDER = {Severity.CRITICAL: 0, Severity.WARNING: 1, Severity.INFO: 2}


def _card(title: str, value: str) -> str:
    return f'<div class="card"><span class="muted">{esc(title)}</span><b>{esc(value)}</b></div>'


def status_headline(snapshot: RunSnapshot) -> tuple[str, str]:
    """(badge class, text) of the run's status: a run that ended `ok` but raised alerts says so,
    worst severity first - "ran ok — 3 critical alerts" - in the worst severity's colour."""
    status = snapshot.status
    if not snapshot.alerts:
        return status, status
    counts = Counter(a.severity for a in snapshot.alerts)
    ordered = sorted(counts, key=lambda sev: _SEVERITY_ORDER.get(sev, 3))
    said = ", ".join(
        f"{counts[sev]} {sev.value} alert{'s' if counts[sev] != 1 else ''}" for sev in ordered
    )
    text = f"ran ok — {said}" if status == RunStatus.OK else f"{status} — {said}"
    return (ordered[0].value if status == RunStatus.OK else status), text


def _summary(snapshot: RunSnapshot) -> str:
    end = snapshot.run_end_ns
    workload_end = snapshot.workload_end_ns
    # A lifetime only the run's cleanup released was left open by the workload: counted as such.
    outcomes = Counter(
        "left open" if snapshot.released_by_cleanup(lt, workload_end) else lt.outcome.value
        for lt in snapshot.lifetimes
    )
    started = _dt.datetime.fromtimestamp(snapshot.wall_t0, tz=_dt.UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
    badge_class, headline = status_headline(snapshot)
    parts = [
        f"<h1>withscope report: <code>{esc(snapshot.target)}</code></h1>",
        f'<p class="muted">Run started {esc(started)} &middot; status <span class="badge {esc(badge_class)}">'
        f"{esc(headline)}</span>",
    ]
    if snapshot.end_ns is None:
        parts.append(" &middot; the run did not finish (times end at the last thing seen)")
    parts.append("</p>")
    if snapshot.error:
        parts.append(f"<p><b>Error:</b> <code>{esc(snapshot.error)}</code></p>")
    parts.append('<div class="cards">')
    parts.append(_card("duration", fmt_seconds((end - snapshot.t0_ns) / 1e9)))
    parts.append(_card("resources", str(len(snapshot.lifetimes))))
    for name in (*OUTCOME_ORDER, "left open"):
        if outcomes.get(name):
            parts.append(_card(name, str(outcomes[name])))
    parts.append(_card("alerts", str(len(snapshot.alerts))))
    parts.append(_card("streams", str(len(snapshot.streams))))
    if snapshot.samples:
        peak = max(s.rss_bytes for s in snapshot.samples)
        parts.append(_card("peak RSS", fmt_bytes(peak)))
    parts.append("</div>")
    if snapshot.dropped_events:
        parts.append(
            f'<p><span class="badge warning">incomplete</span> {snapshot.dropped_events} events were dropped '
            "because the recorder's buffer was full; counts may be low.</p>"
        )
    if snapshot.meta:
        items = ", ".join(f"{esc(k)}=<code>{esc(v)}</code>" for k, v in sorted(snapshot.meta.items()))
        parts.append(f'<p class="muted">Options: {items}</p>')
    return "".join(parts)


def _lifetime_name(by_id: dict[int, Lifetime], lid: int | None) -> str:
    if lid is None:
        return '<span class="muted">(the whole run)</span>'
    lt = by_id.get(lid)
    if lt is None:
        return f"#{lid}"
    return f'{esc(lt.label)} <span class="muted">({esc(lt.kind)} #{lid})</span>'


def _stack(stack: tuple[str, ...]) -> str:
    if not stack:
        return ""
    return f'<details><summary>stack</summary><pre class="mono">{esc(chr(10).join(stack))}</pre></details>'


def _alerts(snapshot: RunSnapshot, by_id: dict[int, Lifetime]) -> str:
    if not snapshot.alerts:
        return '<h2>Alerts</h2><p><span class="badge ok">none</span> No leak rule fired in this run.</p>'
    alerts = sorted(snapshot.alerts, key=lambda a: _SEVERITY_ORDER.get(a.severity, 3))
    rows = []
    for a in alerts:
        at = "" if a.t_ns is None else fmt_seconds(snapshot.seconds(a.t_ns))
        rows.append(
            f'<tr><td><span class="badge {esc(a.severity.value)}">{esc(a.severity.value)}</span></td>'
            f'<td><code>{esc(a.rule)}</code><br><span class="muted">{esc(at)}</span></td>'
            f'<td>{esc(a.message)}<div class="hint">Hint: {esc(a.hint)}</div></td>'
            f"<td>{_lifetime_name(by_id, a.lifetime_id)}</td>"
            f'<td class="mono">{esc(a.site or "")}{_stack(a.stack)}</td></tr>'
        )
    counts = Counter(a.severity.value for a in snapshot.alerts)
    summary = ", ".join(f"{n} {sev}" for sev, n in sorted(counts.items()))
    return (
        f"<h2>Alerts ({esc(summary)})</h2><table><thead><tr><th>severity</th><th>rule</th><th>what and what to do"
        "</th><th>resource</th><th>site</th></tr></thead><tbody>" + "".join(rows) + "</tbody></table>"
    )


def _streams(snapshot: RunSnapshot) -> str:
    if not snapshot.streams:
        return ""
    rows = []
    for st in snapshot.streams:
        ttfb = "" if st.ttfb_ns is None else fmt_seconds(st.ttfb_ns / 1e9)
        rows.append(
            f'<tr><td>{esc(st.label)} <span class="muted">#{st.lifetime_id}</span></td>'
            f'<td class="num">{esc(ttfb)}</td><td class="num">{esc(fmt_seconds(st.duration_ns / 1e9))}</td>'
            f'<td class="num">{st.chunks}</td><td class="num">{esc(fmt_size(st.bytes))}</td>'
            f'<td class="num">{esc(fmt_rate(st.throughput_bps))}</td><td>{"yes" if st.ended else "no"}</td></tr>'
        )
    return (
        "<h2>Streams</h2><table><thead><tr><th>stream</th><th>time to first chunk</th><th>duration</th>"
        "<th>chunks</th><th>bytes</th><th>throughput</th><th>ended</th></tr></thead><tbody>"
        + "".join(rows)
        + "</tbody></table>"
    )


def _lifetimes(snapshot: RunSnapshot) -> str:
    if not snapshot.lifetimes:
        return '<h2>Lifetimes</h2><p class="muted">No resources were tracked in this run.</p>'
    end = snapshot.run_end_ns
    workload_end = snapshot.workload_end_ns
    rows = []
    for lt in snapshot.lifetimes[:MAX_TABLE_ROWS]:
        held = fmt_seconds(lt.duration_ns(end) / 1e9) + (" (open)" if lt.released_ns is None else "")
        notes = []
        if snapshot.released_by_cleanup(lt, workload_end):
            notes.append("<b>left open by the workload</b>: released only by the run's cleanup")
        if lt.error:
            notes.append(f"<code>{esc(lt.error)}</code>")
        if lt.suppressed:
            notes.append("suppressed" + (" (declared)" if lt.suppression_declared else " (undeclared)"))
        rows.append(
            f'<tr><td class="num">{lt.id}</td><td>{esc(lt.kind)}</td><td>{esc(lt.label)}</td>'
            f'<td class="mono">{esc(lt.site or "")}</td>'
            f'<td class="num">{esc(fmt_seconds(snapshot.seconds(lt.acquired_ns)))}</td>'
            f'<td class="num">{esc(held)}</td><td>{esc(lt.outcome.value)}</td><td>{"; ".join(notes)}</td></tr>'
        )
    more = len(snapshot.lifetimes) - MAX_TABLE_ROWS
    tail = f'<p class="muted">{more} more lifetimes: see the CSV export.</p>' if more > 0 else ""
    return (
        f"<h2>Lifetimes ({len(snapshot.lifetimes)})</h2><table><thead><tr><th>id</th><th>kind</th><th>label</th>"
        "<th>site</th><th>acquired at</th><th>held</th><th>outcome</th><th>notes</th></tr></thead><tbody>"
        + "".join(rows)
        + "</tbody></table>"
        + tail
    )


def html_report(snapshot: RunSnapshot) -> str:
    """The whole report as one HTML document (a string)."""
    by_id = {lt.id: lt for lt in snapshot.lifetimes}
    version = snapshot.meta.get("withscope_version", "")
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>withscope: {esc(snapshot.target)}</title><style>{_CSS}</style></head><body>"
        + _summary(snapshot)
        + _alerts(snapshot, by_id)
        + "<h2>Lifetime timeline</h2>"
        + timeline_svg(snapshot)
        + "<h2>Process metrics</h2>"
        + metrics_svg(snapshot)
        + "<h2>Stream throughput</h2>"
        + throughput_svg(snapshot)
        + _streams(snapshot)
        + _lifetimes(snapshot)
        + f'<p class="muted">Generated by withscope {esc(version)}.</p></body></html>\n'
    )


def write(snapshot: RunSnapshot, out_path: Path) -> list[Path]:
    """Write the report to `out_path` (conventionally ``*.html``). Returns the files written."""
    with open_text(out_path, owns, WHAT, inputs=recording_inputs(snapshot.meta)) as f:
        f.write(html_report(snapshot))
    return [out_path]


WHAT = "withscope HTML report"


def owns(head: bytes) -> bool:
    """True when `head` (a file's first bytes) starts a report withscope wrote (it may be replaced)."""
    return head.startswith(b"<!DOCTYPE html>") and b"<title>withscope: " in head
