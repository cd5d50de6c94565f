"""Where acquisitions are seen: wrapped module-level functions, one audit hook, post-import patches.

No proxy is ever put around a resource: the program gets the very object the standard library
made (`type(open(p)) is io.TextIOWrapper`), and only the functions that make them are wrapped:

| kind            | seen by                                                  | released when (polled)        |
|-----------------|----------------------------------------------------------|-------------------------------|
| file            | `builtins.open` / `io.open` (so `pathlib`, `os.fdopen`)   | `closed`                      |
| socket          | audit event `socket.__new__` (any library's socket)       | `fileno() == -1`              |
| db.connection   | audit event `sqlite3.connect/handle`                     | the connection refuses use    |
| process         | `subprocess.Popen.__init__`                              | `returncode` set (reaped)     |
| tempfile        | `tempfile.mkstemp` / `NamedTemporaryFile`                 | path removed / closed         |
| tempdir         | `tempfile.mkdtemp` / `TemporaryDirectory`                | path removed                  |
| thread          | `threading.Thread.start` (not an executor's workers)     | `is_alive()` false            |
| executor        | `concurrent.futures.ThreadPoolExecutor.__init__`         | `shutdown()` called           |

An acquisition made while another is being made on the same thread (the pipes of a `Popen`,
the file of a `NamedTemporaryFile`, the `mkdtemp` of a `TemporaryDirectory`) is part of that
one, not a lifetime of its own. `subprocess`, `tempfile` and `concurrent.futures` are patched
when the program imports them (a `sys.meta_path` finder that wraps the module's `exec_module`),
so a program that never uses them imports nothing more. The audit hook (it cannot be removed)
is one dict lookup by event name for every other audited event.

A wrapped function adds its own frame to the traceback of an exception it lets through (an
`open()` of a missing file): withscope's report of an uncaught exception leaves those frames out.
"""

from __future__ import annotations

import builtins
import io
import sys
import threading
from collections.abc import Callable
from types import FrameType, ModuleType
from typing import Any

from .registry import Registry
from .sites import user_frame_of

_getframe = sys._getframe


class _State(threading.local):
    busy = 0  # > 0 while a wrapped acquisition runs on this thread (a class default: no exception to read it)


_tls = _State()


def _busy() -> int:
    return _tls.busy


def _file_closed(f: Any) -> bool:
    return bool(f.closed)


def _socket_closed(s: Any) -> bool:
    return bool(s.fileno() == -1)


def _sqlite_closed(c: Any) -> bool:
    try:
        c.in_transaction  # noqa: B018 - raises ProgrammingError once the connection is closed
    except Exception:
        return True
    return False


def _process_done(p: Any) -> bool:
    return p.returncode is not None


def _thread_done(t: Any) -> bool:
    return not t.is_alive()


def _executor_done(e: Any) -> bool:
    return bool(getattr(e, "_shutdown", False) or getattr(e, "_shutdown_thread", False))


def _address(addr: Any) -> str | None:
    if isinstance(addr, tuple) and len(addr) >= 2:
        host = addr[0]
        return f"[{host}]:{addr[1]}" if ":" in str(host) else f"{host}:{addr[1]}"
    if isinstance(addr, bytes):
        addr = addr.decode(errors="replace")
    return f"unix:{addr}" if isinstance(addr, str) and addr else None


def _socket_label(s: Any) -> str:
    """The peer, else the local address, else "socket fd N" (read when the acquisition is recorded)."""
    for get, prefix in ((s.getpeername, ""), (s.getsockname, "local ")):
        try:
            addr = _address(get())
        except OSError:
            continue
        if addr and not addr.endswith(("0.0.0.0:0", "[::]:0")):
            return prefix + addr
    return f"socket fd {s.fileno()}"


def _file_label(args: tuple[Any, ...], kwargs: dict[str, Any]) -> str:
    target = args[0] if args else kwargs.get("file")
    if type(target) is str:
        return target
    if isinstance(target, int):
        return f"fd {target}"
    try:
        import os

        return os.fsdecode(target)  # type: ignore[arg-type]
    except TypeError:
        return type(target).__name__


