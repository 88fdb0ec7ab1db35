"""Exact tests for counts: hypergeometric and binomial tails, Fisher's test for two
rates (with Newcombe's interval), and the conditional test of two Poisson counts."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from .basics import DEFAULT_CI_LEVEL, _np, normal_ppf

@dataclass(frozen=True)
class RateResult:
    """events/trials on each side; change = candidate rate − baseline rate."""

    baseline_rate: float
    candidate_rate: float
    change: float
    ci_low: float
    ci_high: float
    p_greater: float
    p_less: float



def hypergeom_tails(x: int, total: int, successes: int, draws: int) -> tuple[float, float]:
    """(P(X >= x), P(X <= x)) for X ~ Hypergeometric(total, successes, draws), exactly.

    The pmf is built by its ratio recursion in log space over the support and normalised,
    so tails down to ~1e-300 keep their relative accuracy.
    """
    lo, at_least, at_most = _hypergeom_tail_table(_np(), total, successes, draws)
    if not lo <= x < lo + len(at_least):
        raise ValueError(f"x={x} outside the support [{lo}, {lo + len(at_least) - 1}]")
    return float(at_least[x - lo]), float(at_most[x - lo])


def _hypergeom_tail_table(np: Any, total: int, successes: int, draws: int) -> tuple[int, Any, Any]:
    """(lowest x, P(X >= x) per x, P(X <= x) per x) over the whole support."""
    lo = max(0, draws - (total - successes))
    hi = min(successes, draws)
    if hi == lo:
        return lo, np.ones(1), np.ones(1)
    k = np.arange(lo, hi, dtype=np.float64)
    log_ratio = (np.log(successes - k) + np.log(draws - k)
                 - np.log(k + 1) - np.log(total - successes - draws + k + 1))
    log_pmf = np.concatenate(([0.0], np.cumsum(log_ratio)))
    pmf = np.exp(log_pmf - log_pmf.max())
    pmf /= pmf.sum()
    at_least = np.minimum(1.0, np.cumsum(pmf[::-1])[::-1])
    at_most = np.minimum(1.0, np.cumsum(pmf))
    return lo, at_least, at_most


def binomial_tails(k: int, n: int, p: float) -> tuple[float, float]:
    """(P(X >= k), P(X <= k)) for X ~ Binomial(n, p), exactly (log-space ratio recursion)."""
    if n == 0:
        return 1.0, 1.0
    if not 0 < p < 1:
        raise ValueError(f"p must be strictly between 0 and 1, got {p}")
    if not 0 <= k <= n:
        raise ValueError(f"k={k} outside [0, {n}]")
    np = _np()
    j = np.arange(0, n, dtype=np.float64)
    log_pmf = np.concatenate(([0.0], np.cumsum(np.log(n - j) - np.log(j + 1) + math.log(p) - math.log1p(-p))))
    pmf = np.exp(log_pmf - log_pmf.max())
    pmf /= pmf.sum()
    return min(1.0, float(pmf[k:].sum())), min(1.0, float(pmf[: k + 1].sum()))


def poisson_counts_test(count_a: int, count_b: int, exposure_a: float = 1.0, exposure_b: float = 1.0) -> tuple[float, float]:
    """Exact conditional test of two Poisson event counts (b vs a): given the total, b's
    count is Binomial(total, e_b / (e_a + e_b)) when the rates are equal. (p_greater, p_less)."""
    share = exposure_b / (exposure_a + exposure_b) if exposure_a > 0 and exposure_b > 0 else 0.5
    return binomial_tails(count_b, count_a + count_b, share)


def fisher_exact_one_sided(events_a: int, trials_a: int, events_b: int, trials_b: int) -> tuple[float, float]:
    """Fisher's exact test of candidate (b) vs baseline (a) rates: (p_greater, p_less),
    p_greater against "b's rate is higher". Conditional on the total events."""
    if trials_a <= 0 or trials_b <= 0:
        return 1.0, 1.0
    return hypergeom_tails(events_b, trials_a + trials_b, events_a + events_b, trials_b)


def _wilson(events: int, trials: int, z: float) -> tuple[float, float]:
    p = events / trials
    denom = 1 + z * z / trials
    centre = (p + z * z / (2 * trials)) / denom
    half = z / denom * math.sqrt(p * (1 - p) / trials + z * z / (4 * trials * trials))
    return max(0.0, centre - half), min(1.0, centre + half)


def proportion_test(events_a: int, trials_a: int, events_b: int, trials_b: int,
                    ci_level: float = DEFAULT_CI_LEVEL) -> RateResult:
    """Fisher's exact one-sided p-values and Newcombe's hybrid-score interval (method 10)
    for the rate difference b − a, which stays sensible at 0 events, unlike Wald's."""
    if trials_a <= 0 or trials_b <= 0:
        raise ValueError("proportion_test needs trials on both sides")
    pa, pb = events_a / trials_a, events_b / trials_b
    z = normal_ppf(0.5 + ci_level / 2)
    la, ua = _wilson(events_a, trials_a, z)
    lb, ub = _wilson(events_b, trials_b, z)
    d = pb - pa
    low = d - math.sqrt((pb - lb) ** 2 + (ua - pa) ** 2)
    high = d + math.sqrt((ub - pb) ** 2 + (pa - la) ** 2)
    p_greater, p_less = fisher_exact_one_sided(events_a, trials_a, events_b, trials_b)
    return RateResult(pa, pb, d, low, high, p_greater, p_less)




