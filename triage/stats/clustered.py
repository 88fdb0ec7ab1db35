"""Tests that stay honest when samples come in groups (sub-runs: a fresh connection,
socket or session each) whose conditions differ: per-connection CPU placement, a noisy
neighbour that comes and goes, a cache warmed by one session.

Rank tests on pooled values take 100 samples of one connection as 100 independent draws;
when the connection itself was fast or slow, that is one draw, and an unchanged server
"regresses" at p = 1e-24. Here the groups are the independent units:

- Shift: the Mann–Whitney statistic as a placement mean, θ = P(candidate > baseline) +
  ½ P(tie), with the variance of θ estimated from the between-group spread of the groups'
  placement sums (DeLong's variance with groups as clusters, Obuchowski 1997), referred
  to Student's t with min(K_a, K_b) − 1 degrees of freedom, K the groups a side: the
  few-clusters rule of Cameron & Miller (2015). Simulated A/A pairs of 10 groups of 20
  values a side, group medians spread ×1.8: 1.0% of one-sided p below 0.01 (nominal 1%),
  and 2e-4 below 1e-4 where Welch–Satterthwaite degrees of freedom (~17) gave 8.5e-4;
  pooled Mann–Whitney: 31% below 0.01. With every group of one value this is the
  Brunner–Munzel test.
- Tails: the share of each side's values beyond the pooled quantile, compared with the
  same cluster-robust variance of a mean of indicators.
- No p-value below 1 / C(K_a + K_b, K_b): with K groups a side, no arrangement of whole
  groups is more extreme than all candidate groups above all baseline ones, so a side of
  one group can never decide anything.
- ``design_effect``: the clustered variance over the independent-values one. Intervals
  computed as if values were independent are widened by its square root (never narrowed:
  a design effect below 1 is taken as 1).

Assumes groups are independent of each other and exchangeable within a side; values
within a group may be correlated in any way. Pure functions; numpy inside functions.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Sequence

from .basics import _np, normal_ppf, normal_sf
from .samples import exceedance_masks


# ---------------------------------------------------------------- Student's t without scipy


def _betacf(a: float, b: float, x: float) -> float:
    """Continued fraction of the incomplete beta function (modified Lentz)."""
    tiny = 1e-300
    qab, qap, qam = a + b, a + 1.0, a - 1.0
    c, d = 1.0, 1.0 - qab * x / qap
    d = 1.0 / (d if abs(d) > tiny else tiny)
    h = d
    for m in range(1, 500):
        m2 = 2 * m
        aa = m * (b - m) * x / ((qam + m2) * (a + m2))
        d = 1.0 + aa * d
        d = 1.0 / (d if abs(d) > tiny else tiny)
        c = 1.0 + aa / c
        c = c if abs(c) > tiny else tiny
        h *= d * c
        aa = -(a + m) * (qab + m) * x / ((a + m2) * (qap + m2))
        d = 1.0 + aa * d
        d = 1.0 / (d if abs(d) > tiny else tiny)
        c = 1.0 + aa / c
        c = c if abs(c) > tiny else tiny
        delta = d * c
        h *= delta
        if abs(delta - 1.0) < 3e-16:
            break
    return h


def betainc(a: float, b: float, x: float) -> float:
    """The regularized incomplete beta function I_x(a, b)."""
    if x <= 0.0:
        return 0.0
    if x >= 1.0:
        return 1.0
    log_front = math.lgamma(a + b) - math.lgamma(a) - math.lgamma(b) + a * math.log(x) + b * math.log1p(-x)
    if x < (a + 1.0) / (a + b + 2.0):
        return math.exp(log_front) * _betacf(a, b, x) / a
    return 1.0 - math.exp(log_front) * _betacf(b, a, 1.0 - x) / b


def t_sf(t: float, df: float) -> float:
    """P(T > t) for Student's t with ``df`` degrees of freedom (df = inf: the normal)."""
    if math.isinf(df):
        return normal_sf(t)
    if t == 0:
        return 0.5
    tail = 0.5 * betainc(df / 2.0, 0.5, df / (df + t * t))
    return tail if t > 0 else 1.0 - tail


