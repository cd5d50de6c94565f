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

import contextlib
import hashlib
import os
import select
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = ROOT / ".venv"
BIN = VENV / ("Scripts" if os.name == "nt" else "bin")
PY = BIN / "python"
STAMP = VENV / ".withscope-installed"
# What Qt (PySide6) needs from the system, by the shared library (soname) that `ldd` reports
# "not found" for PySide6's libraries and platform plugins (offscreen and xcb), and the Debian/Ubuntu
# packages that ship it, the first one this release knows is installed (Ubuntu 24.04 renamed some,
# "t64"). Read off `ldd` on PySide6 6.11's plugins/platforms/libqxcb.so and `dpkg -S` on Debian 12.
QT_SONAME_DEBS: dict[str, tuple[str, ...]] = {
    "libGL.so.1": ("libgl1",),
    "libGLX.so.0": ("libglx0",),
    "libGLdispatch.so.0": ("libglvnd0",),
    "libEGL.so.1": ("libegl1",),
    "libxkbcommon.so.0": ("libxkbcommon0",),
    "libxkbcommon-x11.so.0": ("libxkbcommon-x11-0",),
    "libxcb.so.1": ("libxcb1",),
    "libxcb-cursor.so.0": ("libxcb-cursor0",),
    "libxcb-icccm.so.4": ("libxcb-icccm4",),
    "libxcb-util.so.1": ("libxcb-util1",),
    "libxcb-image.so.0": ("libxcb-image0",),
    "libxcb-keysyms.so.1": ("libxcb-keysyms1",),
    "libxcb-randr.so.0": ("libxcb-randr0",),
    "libxcb-render-util.so.0": ("libxcb-render-util0",),
    "libxcb-render.so.0": ("libxcb-render0",),
    "libxcb-shape.so.0": ("libxcb-shape0",),
    "libxcb-shm.so.0": ("libxcb-shm0",),
    "libxcb-sync.so.1": ("libxcb-sync1",),
    "libxcb-xfixes.so.0": ("libxcb-xfixes0",),
    "libxcb-xkb.so.1": ("libxcb-xkb1",),
    "libxcb-xinerama.so.0": ("libxcb-xinerama0",),
    "libX11-xcb.so.1": ("libx11-xcb1",),
    "libX11.so.6": ("libx11-6",),
    "libXau.so.6": ("libxau6",),
    "libXdmcp.so.6": ("libxdmcp6",),
    "libfontconfig.so.1": ("libfontconfig1",),
    "libfreetype.so.6": ("libfreetype6",),
    "libglib-2.0.so.0": ("libglib2.0-0t64", "libglib2.0-0"),
    "libgthread-2.0.so.0": ("libglib2.0-0t64", "libglib2.0-0"),
    "libdbus-1.so.3": ("libdbus-1-3",),
    "libpng16.so.16": ("libpng16-16t64", "libpng16-16"),
    "libexpat.so.1": ("libexpat1",),
    "libzstd.so.1": ("libzstd1",),
    "libbrotlidec.so.1": ("libbrotli1",),
    "libbrotlicommon.so.1": ("libbrotli1",),
    "libpcre2-8.so.0": ("libpcre2-8-0",),
    "libbsd.so.0": ("libbsd0",),
    "libmd.so.0": ("libmd0",),
}
# The whole list, installed when `ldd` cannot say (not Linux-glibc) or names a library the table
# above does not know, plus a font (Qt draws no text without one).
QT_DEBS = sorted({alternatives[-1] for alternatives in QT_SONAME_DEBS.values()} | {"fonts-dejavu-core"})
# The test command's X server and its input tool (the GUI tests run on Qt's xcb platform).
X_TEST_DEBS = ["xvfb", "xdotool"]
XVFB_SCREEN = "1680x1050x24"


def say(msg: str) -> None:
    print(f"[withscope] {msg}", flush=True)


def run(cmd: list[str], **kw: object) -> int:
    return subprocess.call([str(c) for c in cmd], **kw)  # type: ignore[call-overload, no-any-return]


