"""Each variant leaves the evidence its rules read - and only that - on SQLite at scale 0.2.

The runs go through `workload_harness.run`, which does what the runner must: gather the
evidence right after the workload returns, then `ctx.leftovers.close_all()`, then collect.
`Evidence.rules()` is a rough local reading of the rules; the real ones are proven on the
same catalogue by tests/cli/test_catalogue_proof.py.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import workload_harness as wh
from withscope.core import Outcome
from withscope.core.workloads import CATALOGUE, accumulation, async_pool, class_cm, transactions

NAMES = list(CATALOGUE)
CORRECT = [n for n in NAMES if n.endswith("/correct")]
FAULTY = [n for n in NAMES if n.endswith("/faulty")]


@pytest.mark.parametrize("name", NAMES)
def test_triggers_exactly_its_declared_rules(run_sqlite: wh.RunFn, name: str) -> None:
    ev = run_sqlite(name)
    assert ev.rules() == set(CATALOGUE[name].expected_rules), [
        (lt.kind, lt.label, lt.outcome.value, lt.site) for lt in ev.lifetimes
    ]


@pytest.mark.parametrize("name", NAMES)
def test_run_cleanup_releases_everything(run_sqlite: wh.RunFn, name: str) -> None:
    ev = run_sqlite(name)
    assert ev.cleanup_errors == []
    assert ev.fds_after <= ev.fds_before, "the run left file descriptors open after its cleanup"


@pytest.mark.parametrize("name", CORRECT)
def test_correct_variant_releases_everything_itself(run_sqlite: wh.RunFn, name: str) -> None:
    ev = run_sqlite(name)
    assert ev.lifetimes, "a workload must show what it does"
    bad = [lt for lt in ev.lifetimes if lt.outcome not in (Outcome.RELEASED, Outcome.RELEASED_WITH_ERROR)]
    assert bad == []
    assert ev.temp_left == []
    assert not any(lt.suppressed and not lt.suppression_declared for lt in ev.lifetimes)


def _by_kind(ev: wh.Evidence, kind: str) -> tuple[list[Outcome], int]:
    lts = ev.of_kind(kind)
    return [lt.outcome for lt in lts], len(lts)


def test_class_cm_faulty_leaves_one_connection_per_failed_request(run_sqlite: wh.RunFn) -> None:
    ev = run_sqlite("class-cm/faulty")
    conns = ev.of_kind("db.connection")
    failed = sum(1 for account in class_cm._requests(wh.ctx_for_scale()) if account == 0)
    assert failed >= 1
    assert [lt for lt in conns if lt.is_open] == ev.open
    assert len(ev.open) == failed
    assert all(lt.site is not None and lt.site.startswith("core/workloads/class_cm.py:") for lt in conns)
    assert all(lt.label.startswith("sqlite:") for lt in conns)


def test_class_cm_correct_closes_failed_requests_too(run_sqlite: wh.RunFn) -> None:
    ev = run_sqlite("class-cm/correct")
    outcomes, n = _by_kind(ev, "db.connection")
    assert n == len(class_cm._requests(wh.ctx_for_scale()))
    assert set(outcomes) == {Outcome.RELEASED}


def test_async_pool_faulty_runs_dry_and_times_out(run_sqlite: wh.RunFn) -> None:
    ev = run_sqlite("async-pool/faulty")
    assert (
        sorted(lt.kind for lt in ev.open)
        == ["db.connection"] * async_pool.POOL_SIZE + ["pool.checkout"] * async_pool.POOL_SIZE
    )
    assert any(m.startswith("pool exhausted") for m in ev.marks)
    (pool,) = ev.of_kind("db.pool")
    assert pool.outcome is Outcome.RELEASED


def test_async_pool_correct_reuses_its_connections(run_sqlite: wh.RunFn) -> None:
    ev = run_sqlite("async-pool/correct")
    assert len(ev.of_kind("db.connection")) == async_pool.POOL_SIZE
    checkouts = ev.of_kind("pool.checkout")
    assert len(checkouts) == len(async_pool._orders(wh.ctx_for_scale()))
    assert all(lt.site and lt.site.startswith("core/workloads/async_pool.py:") for lt in checkouts)
    assert not any(m.startswith("pool exhausted") for m in ev.marks)


def test_transactions_faulty_leaves_the_transaction_open_under_a_closed_block(run_sqlite: wh.RunFn) -> None:
    ev = run_sqlite("transactions/faulty")
    (open_tx,) = ev.open
    assert open_tx.kind == "db.transaction"
    # Its `async with` block did end - with the error - which is what hides the bug.
    blocks = [lt for lt in ev.of_kind("context") if lt.label.endswith("transaction_unguarded")]
    assert blocks[-1].outcome is Outcome.RELEASED_WITH_ERROR
    assert [lt.outcome for lt in ev.of_kind("db.connection")] == [Outcome.RELEASED]
    assert any(m.startswith("transaction left open") for m in ev.marks)


def test_transactions_correct_rolls_back_the_failed_transfer(run_sqlite: wh.RunFn) -> None:
    ev = run_sqlite("transactions/correct")
    txs = ev.of_kind("db.transaction")
    assert len(txs) == len(transactions._transfers(wh.ctx_for_scale()))
    assert all(lt.outcome is Outcome.RELEASED for lt in txs)
    assert any(m.startswith("transfers:") for m in ev.marks)
    assert not any(m.startswith("transaction left open") for m in ev.marks)


def test_cleanup_faulty_leaves_spill_files_with_their_handles_closed(run_sqlite: wh.RunFn) -> None:
    ev = run_sqlite("cleanup/faulty")
    spills = ev.of_kind("tempfile")
    assert spills
    assert all(lt.outcome is Outcome.RELEASED for lt in spills)
    assert sorted(ev.temp_left) == sorted(lt.label for lt in spills)
    assert all(Path(p).name.startswith("spill-") for p in ev.temp_left)


def test_cleanup_correct_deletes_the_spills_of_a_failed_job(run_sqlite: wh.RunFn) -> None:
    ev = run_sqlite("cleanup/correct")
    assert ev.of_kind("tempfile")
    assert ev.temp_left == []
    assert [lt.outcome for lt in ev.of_kind("file")] == [Outcome.RELEASED]


def test_suppression_correct_swallows_only_the_declared_broken_pipe(run_sqlite: wh.RunFn) -> None:
    ev = run_sqlite("suppression/correct")
    writers = ev.of_kind("stream.writer")
    suppressed = [lt for lt in writers if lt.suppressed]
    assert [(lt.error_type, lt.suppression_declared) for lt in suppressed] == [("builtins.BrokenPipeError", True)]
    failed = [lt for lt in writers if lt.error_type == "builtins.TypeError"]
    assert len(failed) == 1
    assert not failed[0].suppressed
    assert failed[0].outcome is Outcome.RELEASED_WITH_ERROR


def test_suppression_faulty_swallows_an_undeclared_type_error(run_sqlite: wh.RunFn) -> None:
    ev = run_sqlite("suppression/faulty")
    undeclared = [lt for lt in ev.lifetimes if lt.suppressed and not lt.suppression_declared]
    assert [(lt.kind, lt.error_type) for lt in undeclared] == [("stream.writer", "builtins.TypeError")]
    assert all(lt.outcome is Outcome.RELEASED for lt in ev.of_kind("file"))


def test_streaming_correct_closes_the_generator_and_its_connection(run_sqlite: wh.RunFn) -> None:
    ev = run_sqlite("streaming/correct")
    (stream,) = ev.streams
    (lt,) = ev.of_kind("stream")
    (conn,) = ev.of_kind("db.connection")
    assert stream.ended
    assert lt.released_by_close
    # Closing the generator throws GeneratorExit through its `async with conn:`, which closes the connection.
    assert conn.outcome is Outcome.RELEASED_WITH_ERROR
    assert conn.error_type == "builtins.GeneratorExit"
    assert conn.released_ns is not None
    assert lt.released_ns is not None
    assert conn.released_ns <= lt.released_ns
    assert 0 < stream.chunks < wh.ctx_for_scale().count(200, minimum=40)  # stopped early


def test_streaming_faulty_keeps_the_suspended_generator_and_its_connection(run_sqlite: wh.RunFn) -> None:
    ev = run_sqlite("streaming/faulty")
    assert sorted(lt.kind for lt in ev.open) == ["db.connection", "stream"]
    (stream,) = ev.streams
    assert not stream.ended
    assert stream.chunks > 0


def test_accumulation_plus_equals_slows_down_as_it_grows(run_sqlite: wh.RunFn, tmp_path: Path) -> None:
    ev = run_sqlite("accumulation/faulty")
    (stream,) = ev.streams
    q = wh.quarter_costs(stream)
    if q is None or q[3] < 2 * q[0]:
        # A measurement: on a very busy machine one run may be blurred; a second run decides.
        (stream,) = wh.run(CATALOGUE["accumulation/faulty"], tmp_path).streams
        q = wh.quarter_costs(stream)
    assert q is not None, stream.series
    assert q[3] >= 2 * q[0], f"per-chunk ns by quarter: {q}"
    assert stream.bytes == stream.chunks * accumulation.CHUNK


def test_accumulation_join_gets_every_chunk_at_a_flat_cost(run_sqlite: wh.RunFn) -> None:
    ev = run_sqlite("accumulation/correct")
    (stream,) = ev.streams
    assert stream.ended
    assert stream.chunks == accumulation._chunk_count(wh.ctx_for_scale())
    assert not wh.decays(stream)


def test_stream_metrics_faulty_leaves_one_writer_per_request(run_sqlite: wh.RunFn) -> None:
    ev = run_sqlite("stream-metrics/faulty")
    streams = ev.of_kind("stream")
    assert streams
    assert all(lt.outcome is Outcome.RELEASED for lt in streams)
    assert [lt.kind for lt in ev.open] == ["stream.writer"] * len(streams)
    assert all(lt.label.startswith("127.0.0.1:") for lt in ev.open)
    assert ev.fds_end - ev.fds_after >= len(streams)


def test_stream_metrics_correct_measures_each_answer(run_sqlite: wh.RunFn) -> None:
    ev = run_sqlite("stream-metrics/correct")
    metrics = [m for m in ev.marks if m.startswith("client metrics:")]
    assert len(metrics) == len(ev.streams) >= 2
    for s in ev.streams:
        assert s.ended
        assert s.ttfb_ns is not None
        assert s.bytes > 0
        assert s.throughput_bps > 0
    assert all(lt.outcome is Outcome.RELEASED for lt in ev.of_kind("stream.writer") + ev.of_kind("server"))


def test_exit_stack_correct_releases_in_reverse_order(run_sqlite: wh.RunFn) -> None:
    ev = run_sqlite("exit-stack/correct")
    for kind in ("file", "db.connection"):
        lts = sorted(ev.of_kind(kind), key=lambda lt: lt.acquired_ns)
        assert len(lts) >= 2
        released = [lt.released_ns for lt in lts]
        assert all(r is not None for r in released)
        assert released == sorted(released, key=lambda r: -(r or 0))  # newest first


def test_exit_stack_faulty_pop_all_leaves_every_file_open(run_sqlite: wh.RunFn) -> None:
    ev = run_sqlite("exit-stack/faulty")
    files = ev.of_kind("file")
    assert files
    assert all(lt.is_open for lt in files)
    assert all(lt.outcome is Outcome.RELEASED for lt in ev.of_kind("db.connection"))


def test_sockets_faulty_grows_open_fds_until_cleanup(run_sqlite: wh.RunFn) -> None:
    ev = run_sqlite("sockets/faulty")
    sockets = ev.of_kind("socket")
    clients = [lt for lt in sockets if lt.is_open]
    assert len(clients) >= 5
    assert ev.fds_end - ev.fds_start == len(clients)  # what psutil sees, until the run's cleanup


def test_sockets_correct_closes_both_ends(run_sqlite: wh.RunFn) -> None:
    ev = run_sqlite("sockets/correct")
    sockets = ev.of_kind("socket")
    assert len(sockets) >= 1 + 2 * 5  # the listener, then a client and a server end per ping
    assert ev.fds_end == ev.fds_start


def test_sqlite_trap_faulty_connections_end_by_collection(run_sqlite: wh.RunFn) -> None:
    ev = run_sqlite("sqlite-trap/faulty")
    conns = ev.of_kind("db.connection")
    assert len(conns) >= 3
    assert all(lt.outcome is Outcome.GC for lt in conns)
    assert all(lt.site and lt.site.startswith("core/workloads/sqlite_trap.py:") for lt in conns)


def test_sqlite_trap_correct_closes_every_connection(run_sqlite: wh.RunFn) -> None:
    ev = run_sqlite("sqlite-trap/correct")
    conns = ev.of_kind("db.connection")
    assert len(conns) >= 3
    assert all(lt.outcome is Outcome.RELEASED and lt.released_by_close for lt in conns)
