"""Statistics for judging a candidate against a baseline: pure, deterministic functions.

What each measurement kind gets (the policy lives in triage/compare.py; the numbers here):

- samples: Mann–Whitney U (normal approximation with tie and continuity correction) for
  "did it get slower", the Hodges–Lehmann shift with Moses' confidence interval for "by how
  much"; tails (p95/p99, or p5/p1 when higher is better) by a seeded bootstrap interval of
  the quantile difference for the size, and an exact exceedance test (how many of each
  side's values lie beyond the pooled quantile; hypergeometric under the null) for
  significance. A bootstrap p-value cannot resolve the 1e-5 levels that Holm needs across
  hundreds of metrics; the exceedance test is exact at any level and any distribution.
- proportions (events/trials): Fisher's exact test, one-sided, with Newcombe's interval
  for the rate difference.
- Holm–Bonferroni adjusted p-values (family-wise) and Benjamini–Hochberg q-values.

Speed: two snapshots of 2,000 metrics x 500 samples must compare in well under a second
of arithmetic, so the work is batched over metrics of the same sample counts (2-D numpy),
the pairwise-difference matrix of Hodges–Lehmann is exact up to 200 x 200 samples and
built from 100 evenly spaced quantiles of each side beyond that, and the bootstrap
draws the resampled order statistics directly (the k-th smallest of n resampled values is
``x[floor(n * U)]`` with ``U ~ Beta(k, n + 1 - k)``), which is distributed exactly as
resampling n values and sorting them, at O(resamples) instead of O(resamples x n) cost.

numpy is imported inside functions, so importing this module costs nothing; scipy.stats is
not used here because importing it alone takes over a second on a small machine. Tests
check every function against scipy.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from typing import Any, Sequence

MIN_SAMPLES = 8  # fewer on either side: no verdict (compare's rule; a rank test cannot reach small p)
MIN_TAIL_BEYOND = 20  # pooled values beyond a quantile needed before its tail is tested
EXACT_PAIRWISE_MAX = 200  # Hodges–Lehmann from all pairs up to this many samples a side
THINNED_POINTS = 100  # ... and from this many evenly spaced quantiles a side beyond it
DEFAULT_SEED = 20200601
DEFAULT_RESAMPLES = 1000  # percentile interval ends from the 25th/975th replicate
DEFAULT_CI_LEVEL = 0.95


def _np() -> Any:
    import numpy

    return numpy


def normal_sf(z: float) -> float:
    """P(Z > z) for a standard normal, accurate far into the tail."""
    return 0.5 * math.erfc(z / math.sqrt(2.0))


def normal_ppf(p: float) -> float:
    from statistics import NormalDist

    return NormalDist().inv_cdf(p)


def quantile(sorted_values: Sequence[float], q: float) -> float:
    """The q-quantile of already sorted values, linear interpolation (numpy's default)."""
    n = len(sorted_values)
    if n == 0:
        raise ValueError("quantile of no values")
    h = (n - 1) * q
    lo = math.floor(h)
    hi = min(lo + 1, n - 1)
    return float(sorted_values[lo] + (h - lo) * (sorted_values[hi] - sorted_values[lo]))


# ---------------------------------------------------------------- result types


@dataclass(frozen=True)
class Summary:
    """One side of a samples metric."""

    n: int
    mean: float
    p50: float
    p95: float
    p99: float


@dataclass(frozen=True)
class ShiftResult:
    """Mann–Whitney U of candidate vs baseline and the Hodges–Lehmann shift (candidate − baseline).

    ``p_greater``: one-sided p-value against "candidate is stochastically larger";
    ``p_less`` the other way. ``pairwise_exact`` is False when the shift and its interval
    come from thinned samples (more than EXACT_PAIRWISE_MAX a side).
    """

    u: float
    p_greater: float
    p_less: float
    shift: float
    ci_low: float
    ci_high: float
    pairwise_exact: bool = True


@dataclass(frozen=True)
class TailResult:
    """One tail quantile: both sides' values, the bootstrap interval of their difference and
    the exact exceedance test. ``tested`` is False when too few pooled values lie beyond
    the quantile for any test to reach significance (the p-values are then 1)."""

    q: float
    baseline: float
    candidate: float
    change: float
    ci_low: float
    ci_high: float
    beyond_baseline: int
    beyond_candidate: int
    p_greater: float
    p_less: float
    tested: bool


@dataclass(frozen=True)
class SamplesResult:
    baseline: Summary
    candidate: Summary
    shift: ShiftResult
    tails: tuple[TailResult, ...]


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


# ---------------------------------------------------------------- exact discrete tests


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


# ---------------------------------------------------------------- multiple comparisons


def holm(pvalues: Sequence[float]) -> list[float]:
    """Holm–Bonferroni adjusted p-values: reject where adjusted <= alpha (family-wise)."""
    m = len(pvalues)
    order = sorted(range(m), key=lambda i: pvalues[i])
    adjusted = [1.0] * m
    running = 0.0
    for rank, i in enumerate(order):
        running = max(running, min(1.0, (m - rank) * pvalues[i]))
        adjusted[i] = running
    return adjusted


def benjamini_hochberg(pvalues: Sequence[float]) -> list[float]:
    """Benjamini–Hochberg q-values (false discovery rate); shown beside, never decide."""
    m = len(pvalues)
    order = sorted(range(m), key=lambda i: pvalues[i], reverse=True)
    qvalues = [1.0] * m
    running = 1.0
    for position, i in enumerate(order):
        rank = m - position
        running = min(running, m * pvalues[i] / rank)
        qvalues[i] = min(1.0, running)
    return qvalues


# ---------------------------------------------------------------- samples, batched


def compare_samples(pairs: Sequence[tuple[Sequence[float], Sequence[float]]],
                    tails: Sequence[Sequence[float]] | None = None, *,
                    ci_level: float = DEFAULT_CI_LEVEL, seed: int = DEFAULT_SEED,
                    resamples: int = DEFAULT_RESAMPLES) -> list[SamplesResult]:
    """Compare each (baseline, candidate) pair of sample lists; one SamplesResult per pair.

    ``tails[i]`` lists the quantiles to examine for pair i (default p95 and p99). Every pair
    needs at least 2 values a side (the caller enforces MIN_SAMPLES for verdicts). The
    result of a pair depends only on that pair's values and the seed, never on the others.
    """
    np = _np()
    if tails is None:
        tails = [(0.95, 0.99)] * len(pairs)
    if len(tails) != len(pairs):
        raise ValueError("tails must have one entry per pair")
    groups: dict[tuple[int, int, tuple[float, ...]], list[int]] = {}
    for i, (a, b) in enumerate(pairs):
        if len(a) < 2 or len(b) < 2:
            raise ValueError(f"pair {i}: need at least 2 values a side, got {len(a)} and {len(b)}")
        groups.setdefault((len(a), len(b), tuple(tails[i])), []).append(i)
    out: list[SamplesResult | None] = [None] * len(pairs)
    # Chunks bound memory (the pairwise matrix is rows x (points a side)^2 floats) and run on
    # a couple of threads: numpy's sort/partition release the GIL. Each chunk's results
    # depend on its own rows only, so the output is the same whatever the scheduling.
    chunks = [(key, members[start:start + 128]) for key, members in groups.items()
              for start in range(0, len(members), 128)]

    def run(job: tuple[tuple[int, int, tuple[float, ...]], list[int]]) -> None:
        (_, _, qs), chunk = job
        a = np.sort(np.array([pairs[i][0] for i in chunk], dtype=np.float64), axis=1)
        b = np.sort(np.array([pairs[i][1] for i in chunk], dtype=np.float64), axis=1)
        for i, r in zip(chunk, _compare_group(np, a, b, qs, ci_level, seed, resamples)):
            out[i] = r

    workers = min(len(chunks), os.cpu_count() or 1, 4)
    if workers <= 1 or len(pairs) < 64:
        for job in chunks:
            run(job)
    else:
        from concurrent.futures import ThreadPoolExecutor

        with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="triage-stats") as pool:
            list(pool.map(run, chunks))
    return out  # type: ignore[return-value]