def apt_install(packages: list[str | tuple[str, ...]]) -> bool:
    """Install the Debian packages not installed yet (root, or sudo without a password). An entry
    that is a tuple lists alternatives: the first one this release has is installed. False when
    apt or the rights are missing."""
    if shutil.which("apt-get") is None:
        return False
    prefix: list[str] = []
    if os.geteuid() != 0:
        if shutil.which("sudo") is None:
            return False
        prefix = ["sudo", "-n"]
    wanted = [(p,) if isinstance(p, str) else p for p in packages]
    missing = [alts for alts in dict.fromkeys(wanted) if not any(deb_installed(p) for p in alts)]
    if not missing:
        return True
    say(f"installing system packages: {' '.join(alts[0] for alts in missing)}")
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    run([*prefix, "apt-get", "update", "-qq"], env=env)
    # Install what this release has; a name it does not know must not stop the rest.
    for alts in missing:
        for pkg in alts:
            if run([*prefix, "apt-get", "install", "-y", "-qq", "--no-install-recommends", pkg], env=env,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL) == 0:
                break
        else:
            say(f"could not install {' or '.join(alts)}")
    return True


def deb_installed(package: str) -> bool:
    out = subprocess.run(["dpkg-query", "-W", "-f=${Status}", package], capture_output=True, text=True)
    return out.returncode == 0 and out.stdout.strip().endswith(" installed")


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
    ensure_qt_libraries(first_install=True)
    if run([PY, "-c", "import withscope.core._speedups"], stderr=subprocess.DEVNULL) != 0:
        say("note: the C accelerator did not build (is a C compiler installed?); withscope works, "
            "but records on its slower pure-Python hot path")
    STAMP.write_text(requirements_hash())


def qt_binaries() -> list[Path]:
    """The PySide6 libraries whose system dependencies decide whether Qt starts: the widgets module
    and the offscreen and xcb platform plugins (each pulls QtGui's and QtCore's)."""
    found = subprocess.run([PY, "-c", "import os, PySide6; print(os.path.dirname(PySide6.__file__))"],
                           capture_output=True, text=True)
    if found.returncode != 0:
        return []
    base = Path(found.stdout.strip())
    candidates = [*base.glob("QtWidgets*.so"), base / "Qt/plugins/platforms/libqoffscreen.so",
                  base / "Qt/plugins/platforms/libqxcb.so"]
    return [p for p in candidates if p.exists()]


def missing_sonames(binaries: list[Path]) -> set[str] | None:
    """The shared libraries `ldd` reports "not found" for `binaries` (None: ldd cannot tell)."""
    if not binaries or shutil.which("ldd") is None:
        return None
    out = subprocess.run(["ldd", *map(str, binaries)], capture_output=True, text=True)
    if out.returncode != 0 and "not found" not in out.stdout:
        return None
    return {line.split("=>")[0].strip() for line in out.stdout.splitlines() if "=> not found" in line}


def packages_for(sonames: set[str]) -> list[str | tuple[str, ...]]:
    """The Debian packages for `sonames`; the whole known list when one is not in the table."""
    if any(s not in QT_SONAME_DEBS for s in sonames):
        return list(QT_DEBS)
    return list(dict.fromkeys(QT_SONAME_DEBS[s] for s in sorted(sonames)))


def ensure_qt_libraries(*, first_install: bool = False) -> set[str]:
    """Install the system libraries Qt's offscreen and xcb (X11) platforms need and `ldd` finds
    missing; cheap when nothing is (one ldd call), so it runs before every `run` and `test`.
    Returns what is still missing (named, with its packages, on the way)."""
    if sys.platform != "linux":
        return set()
    binaries = qt_binaries()
    missing = missing_sonames(binaries)
    if missing is None:  # no ldd (or no PySide6 yet): the whole list, once
        if first_install:
            apt_install(list(QT_DEBS))
        return set()
    if first_install:  # not a library: without a font Qt draws no text
        fonts = Path("/usr/share/fonts")
        if not fonts.is_dir() or not any(fonts.rglob("*.ttf")):
            apt_install(["fonts-dejavu-core"])
    if not missing:
        return set()
    say(f"Qt's display libraries are missing ({', '.join(sorted(missing))}); installing them")
    apt_install(packages_for(missing))
    still = missing_sonames(binaries) or set()
    if still:
        debs = " ".join(alts[-1] for alts in dict.fromkeys(QT_SONAME_DEBS.get(s, (s,)) for s in sorted(still)))
        say("warning: Qt still misses " + ", ".join(sorted(still))
            + f"; on Debian/Ubuntu: sudo apt-get install {debs}")
    return still


def has_display() -> bool:
    return bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))