class Hooks:
    """Installs the acquisition hooks for one `Registry` (once per process)."""

    def __init__(self, registry: Registry) -> None:
        self.reg = registry
        self._sqlite_db: dict[int, str] = {}  # thread id -> database of the connect under way
        self._audit: dict[str, Callable[[tuple[Any, ...]], None]] = {
            "socket.__new__": self._on_socket,
            "socket.connect": self._on_connect,
            "sqlite3.connect": self._on_sqlite_connect,
            "sqlite3.connect/handle": self._on_sqlite_handle,
        }
        self.patched: list[str] = []

    # ----------------------------------------------------------------------- helpers
    def _capture(self, obj: Any, kind: str, label: str, check: Callable[[Any], bool], caller: FrameType | None,
                 labeler: Callable[[Any], str] | None = None) -> None:  # fmt: skip
        if caller is None:
            return
        site = user_frame_of(caller)
        if site is None:
            return  # withscope's own work
        try:
            self.reg.capture(obj, kind, label, check, site, caller, labeler)
        except Exception:
            self.reg.errors += 1

    # ------------------------------------------------------------------------ install
    def install(self) -> None:
        self._wrap_open()
        self._wrap_thread()
        sys.addaudithook(self._hook)
        later = {
            "subprocess": self._patch_subprocess,
            "tempfile": self._patch_tempfile,
            "concurrent.futures.thread": self._patch_executor,
        }
        for name in list(later):
            mod = sys.modules.get(name)
            if mod is not None:
                later.pop(name)(mod)
        if later:
            sys.meta_path.insert(0, _PostImport(later))  # type: ignore[arg-type]

    def _hook(self, event: str, args: tuple[Any, ...]) -> None:
        handler = self._audit.get(event)
        if handler is not None:
            try:
                handler(args)
            except Exception:  # an audit hook's exception would reach the program
                self.reg.errors += 1

    # -------------------------------------------------------------------------- files
    def _wrap_open(self) -> None:
        real_open = io.open
        capture = self._capture

        def open(*args: Any, **kwargs: Any) -> Any:
            f = real_open(*args, **kwargs)
            if not _tls.busy:
                capture(f, "file", _file_label(args, kwargs), _file_closed, _getframe(1))
            return f

        open.__doc__ = real_open.__doc__
        open.__wrapped__ = real_open  # type: ignore[attr-defined]
        open.__qualname__ = "open"
        open.__module__ = real_open.__module__
        builtins.open = io.open = open
        self.patched.append("open")

    # ------------------------------------------------------------------------ threads
    def _wrap_thread(self) -> None:
        real_start = threading.Thread.start
        capture = self._capture

        def start(thread: threading.Thread) -> None:
            real_start(thread)
            caller = _getframe(1)
            if _tls.busy or "concurrent" + "/futures/" in caller.f_code.co_filename:
                return  # an executor's worker: the executor is the lifetime
            capture(thread, "thread", thread.name, _thread_done, caller)

        start.__doc__ = real_start.__doc__
        start.__wrapped__ = real_start  # type: ignore[attr-defined]
        start.__qualname__ = real_start.__qualname__
        threading.Thread.start = start  # type: ignore[method-assign,assignment]
        self.patched.append("threading.Thread.start")

    # ---------------------------------------------------------------- sockets, sqlite3
    def _on_socket(self, args: tuple[Any, ...]) -> None:
        if _busy():
            return
        # No fd yet (the event comes first): the label is read when the acquisition is recorded.
        self._capture(args[0], "socket", "socket", _socket_closed, _getframe(2), _socket_label)

    def _on_connect(self, args: tuple[Any, ...]) -> None:
        seen = self.reg.find(args[0])
        if seen is not None and seen.lid < 0:
            addr = _address(args[1])
            if addr:
                seen.label = addr

    def _on_sqlite_connect(self, args: tuple[Any, ...]) -> None:
        db = args[0] if args else ""
        try:
            import os

            text = os.fsdecode(db)
        except TypeError:
            text = str(db)
        self._sqlite_db[threading.get_ident()] = text or ":memory:"

    def _on_sqlite_handle(self, args: tuple[Any, ...]) -> None:
        db = self._sqlite_db.pop(threading.get_ident(), "")
        if _busy():
            return
        self._capture(args[0], "db.connection", f"sqlite:{db}", _sqlite_closed, _getframe(2))

    # ------------------------------------------------------------- imported later on
    def _guarded(self, real: Callable[..., Any], after: Callable[[Any, tuple[Any, ...], FrameType], None],
                 name: str) -> Callable[..., Any]:  # fmt: skip
        """`real` wrapped: acquisitions made inside it are its own; `after(result, args, caller)`
        captures what it made."""

        def wrapper(*args: Any, **kwargs: Any) -> Any:
            outer = not _tls.busy
            _tls.busy = _tls.busy + 1
            try:
                result = real(*args, **kwargs)
            finally:
                _tls.busy -= 1
            if outer:
                try:
                    after(result, args, _getframe(1))
                except Exception:
                    self.reg.errors += 1
            return result

        wrapper.__doc__ = real.__doc__
        wrapper.__wrapped__ = real  # type: ignore[attr-defined]
        wrapper.__name__ = real.__name__
        wrapper.__qualname__ = getattr(real, "__qualname__", name)
        wrapper.__module__ = real.__module__
        self.patched.append(name)
        return wrapper

    def _patch_subprocess(self, mod: ModuleType) -> None:
        def after(_: Any, args: tuple[Any, ...], caller: FrameType) -> None:
            p = args[0]
            cmd = p.args
            label = " ".join(map(str, cmd)) if isinstance(cmd, (list, tuple)) else str(cmd)
            self._capture(p, "process", label, _process_done, caller)

        mod.Popen.__init__ = self._guarded(mod.Popen.__init__, after, "subprocess.Popen.__init__")

    def _patch_tempfile(self, mod: ModuleType) -> None:
        def made_path(kind: str) -> Callable[[Any, tuple[Any, ...], FrameType], None]:
            def after(result: Any, _: tuple[Any, ...], caller: FrameType) -> None:
                path = result[1] if kind == "tempfile" else result
                site = user_frame_of(caller)
                if site is not None and isinstance(path, str):
                    self.reg.capture_path(path, kind, site, caller)

            return after

        def named(result: Any, _: tuple[Any, ...], caller: FrameType) -> None:
            self._capture(result, "tempfile", str(getattr(result, "name", "tempfile")), _file_closed, caller)

        def tempdir(_: Any, args: tuple[Any, ...], caller: FrameType) -> None:
            d = args[0]
            self._capture(d, "tempdir", str(d.name), lambda o: _path_missing(o.name), caller)

        for name, after in (("mkstemp", made_path("tempfile")), ("mkdtemp", made_path("tempdir")),
                            ("NamedTemporaryFile", named)):  # fmt: skip
            setattr(mod, name, self._guarded(getattr(mod, name), after, f"tempfile.{name}"))
        cls = mod.TemporaryDirectory
        cls.__init__ = self._guarded(cls.__init__, tempdir, "tempfile.TemporaryDirectory.__init__")

    def _patch_executor(self, mod: ModuleType) -> None:
        def after(_: Any, args: tuple[Any, ...], caller: FrameType) -> None:
            e = args[0]
            label = f"{type(e).__name__}(max_workers={getattr(e, '_max_workers', '?')})"
            self._capture(e, "executor", label, _executor_done, caller)

        cls = mod.ThreadPoolExecutor
        cls.__init__ = self._guarded(cls.__init__, after, "concurrent.futures.ThreadPoolExecutor.__init__")


def _path_missing(path: str) -> bool:
    import os

    return not os.path.lexists(path)


class _PostImport:
    """A `sys.meta_path` finder that patches a module right after it is executed, for the names
    it was given (each once); it finds nothing itself: the regular finders do."""

    def __init__(self, patches: dict[str, Callable[[ModuleType], None]]) -> None:
        self.patches = patches
        self._finding = threading.local()

    def find_spec(self, name: str, path: Any = None, target: Any = None) -> Any:
        patch = self.patches.get(name)
        if patch is None or getattr(self._finding, "on", False):
            return None
        self._finding.on = True
        try:
            import importlib.util

            spec = importlib.util.find_spec(name)
        except Exception:
            return None
        finally:
            self._finding.on = False
        loader = getattr(spec, "loader", None)
        if spec is None or loader is None or not hasattr(loader, "exec_module"):
            return None
        real_exec = loader.exec_module

        def exec_module(module: ModuleType) -> None:
            real_exec(module)
            if self.patches.pop(name, None) is not None:
                patch(module)

        loader.exec_module = exec_module
        return spec
