"""Samples: judged in one batch (stats.compare_samples is vectorised across metrics); values
that came in groups then get their decisive p-values and intervals from tests whose units
are the groups (stats.clustered)."""

from __future__ import annotations

import statistics
from dataclasses import replace
from typing import Sequence

from triage import stats
from triage.pooling import PooledMetric
from triage.verdict import CI_LEVEL, SideSummary

from .drafts import Draft, Row, directional, tail_name, tails_for


def samples_summary(values: Sequence[float], runs: int, groups: Sequence[int] | None = None) -> SideSummary:
    ordered = sorted(values)
    if not ordered:
        return SideSummary("samples", runs, 0)
    return _with_groups(SideSummary("samples", runs, len(ordered), sum(ordered) / len(ordered),
                                    stats.quantile(ordered, 0.5), stats.quantile(ordered, 0.95),
                                    stats.quantile(ordered, 0.99)), values, groups)


def _with_groups(summary: SideSummary, values: Sequence[float], groups: Sequence[int] | None) -> SideSummary:
    """The summary plus how many groups the values came in and the range of their medians."""
    if not groups:
        return summary
    medians, start = [], 0
    for size in groups:
        medians.append(statistics.median(values[start:start + size]))
        start += size
    return replace(summary, groups=len(groups), group_p50_low=min(medians), group_p50_high=max(medians))


class SamplesBatch:
    """Samples rows queued for one vectorised stats.compare_samples call."""

    def __init__(self) -> None:
        self.rows: list[Row] = []
        self.sides: list[tuple[PooledMetric, PooledMetric]] = []

    def add(self, row: Row, a: PooledMetric, b: PooledMetric) -> None:
        self.rows.append(row)
        self.sides.append((a, b))

    def run(self) -> None:
        if not self.rows:
            return
        results = stats.compare_samples([(a.values, b.values) for a, b in self.sides],
                                        [tails_for(r.better) for r in self.rows], ci_level=CI_LEVEL)
        for row, (a, b), res in zip(self.rows, self.sides, results):
            row.baseline = _with_groups(SideSummary("samples", a.runs, res.baseline.n, res.baseline.mean,
                                                    res.baseline.p50, res.baseline.p95, res.baseline.p99),
                                        a.values, a.groups)
            row.candidate = _with_groups(SideSummary("samples", b.runs, res.candidate.n, res.candidate.mean,
                                                     res.candidate.p50, res.candidate.p95, res.candidate.p99),
                                         b.values, b.groups)
            s = res.shift
            p_worse, p_better = directional(row.better, s.p_greater, s.p_less)
            row.components.append(Draft(
                "median", res.baseline.p50, res.candidate.p50, s.shift, res.baseline.p50, s.ci_low, s.ci_high,
                p_worse, p_better, note="" if s.pairwise_exact else "size from 100 quantiles a side",
                method="Mann–Whitney U"))
            for t in res.tails:
                p_worse, p_better = directional(row.better, t.p_greater, t.p_less)
                row.components.append(Draft(
                    tail_name(t.q), t.baseline, t.candidate, t.change, t.baseline, t.ci_low, t.ci_high,
                    p_worse if t.tested else None, p_better if t.tested else None,
                    note="" if t.tested else f"not tested: {t.beyond_baseline + t.beyond_candidate} pooled values "
                                             f"beyond it, {stats.MIN_TAIL_BEYOND} needed",
                    method="exact exceedance test" if t.tested else "", upper_tail=t.q >= 0.5))
            if a.groups is not None or b.groups is not None:
                _judge_in_groups(row, a, b)


def _judge_in_groups(row: Row, a: PooledMetric, b: PooledMetric) -> None:
    """Values that came in groups: the decisive p-values and the intervals from tests whose
    units are the groups (stats.clustered). The larger of the two p-values decides (either
    test alone is valid when its assumption holds, so the larger is valid when either holds),
    and intervals only widen."""
    shift = stats.clustered_shift_test(a.values, a.groups, b.values, b.groups)
    for d in row.components:
        if d.p is None:
            continue  # an untested tail stays untested
        if d.name == "median":
            test, p_greater, p_less = shift, shift.p_greater, shift.p_less
        else:
            threshold, upper = _tail_threshold(a.values, b.values, d), d.upper_tail
            test = stats.clustered_share_test(_beyond(a.values, threshold, upper), a.groups,
                                              _beyond(b.values, threshold, upper), b.groups)
            # More candidate values beyond an upper quantile: a larger candidate quantile.
            p_greater, p_less = (test.p_greater, test.p_less) if upper else (test.p_less, test.p_greater)
        p_worse, p_better = directional(row.better, p_greater, p_less)
        d.p = max(d.p, p_worse)
        d.p_better = None if d.p_better is None or p_better is None else max(d.p_better, p_better)
        if d.ci_low is not None and d.ci_high is not None and d.change is not None:
            d.ci_low, d.ci_high = stats.widen(d.change, d.ci_low, d.ci_high, test, CI_LEVEL)
        ka, kb = test.groups
        d.method = f"groups as units: {ka} vs {kb} groups, t({test.df})"
        d.design_effect = test.design_effect


def _tail_threshold(a: Sequence[float], b: Sequence[float], d: Draft) -> tuple[float, bool]:
    """The pooled quantile a tail is tested at, and whether values equal to it count as
    beyond (the exceedance test's rule: whichever count is nearer the nominal share)."""
    q = float(d.name[1:]) / 100
    pooled = sorted([*a, *b])
    threshold = stats.quantile(pooled, q)
    upper = d.upper_tail
    strict = sum(1 for v in pooled if (v > threshold if upper else v < threshold))
    inclusive = strict + sum(1 for v in pooled if v == threshold)
    nominal = len(pooled) * (1 - q if upper else q)
    return threshold, abs(inclusive - nominal) < abs(strict - nominal)


def _beyond(values: Sequence[float], threshold: tuple[float, bool], upper: bool) -> list[bool]:
    value, ties = threshold
    if upper:
        return [v > value or (ties and v == value) for v in values]
    return [v < value or (ties and v == value) for v in values]


def judge_samples(row: Row, a: PooledMetric, b: PooledMetric, batch: SamplesBatch) -> None:
    if len(a.values) < stats.MIN_SAMPLES or len(b.values) < stats.MIN_SAMPLES:
        row.verdict = "inconclusive"
        row.reason = f"too few samples ({len(a.values)} vs {len(b.values)}; {stats.MIN_SAMPLES} a side needed)"
        return
    batch.add(row, a, b)
