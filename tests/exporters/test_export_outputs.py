"""What an export may write over: nothing but an absent, empty or earlier export of its format,
never the recording it was read from; and any string survives every format.

Devices and FIFOs are made in the test's temp dir (root may `mknod`); the real /dev is never used.
"""

from __future__ import annotations

import json
import os
import stat
import threading
from dataclasses import replace
from pathlib import Path

import pytest
from exporter_snapshots import lt
from withscope.core.events import Outcome
from withscope.core.exporters import ExportError, export
from withscope.core.snapshot import RunSnapshot
from withscope.core.store import open_recording, save_snapshot

FORMATS = ("json", "chrome", "html", "csv")


def _export(snapshot: RunSnapshot, fmt: str, out: Path) -> list[Path]:
    return export(snapshot, fmt, out, **({"what": "lifetimes"} if fmt == "csv" else {}))


def _in_thread(fn: object, timeout: float = 10.0) -> BaseException | None:
    """Run `fn` in a daemon thread; fail if it blocks (as opening a FIFO for writing does)."""
    result: list[BaseException | None] = []

    def target() -> None:
        try:
            fn()  # type: ignore[operator]
        except BaseException as exc:
            result.append(exc)
        else:
            result.append(None)

    t = threading.Thread(target=target, daemon=True)
    t.start()
    t.join(timeout)
    assert not t.is_alive(), "the export blocked"
    return result[0]


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("kind", ["chardev", "fifo", "dir", "foreign"])
def test_an_export_never_writes_over_what_is_not_its_own(run: RunSnapshot, tmp_path: Path, fmt: str, kind: str) -> None:
    out = tmp_path / "out"
    if kind == "chardev":
        try:
            os.mknod(out, stat.S_IFCHR | 0o600, os.makedev(1, 3))
        except PermissionError:
            pytest.skip("mknod needs root")
    elif kind == "fifo":
        os.mkfifo(out)
    elif kind == "dir":
        out.mkdir()
    else:
        out.write_text("precious\n")
    before = os.lstat(out)
    options = {"what": "lifetimes"} if fmt == "csv" and kind != "dir" else {}
    err = _in_thread(lambda: export(run, fmt, out, **options))
    if fmt == "csv" and kind == "dir":  # csv into a directory writes its tables there: allowed
        assert err is None
        assert (out / "lifetimes.csv").is_file()
        return
    assert isinstance(err, ExportError), err
    assert str(out) in str(err)
    assert os.lstat(out).st_ino == before.st_ino
    if kind == "foreign":
        assert out.read_text() == "precious\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]  # no temp file left


@pytest.mark.parametrize("fmt", FORMATS)
def test_an_export_replaces_its_own_earlier_file_and_an_empty_one(run: RunSnapshot, tmp_path: Path, fmt: str) -> None:
    out = tmp_path / "out"
    out.write_bytes(b"")  # a mktemp name: nothing to lose
    _export(run, fmt, out)
    first = out.read_bytes()
    assert first
    _export(replace(run, target="again", lifetimes=run.lifetimes[:1]), fmt, out)
    assert out.read_bytes() != first


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("how", ["same", "symlink", "hardlink"])
def test_an_export_never_writes_the_recording_it_was_read_from(
    run: RunSnapshot, tmp_path: Path, fmt: str, how: str
) -> None:
    rec = tmp_path / "r.db"
    save_snapshot(run, rec)
    snapshot = open_recording(rec)
    data = rec.read_bytes()
    out = rec
    if how == "symlink":
        out = tmp_path / "link"
        out.symlink_to(rec)
    elif how == "hardlink":
        out = tmp_path / "hard"
        os.link(rec, out)
    with pytest.raises(ExportError, match="is the input"):
        _export(snapshot, fmt, out)
    assert rec.read_bytes() == data


def test_strings_without_a_utf8_form_survive_every_format(run: RunSnapshot, tmp_path: Path) -> None:
    odd = ["\ud800 lone", os.fsdecode(b"bad-\xff-name.txt"), "esc \x1b[2J"]
    lts = tuple(lt(100 + i, "file", 1, 2, Outcome.RELEASED, label=label, error=label) for i, label in enumerate(odd))
    snap = replace(run, lifetimes=(*run.lifetimes, *lts), target=odd[1], error=odd[0])
    for fmt in FORMATS:
        for path in export(snap, fmt, tmp_path / f"x.{fmt}"):
            path.read_bytes().decode("utf-8")  # valid UTF-8 throughout
    report = json.loads((tmp_path / "x.json").read_bytes())
    assert [x["label"] for x in report["lifetimes"][-3:]] == odd
    assert (report["target"], report["error"]) == (odd[1], odd[0])
    trace = json.loads((tmp_path / "x.chrome").read_bytes())
    names = {e.get("name") for e in trace["traceEvents"]}
    assert set(odd) <= names


def test_an_image_writer_the_gui_registers_obeys_the_same_rules(
    run: RunSnapshot, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from withscope.core import exporters

    calls: list[Path] = []

    def fake_png(snapshot: RunSnapshot, out_path: Path) -> list[Path]:
        calls.append(out_path)
        out_path.write_bytes(b"\x89PNG\r\n\x1a\n" + b"\0" * 32)
        return [out_path]

    monkeypatch.setitem(exporters._registered, "png", fake_png)
    fifo = tmp_path / "pipe.png"
    os.mkfifo(fifo)
    err = _in_thread(lambda: export(run, "png", fifo))
    assert isinstance(err, ExportError)
    assert "FIFO" in str(err)
    notes = tmp_path / "notes.png"
    notes.write_text("not a picture\n")
    with pytest.raises(ExportError, match="is not a PNG image"):
        export(run, "png", notes)
    assert calls == []
    good = tmp_path / "plot.png"
    export(run, "png", good)
    export(run, "png", good)  # its own earlier picture: replaced
    assert calls == [good, good]
