"""Database probes against the session's real PostgreSQL (pg_server.py)."""

from __future__ import annotations

import socket

import pytest

from triage.config import parse_config
from triage.model import Snapshot
from triage.runner import RunOptions, run_probes

from . import pg_server
from .pg_server import CRITICAL_QUERY, PASSWORD, PLAIN_DATABASE


def config_for(dsn: str, *, queries: str = "", extra: str = "", timeout: float = 5, source: str = "triage.yaml"):
    text = f"""
targets:
  - name: registry-db
    dsn: "{dsn}"
    timeout: {timeout}
{extra}
{queries}
"""
    return parse_config(text, source)


CRITICAL = f"""    queries:
      - name: image-layer-fetch
        sql: "{CRITICAL_QUERY}"
"""


def run(config, samples: int = 5) -> Snapshot:
    return run_probes(config, RunOptions(layers=("database",), label="t", samples=samples))


def result(snapshot: Snapshot, probe: str, target: str = "registry-db"):
    found = [r for r in snapshot.results if r.probe == probe and r.target == target]
    assert len(found) == 1, [(r.probe, r.target) for r in snapshot.results]
    return found[0]


def metric(res, name: str):
    found = [m for m in res.measurements if m.metric == name]
    assert len(found) == 1, [m.metric for m in res.measurements]
    return found[0]


def assert_no_password(snapshot: Snapshot, password: str = PASSWORD) -> None:
    text = snapshot.to_json()
    assert password not in text
    # Round-trips too: what a later compare or report reads is the same text.
    assert password not in Snapshot.from_json(text).to_json()


def test_every_probe_measures_a_live_server(postgres):
    snap = run(config_for(postgres.dsn(), queries=CRITICAL), samples=6)

    connect = result(snap, "connect")
    assert connect.status == "ok", connect.error
    assert len(metric(connect, "latency").values) == 6
    errors = metric(connect, "connect_errors")
    assert (errors.events, errors.trials) == (0, 6)
    assert metric(connect, "latency").extra["dsn"] == f"postgresql://quay:***@127.0.0.1:{postgres.port}/quay"

    query = result(snap, "query", "registry-db/image-layer-fetch")
    assert query.status == "ok", query.error
    assert len(metric(query, "latency").values) == 6
    assert (metric(query, "timeouts").events, metric(query, "timeouts").trials) == (0, 6)
    plan = metric(query, "plan").value
    assert plan["shape"] == ("Nested Loop(Index Scan using manifest_repo_digest on manifest, "
                             "Index Scan using manifest_blob_repo_manifest on manifest_blob)")
    assert plan["relations"] == ["manifest", "manifest_blob"]
    assert plan["indexes"] == ["manifest_blob_repo_manifest", "manifest_repo_digest"]
    assert plan["seq_scans_on_large_tables"] == []
    assert metric(query, "seq_scans_on_large_tables").value == 0
    assert 0 < metric(query, "estimated_cost").value < 100

    conns = result(snap, "connections")
    assert conns.status == "ok", conns.error
    assert metric(conns, "max_connections").value == 40
    with postgres.admin() as conn:
        assert metric(conns, "server_version").value == conn.execute("SHOW server_version").fetchone()[0]
    # Read once per group (6 samples: 6 groups), each reading its own moment of the run.
    states = {m.metric: m for m in conns.measurements if m.metric.startswith("connections_")}
    assert {m.kind for m in states.values()} == {"samples"}
    assert {m.groups for m in states.values()} == {(1,) * 6}
    for i in range(6):
        assert states["connections_total"].values[i] == sum(m.values[i] for k, m in states.items()
                                                            if k != "connections_total")

    cache = result(snap, "cache")
    assert cache.status == "ok", cache.error
    ratio = metric(cache, "cache_hit_ratio")
    assert ratio.better == "higher"
    assert 0 < ratio.value <= 1
    assert ratio.value == round(ratio.extra["blks_hit"] / (ratio.extra["blks_hit"] + ratio.extra["blks_read"]), 6)

    assert_no_password(snap)


