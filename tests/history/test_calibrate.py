"""`triage calibrate`: the noise statistics against scipy, floors that widen only where runs
vary beyond their sampling, and a budgets file that `--budget` loads back."""

from __future__ import annotations

import glob
import math

import numpy as np
import pytest
from scipy import stats as scipy_stats

from triage import stats
from triage.budget import load_budget, parse_budget
from triage.calibration import calibrate

from .synthetic import APP, DNS, KERNEL, Platform

RUN_EFFECTS = {(0, r): {"dns": f, "app": g} for r, (f, g) in
               enumerate([(1.0, 1.0), (1.12, 0.95), (0.9, 1.06), (1.05, 0.97), (0.95, 1.04)])}


def test_chi2_and_t_quantiles_match_scipy():
    for df in (1, 2, 4, 9, 30):
        for p in (0.05, 0.5, 0.95, 0.999):
            assert stats.chi2_ppf(p, df) == pytest.approx(scipy_stats.chi2.ppf(p, df), rel=1e-9)
    for runs, miss in ((3, 0.01), (5, 0.002), (10, 1e-4)):
        expected = scipy_stats.t.ppf(1 - miss, runs - 1) * 0.2 * math.sqrt(1 + 1 / runs)
        assert stats.prediction_floor(0.2, runs, miss) == pytest.approx(expected, rel=1e-8)
    assert stats.prediction_floor(0.0, 5, 0.01) == 0.0


def test_separation_is_mann_whitney_as_scipy_computes_it():
    rng = np.random.default_rng(3)
    for m, n in ((2, 10), (6, 6), (9, 3)):
        a, b = rng.normal(0, 1, m).round(1), rng.normal(0.5, 1, n).round(1)  # rounded: ties
        s = stats.separation(list(a), list(b))
        ref = scipy_stats.mannwhitneyu(b, a, alternative="greater", method="asymptotic", use_continuity=False)
        assert s.theta * m * n == pytest.approx(ref.statistic)
        assert scipy_stats.norm.sf(s.z) == pytest.approx(ref.pvalue, rel=1e-9)
    assert stats.separation([1, 2], [3, 4, 5]).clean == 1.0 and stats.separation([], [1]).z == 0.0


def test_quantile_standard_errors_and_between_run_noise():
    rng = np.random.default_rng(4)
    # The order-statistic standard error of a median of 400 normal values: 1.2533 / sqrt(400).
    ses = [stats.quantile_se(sorted(rng.normal(0, 1, 400)), 0.5) for _ in range(200)]
    assert np.mean(ses) == pytest.approx(1.2533 / 20, rel=0.1)
    # Runs that vary only by sampling show no noise between them; runs with effects show it.
    se = 0.05
    quiet = [stats.between_run_sd(list(rng.normal(1, se, 5)), [se ** 2] * 5) for _ in range(200)]
    assert np.mean([q == 0 for q in quiet]) > 0.9
    noisy = [stats.between_run_sd(list(rng.normal(1, math.hypot(se, 0.2), 40)), [se ** 2] * 40) for _ in range(50)]
    assert np.mean(noisy) == pytest.approx(0.2, rel=0.1)
    assert stats.between_run_sd([3.0, 3.0, 4.0], [0.0] * 3) > 0  # a reading: any spread is noise
    assert stats.detectable(1.0, 0.025) == pytest.approx(scipy_stats.norm.ppf(0.975) + scipy_stats.norm.ppf(0.8))
    assert stats.samples_needed(200, 0.6, 0.3) == 800 and stats.samples_needed(200, 0.1, 0.3) == 200


def test_floors_widen_only_for_metrics_whose_runs_vary_beyond_sampling():
    labels, runs = Platform(labels=1, runs=5, samples=200, outliers=RUN_EFFECTS).history(3)
    c = calibrate(runs[labels[0]], label=labels[0])
    noise = {m.id: m for m in c.metrics}
    assert noise[DNS].widened and noise[APP].widened  # ±10% and ±5% run effects
    assert not noise[KERNEL].widened and noise[KERNEL].noise == 0.0
    assert noise[DNS].floor > 3 * noise[DNS].default_floor
    budget = parse_budget(c.budget_text, "b.yaml")
    assert [r.match for r in budget.rules] == [APP, DNS]
    dns = budget.policy_for(DNS, "samples", "ms").floors
    assert dns.relative == pytest.approx(math.ceil(noise[DNS].relative * 1000) / 1000)
    assert budget.policy_for(KERNEL, "samples", "ms").floors.relative == 0.1  # the default
    # What the sample sizes can detect: the interval of a run against the other four.
    assert 0 < noise[KERNEL].detectable < noise[KERNEL].floor and noise[KERNEL].needed == 200
    rate = noise["app.http.registry.errors"]
    assert rate.detectable > rate.floor and rate.needed > 10_000  # 0.1 pp of 0.5% needs many trials


