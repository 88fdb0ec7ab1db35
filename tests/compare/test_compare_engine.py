"""The comparison policy on in-memory snapshots: floors, budgets, kinds, attribution."""

from __future__ import annotations

import json

import numpy as np
import pytest

from triage.layers import below
from triage.budget import parse_budget
from triage.judge import compare_snapshots
from triage.verdict import Comparison
from triage.errors import BadInput, ExitStatus
from triage.model import Measurement, ProbeResult, Snapshot


def snap(label: str, results: dict[tuple[str, str, str], list[Measurement]], *, errors=None, runs_at="T1") -> Snapshot:
    rs = [ProbeResult(layer, probe, target, measurements=tuple(ms)) for (layer, probe, target), ms in results.items()]
    for (layer, probe, target), error in (errors or {}).items():
        rs.append(ProbeResult(layer, probe, target, status="error", error=error))
    return Snapshot(label, runs_at, "host-1", "0.1.0", tuple(rs))


def lognormal(seed: int, median: float, n: int, sigma: float = 0.25) -> list[float]:
    return np.random.default_rng(seed).lognormal(np.log(median), sigma, n).tolist()


def one(kind_key, base: Measurement, cand: Measurement, **kw) -> Comparison:
    return compare_snapshots([snap("a", {kind_key: [base]})], [snap("b", {kind_key: [cand]})], **kw)


DNS = ("dns", "resolve", "quay-db")
APP = ("app", "http", "registry")


def row(c: Comparison, metric_id: str):
    return {m.id: m for m in c.metrics}[metric_id]


def test_significant_but_below_absolute_floor_is_unchanged():
    # 0.10 -> 0.12 ms with 2,000 tight samples: certain, but 0.02 ms is below the 0.05 ms floor.
    c = one(DNS, Measurement.samples("latency", lognormal(1, 0.10, 2000, 0.05)),
            Measurement.samples("latency", lognormal(2, 0.12, 2000, 0.05)))
    m = row(c, "dns.resolve.quay-db.latency")
    assert m.verdict == "unchanged" and c.verdict == "ok"
    assert m.p_adjusted < 1e-50
    assert "within the floors" in m.reason
    assert c.exit_status == ExitStatus.OK


def test_significant_but_below_relative_floor_is_unchanged():
    c = one(APP, Measurement.samples("latency", lognormal(1, 5.0, 3000, 0.05)),
            Measurement.samples("latency", lognormal(2, 5.2, 3000, 0.05)))  # +4%
    assert row(c, "app.http.registry.latency").verdict == "unchanged"


def test_budget_lowers_a_floor_by_glob():
    budget = parse_budget("rules:\n  - match: 'dns.*.*.latency'\n    absolute: 0.01\n", "budgets.yaml")
    c = one(DNS, Measurement.samples("latency", lognormal(1, 0.10, 2000, 0.05)),
            Measurement.samples("latency", lognormal(2, 0.12, 2000, 0.05)), budget=budget)
    m = row(c, "dns.resolve.quay-db.latency")
    assert m.verdict == "regressed" and c.verdict == "regressed"
    assert m.floors.absolute == 0.01 and m.floors.relative == 0.10
    assert m.floors.source == "budgets.yaml:2 (dns.*.*.latency)"


def test_budget_ignore_keeps_a_thin_metric_out_of_the_verdict():
    base = {DNS: [Measurement.samples("latency", [0.1] * 5)], APP: [Measurement.samples("latency", lognormal(1, 5, 50))]}
    cand = {DNS: [Measurement.samples("latency", [0.3] * 5)], APP: [Measurement.samples("latency", lognormal(2, 5, 50))]}
    plain = compare_snapshots([snap("a", base)], [snap("b", cand)])
    assert plain.verdict == "inconclusive" and plain.layers["dns"] == "inconclusive"
    budget = parse_budget("rules:\n  - match: dns.resolve.*\n    ignore: true\n", "b.yaml")
    c = compare_snapshots([snap("a", base)], [snap("b", cand)], budget=budget)
    assert row(c, "dns.resolve.quay-db.latency").verdict == "ignored"
    assert c.verdict == "ok" and c.layers["dns"] == "absent"


