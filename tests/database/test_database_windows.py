"""Database statistics over the run's window, and gauges sampled across it, against the
session's real PostgreSQL (pg_server.py). A plain probe between a window's two readings
stands for what happens on the server during a run."""

from __future__ import annotations

import pytest

from triage.probes import GROUP_END, ProbeSpec, all_probes
from triage.runner import RunOptions, run_probes

from .test_database_probes import config_for, metric, result

LIFETIME_SLOW_RUNS = 10


def spec(name: str) -> ProbeSpec:
    return next(s for s in all_probes(["database"]) if s.name == name)


def during_the_run(fn) -> ProbeSpec:
    """A plain probe that does ``fn(admin connection)`` while the windows are open."""
    def step(target, ctx):
        fn()
        return []
    return ProbeSpec("database", "meanwhile", step)


def statement_totals(postgres, sql_like: str) -> tuple[int, float]:
    with postgres.admin() as conn:
        calls, total = conn.execute("SELECT coalesce(sum(calls), 0), coalesce(sum(total_exec_time), 0) "
                                    "FROM pg_stat_statements WHERE query LIKE %s", (sql_like,)).fetchone()
    return int(calls), float(total)


def test_a_slow_period_before_the_run_is_not_in_the_statements_window(postgres):
    import psycopg

    if not postgres.has_pg_stat_statements:
        pytest.skip("pg_stat_statements.so is not installed with this PostgreSQL")
    # The slow period, over before the run: constants are normalised, so pg_sleep(0.05)
    # and the critical query's pg_sleep(0) are one statement to pg_stat_statements.
    with psycopg.connect(postgres.dsn(), autocommit=True) as app:
        for _ in range(LIFETIME_SLOW_RUNS):
            app.execute("SELECT pg_sleep(0.05)")
    calls_before, total_before = statement_totals(postgres, "SELECT pg_sleep($1)")
    queries = '    queries:\n      - {name: nap, sql: "SELECT pg_sleep(0)"}\n'
    snap = run_probes(config_for(postgres.dsn(), queries=queries, extra="    groups: 4"),
                      RunOptions(layers=("database",), samples=8))
    calls_after, total_after = statement_totals(postgres, "SELECT pg_sleep($1)")

    stmts = result(snap, "statements")
    assert stmts.status == "ok", stmts.error
    nap = next(m for m in stmts.measurements if m.extra["query"] == "SELECT pg_sleep($1)")
    # Exactly the run's 8 executions (EXPLAIN runs nothing), at their own mean.
    assert nap.extra["calls"] == calls_after - calls_before == 8
    assert nap.value == pytest.approx((total_after - total_before) / 8, abs=1e-5)
    lifetime_mean = total_after / calls_after
    assert calls_after >= LIFETIME_SLOW_RUNS + 8 and nap.value < lifetime_mean / 5
    # triage's own reads of the catalog and statistics views are not the platform's statements.
    assert not any("pg_stat_" in m.extra["query"] or "pg_class" in m.extra["query"] for m in stmts.measurements)


def test_a_statistics_reset_during_the_run_drops_the_window_with_a_note(postgres):
    if not postgres.has_pg_stat_statements:
        pytest.skip("pg_stat_statements.so is not installed with this PostgreSQL")

    def reset():
        with postgres.admin() as conn:
            conn.execute("SELECT pg_stat_reset()")
            conn.execute("SELECT pg_stat_statements_reset()")

    snap = run_probes(config_for(postgres.dsn()), RunOptions(layers=("database",), samples=2),
                      specs=[spec("cache"), spec("activity"), spec("statements"), during_the_run(reset)])
    for probe in ("cache", "activity", "statements"):
        r = result(snap, probe)
        assert r.status == "ok", r.error
        assert r.measurements == (), probe  # never a negative count
    assert any(n.startswith("pg_stat_database was reset during the run") for n in result(snap, "cache").notes)
    assert any(n.startswith("pg_stat_database was reset during the run") for n in result(snap, "activity").notes)
    assert any(n.startswith("pg_stat_statements was reset during the run") for n in result(snap, "statements").notes)


def test_temporary_files_and_rollbacks_of_the_window_are_counted(postgres):
    import psycopg

    def spill_and_roll_back():
        with psycopg.connect(postgres.dsn(), autocommit=True) as conn:
            conn.execute("SET work_mem = '64kB'")
            conn.execute("SELECT * FROM manifest ORDER BY digest DESC").fetchall()  # sorts on disk
            for _ in range(3):
                conn.execute("BEGIN")
                conn.execute("ROLLBACK")
            # Statistics reach pg_stat_database when a backend flushes them: make it flush
            # when this command ends, before the next one returns.
            conn.execute("SELECT pg_stat_force_next_flush()")
            conn.execute("SELECT 1")

    snap = run_probes(config_for(postgres.dsn()), RunOptions(layers=("database",), samples=2),
                      specs=[spec("activity"), during_the_run(spill_and_roll_back)])
    r = result(snap, "activity")
    assert r.status == "ok", r.error
    assert metric(r, "temp_files").value >= 1 and metric(r, "temp_files").extra["counter"] is True
    assert metric(r, "temp_bytes").value > 0 and metric(r, "temp_bytes").unit == "bytes"
    rollbacks = metric(r, "rollback_ratio")
    assert rollbacks.events >= 3 and rollbacks.extra["xact_rollback"] == rollbacks.events
    assert metric(r, "deadlocks").value == 0


def test_connections_are_read_once_per_group_so_a_new_idle_one_shows_from_then_on(postgres):
    import psycopg

    held = []

    def pool(target, ctx):
        """A sub-run probe that opens one more idle connection in its second group."""
        yield GROUP_END
        conn = psycopg.connect(postgres.dsn(), autocommit=True, application_name="pool-under-test")
        conn.execute("SELECT 1")
        held.append(conn)
        yield GROUP_END
        yield GROUP_END

    try:
        snap = run_probes(config_for(postgres.dsn(), extra="    groups: 4"),
                          RunOptions(layers=("database",), samples=8),
                          specs=[spec("connections"), ProbeSpec("database", "pool", pool, subruns=True)])
    finally:
        for conn in held:
            conn.close()
    idle = metric(result(snap, "connections"), "connections_idle")
    assert idle.kind == "samples" and idle.groups == (1, 1, 1, 1)
    # Rounds: reading 1, pool group 1, reading 2, pool group 2 (opens it), readings 3 and 4.
    before, after = idle.values[:2], idle.values[2:]
    assert len(set(before)) == 1 and list(after) == [before[0] + 1] * 2
