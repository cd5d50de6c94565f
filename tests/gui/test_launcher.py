"""`withscope FILE.db` opens the recording in the app (the CLI tells users to do so)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

# Runs `withscope ARGS` (offscreen) and reports what the window's status said after it opened.
_PROBE = r"""
import json, sys
from withscope.gui.shell import main_window

seen = {}
_init = main_window.MainWindow.__init__

def init(self, *args, **kwargs):
    _init(self, *args, **kwargs)
    def ready():
        self.features.replay.opened.connect(lambda where: seen.update(
            opened=where, lifetimes=self.bridge.store.n, status=self.status_running.text()))
    self.viewsReady.connect(ready)

main_window.MainWindow.__init__ = init
from withscope.gui.shell.launcher import main
code = main(sys.argv[1:])
print("PROBE " + json.dumps(seen))
sys.exit(code)
"""


def _env() -> dict[str, str]:
    return {**os.environ, "QT_QPA_PLATFORM": "offscreen"}


def test_a_recording_path_opens_the_recording_in_the_app(tmp_path: Path) -> None:
    # GIVEN a recording made the way the CLI says ("open it with `withscope`")
    rec = tmp_path / "run.withscope.db"
    from withscope.core import cli

    assert cli.main(["run", "class-cm/faulty", "--quiet", "--record", str(rec)]) == 0
    assert rec.is_file()
    # WHEN the app is started with it as its only argument
    res = subprocess.run([sys.executable, "-c", _PROBE, str(rec), "--no-settings", "--screenshot",
                          str(tmp_path / "shot.png"), "--quit-after", "0.5"],
                         env=_env(), capture_output=True, text=True, timeout=120)
    # THEN it is accepted, opened and shown
    assert res.returncode == 0, res.stderr
    probe = [ln for ln in res.stdout.splitlines() if ln.startswith("PROBE ")]
    seen = json.loads(probe[0][len("PROBE "):])
    assert seen["opened"] == rec.name
    assert seen["lifetimes"] > 0
    assert "Replaying" in seen["status"]


@pytest.mark.parametrize("args", [["no-such-file.db"], ["lst"]])
def test_a_path_that_is_not_a_file_is_refused_in_one_line(args: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    from withscope.gui.shell.launcher import main

    assert main(args) == 2
    err = capsys.readouterr().err
    assert "neither a command nor a recording file" in err
    assert err.count("\n") == 1