def test_fewer_than_8_samples_is_inconclusive_never_regressed():
    c = one(DNS, Measurement.samples("latency", [0.3] * 100), Measurement.samples("latency", [9.0] * 7))
    m = row(c, "dns.resolve.quay-db.latency")
    assert m.verdict == "inconclusive" and c.verdict == "inconclusive"
    assert c.exit_status == ExitStatus.INCONCLUSIVE
    assert m.candidate.n == 7 and m.candidate.p50 == 9.0


def test_eight_clearly_separated_samples_a_side_can_regress():
    c = one(DNS, Measurement.samples("latency", [0.30 + i / 1000 for i in range(8)]),
            Measurement.samples("latency", [1.50 + i / 1000 for i in range(8)]))
    assert row(c, "dns.resolve.quay-db.latency").verdict == "regressed"


def test_metric_on_one_side_is_absent_and_listed():
    base = {DNS: [Measurement.samples("latency", lognormal(1, 0.3, 100)), Measurement.proportion("timeouts", 0, 100)]}
    cand = {DNS: [Measurement.samples("latency", lognormal(2, 0.3, 100)), Measurement.proportion("servfail", 0, 100)]}
    c = compare_snapshots([snap("a", base)], [snap("b", cand)])
    assert row(c, "dns.resolve.quay-db.timeouts").verdict == "absent"
    assert row(c, "dns.resolve.quay-db.timeouts").reason == "only in the baseline"
    assert row(c, "dns.resolve.quay-db.servfail").reason == "only in the candidate"
    assert c.verdict == "ok" and c.counts()["absent"] == 2


def test_gauge_moving_worse_past_the_floors_regresses_without_a_test():
    key = ("kubernetes", "nodes", "cluster")
    c = one(key, Measurement.gauge("not_ready_nodes", 0), Measurement.gauge("not_ready_nodes", 1))
    m = row(c, "kubernetes.nodes.cluster.not_ready_nodes")
    assert m.verdict == "regressed" and m.p_adjusted is None
    assert "single value, no test" in m.reason
    assert c.tests == 0 and c.verdict == "regressed"
    assert c.suspects[0].because.startswith(
        "kubernetes regressed: nodes not_ready_nodes of cluster 0 → 1 (from 0; single value, no test); ")
    same = one(key, Measurement.gauge("ready_pods", 3, better="higher"), Measurement.gauge("ready_pods", 2, better="higher"))
    assert row(same, "kubernetes.nodes.cluster.ready_pods").verdict == "regressed"
    small = one(key, Measurement.gauge("conntrack", 20000), Measurement.gauge("conntrack", 20900))  # +4.5%
    assert row(small, "kubernetes.nodes.cluster.conntrack").verdict == "unchanged"


def test_timeout_rate_1_to_3_percent_at_2000_trials_regresses():
    c = one(DNS, Measurement.proportion("timeouts", 20, 2000), Measurement.proportion("timeouts", 60, 2000))
    m = row(c, "dns.resolve.quay-db.timeouts")
    assert m.verdict == "regressed"
    lead = m.lead_component
    assert lead.name == "rate" and lead.change == pytest.approx(0.02) and lead.ci_low > 0
    assert "timeouts of quay-db 1.00% → 3.00% (+2 pp" in m.describe()
    same = one(DNS, Measurement.proportion("timeouts", 20, 2000), Measurement.proportion("timeouts", 22, 2000))
    assert row(same, "dns.resolve.quay-db.timeouts").verdict == "unchanged"


