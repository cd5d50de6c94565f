"""Every output of the CLI (`--record`, `--json`, `export -o`): checked before anything runs, never
a device, FIFO, directory, foreign file or the input; any string a program makes survives; what
reaches the terminal is escaped; `--json -` is the report alone.

Devices and FIFOs are made in the test's temp dir (root may `mknod`); the real /dev is never used.
"""

from __future__ import annotations

import csv
import json
import os
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest
from withscope.core.store import open_recording

EXE = Path(sys.executable).with_name("withscope")  # the installed console command

ODD_TARGET = """
import io, os, subprocess, sys
from withscope.core import track

class R:
    def __enter__(self):
        return self
    def __exit__(self, *exc):
        return False

HELD = []

def main():
    with track(R(), kind="file", label="\\ud800 lone"):
        pass
    with track(R(), kind="file", label=os.fsdecode(b"bad-\\xff-name.txt")):
        pass
    HELD.append(track(io.BytesIO(), kind="buffer", label="clear \\x1b[2J screen \\u202e"))
    print("workload line 1", flush=True)
    subprocess.run([sys.executable, "-c", "print('child line 2')"], check=True)
    with open(os.environ["WITHSCOPE_TEST_MARK"], "w") as f:
        f.write("ran")
"""

ODD_LABELS = ["\ud800 lone", "bad-\udcff-name.txt", "clear \x1b[2J screen \u202e"]


def _withscope(*args: str | Path, mark: Path, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "WITHSCOPE_TEST_MARK": str(mark)}
    return subprocess.run(
        [str(EXE), *map(str, args)], capture_output=True, text=True, timeout=timeout, env=env,
        errors="surrogateescape",
    )  # fmt: skip


@pytest.fixture
def target(tmp_path: Path) -> str:
    path = tmp_path / "odd_target.py"
    path.write_text(ODD_TARGET)
    return f"{path}:main"


def _chardev(path: Path) -> Path:
    try:
        os.mknod(path, stat.S_IFCHR | 0o600, os.makedev(1, 3))
    except PermissionError:
        pytest.skip("mknod needs root")
    return path


def _make(kind: str, p: Path) -> None:
    if kind == "chardev":
        _chardev(p)
    elif kind == "fifo":
        os.mkfifo(p)
    elif kind == "dir":
        p.mkdir()
    elif kind == "foreign":
        p.write_text("precious notes\n")
    elif kind == "symlink-to-fifo":
        os.mkfifo(p.with_name("real-fifo"))
        p.symlink_to(p.with_name("real-fifo"))
    elif kind == "parent-is-a-file":
        p.parent.mkdir(exist_ok=True)


def _one_line_exit_2(proc: subprocess.CompletedProcess[str], *needles: str) -> None:
    assert proc.returncode == 2, proc.stderr
    lines = [ln for ln in proc.stderr.splitlines() if not ln.startswith("withscope: running ")]
    assert len(lines) == 1, proc.stderr
    assert "Traceback" not in proc.stderr
    for needle in needles:
        assert needle in lines[0], lines[0]


@pytest.mark.parametrize("kind", ["chardev", "fifo", "dir", "foreign", "symlink-to-fifo"])
@pytest.mark.parametrize("option", ["--record", "--json"])
def test_run_refuses_a_bad_output_before_the_program_runs(
    tmp_path: Path, target: str, kind: str, option: str
) -> None:
    # GIVEN an output path holding a device, a FIFO, a directory, a foreign file, a link to a FIFO
    out = tmp_path / "out"
    _make(kind, out)
    before = os.lstat(out)
    mark = tmp_path / "ran"
    # WHEN withscope run is pointed at it
    proc = _withscope("run", target, option, out, "--quiet", mark=mark, timeout=60)
    # THEN one line, exit 2, the program never ran and the path is exactly as it was
    _one_line_exit_2(proc, option, str(out))
    assert not mark.exists()
    after = os.lstat(out)
    assert (after.st_ino, after.st_mode, after.st_rdev, after.st_size) == (
        before.st_ino, before.st_mode, before.st_rdev, before.st_size,
    )  # fmt: skip
    if kind == "foreign":
        assert out.read_text() == "precious notes\n"


