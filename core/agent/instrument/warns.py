"""Every ResourceWarning the program triggers becomes a `gc` release, shown exactly as without withscope.

CPython warns when it finalizes an unclosed file, socket, running subprocess, transport or event
loop (with the object as the warning's `source`), and `TemporaryDirectory` when it cleans up
after a directory nobody cleaned. By default the warnings filters ignore ResourceWarning, so
nothing would reach Python code: the default `ignore::ResourceWarning` entry is replaced by an
`always::ResourceWarning` entry of withscope's (appended at the end when there was none), and
`warnings._showwarnmsg` - the function every shown warning goes through, `showwarning`
replacements included - is chained. A ResourceWarning that reaches it through withscope's entry
is recorded and shown only as the program's own filters would have (the replaced entry ignored
it; without one, Python's default action shows it once per text and line); one that reaches it
through a filter of the program's (`-W`, `-X dev`, `simplefilter`) is recorded and shown as
before. Filters the program adds in front (`simplefilter("ignore")`, `-W error`) keep working
and then hide the warning from withscope too. When the workload ends the program's own filter
is put back (`restore_filter`).
"""

from __future__ import annotations

import os
import sys
import warnings
from typing import Any, cast

from .registry import Registry
from .sites import user_frame_of

_KINDS = (
    ("unclosed file", "file"),
    ("unclosed <socket", "socket"),
    ("subprocess", "process"),
    ("unclosed transport", "transport"),
    ("unclosed event loop", "event loop"),
    ("Implicitly cleaning up", "tempdir"),
)


def _kind_of(text: str) -> str:
    for prefix, kind in _KINDS:
        if text.startswith(prefix):
            return kind
    return "resource"


class ResourceWarnings:
    """See the module docstring. `install()` once per process."""

    def __init__(self, registry: Registry) -> None:
        self.reg = registry
        self.marker = ("always", None, ResourceWarning, None, 0)
        self.replaced = False
        self._shown: set[tuple[str, int, str]] = set()
        self.real: Any = None

    def install(self) -> None:
        filters = cast(list[Any], warnings.filters)  # the list the interpreter reads
        for i, entry in enumerate(filters):
            if entry[0] == "ignore" and entry[1] is None and entry[2] is ResourceWarning and entry[3] is None:
                filters[i] = self.marker
                self.replaced = True
                break
        else:
            filters.append(self.marker)
        mutated = getattr(warnings, "_filters_mutated", None)
        if mutated is not None:
            mutated()
        self.real = warnings._showwarnmsg  # type: ignore[attr-defined]
        warnings._showwarnmsg = self._showwarnmsg  # type: ignore[attr-defined]

    def restore_filter(self) -> None:
        """Put the program's own filter back (the workload is over: what the interpreter's
        shutdown finalizes is after the verdict, and is shown exactly as without withscope)."""
        filters = cast(list[Any], warnings.filters)  # the list the interpreter reads
        for i, entry in enumerate(filters):
            if entry is self.marker:
                if self.replaced:
                    filters[i] = ("ignore", None, ResourceWarning, None, 0)
                else:
                    del filters[i]
                break
        mutated = getattr(warnings, "_filters_mutated", None)
        if mutated is not None:
            mutated()

    def _showwarnmsg(self, msg: Any) -> None:
        show = True
        category = getattr(msg, "category", None)
        if isinstance(category, type) and issubclass(category, ResourceWarning):
            try:
                show = self._resource_warning(msg)
            except Exception:
                self.reg.errors += 1
        if show:
            self.real(msg)

    def _matching_filter(self, text: str, category: type, filename: str, lineno: int) -> Any:
        module = filename[:-3] if filename.endswith(".py") else filename
        module = os.path.basename(module) if module else "<unknown>"
        for entry in warnings.filters:
            _action, msg, cat, mod, ln = entry
            if (
                (msg is None or msg.match(text))
                and issubclass(category, cat)
                and (mod is None or mod.match(module))
                and (ln == 0 or lineno == ln)
            ):
                return entry
        return None

    def _resource_warning(self, msg: Any) -> bool:
        """Record the warning; whether the program would have shown it."""
        text = str(msg.message)
        entry = self._matching_filter(text, msg.category, str(msg.filename), int(msg.lineno or 0))
        show = True
        if entry is self.marker:
            if self.replaced:
                show = False
            else:  # Python's default action: once per text, category and line
                key = (text, int(msg.lineno or 0), msg.category.__name__)
                show = key not in self._shown
                self._shown.add(key)
        source = getattr(msg, "source", None)
        reg = self.reg
        seen = reg.find(source) if source is not None else None
        if seen is not None:
            reg.ended_by_gc(seen)
            return show
        kind = _kind_of(text)
        if kind == "tempdir" and reg.ended_by_label("tempdir", text):
            return show
        caller = sys._getframe(2)
        site = user_frame_of(caller)
        if site is not None:
            reg.orphan_gc(kind, text if len(text) <= 120 else text[:117] + "...", site, caller)
        return show
