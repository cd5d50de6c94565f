"""Exports of a run: pure functions of a `RunSnapshot`, one module per format, no Qt.

    from withscope.core.exporters import export, FORMATS
    written = export(snapshot, "html", Path("run.html"))   # -> [Path("run.html")]

Formats (`FORMATS`): ``chrome`` (trace event JSON for Perfetto / chrome://tracing), ``csv``
(lifetimes, alerts, samples and streams tables; option ``what=`` picks one), ``json`` (the
"withscope.report/1" report) and ``html`` (one self-contained report with inline SVG plots).
``png`` and ``svg`` images of the app's plots are `GUI_FORMATS`: the GUI registers them with
`register()` when it is loaded; until then `export` raises `ExportError` saying so.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from withscope.core import outputs
from withscope.core.redact import redact_snapshot
from withscope.core.snapshot import RunSnapshot

from . import chrome, csv, html, json_report

Writer = Callable[..., list[Path]]

FORMATS: dict[str, Writer] = {
    "chrome": chrome.write,
    "csv": csv.write,
    "json": json_report.write,
    "html": html.write,
}
GUI_FORMATS: tuple[str, ...] = ("png", "svg")
SUFFIXES: dict[str, str] = {
    "chrome": ".trace.json",
    "csv": ".csv",
    "json": ".json",
    "html": ".html",
    "png": ".png",
    "svg": ".svg",
}
DESCRIPTIONS: dict[str, str] = {
    "chrome": "Chrome trace (Perfetto, chrome://tracing)",
    "csv": "CSV tables (lifetimes, alerts, samples, streams)",
    "json": "JSON report (withscope.report/1)",
    "html": "HTML report (one self-contained file)",
    "png": "PNG image of a plot",
    "svg": "SVG image of a plot",
}

_registered: dict[str, Writer] = {}


class ExportError(Exception):
    """An export could not be made; the message says why and what to do."""


def register(fmt: str, writer: Writer) -> None:
    """Add (or replace) an export format, e.g. the GUI's ``png``/``svg`` plot renderers.

    `writer(snapshot, out_path, **options) -> list[Path]`. Call from the main thread at start-up.
    """
    _registered[fmt] = writer


def image_owner(fmt: str) -> outputs.Owns:
    """Whether an existing file may be replaced by a `fmt` image (see `withscope.core.outputs`).

    Pictures carry no mark of who drew them: an earlier image of the same format may be replaced
    (its name says what it is), any other content is refused."""
    if fmt == "png":
        return lambda head: head.startswith(b"\x89PNG\r\n\x1a\n")
    if fmt == "svg":
        return lambda head: head.lstrip()[:1] == b"<" and b"<svg" in head[:1024]
    return lambda head: False


def available_formats() -> list[str]:
    """Formats `export` can produce in this process right now."""
    return [*FORMATS, *(f for f in _registered if f not in FORMATS)]


def export(snapshot: RunSnapshot, fmt: str, out_path: str | os.PathLike[str], **options: Any) -> list[Path]:
    """Write `snapshot` as `fmt` to `out_path`; returns every file written.

    Raises `ExportError` for an unknown format, a GUI format with no GUI loaded, bad options or
    a file that cannot be written (the message names the file).
    """
    writer = _registered.get(fmt) or FORMATS.get(fmt)
    if writer is None:
        if fmt in GUI_FORMATS:
            raise ExportError(
                f"format {fmt!r} renders the app's plots and needs the GUI (PySide6); export it from the app's "
                f"File > Export menu, or use one of the headless formats: {', '.join(FORMATS)}"
            )
        raise ExportError(f"unknown export format {fmt!r}; choose one of {', '.join([*FORMATS, *GUI_FORMATS])}")
    path = Path(out_path)
    if fmt not in FORMATS:  # a registered image writer (png/svg): the output rules apply to it too
        try:
            outputs.check_output(path, image_owner(fmt), f"{fmt.upper()} image", inputs=outputs.recording_inputs(
                snapshot.meta))  # fmt: skip
        except outputs.OutputError as exc:
            raise ExportError(str(exc)) from None
    snapshot = redact_snapshot(snapshot)  # every format, the GUI's images too: no secret leaves
    try:
        return writer(snapshot, path, **options)
    except TypeError as exc:
        if "argument" in str(exc):
            raise ExportError(f"format {fmt!r} does not take these options: {exc}") from None
        raise
    except ValueError as exc:
        raise ExportError(str(exc)) from None
    except OSError as exc:
        raise ExportError(f"{exc.filename or path}: cannot write the {fmt} export: {exc.strerror or exc}") from None


__all__ = [
    "DESCRIPTIONS",
    "FORMATS",
    "GUI_FORMATS",
    "SUFFIXES",
    "ExportError",
    "available_formats",
    "export",
    "register",
]
