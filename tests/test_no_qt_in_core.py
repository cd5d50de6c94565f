"""The model knows nothing of the view: `withscope.core` and every module
under it import with Qt, pyqtgraph and qasync made unimportable."""

from __future__ import annotations

import subprocess
import sys
import textwrap

SCRIPT = textwrap.dedent(
    """
    import importlib, pkgutil, sys

    BLOCKED = {"PySide6", "shiboken6", "PySide2", "PyQt5", "PyQt6", "pyqtgraph", "qasync"}

    class BlockQt:
        def find_spec(self, name, path=None, target=None):
            if name.partition(".")[0] in BLOCKED:
                raise ImportError(f"blocked for this test: {name}")
            return None

    sys.meta_path.insert(0, BlockQt())
    try:
        import PySide6  # noqa: F401
    except ImportError:
        pass
    else:
        raise SystemExit("the blocker does not work")

    import withscope.core as core

    failed = []
    names = []

    def onerror(name):
        failed.append((name, repr(sys.exc_info()[1])))

    for info in pkgutil.walk_packages(core.__path__, "withscope.core.", onerror=onerror):
        names.append(info.name)
        try:
            importlib.import_module(info.name)
        except BaseException as exc:
            failed.append((info.name, repr(exc)))
    leaked = sorted(m for m in sys.modules if m.partition(".")[0] in BLOCKED)
    print("imported", len(names), "modules")
    print("\\n".join(names))
    if failed or leaked:
        raise SystemExit(f"failed: {failed}; Qt modules loaded: {leaked}")
    """
)


def test_core_and_every_submodule_import_without_qt() -> None:
    proc = subprocess.run([sys.executable, "-c", SCRIPT], capture_output=True, text=True, timeout=60, check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    imported = set(proc.stdout.splitlines()[1:])
    # walk_packages really walked: the recorder core and the subpackages are among them
    assert {"withscope.core.recorder", "withscope.core.track", "withscope.core.streams"} <= imported
    assert {"withscope.core.rules", "withscope.core.workloads", "withscope.core.exporters"} <= imported
