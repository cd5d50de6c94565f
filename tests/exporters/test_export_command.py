"""`withscope export RECORDING --format FMT -o OUT`, driven through its own argparse setup."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import pytest
from withscope.core.exporters import command
from withscope.core.snapshot import RunSnapshot
from withscope.core.store import save_snapshot


def _run(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="withscope export")
    command.setup(parser)
    return command.handler(parser.parse_args(argv))


@pytest.fixture
def recording(run: RunSnapshot, tmp_path: Path) -> Path:
    path = tmp_path / "run.db"
    save_snapshot(run, path)
    return path


@pytest.mark.parametrize("fmt", ["chrome", "json", "html"])
def test_export_a_recording(recording: Path, tmp_path: Path, fmt: str, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / f"out.{fmt}"
    assert _run([str(recording), "--format", fmt, "-o", str(out)]) == 0
    assert capsys.readouterr().out.strip() == str(out)
    if fmt != "html":
        json.loads(out.read_text(encoding="utf-8"))


def test_csv_one_table_or_all(recording: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert _run([str(recording), "-f", "csv", "-o", str(tmp_path / "a.csv"), "--what", "alerts"]) == 0
    assert capsys.readouterr().out.split() == [str(tmp_path / "a.csv")]
    assert _run([str(recording), "-f", "csv", "-o", str(tmp_path / "all.csv")]) == 0
    assert len(capsys.readouterr().out.split()) == 4


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["{rec}", "-f", "png", "-o", "{tmp}/x.png"], "'png' renders the app's plots and needs the GUI"),
        (["{rec}", "-f", "pdf", "-o", "{tmp}/x.pdf"], "unknown export format 'pdf'"),
        (["{rec}", "-f", "json", "-o", "{tmp}/x.json", "--what", "alerts"], "--what applies to --format csv only"),
        (["{bad}", "-f", "json", "-o", "{tmp}/x.json"], "bad.db: not a withscope recording (not an SQLite database)"),
    ],
)
def test_errors_are_one_line_and_exit_2(
    recording: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], argv: list[str], message: str
) -> None:
    bad = tmp_path / "bad.db"
    bad.write_text("not a database" * 10)
    argv = [a.format(rec=recording, bad=bad, tmp=tmp_path) for a in argv]
    assert _run(argv) == 2
    err = capsys.readouterr().err
    assert message in err
    assert err.count("\n") == 1
    assert "Traceback" not in err
