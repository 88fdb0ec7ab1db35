"""A changed fact reads by its difference (triage.factdiff), and a failure rate by its kinds
and the figures its probe attached: the sentences of the evidence, on in-memory snapshots."""

from __future__ import annotations

import json

from triage.factdiff import LIMIT, changed_phrase, describe_change, list_change
from triage.judge import compare_snapshots
from triage.model import Measurement, ProbeResult, Snapshot
from triage.verdict import Comparison

INDEX_PLAN = {
    "access": {"manifest": "Index Scan using manifest_repo_digest",
               "manifest_blob": "Index Scan using manifest_blob_repo_manifest"},
    "shape": "Nested Loop(Index Scan using manifest_repo_digest on manifest, "
             "Index Scan using manifest_blob_repo_manifest on manifest_blob)",
    "node_types": ["Index Scan", "Nested Loop"],
    "relations": ["manifest", "manifest_blob"],
    "indexes": ["manifest_blob_repo_manifest", "manifest_repo_digest"],
    "seq_scans_on_large_tables": [],
}
SEQ_PLAN = {
    "access": {"manifest": "Index Scan using manifest_repo_digest", "manifest_blob": "Seq Scan"},
    "shape": "Nested Loop(Index Scan using manifest_repo_digest on manifest, Seq Scan on manifest_blob)",
    "node_types": ["Index Scan", "Nested Loop", "Seq Scan"],
    "relations": ["manifest", "manifest_blob"],
    "indexes": ["manifest_repo_digest"],
    "seq_scans_on_large_tables": ["manifest_blob"],
}


def test_a_plan_reads_by_the_relation_whose_access_path_changed_then_the_rest():
    text = describe_change(INDEX_PLAN, SEQ_PLAN)
    assert text == ("manifest_blob Index Scan using manifest_blob_repo_manifest → Seq Scan; "
                    "indexes −manifest_blob_repo_manifest; node_types +Seq Scan; "
                    "seq_scans_on_large_tables +manifest_blob; shape changed")
    # And back: the index found again.
    assert describe_change(SEQ_PLAN, INDEX_PLAN).startswith(
        "manifest_blob Seq Scan → Index Scan using manifest_blob_repo_manifest; indexes +manifest_blob_repo_manifest")


def test_an_access_path_reads_whole_and_a_shape_only_as_changed():
    old = {"access": {"manifestblob": "Index Only Scan using manifestblob_repository_id_blob_id"}, "shape": "A" * 65}
    new = {"access": {"manifestblob": "Seq Scan"}, "shape": "B" * 65}
    assert describe_change(old, new) == ("manifestblob Index Only Scan using manifestblob_repository_id_blob_id → "
                                         "Seq Scan; shape changed")


def test_lists_mappings_and_plain_values():
    assert list_change(["4.18", "5.14"], ["5.14", "6.1"]) == "+6.1, −4.18"
    assert list_change([1, 2], [2, 1]) == "reordered"
    assert list_change(["172.30.0.10"], ["172.30.0.11"]) == '["172.30.0.10"] → ["172.30.0.11"]'
    assert describe_change({"ndots": 5, "search": ["a", "b"]}, {"ndots": 2, "search": ["a"]}) == \
        "search −b; ndots 5 → 2"
    assert describe_change({"a": 1}, {"a": 1, "b": "x"}) == "+b x"
    assert describe_change({"a": 1, "b": 2}, {"a": 1}) == "−b"
    assert describe_change("4.18.0", "5.14.0") == "4.18.0 → 5.14.0"
    # Lists of mappings are not diffed item by item: both values, shortened.
    assert describe_change([{"a": 1}], [{"a": 2}]) == '[{"a": 1}] → [{"a": 2}]'
    assert changed_phrase("4.18", "5.14") == "changed 4.18 → 5.14"
    assert changed_phrase({"a": [1, 3]}, {"a": [2, 3]}) == "changed: a +2, −1"


def test_a_long_difference_is_cut_at_a_part_and_counts_the_rest():
    old = {f"sysctl_{i:02d}": i for i in range(40)}
    new = {k: v + 1 for k, v in old.items()}
    text = describe_change(old, new)
    assert len(text) <= LIMIT
    assert text.startswith("sysctl_00 0 → 1; sysctl_01 1 → 2;")
    shown = text.count("→")
    assert text.endswith(f"; and {40 - shown} more")


def _snap(label: str, results: dict[tuple[str, str, str], list[Measurement]]) -> Snapshot:
    return Snapshot(label, "T", "host-1", "0.1.0",
                    tuple(ProbeResult(l, p, t, measurements=tuple(ms)) for (l, p, t), ms in results.items()))


def _plan(value: dict, rows: dict | None = None) -> Measurement:
    return Measurement("plan", "fact", "equal", value=value, extra={"context": {"rows": rows}} if rows else {})


def _evidence(c: Comparison) -> dict[str, str]:
    return {e.metric: e.text for s in c.suspects for e in s.evidence}


def test_the_plan_evidence_names_the_relation_the_access_path_and_the_big_table():
    key = ("database", "query", "registry-db/image-layer-fetch")
    errors = ("database", "connect", "registry-db")
    base = _snap("4.3.18", {key: [_plan(INDEX_PLAN)], errors: [Measurement.proportion("connect_errors", 0, 100)]})
    cand = _snap("4.3.19", {key: [_plan(SEQ_PLAN, {"manifest_blob": 200_000})],
                            errors: [Measurement.proportion("connect_errors", 40, 100)]})
    c = compare_snapshots([base], [cand])
    assert c.layers["database"] == "regressed"
    text = _evidence(c)["database.query.registry-db/image-layer-fetch.plan"]
    assert text.startswith("query plan of registry-db/image-layer-fetch changed: "
                           "manifest_blob Index Scan using manifest_blob_repo_manifest → Seq Scan; ")
    assert text.endswith("(rows: manifest_blob 200,000)")
    assert '{"' not in text  # never the JSON of both values


def test_a_failure_rate_says_its_kinds_and_the_last_reading_and_they_survive_json():
    key = ("database", "connect", "registry-db")
    last = [["connections", 37], ["max_connections", 40], ["idle", 37]]
    base = _snap("a", {key: [Measurement.proportion("connect_errors", 0, 60)]})
    runs = [_snap("b", {key: [Measurement("connect_errors", "proportion", "lower", events=n, trials=30,
                                          extra={"kinds": kinds, "combine": "registry-db", **extra})]})
            for n, kinds, extra in ((30, {"too many clients": 30}, {}),
                                    (30, {"too many clients": 28, "connect timeout": 2},
                                     {"context": {"last reading": last}}))]
    c = compare_snapshots([base], runs)
    suspect = c.suspects[0]
    assert (suspect.layer, suspect.role) == ("database", "root")
    assert "connect connect_errors of registry-db 0.00% → 100.0% (+100 pp" in suspect.because
    assert suspect.because.count("too many clients 58, connect timeout 2; last reading: connections 37, "
                                 "max_connections 40, idle 37)") == 1
    again = Comparison.from_json(c.to_json())
    row = next(m for m in again.metrics if m.metric == "connect_errors")
    assert dict(row.candidate.kinds) == {"too many clients": 58, "connect timeout": 2}
    assert row.candidate.context == {"last reading": last}
    assert row.describe() == next(m for m in c.metrics if m.metric == "connect_errors").describe()
    assert json.loads(c.to_json())["metrics"][0]["candidate"]["kinds"] == {"too many clients": 58,
                                                                          "connect timeout": 2}
