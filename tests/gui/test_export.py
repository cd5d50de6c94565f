"""File > Export from the app: every data format of the current run, PNG / SVG of the live plots
(right-click menu too), and the png/svg writers the GUI registers with `core.exporters`.
Each written file is checked in the format it claims: JSON parses, CSV has rows, the HTML is one
document, the PNG loads as an image, the SVG parses as XML."""

from __future__ import annotations

import asyncio
import csv
import json
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from PySide6.QtCore import QPoint
from PySide6.QtGui import QImage
from PySide6.QtWidgets import QApplication, QFileDialog
from qt_helpers import close_window, until

if TYPE_CHECKING:
    from withscope.gui.shell.main_window import MainWindow


def check_png(path: Path, min_width: int = 100) -> QImage:
    img = QImage(str(path))
    assert not img.isNull(), f"{path} does not load as an image"
    assert img.width() >= min_width
    assert img.height() > 50
    return img


def check_svg(path: Path) -> ET.Element:
    root = ET.parse(path).getroot()
    assert root.tag.endswith("svg")
    assert len(list(root.iter())) > 10
    return root


def test_every_export_of_the_current_run_from_the_menus(
    window: MainWindow, loop: asyncio.AbstractEventLoop, tmp_path: Path
) -> None:
    seen: dict[str, Any] = {}

    async def scenario() -> None:
        ex = window.features.exports
        seen["nothing"] = await ex.export_to("json", tmp_path / "none.json")
        seen["nothing_text"] = window.messages.text()
        window.run_workloads(["class-cm/faulty"])
        await until(lambda: not window.controller.is_running(), 30, "the run to end")
        window.bridge.tick()
        for fmt, name in (("chrome", "run.trace.json"), ("csv", "run.csv"), ("json", "run.json"),
                          ("html", "run.html")):
            seen[fmt] = await ex.export_to(fmt, tmp_path / name)
        seen["msg"] = window.messages.text()
        # images of the live plots (the metrics have samples of the run)
        seen["timeline.png"] = ex.save_image(ex.live_item("timeline"), tmp_path / "timeline.png")
        seen["timeline.svg"] = ex.save_image(ex.live_item("timeline"), tmp_path / "timeline.svg")
        seen["metrics.png"] = ex.save_image(ex.live_item("metrics"), tmp_path / "metrics.png")
        seen["throughput"] = ex.live_item("throughput")
        seen["bad"] = ex.save_image(ex.live_item("timeline"), tmp_path / "timeline.gif")
        seen["bad_text"] = window.messages.text()
        # the menu items ask where with a non-modal dialog
        ex.actions["html"].trigger()
        dlg = vars(window)["_file_dialog"]  # set by file_dialogs.ask_path
        seen["dialog"] = (isinstance(dlg, QFileDialog), dlg.isVisible(), dlg.isModal() and dlg.windowModality(),
                          dlg.selectedFiles()[0].endswith(".html"))
        dlg.close()
        await close_window(window)

    loop.run_until_complete(scenario())
    assert seen["nothing"] == []
    assert "Nothing to export yet" in seen["nothing_text"]
    trace = json.loads((tmp_path / "run.trace.json").read_text())
    assert any(e["ph"] == "X" for e in trace["traceEvents"])
    assert {p.name for p in seen["csv"]} == {f"run.{t}.csv" for t in ("lifetimes", "alerts", "samples", "streams")}
    with (tmp_path / "run.alerts.csv").open(newline="") as f:
        assert any(r["rule"] == "unreleased" for r in csv.DictReader(f))
    report = json.loads((tmp_path / "run.json").read_text())
    assert report["schema"] == "withscope.report/1"
    assert report["target"] == "class-cm/faulty"
    assert (tmp_path / "run.html").read_text().lstrip().lower().startswith("<!doctype html")
    assert "Exported the run class-cm/faulty to run.html" in seen["msg"]
    check_png(seen["timeline.png"])
    check_svg(seen["timeline.svg"])
    check_png(seen["metrics.png"])
    assert seen["throughput"] is None, "no stream in this run: nothing to export there"
    assert seen["bad"] is None
    assert "use a .png or .svg file name" in seen["bad_text"]
    is_dialog, visible, _modality, suggests_html = seen["dialog"]
    assert is_dialog
    assert visible
    assert suggests_html


def test_right_click_on_a_plot_offers_png_and_svg(window: MainWindow, loop: asyncio.AbstractEventLoop) -> None:
    view = window.timeline.plot
    menu = window.features.plot_menu.build_menu(view, QPoint(view.width() // 2, view.height() // 2))
    texts = [a.text() for a in menu.actions() if a.text()]
    menu.deleteLater()
    assert texts == ["Save this plot as PNG…", "Save this plot as SVG…"]
    assert window.features.plot_menu.watch() >= 1
    shutdown = close_window(window)
    loop.run_until_complete(shutdown)


def test_registered_image_writers_render_a_snapshot_offscreen(qapp: QApplication, tmp_path: Path) -> None:
    """`core.exporters.export(snapshot, "png" | "svg")` once the GUI layer is loaded."""
    from withscope.core.events import Lifetime, Outcome, Sample
    from withscope.core.exporters import ExportError, available_formats, export
    from withscope.core.snapshot import RunSnapshot
    from withscope.gui.recordings.plot_export import register_formats

    register_formats()
    assert {"png", "svg"} <= set(available_formats())
    t0, ms = 10**9, 10**6
    lts = tuple(Lifetime(i, "file", f"f{i}", "a.py:1", (), "Main", None, t0 + i * ms, t0 + (i + 5) * ms,
                         Outcome.RELEASED, None, None, False, False) for i in range(20))
    samples = tuple(Sample(t0 + k * 5 * ms, 10_000_000 + k * 1000, 10 + k, 2, 0, 5.0) for k in range(8))
    snap = RunSnapshot("hand", "ok", None, t0, 0.0, t0 + 40 * ms, lts, samples=samples)
    [png] = export(snap, "png", tmp_path / "t.png", width=800)
    assert check_png(png).width() == 800
    [svg] = export(snap, "svg", tmp_path / "m", plot="metrics")
    assert svg.name == "m.svg"
    check_svg(svg)
    with pytest.raises(ExportError, match="no streams"):
        export(snap, "png", tmp_path / "s.png", plot="throughput")
