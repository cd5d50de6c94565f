"""The child -> parent wire: length-prefixed `marshal` frames of plain tuples (standard library only).

A frame is a 4-byte little-endian length followed by `marshal.dumps(message, 4)`. `marshal`
carries only plain data (None, bool, int, float, str, bytes, tuple, list, dict) and never runs
code when read, so a parent reading a child's pipe executes nothing the child sent; format 4 reads
the same on CPython 3.11-3.13, so the parent and the observed program may run different versions.

Messages (the first item names the message):

    ("hello", pid, python_version, hot_path)
    ("batch", events, dropped_total, rows, streams, marks, aborted, names)
        rows:    None, or the recorder table's rows of the lifetimes acquired or released in the batch:
                 (lo, hi, ids, acquired_ns, released_ns, outcome, flags, kind, label, site, thread, task,
                  errors, stacks) - each column the raw bytes of an `array` (typecodes of
                 `LifetimeTable`: q q b B H I I I I) over the ids lo..hi (ids None) or over the
                 sorted list `ids`; rows whose outcome is OUT_MISSING are not lifetimes (yet);
                 errors [(id, error, error_type)], stacks [(id, (frame, ...))]
        names:   (first_string, [strings], first_kind, [kinds], first_thread, [threads]): what the
                 table interned since the last batch; label/site/task columns index the strings,
                 kind the kinds, thread the threads, exactly as in the observed process
        streams: [(lifetime_id, label, started_ns, first_chunk_ns|None, last_ns, ended, chunks, bytes,
                   new_points), ...]  new_points: [(t_ns, chunks, bytes), ...] since the last batch
        marks:   [(t_ns, text), ...];  aborted: [id, ...] acquisitions withdrawn
    ("end", kind, detail, threads)
        the target's main code is over: kind "ok" (detail None), "exit" (detail: the exit code),
        "error" (detail: one line naming the exception and where it was raised) or "target" (it could
        not be loaded: no such function or module; detail: one line saying so); threads: names of
        the non-daemon threads still running (the process waits for them before it exits)

Times are `time.perf_counter_ns()` values; on Linux that clock (CLOCK_MONOTONIC) is shared by
every process of the machine, so the parent uses them as they come.
"""

from __future__ import annotations

import marshal
import struct
from typing import Any

MARSHAL_VERSION = 4
_HEADER = struct.Struct("<I")
HEADER_SIZE = _HEADER.size
MAX_FRAME = 1 << 30  # a longer length prefix is a corrupt stream, not a batch


class WireError(ValueError):
    """A frame that cannot be read (corrupt length or payload)."""


def encode(message: tuple[Any, ...]) -> bytes:
    """One frame for `message` (a tuple of plain data)."""
    payload = marshal.dumps(message, MARSHAL_VERSION)
    return _HEADER.pack(len(payload)) + payload


class FrameReader:
    """Splits a byte stream into messages. Feed it what the pipe gives, in order.

    Not thread-safe: one reader per stream, fed from one thread.
    """

    def __init__(self) -> None:
        self._buf = bytearray()
        self.frames = 0
        self.bytes = 0

    def feed(self, data: bytes) -> list[tuple[Any, ...]]:
        """The complete messages `data` finishes (a partial frame waits for the next call).
        Raises `WireError` on a corrupt frame; the reader is then unusable."""
        self.bytes += len(data)
        buf = self._buf
        buf += data
        out: list[tuple[Any, ...]] = []
        pos = 0
        n = len(buf)
        while n - pos >= HEADER_SIZE:
            (size,) = _HEADER.unpack_from(buf, pos)
            if size > MAX_FRAME:
                raise WireError(f"frame of {size} bytes announced: the stream is corrupt")
            end = pos + HEADER_SIZE + size
            if end > n:
                break
            try:
                msg = marshal.loads(bytes(buf[pos + HEADER_SIZE : end]))
            except (ValueError, EOFError, TypeError) as exc:
                raise WireError(f"unreadable frame: {exc}") from None
            if not isinstance(msg, tuple) or not msg or not isinstance(msg[0], str):
                raise WireError(f"unexpected message of type {type(msg).__name__}")
            out.append(msg)
            pos = end
        if pos:
            del buf[:pos]
        self.frames += len(out)
        return out

    @property
    def pending(self) -> int:
        """Bytes of an incomplete frame held back."""
        return len(self._buf)