def test_direction_higher_is_better_and_improvements():
    key = ("database", "query", "image-layer-fetch")
    worse = one(key, Measurement.samples("throughput", lognormal(1, 100, 200), unit="ops/s", better="higher"),
                Measurement.samples("throughput", lognormal(2, 70, 200), unit="ops/s", better="higher"))
    assert row(worse, "database.query.image-layer-fetch.throughput").verdict == "regressed"
    better = one(key, Measurement.samples("throughput", lognormal(1, 100, 200), unit="ops/s", better="higher"),
                 Measurement.samples("throughput", lognormal(2, 140, 200), unit="ops/s", better="higher"))
    m = row(better, "database.query.image-layer-fetch.throughput")
    assert m.verdict == "improved" and better.layers["database"] == "improved" and better.verdict == "ok"
    faster = one(APP, Measurement.samples("latency", lognormal(1, 8, 200)), Measurement.samples("latency", lognormal(2, 5, 200)))
    assert row(faster, "app.http.registry.latency").verdict == "improved"


def test_better_equal_regresses_on_any_significant_change():
    key = ("kernel", "sysctl", "local")
    for cand_median in (70.0, 130.0):
        c = one(key, Measurement.samples("mtu_probe", lognormal(1, 100, 200), unit="count", better="equal"),
                Measurement.samples("mtu_probe", lognormal(2, cand_median, 200), unit="count", better="equal"))
        m = row(c, "kernel.sysctl.local.mtu_probe")
        assert m.verdict == "regressed", cand_median


def test_slow_minority_regresses_through_the_tail_though_the_median_holds():
    rng = np.random.default_rng(3)
    base = rng.lognormal(np.log(5), 0.2, 1000)
    cand = rng.lognormal(np.log(5), 0.2, 1000)
    cand[rng.choice(1000, 30, replace=False)] = 5000.0  # 3% of requests time out at 5 s
    c = one(APP, Measurement.samples("latency", base.tolist()), Measurement.samples("latency", cand.tolist()))
    m = row(c, "app.http.registry.latency")
    assert m.verdict == "regressed"
    assert m.lead_component.name in ("p95", "p99")
    assert m.components[0].name == "median" and m.components[0].verdict == "unchanged"


def test_failed_probe_makes_its_layer_failed_and_the_verdict_inconclusive():
    base = snap("a", {DNS: [Measurement.samples("latency", lognormal(1, 0.3, 100))],
                      APP: [Measurement.samples("latency", lognormal(2, 5, 100))]})
    cand = snap("b", {APP: [Measurement.samples("latency", lognormal(3, 5, 100))]},
                errors={DNS: "TimeoutError: timed out after 30s", ("kernel", "netstat", "local"): "OSError: denied"})
    c = compare_snapshots([base], [cand])
    assert c.layers["dns"] == "failed" and c.layers["kernel"] == "failed"
    assert c.verdict == "inconclusive" and c.exit_status == ExitStatus.INCONCLUSIVE
    assert sorted(f.probe for f in c.candidate.failures) == ["netstat", "resolve"]
    assert "probes failed in kernel, dns" in c.reason


def test_a_probe_failing_in_one_of_two_pooled_runs_is_listed_not_blocking():
    run1 = snap("b", {DNS: [Measurement.samples("latency", lognormal(1, 0.3, 100))]})
    run2 = snap("b", {}, errors={DNS: "TimeoutError: timed out"})
    base = snap("a", {DNS: [Measurement.samples("latency", lognormal(2, 0.3, 100))]})
    c = compare_snapshots([base], [run1, run2])
    failure, = c.candidate.failures
    assert (failure.runs, failure.of_runs, failure.blocking) == (1, 2, False)
    assert c.layers["dns"] == "ok" and c.verdict == "ok"


