"""Where in a series of labels a change lies: a rank statistic over one value per label.

Which split of a history separates the labels best is asked of the labels themselves (one value
each: a label's median, tail quantile or rate), by ranks, so one label's outlier weighs as one
label and a tail quantile's non-linear response to a mixture of labels cannot pull the split
towards the middle. Whether the change is real is the judge's question, not this one.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Sequence


@dataclass(frozen=True)
class Separation:
    """How well a split separates ``after`` from ``before``: ``theta`` = P(after > before) +
    ½ P(tie), the Mann–Whitney U over m·n (½: not at all; 0 or 1: every label on its side), and
    ``z``, U standardised (ties in the variance, no continuity correction: scipy's asymptotic
    method with use_continuity=False)."""

    theta: float
    z: float

    @property
    def clean(self) -> float:
        """0 (no separation) to 1 (every label on its own side), whichever way."""
        return abs(2 * self.theta - 1)


def separation(before: Sequence[float], after: Sequence[float]) -> Separation:
    m, n = len(before), len(after)
    if not m or not n:
        return Separation(0.5, 0.0)
    u = sum((b > a) + 0.5 * (b == a) for a in before for b in after)
    pooled = sorted((*before, *after))
    total = m + n
    ties, i = 0.0, 0
    while i < total:
        j = i
        while j + 1 < total and pooled[j + 1] == pooled[i]:
            j += 1
        t = j - i + 1
        ties += t ** 3 - t
        i = j + 1
    var = m * n / 12 * ((total + 1) - ties / (total * (total - 1)))
    return Separation(u / (m * n), 0.0 if var <= 0 else (u - m * n / 2) / math.sqrt(var))
