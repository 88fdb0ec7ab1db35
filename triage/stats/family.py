"""Multiple comparisons across a family of metrics: Holm–Bonferroni (decides) and
Benjamini–Hochberg (shown beside)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

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




@dataclass(frozen=True)
class FamilyAdjustment:
    """Per metric, per component: the adjusted p-value (Holm) and q-value (BH); None where
    the component was not tested. ``size`` is the family: metrics with a tested component."""

    adjusted: tuple[tuple[float | None, ...], ...]
    q: tuple[tuple[float | None, ...], ...]
    size: int


def adjust_family(pvalues: Sequence[Sequence[float | None]],
                  weights: Sequence[float] | None = None, share: float = 1.0) -> FamilyAdjustment:
    """Holm–Bonferroni and Benjamini–Hochberg across metrics that have several components,
    optionally weighted (Holm's weighted procedure: metric i is judged at α · w_i / Σ w over
    the metrics not yet rejected, so the family-wise rate stays α whatever the weights).

    ``pvalues[i]`` holds metric i's raw component p-values (None: not tested). A metric's
    p-value is the Bonferroni minimum of its k tested components (k × the smallest), valid
    however the components depend on each other. A component's adjusted p is Holm's at its
    metric's step with k × its own p in place of the metric's: it is <= alpha only if the
    metric is rejected *and* that component alone meets the step's threshold, so the
    component that passes the floors is the one that is significant. Its q is BH's at the
    same position, built the same way (weighted BH: p / w with weights of mean 1). Without
    weights every metric weighs the same and this is plain Holm and BH.

    ``share``: this family is one look of several and is judged at α · share (stats.spending);
    the adjusted p- and q-values come back divided by it, so comparing them with α decides.
    """
    members = [i for i, ps in enumerate(pvalues) if any(p is not None for p in ps)]
    m = len(members)
    adjusted: list[list[float | None]] = [[None] * len(ps) for ps in pvalues]
    qvalues: list[list[float | None]] = [[None] * len(ps) for ps in pvalues]
    tested = {i: [p for p in pvalues[i] if p is not None] for i in members}
    raw_w = {i: 1.0 if weights is None else float(weights[i]) for i in members}
    total_w = sum(raw_w.values())
    w = {i: raw_w[i] * m / total_w for i in members} if total_w > 0 else {i: 1.0 for i in members}  # mean 1
    metric_p = {i: min(1.0, len(tested[i]) * min(tested[i])) for i in members}
    order = sorted(members, key=lambda i: (metric_p[i] / w[i], i))
    remaining = float(m)  # Σ w over the metrics not yet rejected (weights of mean 1: m at the start)
    running = 0.0
    for i in order:
        previous = running
        running = max(running, min(1.0, remaining / w[i] * metric_p[i]))
        k = len(tested[i])
        for j, p in enumerate(pvalues[i]):
            if p is not None:
                adjusted[i][j] = max(previous, min(1.0, remaining / w[i] * k * p))
        remaining -= w[i]
    tail_min = [1.0] * (m + 1)  # BH: running minimum of m p_(j) / (j w_(j)) from the largest down
    for pos in range(m - 1, -1, -1):
        i = order[pos]
        tail_min[pos] = min(tail_min[pos + 1], m * metric_p[i] / w[i] / (pos + 1))
    for pos, i in enumerate(order):
        k = len(tested[i])
        for j, p in enumerate(pvalues[i]):
            if p is not None:
                qvalues[i][j] = min(1.0, max(tail_min[pos], min(tail_min[pos + 1], m * k * p / w[i] / (pos + 1))))
    if share != 1.0:
        adjusted = [[None if p is None else min(1.0, p / share) for p in ps] for ps in adjusted]
        qvalues = [[None if q is None else min(1.0, q / share) for q in qs] for qs in qvalues]
    return FamilyAdjustment(tuple(map(tuple, adjusted)), tuple(map(tuple, qvalues)), m)