def _compare_group(np: Any, a: Any, b: Any, qs: tuple[float, ...], ci_level: float, seed: int,
                   resamples: int) -> list[SamplesResult]:
    rows = a.shape[0]
    sa, sb = _summaries(np, a), _summaries(np, b)
    u, p_greater, p_less, pooled = _mann_whitney_rows(np, a, b)
    shift, lo, hi, exact = _hodges_lehmann_rows(np, a, b, ci_level)
    tail_rows = [_tail_rows(np, a, b, pooled, q, ci_level, seed, resamples) for q in qs]
    results = []
    for r in range(rows):
        shift_result = ShiftResult(float(u[r]), float(p_greater[r]), float(p_less[r]),
                                   float(shift[r]), float(lo[r]), float(hi[r]), exact)
        results.append(SamplesResult(sa[r], sb[r], shift_result, tuple(t[r] for t in tail_rows)))
    return results


def _row_quantile(np: Any, x: Any, q: float) -> Any:
    """The q-quantile of each already sorted row (numpy's default linear interpolation)."""
    n = x.shape[1]
    h = (n - 1) * q
    lo = math.floor(h)
    hi = min(lo + 1, n - 1)
    return x[:, lo] + (h - lo) * (x[:, hi] - x[:, lo])


def _summaries(np: Any, x: Any) -> list[Summary]:
    n = x.shape[1]
    p50, p95, p99 = (_row_quantile(np, x, q).tolist() for q in (0.5, 0.95, 0.99))
    mean = x.mean(axis=1).tolist()
    return [Summary(n, mean[r], p50[r], p95[r], p99[r]) for r in range(x.shape[0])]


