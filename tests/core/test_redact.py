"""`withscope.core.redact`: DSN passwords hidden in every shape a driver accepts, and in any text.

GIVEN a DSN or a text quoting one, WHEN it is redacted, THEN no password is left and the parts a
person needs (user, host, port, database, other parameters) are. Property tests generate
passwords with spaces, unicode, ``@ : / ? # % & = ' "`` and percent-escapes.
"""

from __future__ import annotations

import json
import logging
import urllib.parse
from collections.abc import Iterator

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from withscope.core.events import Alert, Lifetime, Mark, Outcome, Severity, StreamStats
from withscope.core.redact import (
    MASK,
    RedactingFilter,
    dsn_passwords,
    isolated_secrets,
    redact_dsn,
    redact_snapshot,
    redact_text,
    register_dsn,
    registered,
)
from withscope.core.snapshot import RunSnapshot

SPECIALS = [" ", "@", ":", "/", "?", "#", "%", "&", "=", "'", '"', "\\", "%20", "%40", "%2F", "%3A", "%25", "é", "密"]
PASSWORDS = st.lists(
    st.one_of(st.characters(blacklist_categories=("Cs", "Cc")), st.sampled_from(SPECIALS)), min_size=1, max_size=24
).map("".join)


@pytest.fixture(autouse=True)
def _forget_registrations() -> Iterator[None]:
    with isolated_secrets():
        yield


# ------------------------------------------------------------------------ the cases
def test_password_with_a_space_is_hidden_whole() -> None:
    # Failed before: the old `\S*@` pattern stopped at the space and left the URI untouched.
    dsn = "postgresql://postgres:S3cr3t Passw0rd@127.0.0.1:5432/test"
    assert redact_dsn(dsn) == "postgresql://postgres:***@127.0.0.1:5432/test"
    assert "S3cr3t" not in redact_text(f"could not connect to {dsn}: refused")


def test_driver_error_echoing_a_malformed_ipv6_uri_is_scrubbed() -> None:
    # psycopg's own message for this DSN (libpq's URI parser), as the run's error showed it.
    text = (
        'ProgrammingError: end of string reached when looking for matching "]" in IPv6 host address in URI: '
        '"postgresql://postgres:S3cr3t@[::1:5432/test" (raised at conninfo.py:103 in _parse_conninfo)'
    )
    out = redact_text(text)
    assert "S3cr3t" not in out
    assert 'URI: "postgresql://postgres:***@[::1:5432/test" (raised at conninfo.py:103' in out


def test_a_registered_password_is_scrubbed_in_text_that_is_not_uri_shaped() -> None:
    # libpq's "unexpected spaces" message quotes the password alone; asyncpg's "invalid DSN" too.
    text = 'ProgrammingError: unexpected spaces found in "S3cr3t Passw0rd", use percent-encoded spaces (%20)'
    assert "S3cr3t" in redact_text(text)  # nothing shapes it as a secret ...
    register_dsn("postgresql://postgres:S3cr3t Passw0rd@127.0.0.1:5432/test")
    assert redact_text(text) == 'ProgrammingError: unexpected spaces found in "***", use percent-encoded spaces (%20)'


# ------------------------------------------------------------------------------ the DSN forms
@pytest.mark.parametrize(
    ("dsn", "expected"),
    [
        ("postgresql://u:a@b:c/d?e#f@h:5432/db", "postgresql://u:***@h:5432/db"),
        ("postgres://u:p%20w%40x@h/db", "postgres://u:***@h/db"),
        ("postgresql://u@h/db?sslmode=require&password=x%20y", "postgresql://u@h/db?sslmode=require&password=***"),
        ("postgresql://u@h/db?password=a b&application_name=x", "postgresql://u@h/db?password=***&application_name=x"),
        ("postgresql://u@h/db?sslpassword=k&password=p#frag", "postgresql://u@h/db?sslpassword=***&password=***#frag"),
        ("postgresql://u@h/db?PassWord=p", "postgresql://u@h/db?PassWord=***"),
        ("host=h user=u password='a b\\' c' dbname=x", "host=h user=u password=*** dbname=x"),
        ("host=h password = secret dbname=x", "host=h password = *** dbname=x"),
        ("host=h sslpassword=k password=p", "host=h sslpassword=*** password=***"),
        ("postgresql://[::1]:5432/db", "postgresql://[::1]:5432/db"),
        ("postgresql://h1:5432,h2:5433/db", "postgresql://h1:5432,h2:5433/db"),
    ],
)
def test_every_dsn_form_a_driver_accepts(dsn: str, expected: str) -> None:
    assert redact_dsn(dsn) == expected


def test_dsn_passwords_reads_them_as_drivers_do() -> None:
    assert "a b' c" in dsn_passwords("host=h password='a b\\' c'")
    assert "x y" in dsn_passwords("postgresql://h/db?password=x y&sslmode=off")
    both = dsn_passwords("postgresql://u:p@q@h/db")
    assert "p@q" in both
    assert "p" in both


def test_redaction_is_idempotent_and_leaves_other_text_alone() -> None:
    plain = "file /tmp/x.txt opened at app.py:12 (user@example.org said: ok) http://h:8080/p"
    assert redact_text(plain) == plain
    once = redact_dsn("postgresql://postgres:S3 cr@t@127.0.0.1:5432/test")
    assert redact_dsn(once) == once == redact_text(once)


