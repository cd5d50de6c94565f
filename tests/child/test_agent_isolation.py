"""The agent runs in the observed process with the standard library alone, under the user's
own interpreter (CPython 3.11-3.13), with or without the C accelerator."""

from __future__ import annotations

import asyncio
import glob
import subprocess
import sys
from pathlib import Path

import pytest
import withscope.core
from withscope.core.runner import RunOptions
from withscope.core.snapshot import RunSnapshot
from withscope.core.supervise import ChildRun, child_target

TARGETS = Path(__file__).parent / "targets"
BLOCKED = ("numpy", "psutil", "PySide6", "shiboken6", "qasync", "pyqtgraph")

IMPORT_WITH_BLOCKED = f"""
import sys
class Block:
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in {BLOCKED!r}:
            raise ImportError("blocked for the test: " + name)
        return None
sys.meta_path.insert(0, Block())
import withscope.core.agent, withscope.core.agent.launch, withscope.core.agent.stream, withscope.core.agent.wire
import withscope.core.track, withscope.core.streams, withscope.core.recorder
heavy = sorted(m for m in sys.modules if m.split(".")[0] in {BLOCKED!r})
assert not heavy, heavy
print("ok")
"""


def test_the_agent_imports_with_numpy_psutil_and_qt_unimportable() -> None:
    out = subprocess.run([sys.executable, "-c", IMPORT_WITH_BLOCKED], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "ok"


def other_interpreters() -> list[str]:
    found = []
    for version in ("3.12", "3.13"):
        found += sorted(glob.glob(f"/root/.pyenv/versions/{version}.*/bin/python{version}"))[-1:]
    return found


@pytest.mark.parametrize("python", other_interpreters() or [pytest.param("", marks=pytest.mark.skip("no 3.12/3.13"))])
def test_a_script_runs_under_another_interpreter_with_or_without_its_accelerator(tmp_path: Path, python: str) -> None:
    # GIVEN another interpreter: the C accelerator may have been built for it (`dev.py test` builds
    # it for 3.12 and 3.13) or not (a fresh checkout built it for this one only)
    version = Path(python).name.removeprefix("python").replace(".", "")
    built = any((Path(withscope.core.__file__).parent).glob(f"_speedups.cpython-{version}-*.so"))
    out = tmp_path / "seen.json"
    target = child_target(str(TARGETS / "show_args.py"), [str(out), "-x"])
    run = ChildRun(target, RunOptions(timeout_s=60), python=python)

    async def go() -> RunSnapshot:
        run.start()
        return await run.wait()

    snap = asyncio.run(go())
    # THEN the agent uses it when it imports, else falls back to the pure-Python hot path
    # silently, and records as usual either way
    assert snap.status == "ok", snap.error
    assert snap.meta["hot_path"] == ("C" if built else "Python")
    assert snap.meta["python"].startswith(Path(python).name.removeprefix("python"))
    assert [lt.outcome.value for lt in snap.lifetimes] == ["released"]


@pytest.mark.parametrize("python", [sys.executable, *other_interpreters()])
@pytest.mark.parametrize("threads", ["alone", "with-thread"])
def test_a_fork_warns_exactly_when_python_itself_would(python: str, threads: str) -> None:
    # GIVEN a program that forks, alone or with a thread of its own (from 3.12 Python warns about
    # forking a multi-threaded process): the agent's own drain thread must not make the difference
    script = str(TARGETS / "fork_quietly.py")
    plain = subprocess.run([python, script, threads], capture_output=True, text=True, timeout=60)
    observed = subprocess.run(
        [sys.executable, "-c", "import sys; from withscope.core.cli import main; sys.exit(main(sys.argv[1:]))",
         "run", "--quiet", "--python", python, script, threads],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert observed.returncode == 0, observed.stderr
    assert ("multi-threaded" in observed.stderr) == ("multi-threaded" in plain.stderr)