def test_regression_wins_over_failures_elsewhere():
    base = snap("a", {APP: [Measurement.samples("latency", lognormal(1, 5, 100))]})
    cand = snap("b", {APP: [Measurement.samples("latency", lognormal(2, 9, 100))]}, errors={DNS: "boom"})
    c = compare_snapshots([base], [cand])
    assert c.verdict == "regressed"
    s, = c.suspects
    assert s.layer == "app" and s.role == "root"
    assert "dns could not be judged (dns failed)" in s.because and "not ruled out below" in s.because


def test_two_unrelated_roots_and_a_downstream_layer():
    """Kubernetes and the database both regress while DNS and the kernel hold: two roots
    (neither depends on the other), and the app downstream of both."""
    def side(seed: int, api_ms: float, db_ms: float, app_ms: float) -> Snapshot:
        return snap("x", {("kernel", "tcp_connect", "db"): [Measurement.samples("latency", lognormal(seed, 0.08, 200))],
                          DNS: [Measurement.samples("latency", lognormal(seed + 1, 0.3, 200))],
                          ("kubernetes", "api", "cluster"): [Measurement.samples("latency", lognormal(seed + 4, api_ms, 200))],
                          ("database", "query", "image-layer-fetch"): [Measurement.samples("latency", lognormal(seed + 2, db_ms, 200))],
                          APP: [Measurement.samples("latency", lognormal(seed + 3, app_ms, 200))]})
    c = compare_snapshots([side(10, 20.0, 2.0, 5.0)], [side(20, 60.0, 20.0, 9.0)])
    assert [(s.layer, s.role) for s in c.suspects] == [("kubernetes", "root"), ("database", "root"), ("app", "downstream")]
    assert c.suspects[2].downstream_of == ("kubernetes", "database")
    assert c.suspects[2].because.endswith("below it kubernetes, database regressed → downstream of kubernetes, database")
    assert c.suspects[1].because.startswith("database regressed: median query latency of image-layer-fetch +")
    assert c.suspects[1].because.endswith("nothing below it (kernel, dns) regressed → root suspect")
    dns_below = compare_snapshots([side(10, 20.0, 2.0, 5.0)], [side(20, 20.0, 20.0, 5.0)])
    assert [(s.layer, s.role) for s in dns_below.suspects] == [("database", "root")]


def test_kind_or_unit_mismatch_is_inconclusive():
    c = one(DNS, Measurement.samples("latency", lognormal(1, 0.3, 100), unit="ms"),
            Measurement.samples("latency", lognormal(1, 0.0003, 100), unit="s"))
    m = row(c, "dns.resolve.quay-db.latency")
    assert m.verdict == "inconclusive" and m.reason == "unit differs (ms vs s)"


def test_holm_across_metrics_with_bonferroni_min_inside_each():
    from triage.stats import benjamini_hochberg, holm

    rng = np.random.default_rng(0)
    base = {("app", "http", f"t{i}"): [Measurement.samples("latency", rng.lognormal(1.6, 0.3, 200).tolist())]
            for i in range(10)}
    cand = {("app", "http", f"t{i}"): [Measurement.samples("latency", rng.lognormal(1.6 + 0.03 * i, 0.3, 200).tolist())]
            for i in range(10)}
    base[("dns", "resolve", "db")] = [Measurement.proportion("timeouts", 20, 2000)]
    cand[("dns", "resolve", "db")] = [Measurement.proportion("timeouts", 45, 2000)]
    c = compare_snapshots([snap("a", base)], [snap("b", cand)])
    metrics = sorted(c.metrics, key=lambda m: m.id)
    assert c.tests == 11
    tested = [[x for x in m.components if x.p is not None] for m in metrics]
    assert [len(t) for t in tested] == [2] * 10 + [1]  # median + p95 (p99 untestable at 200 a side); rate
    metric_p = [min(1.0, len(t) * min(x.p for x in t)) for t in tested]
    assert [m.p_adjusted for m in metrics] == pytest.approx(holm(metric_p))
    assert [m.q for m in metrics] == pytest.approx(benjamini_hochberg(metric_p))
    # A component's adjusted p is never below its metric's, and reaches it for the smallest p.
    for m, t in zip(metrics, tested):
        assert all(x.p_adjusted >= m.p_adjusted - 1e-15 for x in t)
        assert min(x.p_adjusted for x in t) == pytest.approx(m.p_adjusted)


