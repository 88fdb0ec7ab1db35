"""The building blocks: constants of the policy, the normal distribution, quantiles.

numpy is imported inside functions (``_np``), so importing triage.stats costs nothing;
scipy.stats is never used at run time (importing it alone takes over a second on a small
machine); the tests check every function against scipy.
"""

from __future__ import annotations

import math
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