def test_top_statements_show_the_critical_query_with_no_literals_and_no_password(postgres):
    if not postgres.has_pg_stat_statements:
        pytest.skip("pg_stat_statements.so is not installed with this PostgreSQL")
    cfg = config_for(postgres.dsn(), queries=CRITICAL)
    snap = run(cfg, samples=5)
    stmts = result(snap, "statements")
    assert stmts.status == "ok", stmts.error
    assert 1 <= len(stmts.measurements) <= 5
    texts = [m.extra["query"] for m in stmts.measurements]
    assert any("FROM manifest m JOIN manifest_blob b" in t for t in texts), texts
    assert all(m.metric.startswith("statement.") and m.metric.endswith(".mean_time") for m in stmts.measurements)
    assert not any("sha256:0000042" in t for t in texts)
    # The seeding ran ALTER ROLE ... PASSWORD in this database, and the role may read every
    # statement (pg_monitor): the raw view holds the password, the snapshot must not.
    with postgres.admin() as conn:
        raw = conn.execute("SELECT count(*) FROM pg_stat_statements WHERE query LIKE %s", (f"%{PASSWORD}%",)).fetchone()
    assert raw[0] >= 1
    assert_no_password(snap)


def test_statements_probe_is_skipped_where_the_extension_is_not_installed(postgres):
    snap = run(config_for(postgres.dsn(database=PLAIN_DATABASE)), samples=2)
    stmts = result(snap, "statements")
    assert stmts.status == "skipped"
    assert "pg_stat_statements is not installed" in stmts.error
    assert result(snap, "connect").status == "ok"


def test_dropping_the_composite_index_flips_the_plan_to_a_sequential_scan(postgres):
    cfg = config_for(postgres.dsn(), queries=CRITICAL)
    before = run(cfg, samples=5)
    with pg_server.without_composite_index(postgres):
        after = run(cfg, samples=5)
    q_before = result(before, "query", "registry-db/image-layer-fetch")
    q_after = result(after, "query", "registry-db/image-layer-fetch")
    assert q_after.status == "ok", q_after.error
    plan_after = metric(q_after, "plan").value
    assert plan_after["shape"] == ("Nested Loop(Index Scan using manifest_repo_digest on manifest, "
                                   "Seq Scan on manifest_blob)")
    assert plan_after["seq_scans_on_large_tables"] == ["manifest_blob"]
    assert plan_after != metric(q_before, "plan").value
    assert metric(q_before, "scan.manifest_blob").value == "Index Scan using manifest_blob_repo_manifest"
    assert metric(q_after, "scan.manifest_blob").value == "Seq Scan"
    assert metric(q_after, "scan.manifest").value == metric(q_before, "scan.manifest").value
    assert metric(q_before, "seq_scans_on_large_tables").value == 0
    assert metric(q_after, "seq_scans_on_large_tables").value == 1
    assert metric(q_after, "estimated_cost").value > 10 * metric(q_before, "estimated_cost").value


def test_large_table_threshold_is_configurable(postgres):
    extra = "    large_table_rows: 300000"  # above the 200k rows of manifest_blob
    with pg_server.without_composite_index(postgres):
        snap = run(config_for(postgres.dsn(), queries=CRITICAL, extra=extra), samples=2)
    q = result(snap, "query", "registry-db/image-layer-fetch")
    assert "Seq Scan on manifest_blob" in metric(q, "plan").value["shape"]
    assert metric(q, "seq_scans_on_large_tables").value == 0


def test_connections_are_counted_by_state(postgres):
    import psycopg

    with psycopg.connect(postgres.dsn(), autocommit=True) as idle, psycopg.connect(postgres.dsn()) as in_tx:
        idle.execute("SELECT 1")
        in_tx.execute("SELECT 1")  # psycopg opened a transaction and leaves it open
        snap = run(config_for(postgres.dsn()), samples=2)
    conns = result(snap, "connections")
    assert conns.status == "ok", conns.error
    assert min(metric(conns, "connections_idle").values) >= 1
    assert min(metric(conns, "connections_idle_in_transaction").values) >= 1
    totals = metric(conns, "connections_total").values
    assert len(totals) == 2 and min(totals) >= 2
    with postgres.admin() as conn:
        reserved = int(conn.execute("SHOW superuser_reserved_connections").fetchone()[0])
    assert metric(conns, "connection_use").values == tuple(round(t / (40 - reserved), 6) for t in totals)


