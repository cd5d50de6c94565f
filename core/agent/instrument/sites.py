"""Where an automatically seen acquisition happened: the first frame of the user's own code.

A frame belongs to a library when its file is in the standard library, in a `site-packages` /
`dist-packages` folder, frozen (`<frozen ...>`) or withscope's own; every other file is the user's
(scripts, their modules, `<string>` code they exec). A socket opened deep inside a client library
is attributed to the user's line that called into the library. The verdict is cached per code
object, so the common case (the user calls `open` directly) is one dict lookup.

Standard library only; any thread may call these functions.
"""

from __future__ import annotations

import os
from types import CodeType, FrameType

_AGENT_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CORE_DIR = os.path.dirname(_AGENT_DIR)
_LIB_DIRS = tuple({os.path.dirname(os.__file__) + os.sep, os.path.realpath(os.path.dirname(os.__file__)) + os.sep})
_PACKAGE_PARTS = (os.sep + "site-packages" + os.sep, os.sep + "dist-packages" + os.sep)

# code object -> 0 user, 1 library, 2 withscope's own. Grows with the program's code objects
# (bounded by them); a dict write is atomic under the GIL.
_VERDICT: dict[CodeType, int] = {}
USER, LIBRARY, OWN = 0, 1, 2
STACK_LIMIT = 32  # frames kept per acquisition for the details view


def _classify(code: CodeType) -> int:
    path = code.co_filename
    if path.startswith(CORE_DIR + os.sep):
        verdict = OWN
    elif path.startswith(_LIB_DIRS) or path.startswith("<frozen") or any(p in path for p in _PACKAGE_PARTS):
        verdict = LIBRARY
    else:
        verdict = USER
    _VERDICT[code] = verdict
    return verdict


def user_frame_of(frame: FrameType | None) -> FrameType | None:
    """The first frame of the user's code from `frame` outwards, else `frame` itself (a
    library's own thread, say); None when the first frame that is not a library's is
    withscope's own (withscope's own work is never a user's acquisition)."""
    first = f = frame
    verdicts = _VERDICT
    while f is not None:
        code = f.f_code
        v = verdicts.get(code)
        if v is None:
            v = _classify(code)
        if v == USER:
            return f
        if v == OWN:
            return None
        f = f.f_back
    return first


def raw_stack(frame: FrameType | None) -> tuple[tuple[CodeType, int], ...]:
    """(code, line) of `frame` and the frames below it, innermost first (formatted later, off
    the program's thread: only code objects and numbers are kept, never a frame or its locals)."""
    out: list[tuple[CodeType, int]] = []
    while frame is not None and len(out) < STACK_LIMIT:
        out.append((frame.f_code, frame.f_lineno))
        frame = frame.f_back
    return tuple(out)


def is_own(code: CodeType) -> bool:
    v = _VERDICT.get(code)
    return (v if v is not None else _classify(code)) == OWN
