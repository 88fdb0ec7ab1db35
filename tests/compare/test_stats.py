"""triage.stats against scipy, brute force and published values. Seeded: same every run."""

from __future__ import annotations

import math

import numpy as np
import pytest
import scipy.stats as ss

from triage import stats
from triage.stats.samples import _bootstrap_positions


def _pairs(seed: int, sizes, shift: float = 0.0, decimals: int | None = None):
    rng = np.random.default_rng(seed)
    out = []
    for na, nb in sizes:
        a = rng.lognormal(0, 0.5, na)
        b = rng.lognormal(shift, 0.5, nb)
        if decimals is not None:  # rounding makes ties
            a, b = np.round(a, decimals), np.round(b, decimals)
        out.append((a.tolist(), b.tolist()))
    return out


@pytest.mark.parametrize("decimals", [None, 1])
def test_mann_whitney_matches_scipy_asymptotic(decimals):
    sizes = [(8, 8), (9, 30), (30, 9), (100, 100), (250, 240), (500, 500)]
    for shift in (0.0, 0.15, -0.3):
        pairs = _pairs(7, sizes, shift, decimals)
        results = stats.compare_samples(pairs)
        for (a, b), r in zip(pairs, results):
            greater = ss.mannwhitneyu(b, a, alternative="greater", method="asymptotic")
            less = ss.mannwhitneyu(b, a, alternative="less", method="asymptotic")
            assert r.shift.u == greater.statistic
            assert r.shift.p_greater == pytest.approx(greater.pvalue, rel=1e-9, abs=1e-300)
            assert r.shift.p_less == pytest.approx(less.pvalue, rel=1e-9, abs=1e-300)


def test_mann_whitney_all_equal_values_is_never_significant():
    r = stats.compare_samples([([1.0] * 10, [1.0] * 12)])[0]
    assert (r.shift.p_greater, r.shift.p_less, r.shift.shift) == (1.0, 1.0, 0.0)


def test_hodges_lehmann_and_moses_interval_match_brute_force():
    z = stats.normal_ppf(0.975)
    for (a, b) in _pairs(3, [(8, 8), (20, 35), (200, 150)], shift=0.2, decimals=2):
        d = np.sort(np.subtract.outer(np.array(b), np.array(a)).ravel())
        pairs = len(a) * len(b)
        c = int(round(pairs / 2 - z * math.sqrt(pairs * (len(a) + len(b) + 1) / 12)))
        r = stats.hodges_lehmann(a, b)
        assert r.pairwise_exact
        assert r.shift == pytest.approx(np.median(d), abs=1e-12)
        assert r.ci_low == pytest.approx(d[c - 1], abs=1e-12)
        assert r.ci_high == pytest.approx(d[pairs - c], abs=1e-12)


def test_moses_interval_covers_the_true_shift_about_95_percent_of_the_time():
    rng = np.random.default_rng(11)
    pairs = [(rng.normal(0, 1, 40).tolist(), (rng.normal(0, 1, 40) + 0.5).tolist()) for _ in range(400)]
    results = stats.compare_samples(pairs, [()] * len(pairs))
    covered = sum(r.shift.ci_low <= 0.5 <= r.shift.ci_high for r in results)
    assert 0.92 <= covered / 400 <= 0.98


def test_thinned_hodges_lehmann_stays_close_to_exact_for_big_samples():
    (a, b), = _pairs(5, [(500, 450)], shift=0.1)
    d = np.sort(np.subtract.outer(np.array(b), np.array(a)).ravel())
    exact_shift = np.median(d)
    r = stats.hodges_lehmann(a, b)
    assert not r.pairwise_exact
    half_width = (r.ci_high - r.ci_low) / 2
    assert abs(r.shift - exact_shift) < 0.05 * half_width
    pairs = len(a) * len(b)
    c = int(round(pairs / 2 - stats.normal_ppf(0.975) * math.sqrt(pairs * (len(a) + len(b) + 1) / 12)))
    assert abs(r.ci_low - d[c - 1]) < 0.05 * half_width
    assert abs(r.ci_high - d[pairs - c]) < 0.05 * half_width


