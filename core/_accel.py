"""Which hot path runs: the C accelerator (`_speedups`, built by `pip install` when a C compiler
is there) or the pure-Python one. Both record the same events; see core/_speedups.c.

Set WITHSCOPE_PURE_PYTHON=1 (before importing withscope) to use the pure-Python hot path even
when the accelerator is built: the test suite runs the core tests both ways.
"""

from __future__ import annotations

import importlib
import os
from types import ModuleType

speedups: ModuleType | None = None
if os.environ.get("WITHSCOPE_PURE_PYTHON", "") in ("", "0"):
    try:
        speedups = importlib.import_module("._speedups", __package__)
    except ImportError:  # not built (no C compiler at install time): the pure-Python hot path
        speedups = None

#: "C" or "Python": which hot path records (the benchmarks print it).
HOT_PATH = "C" if speedups is not None else "Python"
