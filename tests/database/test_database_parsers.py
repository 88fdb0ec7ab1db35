"""The database layer's pure parts, on recorded EXPLAIN captures (tests/fixtures/database/),
and error scrubbing on DSNs libpq itself rejects. No server needed."""

from __future__ import annotations

import json
import os

import pytest

from triage.probes import ProbeContext
from triage.probes.database import _connect
from triage.probes.pg_stats import statement_text
from triage.probes.pg_connect import Attempts, ConnectionRejected, scrub
from triage.probes.pg_plan import plan_relations, summarise_plan
from triage.probes.pg_stats import connection_states
from triage.config import Target

FIXTURES = os.path.join(os.path.dirname(__file__), "..", "fixtures", "database")
BIG = {("public", "manifest"): 200_000.0, ("public", "manifest_blob"): 200_000.0}


def capture(name: str):
    with open(os.path.join(FIXTURES, f"{name}.json"), encoding="utf-8") as fh:
        return json.load(fh)


def test_index_scan_plan():
    plan = summarise_plan(capture("pg15-index-scan"), BIG, 100_000)
    assert plan.shape == ("Nested Loop(Index Scan using manifest_repo_digest on manifest, "
                          "Index Scan using manifest_blob_repo_manifest on manifest_blob)")
    assert plan.node_types == ("Index Scan", "Nested Loop")
    assert plan.relations == ("manifest", "manifest_blob")
    assert plan.indexes == ("manifest_blob_repo_manifest", "manifest_repo_digest")
    assert plan.large_seq_scans == ()
    assert plan.total_cost == 16.89
    assert plan.scans == (("manifest", "Index Scan using manifest_repo_digest"),
                          ("manifest_blob", "Index Scan using manifest_blob_repo_manifest"))


def test_seq_scan_plan_is_flagged_only_above_the_threshold():
    explain = capture("pg15-seq-scan")
    flagged = summarise_plan(explain, BIG, 100_000)
    assert flagged.shape == "Nested Loop(Index Scan using manifest_repo_digest on manifest, Seq Scan on manifest_blob)"
    assert flagged.large_seq_scans == ("manifest_blob",)
    assert flagged.indexes == ("manifest_repo_digest",)
    assert flagged.total_cost == 4980.93
    assert dict(flagged.scans)["manifest_blob"] == "Seq Scan"
    assert summarise_plan(explain, BIG, 300_000).large_seq_scans == ()
    # Never analysed (reltuples -1) or not found: unknown size is not called large.
    assert summarise_plan(explain, {("public", "manifest_blob"): -1.0}, 100_000).large_seq_scans == ()
    assert summarise_plan(explain, {}, 100_000).large_seq_scans == ()


def test_joins_aggregates_and_parallel_nodes_are_named_as_psql_names_them():
    plan = summarise_plan(capture("pg15-left-join-aggregate"), BIG, 100_000)
    assert plan.shape == ("GroupAggregate(Sort(Hash Right Join(Gather(Parallel Seq Scan on manifest_blob), "
                          "Hash(Bitmap Heap Scan on manifest(Bitmap Index Scan using manifest_repo_digest)))))")
    assert plan.large_seq_scans == ("manifest_blob",)
    assert "Aggregate" in plan.node_types and "Gather" in plan.node_types
    assert plan.scans == (("manifest", "Bitmap Heap Scan using manifest_repo_digest"),
                          ("manifest_blob", "Parallel Seq Scan"))


def test_the_fact_holds_no_estimates_so_it_is_stable_across_runs():
    plan = summarise_plan(capture("pg15-seq-scan"), BIG, 100_000)
    fact = plan.fact()
    assert set(fact) == {"access", "shape", "node_types", "relations", "indexes", "seq_scans_on_large_tables"}
    assert fact["access"] == {"manifest": "Index Scan using manifest_repo_digest", "manifest_blob": "Seq Scan"}
    assert "4980" not in json.dumps(fact)
    # The large table's estimated rows ride beside the fact (for the evidence), never in it.
    assert plan.large_rows == {"manifest_blob": 200_000}
    assert "200000" not in json.dumps(fact)


def test_plan_relations_and_schemas():
    assert plan_relations(capture("pg15-index-scan")) == {("public", "manifest"), ("public", "manifest_blob")}
    other = [{"Plan": {"Node Type": "Seq Scan", "Relation Name": "blob", "Schema": "quay", "Total Cost": 3.5}}]
    assert plan_relations(json.dumps(other)) == {("quay", "blob")}  # text form, as some drivers hand it over
    summary = summarise_plan(other, {("quay", "blob"): 1e6}, 100_000)
    assert summary.shape == "Seq Scan on quay.blob"
    assert summary.large_seq_scans == ("quay.blob",)


def test_explain_output_without_a_plan_is_refused():
    with pytest.raises(ValueError, match="no Plan"):
        summarise_plan([{"Planning": {}}], {}, 1)


