"""The child -> parent frames: split anywhere, in any chunk size; a corrupt stream is refused."""

from __future__ import annotations

import marshal
import struct

import pytest
from withscope.core.agent.wire import FrameReader, WireError, encode

MESSAGES: list[tuple[object, ...]] = [
    ("hello", 123, "3.11.7", "C"),
    ("batch", 2, 0, (0, 0, None, b"\x01" * 8, b"\xff" * 8, b"\xff", b"\x00", b"\x00\x00", b"\x01\x00\x00\x00",
                     b"\x02\x00\x00\x00", b"\x00" * 4, b"\x00" * 4, [], []),
     [], [(5, "run start")], [], (1, ["a.txt", "app.py:3"], 0, ["file"], 0, ["MainThread"])),
    ("end", "ok", None, []),
]


@pytest.mark.parametrize("chunk", [1, 3, 7, 64, 10_000])
def test_frames_split_in_any_chunks_come_out_whole_and_in_order(chunk: int) -> None:
    stream = b"".join(encode(m) for m in MESSAGES)
    reader = FrameReader()
    got = []
    for i in range(0, len(stream), chunk):
        got += reader.feed(stream[i : i + chunk])
    assert got == MESSAGES
    assert reader.pending == 0


def test_a_corrupt_length_or_payload_is_refused() -> None:
    with pytest.raises(WireError, match="corrupt"):
        FrameReader().feed(struct.pack("<I", 0xFFFFFFFF) + b"x")
    with pytest.raises(WireError, match="unreadable"):
        FrameReader().feed(struct.pack("<I", 3) + b"\xff\xff\xff")
    payload = marshal.dumps([1, 2], 4)  # not a tagged tuple
    with pytest.raises(WireError, match="unexpected"):
        FrameReader().feed(struct.pack("<I", len(payload)) + payload)
