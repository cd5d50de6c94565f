"""A stand-in for a user's helper library: it calls track() on behalf of its caller."""

from __future__ import annotations

from typing import Any

from withscope.core import track


def tracked_by_helper(obj: Any) -> Any:
    return track(obj)
