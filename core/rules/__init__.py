"""withscope.core.rules: leak rules, pure functions of a `RuleContext`, and the `AlertEngine`.

Public API::

    from withscope.core.rules import AlertEngine, RuleContext, RuleConfig, RULE_NAMES

    engine = AlertEngine(RuleConfig(late_release_s=2.0))
    new = engine.update(RuleContext(lifetimes=..., streams=..., now_ns=...), final=False)  # live
    new = engine.update(RuleContext(..., existing_paths=..., db=...), final=True)         # end of run

Rule names: unreleased, gc-release, late-release, throughput-decay, suppressed-exception,
exit-raised, fd-growth, connection-growth, thread-growth, memory-growth, temp-file-left,
db-backend-leak. One module per family: lifecycle, exceptions, throughput, os_growth,
tempfiles, postgres (which also holds the pg_stat_activity probe the runner uses).
"""

from .base import (
    DbBackend,
    DbFacts,
    RuleConfig,
    RuleContext,
    RuleSpec,
)
from .engine import RULE_NAMES, RULES, AlertEngine, alert_key, evaluate
from .postgres import open_server_connections

__all__ = [
    "RULES",
    "RULE_NAMES",
    "AlertEngine",
    "DbBackend",
    "DbFacts",
    "RuleConfig",
    "RuleContext",
    "RuleSpec",
    "alert_key",
    "evaluate",
    "open_server_connections",
]
