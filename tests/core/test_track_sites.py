"""Acquisition sites point at the user's line: withscope's own frames and contextlib are
skipped; deeper stacks are opt-in (`Recorder(stack_depth=N)`)."""

from __future__ import annotations

import asyncio
import contextlib
import os
import sys
from collections.abc import Iterator
from typing import Any

import pytest
import site_helper
from core_cms import AScripted, Resource, Scripted
from withscope.core import Recorder, track, track_stream, tracked
from withscope.core.track import SKIP_FILES


def here(offset: int = 1) -> str:
    """The caller's file:line, `offset` lines below the calling line."""
    f = sys._getframe(1)
    path = f.f_code.co_filename
    cwd = os.getcwd()
    if path.startswith(cwd + os.sep):
        path = path[len(cwd) + 1 :]
    return f"{path}:{f.f_lineno + offset}"


@tracked
@contextlib.contextmanager
def factory() -> Iterator[None]:
    yield


def test_sites_of_every_way_to_track_point_at_the_calling_line(rec: Recorder) -> None:
    sites: dict[str, str] = {}
    sites["with"] = here()
    with track(Scripted([], "a"), label="with"):
        pass
    sites["resource"] = here()
    res = track(Resource(), label="resource")
    res.close()
    sites["factory"] = here()
    with factory():
        pass
    sites["stream"] = here()
    list(track_stream([b"x"], label="stream"))
    assert {lt.label: lt.site for lt in rec.lifetimes()} == sites


def test_async_with_site_points_at_the_calling_line(rec: Recorder) -> None:
    lines: dict[str, str] = {}

    async def main() -> None:
        lines["a"] = here()
        async with track(AScripted([], "a"), label="a"):
            pass

    asyncio.run(main())
    assert rec.lifetimes()[0].site == lines["a"]


def test_a_generator_manager_wrapped_twice_still_points_at_the_user(rec: Recorder) -> None:
    # GIVEN a user's generator manager that tracks something inside it (run by contextlib)
    lines: dict[str, str] = {}

    @contextlib.contextmanager
    def outer() -> Iterator[None]:
        lines["inner"] = here()
        with track(Scripted([], "inner"), label="inner"):
            yield

    with outer():
        pass
    # THEN the site is the user's line inside the generator, not contextlib's
    assert rec.lifetimes()[0].site == lines["inner"]


def test_a_helper_library_added_to_skip_files_is_skipped(rec: Recorder) -> None:
    # WITHOUT skipping, the site is inside the helper
    site_helper.tracked_by_helper(Resource()).close()
    # WITH the helper's file added to SKIP_FILES (as a library does: `SKIP_FILES.add(__file__)`),
    # the site is the user's line
    SKIP_FILES.add(site_helper.__file__)
    try:
        line = here()
        site_helper.tracked_by_helper(Resource()).close()
    finally:
        SKIP_FILES.discard(site_helper.__file__)
    first, second = rec.lifetimes()
    assert first.site is not None
    assert "site_helper.py" in first.site
    assert second.site == line


def recurse(n: int, fn: Any) -> Any:
    return fn() if n == 0 else recurse(n - 1, fn)


@pytest.mark.parametrize("depth", [1, 3, 8])
def test_stack_depth_gives_that_many_frames_innermost_first(depth: int) -> None:
    with Recorder(stack_depth=depth) as rec:
        line = here()
        recurse(10, lambda: track(Resource(), label="deep").close())
    (lt,) = rec.lifetimes()
    if depth == 1:
        assert lt.stack == ()  # one frame: the site only
    else:
        assert len(lt.stack) == depth
        assert lt.stack[0].split(" in ")[0] == lt.site
        assert "<lambda>" in lt.stack[0]
        assert all(" in recurse" in s for s in lt.stack[1:])
    assert lt.site is not None
    assert lt.site.startswith(line.rsplit(":", 1)[0])
