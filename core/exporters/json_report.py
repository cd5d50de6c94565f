"""The JSON report ("withscope.report/1"): exactly what `withscope run --json FILE` writes.

Both go through `withscope.core.report`, so the CLI and this exporter can never disagree.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ..report import SCHEMA, build_report, write_report  # noqa: TID252 (mypy sees this tree as `core`)
from ..snapshot import RunSnapshot  # noqa: TID252 (mypy sees this tree as `core`)

__all__ = ["SCHEMA", "build", "write"]


def build(snapshot: RunSnapshot) -> dict[str, Any]:
    """The report as JSON-ready data."""
    return build_report(snapshot)


def write(snapshot: RunSnapshot, out_path: Path) -> list[Path]:
    """Write the report as indented UTF-8 JSON. Returns the files written."""
    write_report(snapshot, out_path)
    return [out_path]
