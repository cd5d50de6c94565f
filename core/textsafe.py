"""Text from the observed program, made safe for a terminal and for UTF-8 files.

Labels, sites and error texts are any string a program can make: terminal escapes
(``"\\x1b[2J"`` clears the screen), bidirectional overrides that reorder what a reader sees, and
lone surrogates (``os.fsdecode`` of a non-UTF-8 file name gives ``"\\udcff"``), which no UTF-8
encoder accepts. Withscope stores them as they are (the recording keeps them exactly) and
escapes them where they leave it:

- `printable`: for the terminal. Control characters (C0 but tab and newline when kept, DEL, C1),
  bidirectional controls and lone surrogates become Python-style escapes (``\\x1b``,
  ``\\u202e``, ``\\udcff``), so what is shown is what the string holds, and the text always encodes.
- `json_safe`: JSON text made valid UTF-8. JSON escapes control characters itself; a lone
  surrogate is written as its ``\\uXXXX`` escape, which JSON allows and every JSON reader decodes
  back to the same string.
"""

from __future__ import annotations

import re

_SURROGATE = re.compile("[\ud800-\udfff]")
# C0 controls, DEL, C1 controls, bidirectional controls (LRM/RLM, embeddings/overrides, isolates),
# line/paragraph separators and lone surrogates.
_UNPRINTABLE = re.compile("[\x00-\x1f\x7f-\x9f\u061c\u200e\u200f\u2028-\u202e\u2066-\u2069\ud800-\udfff]")
_UNPRINTABLE_KEEP_LINES = re.compile(
    "[\x00-\x08\x0b-\x1f\x7f-\x9f\u061c\u200e\u200f\u2028-\u202e\u2066-\u2069\ud800-\udfff]"
)


def _escape(m: re.Match[str]) -> str:
    c = ord(m.group())
    return f"\\x{c:02x}" if c < 0x100 else f"\\u{c:04x}"


def printable(text: object, *, keep_newlines: bool = False) -> str:
    """`text` (any object, through `str`) with every character a terminal would act on escaped.

    With `keep_newlines`, newline and tab stay (for multi-line text withscope laid out itself);
    otherwise they are escaped too (one value, one line).
    """
    s = str(text)
    pattern = _UNPRINTABLE_KEEP_LINES if keep_newlines else _UNPRINTABLE
    return pattern.sub(_escape, s)


def _surrogate_escape(m: re.Match[str]) -> str:
    return f"\\u{ord(m.group()):04x}"


def json_safe(text: str) -> str:
    """JSON text (or a piece of it) with every lone surrogate replaced by its ``\\uXXXX`` escape.

    Valid on any piece: a lone surrogate can only stand inside a JSON string, where the escape
    means the same character."""
    return _SURROGATE.sub(_surrogate_escape, text)
