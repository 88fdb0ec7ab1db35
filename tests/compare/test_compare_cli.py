"""`triage compare` end to end: the CLI (in-process, tests/cli_runner.py) over stored v1 snapshots."""

from __future__ import annotations

import json
import os

from triage.model import Snapshot
from triage.store import SnapshotStore


def test_dns_and_app_slower_blames_dns_as_root_and_app_downstream(run_triage, fixture_path):
    res = run_triage("compare", fixture_path("baseline-4.3.18.json"), fixture_path("candidate-dns-app.json"),
                     "--format", "json")
    assert res.code == 3, res.stderr
    out = res.json()
    assert out["schema"] == "triage.comparison/v1"
    assert out["verdict"] == "regressed"
    assert out["layers"] == {"kernel": "ok", "dns": "regressed", "kubernetes": "absent", "database": "absent",
                             "app": "regressed"}
    roles = {s["layer"]: s["role"] for s in out["suspects"]}
    assert roles == {"dns": "root", "app": "downstream"}
    dns, app = out["suspects"]
    assert dns["layer"] == "dns" and app["layer"] == "app"
    assert dns["because"].startswith("dns regressed: median resolve latency of quay-db +1.2")
    assert "nothing below it (kernel) regressed → root suspect" in dns["because"]
    assert "95% CI" in dns["because"]
    assert app["because"].endswith("below it dns regressed → downstream of dns")
    assert app["downstream_of"] == ["dns"]
    # The changed resolver config rides along as evidence on the dns suspect.
    assert {"metric": "dns.config.local.nameservers", "kind": "changed"}.items() <= dns["evidence"][-1].items()
    rows = {m["id"]: m for m in out["metrics"]}
    dns_latency = rows["dns.resolve.quay-db.latency"]
    assert dns_latency["verdict"] == "regressed"
    assert 0.25 < dns_latency["baseline"]["p50"] < 0.35 and 1.3 < dns_latency["candidate"]["p50"] < 1.7
    assert dns_latency["change"]["component"] == "median"
    low, high = dns_latency["change"]["ci"]
    assert 1.0 < low < dns_latency["change"]["absolute"] < high < 1.4
    assert dns_latency["p_adjusted"] < 1e-10
    assert rows["kernel.tcp_connect.quay-db.latency"]["verdict"] == "unchanged"
    # Metrics come most severe first.
    assert [m["verdict"] for m in out["metrics"][:2]] == ["regressed", "regressed"]


def test_only_app_slower_makes_app_the_root(run_triage, fixture_path):
    res = run_triage("compare", fixture_path("baseline-4.3.18.json"), fixture_path("candidate-app-only.json"),
                     "--format", "json")
    assert res.code == 3, res.stderr
    out = res.json()
    assert [(s["layer"], s["role"]) for s in out["suspects"]] == [("app", "root")]
    assert "nothing below it (kernel, dns, kubernetes, database) regressed → root suspect" in out["suspects"][0]["because"]
    assert out["layers"]["dns"] == "ok" and out["layers"]["kernel"] == "ok"


def test_a_a_pair_exits_0(run_triage, fixture_path):
    res = run_triage("compare", fixture_path("baseline-4.3.18.json"), fixture_path("candidate-aa.json"),
                     "--format", "json")
    assert res.code == 0, res.stderr
    out = res.json()
    assert out["verdict"] == "ok" and out["suspects"] == []
    assert out["counts"]["regressed"] == 0 and out["counts"]["unchanged"] == 9


def test_a_a_pair_says_what_it_ruled_out_and_require_decided_exits_4(run_triage, fixture_path):
    args = ("compare", fixture_path("baseline-4.3.18.json"), fixture_path("candidate-aa.json"))
    plain = run_triage(*args)
    assert plain.code == 0, plain.stderr
    out = run_triage(*args, "--format", "json").json()
    decided = out["decisions"]
    assert decided["regressed"] == 0 and decided["ruled_out"] >= 1 and decided["undecided"] >= 1
    sentence = (f"{decided['ruled_out']} of {decided['ruled_out'] + decided['undecided']} metrics ruled out a "
                f"regression past their floors; {decided['undecided']} undecided (too few samples or too noisy)")
    assert out["reason"].endswith(sentence) and sentence in " ".join(plain.stdout.split())  # the terminal wraps
    assert set(out["layer_decisions"]) == set(out["layers"])
    strict = run_triage(*args, "--require-decided", "--format", "json")
    assert strict.code == 4, strict.stderr
    assert strict.json()["verdict"] == "inconclusive" and "--require-decided" in strict.json()["reason"]


