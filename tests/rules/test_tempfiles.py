"""temp-file-left: a tracked temp file still on disk versus one removed."""

from __future__ import annotations

import tempfile
from pathlib import Path

from rules_helpers import ctx, lt
from withscope.core import Recorder, track
from withscope.core.probes import existing_paths
from withscope.core.rules.tempfiles import temp_file_left


def test_left_on_disk_alerts_removed_does_not(tmp_path: Path) -> None:
    # GIVEN two temp files, one deleted after use and one left behind
    kept = tmp_path / "left.tmp"
    kept.write_text("x")
    gone = tmp_path / "gone.tmp"
    lifetimes = (
        lt(0, kind="tempfile", label=str(kept), until_ms=5),
        lt(1, kind="tempfile", label=str(gone), until_ms=5),
        lt(2, kind="file", label=str(kept), until_ms=5),  # not a temp kind
        lt(3, kind="tempfile", label="fd 7", until_ms=5),  # no path
    )
    # WHEN the facts are gathered and the rule runs
    paths = existing_paths(lifetimes)
    alerts = temp_file_left(ctx(*lifetimes, existing_paths=paths, final=True))
    # THEN only the one still on disk
    assert paths == {str(kept)}
    assert [a.lifetime_id for a in alerts] == [0]
    assert f"tempfile {kept} created at app.py:12 is still on disk" in alerts[0].message


def test_real_named_temporary_files(tmp_path: Path) -> None:
    with Recorder() as rec:
        with track(tempfile.NamedTemporaryFile(dir=tmp_path, delete=True)) as f:
            f.write(b"x")
        with track(tempfile.NamedTemporaryFile(dir=tmp_path, delete=False)) as g:
            g.write(b"x")
        with track(tempfile.TemporaryDirectory(dir=tmp_path)):
            pass
    lifetimes = rec.lifetimes()
    alerts = temp_file_left(ctx(*lifetimes, existing_paths=existing_paths(lifetimes), final=True))
    assert [a.message.split(" created")[0] for a in alerts] == [f"tempfile {g.name}"]
