"""Starting the observed process: the interpreter, the agent's import path, the pipe, the group.

`spawn_agent()` starts `python -c BOOTSTRAP SHIM` in a new session (so a new process group whose
id is its pid) with the write end of a pipe inherited and the run's spec in the environment
(`core.agent.SPEC_ENV`; the agent removes it). `SHIM` is a temporary folder holding
`withscope/__init__.py` and a symlink `withscope/core -> core/`, put first on the child's `sys.path`
by the bootstrap: the user's own interpreter imports the agent (and `withscope.core.track` for the
program's `track()` calls) from this very tree, whether or not withscope is installed there. The
environment the program sees is the parent's, unchanged (`PYTHONPATH` included).

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
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..agent import SPEC_ENV  # noqa: TID252 (mypy sees this tree as `core`)

CORE_DIR = Path(__file__).resolve().parent.parent
BOOTSTRAP = "import sys; sys.path.insert(0, sys.argv[1]); from withscope.core.agent import main; main()"


def default_python() -> str:
    """The interpreter a run uses by default: the active virtual environment's, else this one."""
    venv = os.environ.get("VIRTUAL_ENV")
    if venv:
        for name in ("bin/python", "bin/python3", "Scripts/python.exe"):
            candidate = Path(venv) / name
            if candidate.is_file() and os.access(candidate, os.X_OK):
                return str(candidate)
    return sys.executable


def make_shim() -> Path:
    """A new temporary folder that maps `withscope.core` to this tree (see the module docstring)."""
    root = Path(tempfile.mkdtemp(prefix="withscope-agent-"))
    pkg = root / "withscope"
    pkg.mkdir()
    (pkg / "__init__.py").write_text('"""withscope as an observed process sees it: withscope.core only."""\n')
    os.symlink(CORE_DIR, pkg / "core", target_is_directory=True)
    return root


def remove_shim(root: Path) -> None:
    """Remove a folder made by `make_shim` (the symlink itself, never what it points to)."""
    link = root / "withscope" / "core"
    if link.is_symlink():
        link.unlink()
    shutil.rmtree(root, ignore_errors=True)


@dataclass(slots=True)
class Spawned:
    """A started observed process: its Popen, the read end of its pipe, its shim folder."""

    proc: subprocess.Popen[bytes]
    read_fd: int
    shim: Path

    @property
    def pid(self) -> int:
        return self.proc.pid


def spawn_agent(python: str, spec: dict[str, Any], *, cwd: str | None = None) -> Spawned:
    """Start the agent under `python` for `spec` (the pipe fd is added). Raises OSError when the
    interpreter cannot be started; nothing is left behind then."""
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
        )
    except BaseException:
        os.close(read_fd)
        remove_shim(shim)
        raise
    finally:
        os.close(write_fd)
    return Spawned(proc, read_fd, shim)


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
