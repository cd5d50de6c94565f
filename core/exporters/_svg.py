"""The main plots of a run as inline SVG, drawn without Qt: lifetime timeline, process metrics
strip chart, stream throughput. Every string that reaches the markup goes through `esc`.

Axis, text and grid use ``currentColor`` so the plots follow the page's light or dark theme.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from html import escape

from withscope.core.events import Lifetime, Outcome
from withscope.core.snapshot import RunSnapshot
from withscope.core.units import fmt_bytes, rate_unit

from ._common import OUTCOME_ORDER, finite, fmt_seconds, kinds_in_order, pack_lanes

WIDTH = 960
GUTTER = 170  # left margin for lane and axis labels
RIGHT = 20
LANE_H = 14
LANE_GAP = 3
MAX_LANES_PER_KIND = 24  # busier kinds fold their extra lanes onto these (noted under the plot)
MAX_BARS = 20_000

# Colour-blind-friendly palette (Okabe-Ito, then Tableau) for kinds and streams.
PALETTE = (
    "#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#F0E442", "#4E79A7",
    "#59A14F", "#B07AA1", "#9C755F", "#76B7B2",
)  # fmt: skip
ERROR_RED = "#D62728"
LEAK_MAGENTA = "#C2185B"  # leaked bars' outline: a colour no outcome and no kind uses
NEUTRAL = "#888888"  # outcome swatches of the legend (the bars take their kind's colour)
_LIGHT_FILL = (Outcome.OPEN, Outcome.GC, Outcome.EXIT_RAISED)  # bars whose label is drawn in the text colour


def esc(text: object) -> str:
    """Escape for SVG/HTML text and attribute values (quotes included)."""
    return escape(str(text), quote=True)


def colour(i: int) -> str:
    return PALETTE[i % len(PALETTE)]


def _num(x: float) -> str:
    return f"{x:.1f}".rstrip("0").rstrip(".") if math.isfinite(x) else "0"


def nice_ticks(lo: float, hi: float, target: int = 6) -> list[float]:
    """Round tick values covering [lo, hi] (1, 2, 5 x 10^n steps)."""
    if not math.isfinite(lo) or not math.isfinite(hi) or hi <= lo:
        return [lo] if math.isfinite(lo) else [0.0]
    raw = (hi - lo) / max(1, target)
    mag = 10 ** math.floor(math.log10(raw))
    step = next((m * mag for m in (1, 2, 5, 10) if m * mag >= raw), 10 * mag)
    first = math.ceil(lo / step - 1e-9) * step
    ticks = []
    t = first
    while t <= hi + step * 1e-9:
        ticks.append(round(t, 12))
        t += step
    return ticks


class TimeScale:
    """Maps perf_counter_ns times of the run to x pixels."""

    def __init__(self, snapshot: RunSnapshot) -> None:
        self.t0 = snapshot.t0_ns
        self.end = max(snapshot.run_end_ns, self.t0 + 1)
        self.x0 = GUTTER
        self.x1 = WIDTH - RIGHT

    @property
    def seconds(self) -> float:
        return (self.end - self.t0) / 1e9

    def x(self, t_ns: int) -> float:
        frac = (t_ns - self.t0) / (self.end - self.t0)
        return self.x0 + max(0.0, min(1.0, frac)) * (self.x1 - self.x0)

    def axis(self, y: float, *, labels: bool = True) -> list[str]:
        """Tick marks (and labels) along y, in seconds or milliseconds since the start."""
        total = self.seconds
        ms = total < 2
        ticks = nice_ticks(0.0, total * (1000 if ms else 1))
        out = [f'<line x1="{self.x0}" y1="{y:.1f}" x2="{self.x1}" y2="{y:.1f}" class="axis"/>']
        for t in ticks:
            xs = self.x(self.t0 + int(t * (1e6 if ms else 1e9)))
            out.append(f'<line x1="{xs:.1f}" y1="{y:.1f}" x2="{xs:.1f}" y2="{y + 4:.1f}" class="axis"/>')
            if labels:
                out.append(f'<text x="{xs:.1f}" y="{y + 15:.1f}" class="tick" text-anchor="middle">{_num(t)}</text>')
        if labels:
            unit = "time since start (ms)" if ms else "time since start (s)"
            out.append(f'<text x="{self.x1}" y="{y + 30:.1f}" class="tick" text-anchor="end">{unit}</text>')
        return out

    def grid(self, y0: float, y1: float) -> list[str]:
        total = self.seconds
        ms = total < 2
        out = []
        for t in nice_ticks(0.0, total * (1000 if ms else 1)):
            xs = self.x(self.t0 + int(t * (1e6 if ms else 1e9)))
            out.append(f'<line x1="{xs:.1f}" y1="{y0:.1f}" x2="{xs:.1f}" y2="{y1:.1f}" class="grid"/>')
        return out


def _svg(height: float, body: list[str], label: str) -> str:
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {height:.0f}" width="{WIDTH}" '
        f'height="{height:.0f}" role="img" aria-label="{esc(label)}" class="plot">'
        "<style>.axis{stroke:currentColor;stroke-width:1}.grid{stroke:currentColor;stroke-opacity:.12}"
        ".tick{font:11px sans-serif;fill:currentColor}.lane{font:12px sans-serif;fill:currentColor}"
        ".note{font:11px sans-serif;fill:currentColor;fill-opacity:.7}.bar{font:10.5px sans-serif}</style>"
        + "".join(body)
        + "</svg>"
    )


def _defs(kind_colours: dict[str, str]) -> str:
    """Hatch patterns (exit-raised) and the open-end arrow."""
    parts = ["<defs>"]
    for i, c in enumerate(kind_colours.values()):
        parts.append(
            f'<pattern id="hatch{i}" width="6" height="6" patternUnits="userSpaceOnUse" '
            f'patternTransform="rotate(45)"><rect width="6" height="6" fill="{c}" fill-opacity=".35"/>'
            f'<line x1="0" y1="0" x2="0" y2="6" stroke="{ERROR_RED}" stroke-width="3"/></pattern>'
        )
    parts.append(
        '<marker id="openend" viewBox="0 0 10 10" refX="1" refY="5" markerWidth="6" markerHeight="6" '
        'orient="auto"><path d="M0,0L10,5L0,10z" fill="currentColor"/></marker></defs>'
    )
    return "".join(parts)


def bar_style(lt: Lifetime, c: str, hatch_id: str, *, leaked: bool = False) -> str:
    """Fill/stroke attributes of one bar: the outcome decides the styling, the kind the colour.
    `leaked`: the workload left it open and only the run's cleanup released it."""
    o = lt.outcome
    if leaked:
        return f'fill="{c}" fill-opacity=".3" stroke="{LEAK_MAGENTA}" stroke-width="2" stroke-dasharray="5 2"'
    if o is Outcome.OPEN:
        return f'fill="{c}" fill-opacity=".3" stroke="{c}" stroke-width="1.5" stroke-dasharray="4 2"'
    if o is Outcome.RELEASED_WITH_ERROR:
        return f'fill="{c}" stroke="{ERROR_RED}" stroke-width="2"'
    if o is Outcome.EXIT_RAISED:
        return f'fill="url(#{hatch_id})" stroke="{ERROR_RED}" stroke-width="2"'
    if o is Outcome.GC:
        return f'fill="{c}" fill-opacity=".45" stroke="currentColor" stroke-width="1" stroke-dasharray="1 2"'
    return f'fill="{c}"'


