"""Caps on text from the observed program before any widget lays it out.

A label, message, site or error text can be any size (a 1 MB label is one `str`); Qt lays out
and measures the whole of it on every paint, tooltip and table resize, which froze the app for
good. Every such text is elided here, where the views take it, to a length a person can read:
`elide` keeps the start, says how long the whole was, and is O(limit).
"""

from __future__ import annotations

LABEL_CHARS = 160  # labels, sites, thread and task names: one line
TEXT_CHARS = 600  # messages, hints, errors: a paragraph
LINE_CHARS = 400  # each line of a stack
STACK_LINES = 60


def elide(text: str, limit: int = LABEL_CHARS) -> str:
    """`text` if it has at most `limit` characters, else its start, an ellipsis and its length."""
    if len(text) <= limit:
        return text
    return f"{text[: max(1, limit - 1)]}… ({len(text):,} characters)"


def elide_lines(lines: tuple[str, ...] | list[str], limit: int = LINE_CHARS, most: int = STACK_LINES) -> list[str]:
    """Each of the first `most` lines elided to `limit`; the rest counted."""
    out = [elide(line, limit) for line in lines[:most]]
    if len(lines) > most:
        out.append(f"… {len(lines) - most:,} more lines")
    return out