def compile_sources() -> None:
    """Write the .pyc files of the project's own modules (what installing a wheel does). An
    editable install imports them from the source tree, and where PYTHONDONTWRITEBYTECODE is set
    Python would otherwise compile them again at every start. Fast when they are up to date."""
    run([PY, "-m", "compileall", "-q", "core", "gui"], cwd=ROOT, stdout=subprocess.DEVNULL)


def cmd_run(args: list[str]) -> int:
    ensure_venv()
    ensure_qt_libraries()
    compile_sources()
    rc = run([BIN / "withscope", *args])
    if rc < 0 or rc == 134:  # Qt aborts when no platform plugin loads
        still = missing_sonames(qt_binaries()) or set()
        if still and has_display():
            debs = " ".join(alts[-1] for alts in packages_for(still) if isinstance(alts, tuple))
            say(f"the window could not open: Qt misses {', '.join(sorted(still))}; "
                f"on Debian/Ubuntu: sudo apt-get install {debs}")
    return rc


class XServer:
    """An Xvfb of the test command's own, on a display number the server picks (-displayfd), so
    the GUI tests run on Qt's xcb platform with real X input. `stop()` ends that one process."""

    def __init__(self, proc: subprocess.Popen[bytes], display: str) -> None:
        self.proc = proc
        self.display = display

    @classmethod
    def start(cls, screen: str = XVFB_SCREEN) -> XServer | None:
        if shutil.which("Xvfb") is None or shutil.which("xdotool") is None:
            apt_install(list(X_TEST_DEBS))
        exe = shutil.which("Xvfb")
        if exe is None:
            return None
        read_end, write_end = os.pipe()
        errors = tempfile.TemporaryFile()  # noqa: SIM115 (Xvfb writes its warnings there while it runs)
        try:
            proc = subprocess.Popen([exe, "-displayfd", str(write_end), "-screen", "0", screen, "-nolisten", "tcp"],
                                    pass_fds=(write_end,), stdout=subprocess.DEVNULL, stderr=errors)
        finally:
            os.close(write_end)
        number = b""
        deadline = time.monotonic() + 20
        while not number.endswith(b"\n") and time.monotonic() < deadline and proc.poll() is None:
            ready, _, _ = select.select([read_end], [], [], 0.2)
            if ready:
                chunk = os.read(read_end, 16)
                if not chunk:
                    break
                number += chunk
        os.close(read_end)
        if not number.strip().isdigit():
            if proc.poll() is None:
                proc.terminate()
                proc.wait(timeout=10)
            errors.seek(0)
            say(f"Xvfb did not start: {errors.read().decode(errors='replace').strip()[-500:]}")
            errors.close()
            return None
        errors.close()  # Xvfb keeps its own descriptor of the (unlinked) file
        return cls(proc, f":{int(number)}")

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def gui_test_env(env: dict[str, str]) -> tuple[dict[str, str], XServer | None]:
    """The GUI tests' environment: Qt's xcb platform on an Xvfb started here; else the user's own
    X display; else, said loudly, offscreen (no real input, window manager or X event path)."""
    xs = XServer.start()
    if xs is not None:
        say(f"GUI tests on Xvfb {xs.display} ({XVFB_SCREEN}, Qt platform xcb)")
        return dict(env, DISPLAY=xs.display, QT_QPA_PLATFORM="xcb"), xs
    if os.environ.get("DISPLAY"):
        say(f"GUI tests on this session's X display {os.environ['DISPLAY']} (Xvfb is not installed)")
        return dict(env, QT_QPA_PLATFORM="xcb"), None
    banner = "=" * 78
    print(f"{banner}\n[withscope] WARNING: no X server (Xvfb could not be installed or started, no DISPLAY):\n"
          f"[withscope] the GUI tests run OFFSCREEN, without real X input; the real-display tests are\n"
          f"[withscope] skipped. Install Xvfb and xdotool (apt-get install xvfb xdotool) to run them.\n{banner}",
          flush=True)
    if os.environ.get("CI") and os.environ.get("WITHSCOPE_ALLOW_OFFSCREEN") != "1":
        sys.exit("[withscope] CI needs the real X server for the GUI tests (WITHSCOPE_ALLOW_OFFSCREEN=1 to accept)")
    return dict(env, QT_QPA_PLATFORM="offscreen"), None


