"""`temp-file-left` (final): a tracked temporary file or directory still on disk after the run.

A lifetime of kind `tempfile` or `tempdir` whose label is an absolute path counts when that
path is in `RuleContext.existing_paths`, the fact `withscope.core.probes.tempfiles.existing_paths()`
gathers after the workload ended and before the run removes its temporary directory.
"""

from __future__ import annotations

import os
from collections.abc import Iterable

from withscope.core.events import Alert, Lifetime, Severity

from .base import RuleContext, alert, describe

TEMP_KINDS = frozenset({"tempfile", "tempdir"})


def candidate_paths(lifetimes: Iterable[Lifetime]) -> set[str]:
    return {lt.label for lt in lifetimes if lt.kind in TEMP_KINDS and os.path.isabs(lt.label)}


def temp_file_left(ctx: RuleContext) -> list[Alert]:
    out: list[Alert] = []
    for lt in ctx.lifetimes:
        if lt.kind not in TEMP_KINDS or lt.label not in ctx.existing_paths:
            continue
        what = "temporary directory" if lt.kind == "tempdir" else "temporary file"
        msg = f"{describe(lt)} is still on disk after the run: the {what} was never deleted"
        hint = (
            "delete it on every path: `with tempfile.TemporaryDirectory() as d:` / "
            "`NamedTemporaryFile(delete=True)`, or remove it in `__exit__`/`finally`, also when the body raises"
        )
        out.append(alert("temp-file-left", Severity.WARNING, msg, hint, lt, ctx.now_ns))
    return out
