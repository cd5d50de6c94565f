"""Output files: which paths withscope may write, and how it writes them.

Every file withscope writes (``--record``, ``--json``, ``export -o``, the app's saves) obeys one
rule: it never deletes, truncates or replaces anything it cannot prove is its own. A path is
written only when it

- does not exist (a dangling symbolic link counts as existing: it is refused), or
- is a regular file (directly or through a symbolic link) that is empty (nothing to lose: a
  ``mktemp`` name, or the leftover of a run that died before writing), or whose first bytes
  `owns` recognises as withscope's own output of that format.

Directories, character and block devices, FIFOs and sockets are refused without being opened
(opening a FIFO blocks until someone opens its other end): `os.stat` decides before any open, and
every open of a file we only sniff uses ``O_NONBLOCK`` and checks `fstat` again. An output that
is the same file as an input (``st_dev``/``st_ino``, so symbolic and hard links are caught) is
refused too.

Files are written atomically: to a temporary file in the destination's directory, then moved
over it with `os.replace` after checking the destination once more. A failure leaves the old
file as it was and no partial output behind. Through a symbolic link the link's target is
replaced (the link stays).

Thread-safety: the functions keep no state; two processes writing the same export race only to
the final rename (the last one wins; each file is whole).
"""

from __future__ import annotations

import contextlib
import os
import secrets
import stat
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import TextIO

Owns = Callable[[bytes], bool]
HEAD_BYTES = 4096


class OutputError(ValueError):
    """An output path withscope refuses to write, or cannot. ``str()`` is one line naming the path."""

    def __init__(self, path: str | os.PathLike[str], problem: str) -> None:
        self.path = Path(path)
        self.problem = problem
        super().__init__(f"{self.path}: {problem}")


def not_a_file(st: os.stat_result) -> str | None:
    """What a non-regular file is ("a directory", "a FIFO (named pipe)", ...); None for a regular file."""
    mode = st.st_mode
    if stat.S_ISREG(mode):
        return None
    if stat.S_ISDIR(mode):
        return "a directory"
    if stat.S_ISCHR(mode):
        return "a character device"
    if stat.S_ISBLK(mode):
        return "a block device"
    if stat.S_ISFIFO(mode):
        return "a FIFO (named pipe)"
    if stat.S_ISSOCK(mode):
        return "a socket"
    return "not a regular file"


def read_head(path: str | os.PathLike[str], n: int = HEAD_BYTES) -> bytes:
    """The first `n` bytes of the regular file `path`, read without ever blocking.

    Raises `OutputError` for anything but a regular file (checked before opening and again on
    the opened descriptor) and `OSError` when it cannot be read.
    """
    st = os.stat(path)
    what = not_a_file(st)
    if what is not None:
        raise OutputError(path, f"is {what}, not a file")
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_NOCTTY | os.O_CLOEXEC)
    try:
        what = not_a_file(os.fstat(fd))
        if what is not None:  # swapped between the stat and the open
            raise OutputError(path, f"is {what}, not a file")
        return os.pread(fd, n, 0)
    finally:
        os.close(fd)


def same_file(a: os.stat_result, b: os.stat_result) -> bool:
    return (a.st_dev, a.st_ino) == (b.st_dev, b.st_ino)


def _input_stats(inputs: Iterable[str | os.PathLike[str]]) -> list[tuple[Path, os.stat_result]]:
    out: list[tuple[Path, os.stat_result]] = []
    for p in inputs:
        for suffix in ("", "-wal", "-shm", "-journal"):  # an SQLite input is up to four files
            q = Path(f"{os.fspath(p)}{suffix}")
            with contextlib.suppress(OSError):
                out.append((Path(p), os.stat(q)))
    return out


