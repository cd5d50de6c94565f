"""SIGINT and SIGTERM close the app cleanly: runs stopped, a recording being written finished,
exit status 130 / 143, no KeyboardInterrupt traceback. The app runs as a subprocess (offscreen)
and the signal goes to the pid this test started."""

from __future__ import annotations

import os
import select
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
TARGETS = HERE / "gui_targets.py"

# Starts the app as `withscope --no-settings` does, records every run to a folder, starts TARGET
# and says READY on stdout once the run is going.
_PROBE = r"""
import sys
from pathlib import Path
from withscope.gui.shell import main_window
from PySide6.QtCore import QTimer

folder = Path(sys.argv.pop(1))
target = sys.argv.pop(1)
_init = main_window.MainWindow.__init__

def init(self, *args, **kwargs):
    _init(self, *args, **kwargs)
    def ready():
        self.features.record_to(folder)
        self.run_workloads([target], 1)
        def poll():
            if self.controller.is_running():
                print("READY", flush=True)
                timer.stop()
        timer = QTimer(self)
        timer.timeout.connect(poll)
        timer.start(100)
    self.viewsReady.connect(ready)

main_window.MainWindow.__init__ = init
from withscope.gui.shell.launcher import main
sys.exit(main(sys.argv[1:]))
"""


def _wait_for(proc: subprocess.Popen[str], word: str, limit_s: float = 60.0) -> None:
    assert proc.stdout is not None
    deadline = time.monotonic() + limit_s
    while time.monotonic() < deadline:
        ready, _, _ = select.select([proc.stdout], [], [], 0.5)
        if ready:
            line = proc.stdout.readline()
            if word in line:
                return
            if not line and proc.poll() is not None:
                break
    raise AssertionError(f"the app never said {word}")


@pytest.mark.parametrize(("sig", "code"), [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_a_signal_closes_the_app_cleanly_and_finishes_the_recording(tmp_path: Path, sig: int, code: int) -> None:
    from withscope.core.store import open_recording

    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen"}
    proc = subprocess.Popen(
        [sys.executable, "-c", _PROBE, str(tmp_path), f"{TARGETS}:hold_files", "--no-settings"],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True)
    try:
        _wait_for(proc, "READY")
        time.sleep(0.5)  # the run holds its files now
        proc.send_signal(sig)
        _out, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    assert proc.returncode == code, err
    assert "Traceback" not in err
    assert "KeyboardInterrupt" not in err
    (rec,) = list(tmp_path.glob("*.db"))
    snap = open_recording(rec)
    assert snap.status == "stopped"  # finished: not left "running" (the app stopped its process)
    assert snap.end_ns is not None
    assert len(snap.lifetimes) == 3
    assert all(lt.released_ns is not None for lt in snap.lifetimes)  # the runs were stopped: files released