def test_truncated_snapshot_exits_2_naming_the_file(run_triage, fixture_path):
    res = run_triage("compare", fixture_path("baseline-4.3.18.json"), fixture_path("truncated.json"))
    assert res.code == 2
    assert res.stdout == ""
    line = res.stderr.strip()
    assert len(line.splitlines()) == 1
    assert "truncated.json" in line and "not valid JSON" in line


def test_missing_file_exits_2(run_triage, fixture_path, tmp_path):
    res = run_triage("compare", fixture_path("baseline-4.3.18.json"), str(tmp_path / "nope.json"))
    assert res.code == 2
    assert "nope.json: no such snapshot JSON file" in res.stderr


def _store_with(tmp_path, fixture_path, runs: dict[str, list[str]]) -> str:
    store = SnapshotStore(str(tmp_path / "store"))
    for label, names in runs.items():
        for name in names:
            store.save(label, fixture_path(name))
    return store.root


def test_unknown_label_exits_2_listing_known_labels(run_triage, fixture_path, tmp_path):
    root = _store_with(tmp_path, fixture_path, {"4.3.18": ["baseline-4.3.18.json"],
                                                "4.3.19": ["candidate-dns-app.json"]})
    res = run_triage("compare", "4.3.18", "4.3.20", "--store", root)
    assert res.code == 2
    assert "unknown label '4.3.20'" in res.stderr
    assert "known labels: 4.3.18, 4.3.19" in res.stderr


def test_labels_pool_all_their_runs(run_triage, fixture_path, tmp_path):
    root = _store_with(tmp_path, fixture_path, {"4.3.18": ["baseline-4.3.18.json", "baseline-4.3.18-run2.json"],
                                                "4.3.19": ["candidate-dns-app.json"]})
    res = run_triage("compare", "4.3.18", "4.3.19", "--format", "json", env={"TRIAGE_STORE": root})
    assert res.code == 3, res.stderr
    out = res.json()
    assert out["baseline"]["source"] == "label" and out["baseline"]["runs"] == 2
    assert out["baseline"]["labels"] == ["4.3.18", "4.3.18"]
    rows = {m["id"]: m for m in out["metrics"]}
    assert rows["dns.resolve.quay-db.latency"]["baseline"]["n"] == 400  # 200 + 200 samples
    assert rows["dns.resolve.quay-db.timeouts"]["baseline"]["trials"] == 400
    assert rows["kernel.netstat.local.udp_rcvbuf_errors"]["baseline"]["values"] == [0, 0]
    assert [s["layer"] for s in out["suspects"]] == ["dns", "app"]


def test_label_against_file(run_triage, fixture_path, tmp_path):
    root = _store_with(tmp_path, fixture_path, {"4.3.18": ["baseline-4.3.18.json"]})
    res = run_triage("compare", "4.3.18", fixture_path("candidate-aa.json"), "--store", root, "--format", "json")
    assert res.code == 0, res.stderr
    assert res.json()["candidate"]["source"] == "file"


def test_failed_probe_is_inconclusive_not_ok(run_triage, fixture_path):
    res = run_triage("compare", fixture_path("baseline-4.3.18.json"), fixture_path("candidate-dns-failed.json"),
                     "--format", "json")
    assert res.code == 4, res.stderr
    out = res.json()
    assert out["verdict"] == "inconclusive"
    assert out["layers"]["dns"] == "failed"
    assert out["candidate"]["failures"][0]["error"] == "TimeoutError: timed out after 30s"
    rows = {m["id"]: m for m in out["metrics"]}
    assert rows["dns.resolve.quay-db.latency"]["verdict"] == "failed"


def test_too_few_samples_is_inconclusive(run_triage, fixture_path):
    res = run_triage("compare", fixture_path("baseline-4.3.18.json"), fixture_path("candidate-few-samples.json"),
                     "--format", "json")
    assert res.code == 4
    rows = {m["id"]: m for m in res.json()["metrics"]}
    assert rows["dns.resolve.quay-db.latency"]["verdict"] == "inconclusive"
    assert "too few samples (200 vs 5" in rows["dns.resolve.quay-db.latency"]["reason"]
    assert rows["dns.resolve.quay-db.timeouts"]["verdict"] == "unchanged"  # 0/200 vs 0/5: exact test, no minimum


def test_table_view_without_colour(run_triage, fixture_path):
    res = run_triage("compare", fixture_path("baseline-4.3.18.json"), fixture_path("candidate-dns-app.json"),
                     env={"NO_COLOR": "1"})
    assert res.code == 3
    assert "\x1b[" not in res.stdout
    assert "REGRESSED" in res.stdout
    assert "ROOT SUSPECT dns regressed" in res.stdout
    assert "6 unchanged metrics not shown (--all shows them)." in res.stdout
    # Rows sit under a `layer.probe · target` heading and name their metric.
    assert "kernel.tcp_connect · quay-db" not in res.stdout
    shown_all = run_triage("compare", fixture_path("baseline-4.3.18.json"), fixture_path("candidate-dns-app.json"),
                           "--all", env={"NO_COLOR": "1"})
    lines = shown_all.stdout.splitlines()
    heading = lines.index("kernel.tcp_connect · quay-db")
    assert lines[heading + 1].split()[0] == "latency"
    assert "not shown" not in shown_all.stdout