def _bar_title(snapshot: RunSnapshot, lt: Lifetime, end: int, leaked: bool = False) -> str:
    held = fmt_seconds(lt.duration_ns(end) / 1e9)
    outcome = lt.outcome.value + (" by the run's cleanup (leaked: the workload left it open)" if leaked else "")
    parts = [f"{lt.label} ({lt.kind}, id {lt.id})", f"outcome: {outcome}", f"held {held}"]
    parts.append(f"acquired at {fmt_seconds(snapshot.seconds(lt.acquired_ns))}")
    if lt.site:
        parts.append(f"site: {lt.site}")
    if lt.error:
        parts.append(f"error: {lt.error}")
    return "\n".join(parts)


def timeline_svg(snapshot: RunSnapshot) -> str:
    """Lifetimes as bars, one group of lanes per kind; alerts as red ticks; marks as dashed lines."""
    scale = TimeScale(snapshot)
    end = scale.end
    workload_end = snapshot.workload_end_ns
    kinds = kinds_in_order(snapshot.lifetimes)
    kind_colours = {k: colour(i) for i, k in enumerate(kinds)}
    top = 24
    y = float(top)
    body: list[str] = [_defs(kind_colours)]
    bars: list[str] = []
    labels: list[str] = []
    notes: list[str] = []
    drawn = 0
    for ki, kind in enumerate(kinds):
        group = [lt for lt in snapshot.lifetimes if lt.kind == kind]
        lanes, count = pack_lanes(group, end)
        shown = min(count, MAX_LANES_PER_KIND)
        if count > shown:
            notes.append(f"{kind}: {count} resources held at once at peak; drawn on {shown} lanes")
        group_h = shown * (LANE_H + LANE_GAP)
        labels.append(
            f'<text x="{GUTTER - 8}" y="{y + min(group_h, LANE_H + LANE_GAP) / 2 + 4:.1f}" class="lane" '
            f'text-anchor="end">{esc(kind)} ({len(group)})</text>'
        )
        c = kind_colours[kind]
        for lt in group:
            if drawn >= MAX_BARS:
                break
            drawn += 1
            ly = y + (lanes[lt.id] % shown) * (LANE_H + LANE_GAP)
            leaked = snapshot.released_by_cleanup(lt, workload_end)
            x0 = scale.x(lt.acquired_ns)
            stop = lt.released_ns if lt.released_ns is not None else end
            x1 = max(scale.x(stop), x0 + 1.5)
            extra = ' marker-end="url(#openend)"' if lt.outcome is Outcome.OPEN else ""
            text = ""
            chars = int((x1 - x0 - 8) / 6.5)
            if chars >= 4 and lt.label and count == shown:  # folded lanes overlap: no labels there
                shown_label = lt.label if len(lt.label) <= chars else lt.label[: chars - 1] + "…"
                fill = "currentColor" if leaked or lt.outcome in _LIGHT_FILL else "#ffffff"
                text = (
                    f'<text x="{x0 + 4:.1f}" y="{ly + LANE_H - 3.5:.1f}" class="bar" fill="{fill}">'
                    f"{esc(shown_label)}</text>"
                )
            bars.append(
                f'<g><title>{esc(_bar_title(snapshot, lt, end, leaked))}</title><rect x="{x0:.1f}" y="{ly:.1f}" '
                f'width="{x1 - x0:.1f}" height="{LANE_H}" rx="2" {bar_style(lt, c, f"hatch{ki}", leaked=leaked)}/>'
                + (
                    f'<line x1="{x1:.1f}" y1="{ly + LANE_H / 2:.1f}" x2="{x1 + 0.1:.1f}" '
                    f'y2="{ly + LANE_H / 2:.1f}" stroke="{c}"{extra}/>'
                    if extra
                    else ""
                )
                + text
                + "</g>"
            )
        y += group_h + 8
    if drawn < len(snapshot.lifetimes):
        notes.append(f"{len(snapshot.lifetimes) - drawn} more lifetimes not drawn (see the table or the CSV export)")
    if not kinds:
        body.append(
            f'<text x="{WIDTH / 2}" y="{top + 20}" class="note" text-anchor="middle">'
            "No resources were tracked in this run.</text>"
        )
        y += 30
    body.extend(scale.grid(top - 6, y))
    body.extend(labels)
    body.extend(bars)
    for m in snapshot.marks:
        xm = scale.x(m.t_ns)
        body.append(
            f"<g><title>{esc(m.text)} at {esc(fmt_seconds(snapshot.seconds(m.t_ns)))}</title>"
            f'<line x1="{xm:.1f}" y1="{top - 6}" x2="{xm:.1f}" y2="{y:.1f}" stroke="currentColor" '
            'stroke-opacity=".5" stroke-dasharray="3 3"/></g>'
        )
    for a in snapshot.alerts:
        xa = scale.x(a.t_ns if a.t_ns is not None else end)
        body.append(
            f"<g><title>{esc(a.severity.value)}: {esc(a.rule)} - {esc(a.message)}</title>"
            f'<path d="M{xa - 5:.1f},{top - 14}L{xa + 5:.1f},{top - 14}L{xa:.1f},{top - 5}z" fill="{ERROR_RED}"/></g>'
        )
    body.extend(scale.axis(y))
    y += 40
    legend, y = _legend(y, kind_colours)
    body.extend(legend)
    for note in notes:
        body.append(f'<text x="{GUTTER}" y="{y:.1f}" class="note">{esc(note)}</text>')
        y += 16
    return _svg(y + 6, body, "Lifetime timeline")


