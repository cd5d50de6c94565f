"""`ChildTarget`: what a child run runs, checked in the parent without importing the user's code.

    child_target("tool.py", ["--verbose"])         # a script: python tool.py --verbose
    child_target("pkg.tool", ["-x"], module=True)   # python -m pkg.tool -x
    child_target("app.py:main")                     # a function of a file
    child_target("pkg.jobs:nightly")                # a function of a module
    child_target("class-cm/faulty")                 # a catalogue entry

Only what can be seen without running anything is checked here (the file exists, the catalogue
has the name); a module or function that cannot be imported ends the run with status `error`
and the import's one-line message, from the child.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from ..targets import Target, TargetError  # noqa: TID252 (mypy sees this tree as `core`)

KINDS = ("script", "module", "function", "catalogue")


def _in_child(*_: Any) -> Any:
    raise RuntimeError("a child target runs in its own process (ChildRun), not by calling it")


@dataclass(frozen=True, slots=True)
class ChildTarget(Target):
    """A `Target` run in a child process. `name` is what reports show (`tool.py --verbose`)."""

    kind: str = "script"
    spec: str = ""  # the path, module, FILE:FUNCTION or catalogue name
    args: tuple[str, ...] = ()
    auto: bool = True  # record what a user's target acquires without edits (`withscope run --no-auto`: False)

    def agent_spec(self) -> dict[str, Any]:
        return {"kind": self.kind, "target": self.spec, "args": list(self.args), "auto": self.auto}


def child_target(spec: str, args: Sequence[str] = (), *, module: bool = False) -> ChildTarget:
    """Classify and check a target (see the module docstring). Raises `TargetError`."""
    spec = spec.strip()
    args = tuple(args)
    shown = " ".join([("-m " if module else "") + spec, *args])
    if not spec:
        raise TargetError(
            "empty target: give a script, -m MODULE, FILE.py:FUNCTION, MODULE:FUNCTION or a catalogue name"
        )
    if module:
        if not all(part.isidentifier() for part in spec.split(".")):
            raise TargetError(f"{spec!r} is not a module name")
        return ChildTarget(shown, _in_child, False, False, None, kind="module", spec=spec, args=args)
    if spec.endswith((".py", ".pyw")) or (os.path.isdir(spec) and os.path.isfile(os.path.join(spec, "__main__.py"))):
        if not os.path.exists(spec):
            raise TargetError(f"no such file: {spec}")
        return ChildTarget(shown, _in_child, False, False, None, kind="script", spec=spec, args=args)
    if ":" in spec:
        where, _, func = spec.rpartition(":")
        if not all(part.isidentifier() for part in func.split(".")):
            raise TargetError(f"{func!r} in {spec!r} is not a function name")
        if (where.endswith(".py") or "/" in where or os.sep in where) and not os.path.isfile(where):
            raise TargetError(f"no such file: {where}")
        return ChildTarget(shown, _in_child, False, False, None, kind="function", spec=spec, args=args)
    from ..targets import _catalogue_get, _examples  # noqa: TID252 (imports the catalogue: only for such names)

    wl = _catalogue_get(spec)
    if wl is None:
        if os.path.isfile(spec):
            return ChildTarget(shown, _in_child, False, False, None, kind="script", spec=spec, args=args)
        raise TargetError(
            f"unknown target {spec!r}: not a script, a catalogue name ({_examples()}), nor FILE.py:FUNCTION "
            "or MODULE:FUNCTION"
        )
    return ChildTarget(wl.name, _in_child, not wl.blocking, True, wl, kind="catalogue", spec=wl.name, args=args)