def test_run_refuses_an_output_in_no_directory_before_it_runs(tmp_path: Path, target: str) -> None:
    not_a_dir = tmp_path / "plain-file"
    not_a_dir.write_text("x")
    mark = tmp_path / "ran"
    for option in ("--json", "--record"):
        proc = _withscope("run", target, option, not_a_dir / "out", "--quiet", mark=mark)
        _one_line_exit_2(proc, "is not a directory")
        proc = _withscope("run", target, option, tmp_path / "missing" / "out", "--quiet", mark=mark)
        _one_line_exit_2(proc, "does not exist")
    proc = _withscope("run", target, "--json", tmp_path / "same", "--record", tmp_path / "same", mark=mark)
    _one_line_exit_2(proc, "--record file")
    assert not mark.exists()


@pytest.mark.parametrize("kind", ["chardev", "fifo", "dir", "foreign", "symlink-to-fifo"])
@pytest.mark.parametrize("fmt", ["json", "html", "chrome", "csv"])
def test_export_refuses_a_bad_output(tmp_path: Path, target: str, kind: str, fmt: str) -> None:
    rec = tmp_path / "r.db"
    assert _withscope("run", target, "--record", rec, "--quiet", mark=tmp_path / "ran").returncode == 0
    out = tmp_path / "out"
    _make(kind, out)
    before = os.lstat(out)
    args: list[str | Path] = ["export", rec, "--format", fmt, "-o", out]
    if fmt == "csv" and kind == "dir":
        _make("fifo", out / "lifetimes.csv")  # csv into a directory: each table's file is checked
    elif fmt == "csv":
        args += ["--what", "lifetimes"]  # one table, to OUT itself
    proc = _withscope(*args, mark=tmp_path / "x", timeout=60)
    _one_line_exit_2(proc, str(out))
    assert os.lstat(out).st_ino == before.st_ino
    if kind == "foreign":
        assert out.read_text() == "precious notes\n"


@pytest.mark.parametrize("how", ["same", "symlink", "hardlink"])
def test_export_never_writes_its_own_input(tmp_path: Path, target: str, how: str) -> None:
    rec = tmp_path / "r.db"
    assert _withscope("run", target, "--record", rec, "--quiet", mark=tmp_path / "ran").returncode == 0
    data = rec.read_bytes()
    out = rec
    if how == "symlink":
        out = tmp_path / "link.html"
        out.symlink_to(rec)
    elif how == "hardlink":
        out = tmp_path / "hard.html"
        os.link(rec, out)
    for fmt in ("html", "json", "chrome"):
        proc = _withscope("export", rec, "--format", fmt, "-o", out, mark=tmp_path / "x")
        _one_line_exit_2(proc, "is the input")
    assert rec.read_bytes() == data
    assert open_recording(rec).target.endswith(":main")


