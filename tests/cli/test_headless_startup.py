"""The headless commands through the real `withscope` console script: they import nothing of Qt,
leave the observed program's environment as it was, and `import withscope.core.cli` loads no
command until one runs."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from withscope.core import cli

SCRIPT = Path(sys.executable).with_name("withscope")
QT = ("PySide6", "shiboken6", "pyqtgraph", "qasync")


def _env() -> dict[str, str]:
    """This environment without the Qt binding variables the test session sets for itself."""
    env = {k: v for k, v in os.environ.items() if k not in ("QT_API", "PYQTGRAPH_QT_LIB")}
    env.pop("WITHSCOPE_DB", None)
    return env


def _imported(args: list[str], cwd: Path) -> tuple[subprocess.CompletedProcess[str], set[str]]:
    """Run the console script under `-X importtime`; the top-level packages it imported."""
    proc = subprocess.run([sys.executable, "-X", "importtime", str(SCRIPT), *args], cwd=cwd, env=_env(),
                          capture_output=True, text=True, timeout=120, check=False)  # fmt: skip
    names = {line.rsplit("|", 1)[1].strip() for line in proc.stderr.splitlines() if line.startswith("import time:")}
    return proc, {n.split(".")[0] for n in names} | names


@pytest.mark.skipif(not SCRIPT.is_file(), reason="the withscope console script is not installed")
@pytest.mark.parametrize("args", [["run", "empty.py"], ["list"], ["run", "--help"], ["--version"]])
def test_headless_commands_never_import_qt(tmp_path: Path, args: list[str]) -> None:
    (tmp_path / "empty.py").write_text("")
    proc, names = _imported(args, tmp_path)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "withscope.gui.shell.launcher" in names  # the console script's own entry point ran
    assert not names & set(QT), sorted(names & set(QT))


@pytest.mark.skipif(not SCRIPT.is_file(), reason="the withscope console script is not installed")
def test_a_run_through_the_console_script_leaves_the_programs_environment_alone(tmp_path: Path) -> None:
    # GIVEN a program that reports the Qt binding variables it sees, and no such variables set
    out = tmp_path / "seen.txt"
    (tmp_path / "show.py").write_text(
        "import os, sys\n"
        "open(sys.argv[1], 'w').write(repr([os.environ.get(k) for k in ('QT_API', 'PYQTGRAPH_QT_LIB')]))\n"
    )
    # WHEN withscope runs it THEN it sees them unset, as `python show.py` would
    proc = subprocess.run([str(SCRIPT), "run", "--quiet", "show.py", str(out)], cwd=tmp_path, env=_env(),
                          capture_output=True, text=True, timeout=120, check=False)  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert out.read_text() == "[None, None]"


def test_importing_the_cli_loads_no_command() -> None:
    code = ("import sys, withscope.core.cli\n"
            "heavy = ('asyncio', 'psutil', 'withscope.core.runner', 'withscope.core.store', 'withscope.core.exporters',"
            " 'withscope.core.workloads', 'withscope.core.cli.run', 'withscope.core.cli.check')\n"
            "print(sorted(m for m in heavy if m in sys.modules))")  # fmt: skip
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=False)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "[]"


def test_only_real_commands_are_headless() -> None:
    # `catalogue-check` was listed as headless but no such command exists
    assert not cli.is_headless(["catalogue-check"])
    for name in ("list", "run", "check", "export", "--help", "--version"):
        assert cli.is_headless([name]), name
