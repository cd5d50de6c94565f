"""Automatic instrumentation: the resources an unmodified program acquires through the standard
library become lifetimes, with the site in the program's own code (standard library only).

`install(recorder)` is called by the agent, inside the observed process, before a user target
(script, `-m` module, `file.py:function`, `module:function`) runs - not for catalogue entries,
which track themselves, and not with `withscope run --no-auto`. It returns the `Registry`, whose
`poll()` the agent calls on its drain thread before every drain (every 50 ms) and with
`final=True` when the workload ends (what is still open then is `unreleased`).

- `hooks`: which functions and audit events show an acquisition, and how each kind is released
  (the table of kinds covered is in its docstring);
- `registry`: what is kept of each acquisition (never the object), and how releases are seen
  without proxies: polled state (resolution: the drain interval), ResourceWarning, death;
- `warns`: every ResourceWarning the program triggers, recorded and shown as without withscope;
- `sites`: the first frame of the user's own code (not the standard library's, a package's or
  withscope's).

Nothing here wraps a resource in a proxy: types, identity, `isinstance` and pickling of what the
program gets are unchanged.
"""

from __future__ import annotations

from ...recorder import Recorder  # noqa: TID252 (mypy sees this tree as `core`)
from .hooks import Hooks
from .registry import Registry
from .warns import ResourceWarnings

__all__ = ["Registry", "install"]

_installed: Registry | None = None


def install(recorder: Recorder) -> Registry:
    """Install the hooks for `recorder` (once per process; a second call returns the first registry)."""
    global _installed
    if _installed is None:
        registry = Registry(recorder)
        Hooks(registry).install()
        watch = ResourceWarnings(registry)
        watch.install()
        registry.at_final.append(watch.restore_filter)
        recorder.on_track = registry.forget
        _installed = registry
    return _installed