def test_any_string_a_program_makes_is_recorded_and_exported_without_loss(tmp_path: Path, target: str) -> None:
    # GIVEN a program whose labels hold a lone surrogate, a non-UTF-8 file name and terminal escapes
    rec, report = tmp_path / "r.db", tmp_path / "report.json"
    # WHEN it is run with --record and --json (--no-auto: the labels are the tracked ones alone,
    # not also its subprocess and the file it writes, which automatic instrumentation records)
    proc = _withscope("run", target, "--record", rec, "--json", report, "--no-auto", mark=tmp_path / "ran")
    # THEN the run ends normally and both hold every label exactly
    assert proc.returncode == 0, proc.stderr
    assert "Traceback" not in proc.stderr
    assert sorted(lt.label for lt in open_recording(rec).lifetimes) == sorted(ODD_LABELS)
    assert open_recording(rec).status == "ok"
    assert sorted(lt["label"] for lt in json.loads(report.read_bytes().decode("utf-8"))["lifetimes"]) == sorted(
        ODD_LABELS
    )
    # AND every export format is written as valid UTF-8, the JSON ones decoding to the same strings
    for fmt, name in (("json", "e.json"), ("chrome", "e.trace.json"), ("html", "e.html"), ("csv", "e.csv")):
        proc = _withscope("export", rec, "--format", fmt, "-o", tmp_path / name, mark=tmp_path / "x")
        assert proc.returncode == 0, proc.stderr
    exported = json.loads((tmp_path / "e.json").read_bytes().decode("utf-8"))
    assert sorted(lt["label"] for lt in exported["lifetimes"]) == sorted(ODD_LABELS)
    trace = json.loads((tmp_path / "e.trace.json").read_bytes().decode("utf-8"))
    names = {str(e.get("args", {}).get("label")) for e in trace["traceEvents"]}
    names |= {str(e.get("name")) for e in trace["traceEvents"]}
    assert all(any(label in str(n) for n in names) for label in ODD_LABELS), names
    html = (tmp_path / "e.html").read_bytes().decode("utf-8")
    assert "\\ud800 lone" in html
    assert "bad-\\udcff-name.txt" in html
    with open(tmp_path / "e.lifetimes.csv", encoding="utf-8", newline="") as f:
        labels = {row["label"] for row in csv.DictReader(f)}
    assert labels == {"\\ud800 lone", "bad-\\udcff-name.txt", "clear \x1b[2J screen \u202e"}
    # AND exporting again onto its own earlier exports is allowed
    for fmt, name in (("json", "e.json"), ("chrome", "e.trace.json"), ("html", "e.html"), ("csv", "e.csv")):
        assert _withscope("export", rec, "--format", fmt, "-o", tmp_path / name, mark=tmp_path / "x").returncode == 0


def test_the_terminal_never_gets_a_raw_control_character(tmp_path: Path, target: str) -> None:
    proc = _withscope("run", target, mark=tmp_path / "ran")
    assert proc.returncode == 0, proc.stderr
    summary = proc.stdout.replace("workload line 1\n", "").replace("child line 2\n", "")
    assert "\x1b" not in summary
    assert "\u202e" not in summary
    assert "\ud800" not in summary
    assert "clear \\x1b[2J screen \\u202e" in summary  # the unreleased buffer's alert, escaped
    proc = _withscope("export", tmp_path / "no\x1b[2Jsuch.db", "--format", "json", "-o", tmp_path / "x.json",
                      mark=tmp_path / "x")  # fmt: skip
    _one_line_exit_2(proc, "no\\x1b[2Jsuch.db")
    assert "\x1b" not in proc.stderr


def test_json_to_stdout_is_the_report_alone(tmp_path: Path, target: str) -> None:
    # GIVEN a program that prints, and starts a process that prints
    # WHEN it runs with --json -
    proc = _withscope("run", target, "--json", "-", mark=tmp_path / "ran")
    # THEN stdout is exactly the report, and the program's lines went to stderr
    assert proc.returncode == 0, proc.stderr
    report = json.loads(proc.stdout)
    assert report["schema"] == "withscope.report/1"
    assert "workload line 1" in proc.stderr
    assert "child line 2" in proc.stderr


def test_a_second_recording_of_the_same_file_is_refused(tmp_path: Path) -> None:
    slow = tmp_path / "slow.py"
    slow.write_text("import time\n\ndef main():\n    time.sleep(8)\n")
    rec = tmp_path / "live.db"
    first = subprocess.Popen([str(EXE), "run", f"{slow}:main", "--record", str(rec), "--quiet"],
                             stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)  # fmt: skip
    try:
        deadline = time.monotonic() + 60
        while not rec.exists() and time.monotonic() < deadline and first.poll() is None:
            time.sleep(0.05)
        ino = os.stat(rec).st_ino
        second = _withscope("run", f"{slow}:main", "--record", rec, "--quiet", mark=tmp_path / "x")
        _one_line_exit_2(second, "another withscope process is recording")
        assert os.stat(rec).st_ino == ino
    finally:
        _, err = first.communicate(timeout=120)
    assert first.returncode == 0, err
    assert open_recording(rec).status == "ok"
