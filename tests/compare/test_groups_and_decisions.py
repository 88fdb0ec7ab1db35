"""Judging values taken in groups, the primary failure rates' share of α, and "ruled out"."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import scipy.stats as ss

from triage import stats
from triage.judge import compare_snapshots
from triage.model import Measurement, ProbeResult, Snapshot
from triage.stats.clustered import permutation_floor, t_ppf_upper, t_sf
from triage.verdict import Comparison


def snap(label: str, results: dict[tuple[str, str, str], list[Measurement]]) -> Snapshot:
    rs = [ProbeResult(layer, probe, target, measurements=tuple(ms)) for (layer, probe, target), ms in results.items()]
    return Snapshot(label, "T", "host-1", "0.1.0", tuple(rs))


def grouped(rng: np.random.Generator, modes: list[float], per: int = 20, sigma: float = 0.05) -> tuple[list, list]:
    """One group per mode: ``per`` values around that group's own median (a connection
    whose placement made it fast or slow as a whole)."""
    values = [float(v) for mode in modes for v in rng.lognormal(math.log(mode), sigma, per)]
    return values, [per] * len(modes)


DB = ("database", "query", "quay/image-layer-fetch")


def row(c: Comparison, metric_id: str):
    return {m.id: m for m in c.metrics}[metric_id]


# ---------------------------------------------------------------- the statistics


@pytest.mark.parametrize("df", [1, 3, 9, 29, 250])
def test_student_t_matches_scipy(df):
    for t in (0.01, 0.7, 2.0, 5.5, 30.0):
        assert t_sf(t, df) == pytest.approx(ss.t.sf(t, df), rel=1e-9, abs=1e-300)
        assert t_sf(-t, df) == pytest.approx(ss.t.sf(-t, df), rel=1e-9)
    for p in (0.025, 1e-3, 1e-6):
        assert t_ppf_upper(p, df) == pytest.approx(ss.t.isf(p, df), rel=1e-9)


def test_shift_test_with_one_value_per_group_is_brunner_munzel():
    rng = np.random.default_rng(3)
    a, b = rng.normal(0, 1, 80), rng.normal(0.4, 1.5, 60)
    got = stats.clustered_shift_test(a, None, b, None)
    want = ss.brunnermunzel(b, a, alternative="greater", distribution="normal")
    # Brunner–Munzel's statistic with the normal reference; ours uses t(min K − 1) = t(59).
    t = (got.statistic - 0.5) / math.sqrt(got.design_effect * (len(a) + len(b) + 1) / (12 * len(a) * len(b)))
    assert ss.norm.sf(t) == pytest.approx(want.pvalue, rel=1e-9)
    assert got.p_greater == pytest.approx(ss.t.sf(t, 59), rel=1e-9)
    assert got.groups == (80, 60) and got.df == 59


def test_groups_that_differ_as_wholes_are_not_a_shift():
    # Each group (connection) lands in a fast or a slow mode as a whole: the baseline had
    # 7 fast and 3 slow, the candidate 3 fast and 7 slow (Fisher's p for that, group by
    # group: 0.09). Pooled, 200 values look certainly shifted.
    rng = np.random.default_rng(5)
    a, ga = grouped(rng, [0.03] * 7 + [0.15] * 3)
    b, gb = grouped(rng, [0.03] * 3 + [0.15] * 7)
    pooled = ss.mannwhitneyu(b, a, alternative="greater").pvalue
    got = stats.clustered_shift_test(a, ga, b, gb)
    assert pooled < 1e-5
    assert got.p_greater > 0.01  # nowhere near a Holm threshold (~1e-4)
    assert got.design_effect > 10


def test_no_p_value_below_what_whole_groups_allow():
    a, b = [1.0] * 50, [2.0] * 50  # perfectly separated, no spread at all
    one_group = stats.clustered_shift_test(a, [50], b, [50])
    assert one_group.p_greater == pytest.approx(0.5)  # 1 / C(2, 1)
    ten = stats.clustered_shift_test(a, [5] * 10, b, [5] * 10)
    assert ten.p_greater == pytest.approx(1 / math.comb(20, 10)) == pytest.approx(permutation_floor(10, 10))
    assert ten.p_less == 1.0


def test_share_test_sees_clustered_exceedances():
    # 20 values beyond the threshold: in the candidate all in two groups (one bad
    # connection), in the baseline spread thinly. Independent values would call it certain.
    beyond_a = [i % 20 == 0 for i in range(200)]  # 10, one per group
    beyond_b = [i < 20 for i in range(200)]  # 20, all in the first group
    got = stats.clustered_share_test(beyond_a, [20] * 10, beyond_b, [20] * 10)
    assert got.statistic == pytest.approx(0.05)
    assert got.p_greater > 0.1 and got.design_effect > 5


def test_poisson_interval_is_garwoods():
    for k in (0, 1, 7, 300):
        low, high = stats.poisson_interval(k, 0.95)
        assert low == pytest.approx(0 if k == 0 else ss.chi2.ppf(0.025, 2 * k) / 2, rel=1e-9, abs=1e-12)
        assert high == pytest.approx(ss.chi2.ppf(0.975, 2 * k + 2) / 2, rel=1e-9)


def test_weighted_family_equal_weights_is_holm_and_weights_move_alpha():
    ps = [[0.001], [0.004], [0.02], [0.3]]
    plain = stats.adjust_family(ps)
    assert [a[0] for a in plain.adjusted] == pytest.approx(stats.holm([p[0] for p in ps]))
    assert plain.adjusted == stats.adjust_family(ps, [1, 1, 1, 1]).adjusted
    # Half the weight on the third metric. First rejected: 0.001 at α · (1/6): adjusted
    # 0.006; then 0.004 at α · (1/6) / (5/6): 0.02; then 0.02 at α · (1/2) / (2/3): 0.0267
    # (plain Holm: 0.04).
    weighted = stats.adjust_family(ps, [1 / 6, 1 / 6, 1 / 2, 1 / 6])
    assert [a[0] for a in weighted.adjusted] == pytest.approx([0.006, 0.02, 0.02 * 4 / 3, 0.3])
    assert plain.adjusted[2][0] == pytest.approx(0.04)
    assert weighted.size == 4


# ---------------------------------------------------------------- through the judge


def test_per_connection_modes_do_not_regress_the_database():
    # The 2-core VM: 0.03 ms when client and backend share a vCPU, slower when not,
    # decided per connection. 6 of 10 connections fast, then 1 of 10.
    rng = np.random.default_rng(9)
    a, ga = grouped(rng, [0.03] * 6 + [0.12] * 4)
    b, gb = grouped(rng, [0.03] * 1 + [0.12] * 9)
    with_groups = compare_snapshots([snap("a", {DB: [Measurement.samples("latency", a, groups=ga)]})],
                                    [snap("b", {DB: [Measurement.samples("latency", b, groups=gb)]})])
    m = row(with_groups, "database.query.quay/image-layer-fetch.latency")
    assert m.verdict == "unchanged" and with_groups.verdict == "ok"
    median = m.components[0]
    assert median.method == "groups as units: 10 vs 10 groups, t(9)" and median.design_effect > 10
    assert m.baseline.groups == 10 and m.baseline.group_p50_low < 0.035 < 0.11 < m.baseline.group_p50_high
    # The same values taken as independent: the false alarm the groups prevent.
    alone = compare_snapshots([snap("a", {DB: [Measurement.samples("latency", a)]})],
                              [snap("b", {DB: [Measurement.samples("latency", b)]})])
    assert row(alone, "database.query.quay/image-layer-fetch.latency").verdict == "regressed"


def test_a_real_shift_in_groups_is_still_caught():
    rng = np.random.default_rng(11)
    a, ga = grouped(rng, list(rng.lognormal(math.log(0.3), 0.05, 10)))
    b, gb = grouped(rng, list(rng.lognormal(math.log(3.3), 0.05, 10)))  # +3 ms
    c = compare_snapshots([snap("a", {DB: [Measurement.samples("latency", a, groups=ga)]})],
                          [snap("b", {DB: [Measurement.samples("latency", b, groups=gb)]})])
    m = row(c, "database.query.quay/image-layer-fetch.latency")
    assert m.verdict == "regressed" and m.components[0].ci_low > 2.5


def test_runs_without_groups_pool_as_independent_values_beside_grouped_ones():
    rng = np.random.default_rng(2)
    values, sizes = grouped(rng, [0.3] * 10)
    grouped_run = Measurement.samples("latency", values, groups=sizes)
    plain_run = Measurement.samples("latency", rng.lognormal(math.log(0.3), 0.05, 30).tolist())
    c = compare_snapshots([snap("a", {DB: [grouped_run]}), snap("a", {DB: [plain_run]})],
                          [snap("b", {DB: [grouped_run]})])
    m = row(c, "database.query.quay/image-layer-fetch.latency")
    assert m.baseline.n == 230 and m.baseline.groups == 40  # 10 groups + 30 single values


def rates(events_per_target: int, targets: int = 3, trials: int = 400) -> dict:
    return {("dns", "resolve", f"name-{i}@cluster-dns"): [
        Measurement("timeouts", "proportion", "lower", events=events_per_target, trials=trials,
                    extra={"combine": "cluster-dns"}),
        Measurement.samples("latency", [0.3 + j / 1000 for j in range(200)])] for i in range(targets)}


def test_failure_rates_of_one_resolver_add_up_and_share_half_of_alpha():
    c = compare_snapshots([snap("a", rates(0))], [snap("b", rates(6))])
    combined = row(c, "dns.resolve.all@cluster-dns.timeouts")
    assert combined.baseline.trials == 1200 and combined.candidate.events == 18
    assert combined.verdict == "regressed" and combined.primary
    assert c.primary_tests == 4 and c.tests == 7  # 3 + 1 combined rates, 3 latencies
    # Alone, 0/400 → 6/400 is no evidence at this family size.
    assert row(c, "dns.resolve.name-0@cluster-dns.timeouts").verdict == "unchanged"
    assert c.suspects[0].layer == "dns"
    one_target = compare_snapshots([snap("a", rates(0, targets=1))], [snap("b", rates(0, targets=1))])
    assert "dns.resolve.all@cluster-dns.timeouts" not in {m.id for m in one_target.metrics}


def test_ok_says_what_was_ruled_out_and_require_decided_turns_undecided_into_exit_4():
    lat_a = [5.0 + (j % 50) / 100 for j in range(400)]
    lat_b = [5.0 + ((j + 7) % 50) / 100 for j in range(400)]
    results = lambda lat, events: {("app", "http", "registry"): [  # noqa: E731
        Measurement.samples("latency", lat), Measurement.proportion("errors", events, 200)]}
    c = compare_snapshots([snap("a", results(lat_a, 0))], [snap("b", results(lat_b, 0))])
    latency, errors = row(c, "app.http.registry.latency"), row(c, "app.http.registry.errors")
    assert latency.ruled_out is True and latency.decision == "ruled out"
    assert errors.ruled_out is False and errors.decision == "undecided"  # 0/200 cannot exclude +0.1 pp
    assert c.verdict == "ok" and c.reason.endswith(
        "1 of 2 metrics ruled out a regression past their floors; 1 undecided (too few samples or too noisy)")
    assert c.decisions() == {"regressed": 0, "ruled out": 1, "undecided": 1}
    strict = compare_snapshots([snap("a", results(lat_a, 0))], [snap("b", results(lat_b, 0))], require_decided=True)
    assert strict.verdict == "inconclusive" and int(strict.exit_status) == 4
    assert "--require-decided" in strict.reason


def test_json_carries_groups_tests_and_decisions_and_reads_back():
    rng = np.random.default_rng(4)
    a, ga = grouped(rng, [0.3] * 10)
    b, gb = grouped(rng, [0.3] * 10)
    c = compare_snapshots([snap("a", {DB: [Measurement.samples("latency", a, groups=ga)]})],
                          [snap("b", {DB: [Measurement.samples("latency", b, groups=gb)]})])
    d = json.loads(c.to_json())
    m = d["metrics"][0]
    assert m["baseline"]["groups"]["count"] == 10 and len(m["baseline"]["groups"]["p50_range"]) == 2
    assert m["components"][0]["method"].startswith("groups as units") and m["components"][0]["design_effect"] > 0
    assert m["ruled_out"] in (True, False) and d["decisions"]["ruled_out"] + d["decisions"]["undecided"] == 1
    assert d["layer_decisions"]["database"] == d["decisions"]
    assert Comparison.from_dict(d).to_dict() == d


def test_one_more_idle_connection_is_no_regression_forty_more_are():
    def connections(idle: int) -> Snapshot:
        ms = [Measurement.samples("connections_idle", [float(idle)] * 10, unit="count", groups=[1] * 10),
              Measurement.samples("connection_use", [idle / 100] * 10, unit="ratio", groups=[1] * 10)]
        return snap("s", {("database", "connections", "registry-db"): ms})

    one_more = compare_snapshots([connections(4)], [connections(5)])
    idle = row(one_more, "database.connections.registry-db.connections_idle")
    assert idle.verdict == "unchanged" and one_more.verdict == "ok"
    assert idle.floors.absolute == 10 and idle.floors.source.startswith("built-in rule")
    storm = compare_snapshots([connections(4)], [connections(44)])
    assert row(storm, "database.connections.registry-db.connections_idle").verdict == "regressed"
    assert row(storm, "database.connections.registry-db.connection_use").verdict == "regressed"
    assert [s.layer for s in storm.suspects] == ["database"]


def test_a_burst_of_events_in_one_round_is_no_rising_rate():
    def counters(rounds: list[int]) -> Snapshot:
        m = Measurement.counter("tcp_retrans_segs", sum(rounds), 10.0, rounds, [1.0] * len(rounds))
        return snap("s", {("kernel", "counters", "local"): [m]})

    quiet = [0, 1, 0, 0, 1, 0, 0, 0, 1, 0]
    burst = compare_snapshots([counters(quiet)], [counters([0, 0, 0, 40, 0, 1, 0, 0, 0, 0])])
    m = row(burst, "kernel.counters.local.tcp_retrans_segs")
    # 3 → 41 events is certain for a Poisson test; one burst in ten rounds is not a rate that rose.
    assert stats.poisson_counts_test(3, 41)[0] < 1e-8
    assert m.verdict == "unchanged" and "per-round rates" in m.components[0].method
    rising = compare_snapshots([counters(quiet)], [counters([4, 5, 4, 6, 5, 4, 5, 6, 4, 5])])
    assert row(rising, "kernel.counters.local.tcp_retrans_segs").verdict == "regressed"


def test_retransmits_bursting_in_one_round_are_no_higher_rate():
    def rate(rounds: list[list[int]]) -> Snapshot:
        m = Measurement("tcp_retransmit_rate", "proportion", "lower", events=sum(e for e, _ in rounds),
                        trials=sum(t for _, t in rounds), extra={"rounds": rounds})
        return snap("s", {("kernel", "counters", "local"): [m]})

    quiet = [[1, 10_000]] * 10
    burst = compare_snapshots([rate(quiet)], [rate([[1, 10_000]] * 9 + [[300, 10_000]])])
    m = row(burst, "kernel.counters.local.tcp_retransmit_rate")
    assert stats.fisher_exact_one_sided(10, 100_000, 309, 100_000)[0] < 1e-50
    assert m.verdict == "unchanged" and "per-round rates as units (10 vs 10 rounds)" in m.components[0].method
    steady = compare_snapshots([rate(quiet)], [rate([[31, 10_000]] * 10)])
    assert row(steady, "kernel.counters.local.tcp_retransmit_rate").verdict == "regressed"


def test_where_counts_targets_per_probe_and_not_the_added_up_rates():
    lat = lambda median: Measurement.samples("latency", [median + j / 1000 for j in range(100)])  # noqa: E731
    def side(slow: float) -> Snapshot:
        results = {("dns", "resolve", f"name-{i}@cluster-dns"): [lat(0.3 + slow), Measurement(
            "timeouts", "proportion", "lower", events=0, trials=400, extra={"combine": "cluster-dns"})] for i in range(3)}
        results[("dns", "config", "local")] = [Measurement.fact("ndots", 5)]
        results[("dns", "expansion", "local")] = [Measurement.gauge("queries_worst", 4, unit="queries")]
        return snap("s", results)

    every_name = compare_snapshots([side(0.0)], [side(3.0)])
    # All three names regressed: no "on 3 of 5 targets" because the layer has other probes.
    assert every_name.suspects[0].because.startswith("dns regressed: median resolve latency of name-")