def _gamma_p(a: float, x: float) -> float:
    """The regularized lower incomplete gamma function P(a, x) (series, or continued fraction
    where x > a + 1)."""
    if x <= 0:
        return 0.0
    log_front = a * math.log(x) - x - math.lgamma(a)
    if x < a + 1:
        term = total = 1.0 / a
        n = a
        for _ in range(100_000):
            n += 1
            term *= x / n
            total += term
            if abs(term) < abs(total) * 1e-15:
                break
        return min(1.0, total * math.exp(log_front))
    tiny = 1e-300
    b = x + 1 - a
    c, d = 1 / tiny, 1 / b
    h = d
    for i in range(1, 100_000):
        an = -i * (i - a)
        b += 2
        d = an * d + b
        d = 1 / (d if abs(d) > tiny else tiny)
        c = b + an / c
        c = c if abs(c) > tiny else tiny
        delta = d * c
        h *= delta
        if abs(delta - 1) < 1e-15:
            break
    return max(0.0, 1.0 - math.exp(log_front) * h)


def poisson_cdf(k: int, mean: float) -> float:
    """P(X <= k) for X ~ Poisson(mean)."""
    return 1.0 if mean <= 0 else 1.0 - _gamma_p(k + 1, mean)


def poisson_interval(k: int, ci_level: float = DEFAULT_CI_LEVEL) -> tuple[float, float]:
    """Garwood's exact interval for the mean of a Poisson count k (bisection on the cdf)."""
    tail = (1 - ci_level) / 2

    def solve(target: float, count: int) -> float:
        lo, hi = 0.0, max(10.0, 2.0 * count + 10 * math.sqrt(count + 1))
        for _ in range(200):
            mid = (lo + hi) / 2
            if poisson_cdf(count, mid) > target:
                lo = mid
            else:
                hi = mid
        return (lo + hi) / 2

    low = 0.0 if k == 0 else solve(1 - tail, k - 1)
    return low, solve(tail, k)


def counts_difference_interval(count_a: int, count_b: int, scale_b: float = 1.0,
                               ci_level: float = DEFAULT_CI_LEVEL) -> tuple[float, float]:
    """An interval for scale_b · mean_b − mean_a of two Poisson counts (scale_b puts the
    candidate's count on the baseline's window): each side's Garwood interval, combined by
    the MOVER method, as Newcombe's interval combines two Wilson intervals."""
    la, ua = poisson_interval(count_a, ci_level)
    lb, ub = (v * scale_b for v in poisson_interval(count_b, ci_level))
    b = count_b * scale_b
    d = b - count_a
    return d - math.sqrt((b - lb) ** 2 + (ua - count_a) ** 2), d + math.sqrt((ub - b) ** 2 + (count_a - la) ** 2)
