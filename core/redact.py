"""Secrets never leave withscope: DSN passwords are hidden in everything it shows, stores or exports.

Two layers, both applied by `redact_text`:

1. **Known values.** A run knows its DSN: `register_dsn(dsn)` extracts its password(s) the way the
   drivers read them (URI user info, `?password=`/`&sslpassword=` query parameters, libpq
   `password=...` pairs, quoted or not) and registers every spelling a driver or a message may
   use: as written, percent-decoded, percent-encoded, `repr`/JSON-escaped, and the pieces a
   driver that mis-splits an unencoded URI echoes (the parts between `/ ? # @ : &` and spaces).
   From then on any text holding one of them is scrubbed, URI-shaped or not (asyncpg's
   "invalid DSN" messages, libpq's "unexpected spaces found in ..."). Values shorter than
   `MIN_SECRET_LEN` are not scrubbed verbatim (every "ab" in every text would go), only by shape.
2. **Shape.** Whatever is not registered is found by form: a URI's `user:password@` (the password
   runs to the last `@` of the line, so one holding `@ : / ? #` or spaces is hidden whole), the
   password query parameters and `password=` pairs (quoted values with libpq's `\\'` escapes).

`redact_dsn(dsn)` is for a string that *is* a DSN: the whole user info and every password
parameter go, user, host, port, database and other parameters stay
(`postgresql://postgres:***@127.0.0.1:5432/test`).

Over-redaction is the safe side: text that merely looks like a password is hidden too.

Thread-safety: any function may be called from any thread. Registration takes a lock and swaps
an immutable pattern; registered secrets stay registered for the life of the process.
"""

from __future__ import annotations

import contextlib
import html
import json
import logging
import re
import threading
import urllib.parse
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import replace
from typing import TYPE_CHECKING, TypeVar, overload

from withscope.core.events import LifetimeSequence

from .events import Alert, Lifetime, Mark, StreamStats

if TYPE_CHECKING:
    from .snapshot import RunSnapshot

_R = TypeVar("_R", Lifetime, Alert, StreamStats, Mark)

MASK = "***"
MIN_SECRET_LEN = 4
# Query / conninfo keys whose value is a secret (libpq: password, sslpassword).
SECRET_KEYS = frozenset({"password", "sslpassword"})

_SCHEME = re.compile(r"(?<![A-Za-z0-9+.\-])[A-Za-z][A-Za-z0-9+.\-]*://")
# The user name of a URI's user info: never holds "/", "?", "#", "@", ":" or spaces (drivers end
# the authority at the first "/", "?" or "#"); the password is what follows its ":".
_USER = re.compile(r"[^/?#@:\s]*:")
# What may follow "host:" when there is no "@": a port (or nothing), i.e. not a password.
_PORT_LIKE = re.compile(r"\d*(?:[/?#,\s\"')\]>]|$)")
# A password-like parameter inside a URI query: the value ends at "&", "#" or a space.
_QUERY_SECRET = re.compile(r"(?i)([?&;](?:ssl)?password=)([^&#\s]*)")
# libpq key=value pairs: a quoted value (backslash escapes, possibly unterminated) or up to a space.
_KV_SECRET = re.compile(
    r"""(?i)(?<![A-Za-z0-9_?&;])((?:ssl)?password\s*=\s*)('(?:[^'\\]|\\.)*'?|"(?:[^"\\]|\\.)*"?|(?:\\.|[^\s\\])*)"""
)
# A password in a printed mapping: 'password': 'x' / "password": "x".
_MAP_SECRET = re.compile(
    r"""(?i)(['"](?:ssl)?password['"]\s*:\s*)('(?:[^'\\]|\\.)*'?|"(?:[^"\\]|\\.)*"?|[^\s,}]*)"""
)
_TRIGGER = re.compile(r"(?i)://|password")
_SPLIT = re.compile(r"[/?#@:&\s]+")

_lock = threading.Lock()
_secrets: frozenset[str] = frozenset()
_known: re.Pattern[str] | None = None
_cache: dict[str, str] = {}
_CACHE_MAX = 16384


