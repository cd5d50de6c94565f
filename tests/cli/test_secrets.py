"""No DSN password reaches any output: a real PostgreSQL catalogue run, every channel checked.

GIVEN a password (generated: spaces, unicode, ``@ : / ? # % & = ' "``, percent-escapes) in a DSN
written raw, percent-encoded or as ``?password=``, WHEN a database workload runs with it
(`withscope run --db DSN --json --record` as a real process, `withscope check` against a server
that does not answer), the recording is exported to every format and the GUI's message bar shows
the driver's error, THEN no spelling of the password (as written, decoded, percent-, JSON-, HTML-,
CSV-escaped) is in the terminal output, the JSON report, the recording's bytes, any export or the
message bar.

PostgreSQL at 127.0.0.1:5432 with trust authentication (any password is accepted), database
`test`, user `postgres`; skipped, saying why, when the server or a driver is missing.
"""

from __future__ import annotations

import html
import json
import os
import subprocess
import sys
import urllib.parse
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, assume, example, given, settings
from hypothesis import strategies as st
from pg_server import postgres_absent
from withscope.core.exporters import export
from withscope.core.redact import isolated_secrets
from withscope.core.runner import Run, RunOptions
from withscope.core.store import open_recording

pytestmark = [pytest.mark.gui, pytest.mark.postgres]  # Qt for the png/svg exports and the message bar

HOST = "127.0.0.1:5432"
SPECIAL = " @:/?#%&='\"\\"
PASSWORDS = (
    st.lists(
        st.one_of(
            st.characters(blacklist_categories=("Cs", "Cc")),
            st.sampled_from([*SPECIAL, "%20", "%40", "%2F", "%25", "é", "密"]),
        ),
        min_size=6,
        max_size=20,
    )
    .map("".join)
    # A password that could occur in the output by chance ("000000") would prove nothing.
    .filter(lambda pw: any(c in SPECIAL for c in pw) and sum(c.isalnum() for c in pw) >= 2)
)
EXPORTS = ("chrome", "csv", "json", "html", "png", "svg")


@pytest.fixture(scope="module")
def postgres() -> None:
    try:
        import asyncpg  # noqa: F401
        import psycopg
    except ImportError as exc:
        pytest.skip(f"a PostgreSQL driver is missing: {exc}")
    why = postgres_absent(f"postgresql://postgres@{HOST}/test")
    if why is not None:
        pytest.skip(why)
    # trust authentication: any password is accepted (a server that refuses fails the tests)
    psycopg.connect(f"postgresql://postgres:any-password@{HOST}/test", connect_timeout=3).close()


@pytest.fixture
def images(qapp: Any) -> None:
    """png/svg exports, as the app (and `withscope export`) registers them."""
    from withscope.gui.recordings.plot_export import register_formats

    register_formats()


def spellings(pw: str) -> set[str]:
    """Every way an output could carry `pw`."""
    forms = {pw, urllib.parse.unquote(pw)}
    out: set[str] = set()
    for f in forms:
        out |= {
            f,
            urllib.parse.quote(f, safe=""),
            urllib.parse.quote_plus(f),
            json.dumps(f)[1:-1],
            json.dumps(f, ensure_ascii=False)[1:-1],
            repr(f)[1:-1],
            html.escape(f),
            html.escape(f, quote=False),
            html.escape(f).replace("&#x27;", "&#39;"),
            f.replace('"', '""'),  # CSV
        }
    return {s for s in out if len(s) >= 6}


def leaks(pw: str, channels: dict[str, bytes]) -> list[str]:
    found = []
    for form in spellings(pw):
        needle = form.encode("utf-8", "surrogatepass")
        found += [f"{name} holds {form!r}" for name, data in channels.items() if needle in data]
    return found


def cli(*args: str) -> subprocess.CompletedProcess[bytes]:
    env = {k: v for k, v in os.environ.items() if k != "WITHSCOPE_DB"}
    code = "import sys; from withscope.core.cli import main; sys.exit(main())"
    return subprocess.run([sys.executable, "-c", code, *args], capture_output=True, timeout=120, env=env, check=False)


