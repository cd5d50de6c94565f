"""HTML report: one self-contained file, every piece of run data escaped, plots as inline SVG."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from html.parser import HTMLParser
from pathlib import Path

from exporter_snapshots import NASTY
from withscope.core.events import Outcome
from withscope.core.exporters import html as html_export
from withscope.core.exporters._svg import bar_style, nice_ticks
from withscope.core.snapshot import RunSnapshot

SVG_NS = "{http://www.w3.org/2000/svg}"


class _Collect(HTMLParser):
    """Tags opened, and the page's text as a browser would show it (entities decoded)."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[str] = []
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def _page(snapshot: RunSnapshot, tmp_path: Path) -> str:
    (path,) = html_export.write(snapshot, tmp_path / "report.html")
    return path.read_text(encoding="utf-8")


def _svgs(page: str) -> list[ET.Element]:
    return [ET.fromstring(m) for m in re.findall(r"<svg .*?</svg>", page, flags=re.S)]


def test_page_is_self_contained(run: RunSnapshot, tmp_path: Path) -> None:
    page = _page(run, tmp_path)
    assert page.startswith("<!DOCTYPE html>")
    for forbidden in ("<script", "<link", "<img", "<iframe", "@import", "src=", "href="):
        assert forbidden not in page.lower(), forbidden
    # the only url() references are fragment references to the page's own SVG patterns
    assert all(ref.startswith("#") for ref in re.findall(r"url\(([^)]*)\)", page))


def test_run_data_is_escaped_everywhere(run: RunSnapshot, tmp_path: Path) -> None:
    # GIVEN labels, messages, marks and options with <>&"' WHEN rendered
    page = _page(run, tmp_path)
    # THEN the raw markup never appears, and the escaped text reads back as the original
    assert NASTY not in page
    assert "<blink" not in page
    parser = _Collect()
    parser.feed(page)
    text = "".join(parser.text)
    assert NASTY in text
    assert "ValueError: <bad> & worse" in text
    assert "blink" not in parser.tags  # no tag smuggled in through a label
    # every inline SVG is well-formed XML (escaping included)
    svgs = _svgs(page)
    assert len(svgs) == 3
    titles = [t.text or "" for svg in svgs for t in svg.iter(f"{SVG_NS}title")]
    assert any(NASTY in t for t in titles)


def test_summary_alerts_and_tables(run: RunSnapshot, tmp_path: Path) -> None:
    parser = _Collect()
    parser.feed(_page(run, tmp_path))
    text = " ".join(parser.text)
    for expected in (
        "Alerts (1 critical, 1 info, 1 warning)",
        "Hint: open it with `with` & <close>",
        "open fds grew by 12 over 3 repeats",
        "(the whole run)",  # an alert without a lifetime
        "app.py:12",
        "Lifetimes (8)",
        "Streams",
        "peak RSS",
    ):
        assert expected in text, expected


def test_timeline_draws_every_lifetime_with_its_outcome_style(run: RunSnapshot, tmp_path: Path) -> None:
    timeline = _svgs(_page(run, tmp_path))[0]
    bars = [g for g in timeline.iter(f"{SVG_NS}g") if g.find(f"{SVG_NS}rect") is not None]
    assert len(bars) == len(run.lifetimes)
    by_id = {}
    for g in bars:
        title = g.find(f"{SVG_NS}title")
        assert title is not None
        assert title.text is not None
        lid = int(re.search(r"id (\d+)\)", title.text).group(1))  # type: ignore[union-attr]
        by_id[lid] = g
    open_bar = by_id[2].find(f"{SVG_NS}rect")
    assert open_bar is not None
    assert open_bar.get("stroke-dasharray") == "4 2"  # open: dashed, to the run's end, with an arrow
    assert by_id[2].find(f"{SVG_NS}line") is not None
    assert float(open_bar.get("x", "0")) + float(open_bar.get("width", "0")) >= 939.0
    err = by_id[3].find(f"{SVG_NS}rect")
    assert err is not None
    assert err.get("stroke") == "#D62728"
    raised = by_id[4].find(f"{SVG_NS}rect")
    assert raised is not None
    assert (raised.get("fill") or "").startswith("url(#hatch")
    # five distinct outcome styles
    styles = {bar_style(lt, "#000", "h") for lt in run.lifetimes if lt.outcome is not Outcome.RELEASED}
    assert len(styles) == 4


def test_empty_run_says_so(empty_run: RunSnapshot, tmp_path: Path) -> None:
    parser = _Collect()
    parser.feed(_page(empty_run, tmp_path))
    text = " ".join(parser.text)
    for expected in ("No leak rule fired", "No resources were tracked", "No process samples", "No streams"):
        assert expected in text


def test_unfinished_run_is_marked(unfinished_run: RunSnapshot, tmp_path: Path) -> None:
    assert "the run did not finish" in _page(unfinished_run, tmp_path)


def test_nice_ticks() -> None:
    assert nice_ticks(0, 1) == [0, 0.2, 0.4, 0.6, 0.8, 1.0]
    assert nice_ticks(0, 95) == [0, 20, 40, 60, 80]
    assert nice_ticks(3, 3) == [3]