TYPECHECK = VENV / "typecheck"  # mypy_path in pyproject.toml


def link_typecheck_tree() -> None:
    """mypy checks the project by its import name: .venv/typecheck/withscope/{core,gui} link to the
    folders that setuptools installs as withscope.core and withscope.gui (package-dir)."""
    pkg = TYPECHECK / "withscope"
    pkg.mkdir(parents=True, exist_ok=True)
    for name in ("core", "gui"):
        link, target = pkg / name, Path("..", "..", "..", name)  # relative: the checkout may move
        if link.is_symlink() and Path(os.readlink(link)) == target:
            continue
        if link.is_symlink():  # an older link of ours
            link.unlink()
        link.symlink_to(target, target_is_directory=True)


# The tests are type-checked too (strict, pyproject.toml), one folder at a time: they have no
# __init__.py (pytest imports them rootdir-style, by bare name: conftest, qt_helpers, ...), so each
# folder is its own set of top-level modules and several folders have a `conftest`. Imported
# withscope modules are checked, not reported: the mypy step above reports those.
TESTS_MYPY_PATH = {"cli": ("runner",)}  # tests/cli/conftest.py imports tests/runner's targets_sample
TESTS_MYPY_BACKLOG: set[str] = set()  # folders not strict-clean yet: named at every run, not checked


def mypy_test_steps(env: dict[str, str]) -> list[tuple[str, list[object], dict[str, str]]]:
    """One mypy run per test folder, and one for the top-level tests/*.py."""
    tests = ROOT / "tests"
    runs: list[tuple[str, list[Path], list[Path]]] = [("tests/*.py", sorted(tests.glob("*.py")), [tests])]
    for folder in sorted(p for p in tests.iterdir() if p.is_dir() and any(p.glob("*.py"))):
        if folder.name in TESTS_MYPY_BACKLOG:
            say(f"note: mypy skips tests/{folder.name} (not strict-clean yet: TESTS_MYPY_BACKLOG in dev.py)")
            continue
        extra = [tests / name for name in TESTS_MYPY_PATH.get(folder.name, ())]
        runs.append((f"tests/{folder.name}", [folder], [tests, folder, *extra]))
    return [(f"mypy (strict, {name})", [BIN / "mypy", "--follow-imports=silent", *targets],
             dict(env, MYPYPATH=os.pathsep.join(str(p) for p in path)))
            for name, targets, path in runs]


COVERAGE_FLOOR = 90  # percent of withscope.core and withscope.gui lines run by the suite

# The recording core (and its C accelerator) is tested on every CPython the project supports.
OTHER_PYTHONS = ("3.12", "3.13")
CORE_TEST_DEPS = ["pytest>=8", "pytest-timeout>=2.2", "hypothesis>=6.100", "psutil>=5.9"]