def _legend(y: float, kind_colours: dict[str, str]) -> tuple[list[str], float]:
    """Every style the bars use: the kinds in their colours, then the outcome styles (drawn in
    a neutral grey: a bar takes its kind's colour) and the leaked style. Returns the markup and
    the y below it."""
    out: list[str] = []
    x = float(GUTTER)

    def entry(swatch: str, text: str) -> None:
        nonlocal x, y
        width = 40 + 6.2 * len(text)
        if x + width > WIDTH - RIGHT and x > GUTTER:
            x, y = float(GUTTER), y + 18
        out.append(swatch.format(x=f"{x:.1f}", y=f"{y - 10:.1f}"))
        out.append(f'<text x="{x + 27:.1f}" y="{y:.1f}" class="tick">{esc(text)}</text>')
        x += width

    out.append(f'<text x="{GUTTER - 8}" y="{y:.1f}" class="tick" text-anchor="end">kind</text>')
    for kind, c in kind_colours.items():
        entry(f'<rect x="{{x}}" y="{{y}}" width="22" height="10" rx="2" fill="{c}" class="legend-kind"/>', kind)
    if kind_colours:
        x, y = float(GUTTER), y + 18
    names = {
        "open": "open (held at the end)",
        "released": "released",
        "released-with-error": "released on error",
        "exit-raised": "exit raised",
        "gc": "released by GC",
    }
    out.append(f'<text x="{GUTTER - 8}" y="{y:.1f}" class="tick" text-anchor="end">outcome</text>')
    for name in OUTCOME_ORDER:
        fake = Lifetime(0, "", "", None, (), "", None, 0, None, Outcome(name), None, None, False, False)
        style = bar_style(fake, NEUTRAL, "hatch0")
        entry(f'<rect x="{{x}}" y="{{y}}" width="22" height="10" rx="2" {style}/>', names[name])
    fake = Lifetime(0, "", "", None, (), "", None, 0, None, Outcome.RELEASED, None, None, False, False)
    entry(f'<rect x="{{x}}" y="{{y}}" width="22" height="10" rx="2" {bar_style(fake, NEUTRAL, "", leaked=True)}/>',
          "leaked (released only by the run's cleanup)")
    entry(f'<path d="M{{x}},{{y}}l10,0l-5,9z" fill="{ERROR_RED}"/>', "alert")
    return out, y + 22


