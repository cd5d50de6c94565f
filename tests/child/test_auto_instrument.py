"""Zero-change diagnosis: `withscope run script.py` finds the leaks of a script nobody edited.

GIVEN small real-world-like scripts, each in a leaky and a correct twin (files opened in a loop,
the sqlite3 `with` trap, a subprocess never waited for, sockets never closed, a temp file left,
a thread never joined, a file dropped unclosed), WHEN each runs under `withscope run
--fail-on-leak` with no `track()` anywhere, THEN every leak is reported at the line marked
`# LEAK`, the correct twins get no alert and exit 0, and each program's output and exit status
are those of a bare `python script.py`.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from withscope.core.store import open_recording

SCRIPTS = Path(__file__).parent / "auto_scripts"
CLI = "import sys; from withscope.core.cli import main; sys.exit(main(sys.argv[1:]))"
PAIRS = sorted(p.name.removesuffix("_leaky.py") for p in SCRIPTS.glob("*_leaky.py"))
# The rule each leak must raise (at least), by script.
EXPECTED = {
    "files_loop": {"unreleased"},
    "sqlite_with": {"unreleased"},
    "subprocess": {"unreleased"},
    "socket": {"unreleased"},
    "tempfile": {"temp-file-left"},
    "thread": {"unreleased"},
    "resource_warning": {"gc-release"},
}


def _env(tmp_path: Path) -> dict[str, str]:
    env = dict(os.environ)
    env["TMPDIR"] = str(tmp_path)  # a temp file the leaky script leaves stays in this test's folder
    env.pop("PYTHONWARNINGS", None)
    return env


def withscope(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-c", CLI, *args], capture_output=True, text=True, timeout=120,
                          cwd=SCRIPTS, env=_env(tmp_path))  # fmt: skip


def bare(tmp_path: Path, script: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, script], capture_output=True, text=True, timeout=120, cwd=SCRIPTS,
                          env=_env(tmp_path))  # fmt: skip


def leak_lines(script: str) -> set[int]:
    lines = (SCRIPTS / script).read_text().splitlines()
    return {i for i, line in enumerate(lines, 1) if line.rstrip().endswith("# LEAK")}


def run_json(tmp_path: Path, script: str, *extra: str) -> tuple[subprocess.CompletedProcess[str], dict[str, Any]]:
    report = tmp_path / "report.json"
    out = withscope(tmp_path, "run", "--quiet", "--fail-on-leak", "--json", str(report), *extra, script)
    return out, json.loads(report.read_text())


def test_every_pair_is_listed() -> None:
    assert set(PAIRS) == set(EXPECTED)
    for name in PAIRS:
        assert (SCRIPTS / f"{name}_correct.py").is_file()


@pytest.mark.parametrize("name", PAIRS)
def test_an_unmodified_leaky_script_is_diagnosed_at_the_line_that_leaked(tmp_path: Path, name: str) -> None:
    script = f"{name}_leaky.py"
    out, report = run_json(tmp_path, script)
    assert out.returncode == 1, (out.stderr, report["alerts"])
    alerts = report["alerts"]
    assert EXPECTED[name] <= {a["rule"] for a in alerts}, alerts
    sites = {int(a["site"].rpartition(":")[2]) for a in alerts if a.get("site", "").startswith(script)}
    assert sites == leak_lines(script), alerts


@pytest.mark.parametrize("name", PAIRS)
def test_the_correct_twin_gets_no_alert(tmp_path: Path, name: str) -> None:
    out, report = run_json(tmp_path, f"{name}_correct.py")
    assert report["alerts"] == [], report["alerts"]
    assert out.returncode == 0, out.stderr
    assert report["lifetimes"], "the correct twin's resources are recorded too"


@pytest.mark.parametrize("script", [f"{n}_{v}.py" for n in PAIRS for v in ("leaky", "correct")])
def test_output_and_exit_status_are_the_bare_run_s(tmp_path: Path, script: str) -> None:
    plain = bare(tmp_path, script)
    observed = withscope(tmp_path, "run", "--quiet", script)
    assert observed.returncode == plain.returncode
    assert observed.stdout == plain.stdout
    assert observed.stderr == plain.stderr  # no ResourceWarning shown that Python would not show


def test_no_auto_turns_the_instrumentation_off(tmp_path: Path) -> None:
    out, report = run_json(tmp_path, "files_loop_leaky.py", "--no-auto")
    assert out.returncode == 0, out.stderr
    assert report["alerts"] == []
    assert report["lifetimes"] == []


def test_objects_keep_their_type_identity_and_pickling(tmp_path: Path) -> None:
    (tmp_path / "probe.py").write_text(
        "import io, pickle, socket, sqlite3, subprocess, sys, threading\n"
        "f = open(__file__)\n"
        "s = socket.socket()\n"
        "c = sqlite3.connect(':memory:')\n"
        "p = subprocess.Popen([sys.executable, '-c', 'pass'])\n"
        "p.wait()\n"
        "print(type(f) is io.TextIOWrapper, type(s) is socket.socket, type(c) is sqlite3.Connection,\n"
        "      type(p) is subprocess.Popen, open is io.open, pickle.loads(pickle.dumps([1])) == [1],\n"
        "      threading.Thread.start.__name__, open.__name__)\n"
        "f.close(); s.close(); c.close()\n"
    )
    out = withscope(tmp_path, "run", "--quiet", "--fail-on-leak", str(tmp_path / "probe.py"))
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["True"] * 6 + ["start", "open"]


def test_track_of_an_auto_seen_resource_is_one_lifetime(tmp_path: Path) -> None:
    (tmp_path / "tracked.py").write_text(
        "from withscope.core import track\nwith track(open(__file__), label='mine') as f:\n    f.read()\n"
    )
    out, report = run_json(tmp_path, str(tmp_path / "tracked.py"))
    assert out.returncode == 0, out.stderr
    assert [(lt["kind"], lt["label"]) for lt in report["lifetimes"]] == [("file", "mine")]


def test_late_release_is_information_and_does_not_fail_the_gate(tmp_path: Path) -> None:
    (tmp_path / "batch.py").write_text("import time\nwith open(__file__) as f:\n    time.sleep(0.5)\n")
    out, report = run_json(tmp_path, str(tmp_path / "batch.py"), "--late-release", "0.2")
    assert [a["rule"] for a in report["alerts"]] == ["late-release"]
    assert out.returncode == 0, out.stderr


def test_an_uncaught_error_through_a_wrapped_function_prints_python_s_traceback(tmp_path: Path) -> None:
    (tmp_path / "missing.py").write_text("import os\nos.chdir(os.path.dirname(__file__))\nopen('no-such-file')\n")
    plain = bare(tmp_path, str(tmp_path / "missing.py"))
    observed = withscope(tmp_path, "run", "--quiet", str(tmp_path / "missing.py"))
    assert "FileNotFoundError" in plain.stderr
    assert observed.stderr == plain.stderr
    assert plain.returncode == 1


def test_a_socket_a_library_opens_is_attributed_to_the_user_s_line(tmp_path: Path) -> None:
    lib = tmp_path / "site-packages" / "netlib"
    lib.mkdir(parents=True)
    (lib / "__init__.py").write_text(
        "import socket\n\ndef _connect(addr):\n    return socket.create_connection(addr)\n\n"
        "def fetch(addr):\n    return _connect(addr)\n"
    )
    (tmp_path / "app.py").write_text(
        "import socket, sys\n"
        f"sys.path.insert(0, {str(lib.parent)!r})\n"
        "import netlib\n"
        "server = socket.create_server(('127.0.0.1', 0))\n"
        "conn = netlib.fetch(server.getsockname())\n"
        "server.close()\n"
    )
    out, report = run_json(tmp_path, str(tmp_path / "app.py"), "--record", str(tmp_path / "run.db"))
    assert out.returncode == 1
    [leak] = [a for a in report["alerts"] if a["rule"] == "unreleased"]
    assert leak["site"].endswith("app.py:5")
    assert leak["message"].startswith("socket 127.0.0.1:")
    [lifetime] = [lt for lt in open_recording(tmp_path / "run.db").lifetimes if lt.id == leak["lifetime_id"]]
    stack = " | ".join(lifetime.stack)
    assert "netlib/__init__.py:4 in _connect" in stack
    assert "netlib/__init__.py:7 in fetch" in stack


def test_a_resource_warning_the_program_asks_for_is_shown_and_recorded(tmp_path: Path) -> None:
    (tmp_path / "warned.py").write_text(
        "import warnings\nwarnings.simplefilter('always', ResourceWarning)\n\n"
        "def read(p):\n    return open(p).read()\n\nread(__file__)\nprint('ok')\n"
    )
    plain = bare(tmp_path, str(tmp_path / "warned.py"))
    assert "ResourceWarning: unclosed file" in plain.stderr
    out, report = run_json(tmp_path, str(tmp_path / "warned.py"))
    assert out.stderr == plain.stderr
    assert [(a["rule"], a["site"].rpartition(":")[2]) for a in report["alerts"]] == [("gc-release", "5")]