@pytest.mark.parametrize("text, expected", [
    ("SELECT * FROM manifest WHERE digest = $1", "SELECT * FROM manifest WHERE digest = $1"),
    ("select 'a''b' || $1, $tag$x$tag$", "select '***' || $1, '***'"),
    ("  WITH x AS (SELECT 1)\n  SELECT *\n FROM x", "WITH x AS (SELECT 1) SELECT * FROM x"),
    ("/* app */ UPDATE t SET a = 'secret'", "/* app */ UPDATE t SET a = '***'"),
    ("ALTER ROLE quay PASSWORD 'hunter2'", None),
    ("CREATE ROLE x LOGIN PASSWORD 'hunter2'", None),
    ("<insufficient privilege>", None),
    ("SELECT 1 FROM " + "t" * 300, "SELECT 1 FROM " + "t" * 183 + "..."),
])
def test_statement_text(text, expected):
    assert statement_text(text) == expected


def test_connection_states():
    rows = [("active", 3), ("idle", 10), ("idle in transaction", 2), ("idle in transaction (aborted)", 1),
            ("fastpath function call", 1), (None, 4)]
    assert connection_states(rows) == {"active": 3, "idle": 10, "idle_in_transaction": 2,
                                       "idle_in_transaction_aborted": 1, "other": 1, "hidden": 4, "total": 21}
    assert connection_states([])["total"] == 0


@pytest.mark.parametrize("dsn, secret", [
    ("postgresql://quay:p%zzLeak1@127.0.0.1:1/quay", "zzLeak1"),  # libpq quotes the bad token
    ("host=127.0.0.1 port=1 password='Leak 2' junk", "Leak 2"),
    ("postgresql://quay@127.0.0.1:1/quay?password=Leak3&bogus=1", "Leak3"),
])
def test_dsns_libpq_rejects_fail_without_their_password(dsn, secret):
    ctx = ProbeContext(config=None, samples=1, deadline=float("inf"))
    target = Target(name="db", dsn=dsn)
    with pytest.raises(ConnectionRejected) as info:
        _connect(target, ctx, Attempts(target))
    assert str(info.value).startswith("db: bad DSN: ")  # configuration: retrying cannot help
    assert secret not in str(info.value)
    assert info.value.__cause__ is None and info.value.__suppress_context__


def test_scrub_masks_pgpassword_too(monkeypatch):
    monkeypatch.setenv("PGPASSWORD", "env-Leak4")
    target = Target(name="db", dsn="host=db user=quay")
    assert scrub("auth failed for env-Leak4\n\tdetail", target) == "auth failed for *** detail"


def test_window_deltas_of_pg_stat_database_drop_what_a_reset_touched():
    from triage.probes.pg_stats import DatabaseReading, counter_deltas

    keys = ("blks_hit", "blks_read", "deadlocks")
    before = DatabaseReading({"blks_hit": 1000, "blks_read": 10, "deadlocks": 2}, "2026-01-01")
    after = DatabaseReading({"blks_hit": 1500, "blks_read": 12, "deadlocks": 2}, "2026-01-01")
    assert counter_deltas(before, after, keys) == ({"blks_hit": 500, "blks_read": 2, "deadlocks": 0}, [])
    went_down = DatabaseReading({"blks_hit": 1500, "blks_read": 3, "deadlocks": 2}, "2026-01-01")
    assert counter_deltas(before, went_down, keys) == (
        {"blks_hit": 500, "deadlocks": 0}, ["blks_read went down during the run (a reset): left out"])
    reset = DatabaseReading({"blks_hit": 1600, "blks_read": 20, "deadlocks": 3}, "2026-02-02")
    deltas, notes = counter_deltas(before, reset, keys)
    assert deltas == {} and notes == ["pg_stat_database was reset during the run (stats_reset 2026-01-01 -> "
                                      "2026-02-02): blks_hit, blks_read, deadlocks left out"]


def test_window_deltas_of_pg_stat_statements_per_statement():
    from triage.probes.pg_stats import StatementsReading, statement_deltas

    before = StatementsReading({1: (1000, 8200.0), 2: (10, 5.0), 3: (50, 100.0), 4: (7, 7.0)}, "r0", dealloc=4)
    after = StatementsReading({1: (1100, 8201.7), 2: (10, 5.0), 3: (20, 40.0), 4: (9, 9.5), 5: (2, 30.0)}, "r0",
                              dealloc=6)
    windows, notes = statement_deltas(before, after)
    # Most window time first; 2 did not run in the window; 3 went down; 5 is new.
    assert [(w.queryid, w.calls) for w in windows] == [(5, 2), (4, 2), (1, 100)]
    assert windows[2].mean_ms == pytest.approx(0.017)  # not the lifetime 7.5 ms
    assert notes == ["1 statements' counts went down during the run (reset or evicted): left out",
                     "pg_stat_statements evicted statements 2 times during the run (pg_stat_statements.max): "
                     "a statement evicted and counted again reads low"]
    windows, notes = statement_deltas(before, StatementsReading(after.by_query, "r1"))
    assert windows == [] and notes[0].startswith("pg_stat_statements was reset during the run")