@lru_cache(maxsize=512)
def t_ppf_upper(p: float, df: int) -> float:
    """The t with P(T > t) = p, for 0 < p < 0.5 and whole degrees of freedom. Bisection on
    t_sf (monotone, exact); cached, since a comparison asks for few distinct ones."""
    lo, hi = 0.0, max(1.0, -normal_ppf(p))
    while t_sf(hi, df) > p:
        lo, hi = hi, hi * 2.0
    for _ in range(80):
        mid = (lo + hi) / 2.0
        if t_sf(mid, df) > p:
            lo = mid
        else:
            hi = mid
    return hi


# ---------------------------------------------------------------- the tests


def permutation_floor(groups_a: int, groups_b: int) -> float:
    """1 / C(K_a + K_b, K_b): the smallest p-value whole groups can support."""
    return math.exp(math.lgamma(groups_b + 1) + math.lgamma(groups_a + 1) - math.lgamma(groups_a + groups_b + 1))


@dataclass(frozen=True)
class ClusteredTest:
    """One clustered comparison: the statistic (θ for shifts, a share difference for tails),
    one-sided p-values, the design effect and the reference distribution's df."""

    statistic: float
    p_greater: float  # against "candidate larger"
    p_less: float
    design_effect: float
    df: int
    groups: tuple[int, int]  # (K_a, K_b)


def as_values(values: Sequence[float]) -> Any:
    """``values`` as a float64 array: convert once, then every test here takes it as is."""
    return _np().asarray(values, dtype=_np().float64)


def group_sizes(n: int, groups: Sequence[int] | None) -> tuple[int, ...]:
    """A measurement's groups, or one group per value when it recorded none."""
    return tuple(groups) if groups else (1,) * n


def group_medians_rows(np: Any, x: Any, groups: tuple[int, ...]) -> Any:
    """Each row's group medians (rows × groups)."""
    if len(set(groups)) == 1:  # equal sizes, the usual case: one vectorised call
        return np.median(x.reshape(x.shape[0], len(groups), groups[0]), axis=2)
    edges = np.cumsum([0, *groups])
    return np.stack([np.median(x[:, lo:hi], axis=1) for lo, hi in zip(edges[:-1], edges[1:])], axis=1)


def group_medians(values: Sequence[float], groups: Sequence[int]) -> list[float]:
    """Each group's median, in order."""
    return group_medians_rows(_np(), as_values(values)[None, :], tuple(groups))[0].tolist()


def _cluster_variance(np: Any, contributions: Any, sizes: tuple[int, ...], centre: Any) -> Any:
    """Per row: K / (K − 1) · Σ_g (S_g − m_g · centre)² / n², the cluster-robust variance of
    a mean of per-value contributions (rows × n), S_g their sum over group g of size m_g."""
    k, n = len(sizes), contributions.shape[1]
    if k < 2:
        return np.zeros(contributions.shape[0])
    starts = np.concatenate(([0], np.cumsum(sizes[:-1]))).astype(np.int64)
    spread = np.add.reduceat(contributions, starts, axis=1) - np.asarray(sizes, dtype=np.float64) * centre[:, None]
    return k / (k - 1) * np.einsum("ij,ij->i", spread, spread) / (n * n)


def _one_sided(statistic: float, null: float, variance: float, df: int, floor: float) -> tuple[float, float]:
    if variance <= 0.0:
        if statistic == null:
            return 1.0, 1.0
        return (floor, 1.0) if statistic > null else (1.0, floor)
    t = (statistic - null) / math.sqrt(variance)
    upper = t_sf(abs(t), df)  # the small tail, computed directly; the other is its complement
    p_greater, p_less = (upper, 1.0 - upper) if t >= 0 else (1.0 - upper, upper)
    return max(floor, p_greater), max(floor, p_less)


def _degrees_of_freedom(groups_a: int, groups_b: int) -> int:
    """min(K_a, K_b) − 1 (at least 1): Welch–Satterthwaite's ~2K − 2 let far tails through
    several times too often with 10 groups a side (see the module docstring)."""
    return max(1, min(groups_a, groups_b) - 1)