def test_markdown_format(run_triage, fixture_path):
    res = run_triage("compare", fixture_path("baseline-4.3.18.json"), fixture_path("candidate-dns-app.json"),
                     "--format", "markdown")
    assert res.code == 3
    assert res.stdout.startswith("**Verdict: regressed** — regression in dns, app\n")
    assert "| dns.resolve.quay-db.latency | median |" in res.stdout
    assert "- **dns** (root suspect): dns regressed:" in res.stdout


def test_bad_arguments_exit_2(run_triage, fixture_path):
    base, cand = fixture_path("baseline-4.3.18.json"), fixture_path("candidate-aa.json")
    bad_format = run_triage("compare", base, cand, "--format", "xml")
    assert bad_format.code == 2 and "--format: expected one of table, json, markdown" in bad_format.stderr
    bad_alpha = run_triage("compare", base, cand, "--alpha", "0.7")
    assert bad_alpha.code == 2 and "--alpha" in bad_alpha.stderr
    missing = run_triage("compare", base)
    assert missing.code == 2


def test_budget_file_errors_name_file_and_line(run_triage, fixture_path, tmp_path):
    budget = tmp_path / "budgets.yaml"
    budget.write_text("rules:\n  - match: 'dns.*'\n    relative: lots\n")
    res = run_triage("compare", fixture_path("baseline-4.3.18.json"), fixture_path("candidate-aa.json"),
                     "--budget", str(budget))
    assert res.code == 2
    assert f"{budget}:3: rules[0].relative: expected a fraction like 0.1 or a percentage like 10%" in res.stderr


def test_budget_turns_a_fact_change_into_a_regression(run_triage, fixture_path, tmp_path, snapshot_dict):
    cand = snapshot_dict("candidate-aa.json")
    for result in cand["results"]:
        for m in result["measurements"]:
            if m["metric"] == "kernel_release":
                m["value"] = "4.18.0-147.13.2.el8_1"
    cand_path = tmp_path / "cand.json"
    cand_path.write_text(json.dumps(cand))
    base = fixture_path("baseline-4.3.18.json")
    plain = run_triage("compare", base, str(cand_path), "--format", "json")
    assert plain.code == 0
    assert {m["id"]: m["verdict"] for m in plain.json()["metrics"]}["kernel.netstat.local.kernel_release"] == "changed"
    budget = tmp_path / "budgets.yaml"
    budget.write_text("rules:\n  - match: 'kernel.*.*.kernel_release'\n    regress_on_change: true\n")
    res = run_triage("compare", base, str(cand_path), "--format", "json", "--budget", str(budget))
    assert res.code == 3
    out = res.json()
    assert out["suspects"][0]["layer"] == "kernel" and out["suspects"][0]["role"] == "root"
    assert "kernel is the bottom of the stack" in out["suspects"][0]["because"]
    assert out["budget"] == str(budget)


def test_saved_json_renders_again(run_triage, fixture_path, tmp_path):
    """A comparison saved with --format json rebuilds into the same Comparison."""
    from triage.report import render
    from triage.verdict import Comparison

    res = run_triage("compare", fixture_path("baseline-4.3.18.json"), fixture_path("candidate-dns-app.json"),
                     "--format", "json")
    again = Comparison.from_dict(res.json())
    assert again.to_dict() == res.json()
    md = run_triage("compare", fixture_path("baseline-4.3.18.json"), fixture_path("candidate-dns-app.json"),
                    "--format", "markdown")
    assert render(again, "markdown") == md.stdout.rstrip("\n") + "\n"


def test_help_is_fast_and_lists_compare(run_triage):
    res = run_triage("--help")
    assert res.code == 0 and "compare" in res.stdout
    res = run_triage("compare", "--help")
    assert res.code == 0 and "--budget" in res.stdout and "Exit codes" in res.stdout


def test_fixture_files_are_what_the_generator_writes(fixture_path, tmp_path):
    """The committed snapshots are reproducible from the seeded generator."""
    import runpy

    generator = runpy.run_path(fixture_path("make_fixtures.py"))
    data = generator["snapshot"]("4.3.18", 1)
    stored = Snapshot.load(fixture_path("baseline-4.3.18.json"))
    assert Snapshot.from_dict(data).to_dict() == stored.to_dict()
    assert os.path.getsize(fixture_path("truncated.json")) < os.path.getsize(fixture_path("baseline-4.3.18.json"))