def _polyline(points: Sequence[tuple[float, float]], c: str, width: float = 1.5) -> str:
    if not points:
        return ""
    pts = " ".join(f"{x:.1f},{y:.1f}" for x, y in points)
    return f'<polyline points="{pts}" fill="none" stroke="{c}" stroke-width="{width}" stroke-linejoin="round"/>'


METRICS: tuple[tuple[str, str, float], ...] = (
    ("RSS (MiB)", "rss_bytes", 1 / (1024 * 1024)),
    ("open fds", "fds", 1.0),
    ("threads", "threads", 1.0),
    ("connections", "connections", 1.0),
    ("CPU (%)", "cpu_percent", 1.0),
)


def metrics_svg(snapshot: RunSnapshot) -> str:
    """One strip per process metric on the run's time axis, with min and max labelled."""
    scale = TimeScale(snapshot)
    if not snapshot.samples:
        return _svg(
            40,
            [f'<text x="{WIDTH / 2}" y="24" class="note" text-anchor="middle">No process samples in this run.</text>'],
            "Process metrics",
        )
    strip_h, gap, top = 54.0, 14.0, 8.0
    body: list[str] = scale.grid(top, top + len(METRICS) * (strip_h + gap))
    y = top
    for i, (name, attr, mul) in enumerate(METRICS):
        values = [finite(float(getattr(s, attr)) * mul) for s in snapshot.samples]
        lo, hi = min(values), max(values)
        span = hi - lo if hi > lo else max(1.0, abs(hi))
        base = lo if hi > lo else lo - span / 2

        def py(v: float, y: float = y, base: float = base, span: float = span) -> float:
            return y + strip_h - (v - base) / span * strip_h

        pts = [(scale.x(s.t_ns), py(v)) for s, v in zip(snapshot.samples, values, strict=True)]
        body.append(f'<text x="{GUTTER - 8}" y="{y + strip_h / 2 + 4:.1f}" class="lane" text-anchor="end">'
                    f"{esc(name)}</text>")  # fmt: skip
        if hi > lo:
            body.append(f'<text x="{GUTTER - 8}" y="{y + 9:.1f}" class="tick" text-anchor="end">{_num(hi)}</text>')
        body.append(f'<text x="{GUTTER - 8}" y="{y + strip_h:.1f}" class="tick" text-anchor="end">{_num(lo)}</text>')
        body.append(
            f'<line x1="{GUTTER}" y1="{y + strip_h:.1f}" x2="{WIDTH - RIGHT}" y2="{y + strip_h:.1f}" class="grid"/>'
        )
        body.append(_polyline(pts, colour(i)))
        y += strip_h + gap
    body.extend(scale.axis(y))
    return _svg(y + 40, body, "Process metrics")


