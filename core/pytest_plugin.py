"""pytest plugin (registered through the `pytest11` entry point, so it is active once withscope
is installed).

- Fixture `withscope_recorder`: a fresh `Recorder`, active for the whole test (setup, call,
  teardown of later fixtures); everything `track()`ed in the test lands in it.
- Leak check, opt-in: `pytest --withscope-leaks` for every test, or `@pytest.mark.withscope` on a
  test (or `pytestmark = pytest.mark.withscope` on a module). A checked test that passes but
  leaves a resource it tracked during the test body unreleased, or released only by the
  garbage collector, fails with the alert messages and hints. Resources acquired by fixtures
  before the test body (outside `withscope_recorder`) are not judged.

Observing never changes the verdict of the test itself: a test that fails on its own reports
its own failure, and the leak check runs only after a passing body.
"""

from __future__ import annotations

import gc
from collections.abc import Generator, Iterator
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from .recorder import Recorder

# The recorder and the rules are imported when a test first needs them: the plugin is loaded in
# every pytest session of an environment where withscope is installed, and must cost nothing
# there (and must not import withscope's modules before a coverage tool starts measuring them).

MARKER = "withscope"
LEAK_RULES = frozenset({"unreleased", "gc-release"})


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("withscope", "withscope resource-leak checks")
    group.addoption(
        "--withscope-leaks",
        action="store_true",
        default=False,
        help="fail tests that leave resources tracked with withscope unreleased or released only by the GC",
    )


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        f"{MARKER}: fail the test if it leaves resources tracked with withscope unreleased or GC-released",
    )


@pytest.fixture
def withscope_recorder() -> Iterator[Recorder]:
    """A fresh Recorder, active during the test."""
    from .recorder import Recorder

    with Recorder(name="pytest") as rec:
        yield rec


def _checked(item: pytest.Item) -> bool:
    if item.config.getoption("--withscope-leaks", default=False):
        return True
    return item.get_closest_marker(MARKER) is not None


def leak_report(rec: Recorder) -> str | None:
    """The failure text for what `rec` saw leak, or None when everything was released properly."""
    from .rules import AlertEngine, RuleContext
    from .rules.engine import RULES

    gc.collect()
    engine = AlertEngine(rules=[r for r in RULES if r.name in LEAK_RULES])
    alerts = engine.update(RuleContext(lifetimes=rec.lifetimes(), t0_ns=rec.t0_ns), final=True)
    if not alerts:
        return None
    lines = [f"withscope: the test leaked {len(alerts)} tracked resource(s):"]
    for a in alerts:
        lines.append(f"  [{a.rule}] {a.message}")
        lines.append(f"      hint: {a.hint}")
    return "\n".join(lines)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item: pytest.Item) -> Generator[None, object, object]:
    if not _checked(item):
        return (yield)
    from .recorder import Recorder

    funcargs = getattr(item, "funcargs", {})
    rec = funcargs.get("withscope_recorder")
    own = not isinstance(rec, Recorder)
    if own:
        rec = Recorder(name=item.nodeid)
        rec.__enter__()
    assert isinstance(rec, Recorder)
    try:
        result = yield
    finally:
        if own:
            rec.__exit__(None, None, None)
    message = leak_report(rec)
    if message is not None:
        pytest.fail(message, pytrace=False)
    return result
