"""Starting the observed process: the interpreter, the agent's import path, the pipe, the group.

`spawn_agent()` starts `python -c BOOTSTRAP SHIM` in a new session (so a new process group whose
id is its pid) with the write end of a pipe inherited and the run's spec in the environment
(`core.agent.SPEC_ENV`; the agent removes it). `SHIM` is a temporary folder holding
`withscope/__init__.py`, which loads `withscope.core` from `core/` itself, put first on the child's
`sys.path` by the bootstrap: the user's own interpreter imports the agent (and `withscope.core.track` for the
program's `track()` calls) from this very tree, whether or not withscope is installed there. The
environment the program sees is the parent's, unchanged (`PYTHONPATH` included).

`spawn_ahead()` starts the process before its `ChildRun` exists (`withscope run` does, so the
child's interpreter starts while this one imports the runner, the rules and the sampler); the
run adopts it (`ChildRun(..., ahead=)`), or `Ahead.abandon()` stops and removes it.

`stop_group()` escalates SIGINT -> SIGTERM -> SIGKILL to the group. It is only sent while the
group's leader is not reaped (`wait_exit` waits with WNOWAIT), so its id cannot name another
process group meanwhile.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..agent import SPEC_ENV  # noqa: TID252 (mypy sees this tree as `core`)

CORE_DIR = Path(__file__).resolve().parent.parent
BOOTSTRAP = "import sys; sys.path.insert(0, sys.argv[1]); from withscope.core.agent import main; main()"
AGENT_INTERVAL_S = 0.05  # how often the agent sends its batches


def run_spec(
    target_spec: dict[str, Any], *, repeat: int, tmpdir: Path, dsn: str | None, application_name: str, scale: float,
    lossless: bool,
) -> dict[str, Any]:  # fmt: skip
    """The spec of one run as the agent reads it (the pipe fd and the shim are added by `spawn_agent`)."""
    return {
        **target_spec,
        "repeat": repeat,
        "tmpdir": str(tmpdir),
        "dsn": dsn,
        "application_name": application_name,
        "scale": scale,
        "interval_s": AGENT_INTERVAL_S,
        # A recording attached to the run (it made the recorder lossless): nothing may be lost.
        "lossless": lossless,
    }


def default_python() -> str:
    """The interpreter a run uses by default: the active virtual environment's, else this one."""
    venv = os.environ.get("VIRTUAL_ENV")
    if venv:
        for name in ("bin/python", "bin/python3", "Scripts/python.exe"):
            candidate = Path(venv) / name
            if candidate.is_file() and os.access(candidate, os.X_OK):
                return str(candidate)
    return sys.executable


# `withscope.core` is loaded from this tree's own path, so the observed process's code objects,
# sites and tracebacks name core's files where they stay (a catalogue entry's source is there to
# show after the run), never the temporary folder.
SHIM_INIT = """\
\"\"\"withscope as an observed process sees it: withscope.core only, loaded from where it is.\"\"\"
import importlib.util as _util
import sys as _sys

_spec = _util.spec_from_file_location("withscope.core", {init!r}, submodule_search_locations=[{core!r}])
core = _util.module_from_spec(_spec)
_sys.modules["withscope.core"] = core
try:
    _spec.loader.exec_module(core)
except BaseException:
    del _sys.modules["withscope.core"]
    raise
"""


def make_shim() -> Path:
    """A new temporary folder that maps `withscope.core` to this tree (see the module docstring)."""
    root = Path(tempfile.mkdtemp(prefix="withscope-agent-"))
    pkg = root / "withscope"
    pkg.mkdir()
    (pkg / "__init__.py").write_text(SHIM_INIT.format(init=str(CORE_DIR / "__init__.py"), core=str(CORE_DIR)))
    return root


def remove_shim(root: Path) -> None:
    """Remove a folder made by `make_shim` (the symlink itself, never what it points to)."""
    link = root / "withscope" / "core"
    if link.is_symlink():
        link.unlink()
    shutil.rmtree(root, ignore_errors=True)


@dataclass(slots=True)
class Spawned:
    """A started observed process: its Popen, the read end of its pipe, its shim folder. With
    `capture_output`, `proc.stdout`/`proc.stderr` are the read ends of the program's output."""

    proc: subprocess.Popen[bytes]
    read_fd: int
    shim: Path

    @property
    def pid(self) -> int:
        return self.proc.pid