def throughput_svg(snapshot: RunSnapshot) -> str:
    """Bytes per second of every stream over time; time to first byte as a dot."""
    scale = TimeScale(snapshot)
    streams = [st for st in snapshot.streams if st.series]
    if not streams:
        return _svg(
            40,
            [f'<text x="{WIDTH / 2}" y="24" class="note" text-anchor="middle">No streams in this run.</text>'],
            "Stream throughput",
        )
    top, plot_h = 10.0, 200.0
    rates = {st.lifetime_id: [(t, finite(bps)) for t, bps, _ in st.rates()] for st in streams}
    peak = max((v for r in rates.values() for _, v in r), default=0.0) or 1.0
    unit, unit_name = rate_unit(peak)
    ticks = [t * unit for t in nice_ticks(0.0, peak / unit, 4)]
    if len(ticks) > 1 and ticks[-1] < peak:
        ticks.append(ticks[-1] + (ticks[1] - ticks[0]))  # the axis ends on a labelled value above the peak
    top_value = max(ticks[-1], peak)

    def py(v: float) -> float:
        return top + plot_h - v / top_value * plot_h

    body = scale.grid(top, top + plot_h)
    for t in ticks:
        body.append(f'<line x1="{GUTTER}" y1="{py(t):.1f}" x2="{WIDTH - RIGHT}" y2="{py(t):.1f}" class="grid"/>')
        body.append(
            f'<text x="{GUTTER - 8}" y="{py(t) + 4:.1f}" class="tick" text-anchor="end">{_num(t / unit)} '
            f"{unit_name}</text>"
        )
    for i, st in enumerate(streams):
        c = colour(i)
        pts = [(scale.x(st.started_ns), py(0.0))] + [(scale.x(t), py(v)) for t, v in rates[st.lifetime_id]]
        body.append(f"<g><title>{esc(st.label)}: {esc(fmt_bytes(st.bytes))} in {st.chunks} chunks</title>"
                    f"{_polyline(pts, c)}</g>")  # fmt: skip
        if st.first_chunk_ns is not None:
            ttfb = fmt_seconds((st.ttfb_ns or 0) / 1e9)
            body.append(
                f"<g><title>{esc(st.label)}: first chunk after {esc(ttfb)}</title>"
                f'<circle cx="{scale.x(st.first_chunk_ns):.1f}" cy="{py(0.0):.1f}" r="4" fill="{c}"/></g>'
            )
    body.extend(scale.axis(top + plot_h))
    y = top + plot_h + 48
    x = float(GUTTER)
    for i, st in enumerate(streams):
        name = f"{st.label} #{st.lifetime_id}"
        body.append(f'<rect x="{x:.1f}" y="{y - 9:.1f}" width="14" height="4" fill="{colour(i)}"/>')
        body.append(f'<text x="{x + 18:.1f}" y="{y:.1f}" class="tick">{esc(name)}</text>')
        x += 40 + 6.2 * len(name)
        if x > WIDTH - 150:
            x, y = float(GUTTER), y + 16
    return _svg(y + 10, body, "Stream throughput")