def _placements(np: Any, a: Any, b: Any) -> tuple[Any, Any]:
    """Per row: each candidate value's share of baseline values below it (ties half), and
    each baseline value's share of candidate values above it (both average to θ), in the
    rows' own order. One sort of each side, binary searches of sorted into sorted (fast,
    in cache), then back to the original order."""
    na, nb = a.shape[1], b.shape[1]
    order_a, order_b = np.argsort(a, axis=1), np.argsort(b, axis=1)
    sa, sb = np.take_along_axis(a, order_a, axis=1), np.take_along_axis(b, order_b, axis=1)
    sorted_place_b = np.empty(b.shape)
    sorted_place_a = np.empty(a.shape)
    for r in range(a.shape[0]):
        sorted_place_b[r] = np.searchsorted(sa[r], sb[r], side="left") + np.searchsorted(sa[r], sb[r], side="right")
        sorted_place_a[r] = np.searchsorted(sb[r], sa[r], side="left") + np.searchsorted(sb[r], sa[r], side="right")
    place_b, place_a = np.empty(b.shape), np.empty(a.shape)
    np.put_along_axis(place_b, order_b, sorted_place_b / (2.0 * na), axis=1)
    np.put_along_axis(place_a, order_a, (2 * nb - sorted_place_a) / (2.0 * nb), axis=1)
    return place_a, place_b


def shift_tests(a: Any, groups_a: Sequence[int] | None, b: Any, groups_b: Sequence[int] | None) -> list[ClusteredTest]:
    """Per row of ``a`` (rows × n_a) and ``b`` (rows × n_b), values in the order of their
    groups (the same for every row): is the candidate stochastically larger or smaller?"""
    np = _np()
    na, nb = a.shape[1], b.shape[1]
    ka, kb = group_sizes(na, groups_a), group_sizes(nb, groups_b)
    place_a, place_b = _placements(np, a, b)
    theta = place_b.mean(axis=1)
    variance = _cluster_variance(np, place_a, ka, theta) + _cluster_variance(np, place_b, kb, theta)
    independent = (na + nb + 1) / (12.0 * na * nb)  # Mann–Whitney's null variance of θ
    df, floor = _degrees_of_freedom(len(ka), len(kb)), permutation_floor(len(ka), len(kb))
    out = []
    for t, v in zip(theta.tolist(), variance.tolist()):
        p_greater, p_less = _one_sided(t, 0.5, v, df, floor)
        out.append(ClusteredTest(t, p_greater, p_less, v / independent, df, (len(ka), len(kb))))
    return out


def share_tests(beyond_a: Any, groups_a: Sequence[int] | None, beyond_b: Any,
                groups_b: Sequence[int] | None) -> list[ClusteredTest]:
    """Per row of boolean ``beyond_a`` and ``beyond_b`` (rows × n): is the candidate's share
    of values beyond a threshold larger or smaller than the baseline's?"""
    np = _np()
    ea, eb = beyond_a.astype(np.float64), beyond_b.astype(np.float64)
    na, nb = ea.shape[1], eb.shape[1]
    ka, kb = group_sizes(na, groups_a), group_sizes(nb, groups_b)
    ra, rb = ea.mean(axis=1), eb.mean(axis=1)
    variance = _cluster_variance(np, ea, ka, ra) + _cluster_variance(np, eb, kb, rb)
    pooled = (ra * na + rb * nb) / (na + nb)
    independent = pooled * (1 - pooled) * (1 / na + 1 / nb)
    df, floor = _degrees_of_freedom(len(ka), len(kb)), permutation_floor(len(ka), len(kb))
    out = []
    for d, v, i in zip((rb - ra).tolist(), variance.tolist(), independent.tolist()):
        p_greater, p_less = _one_sided(d, 0.0, v, df, floor)
        out.append(ClusteredTest(d, p_greater, p_less, v / i if i > 0 else 1.0, df, (len(ka), len(kb))))
    return out


def pooled_quantiles(a: Any, b: Any, qs: Sequence[float]) -> Any:
    """Each row's pooled quantiles (len(qs) × rows), numpy's default linear interpolation as
    triage.stats.quantile, by partial selection rather than a full sort of every row."""
    return _np().quantile(_np().concatenate([a, b], axis=1), list(qs), axis=1)