def every_channel(tmp: Path, dsn: str, workload: str) -> dict[str, bytes]:
    """Run `workload` on `dsn` and collect the bytes of every output withscope makes."""
    out: dict[str, bytes] = {}
    rec, report = tmp / "r.db", tmp / "out.json"
    run = cli("run", workload, "--db", dsn, "--scale", "0.2", "--json", str(report), "--record", str(rec))
    assert run.returncode == 0, run.stderr.decode(errors="replace")
    out["run stdout"], out["run stderr"] = run.stdout, run.stderr
    out["--json"] = report.read_bytes()
    for f in tmp.glob("r.db*"):
        out[f"recording {f.name}"] = f.read_bytes()
    # `check` against a server that does not answer: its one-line error quotes the DSN.
    unanswered = dsn.replace(HOST, "127.0.0.1:1")
    check = cli("check", "--db", unanswered)
    out["check stdout"], out["check stderr"] = check.stdout, check.stderr
    snapshot = open_recording(rec)
    for fmt in EXPORTS:
        for path in export(snapshot, fmt, tmp / f"export-{fmt}.{fmt}"):
            out[f"export {path.name}"] = path.read_bytes()
    out["message bar"] = message_bar_text(dsn, workload, snapshot.error)
    return out


def message_bar_text(dsn: str, workload: str, run_error: str | None) -> bytes:
    """What the app's message bar shows for a failed run and for the driver's own error text."""
    import psycopg
    from withscope.gui.docks.message_bar import MessageBar

    with isolated_secrets():
        Run(workload, RunOptions(db=dsn))  # the app's run registers its DSN as this one does
        try:
            psycopg.conninfo.conninfo_to_dict(dsn)
            driver = f"could not connect to {dsn}"
        except Exception as exc:  # the driver's message, as it echoes the DSN
            driver = f"{type(exc).__name__}: {exc}"
        bar = MessageBar()
        try:
            bar.show_message("error", f"{workload} failed: {run_error} (its lifetimes and alerts are kept)")
            shown = [bar.text()]
            bar.show_message("error", f"Cannot start {workload}: {driver}")
            shown.append(bar.text())
            shown += [text for _t, _level, text in bar.history]
        finally:
            bar.deleteLater()
    return "\n".join(shown).encode("utf-8", "surrogatepass")


def dsn_for(pw: str, form: str) -> str:
    if form == "encoded":
        return f"postgresql://postgres:{urllib.parse.quote(pw, safe='')}@{HOST}/test"
    if form == "query":
        return f"postgresql://postgres@{HOST}/test?password={urllib.parse.quote_plus(pw)}"
    return f"postgresql://postgres:{pw}@{HOST}/test"


@pytest.mark.usefixtures("postgres", "images")
@settings(
    max_examples=3,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@example(pw="S3cr3t Passw0rd", form="raw", workload="class-cm/faulty")  # the case
@example(pw="S3cr3t Passw0rd", form="raw", workload="async-pool/faulty")
@given(
    pw=PASSWORDS,
    form=st.sampled_from(["raw", "encoded", "query"]),
    workload=st.sampled_from(["class-cm/faulty", "async-pool/faulty"]),
)
def test_no_output_channel_holds_the_password(tmp_path_factory: pytest.TempPathFactory, pw: str, form: str,
                                              workload: str) -> None:  # fmt: skip
    assume(not pw.startswith(("-", " ")))  # argparse reads "-x..." as an option; libpq trims spaces
    channels = every_channel(tmp_path_factory.mktemp("secrets"), dsn_for(pw, form), workload)
    assert leaks(pw, channels) == []
    assert b"***" in channels["run stdout"]  # the DSN is shown, with its password hidden


@pytest.mark.usefixtures("postgres", "images")
def test_a_driver_error_echoing_a_malformed_ipv6_uri_is_stored_redacted(tmp_path: Path) -> None:
    # Failed before: psycopg's error quotes the whole URI, and it reached the summary, the
    # report, the recording, every export and the message bar as it was.
    channels = every_channel(tmp_path, "postgresql://postgres:S3cr3t@[::1:5432/test", "class-cm/faulty")
    assert leaks("S3cr3t", channels) == []
    report = json.loads(channels["--json"])
    assert report["status"] == "error"
    assert "postgresql://postgres:***@[::1:5432/test" in report["error"]
