"""`withscope run` runs scripts and modules as Python would, with their arguments, in a child
process; SIGTERM/SIGHUP/SIGINT to withscope stop the child, finish the recording and the report."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from withscope.core.store import open_recording

TARGETS = Path(__file__).parent / "targets"
CLI = "import sys; from withscope.core.cli import main; sys.exit(main(sys.argv[1:]))"


def withscope(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-c", CLI, *args], capture_output=True, text=True, timeout=120, cwd=cwd)


def test_a_script_gets_its_arguments_main_the_main_thread_and_its_folder_on_the_path(tmp_path: Path) -> None:
    seen = tmp_path / "seen.json"
    out = withscope("run", "--quiet", str(TARGETS / "show_args.py"), str(seen), "--verbose", "-x", "--json", "j")
    assert out.returncode == 0, out.stderr
    data = json.loads(seen.read_text())
    assert data["argv"] == [str(TARGETS / "show_args.py"), str(seen), "--verbose", "-x", "--json", "j"]
    assert data["name"] == "__main__"
    assert data["main_thread"] is True
    assert data["path0"] == str(TARGETS)


def test_a_module_runs_as_python_dash_m_with_its_arguments(tmp_path: Path) -> None:
    pkg = tmp_path / "mypkg"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    (pkg / "tool.py").write_text(
        "import json, sys\nprint(json.dumps({'argv': sys.argv, 'name': __name__, 'path0': sys.path[0]}))\n"
    )
    out = withscope("run", "--quiet", "-m", "mypkg.tool", "--verbose", "-x", cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    data = json.loads(out.stdout)
    assert data == {"argv": [str(pkg / "tool.py"), "--verbose", "-x"], "name": "__main__", "path0": str(tmp_path)}


def test_options_after_a_function_target_are_withscope_s(tmp_path: Path) -> None:
    (tmp_path / "app.py").write_text("from withscope.core import track\ndef main():\n    track(open(__file__))\n")
    out = withscope("run", "app.py:main", "--quiet", "--json", "r.json", "--fail-on-leak", cwd=tmp_path)
    assert out.returncode == 1, out.stderr  # --fail-on-leak: the file was left to the collector
    assert json.loads((tmp_path / "r.json").read_text())["alerts"][0]["rule"] == "gc-release"


@pytest.mark.parametrize(("sig", "code"), [(signal.SIGTERM, 143), (signal.SIGINT, 130), (signal.SIGHUP, 129)])
def test_a_signal_to_withscope_stops_the_child_and_finishes_report_and_recording(
    tmp_path: Path, sig: signal.Signals, code: int
) -> None:
    report, recording = tmp_path / "r.json", tmp_path / "r.db"
    proc = subprocess.Popen(
        [sys.executable, "-c", CLI, "run", "--json", str(report), "--record", str(recording),
         str(TARGETS / "cpu_loop.py")],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True,
    )  # fmt: skip
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:  # until the child has recorded its file
        if recording.exists() and open_recording(recording).lifetimes:
            break
        time.sleep(0.1)
    proc.send_signal(sig)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == code, err
    data = json.loads(report.read_text())
    assert data["status"] == "stopped"
    assert [lt["label"].endswith("cpu_loop.py") for lt in data["lifetimes"]] == [True]
    assert open_recording(recording).status == "stopped"
    assert ": stopped in " in out
    with pytest.raises(ProcessLookupError):  # nothing of the run is left: its group is empty
        os.killpg(int(data_pid(recording)), 0)


def data_pid(recording: Path) -> str:
    from withscope.core.store import read_meta

    return str(json.loads(read_meta(recording)["options"])["pid"])


def test_an_interpreter_that_cannot_start_is_one_line_and_exit_2(tmp_path: Path) -> None:
    out = withscope("run", "--python", str(tmp_path / "no-python"), str(TARGETS / "sys_exit.py"))
    assert out.returncode == 2
    assert out.stdout == ""
    missing = tmp_path / "no-python"
    assert out.stderr.strip().splitlines() == [f"withscope: cannot start {missing}: No such file or directory"]


def test_stdin_and_stdout_pass_through(tmp_path: Path) -> None:
    out = subprocess.run([sys.executable, "-c", CLI, "run", "--quiet", str(TARGETS / "echo_stdin.py")],
                         input="hello\n", capture_output=True, text=True, timeout=120)  # fmt: skip
    assert out.returncode == 0, out.stderr
    assert out.stdout == "got hello\n"


@pytest.mark.parametrize(
    ("name", "rules"),
    [
        ("class-cm/faulty", ["unreleased"]),
        ("cleanup/faulty", ["temp-file-left"]),
        ("sqlite-trap/faulty", ["gc-release"]),
    ],
)
def test_catalogue_entries_run_in_a_child_and_find_their_rules(name: str, rules: list[str]) -> None:
    out = withscope("run", name, "--quiet", "--json", "-", "--scale", "0.2")
    assert out.returncode == 0, out.stderr
    data = json.loads(out.stdout)
    assert data["status"] == "ok"
    assert sorted({a["rule"] for a in data["alerts"]}) == rules