def spawn_agent(
    python: str, spec: dict[str, Any], *, cwd: str | None = None, capture_output: bool = False,
) -> Spawned:  # fmt: skip
    """Start the agent under `python` for `spec` (the pipe fd is added). Raises OSError when the
    interpreter cannot be started; nothing is left behind then.

    By default the program shares this process's stdin, stdout and stderr (the CLI passes them
    through). `capture_output=True` (the app): its stdout and stderr are pipes read by the parent
    (`proc.stdout`, `proc.stderr`) and its stdin is /dev/null."""
    shim = make_shim()
    read_fd, write_fd = os.pipe()
    try:
        env = dict(os.environ)
        env[SPEC_ENV] = json.dumps({**spec, "fd": write_fd, "shim": str(shim)})
        proc = subprocess.Popen(
            [python, "-c", BOOTSTRAP, str(shim)],
            pass_fds=(write_fd,),
            start_new_session=True,
            env=env,
            cwd=cwd,
            stdin=subprocess.DEVNULL if capture_output else None,
            stdout=subprocess.PIPE if capture_output else None,
            stderr=subprocess.PIPE if capture_output else None,
        )
    except BaseException:
        os.close(read_fd)
        remove_shim(shim)
        raise
    finally:
        os.close(write_fd)
    return Spawned(proc, read_fd, shim)


@dataclass(slots=True)
class Ahead:
    """An observed process started by `spawn_ahead` before its run exists. `t0_ns`/`wall_t0`
    (taken before the start) become the run's time zero; `spec` is what the agent was given, which
    the adopting `ChildRun` checks against its own (its agent is not lossless: `withscope run`
    starts ahead only without `--record`). Not thread-safe; adopted or abandoned once."""

    spawned: Spawned
    tmpdir: Path
    run_id: str
    python: str
    cwd: str | None
    spec: dict[str, Any]
    t0_ns: int
    wall_t0: float

    def abandon(self) -> None:
        """For a run that will never start: SIGKILL to the process group, reap the process,
        remove its temp folder and shim (a process already reaped is left alone)."""
        proc = self.spawned.proc
        if proc.poll() is None:  # not reaped: the group id is still this process's
            signal_group(proc.pid, signal.SIGKILL)
            proc.wait()
        os.close(self.spawned.read_fd)
        shutil.rmtree(self.tmpdir, ignore_errors=True)
        remove_shim(self.spawned.shim)


def spawn_ahead(
    target_spec: dict[str, Any], *, python: str, repeat: int, scale: float, dsn: str | None, cwd: str | None = None,
) -> Ahead:  # fmt: skip
    """Start the agent for a run with a fresh id (the `ChildRun` that adopts it takes that id, so
    the database application name and the temp folder are the run's). Raises OSError when the
    interpreter cannot be started; nothing is left behind then."""
    run_id = os.urandom(4).hex()  # as `Run` makes its ids (secrets.token_hex), without importing secrets
    t0_ns, wall_t0 = time.perf_counter_ns(), time.time()
    tmpdir = Path(tempfile.mkdtemp(prefix=f"withscope-{run_id}-"))
    spec = run_spec(target_spec, repeat=repeat, tmpdir=tmpdir, dsn=dsn, application_name=f"withscope-{run_id}",
                    scale=scale, lossless=False)  # fmt: skip
    try:
        spawned = spawn_agent(python, spec, cwd=cwd)
    except BaseException:
        shutil.rmtree(tmpdir, ignore_errors=True)
        raise
    return Ahead(spawned, tmpdir, run_id, python, cwd, spec, t0_ns, wall_t0)


def wait_exit(pid: int) -> None:
    """Block until `pid` has exited, without reaping it (WNOWAIT): its id stays reserved."""
    while True:
        try:
            os.waitid(os.P_PID, pid, os.WEXITED | os.WNOWAIT)
            return
        except ChildProcessError:
            return
        except InterruptedError:  # pragma: no cover - PEP 475 retries
            continue


def signal_group(pgid: int, sig: signal.Signals) -> bool:
    """Send `sig` to the process group; False when it has no member left."""
    try:
        os.killpg(pgid, sig)
    except ProcessLookupError:
        return False
    except PermissionError:
        return False
    return True


def group_members(pgid: int, exclude: int | None = None) -> list[int]:
    """Pids of the live processes of group `pgid` (zombies excluded)."""
    import psutil

    out = []
    for p in psutil.process_iter(["pid", "status"]):
        pid = p.info["pid"]
        if pid == exclude or p.info["status"] == psutil.STATUS_ZOMBIE:
            continue
        try:
            if os.getpgid(pid) == pgid:
                out.append(pid)
        except (ProcessLookupError, PermissionError):
            continue
    return out
