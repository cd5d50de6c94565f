"""The pytest plugin, exercised in inner pytest sessions (pytester)."""

from __future__ import annotations

import pytest

pytest_plugins = ["pytester"]

TESTS = '''
import os
import pytest
from withscope.core import Recorder, track

KEEP = []


class Handle:
    def close(self):
        pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def test_clean():
    with track(open(os.devnull)) as f:
        f.read()


def test_unreleased():
    KEEP.append(track(Handle(), kind="file", label="kept.txt"))


def test_gc_released():
    track(Handle(), kind="socket", label="dropped")


def test_fails_on_its_own():
    KEEP.append(track(Handle(), kind="file", label="kept-too.txt"))
    assert 1 == 2


def test_fixture_recorder(withscope_recorder):
    assert isinstance(withscope_recorder, Recorder)
    with track(Handle(), kind="file", label="seen.txt"):
        pass
    (lt,) = withscope_recorder.lifetimes()
    assert lt.label == "seen.txt"
'''


def test_without_the_option_nothing_is_checked(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_sample=TESTS)
    result = pytester.runpytest_inprocess("-p", "no:cacheprovider")
    result.assert_outcomes(passed=4, failed=1)


def test_the_option_fails_leaking_tests_with_the_alert_messages(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_sample=TESTS)
    result = pytester.runpytest_inprocess("--withscope-leaks", "-p", "no:cacheprovider")
    result.assert_outcomes(passed=2, failed=3)
    result.stdout.fnmatch_lines(
        [
            "*withscope: the test leaked 1 tracked resource(s):",
            "*[[]unreleased[]] file kept.txt opened at *test_sample.py:* was never closed*",
            "*hint: *",
        ]
    )
    result.stdout.fnmatch_lines(["*[[]gc-release[]] socket dropped opened at *test_sample.py:* garbage collector*"])
    # a test failing on its own keeps its own failure
    result.stdout.fnmatch_lines(["*assert 1 == 2*"])
    assert "file kept-too.txt opened" not in result.stdout.str()


def test_the_marker_checks_only_marked_tests(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        test_marked='''
import pytest
from withscope.core import track

class Handle:
    def close(self):
        pass

KEEP = []

@pytest.mark.withscope
def test_marked_leak():
    KEEP.append(track(Handle(), kind="db.connection", label="db"))

def test_unmarked_leak():
    KEEP.append(track(Handle(), kind="db.connection", label="db"))

@pytest.mark.withscope
def test_marked_clean(withscope_recorder):
    h = track(Handle(), kind="db.connection", label="db")
    h.close()
'''
    )
    result = pytester.runpytest_inprocess("--strict-markers", "-p", "no:cacheprovider")
    result.assert_outcomes(passed=2, failed=1)
    result.stdout.fnmatch_lines(
        ["*test_marked_leak*", "*db.connection db opened at *test_marked.py:* was never closed*"]
    )
