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


def adjust_family(pvalues: Sequence[Sequence[float | None]]) -> FamilyAdjustment:
    """Holm–Bonferroni and Benjamini–Hochberg across metrics that have several components.

    ``pvalues[i]`` holds metric i's raw component p-values (None: not tested). A metric's
    p-value is the Bonferroni minimum of its k tested components (k × the smallest), valid
    however the components depend on each other. A component's adjusted p is Holm's at its
    metric's step with k × its own p in place of the metric's: it is <= alpha only if the
    metric is rejected *and* that component alone meets the step's threshold, so the
    component that passes the floors is the one that is significant. Its q is BH's at the
    same position, built the same way.
    """
    members = [i for i, ps in enumerate(pvalues) if any(p is not None for p in ps)]
    m = len(members)
    adjusted: list[list[float | None]] = [[None] * len(ps) for ps in pvalues]
    qvalues: list[list[float | None]] = [[None] * len(ps) for ps in pvalues]
    tested = {i: [p for p in pvalues[i] if p is not None] for i in members}
    metric_p = {i: min(1.0, len(tested[i]) * min(tested[i])) for i in members}
    order = sorted(members, key=lambda i: metric_p[i])
    running = 0.0
    for step, i in enumerate(order):
        previous = running
        running = max(running, min(1.0, (m - step) * metric_p[i]))
        k = len(tested[i])
        for j, p in enumerate(pvalues[i]):
            if p is not None:
                adjusted[i][j] = max(previous, min(1.0, (m - step) * k * p))
    tail_min = [1.0] * (m + 1)  # BH: running minimum of m p_(j) / j from the largest p down
    for pos in range(m - 1, -1, -1):
        tail_min[pos] = min(tail_min[pos + 1], m * metric_p[order[pos]] / (pos + 1))
    for pos, i in enumerate(order):
        k = len(tested[i])
        for j, p in enumerate(pvalues[i]):
            if p is not None:
                qvalues[i][j] = min(1.0, max(tail_min[pos], min(tail_min[pos + 1], m * k * p / (pos + 1))))
    return FamilyAdjustment(tuple(map(tuple, adjusted)), tuple(map(tuple, qvalues)), m)
