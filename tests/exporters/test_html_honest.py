"""The HTML report's picture is honest: leaked bars are marked, the legend shows the colours the
bars use, the headline says a run with alerts has alerts, and rates read in one unit (decimal,
as the app's axes)."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from dataclasses import replace
from pathlib import Path

from exporter_snapshots import MS, T0, lt, make_run
from withscope.core import units
from withscope.core.events import Alert, Mark, Outcome, Severity, StreamStats
from withscope.core.exporters import html as html_export
from withscope.core.exporters._svg import throughput_svg, timeline_svg
from withscope.core.marks import WORKLOAD_END
from withscope.core.snapshot import RunSnapshot

SVG_NS = "{http://www.w3.org/2000/svg}"


def _leaky_run() -> RunSnapshot:
    """GIVEN a workload that ended at 50 ms leaving a connection open, released by the run's
    cleanup at 95 ms, next to one it released itself, and three critical alerts."""
    base = make_run()
    lifetimes = (
        lt(0, "db.connection", 0, 30, Outcome.RELEASED, label="closed in time"),
        lt(1, "db.connection", 10, 95, Outcome.RELEASED, label="left open"),
    )
    alerts = tuple(Alert("unreleased", Severity.CRITICAL, f"leak {i}", "use with", 1) for i in range(3))
    marks = (*base.marks, Mark(T0 + 50 * MS, WORKLOAD_END))
    return replace(base, lifetimes=lifetimes, alerts=alerts, marks=marks, streams=())


def _bars(svg: str) -> dict[str, ET.Element]:
    root = ET.fromstring(svg)
    out = {}
    for g in root.iter(f"{SVG_NS}g"):
        title = g.find(f"{SVG_NS}title")
        rect = g.find(f"{SVG_NS}rect")
        if title is not None and rect is not None and title.text:
            out[title.text.split(" (")[0]] = rect
    return out


def test_a_leaked_bar_is_drawn_unlike_a_released_one() -> None:
    snap = _leaky_run()
    bars = _bars(timeline_svg(snap))
    released, leaked = bars["closed in time"], bars["left open"]
    style = ("stroke", "stroke-dasharray", "fill-opacity")
    assert tuple(leaked.get(a) for a in style) != tuple(released.get(a) for a in style)
    # AND the legend explains that style
    svg = timeline_svg(snap)
    root = ET.fromstring(svg)
    legend_strokes = {r.get("stroke") for r in root.iter(f"{SVG_NS}rect") if r.get("width") == "22"}
    assert leaked.get("stroke") in legend_strokes
    assert "leaked" in svg


def test_legend_shows_every_colour_a_bar_is_filled_with() -> None:
    root = ET.fromstring(timeline_svg(make_run()))
    bar_fills = {g.find(f"{SVG_NS}rect").get("fill") for g in root.iter(f"{SVG_NS}g")  # type: ignore[union-attr]
                 if g.find(f"{SVG_NS}rect") is not None}
    bar_fills = {f for f in bar_fills if f and not f.startswith("url(")}
    legend_fills = {r.get("fill") for r in root.iter(f"{SVG_NS}rect") if r.get("width") == "22"}
    assert bar_fills
    assert bar_fills <= legend_fills, bar_fills - legend_fills


def test_headline_says_a_run_that_ran_ok_has_critical_alerts(tmp_path: Path) -> None:
    page = html_export.html_report(_leaky_run())
    badge = re.search(r'status <span class="badge ([a-z]+)">([^<]*)</span>', page)
    assert badge is not None
    assert badge.group(2) == "ran ok — 3 critical alerts"
    assert badge.group(1) == "critical"


def test_headline_without_alerts_is_the_status() -> None:
    page = html_export.html_report(replace(make_run(), alerts=()))
    badge = re.search(r'status <span class="badge ([a-z]+)">([^<]*)</span>', page)
    assert badge is not None
    assert badge.groups() == ("ok", "ok")


def test_rates_read_in_decimal_units_as_in_the_app() -> None:
    # GIVEN a stream
    series = tuple((T0 + (10 + 10 * i) * MS, i * 25_000, i * 10) for i in range(1, 9))
    st = StreamStats(1, "body", T0, T0 + 5 * MS, T0 + 90 * MS, True, 80, 200_000, series)
    snap = replace(make_run(), streams=(st,))
    svg = throughput_svg(snap)
    page = html_export.html_report(snap)
    assert "MiB" not in svg
    assert "KiB" not in svg
    assert re.search(r">\d+(\.\d+)? kB/s<", svg), svg
    assert units.fmt_rate(st.throughput_bps) in page
    assert units.fmt_rate(2_500_000) == "2.5 MB/s"
    assert units.fmt_bytes(1_500) == "1.5 kB"
    assert units.rate_unit(3e9) == (1e9, "GB/s")