def test_the_component_that_passes_the_floors_must_be_the_significant_one():
    """A certain median shift below the floor plus a floor-passing tail that is not
    significant do not add up to a regression."""
    rng = np.random.default_rng(1)
    base = rng.lognormal(np.log(0.100), 0.05, 1000)
    cand = rng.lognormal(np.log(0.103), 0.05, 1000)  # +3%: certain with 1,000 a side, under the floors
    base[:9] = 0.5  # nine slow values: the baseline's p99 (11th largest) stays in the body ...
    cand[:11] = 0.5  # ... the candidate's eleven put its p99 at 0.5 ms, past the floors, by chance
    base_side = {DNS: [Measurement.samples("latency", base.tolist())]}
    cand_side = {DNS: [Measurement.samples("latency", cand.tolist())]}
    for i in range(20):
        key = ("app", "http", f"t{i}")
        base_side[key] = [Measurement.samples("latency", lognormal(100 + i, 5, 100))]
        cand_side[key] = [Measurement.samples("latency", lognormal(200 + i, 5, 100))]
    c = compare_snapshots([snap("a", base_side)], [snap("b", cand_side)])
    m = row(c, "dns.resolve.quay-db.latency")
    median, p95, p99 = m.components
    assert median.p_adjusted < 1e-10 and not median.practical
    assert p99.practical and p99.candidate > 0.4 and 0.01 < p99.p_adjusted
    assert m.p_adjusted < 1e-10  # the metric is significant ...
    assert m.verdict == "unchanged"  # ... but not through a component that matters
    assert "within the floors" in m.reason


def test_same_input_same_comparison_and_json_round_trip():
    def side(seed: int, shift: float) -> Snapshot:
        return snap("x", {DNS: [Measurement.samples("latency", lognormal(seed, 0.3 * shift, 600)),
                                Measurement.proportion("timeouts", 3, 600)],
                          APP: [Measurement.samples("latency", lognormal(seed + 1, 5 * shift, 300)),
                                Measurement.gauge("ready_pods", 3, better="higher"),
                                Measurement.fact("image", {"tag": "v1", "digest": "sha256:ab"})]})
    first = compare_snapshots([side(1, 1.0)], [side(2, 1.5)])
    second = compare_snapshots([side(1, 1.0)], [side(2, 1.5)])
    assert first.to_json() == second.to_json()
    data = json.loads(first.to_json())
    again = Comparison.from_dict(data)
    assert again.to_json() == first.to_json()
    assert again == first


def test_comparison_json_contract():
    base = snap("4.3.18", {DNS: [Measurement.samples("latency", lognormal(1, 0.3, 100))]})
    cand = snap("4.3.19", {DNS: [Measurement.samples("latency", lognormal(2, 1.5, 100))]})
    d = json.loads(compare_snapshots([base], [cand]).to_json())
    assert {"verdict", "suspects", "layers", "metrics"} <= set(d)
    assert d["verdict"] in ("regressed", "ok", "inconclusive")
    assert set(d["layers"].values()) <= {"regressed", "improved", "ok", "inconclusive", "failed", "absent"}
    s = d["suspects"][0]
    assert {"layer", "role", "because", "evidence"} <= set(s)
    m = d["metrics"][0]
    assert {"baseline", "candidate", "change", "p_adjusted", "q", "verdict"} <= set(m)
    assert {"p50", "p95", "p99", "n"} <= set(m["baseline"]) and {"p50", "p95", "p99", "n"} <= set(m["candidate"])
    assert {"absolute", "relative", "ci"} <= set(m["change"])
    assert d["baseline"]["labels"] == ["4.3.18"] and d["candidate"]["hosts"] == ["host-1"]