def test_order_statistic_bootstrap_matches_naive_resampling():
    """Drawing the resampled order statistics directly has the same distribution as
    resampling n values and taking their quantile."""
    rng = np.random.default_rng(2)
    x = np.sort(rng.lognormal(0, 1, 300))
    for q in (0.95, 0.99, 0.05):
        i1, i2, frac = _bootstrap_positions(np, len(x), q, 20000, 1, 0)
        fast = x[i1] + frac * (x[i2] - x[i1])
        naive = np.quantile(x[rng.integers(0, len(x), (20000, len(x)))], q, axis=1)
        ks = ss.ks_2samp(fast, naive)
        assert ks.statistic < 0.03, (q, ks)
        assert np.mean(fast) == pytest.approx(np.mean(naive), rel=0.02)


def test_tail_interval_and_exceedance_test_catch_slow_minority():
    rng = np.random.default_rng(4)
    a = rng.lognormal(np.log(5), 0.2, 1000)
    b = rng.lognormal(np.log(5), 0.2, 1000)
    b[:40] = 5000.0  # 4% of requests hit a 5-second timeout; the median barely moves
    r = stats.compare_samples([(a.tolist(), b.tolist())])[0]
    p95, p99 = r.tails
    assert p99.tested and p99.p_greater < 1e-6
    assert p99.ci_low > 1000  # p99 of the candidate is in the timeouts
    assert abs(r.shift.shift) < 0.25  # the median shift is small
    assert p95.baseline == pytest.approx(np.quantile(a, 0.95))
    assert p95.candidate == pytest.approx(np.quantile(b, 0.95))


def test_tails_are_only_tested_with_enough_values_beyond_them():
    pairs = _pairs(8, [(100, 100), (200, 200), (1000, 1000)])
    res = stats.compare_samples(pairs)
    tested = [[t.tested for t in r.tails] for r in res]
    assert tested == [[False, False], [True, False], [True, True]]
    assert all(t.p_greater == 1.0 for t in res[0].tails)


def test_exceedance_test_is_valid_under_the_null():
    """A/A pairs: P(p <= 0.05) stays at or below 5% (it is an exact test)."""
    rng = np.random.default_rng(9)
    pairs = [(rng.lognormal(0, 1, 200).tolist(), rng.lognormal(0, 1, 200).tolist()) for _ in range(1500)]
    res = stats.compare_samples(pairs, [(0.95,)] * len(pairs))
    rate = sum(r.tails[0].p_greater <= 0.05 for r in res) / len(res)
    assert rate <= 0.06


def test_lower_tail_for_higher_is_better():
    rng = np.random.default_rng(6)
    a = rng.normal(100, 5, 1000)
    b = rng.normal(100, 5, 1000)
    b[:60] = 10.0  # 6% of throughput samples collapse
    r = stats.compare_samples([(a.tolist(), b.tolist())], [(0.05, 0.01)])[0]
    p5, p1 = r.tails
    assert p5.q == 0.05 and p5.p_less < 1e-6 and p5.p_greater > 0.5
    assert p5.change < 0 and p5.ci_high < 0


def test_same_input_same_output_and_pairs_do_not_influence_each_other():
    pairs = _pairs(12, [(300, 300), (300, 300), (120, 80)], shift=0.1)
    first = stats.compare_samples(pairs)
    again = stats.compare_samples(pairs)
    assert first == again
    alone = stats.compare_samples([pairs[1]])
    assert alone[0] == first[1]
    reordered = stats.compare_samples(pairs[::-1])
    assert reordered[::-1] == first
    other_seed = stats.compare_samples(pairs, seed=1)
    assert other_seed[0].tails[0].ci_low != first[0].tails[0].ci_low  # the seed is really used


def test_hypergeometric_tails_match_scipy_far_into_the_tail():
    for x, total, succ, draws in [(7, 50, 10, 20), (0, 50, 10, 20), (10, 50, 10, 20), (60, 4000, 80, 2000),
                                  (20, 400, 20, 200), (1, 10, 1, 5)]:
        ge, le = stats.hypergeom_tails(x, total, succ, draws)
        assert ge == pytest.approx(ss.hypergeom.sf(x - 1, total, succ, draws), rel=1e-9)
        assert le == pytest.approx(ss.hypergeom.cdf(x, total, succ, draws), rel=1e-9)
    with pytest.raises(ValueError):
        stats.hypergeom_tails(11, 50, 10, 20)


