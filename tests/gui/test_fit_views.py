"""Fit shows every run in every view: after Fit the metrics and throughput plots' x ranges hold
all runs (the timeline's range itself, not the part of it above them on screen), and the
throughput axis lets a fast and a slow run be compared (log scale, rates in one unit)."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from PySide6.QtWidgets import QApplication
from qt_helpers import close_window
from test_timeline import add_rows
from withscope.core import Sample, StreamStats, units
from withscope.gui.bridge.bridge import RunStream

if TYPE_CHECKING:
    from withscope.gui.shell.main_window import MainWindow

MS = 1_000_000
S = 1_000_000_000


def _stream(lid: int, t0_s: float, bps: float) -> StreamStats:
    """A stream from t0_s for 2 s at `bps` bytes per second (10 points)."""
    t0 = int(t0_s * S)
    series = tuple((t0 + i * 200 * MS, i * 10, int(i * bps * 0.2)) for i in range(1, 11))
    return StreamStats(lid, f"s{lid}", t0, t0 + 50 * MS, t0 + 2 * S, True, 100, int(10 * bps * 0.2), series)


def test_fit_puts_every_run_in_every_view(window: MainWindow, loop: asyncio.AbstractEventLoop) -> None:
    async def scenario() -> None:
        w = window
        w.bridge.origin_ns = 0
        # GIVEN a fast run at 0-2 s (1 GB/s) and a slow, faulty one at 20-22 s (200 kB/s)
        add_rows(w.bridge, 0, [0.0, 0.5], [2.0, 1.5], [0, 0], ["stream", "file"])
        add_rows(w.bridge, 1, [20.0, 20.5], [22.0, np.nan], [0, -1], ["stream", "file"])
        w.bridge.now_s = lambda: 22.0  # type: ignore[method-assign]
        w.bridge.samplesAdded.emit(w.bridge._sample_block(
            [Sample(int(t * S / 2), 50_000_000, 10, 2, 0, 5.0) for t in range(45)]))
        w.bridge.streamsChanged.emit([RunStream(0, _stream(1, 0.0, 1e9)), RunStream(1, _stream(2, 20.0, 2e5))])
        w.throughput.raise_()
        w.throughput.show()
        for _ in range(5):
            w.bridge.tick()
            await asyncio.sleep(0.05)
        # WHEN the user presses Fit
        w.timeline.fit()
        for _ in range(3):
            await asyncio.sleep(0.05)
        tl = w.timeline.plot.getViewBox().viewRange()[0]
        for name, vb in (("throughput", w.throughput.bytes_plot.getViewBox()),
                         ("metrics", w.metrics.plots[0].getViewBox())):
            x0, x1 = vb.viewRange()[0]
            # THEN both runs are in the x range of every view, as on the timeline
            assert x0 <= 0.0, (name, (x0, x1), tl)
            assert x1 >= 22.0, (name, (x0, x1), tl)
            assert abs(x0 - tl[0]) < 1e-6, (name, (x0, x1), tl)
            assert abs(x1 - tl[1]) < 1e-6, (name, (x0, x1), tl)
        # AND both runs' rates are readable on the throughput axis: log scale by default
        assert w.throughput.log_check.isChecked()
        assert w.throughput.bytes_plot.getViewBox().state["logMode"][1]
        y0, y1 = w.throughput.bytes_plot.getViewBox().viewRange()[1]
        assert y0 <= np.log10(2e5)
        assert y1 >= np.log10(1e9)
        # AND the axis labels its ticks with the shared formatter
        ax = w.throughput.bytes_plot.getAxis("left")
        assert ax.tickStrings([6.0], 1.0, 1.0) == [units.fmt_rate(1e6)]
        await close_window(w)

    loop.run_until_complete(scenario())


def test_throughput_image_export_writes_rates_in_the_shared_unit(qapp: QApplication, tmp_path: Path) -> None:
    from withscope.core import cli
    from withscope.core.store import open_recording
    from withscope.gui.recordings.plot_export import write_plot

    rec = tmp_path / "s.withscope.db"
    assert cli.main(["run", "streaming/faulty", "--quiet", "--record", str(rec)]) == 0
    (svg,) = write_plot(open_recording(rec), tmp_path / "t.svg", plot="throughput")
    text = svg.read_text()
    assert "iB/s" not in text
    assert "kB/s" in text or "MB/s" in text
    (png,) = write_plot(open_recording(rec), tmp_path / "t.png", plot="throughput")
    assert png.stat().st_size > 1000