# ------------------------------------------------------------------------------- properties
@settings(max_examples=200, deadline=None)
@given(pw=PASSWORDS, encode=st.booleans())
def test_uri_password_is_hidden_and_the_rest_kept(pw: str, encode: bool) -> None:
    written = urllib.parse.quote(pw, safe="") if encode else pw
    dsn = f"postgresql://postgres:{written}@127.0.0.1:5432/test"
    assert redact_dsn(dsn) == "postgresql://postgres:***@127.0.0.1:5432/test"


@settings(max_examples=200, deadline=None)
@given(pw=PASSWORDS)
def test_query_parameter_password_is_hidden(pw: str) -> None:
    dsn = f"postgresql://postgres@127.0.0.1:5432/test?sslmode=disable&password={urllib.parse.quote_plus(pw)}"
    assert redact_dsn(dsn) == "postgresql://postgres@127.0.0.1:5432/test?sslmode=disable&password=***"


@settings(max_examples=200, deadline=None)
@given(pw=PASSWORDS)
def test_conninfo_password_is_hidden(pw: str) -> None:
    quoted = "'" + pw.replace("\\", "\\\\").replace("'", "\\'") + "'"
    assert redact_dsn(f"host=h password={quoted} dbname=test") == "host=h password=*** dbname=test"


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(pw=PASSWORDS, encode=st.booleans(), before=st.text(max_size=20), after=st.text(max_size=20))
def test_a_uri_inside_any_text_loses_its_password(pw: str, encode: bool, before: str, after: str) -> None:
    # By shape alone (nothing registered): the password runs to the last "@" of its line.
    assume("\n" not in after and "\r" not in after and "://" not in after and len(pw) >= 3)
    written = urllib.parse.quote(pw, safe="") if encode else pw
    text = f'{before}\nerror: could not parse "postgresql://postgres:{written}@127.0.0.1:5432/test"{after}'
    out = redact_text(text)
    assert f"postgres:{written}@" not in out
    assert "postgresql://postgres:***@" in out


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(pw=PASSWORDS, around=st.text(max_size=30))
def test_a_registered_password_is_gone_from_any_text(pw: str, around: str) -> None:
    assume(len(pw) >= 4)
    with isolated_secrets():
        register_dsn(f"postgresql://postgres:{urllib.parse.quote(pw, safe='')}@127.0.0.1:5432/test")
        for form in (pw, urllib.parse.quote(pw, safe=""), json.dumps(pw)[1:-1], repr(pw)[1:-1]):
            out = redact_text(f"{around}{form}{around}")
            assert pw not in out
            assert form not in out


def test_short_passwords_are_not_scrubbed_verbatim() -> None:
    register_dsn("postgresql://u:abc@h/db")
    assert redact_text("abc is everywhere") == "abc is everywhere"
    assert all(len(s) >= 4 for s in registered())


# ------------------------------------------------------------------------- records and logs
def _lifetime(label: str, error: str | None = None) -> Lifetime:
    return Lifetime(1, "db.connection", label, "app.py:1", (), "MainThread", None, 10, 20,
                    Outcome.RELEASED, error, None, False, False)  # fmt: skip


def test_redact_snapshot_scrubs_every_text_and_shares_clean_records() -> None:
    register_dsn("postgresql://postgres:S3cr3t Passw0rd@h/test")
    clean = Alert("unreleased", Severity.WARNING, "file x was never closed", "close it")
    snap = RunSnapshot(
        target="app.py:main",
        status="error",
        error="OperationalError: password S3cr3t Passw0rd rejected",
        t0_ns=0,
        wall_t0=0.0,
        end_ns=30,
        lifetimes=(_lifetime("postgresql://postgres:S3cr3t Passw0rd@h/test", "boom: S3cr3t Passw0rd"),),
        alerts=(clean, Alert("x", Severity.INFO, "in S3cr3t Passw0rd", "hint")),
        streams=(StreamStats(1, "S3cr3t Passw0rd", 0, None, 1, True, 0, 0, ()),),
        marks=(Mark(5, "mark S3cr3t Passw0rd"),),
        meta={"db": "postgresql://postgres:S3cr3t Passw0rd@h/test", "cleanup_error": "S3cr3t Passw0rd"},
    )
    out = redact_snapshot(snap)
    assert "S3cr3t" not in repr([*out.lifetimes, out.alerts, out.streams, out.marks, out.meta, out.error])
    assert out.lifetimes[0].label == "postgresql://postgres:***@h/test"
    assert out.alerts[0] is clean
    assert redact_snapshot(out).lifetimes is out.lifetimes  # not wrapped twice


def test_log_records_are_scrubbed(caplog: pytest.LogCaptureFixture) -> None:
    register_dsn("postgresql://postgres:S3cr3t Passw0rd@h/test")
    log = logging.getLogger("withscope")
    assert any(isinstance(f, RedactingFilter) for f in log.filters)
    with caplog.at_level(logging.ERROR, logger="withscope"):
        try:
            raise ValueError("bad postgresql://postgres:S3cr3t Passw0rd@h/test")
        except ValueError:
            log.exception("connect to %s failed", "postgresql://u:other pw@h/db")
    text = caplog.text
    assert "S3cr3t" not in text
    assert "other pw" not in text
    assert MASK in text
