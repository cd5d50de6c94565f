"""Pattern 4 - unconditional cleanup: a file processor that spills batches to temporary files.

`FileProcessor.__exit__` closes the input and deletes every temporary file whether the body
succeeded or raised. The faulty processor deletes them only on success, so a bad record
leaves its spill files on disk.
"""

from __future__ import annotations

import contextlib
import tempfile
from pathlib import Path
from types import TracebackType
from typing import IO, Any

from withscope.core.context import WorkloadContext
from withscope.core.track import track

from .base import Workload

PATTERN = "cleanup"
PATTERN_TITLE = "Unconditional cleanup"
BATCH = 8


class BadRecord(ValueError):
    """An input line that cannot be processed."""


class FileProcessor:
    """Process a file in batches, spilling each batch to a temporary file in `workdir`.

    `__exit__` always closes the input and deletes the spill files, and never suppresses the
    exception. Not reusable: enter it once. One thread at a time.
    """

    def __init__(self, path: Path, workdir: Path) -> None:
        self._path = path
        self._workdir = workdir.absolute()
        self._file: IO[bytes] | None = None
        self.temp_files: list[Path] = []

    def __enter__(self) -> FileProcessor:
        self._file = track(open(self._path, "rb"))  # closed in __exit__
        return self

    def lines(self) -> list[bytes]:
        if self._file is None:
            raise RuntimeError("use FileProcessor in a `with` block")
        return self._file.read().splitlines()

    def spill(self, batch: list[bytes]) -> Path:
        """Write one processed batch to a new temporary file (closed again at once)."""
        tmp = tempfile.NamedTemporaryFile(dir=self._workdir, prefix="spill-", suffix=".tmp", delete=False)  # noqa: SIM115
        with track(tmp) as f:
            f.write(b"\n".join(batch))
        path = Path(tmp.name)
        self.temp_files.append(path)
        return path

    def _close_input(self) -> None:
        if self._file is not None:
            f, self._file = self._file, None
            f.close()

    def _delete_temp_files(self) -> None:
        for path in self.temp_files:
            with contextlib.suppress(OSError):  # best effort: already gone
                path.unlink()
        self.temp_files.clear()

    def __exit__(self, et: type[BaseException] | None, ev: BaseException | None, tb: TracebackType | None) -> None:
        self._close_input()
        self._delete_temp_files()


class FileProcessorCleansOnSuccess(FileProcessor):
    """BUG: deletes the spill files only when the body succeeded."""

    def __exit__(self, et: type[BaseException] | None, ev: BaseException | None, tb: TracebackType | None) -> None:
        self._close_input()
        if et is None:
            self._delete_temp_files()


def _process(proc: FileProcessor, ctx: WorkloadContext) -> None:
    lines = proc.lines()
    for start in range(0, len(lines), BATCH):
        if ctx.stop.is_set():
            return
        batch = lines[start : start + BATCH]
        for line in batch:
            if line.startswith(b"!"):
                raise BadRecord(f"cannot process {line!r}")
        proc.spill([line.upper() for line in batch])
        ctx.stop.wait(ctx.seconds(0.03))


def _run(ctx: WorkloadContext, processor: type[FileProcessor]) -> None:
    batches = ctx.count(5, minimum=3)
    lines = [f"record {i}".encode() for i in range(batches * BATCH)]
    lines[-1] = b"!corrupt record"  # the last batch holds a bad record
    source = ctx.tmpdir / "records.txt"
    source.write_bytes(b"\n".join(lines))
    try:
        with processor(source, ctx.tmpdir) as proc:
            _process(proc, ctx)
    except BadRecord:
        pass  # the job fails and is reported; the service carries on
    finally:
        source.unlink(missing_ok=True)


def correct(ctx: WorkloadContext) -> None:
    _run(ctx, FileProcessor)


def faulty(ctx: WorkloadContext) -> None:
    _run(ctx, FileProcessorCleansOnSuccess)


def _variants() -> tuple[Workload, ...]:
    common: dict[str, Any] = {"pattern": PATTERN, "pattern_title": PATTERN_TITLE, "blocking": True}
    return (
        Workload(
            name=f"{PATTERN}/correct",
            variant="correct",
            title="A file processor whose `__exit__` deletes its temp files on every path",
            narration=(
                "A processor reads records and spills each processed batch to a temporary file; a corrupt "
                "record in the last batch makes the job fail. Its `__exit__` closes the input and deletes "
                "every spill file whatever happened. Look for the tempfile bars of the spills, and no file "
                "left on disk."
            ),
            expected_rules=frozenset(),
            func=correct,
            **common,
        ),
        Workload(
            name=f"{PATTERN}/faulty",
            variant="faulty",
            title="Temp files deleted only on success: a failing job leaves them on disk",
            narration=(
                "The same processor deletes its spill files only when the body succeeded. The corrupt record "
                "makes the job fail, so every spill written before it stays on disk. Look for the "
                "`temp-file-left` alerts naming each path; the file handles themselves were closed."
            ),
            expected_rules=frozenset({"temp-file-left"}),
            func=faulty,
            **common,
        ),
    )


WORKLOADS = _variants()