def tail_tests(a: Any, groups_a: Sequence[int] | None, b: Any, groups_b: Sequence[int] | None,
               q: float, threshold: Any) -> list[ClusteredTest]:
    """Per row: the q-quantile compared the clustered way, as the share of each side's values
    beyond the pooled quantile ``threshold`` (one a row: ``pooled_quantiles``; the exceedance
    test's rule, ties included). For q >= 0.5
    ``p_greater`` is against "candidate quantile larger"; below the median, more values
    beyond means a smaller quantile, so the p-values are swapped."""
    np = _np()
    mask_a, mask_b = exceedance_masks(np, a, b, threshold, q)
    tests = share_tests(mask_a, groups_a, mask_b, groups_b)
    if q >= 0.5:
        return tests
    return [ClusteredTest(-t.statistic, t.p_less, t.p_greater, t.design_effect, t.df, t.groups) for t in tests]


def rate_test(events_a: Sequence[int], trials_a: Sequence[int], events_b: Sequence[int],
              trials_b: Sequence[int]) -> ClusteredTest:
    """Events out of trials counted per group (a round of the run, a block): is the
    candidate's rate Σe/Σt larger or smaller, with the groups as units (the cluster-robust
    variance of a ratio: K/(K−1) Σ (e_g − t_g · rate)² / (Σ t)² a side)?"""
    np = _np()
    ea, ta = np.asarray(events_a, dtype=np.float64), np.asarray(trials_a, dtype=np.float64)
    eb, tb = np.asarray(events_b, dtype=np.float64), np.asarray(trials_b, dtype=np.float64)
    ra, rb = ea.sum() / ta.sum(), eb.sum() / tb.sum()

    def variance(e: Any, t: Any, rate: float) -> float:
        k = e.size
        return 0.0 if k < 2 else float(k / (k - 1) * np.sum((e - t * rate) ** 2) / t.sum() ** 2)

    v = variance(ea, ta, ra) + variance(eb, tb, rb)
    pooled = (ea.sum() + eb.sum()) / (ta.sum() + tb.sum())
    independent = pooled * (1 - pooled) * (1 / ta.sum() + 1 / tb.sum())
    df, floor = _degrees_of_freedom(ea.size, eb.size), permutation_floor(ea.size, eb.size)
    p_greater, p_less = _one_sided(float(rb - ra), 0.0, v, df, floor)
    return ClusteredTest(float(rb - ra), p_greater, p_less, v / independent if independent > 0 else 1.0, df,
                         (ea.size, eb.size))


# One pair at a time: the same tests on plain sequences.

def clustered_shift_test(a: Sequence[float], groups_a: Sequence[int] | None, b: Sequence[float],
                         groups_b: Sequence[int] | None) -> ClusteredTest:
    """Is the candidate ``b`` stochastically larger or smaller than the baseline ``a``,
    given that values come in groups? ``a`` and ``b`` in the order their groups list them."""
    return shift_tests(as_values(a)[None, :], groups_a, as_values(b)[None, :], groups_b)[0]


def clustered_share_test(beyond_a: Sequence[bool], groups_a: Sequence[int] | None, beyond_b: Sequence[bool],
                         groups_b: Sequence[int] | None) -> ClusteredTest:
    """Is the candidate's share of values beyond a threshold larger or smaller than the
    baseline's, given that values come in groups? (Tails: values beyond the pooled p95.)"""
    np = _np()
    return share_tests(np.asarray(beyond_a, dtype=bool)[None, :], groups_a,
                       np.asarray(beyond_b, dtype=bool)[None, :], groups_b)[0]


def widen(estimate: float, low: float, high: float, test: ClusteredTest, ci_level: float) -> tuple[float, float]:
    """An interval computed as if values were independent (normal critical values), widened
    about its estimate by √(design effect) (never narrowed) and from the normal's critical
    value to Student's at the test's degrees of freedom."""
    z = -normal_ppf((1 - ci_level) / 2)
    t = t_ppf_upper((1 - ci_level) / 2, test.df)
    factor = math.sqrt(max(1.0, test.design_effect)) * max(1.0, t / z)
    return estimate - (estimate - low) * factor, estimate + (high - estimate) * factor