def _mann_whitney_rows(np: Any, a: Any, b: Any) -> tuple[Any, Any, Any, Any]:
    """Row-wise U of b over a (rows already sorted), p-values by the normal approximation with
    tie and continuity correction (as scipy's method='asymptotic'). Also returns the sorted
    pooled rows, which the tail tests reuse.

    U counts, for every b value, the a values below it plus half those equal to it: two
    binary searches into the sorted a, no ranking of the pooled sample needed.
    """
    rows, na = a.shape
    nb = b.shape[1]
    n = na + nb
    u = np.empty(rows)
    for r in range(rows):
        below = np.searchsorted(a[r], b[r], side="left")
        upto = np.searchsorted(a[r], b[r], side="right")
        u[r] = (below.sum() + upto.sum()) / 2
    # Two sorted runs: the stable sort (timsort) merges them in linear time.
    pooled = np.sort(np.concatenate([a, b], axis=1), axis=1, kind="stable")
    ties = np.zeros(rows)
    tied_rows = np.flatnonzero((pooled[:, 1:] == pooled[:, :-1]).any(axis=1))
    if tied_rows.size:
        sub = pooled[tied_rows]
        new_group = np.ones_like(sub, dtype=bool)
        new_group[:, 1:] = sub[:, 1:] != sub[:, :-1]
        flags = new_group.ravel()
        starts = np.flatnonzero(flags)
        sizes = np.diff(np.append(starts, flags.size)).astype(np.float64)
        ties[tied_rows] = np.bincount(starts // n, weights=sizes ** 3 - sizes, minlength=tied_rows.size)
    mu = na * nb / 2
    var = na * nb / 12 * ((n + 1) - ties / (n * (n - 1)))
    p_greater = np.ones(rows)
    p_less = np.ones(rows)
    for r in range(rows):
        if var[r] > 0:
            sd = math.sqrt(var[r])
            p_greater[r] = min(1.0, normal_sf((u[r] - mu - 0.5) / sd))
            p_less[r] = min(1.0, normal_sf((mu - u[r] - 0.5) / sd))
    return u, p_greater, p_less, pooled


def _thin(np: Any, x: Any, points: int) -> Any:
    """``points`` evenly spaced quantiles (at (i + 0.5) / points) of each sorted row."""
    n = x.shape[1]
    h = (np.arange(points) + 0.5) / points * (n - 1)
    lo = np.floor(h).astype(np.int64)
    hi = np.minimum(lo + 1, n - 1)
    frac = h - lo
    return x[:, lo] + frac * (x[:, hi] - x[:, lo])


def _hodges_lehmann_rows(np: Any, a: Any, b: Any, ci_level: float) -> tuple[Any, Any, Any, bool]:
    """Row-wise median of all pairwise differences b_j − a_i and Moses' interval: the
    order statistics at the normal-approximation critical ranks of U."""
    na, nb = a.shape[1], b.shape[1]
    pairs = na * nb
    z = normal_ppf(0.5 + ci_level / 2)
    c = int(round(pairs / 2 - z * math.sqrt(pairs * (na + nb + 1) / 12)))
    c = min(max(c, 1), (pairs + 1) // 2)
    exact = na <= EXACT_PAIRWISE_MAX and nb <= EXACT_PAIRWISE_MAX
    if not exact:
        # Thinned, the estimate is already approximate (to ~2% of the interval's half-width),
        # so single precision (7 digits) costs nothing and selects ~25% faster.
        a = _thin(np, a, min(na, THINNED_POINTS)).astype(np.float32)
        b = _thin(np, b, min(nb, THINNED_POINTS)).astype(np.float32)
    m = a.shape[1] * b.shape[1]
    # Interval ends: order statistics c and pairs + 1 − c (1-based); from thinned samples the
    # same fraction of the way through, to the nearest one. The median interpolates.
    low_k = round((c - 1) / (pairs - 1) * (m - 1))
    high_k = round((pairs - c) / (pairs - 1) * (m - 1))
    mid_lo, mid_hi = (m - 1) // 2, m // 2
    kth = sorted({low_k, high_k, mid_lo, mid_hi})
    out = np.empty((3, a.shape[0]))
    step = max(1, 2_000_000 // m)
    for s in range(0, a.shape[0], step):
        diffs = (b[s:s + step, :, None] - a[s:s + step, None, :]).reshape(-1, m)
        part = np.partition(diffs, kth, axis=1)
        out[0, s:s + step] = part[:, low_k]
        out[1, s:s + step] = (part[:, mid_lo].astype(np.float64) + part[:, mid_hi]) / 2
        out[2, s:s + step] = part[:, high_k]
    return out[1], out[0], out[2], exact


def _bootstrap_positions(np: Any, n: int, q: float, resamples: int, seed: int, role: int) -> tuple[Any, Any, float]:
    """Indices into a sorted sample of n values giving, for each bootstrap resample, the two
    order statistics its q-quantile interpolates between (see module docstring)."""
    h = (n - 1) * q
    lo = math.floor(h)
    frac = h - lo
    k = lo + 1  # 1-based rank of the lower order statistic
    rng = np.random.default_rng([seed, n, int(round(q * 1_000_000)), role])
    u_k = rng.beta(k, n + 1 - k, size=resamples)
    if k < n and frac > 0:
        # The next order statistic: the smallest of the n − k uniforms above u_k.
        u_next = u_k + (1 - u_k) * (1 - rng.random(resamples) ** (1.0 / (n - k)))
    else:
        u_next = u_k
    first = np.minimum(np.floor(n * u_k).astype(np.int64), n - 1)
    second = np.minimum(np.floor(n * u_next).astype(np.int64), n - 1)
    return first, second, frac


def _tail_rows(np: Any, a: Any, b: Any, pooled: Any, q: float, ci_level: float, seed: int,
               resamples: int) -> list[TailResult]:
    rows, na = a.shape
    nb = b.shape[1]
    qa = _row_quantile(np, a, q)
    qb = _row_quantile(np, b, q)
    ia1, ia2, fa = _bootstrap_positions(np, na, q, resamples, seed, 0)
    ib1, ib2, fb = _bootstrap_positions(np, nb, q, resamples, seed, 1)
    boot = b[:, ib1] - a[:, ia1]
    if fb:
        boot += fb * (b[:, ib2] - b[:, ib1])
    if fa:
        boot -= fa * (a[:, ia2] - a[:, ia1])
    alpha = 1 - ci_level
    k_low = round(alpha / 2 * (resamples - 1))
    k_high = round((1 - alpha / 2) * (resamples - 1))
    boot.partition([k_low, k_high], axis=1)
    ci_low, ci_high = boot[:, k_low].tolist(), boot[:, k_high].tolist()
    threshold = _row_quantile(np, pooled, q)[:, None]
    upper = q >= 0.5
    # Ties at the threshold (timeouts recorded as the timeout value) can leave nothing
    # strictly beyond it. Whether to count the tied values too is decided from the pooled
    # values alone (whichever count is nearer the nominal N(1 − q)), so the test stays exact.
    strict_a = (a > threshold) if upper else (a < threshold)
    strict_b = (b > threshold) if upper else (b < threshold)
    tied_a, tied_b = a == threshold, b == threshold
    nominal = (na + nb) * (1 - q if upper else q)
    strict = strict_a.sum(axis=1) + strict_b.sum(axis=1)
    inclusive = strict + tied_a.sum(axis=1) + tied_b.sum(axis=1)
    include_ties = (np.abs(inclusive - nominal) < np.abs(strict - nominal))[:, None]
    beyond_a = (strict_a | (include_ties & tied_a)).sum(axis=1).tolist()
    beyond_b = (strict_b | (include_ties & tied_b)).sum(axis=1).tolist()
    qa, qb = qa.tolist(), qb.tolist()
    out = []
    tables: dict[int, tuple[int, Any, Any]] = {}  # by pooled count beyond: mostly one for all rows
    for r in range(rows):
        k_a, k_b = beyond_a[r], beyond_b[r]
        tested = k_a + k_b >= MIN_TAIL_BEYOND
        p_greater = p_less = 1.0
        if tested:
            table = tables.get(k_a + k_b)
            if table is None:
                table = tables[k_a + k_b] = _hypergeom_tail_table(np, na + nb, k_a + k_b, nb)
            lo, at_least, at_most = table
            p_more, p_fewer = float(at_least[k_b - lo]), float(at_most[k_b - lo])
            # More candidate values above an upper quantile means a larger candidate
            # quantile; more below a lower quantile means a smaller one.
            p_greater, p_less = (p_more, p_fewer) if upper else (p_fewer, p_more)
        out.append(TailResult(q, qa[r], qb[r], qb[r] - qa[r], ci_low[r], ci_high[r], k_a, k_b,
                              p_greater, p_less, tested))
    return out


def hodges_lehmann(a: Sequence[float], b: Sequence[float], ci_level: float = DEFAULT_CI_LEVEL) -> ShiftResult:
    """Convenience for one pair: Mann–Whitney U and the Hodges–Lehmann shift of b over a."""
    return compare_samples([(a, b)], [()], ci_level=ci_level)[0].shift
