"""The catalogue's shape: every pattern in teaching order, each with a correct and a faulty variant
that say what they do, what to look for, and which rules they trigger."""

from __future__ import annotations

import inspect
import re

import pytest
from withscope.core.context import DatabaseConfig
from withscope.core.workloads import CATALOGUE, UnknownWorkload, Workload, get, patterns

RULES = frozenset(
    {
        "unreleased",
        "gc-release",
        "late-release",
        "throughput-decay",
        "suppressed-exception",
        "exit-raised",
        "fd-growth",
        "connection-growth",
        "thread-growth",
        "memory-growth",
        "temp-file-left",
        "db-backend-leak",
    }
)
# OS-level growth needs repeats: a single run (how the catalogue is proven) can never show it.
REPEAT_ONLY = frozenset({"fd-growth", "connection-growth", "thread-growth", "memory-growth"})
PATTERNS = [
    "class-cm",
    "async-pool",
    "transactions",
    "cleanup",
    "suppression",
    "streaming",
    "accumulation",
    "stream-metrics",
    "exit-stack",
    "sockets",
    "sqlite-trap",
]
ENTRIES = list(CATALOGUE.values())


def sentences(text: str) -> int:
    return len(re.findall(r"[.!?](?=\s|$)", text))


def test_every_pattern_in_teaching_order_correct_before_faulty() -> None:
    assert [p for p, _, _ in patterns()] == PATTERNS
    assert list(CATALOGUE) == [f"{p}/{v}" for p in PATTERNS for v in ("correct", "faulty")]
    for pid, title, variants in patterns():
        assert title
        assert "\n" not in title
        assert [w.variant for w in variants] == ["correct", "faulty"]
        assert all(w.pattern == pid and w.pattern_title == title for w in variants)


@pytest.mark.parametrize("w", ENTRIES, ids=lambda w: w.name)
def test_entry_describes_itself(w: Workload) -> None:
    assert w.name == f"{w.pattern}/{w.variant}"
    assert w.title.strip() == w.title
    assert w.title
    assert "\n" not in w.title
    assert len(w.title) <= 90
    assert 2 <= sentences(w.narration) <= 4, w.narration
    assert "  " not in w.narration
    assert w.narration.strip() == w.narration
    assert "Look" in w.narration  # says what to look for in the app


@pytest.mark.parametrize("w", ENTRIES, ids=lambda w: w.name)
def test_entry_declares_rules_a_single_run_can_trigger(w: Workload) -> None:
    assert w.expected_rules <= RULES - REPEAT_ONLY
    assert w.postgres_rules <= RULES - REPEAT_ONLY
    if w.variant == "correct":
        assert w.expected_rules == frozenset()
        assert w.postgres_rules == frozenset()
    else:
        assert len(w.expected_rules) >= 1
    if w.postgres_rules:
        assert w.uses_db
    sqlite, pg = DatabaseConfig(), DatabaseConfig(dsn="postgresql://u@h/db")
    assert w.expected_for(sqlite) == w.expected_rules
    assert w.expected_for(pg) == w.expected_rules | w.postgres_rules


@pytest.mark.parametrize("w", ENTRIES, ids=lambda w: w.name)
def test_entry_function_matches_its_blocking_flag(w: Workload) -> None:
    assert inspect.iscoroutinefunction(w.func) is not w.blocking
    assert list(inspect.signature(w.func).parameters) == ["ctx"]


def test_get_returns_the_entry() -> None:
    assert get("sockets/faulty") is CATALOGUE["sockets/faulty"]


def test_get_unknown_names_it_and_lists_what_exists() -> None:
    with pytest.raises(KeyError) as info:
        get("sockets/broken")
    assert isinstance(info.value, UnknownWorkload)
    message = str(info.value)
    assert "'sockets/broken'" in message
    assert all(name in message for name in CATALOGUE)
    assert "\n" not in message
