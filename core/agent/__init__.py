"""withscope.core.agent: what runs inside the observed process (standard library only).

The parent (`withscope.core.supervise`) starts the user's interpreter with a one-line bootstrap
that puts a folder mapping `withscope.core` first on `sys.path` and calls `main()`; the spec of the
run (target, arguments, pipe fd, repeats, ...) comes in the environment variable `SPEC_ENV`,
removed before the target runs, so neither the program nor its own subprocesses see it.

`main()`:
1. activates a fresh `Recorder` for the whole process - lossless when the parent records the run
   (spec "lossless"), else one that drops and counts what a full buffer refuses - and starts a
   `BatchStreamer` writing its batches to the inherited pipe (a daemon thread, every 50 ms, with
   back-pressure; see `stream.py`);
2. for a user's target (script, module, function; not a catalogue entry, and not when the spec
   says `"auto": false`, `withscope run --no-auto`), installs the automatic instrumentation
   (`instrument`): what the program acquires through the standard library becomes lifetimes,
   polled before every drain and judged once more when the workload ends;
3. sends `("hello", pid, python, hot_path)`, then runs the target on the main thread exactly as
   Python would (`launch.py`), with stdin/stdout/stderr untouched;
4. sends `("end", kind, detail, threads)` and exits with the target's exit code. Non-daemon threads
   still running keep the process alive, as they would without withscope; `atexit` makes the last
   flush once they are over.

SIGTERM and SIGHUP (when the program has not set its own handler): the pending events are flushed
and the signal is raised again with its default action, so the process still ends by that signal.
SIGINT keeps Python's default (KeyboardInterrupt in the main thread). Nothing here imports numpy,
psutil or Qt (a test imports this package with them made unimportable).
"""

from __future__ import annotations

import atexit
import json
import os
import platform
import signal
import sys
import threading
from types import FrameType
from typing import Any

SPEC_ENV = "WITHSCOPE_AGENT_SPEC"
# Targets whose resources are recorded without edits (`instrument`); catalogue entries track themselves.
AUTO_KINDS = ("script", "module", "function")

__all__ = ["SPEC_ENV", "main"]


def _install_signal_flush(streamer: Any) -> None:
    def on_signal(signum: int, frame: FrameType | None) -> None:
        try:
            streamer.recorder.mark(f"signal {signal.Signals(signum).name}")
            streamer.close()
        finally:
            signal.signal(signum, signal.SIG_DFL)
            os.kill(os.getpid(), signum)

    for sig in (signal.SIGTERM, signal.SIGHUP):
        if signal.getsignal(sig) == signal.SIG_DFL:
            signal.signal(sig, on_signal)


def main() -> None:
    """The agent's entry point (see the module docstring). Never returns: exits like the target."""
    raw = os.environ.pop(SPEC_ENV, None)
    if raw is None:
        print(f"withscope agent: no run spec in ${SPEC_ENV}; it is started by `withscope run`", file=sys.stderr)
        raise SystemExit(2)
    spec: dict[str, Any] = json.loads(raw)
    fd = int(spec["fd"])
    os.set_inheritable(fd, False)  # the program's own subprocesses never hold the pipe

    from .._accel import HOT_PATH  # noqa: TID252 (mypy sees this tree as `core`)
    from ..recorder import Recorder  # noqa: TID252
    from .launch import run
    from .stream import BatchStreamer

    rec = Recorder(name="withscope agent")
    # The parent records the run: nothing may be lost, a full buffer slows the program instead.
    rec.lossless = bool(spec.get("lossless", False))
    streamer = BatchStreamer(rec, fd, float(spec.get("interval_s", 0.05)))
    os.register_at_fork(
        before=streamer.before_fork, after_in_parent=streamer.after_fork_in_parent, after_in_child=streamer.forked
    )
    streamer.send(("hello", os.getpid(), platform.python_version(), HOT_PATH))
    rec.__enter__()
    streamer.start()
    _install_signal_flush(streamer)
    atexit.register(streamer.close)
    at_end = None
    if spec.get("auto", True) and spec.get("kind") in AUTO_KINDS:
        from .instrument import install

        registry = install(rec)
        streamer.before_drain = registry.poll
        at_end = lambda: registry.poll(final=True)  # noqa: E731
    kind, detail = run(spec, rec, streamer.flush, at_end)
    main_thread = threading.main_thread()
    threads = [t.name for t in threading.enumerate() if not t.daemon and t is not main_thread]
    streamer.flush()
    streamer.send(("end", kind, detail, threads))
    if kind == "exit":
        raise SystemExit(detail)
    raise SystemExit({"ok": 0, "error": 1}.get(kind, 2))