def test_queries_run_read_only_and_are_rolled_back(postgres):
    queries = """    queries:
      - name: sneaky-write
        sql: "UPDATE manifest SET digest = 'overwritten' WHERE id = 1"
"""
    snap = run(config_for(postgres.dsn(), queries=queries), samples=2)
    q = result(snap, "query", "registry-db/sneaky-write")
    assert q.status == "error"
    assert "read-only transaction" in q.error
    with postgres.admin() as conn:
        assert conn.execute("SELECT digest FROM manifest WHERE id = 1").fetchone()[0] == "sha256:0000001"


def test_statement_timeout_stops_a_query_that_never_finishes(postgres):
    queries = """    queries:
      - name: stuck
        sql: "SELECT pg_sleep(30)"
"""
    snap = run(config_for(postgres.dsn(), queries=queries, timeout=0.1), samples=20)
    q = result(snap, "query", "registry-db/stuck")
    assert q.status == "error"
    # Gave up after three runs rather than trying all twenty.
    assert q.error == "QueryFailed: stuck: the first 3 runs all exceeded statement_timeout (100 ms)"


@pytest.mark.parametrize("form", ["url", "kv"])
def test_a_wrong_password_is_an_error_that_does_not_repeat_it(postgres, form):
    wrong = "Wr0ng-pa55word-91"
    snap = run(config_for(postgres.dsn(password=wrong, form=form), queries=CRITICAL), samples=3)
    for r in snap.results:
        assert r.status == "error", (r.probe, r.status)
        assert "password authentication failed" in r.error
        assert wrong not in r.error
    assert wrong not in snap.to_json()


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]  # nothing listens once this closes


def test_an_unreachable_database_is_an_error_with_its_reason(postgres):
    dsn = f"postgresql://quay:{PASSWORD}@127.0.0.1:{_closed_port()}/quay"
    snap = run(config_for(dsn, queries=CRITICAL), samples=3)
    assert {(r.probe, r.status) for r in snap.results} == {
        ("connect", "error"), ("query", "error"), ("connections", "error"), ("cache", "error"),
        ("activity", "error"), ("statements", "error")}
    for r in snap.results:
        assert "Connection refused" in r.error, r.error
    assert result(snap, "connect").error.startswith("DatabaseUnreachable: registry-db: 3 connection attempts failed")
    assert_no_password(snap)


def test_password_from_an_env_reference_in_the_config(postgres, monkeypatch):
    monkeypatch.setenv("TRIAGE_TEST_DB_PASSWORD", PASSWORD)
    snap = run(config_for(postgres.dsn(password="${TRIAGE_TEST_DB_PASSWORD}")), samples=3)
    assert result(snap, "connect").status == "ok", result(snap, "connect").error
    assert_no_password(snap)


def test_password_from_pgpassword(postgres, monkeypatch):
    monkeypatch.setenv("PGPASSWORD", PASSWORD)
    snap = run(config_for(postgres.dsn(password=None)), samples=3)
    assert result(snap, "connect").status == "ok", result(snap, "connect").error
    assert_no_password(snap)


def test_password_from_a_pgpass_file(postgres, monkeypatch, tmp_path):
    pgpass = tmp_path / "pgpass"
    pgpass.write_text(f"127.0.0.1:{postgres.port}:quay:quay:{PASSWORD}\n")
    pgpass.chmod(0o600)
    monkeypatch.delenv("PGPASSWORD", raising=False)
    monkeypatch.setenv("PGPASSFILE", str(pgpass))
    snap = run(config_for(postgres.dsn(password=None, form="kv")), samples=3)
    assert result(snap, "connect").status == "ok", result(snap, "connect").error
    assert_no_password(snap)


def test_connect_latency_is_one_fresh_connection_per_sample(postgres):
    def authorized() -> int:
        # log_connections is on: the server logs each authorised connection before it
        # answers the client, so the count is settled once connect() has returned.
        with open(postgres.log_path, encoding="utf-8", errors="replace") as fh:
            return sum("connection authorized: user=quay database=quay application_name=triage" in line
                       for line in fh)

    before = authorized()
    snap = run_probes(config_for(postgres.dsn()), RunOptions(layers=("database",), samples=7))
    assert len(metric(result(snap, "connect"), "latency").values) == 7
    # 7 fresh connections for the samples; one for connections, held over its readings;
    # two each for the window probes cache, activity and statements (at its start and end).
    assert authorized() - before == 14
