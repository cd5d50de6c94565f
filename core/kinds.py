"""Default kind and label of a tracked object, and how its `with` behaves.

Classification is by type and cached, so the hot path pays one dict lookup per `track()`.

A lifetime's kind, label and declared suppressions travel to the recorder as one `Spec` tuple
`(kind, label, suppresses, shared)`. A type whose label does not depend on the instance has one
*shared* spec (`TypeInfo.spec`), made once: the hot path passes that object along and the
recorder resolves its kind and label once per spec object, not once per lifetime. Any other
lifetime (an explicit kind or label, a path, a peer address) gets its own spec (`shared` False),
which the recorder never caches.
"""

from __future__ import annotations

import io
import os
import socket
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from .redact import redact_dsn as redact_dsn  # re-exported: the DSN redaction lives in redact.py

Labeler = Callable[[Any], str]
# (kind, label, exception types the manager declares it suppresses, shared by every instance)
Spec = tuple[str, str, tuple[type[BaseException], ...], bool]

# Types whose `with` block does NOT release the resource: sqlite3's `with conn:` only commits or
# rolls back, the connection stays open. Keyed by "module.QualName" so no driver must be imported.
NON_RELEASING_WITH: frozenset[str] = frozenset(
    {
        "sqlite3.Connection",
        "psycopg2.extensions.connection",
    }
)

@dataclass(frozen=True, slots=True)
class TypeInfo:
    kind: str
    labeler: Labeler
    resource: bool  # acquired when tracked (has close/aclose), not on enter
    releases_on_exit: bool
    sync_cm: bool
    async_cm: bool
    static_label: str | None = None  # the label when it depends on the type only (saves a call)
    spec: Spec | None = None  # the shared spec (kind, static_label), when the label is static


def _type_name(obj: Any) -> str:
    return type(obj).__qualname__


def _file_label(obj: Any) -> str:
    name = getattr(obj, "name", None)
    if isinstance(name, int):
        return f"fd {name}"
    return str(name) if name is not None else type(obj).__qualname__


def _address(addr: Any) -> str | None:
    if isinstance(addr, tuple) and len(addr) >= 2:
        host = addr[0]
        return f"[{host}]:{addr[1]}" if ":" in str(host) else f"{host}:{addr[1]}"
    if isinstance(addr, bytes):
        addr = addr.decode(errors="replace")
    return f"unix:{addr}" if addr else None  # "" for an unnamed AF_UNIX socket (socketpair)


def _socket_label(obj: Any) -> str:
    """The peer address ("127.0.0.1:5432", "[::1]:80", "unix:/run/x.sock"), else the local one
    ("local 0.0.0.0:8000"), else "socket fd N". Computed when tracked: track a connected socket."""
    try:
        peer = _address(obj.getpeername())
        if peer:
            return peer
    except OSError:
        pass
    try:
        local = _address(obj.getsockname())
        if local:
            return f"local {local}"
    except OSError:
        pass
    try:
        fd = obj.fileno()
    except OSError:
        fd = -1
    return f"socket fd {fd}" if fd >= 0 else "socket (closed)"


def _sqlite_label(obj: Any) -> str:
    try:
        for _seq, name, path in obj.execute("PRAGMA database_list"):
            if name == "main":
                return f"sqlite:{path or ':memory:'}"
    except Exception:
        pass
    return "sqlite connection"


def _dsn_label(obj: Any) -> str:
    for attr in ("dsn", "_dsn"):
        dsn = getattr(obj, attr, None)
        if isinstance(dsn, str):
            return redact_dsn(dsn)
    info = getattr(obj, "info", None)
    host = getattr(info, "host", None)
    if host:
        return f"postgresql://{host}:{getattr(info, 'port', '')}/{getattr(info, 'dbname', '')}"
    addr = getattr(obj, "_addr", None)
    if addr:
        return f"postgresql://{addr[0]}:{addr[1]}" if isinstance(addr, tuple) else str(addr)
    return type(obj).__qualname__


