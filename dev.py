#!/usr/bin/env python3
"""Set up and run withscope with nothing but Python.

    python3 dev.py run      # create .venv if needed, install, launch the app
    python3 dev.py test     # create .venv if needed, install, run ruff, mypy and the tests
    python3 dev.py bench    # run the benchmark suite (python benchmarks/run.py)

Extra arguments after the command go to the app, to pytest, or to the benchmark runner.
On Debian/Ubuntu it installs, when missing and when it may (root or sudo), the system packages
a venv and Qt need: python3-venv and Qt's runtime libraries.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = ROOT / ".venv"
BIN = VENV / ("Scripts" if os.name == "nt" else "bin")
PY = BIN / "python"
STAMP = VENV / ".withscope-installed"
# Qt (PySide6) needs these shared libraries even offscreen; Debian/Ubuntu package names.
QT_DEBS = [
    "libegl1",
    "libgl1",
    "libxkbcommon0",
    "libxkbcommon-x11-0",
    "libfontconfig1",
    "libfreetype6",
    "libdbus-1-3",
    "libglib2.0-0",
    "libxcb-cursor0",
    "libxcb-icccm4",
    "libxcb-keysyms1",
    "libxcb-shape0",
    "libxcb-xinerama0",
    "libxcb-randr0",
    "libxcb-render-util0",
    "libxcb-image0",
    "fonts-dejavu-core",
]


def say(msg: str) -> None:
    print(f"[withscope] {msg}", flush=True)


def run(cmd: list[str], **kw: object) -> int:
    return subprocess.call([str(c) for c in cmd], **kw)  # type: ignore[call-overload, no-any-return]


def apt_install(packages: list[str]) -> bool:
    if shutil.which("apt-get") is None:
        return False
    prefix: list[str] = []
    if os.geteuid() != 0:
        if shutil.which("sudo") is None:
            return False
        prefix = ["sudo", "-n"]
    missing = [p for p in packages if run(["dpkg", "-s", p], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)]
    if not missing:
        return True
    say(f"installing system packages: {' '.join(missing)}")
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    run([*prefix, "apt-get", "update", "-qq"], env=env)
    # Install what this release has; a name it does not know must not stop the rest.
    for pkg in missing:
        run([*prefix, "apt-get", "install", "-y", "-qq", "--no-install-recommends", pkg], env=env,
            stdout=subprocess.DEVNULL)
    return True


# What an install builds from: a change to any of them reinstalls (the C accelerator is compiled then).
INSTALL_INPUTS = ["pyproject.toml", "setup.py", "core/_speedups.c"]


def requirements_hash() -> str:
    h = hashlib.sha256()
    for name in INSTALL_INPUTS:
        h.update((ROOT / name).read_bytes())
    return h.hexdigest()


def ensure_venv() -> None:
    if not PY.exists():
        say(f"creating {VENV.relative_to(ROOT)}")
        if run([sys.executable, "-m", "venv", VENV]) != 0:
            ver = f"python{sys.version_info.major}.{sys.version_info.minor}"
            shutil.rmtree(VENV, ignore_errors=True)
            if not apt_install(["python3-venv", f"{ver}-venv"]) or run([sys.executable, "-m", "venv", VENV]):
                sys.exit("could not create a virtual environment: install python3-venv and try again")
    if STAMP.exists() and STAMP.read_text() == requirements_hash():
        return
    say("installing withscope and its dependencies into .venv (first run takes a minute)")
    if run([PY, "-m", "pip", "install", "-q", "--upgrade", "pip"]) != 0:
        sys.exit("pip could not upgrade itself; see the messages above")
    if run([PY, "-m", "pip", "install", "-q", "-e", f"{ROOT}[dev,postgres,bench]"]) != 0:
        sys.exit("pip install failed; see the messages above")
    ensure_qt_libraries()
    if run([PY, "-c", "import withscope.core._speedups"], stderr=subprocess.DEVNULL) != 0:
        say("note: the C accelerator did not build (is a C compiler installed?); withscope works, "
            "but records on its slower pure-Python hot path")
    STAMP.write_text(requirements_hash())


def ensure_qt_libraries() -> None:
    probe = "from PySide6 import QtGui, QtWidgets"
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen")
    if run([PY, "-c", probe], env=env, stderr=subprocess.DEVNULL) == 0:
        return
    say("Qt needs system libraries; installing them")
    apt_install(QT_DEBS)
    if run([PY, "-c", probe], env=env) != 0:
        say("warning: PySide6 still does not import; the GUI and its tests will fail (see above)")


def compile_sources() -> None:
    """Write the .pyc files of the project's own modules (what installing a wheel does). An
    editable install imports them from the source tree, and where PYTHONDONTWRITEBYTECODE is set
    Python would otherwise compile them again at every start. Fast when they are up to date."""
    run([PY, "-m", "compileall", "-q", "core", "gui"], cwd=ROOT, stdout=subprocess.DEVNULL)


def cmd_run(args: list[str]) -> int:
    ensure_venv()
    compile_sources()
    return run([BIN / "withscope", *args])


def cmd_test(args: list[str]) -> int:
    ensure_venv()
    compile_sources()
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen", QT_API="pyside6", PYQTGRAPH_QT_LIB="PySide6")
    steps: list[tuple[str, list[object], dict[str, str]]] = [
        ("ruff", [BIN / "ruff", "check", "."], env),
        ("mypy (strict, core/)", [BIN / "mypy"], env),
    ]
    if (ROOT / "benchmarks" / "run.py").exists():
        steps.append(("benchmarks (quick mode, no timing asserted)", [PY, "benchmarks/run.py", "--quick"], env))
    if not args:  # the recorder's tests once more on the pure-Python hot path (see core/_accel.py)
        steps.append(("pytest tests/core, pure-Python hot path", [PY, "-m", "pytest", "-q", "tests/core"],
                      dict(env, WITHSCOPE_PURE_PYTHON="1")))
    steps.append(("pytest", [PY, "-m", "pytest", *args], env))  # last: its summary line closes the output
    for name, cmd, step_env in steps:
        say(f"{name}")
        rc = run([str(c) for c in cmd], cwd=ROOT, env=step_env)
        if rc != 0:
            say(f"{name} failed (exit {rc})")
            return rc
    return 0


def cmd_bench(args: list[str]) -> int:
    ensure_venv()
    compile_sources()
    return run([PY, ROOT / "benchmarks" / "run.py", *args], cwd=ROOT)


def main() -> int:
    commands = {"run": cmd_run, "test": cmd_test, "bench": cmd_bench}
    if len(sys.argv) < 2 or sys.argv[1] not in commands:
        print(__doc__)
        return 2
    return commands[sys.argv[1]](sys.argv[2:])


if __name__ == "__main__":
    sys.exit(main())
