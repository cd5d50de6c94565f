"""The `export()` dispatcher: every headless format by name, GUI formats named with a clear error."""

from __future__ import annotations

from pathlib import Path

import pytest
from withscope.core import exporters
from withscope.core.exporters import FORMATS, GUI_FORMATS, ExportError, export
from withscope.core.snapshot import RunSnapshot


@pytest.mark.parametrize("fmt", ["chrome", "csv", "json", "html"])
def test_every_headless_format_writes_files(run: RunSnapshot, tmp_path: Path, fmt: str) -> None:
    written = export(run, fmt, tmp_path / f"out{exporters.SUFFIXES[fmt]}")
    assert written
    assert all(p.exists() and p.stat().st_size > 0 for p in written)


def test_formats_are_listed() -> None:
    assert list(FORMATS) == ["chrome", "csv", "json", "html"]
    assert GUI_FORMATS == ("png", "svg")
    assert set(exporters.DESCRIPTIONS) == set(FORMATS) | set(GUI_FORMATS)


def test_gui_format_without_gui_says_what_to_do(run: RunSnapshot, tmp_path: Path) -> None:
    with pytest.raises(ExportError, match="'png' renders the app's plots and needs the GUI"):
        export(run, "png", tmp_path / "x.png")
    assert not (tmp_path / "x.png").exists()


def test_unknown_format_lists_the_known_ones(run: RunSnapshot, tmp_path: Path) -> None:
    with pytest.raises(ExportError, match="unknown export format 'pdf'; choose one of chrome, csv, json, html, png"):
        export(run, "pdf", tmp_path / "x.pdf")


def test_registered_format_is_used(run: RunSnapshot, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(exporters, "_registered", {})

    def fake_png(snapshot: RunSnapshot, out_path: Path, plot: str = "timeline") -> list[Path]:
        out_path.write_bytes(b"\x89PNG\r\n\x1a\n" + plot.encode())
        return [out_path]

    exporters.register("png", fake_png)
    assert export(run, "png", tmp_path / "t.png", plot="metrics") == [tmp_path / "t.png"]
    assert "png" in exporters.available_formats()
    with pytest.raises(ExportError, match="does not take these options"):
        export(run, "png", tmp_path / "t.png", colour="red")


def test_bad_option_and_unwritable_path(run: RunSnapshot, tmp_path: Path) -> None:
    with pytest.raises(ExportError, match="unknown CSV table 'nope'"):
        export(run, "csv", tmp_path / "x.csv", what="nope")
    with pytest.raises(ExportError, match=r"missing/x\.html: the directory .*missing does not exist"):
        export(run, "html", tmp_path / "missing" / "x.html")