# ----------------------------------------------------------------------------- registration
def spellings(secret: str) -> set[str]:
    """Every form of `secret` that a driver or a message may print, long enough to scrub."""
    decoded = {secret, urllib.parse.unquote(secret), urllib.parse.unquote_plus(secret)}
    forms: set[str] = set()
    for d in decoded:
        forms |= {
            d,
            urllib.parse.quote(d, safe=""),
            urllib.parse.quote(d),
            urllib.parse.quote_plus(d),
            repr(d)[1:-1],
            json.dumps(d)[1:-1],
            json.dumps(d, ensure_ascii=False)[1:-1],
            html.escape(d),
            d.replace("\\", "\\\\").replace("'", "\\'"),  # libpq's quoting of a conninfo value
        }
        forms.update(p for p in _SPLIT.split(d))
    return {f for f in forms if len(f) >= MIN_SECRET_LEN}


def register_secret(secret: str) -> None:
    """Scrub `secret` (in all its `spellings`) from every text `redact_text` sees from now on."""
    global _secrets, _known
    forms = spellings(secret)
    if not forms or forms <= _secrets:
        return
    with _lock:
        merged = _secrets | forms
        # Longest first: a spelling that contains another is replaced whole.
        _known = re.compile("|".join(re.escape(f) for f in sorted(merged, key=len, reverse=True)))
        _secrets = merged
        _cache.clear()


def register_dsn(dsn: str | None) -> None:
    """Register every password `dsn` carries (see `dsn_passwords`)."""
    if dsn:
        for pw in dsn_passwords(dsn):
            register_secret(pw)


def dsn_passwords(dsn: str) -> list[str]:
    """The password(s) in `dsn` as written, under each way a driver may split it: the user info
    up to the last and to the first `@`, the `urllib.parse` netloc's (asyncpg), the password
    query parameters and libpq `password=` pairs (unquoted, unescaped)."""
    found: list[str] = []
    m = _SCHEME.match(dsn.strip())
    if m is not None:
        rest = dsn.strip()[m.end() :]
        for at in (rest.rfind("@"), rest.find("@")):
            if at >= 0:
                _user, sep, pw = rest[:at].partition(":")
                if sep:
                    found.append(pw)
        try:
            netloc = urllib.parse.urlsplit(dsn.strip()).netloc
        except ValueError:
            netloc = ""
        if "@" in netloc:
            _u, sep, pw = netloc.partition("@")[0].partition(":")
            if sep:
                found.append(pw)
        query = rest.partition("?")[2]
        for part in re.split(r"[&;]", query):
            key, sep, value = part.partition("=")
            if sep and urllib.parse.unquote_plus(key).strip().lower() in SECRET_KEYS:
                found += [value.partition("#")[0], value]
    for km in _KV_SECRET.finditer(dsn):
        raw = km.group(2)
        found.append(raw)
        if raw[:1] in ("'", '"'):
            inner = raw[1:-1] if len(raw) > 1 and raw[-1] == raw[0] else raw[1:]
            found += [inner, re.sub(r"\\(.)", r"\1", inner)]
    return [pw for pw in dict.fromkeys(found) if pw]


@contextlib.contextmanager
def isolated_secrets() -> Iterator[None]:
    """Registrations made inside are forgotten at exit (for tests: a registered secret scrubs
    every later text of the process, which would bleed into unrelated tests)."""
    global _secrets, _known
    saved = (_secrets, _known)
    try:
        yield
    finally:
        with _lock:
            _secrets, _known = saved
            _cache.clear()


def registered() -> frozenset[str]:
    """The spellings scrubbed verbatim (for tests and diagnostics; never print them)."""
    return _secrets