def find_python(minor: str) -> Path | None:
    """A working interpreter for Python `minor`: the newest pyenv build of it, else one on PATH
    (a pyenv shim on PATH may name a version that is not selected: each candidate is tried)."""
    versions = Path(os.environ.get("PYENV_ROOT", Path.home() / ".pyenv")) / "versions"
    builds = sorted(versions.glob(f"{minor}.*/bin/python{minor}"),
                    key=lambda p: [int(x) for x in p.parent.parent.name.split(".") if x.isdigit()])
    on_path = shutil.which(f"python{minor}")
    for cand in [*reversed(builds), *([Path(on_path)] if on_path else [])]:
        if run([cand, "-c", "pass"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL) == 0:
            return cand
    return None


def ensure_core_venv(python: Path, minor: str) -> Path | None:
    """.venv-core-MINOR: withscope (editable: its C accelerator built for that Python) and what the
    core tests need, nothing of Qt. Returns its python, or None when it cannot be made."""
    venv = ROOT / f".venv-core-{minor}"
    py = venv / "bin" / "python"
    stamp = venv / ".withscope-installed"
    if not py.exists() and run([python, "-m", "venv", venv]) != 0:
        return None
    if stamp.exists() and stamp.read_text() == requirements_hash():
        return py
    say(f"installing withscope's core into {venv.name} (Python {minor})")
    if run([py, "-m", "pip", "install", "-q", "--upgrade", "pip"]) != 0 or \
            run([py, "-m", "pip", "install", "-q", *CORE_TEST_DEPS]) != 0 or \
            run([py, "-m", "pip", "install", "-q", "--no-deps", "-e", ROOT]) != 0:
        return None
    stamp.write_text(requirements_hash())
    return py


def core_test_steps(env: dict[str, str]) -> list[tuple[str, list[object], dict[str, str]]]:
    """tests/core with the C accelerator on each other supported Python (it must build there)."""
    steps: list[tuple[str, list[object], dict[str, str]]] = []
    for minor in OTHER_PYTHONS:
        python = find_python(minor)
        if python is None:
            say(f"note: no Python {minor} on this machine (PATH or pyenv): its core tests are skipped")
            continue
        py = ensure_core_venv(python, minor)
        if py is None:
            say(f"warning: could not set up Python {minor} for the core tests (see above)")
            continue
        check = "import withscope.core._speedups as s, sys; print(s.__file__)"
        steps.append((f"C accelerator builds on Python {minor}", [py, "-c", check], env))
        steps.append((f"pytest tests/core on Python {minor} (C accelerator)",
                      [py, "-m", "pytest", "-q", "tests/core"], env))
    return steps


def run_together(steps: list[tuple[str, list[object], dict[str, str]]]) -> int:
    """Run independent steps at the same time; print each one's output, whole, in order, once it
    has ended. Returns the first failing exit status (0 when all passed)."""
    failed = 0
    with contextlib.ExitStack() as files:
        started = []
        for name, cmd, step_env in steps:
            out = files.enter_context(tempfile.TemporaryFile())
            proc = subprocess.Popen([str(c) for c in cmd], cwd=ROOT, env=step_env, stdout=out,
                                    stderr=subprocess.STDOUT)
            started.append((name, proc, out))
        for name, proc, out in started:
            rc = proc.wait()
            say(name)
            out.seek(0)
            sys.stdout.buffer.write(out.read())
            sys.stdout.flush()
            if rc != 0:
                say(f"{name} failed (exit {rc})")
                failed = failed or rc
    return failed


def cmd_test(args: list[str]) -> int:
    ensure_venv()
    link_typecheck_tree()
    ensure_qt_libraries()
    compile_sources()
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen", QT_API="pyside6", PYQTGRAPH_QT_LIB="PySide6")
    gui_env, xserver = gui_test_env(env)
    try:
        steps: list[tuple[str, list[object], dict[str, str]]] = [
            ("ruff", [BIN / "ruff", "check", "."], env),
            ("mypy (strict, withscope.core and withscope.gui)", [BIN / "mypy"], env),
            ("import contracts (import-linter, pyproject.toml)", [BIN / "lint-imports"], env),
        ]
        steps[2:2] = mypy_test_steps(env)
        # Independent of each other: run at once (two cores), each one's output shown whole.
        together: list[tuple[str, list[object], dict[str, str]]] = []
        if (ROOT / "benchmarks" / "run.py").exists():
            together.append(("benchmarks (quick mode, no timing asserted)", [PY, "benchmarks/run.py", "--quick"], env))
        if not args:  # the recorder's tests once more on the pure-Python hot path (see core/_accel.py)
            together.append(("pytest tests/core, pure-Python hot path", [PY, "-m", "pytest", "-q", "tests/core"],
                             dict(env, WITHSCOPE_PURE_PYTHON="1")))
            together.extend(core_test_steps(env))
        # last: its summary line closes the output
        # The whole suite measures coverage of withscope.core and withscope.gui (subprocesses too:
        # pyproject.toml [tool.coverage]) and fails under the floor it keeps.
        cov = [] if args else ["--cov", "--cov-report=term", f"--cov-fail-under={COVERAGE_FLOOR}"]
        steps.append((f"pytest (Qt platform {gui_env['QT_QPA_PLATFORM']})", [PY, "-m", "pytest", *cov, *args], gui_env))
        final = steps.pop()
        for name, cmd, step_env in steps:
            say(f"{name}")
            rc = run([str(c) for c in cmd], cwd=ROOT, env=step_env)
            if rc != 0:
                say(f"{name} failed (exit {rc})")
                return rc
        rc = run_together(together)
        if rc != 0:
            return rc
        name, cmd, step_env = final
        say(f"{name}")
        rc = run([str(c) for c in cmd], cwd=ROOT, env=step_env)
        if rc != 0:
            say(f"{name} failed (exit {rc})")
        return rc
    finally:
        if xserver is not None:
            xserver.stop()


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
