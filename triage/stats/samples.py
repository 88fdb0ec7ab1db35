"""Samples, batched over metrics: Mann–Whitney U, the Hodges–Lehmann shift with Moses'
interval, and the tails (bootstrap size, exact exceedance test). See the package docstring."""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from typing import Any, Sequence

from .basics import (DEFAULT_CI_LEVEL, DEFAULT_RESAMPLES, DEFAULT_SEED, EXACT_PAIRWISE_MAX, MIN_TAIL_BEYOND,
                     THINNED_POINTS, _np, normal_ppf, normal_sf)
from .exact import _hypergeom_tail_table

@dataclass(frozen=True)
class Summary:
    """One side of a samples metric."""

    n: int
    mean: float
    p50: float
    p95: float
    p99: float
    # The rest of the quantile curve a report draws (p50 → p99.9); judged nowhere.
    p75: float | None = None
    p90: float | None = None
    p999: float | None = None


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
    p50, p95, p99, p75, p90, p999 = (_row_quantile(np, x, q).tolist() for q in (0.5, 0.95, 0.99, 0.75, 0.9, 0.999))
    mean = x.mean(axis=1).tolist()
    return [Summary(n, mean[r], p50[r], p95[r], p99[r], p75[r], p90[r], p999[r]) for r in range(x.shape[0])]


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


def exceedance_masks(np: Any, a: Any, b: Any, threshold: Any, q: float) -> tuple[Any, Any]:
    """Which values of each row of ``a`` and ``b`` (any order) lie beyond ``threshold``,
    each row's pooled q-quantile (above it for q >= 0.5, below it otherwise).

    Ties at the threshold (timeouts recorded as the timeout value) can leave nothing
    strictly beyond it. Whether to count the tied values too is decided from the pooled
    values alone (whichever count is nearer the nominal N(1 − q)), so the test stays exact.
    """
    threshold = threshold[:, None]
    upper = q >= 0.5
    strict_a = (a > threshold) if upper else (a < threshold)
    strict_b = (b > threshold) if upper else (b < threshold)
    tied_a, tied_b = a == threshold, b == threshold
    nominal = (a.shape[1] + b.shape[1]) * (1 - q if upper else q)
    strict = strict_a.sum(axis=1) + strict_b.sum(axis=1)
    inclusive = strict + tied_a.sum(axis=1) + tied_b.sum(axis=1)
    include_ties = (np.abs(inclusive - nominal) < np.abs(strict - nominal))[:, None]
    return strict_a | (include_ties & tied_a), strict_b | (include_ties & tied_b)


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
    mask_a, mask_b = exceedance_masks(np, a, b, _row_quantile(np, pooled, q), q)
    upper = q >= 0.5
    beyond_a = mask_a.sum(axis=1).tolist()
    beyond_b = mask_b.sum(axis=1).tolist()
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
