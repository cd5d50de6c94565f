"""One unit convention for data sizes and rates, everywhere (app, PNG/SVG, HTML, CLI).

Decimal SI prefixes, as the app's plot axes use them: 1 kB = 1,000 B, 1 MB/s = 1,000,000 B/s.
Every size or rate a person reads is formatted by `fmt_bytes` / `fmt_rate`, and every axis in
bytes per second is scaled by `rate_unit`, so one number reads the same in every view.
"""

from __future__ import annotations

import math

_PREFIXES = ("", "k", "M", "G", "T")


def _scale(n: float) -> tuple[float, str]:
    """(divisor, prefix) for `n`: the largest decimal prefix that keeps |n| >= 1."""
    a = abs(n) if math.isfinite(n) else 0.0
    for i in range(len(_PREFIXES) - 1, 0, -1):
        if a >= 1000.0**i:
            return 1000.0**i, _PREFIXES[i]
    return 1.0, ""


def fmt_bytes(n: float) -> str:
    """A byte count: 812 B, 1.5 kB, 12.3 MB, 4.2 GB (decimal)."""
    div, prefix = _scale(n)
    return f"{n:.0f} B" if not prefix else f"{n / div:.1f} {prefix}B"


def fmt_rate(bps: float) -> str:
    """A throughput in bytes per second: 950 B/s, 1.2 MB/s (decimal)."""
    return f"{fmt_bytes(bps)}/s"


def rate_unit(peak_bps: float) -> tuple[float, str]:
    """(divisor, name) to label an axis of bytes per second whose largest value is `peak_bps`."""
    div, prefix = _scale(peak_bps)
    return div, f"{prefix}B/s"