def check_output(
    path: str | os.PathLike[str],
    owns: Owns,
    what: str,
    *,
    inputs: Iterable[str | os.PathLike[str]] = (),
    probe: bool = True,
) -> Path:
    """Check that `path` may be written as `what` (e.g. "withscope JSON report"); return the
    file to write (the target of a symbolic link, else `path`).

    `owns(head)` says whether an existing non-empty file's first bytes are withscope's own
    output of that kind. `inputs` are files the output must not be. With `probe`, a temporary
    file is created and removed in the directory to prove it is writable (permissions alone say
    nothing for root or a read-only mount). Raises `OutputError` (one line) otherwise.
    """
    p = Path(path)
    if not os.fspath(p):
        raise OutputError(p, "an empty file name")
    try:
        lst = os.lstat(p)
    except FileNotFoundError:
        _check_directory(p, probe)
        return p
    except NotADirectoryError:
        raise OutputError(p, f"{p.parent} is not a directory") from None
    except OSError as exc:
        raise OutputError(p, f"cannot be checked: {exc.strerror or exc}") from None
    real = p
    st = lst
    if stat.S_ISLNK(lst.st_mode):
        try:
            st = os.stat(p)
        except OSError:
            raise OutputError(p, "is a symbolic link to nothing; remove it or give another name") from None
        real = Path(os.path.realpath(p))
    kind = not_a_file(st)
    if kind is not None:
        via = " (through a symbolic link)" if real is not p else ""
        raise OutputError(p, f"is {kind}{via}; withscope writes only regular files: give a file name")
    for src, sst in _input_stats(inputs):
        if same_file(st, sst):
            raise OutputError(p, f"is the input {src} itself; writing it would destroy it: give another name")
    if st.st_size > 0:
        try:
            head = read_head(real)
        except OSError as exc:
            raise OutputError(p, f"exists and cannot be read to check what it is: {exc.strerror or exc}") from None
        if not owns(head):
            raise OutputError(
                p, f"exists and is not a {what}; refusing to overwrite it: remove it yourself or give another name"
            )
    _check_directory(real, probe)
    return real


def _check_directory(p: Path, probe: bool) -> None:
    parent = p.parent
    try:
        pst = os.stat(parent)
    except FileNotFoundError:
        raise OutputError(p, f"the directory {parent} does not exist") from None
    except OSError as exc:
        raise OutputError(p, f"the directory {parent} cannot be reached: {exc.strerror or exc}") from None
    if not stat.S_ISDIR(pst.st_mode):
        raise OutputError(p, f"{parent} is not a directory")
    if probe:
        name = temp_name(p)
        try:
            fd = os.open(name, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o600)
        except OSError as exc:
            raise OutputError(p, f"cannot write in {parent}: {exc.strerror or exc}") from None
        os.close(fd)
        os.unlink(name)


def temp_name(p: Path) -> Path:
    """A new hidden name beside `p` for a temporary file (unique per process and call)."""
    return p.with_name(f".{p.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp")


@contextlib.contextmanager
def replacing(
    path: str | os.PathLike[str],
    owns: Owns,
    what: str,
    *,
    inputs: Iterable[str | os.PathLike[str]] = (),
) -> Iterator[Path]:
    """Yield a fresh temporary path beside `path`; when the block ends without an exception, the
    temporary file replaces `path` (checked with `check_output` before and once more just before
    the move). On an exception the temporary file is removed and `path` is untouched."""
    inputs = tuple(inputs)
    real = check_output(path, owns, what, inputs=inputs, probe=False)
    tmp = temp_name(real)
    try:
        yield tmp
        check_output(path, owns, what, inputs=inputs, probe=False)
        os.replace(tmp, real)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


@contextlib.contextmanager
def open_text(
    path: str | os.PathLike[str],
    owns: Owns,
    what: str,
    *,
    inputs: Iterable[str | os.PathLike[str]] = (),
    newline: str | None = None,
) -> Iterator[TextIO]:
    """`replacing` as a UTF-8 text file. A lone surrogate (a label made from a non-UTF-8 file
    name, say) is written as its backslash escape (``\\udcff``) instead of failing the write."""
    with replacing(path, owns, what, inputs=inputs) as tmp:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o666)
        with open(fd, "w", encoding="utf-8", errors="backslashreplace", newline=newline) as f:
            yield f


def recording_inputs(meta: dict[str, str]) -> tuple[str, ...]:
    """The recording a snapshot was read from (``meta["recording"]``), as `inputs` for an export."""
    src = meta.get("recording")
    return (src,) if src else ()
