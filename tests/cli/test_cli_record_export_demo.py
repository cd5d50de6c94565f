"""`withscope run --record`, `withscope export` (every format) and `withscope demo --check`,
in process, plus the image formats through the real command (Qt offscreen, a subprocess)."""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from withscope.core import cli
from withscope.core.store import open_recording

SAMPLE = Path(__file__).parents[1] / "runner" / "targets_sample.py"


def run_cli(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = cli.main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture(scope="module")
def recording(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """class-cm/faulty, recorded with `withscope run --record` (in process)."""
    path = tmp_path_factory.mktemp("rec") / "faulty.withscope.db"
    code = cli.main(["run", "class-cm/faulty", "--quiet", "--record", str(path)])
    assert code == 0
    return path


def test_run_record_writes_a_recording_that_opens(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    path = tmp_path / "run.withscope.db"
    code, out, err = run_cli(capsys, "run", f"{SAMPLE}:clean_async", "--record", str(path), "--repeat", "2")
    assert code == 0, err
    assert f"Recorded to {path}" in out
    snap = open_recording(path)
    assert snap.status == "ok"
    assert snap.end_ns is not None
    assert snap.meta["repeat"] == "2"
    assert len(snap.lifetimes) == 6
    assert all(not lt.is_open for lt in snap.lifetimes)
    assert any(m.text == "workload end" for m in snap.marks)


def test_the_recorded_faulty_run_holds_its_alerts(recording: Path) -> None:
    snap = open_recording(recording)
    assert snap.target == "class-cm/faulty"
    assert {a.rule for a in snap.alerts} == {"unreleased"}
    assert {lt.kind for lt in snap.lifetimes} == {"db.connection"}
    assert snap.samples


@pytest.mark.parametrize("where", ["missing-dir/run.db", "."])
def test_record_to_a_bad_path_is_one_line_and_exit_2(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, where: str
) -> None:
    target = tmp_path / where
    code, out, err = run_cli(capsys, "run", f"{SAMPLE}:clean_async", "--record", str(target))
    assert code == 2
    assert out == ""
    assert err.startswith("withscope: --record: ")
    assert str(target) in err
    assert err.count("\n") == 1


def test_export_chrome(capsys: pytest.CaptureFixture[str], recording: Path, tmp_path: Path) -> None:
    out_path = tmp_path / "run.trace.json"
    code, out, err = run_cli(capsys, "export", str(recording), "--format", "chrome", "-o", str(out_path))
    assert code == 0, err
    assert out.strip() == str(out_path)
    trace = json.loads(out_path.read_text())
    events = trace["traceEvents"]
    bars = [e for e in events if e["ph"] == "X" and e["cat"] == "lifetime"]
    assert len(bars) == len(open_recording(recording).lifetimes)
    assert all(isinstance(e["ts"], int | float) and e["dur"] >= 0 for e in bars)
    assert any(e["ph"] == "i" and e["cat"] == "alert" and "unreleased" in e["name"] for e in events)
    assert any(e["ph"] == "C" and e["cat"] == "metrics" for e in events)


def test_export_csv(capsys: pytest.CaptureFixture[str], recording: Path, tmp_path: Path) -> None:
    code, out, err = run_cli(capsys, "export", str(recording), "--format", "csv", "-o", str(tmp_path / "run.csv"))
    assert code == 0, err
    written = [Path(line) for line in out.split()]
    assert {p.name for p in written} == {f"run.{t}.csv" for t in ("lifetimes", "alerts", "samples", "streams")}
    with (tmp_path / "run.lifetimes.csv").open(newline="") as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == len(open_recording(recording).lifetimes)


def test_export_json_is_the_report(capsys: pytest.CaptureFixture[str], recording: Path, tmp_path: Path) -> None:
    out_path = tmp_path / "run.json"
    code, _out, err = run_cli(capsys, "export", str(recording), "-f", "json", "-o", str(out_path))
    assert code == 0, err
    data = json.loads(out_path.read_text())
    assert data["schema"] == "withscope.report/1"
    assert data["target"] == "class-cm/faulty"
    assert any(a["rule"] == "unreleased" for a in data["alerts"])


def test_export_html(capsys: pytest.CaptureFixture[str], recording: Path, tmp_path: Path) -> None:
    out_path = tmp_path / "run.html"
    code, _out, err = run_cli(capsys, "export", str(recording), "--format=html", "-o", str(out_path))
    assert code == 0, err
    text = out_path.read_text()
    assert text.lstrip().lower().startswith("<!doctype html")
    assert "unreleased" in text
    assert "<svg" in text


def test_image_formats_without_the_gui_layer_say_why(
    capsys: pytest.CaptureFixture[str], recording: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from withscope.core import exporters

    monkeypatch.setattr(exporters, "_registered", {})  # as in a process that never loaded the GUI
    code, _out, err = run_cli(capsys, "export", str(recording), "--format", "png", "-o", str(tmp_path / "x.png"))
    assert code == 2
    assert "needs the GUI" in err
    assert err.count("\n") == 1


@pytest.mark.parametrize(("args", "message"), [
    (["export", "nope.db", "--format", "csv", "-o", "x"], "no such file"),
    (["export", "REC", "--format", "pdf", "-o", "x"], "unknown export format 'pdf'"),
    (["export", "REC", "--format", "html", "--plot", "metrics", "-o", "x"], "--plot and --width apply to"),
    (["export", "REC", "--format", "png", "--what", "alerts", "-o", "x"], "--what applies to --format csv only"),
    (["export", "REC", "--format", "png", "--plot", "nope", "-o", "x"], "invalid choice: 'nope'"),
])  # fmt: skip
def test_export_usage_errors(
    capsys: pytest.CaptureFixture[str], recording: Path, args: list[str], message: str
) -> None:
    code, out, err = run_cli(capsys, *[str(recording) if a == "REC" else a for a in args])
    assert code == 2
    assert out == ""
    assert message in err
    assert err.count("\n") == 1


def test_gui_command_sniffing() -> None:
    assert cli.gui_command(["export", "r.db", "--format", "png", "-o", "x"]) == "export"
    assert cli.gui_command(["export", "r.db", "-fsvg", "-o", "x"]) == "export"
    assert cli.gui_command(["export", "r.db", "--format=png"]) == "export"
    assert cli.gui_command(["export", "r.db", "--format", "html", "-o", "x"]) is None
    assert cli.gui_command(["export", "--help"]) is None
    assert cli.gui_command(["demo"]) == "demo"
    assert cli.gui_command(["demo", "x.json", "--presenter"]) == "demo"
    assert cli.gui_command(["demo", "--check"]) is None
    assert cli.gui_command(["run", "x"]) is None
    assert cli.gui_command([]) is None
    assert cli.is_headless(["demo", "--help"])
    assert not cli.is_headless(["demo", "--presenter"])


def test_demo_check_good(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run_cli(capsys, "demo", "--check")
    assert code == 0, err
    assert "tour file(s) OK" in out
    assert "catalogue.json" in out


def test_demo_check_a_malformed_tour(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    bad = tmp_path / "broken.json"
    bad.write_text(json.dumps({
        "name": "broken", "title": "Broken", "description": "d",
        "steps": [{"narration": "no title", "focus": "timelin", "workloads": ["class-cm/faulti"]}],
    }))  # fmt: skip
    code, out, err = run_cli(capsys, "demo", "--check", str(bad))
    assert code == 1
    assert out == ""
    assert f"{bad}: steps[0].title: missing" in err
    assert "unknown view \"timelin\"" in err
    assert "1 tour file(s)" in err.splitlines()[-1]
    # the same file found through $WITHSCOPE_TOURS makes the whole check fail
    monkeypatch.setenv("WITHSCOPE_TOURS", str(tmp_path))
    code, _out, err = run_cli(capsys, "demo", "--check")
    assert code == 1
    assert str(bad) in err


def test_demo_check_unknown_tour_and_demo_without_the_app(capsys: pytest.CaptureFixture[str]) -> None:
    code, _out, err = run_cli(capsys, "demo", "--check", "no-such-tour")
    assert code == 2
    assert "no tour named 'no-such-tour'" in err
    code, _out, err = run_cli(capsys, "demo")
    assert code == 2
    assert "opens the app" in err


def test_image_export_through_the_withscope_command(recording: Path, tmp_path: Path) -> None:
    """The console command sends png/svg to the GUI layer, which renders offscreen."""
    png, svg = tmp_path / "timeline.png", tmp_path / "metrics.svg"
    code = (
        "import sys; from withscope.gui.shell.launcher import main\n"
        f"a = main(['export', {str(recording)!r}, '--format', 'png', '-o', {str(png)!r}, '--width', '900'])\n"
        f"b = main(['export', {str(recording)!r}, '--format', 'svg', '--plot', 'metrics', '-o', {str(svg)!r}])\n"
        "sys.exit(a * 10 + b)\n"
    )
    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY", "QT_QPA_PLATFORM")}
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=90, env=env,
                          check=False)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split() == [str(png), str(svg)]
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    width = int.from_bytes(png.read_bytes()[16:20], "big")
    assert width == 900
    root = ET.parse(svg).getroot()
    assert root.tag.endswith("svg")
    assert len(list(root.iter())) > 20
