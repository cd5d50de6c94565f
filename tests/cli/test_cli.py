"""`withscope run` / `list` / usage errors, in process (and once as a real subprocess)."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from withscope.core import cli
from withscope.core.cli.run import Progress

SAMPLE = Path(__file__).parents[1] / "runner" / "targets_sample.py"


def target(name: str) -> str:
    return f"{SAMPLE}:{name}"


def run_cli(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = cli.main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["run"], "give a TARGET: script.py, -m MODULE"),
        (["run", "no-such-thing"], "unknown target 'no-such-thing'"),
        (["run", "--repeat", "0", "x"], "argument --repeat: must be at least 1, got 0"),
        (["run", "--timeout", "soon", "x"], "argument --timeout: expected a number, got 'soon'"),
        (["run", "--db", "mysql://h/db", target("clean_async")], "--db wants a postgresql:// DSN"),
        (["frobnicate"], "invalid choice: 'frobnicate'"),
        (["run", f"{SAMPLE}:nope"], "functions there: async_exits"),
    ],
)
def test_bad_usage_is_one_line_and_exit_2(capsys: pytest.CaptureFixture[str], args: list[str], message: str) -> None:
    code, out, err = run_cli(capsys, *args)
    assert code == 2
    assert out == ""
    assert message in err
    assert err.count("\n") == 1
    assert "Traceback" not in err


def test_run_prints_a_summary_and_writes_the_report(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    report = tmp_path / "report.json"
    code, out, _err = run_cli(capsys, "run", target("clean_async"), "--json", str(report), "--repeat", "2")
    assert code == 0
    assert out.startswith(f"withscope run {target('clean_async')}: ok in ")
    assert "(2 repeats, db sqlite)" in out
    assert "Lifetimes (6)" in out
    assert "No alerts" in out
    data = json.loads(report.read_text())
    assert data["schema"] == "withscope.report/1"
    assert data["status"] == "ok"
    assert len(data["lifetimes"]) == 6


def test_fail_on_leak_turns_alerts_into_exit_1(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run_cli(capsys, "run", target("leaky_async"), "--fail-on-leak")
    assert code == 1
    assert "Alerts (1)" in out
    assert "WARNING  unreleased  at " in out
    assert "hint: open it with `with open(...)" in out
    code, _, _ = run_cli(capsys, "run", target("leaky_async"))
    assert code == 0, "alerts alone do not fail a run without --fail-on-leak"
    code, _, _ = run_cli(capsys, "run", target("clean_async"), "--fail-on-leak")
    assert code == 0


def test_a_target_that_raises_is_reported_with_status_error(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    report = tmp_path / "r.json"
    code, out, _ = run_cli(capsys, "run", target("leak_then_raise"), "--json", str(report))
    assert code == 0
    assert ": error in " in out
    assert "error: ValueError: boom (raised at " in out
    data = json.loads(report.read_text())
    assert data["status"] == "error"
    assert data["error"].startswith("ValueError: boom")
    assert [a["rule"] for a in data["alerts"]] == ["unreleased"]


def test_alerts_of_one_rule_at_one_site_are_grouped_in_the_summary(capsys: pytest.CaptureFixture[str]) -> None:
    # GIVEN a target whose one line leaks three files
    code, out, _ = run_cli(capsys, "run", target("leaky_loop"))
    # THEN the summary counts three alerts but shows them as one entry, with its count and hint once
    assert code == 0
    assert "Alerts (3)" in out
    assert out.count("unreleased  at ") == 1
    assert "(x3)" in out
    assert "... and 2 more like it" in out
    assert out.count("hint: ") == 1


def test_fail_on_leak_also_fails_a_run_that_did_not_end_ok(capsys: pytest.CaptureFixture[str]) -> None:
    # GIVEN a target that times out before it could leak anything: no alert, but no proof either
    code, out, err = run_cli(capsys, "run", target("long_clean"), "--timeout", "0.1", "--fail-on-leak")
    # THEN the gate fails and says why; the summary does not claim that everything was released
    assert code == 1
    assert "status 'timed out', so it proves nothing" in err
    assert "every tracked resource was released properly" not in out
    assert "No alerts in what ran before the run ended (timed out)." in out


def test_quiet_and_json_to_stdout(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run_cli(capsys, "run", target("clean_sync"), "--quiet", "--json", "-")
    assert code == 0
    assert err == ""
    assert json.loads(out)["status"] == "ok"


def test_timeout_option(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run_cli(capsys, "run", target("long_clean"), "--timeout", "0.1", "--quiet", "--json", "-")
    assert code == 0
    data = json.loads(out)
    assert data["status"] == "timed out"
    assert data["error"] == "timed out after 0.1 s"


def test_progress_redraws_on_a_tty_and_prints_lines_otherwise() -> None:
    from withscope.core.runner import Run

    run = Run(target("clean_async"))
    tty = io.StringIO()
    p = Progress(tty, tty=True)
    p.update(run)
    p.done()
    assert tty.getvalue().startswith("\r\x1b[K")
    assert "repeat 0/1" in tty.getvalue()
    plain = io.StringIO()
    q = Progress(plain, tty=False, every_s=60.0)
    q.update(run)
    q.update(run)  # within every_s: nothing more
    assert plain.getvalue().startswith("withscope: running ")
    assert plain.getvalue().endswith("alerts\n")
    assert plain.getvalue().count("\n") == 1


def test_streams_appear_in_the_summary(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    mod = tmp_path / "streamer.py"
    mod.write_text(
        "from withscope.core import track_stream\n"
        "def main():\n"
        "    for _ in track_stream([b'abc'] * 10, 'numbers'):\n"
        "        pass\n"
    )
    code, out, _ = run_cli(capsys, "run", f"{mod}:main")
    assert code == 0
    assert "Streams (1)" in out
    assert "numbers" in out
    assert "30 B" in out


def test_headless_dispatch() -> None:
    assert cli.is_headless(["run", "x"])
    assert cli.is_headless(["list"])
    assert cli.is_headless(["demo", "--check"])
    assert not cli.is_headless(["demo"])
    assert not cli.is_headless([])


def test_the_cli_runs_headless_without_importing_qt(tmp_path: Path) -> None:
    code = (
        "import sys; from withscope.core.cli import main\n"
        f"rc = main(['run', {str(target('clean_async'))!r}, '--quiet'])\n"
        "assert not any(m.startswith(('PySide6', 'pyqtgraph', 'qasync')) for m in sys.modules), 'Qt imported'\n"
        "rc2 = main(['run', 'no-such-thing'])\n"
        "sys.exit(rc * 10 + rc2)\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60,
        env={**os.environ, "PYTHONWARNINGS": "error"}, check=False,
    )
    assert proc.returncode == 2, proc.stderr
    assert proc.stderr.startswith("withscope: unknown target 'no-such-thing'")
    assert "Traceback" not in proc.stderr


def test_ctrl_c_cancels_cleans_up_reports_and_exits_130(tmp_path: Path) -> None:
    import signal
    import time

    report = tmp_path / "r.json"
    proc = subprocess.Popen(
        # (SIGINT restored: a shell running the suite in the background may pass it on ignored)
        [sys.executable, "-c", "import signal, sys; signal.signal(signal.SIGINT, signal.default_int_handler); "
         "from withscope.core.cli import main; sys.exit(main(sys.argv[1:]))",
         "run", target("long_clean"), "--json", str(report)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    deadline = time.monotonic() + 20
    while "running" not in (proc.stderr.readline() if proc.stderr else "") and time.monotonic() < deadline:
        pass
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=30)
    assert proc.returncode == 130, err
    assert err.rstrip().endswith("withscope: interrupted")
    assert ": stopped in " in out
    data = json.loads(report.read_text())
    assert data["status"] == "stopped"
    assert all(lt["released_s"] is not None for lt in data["lifetimes"])