# ----------------------------------------------------------------------------- redaction
def redact_dsn(dsn: str) -> str:
    """A DSN fit to show: `postgresql://postgres:S3 cr@t@h:5432/db?password=x` ->
    `postgresql://postgres:***@h:5432/db?password=***`; libpq `password='a b'` -> `password=***`.
    Registered secrets are scrubbed too, wherever they are."""
    text = _scrub_known(dsn)
    m = _SCHEME.match(text.lstrip())
    if m is None:
        return _scrub_shapes(text)
    lead = text[: len(text) - len(text.lstrip())]
    body = text.lstrip()
    head, rest = body[: m.end()], body[m.end() :]
    at = rest.rfind("@")
    userinfo = ""
    if at >= 0:
        user, sep, _pw = rest[:at].partition(":")
        userinfo = (f"{user}:{MASK}" if sep else user) + "@"
        rest = rest[at + 1 :]
    base, qmark, query = rest.partition("?")
    if qmark:
        query, hashmark, fragment = query.partition("#")
        parts = []
        for part in re.split(r"(&|;)", query):
            key, sep, _value = part.partition("=")
            if sep and urllib.parse.unquote_plus(key).strip().lower() in SECRET_KEYS:
                part = f"{key}={MASK}"
            parts.append(part)
        rest = base + "?" + "".join(parts) + hashmark + fragment
    return lead + head + userinfo + rest


def redact_text(text: str) -> str:
    """`text` with every DSN password hidden: registered secrets verbatim, then URIs' passwords,
    password query parameters and `password=` pairs by shape. Idempotent; cheap on text without
    any (a few substring tests); what needed scrubbing is cached per distinct string."""
    if not text:
        return text
    hit = _cache.get(text)
    if hit is not None:
        return hit
    if "://" not in text and "password" not in text.lower() and not any(f in text for f in _secrets):
        return text  # the common case: substring tests in C, nothing cached (labels are often unique)
    out = _scrub_shapes(_scrub_known(text))
    if len(_cache) >= _CACHE_MAX:
        _cache.clear()
    _cache[text] = out
    return out


def redact_optional(text: str | None) -> str | None:
    return None if text is None else redact_text(text)


def redact_mapping(values: Mapping[str, str]) -> dict[str, str]:
    """A copy of `values` with every key and value through `redact_text`."""
    return {redact_text(str(k)): redact_text(str(v)) for k, v in values.items()}


def _scrub_known(text: str) -> str:
    known = _known
    return text if known is None else known.sub(MASK, text)


def _scrub_shapes(text: str) -> str:
    if _TRIGGER.search(text) is None:
        return text
    text = _scrub_uris(text)
    text = _QUERY_SECRET.sub(lambda m: m.group(1) + (MASK if m.group(2) else ""), text)
    text = _KV_SECRET.sub(lambda m: m.group(1) + (MASK if m.group(2) else ""), text)
    return _MAP_SECRET.sub(lambda m: m.group(1) + (MASK if m.group(2) else ""), text)


def _scrub_uris(text: str) -> str:
    """Hide the password of every `scheme://user:password@` in `text`. The password runs to the
    last `@` before the end of the line or the next URI; with no `@` at all, whatever follows
    `user:` that is not a port is taken for a cut-off password and hidden to the end of the line."""
    matches = list(_SCHEME.finditer(text))
    if not matches:
        return text
    out: list[str] = []
    pos = 0
    for i, m in enumerate(matches):
        start = m.end()
        if start < pos:
            continue  # inside a span already hidden
        user = _USER.match(text, start)
        if user is None:
            continue
        pw_start = user.end()
        limit = text.find("\n", start)
        limit = len(text) if limit < 0 else limit
        nxt = next((n.start() for n in matches[i + 1 :] if n.start() >= pw_start), None)
        if nxt is not None:
            limit = min(limit, nxt)
        at = text.rfind("@", pw_start, limit)
        if at >= 0:
            end = at
        elif _PORT_LIKE.match(text, pw_start) is None and pw_start < limit:
            end = limit
        else:
            continue
        if text[pw_start:end] == MASK:
            continue
        out.append(text[pos:pw_start])
        out.append(MASK)
        pos = end
    if not out:
        return text
    out.append(text[pos:])
    return "".join(out)


