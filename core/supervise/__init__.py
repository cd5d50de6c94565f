"""withscope.core.supervise: running a target in its own process and observing it from here.

Public API::

    from withscope.core.supervise import ChildRun, child_target

    run = ChildRun(child_target("tool.py", ["--verbose"]), RunOptions(timeout_s=30))

The observed process carries only `withscope.core.agent` (standard library); this side samples
its process tree, folds its batches into a recorder, applies the rules and records.
"""

from .child_run import ChildRun
from .feed import ChildRecorder
from .spawn import default_python
from .target import ChildTarget, child_target

__all__ = ["ChildRecorder", "ChildRun", "ChildTarget", "child_target", "default_python"]
