"""The JSON report ("withscope.report/1"): exactly what `withscope run --json FILE` writes.

Both go through `withscope.core.report`, so the CLI and this exporter can never disagree.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

from withscope.core import outputs
from withscope.core.report import SCHEMA, build_report, write_report
from withscope.core.snapshot import RunSnapshot

__all__ = ["SCHEMA", "WHAT", "build", "check_output", "owns", "write", "write_file"]

WHAT = "withscope JSON report"
_HEAD = re.compile(rb'\A\s*\{\s*"schema"\s*:\s*"withscope\.report/')


def owns(head: bytes) -> bool:
    """True when `head` (a file's first bytes) starts a JSON report withscope wrote (it may be replaced)."""
    return _HEAD.match(head) is not None


def build(snapshot: RunSnapshot) -> dict[str, Any]:
    """The report as JSON-ready data."""
    return build_report(snapshot)


def check_output(path: str | os.PathLike[str], inputs: tuple[str | os.PathLike[str], ...] = ()) -> Path:
    """Check before a run that `path` may receive the report (see `write_file`); the file to write."""
    return outputs.check_output(path, owns, WHAT, inputs=inputs)


def write_file(
    snapshot: RunSnapshot, out_path: str | os.PathLike[str], inputs: tuple[str | os.PathLike[str], ...] = ()
) -> None:
    """Write the report to the file `out_path` under withscope's output rules (`withscope.core.outputs`):
    nothing but an absent, empty or earlier JSON report file is replaced, atomically. Raises
    `OutputError` (a ValueError) for a path it refuses, OSError when writing fails."""
    with outputs.replacing(out_path, owns, WHAT, inputs=inputs) as tmp:
        write_report(snapshot, tmp)


def write(snapshot: RunSnapshot, out_path: Path) -> list[Path]:
    """Write the report as indented UTF-8 JSON. Returns the files written."""
    write_file(snapshot, out_path, outputs.recording_inputs(snapshot.meta))
    return [out_path]