def test_bad_alpha_is_bad_input():
    with pytest.raises(BadInput):
        compare_snapshots([], [], alpha=0.0)


def test_nothing_in_common_is_inconclusive():
    c = compare_snapshots([snap("a", {})], [snap("b", {})])
    assert c.verdict == "inconclusive" and c.reason == "no metric was measured on both sides"


def test_dependency_graph():
    assert below("kernel") == ()
    assert below("dns") == ("kernel",)
    assert below("app") == ("kernel", "dns", "kubernetes", "database")


def counter(metric: str, count: int, window_s: float | None = None) -> Measurement:
    extra = {"counter": True} | ({"window_s": window_s} if window_s else {})
    return Measurement(metric, "gauge", "lower", "count", value=count, extra=extra)


def test_window_event_counters_are_tested_as_poisson_counts_not_flagged_on_flicker():
    key = ("kernel", "counters", "local")
    flicker = one(key, counter("tcp_estab_resets", 0), counter("tcp_estab_resets", 1))
    m = row(flicker, "kernel.counters.local.tcp_estab_resets")
    assert m.verdict == "unchanged" and flicker.verdict == "ok"
    assert m.lead_component.name == "count" and m.p == 0.5
    storm = one(key, counter("tcp_estab_resets", 2), counter("tcp_estab_resets", 60))
    assert row(storm, "kernel.counters.local.tcp_estab_resets").verdict == "regressed"
    # The same 60 events over a window 30 times longer are the same rate: no regression.
    longer = one(key, counter("tcp_estab_resets", 2, window_s=1.0), counter("tcp_estab_resets", 60, window_s=30.0))
    m = row(longer, "kernel.counters.local.tcp_estab_resets")
    assert m.verdict == "unchanged" and m.lead_component.change == pytest.approx(0.0)
    assert "over 1 s vs 30 s" in m.lead_component.note
    # A state gauge keeps the floors-only rule: NotReady 0 -> 1 is a regression.
    state = one(("kubernetes", "nodes", "cluster"), Measurement.gauge("not_ready_nodes", 0),
                Measurement.gauge("not_ready_nodes", 1))
    assert state.verdict == "regressed"


def test_counters_pool_events_and_windows_across_runs():
    key = ("kernel", "counters", "local")
    base = [snap("a", {key: [counter("drops", 1, 10.0)]}), snap("a", {key: [counter("drops", 2, 10.0)]})]
    cand = [snap("b", {key: [counter("drops", 30, 10.0)]})]
    m = row(compare_snapshots(base, cand), "kernel.counters.local.drops")
    comp = m.lead_component
    assert (comp.baseline, comp.candidate, comp.change) == (3, 30, pytest.approx(57.0))
    assert m.verdict == "regressed"


def test_proportions_need_trials_not_a_minimum_count():
    """Fisher's test is exact at any size: a host counter's rate over a handful of datagrams is
    judged (and cannot reach significance), it does not make the comparison inconclusive."""
    key = ("kernel", "counters", "local")
    thin = one(key, Measurement.proportion("udp_in_error_rate", 0, 2), Measurement.proportion("udp_in_error_rate", 1, 3))
    m = row(thin, "kernel.counters.local.udp_in_error_rate")
    assert m.verdict == "unchanged" and thin.verdict == "ok" and m.p > 0.5
    extreme = one(key, Measurement.proportion("errors", 0, 200), Measurement.proportion("errors", 5, 5))
    assert row(extreme, "kernel.counters.local.errors").verdict == "regressed"  # 5 of 5 failed: exact p ~ 4e-10
    empty = one(key, Measurement.proportion("errors", 0, 200), Measurement.proportion("errors", 0, 0))
    assert row(empty, "kernel.counters.local.errors").verdict == "inconclusive" and empty.verdict == "inconclusive"