# ----------------------------------------------------------------------------- records
def redact_record(rec: _R) -> _R:
    """`rec` with its free text through `redact_text`; the same object when nothing changes."""
    if isinstance(rec, Lifetime):
        label, error = redact_text(rec.label), redact_optional(rec.error)
        if label is rec.label and error is rec.error:
            return rec
        return replace(rec, label=label, error=error)
    if isinstance(rec, Alert):
        message, hint = redact_text(rec.message), redact_text(rec.hint)
        if message is rec.message and hint is rec.hint:
            return rec
        return replace(rec, message=message, hint=hint)
    if isinstance(rec, StreamStats):
        label = redact_text(rec.label)
        return rec if label is rec.label else replace(rec, label=label)
    text = redact_text(rec.text)
    return rec if text is rec.text else replace(rec, text=text)


def _same_or_new(items: tuple[_R, ...]) -> tuple[_R, ...]:
    """`items` itself unless a record changes (no copy of a long, clean tuple)."""
    for i, x in enumerate(items):
        y = redact_record(x)
        if y is not x:
            out = list(items[:i])
            out.append(y)
            out.extend(redact_record(z) for z in items[i + 1 :])
            return tuple(out)
    return items


class RedactedLifetimes(LifetimeSequence):
    """`inner` read through `redact_record`: lazy, so a recording of millions of lifetimes is
    neither scanned nor copied up front; each item costs one cached `redact_text` when read."""

    __slots__ = ("inner",)

    def __init__(self, inner: Sequence[Lifetime]) -> None:
        self.inner = inner

    def __len__(self) -> int:
        return len(self.inner)

    @overload
    def __getitem__(self, i: int) -> Lifetime: ...
    @overload
    def __getitem__(self, i: slice) -> tuple[Lifetime, ...]: ...
    def __getitem__(self, i: int | slice) -> Lifetime | tuple[Lifetime, ...]:
        if isinstance(i, slice):
            return tuple(map(redact_record, self.inner[i]))
        return redact_record(self.inner[i])

    def __iter__(self) -> Iterator[Lifetime]:
        return map(redact_record, self.inner)

    def __repr__(self) -> str:
        return f"<{len(self)} lifetimes, redacted>"


def redact_snapshot(snap: RunSnapshot) -> RunSnapshot:
    """`snap` with every text a person or a file may see scrubbed (target, error, meta, labels,
    lifetime errors, alerts, stream labels, marks). Lifetimes are scrubbed as they are read
    (`RedactedLifetimes`); the other records are shared when they need no change."""
    lifetimes = snap.lifetimes if isinstance(snap.lifetimes, RedactedLifetimes) else RedactedLifetimes(snap.lifetimes)
    alerts = _same_or_new(snap.alerts)
    streams, marks = _same_or_new(snap.streams), _same_or_new(snap.marks)
    target, error = redact_text(snap.target), redact_optional(snap.error)
    meta = redact_mapping(snap.meta)
    if (
        lifetimes is snap.lifetimes
        and alerts is snap.alerts
        and streams is snap.streams
        and marks is snap.marks
        and target is snap.target
        and error is snap.error
        and meta == snap.meta
    ):
        return snap
    return replace(
        snap, target=target, error=error, meta=meta, lifetimes=lifetimes, alerts=alerts, streams=streams, marks=marks
    )


# ----------------------------------------------------------------------------- logging
class RedactingFilter(logging.Filter):
    """Scrubs a log record's message, arguments, traceback and stack before any handler sees it."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except (TypeError, ValueError):  # arguments that do not fit the format: keep both, scrubbed
            message = f"{record.msg} {record.args!r}"
        record.msg, record.args = redact_text(str(message)), None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redact_text(record.exc_text)
        if record.stack_info:
            record.stack_info = redact_text(record.stack_info)
        return True


_LOG_FILTER = RedactingFilter()
logging.getLogger("withscope").addFilter(_LOG_FILTER)