def _writer_label(obj: Any) -> str:
    try:
        peer = obj.get_extra_info("peername")
        if isinstance(peer, tuple):
            return f"{peer[0]}:{peer[1]}"
    except Exception:
        pass
    return "stream writer"


def _tempdir_label(obj: Any) -> str:
    return str(getattr(obj, "name", "tempdir"))


def _kind_and_labeler(tp: type) -> tuple[str, Labeler]:
    mod = tp.__module__ or ""
    qual = f"{mod}.{tp.__qualname__}"
    if qual == "tempfile._TemporaryFileWrapper" or qual.startswith("tempfile.SpooledTemporaryFile"):
        return "tempfile", _file_label
    if issubclass(tp, tempfile.TemporaryDirectory):
        return "tempdir", _tempdir_label
    if issubclass(tp, io.IOBase):
        return "file", _file_label
    if issubclass(tp, socket.socket):
        return "socket", _socket_label
    if qual == "sqlite3.Connection":
        return "db.connection", _sqlite_label
    if qual == "sqlite3.Cursor":
        return "db.cursor", _type_name
    if mod.startswith(("asyncpg", "psycopg", "psycopg2")):
        lowered = tp.__qualname__.lower()
        if "pool" in lowered and "acquire" in lowered:
            return "pool.checkout", _type_name
        if "pool" in lowered:
            return "db.pool", _dsn_label
        if "transaction" in lowered:
            return "db.transaction", _type_name
        if "cursor" in lowered:
            return "db.cursor", _type_name
        return "db.connection", _dsn_label
    if qual == "asyncio.streams.StreamWriter":
        return "stream.writer", _writer_label
    if qual in ("contextlib.ExitStack", "contextlib.AsyncExitStack"):
        return "exitstack", _type_name
    if qual in ("contextlib._GeneratorContextManager", "contextlib._AsyncGeneratorContextManager"):
        return "context", _generator_cm_label
    if mod in ("threading", "_thread", "asyncio.locks", "multiprocessing.synchronize"):
        return "lock", _type_name
    if qual == "subprocess.Popen":
        return "process", lambda o: " ".join(map(str, o.args)) if isinstance(o.args, list) else str(o.args)
    if issubclass(tp, os.DirEntry):
        return "file", _file_label
    return "resource", _type_name


def _generator_cm_label(obj: Any) -> str:
    # `func` is deleted by __enter__; the generator (and its code) stays.
    gen = getattr(obj, "gen", None)
    code = getattr(gen, "gi_code", None) or getattr(gen, "ag_code", None)
    return code.co_qualname if code is not None else "context"


_CACHE: dict[type, TypeInfo] = {}


def classify(tp: type) -> TypeInfo:
    """Kind, labeler and `with` semantics of a type (cached)."""
    info = _CACHE.get(tp)
    if info is None:
        kind, labeler = _kind_and_labeler(tp)
        qual = f"{tp.__module__}.{tp.__qualname__}"
        resource = callable(getattr(tp, "close", None)) or callable(getattr(tp, "aclose", None))
        static_label = tp.__qualname__ if labeler is _type_name else None
        info = TypeInfo(
            kind=kind,
            labeler=labeler,
            resource=resource,
            releases_on_exit=qual not in NON_RELEASING_WITH,
            sync_cm=hasattr(tp, "__enter__") and hasattr(tp, "__exit__"),
            async_cm=hasattr(tp, "__aenter__") and hasattr(tp, "__aexit__"),
            static_label=static_label,
            spec=(kind, static_label, (), True) if static_label is not None else None,
        )
        _CACHE[tp] = info
    return info


def label_of(obj: Any, info: TypeInfo) -> str:
    """A label a person recognises; never raises."""
    try:
        return info.labeler(obj)
    except Exception:
        return type(obj).__qualname__


def spec_of(
    obj: Any, info: TypeInfo, kind: str | None, label: str | None, suppresses: tuple[type[BaseException], ...]
) -> Spec:
    """The spec of one tracked object: the type's shared one when nothing overrides it."""
    if not (kind or label or suppresses) and info.spec is not None:
        return info.spec
    return (kind or info.kind, label or info.static_label or label_of(obj, info), suppresses, False)
