"""Samples: judged in one batch (stats.compare_samples is vectorised across metrics); values
that came in groups then get their decisive p-values and intervals from tests whose units
are the groups (stats.clustered)."""

from __future__ import annotations

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
    p50, p95, p99, p75, p90, p999 = (stats.quantile(ordered, q) for q in (0.5, 0.95, 0.99, 0.75, 0.9, 0.999))
    return _with_groups(SideSummary("samples", runs, len(ordered), sum(ordered) / len(ordered), p50, p95, p99,
                                    p75=p75, p90=p90, p999=p999), values, groups)


def _with_groups(summary: SideSummary, values: Sequence[float], groups: Sequence[int] | None) -> SideSummary:
    """The summary plus how many groups the values came in and the range of their medians."""
    if not groups:
        return summary
    medians = stats.group_medians(values, groups)
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
        in_groups: dict[tuple, list[tuple[Row, PooledMetric, PooledMetric]]] = {}
        for row, (a, b), res in zip(self.rows, self.sides, results):
            row.baseline, row.candidate = (
                SideSummary("samples", pooled.runs, r.n, r.mean, r.p50, r.p95, r.p99, p75=r.p75, p90=r.p90, p999=r.p999)
                for pooled, r in ((a, res.baseline), (b, res.candidate)))
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
                    method="exact exceedance test" if t.tested else ""))
            if a.groups is not None or b.groups is not None:
                shape = (len(a.values), tuple(a.groups or ()), len(b.values), tuple(b.groups or ()),
                         tails_for(row.better))
                in_groups.setdefault(shape, []).append((row, a, b))
        for members in in_groups.values():
            _judge_in_groups(members)


def _judge_in_groups(members: list[tuple[Row, PooledMetric, PooledMetric]]) -> None:
    """Values that came in groups (rows of one shape: sizes, groups, tails): the decisive
    p-values and the intervals from tests whose units are the groups (stats.clustered),
    batched over the rows. The larger of the two p-values decides (either test alone is
    valid when its assumption holds, so the larger is valid when either holds), and
    intervals only widen."""
    np = stats.numpy()
    _, first_a, first_b = members[0]
    ga, gb = first_a.groups, first_b.groups
    a = np.array([m[1].values for m in members], dtype=np.float64)
    b = np.array([m[2].values for m in members], dtype=np.float64)
    tests = {"median": stats.shift_tests(a, ga, b, gb)}
    qs = tails_for(members[0][0].better)
    for q, threshold in zip(qs, stats.pooled_quantiles(a, b, qs)):
        tests[tail_name(q)] = stats.tail_tests(a, ga, b, gb, q, threshold)
    medians = {side: None if groups is None else stats.group_medians_rows(np, x, tuple(groups))
               for side, groups, x in (("a", ga, a), ("b", gb, b))}
    for i, (row, _, _) in enumerate(members):
        for key, summary in (("a", "baseline"), ("b", "candidate")):
            if medians[key] is not None:
                ms = medians[key][i]
                setattr(row, summary, replace(getattr(row, summary), groups=len(ms), group_p50_low=float(ms.min()),
                                              group_p50_high=float(ms.max())))
        for d in row.components:
            if d.p is None:
                continue  # an untested tail stays untested
            test = tests[d.name][i]
            p_worse, p_better = directional(row.better, test.p_greater, test.p_less)
            d.p = max(d.p, p_worse)
            d.p_better = None if d.p_better is None or p_better is None else max(d.p_better, p_better)
            if d.ci_low is not None and d.ci_high is not None and d.change is not None:
                d.ci_low, d.ci_high = stats.widen(d.change, d.ci_low, d.ci_high, test, CI_LEVEL)
            k_a, k_b = test.groups
            d.method = f"groups as units: {k_a} vs {k_b} groups, t({test.df})"
            d.design_effect = test.design_effect


def judge_samples(row: Row, a: PooledMetric, b: PooledMetric, batch: SamplesBatch) -> None:
    if len(a.values) < stats.MIN_SAMPLES or len(b.values) < stats.MIN_SAMPLES:
        row.verdict = "inconclusive"
        row.reason = f"too few samples ({len(a.values)} vs {len(b.values)}; {stats.MIN_SAMPLES} a side needed)"
        return
    batch.add(row, a, b)