def test_fisher_exact_matches_scipy():
    for ea, ta, eb, tb in [(20, 2000, 60, 2000), (20, 2000, 40, 2000), (0, 500, 3, 500), (5, 100, 1, 120)]:
        greater, less = stats.fisher_exact_one_sided(ea, ta, eb, tb)
        table = [[eb, tb - eb], [ea, ta - ea]]
        assert greater == pytest.approx(ss.fisher_exact(table, alternative="greater").pvalue, rel=1e-9)
        assert less == pytest.approx(ss.fisher_exact(table, alternative="less").pvalue, rel=1e-9)


def test_newcombe_interval_matches_the_published_example():
    # Newcombe (1998), Statistics in Medicine 17:873, table II, example (a): 56/70 vs 48/80,
    # method 10: 0.0524 to 0.3339.
    r = stats.proportion_test(48, 80, 56, 70)
    assert r.change == pytest.approx(0.2)
    assert r.ci_low == pytest.approx(0.0524, abs=5e-5)
    assert r.ci_high == pytest.approx(0.3339, abs=5e-5)


def test_holm_by_hand_and_bh_against_scipy():
    assert stats.holm([0.01, 0.04, 0.03, 0.005]) == pytest.approx([0.03, 0.06, 0.06, 0.02])
    assert stats.holm([]) == []
    assert stats.holm([0.5, 0.9]) == [1.0, 1.0]
    ps = [0.001, 0.008, 0.039, 0.041, 0.042, 0.06, 0.074, 0.205, 0.212, 0.216]
    assert stats.benjamini_hochberg(ps) == pytest.approx(list(ss.false_discovery_control(ps)))


def test_quantile_matches_numpy():
    x = sorted(np.random.default_rng(1).random(37).tolist())
    for q in (0, 0.01, 0.5, 0.95, 0.99, 1):
        assert stats.quantile(x, q) == pytest.approx(np.quantile(x, q))


def test_normal_tail_is_accurate_far_out():
    assert stats.normal_sf(10) == pytest.approx(ss.norm.sf(10), rel=1e-12)
    assert stats.normal_sf(-3) == pytest.approx(ss.norm.sf(-3), rel=1e-12)


def test_rejects_pairs_too_small_to_rank():
    with pytest.raises(ValueError):
        stats.compare_samples([([1.0], [1.0, 2.0])])


def test_timeouts_recorded_as_one_value_are_caught_despite_ties():
    """Timeouts all recorded as exactly 5000 ms put the pooled p99 on a tie; the tied
    values must count as beyond it, or nothing is."""
    rng = np.random.default_rng(4)
    a = rng.lognormal(np.log(5), 0.2, 1000)
    b = rng.lognormal(np.log(5), 0.2, 1000)
    b[:15] = 5000.0  # 1.5% time out at 5 s
    p95, p99 = stats.compare_samples([(a.tolist(), b.tolist())])[0].tails
    # 15 timeouts + 3 body values beyond the pooled p99 vs 2: exact p ~ 2e-4.
    assert p99.tested and p99.beyond_candidate >= 15 and p99.p_greater < 1e-3


def test_exceedance_test_is_valid_with_heavy_ties():
    rng = np.random.default_rng(10)
    pairs = [(rng.poisson(3, 300).astype(float).tolist(), rng.poisson(3, 300).astype(float).tolist())
             for _ in range(1500)]
    res = stats.compare_samples(pairs, [(0.95,)] * len(pairs))
    rate = sum(r.tails[0].p_greater <= 0.05 for r in res if r.tails[0].tested) / len(res)
    assert rate <= 0.06
    mw_rate = sum(r.shift.p_greater <= 0.05 for r in res) / len(res)
    assert mw_rate <= 0.06


def test_binomial_tails_and_poisson_counts_match_scipy():
    for k, n, p in [(0, 10, 0.5), (7, 10, 0.5), (50, 50, 0.5), (30, 200, 0.1), (3, 4, 0.3)]:
        ge, le = stats.binomial_tails(k, n, p)
        assert ge == pytest.approx(ss.binom.sf(k - 1, n, p), rel=1e-9)
        assert le == pytest.approx(ss.binom.cdf(k, n, p), rel=1e-9)
    assert stats.binomial_tails(0, 0, 0.5) == (1.0, 1.0)
    greater, less = stats.poisson_counts_test(3, 12, 10.0, 20.0)
    assert greater == pytest.approx(ss.binomtest(12, 15, 2 / 3, alternative="greater").pvalue, rel=1e-9)
    assert less == pytest.approx(ss.binomtest(12, 15, 2 / 3, alternative="less").pvalue, rel=1e-9)
