"""`withscope run` starts the observed process before it imports what observing it needs
(`spawn_ahead`): the run's time zero is still before anything the child did, a signal that
arrives meanwhile stops the run as it would later, and a run that never starts leaves nothing."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from withscope.core import runner
from withscope.core.cli import run as cli_run
from withscope.core.supervise.spawn import default_python, spawn_ahead

# Runs the CLI as the console script does; WRAP (Python) is executed first to patch it.
_MAIN = ("import os, sys\n"
         "exec(os.environ.get('WRAP', ''))\n"
         "from withscope.core.cli import main\n"
         "sys.exit(main(sys.argv[1:]))\n")  # fmt: skip


# Makes the CLI's imports after the child's start take a second.
SLOW_IMPORTS = ("import time\n"
                "from withscope.core.cli import run\n"
                "_observe = run._observe\n"
                "def slow(*a):\n"
                "    time.sleep(1.0)\n"
                "    return _observe(*a)\n"
                "run._observe = slow\n")  # fmt: skip


def _cli(args: list[str], cwd: Path, wrap: str = "", **popen: Any) -> subprocess.Popen[str]:
    env = {**os.environ, "WRAP": wrap}
    return subprocess.Popen([sys.executable, "-c", _MAIN, *args], cwd=cwd, env=env, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, **popen)


def test_the_child_starts_before_the_runner_is_imported(tmp_path: Path) -> None:
    (tmp_path / "empty.py").write_text("")
    wrap = ("from withscope.core.supervise import spawn\n"
            "_ahead = spawn.spawn_ahead\n"
            "def spawn_ahead(*a, **k):\n"
            "    print('runner imported at spawn:', 'withscope.core.runner' in sys.modules, file=sys.stderr)\n"
            "    return _ahead(*a, **k)\n"
            "spawn.spawn_ahead = spawn_ahead\n")  # fmt: skip
    proc = _cli(["run", "empty.py"], tmp_path, wrap)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    assert "runner imported at spawn: False" in err
    assert "withscope run empty.py: ok" in out


def test_what_the_child_did_first_is_after_the_runs_time_zero(tmp_path: Path) -> None:
    # GIVEN a script whose first statement is a tracked block (before the parent has even
    # finished its imports, as the child starts ahead)
    (tmp_path / "first.py").write_text(
        "from withscope.core import track\n"
        "class CM:\n"
        "    def __enter__(self): return self\n"
        "    def __exit__(self, *exc): return None\n"
        "with track(CM(), label='first'):\n"
        "    pass\n"
    )
    # WHEN the parent's imports are slow (the run object exists only well after the child ran it)
    proc = _cli(["run", "--json", "-", "--quiet", "first.py"], tmp_path, SLOW_IMPORTS)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    doc = json.loads(out)
    # THEN every time in the report is on the run's clock, from its zero
    (lt,) = doc["lifetimes"]
    assert lt["label"] == "first"
    assert 0 <= lt["acquired_s"] <= lt["released_s"] <= doc["duration_s"]
    assert all(0 <= s["t_s"] <= doc["duration_s"] for s in doc["samples"])


def test_a_signal_while_the_observer_still_imports_stops_the_run_and_reports_it(tmp_path: Path) -> None:
    # GIVEN a program that says when it runs, and a parent whose imports take a second
    ready = tmp_path / "ready"
    (tmp_path / "slow.py").write_text(
        f"import os, time\nopen({str(ready)!r}, 'w').write(str(os.getpid()))\ntime.sleep(60)\n"
    )
    report = tmp_path / "r.json"
    proc = _cli(["run", "--json", str(report), "slow.py"], tmp_path, SLOW_IMPORTS)
    deadline = time.monotonic() + 30
    while not (ready.exists() and ready.read_text()) and time.monotonic() < deadline:
        time.sleep(0.01)
    child = int(ready.read_text()) if ready.exists() and ready.read_text() else 0
    if child <= 0:
        proc.kill()
        proc.communicate()
        raise AssertionError("the program never started")
    # WHEN SIGTERM arrives before the run's loop exists
    proc.send_signal(signal.SIGTERM)
    try:
        _, err = proc.communicate(timeout=30)
    finally:  # a failure leaves no process behind
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
        if _alive(child):  # (child > 0: never a process group)
            os.kill(child, signal.SIGKILL)
    # THEN the run is stopped and reported as any stopped run, and the program is gone
    assert proc.returncode == 143, err
    assert "withscope: interrupted" in err
    assert json.loads(report.read_text())["status"] == "stopped"
    assert not _alive(child)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def test_a_process_started_ahead_and_abandoned_leaves_nothing(tmp_path: Path) -> None:
    (tmp_path / "sleep.py").write_text("import time\ntime.sleep(60)\n")
    ahead = spawn_ahead({"kind": "script", "target": str(tmp_path / "sleep.py"), "args": []},
                        python=default_python(), repeat=1, scale=1.0, dsn=None)  # fmt: skip
    assert ahead.spawned.proc.poll() is None
    ahead.abandon()
    assert ahead.spawned.proc.returncode is not None
    assert not ahead.tmpdir.exists()
    assert not ahead.spawned.shim.exists()


def test_the_clis_database_variable_is_the_runners() -> None:
    assert cli_run.DB_ENV == runner.DB_ENV