def test_quiet_runs_keep_every_default_floor():
    labels, runs = Platform(labels=1, runs=5, samples=200).history(5)
    c = calibrate(runs[labels[0]], label=labels[0])
    assert not any(m.widened for m in c.metrics)
    assert "rules: []" in c.budget_text and parse_budget(c.budget_text, "b.yaml").rules == ()


def test_an_exact_id_is_a_glob_matching_only_itself():
    for metric_id in ("kubernetes.warning_events.cluster.warnings[BackOff]", "app.http.a*b?.latency"):
        budget = parse_budget(f'rules:\n  - match: "{glob.escape(metric_id)}"\n    absolute: 7\n', "b.yaml")
        assert budget.policy_for(metric_id, "gauge", "count").floors.absolute == 7
        other = metric_id.replace("[", "").replace("*", "x")
        assert budget.policy_for(other, "gauge", "count").floors.absolute == 1


@pytest.fixture
def stored(triage, tmp_path):
    Platform(labels=1, runs=5, samples=200, outliers=RUN_EFFECTS).store(tmp_path / "S", 3)
    return "4.3.10"


def test_calibrate_on_5_stored_runs_writes_a_budget_that_compare_accepts(triage, tmp_path, stored):
    res = triage("calibrate", stored, "--store", "S", "--out", "b.yaml", width=160)
    assert res.code == 0, res.stderr
    assert f"calibrated {stored} from 5 runs: 2 floors widened by the noise, 3 kept at the defaults" in res.stdout
    assert "dns.resolve.quay-db@cluster-dns.latency" in res.stdout and "enough (200)" in res.stdout
    assert res.stderr.endswith("triage: wrote b.yaml\n")
    assert len(load_budget(str(tmp_path / "b.yaml")).rules) == 2
    cmp = triage("compare", stored, stored, "--store", "S", "--budget", "b.yaml", "--format", "json")
    assert cmp.code == 0, cmp.stderr
    assert cmp.json()["budget"] == "b.yaml"
    out = triage("calibrate", stored, "--store", "S", "--out", "b.yaml", "--format", "json").json()
    assert out["schema"] == "triage.calibration/v1" and out["widened"] == 2 and out["runs"] == 5
    assert {m["id"] for m in out["metrics"] if m["widened"]} == {APP, DNS}


def test_calibrate_probes_runs_now_and_can_store_them(triage, tmp_path):
    res = triage("calibrate", "--runs", "3", "--layers", "kernel", "--samples", "20", "--label", "here",
                 "--save", "--store", "S", "--out", "k.yaml", "-q")
    assert res.code == 0, res.stderr
    assert "calibrated here from 3 runs" in res.stdout
    load_budget(str(tmp_path / "k.yaml"))
    assert len(list((tmp_path / "S" / "here").glob("*.json"))) == 3


@pytest.mark.parametrize("args, needle", [
    (("--store", "S"), "name a stored LABEL, or probe now with --runs N"),
    (("4.3.10", "--runs", "3", "--store", "S"), "name a stored LABEL, or probe now with --runs N"),
    (("--runs", "2"), "--runs: expected at least 3"),
    (("nope", "--store", "S"), "unknown label 'nope'"),
    (("4.3.10", "--store", "S", "--out", "no/such/dir/b.yaml"), "--out no/such/dir/b.yaml: cannot write"),
    (("4.3.10", "--store", "S", "--format", "markdown"), "--format: expected table or json"),
])
def test_bad_input_is_exit_2(triage, tmp_path, args, needle):
    Platform(labels=1, runs=2).store(tmp_path / "S", 1)
    res = triage("calibrate", *args)
    assert res.code == 2 and needle in res.stderr, res.stderr
    two = triage("calibrate", "4.3.10", "--store", "S")
    assert two.code == 2 and "has 2 stored runs; at least 3 needed" in two.stderr
    assert not (tmp_path / "calibrated-budgets.yaml").exists()


def test_a_tail_with_few_values_beyond_it_in_a_run_sets_no_floor():
    # 500 connects a run, six of them SYN retransmits (1 s) in two of five runs: the pooled p99 is
    # tested (25 values beyond it), but a run has 5 values beyond its own p99, which swings from
    # 0.14 ms to 1,000 ms with one slow value more or less: no run statistic, so no floor from it.
    from dataclasses import replace

    labels, runs = Platform(labels=1, runs=5, samples=500).history(8)

    def slow(snap, i):
        if i not in (1, 3):
            return snap
        results = []
        for r in snap.results:
            if r.layer == "kernel":
                m = r.measurements[0]
                r = replace(r, measurements=(replace(m, values=m.values[:-6] + (1000.0,) * 6),))
            results.append(r)
        return replace(snap, results=tuple(results))

    c = calibrate([slow(s, i) for i, s in enumerate(runs[labels[0]])], label=labels[0])
    kernel = {m.id: m for m in c.metrics}[KERNEL]
    assert kernel.component == "median" and not kernel.widened
    parse_budget(c.budget_text, "b.yaml")
