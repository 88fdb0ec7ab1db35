"""Run-to-run noise, for `triage calibrate`: how much a metric's value moves between runs of one
platform beyond what each run's own sampling explains, the floor a new run of the same
platform stays within, and the change the current sample sizes can detect. Pure functions.

The model: run r's value x_r (a median, a tail quantile, a rate, a reading) is the platform's
value, plus a run effect of standard deviation τ (the noise a comparison of runs cannot average
away), plus run r's own sampling error of variance v_r (which compare's tests already account
for). Over R runs, s² (the values' variance) estimates τ² + mean(v). τ is taken to be 0 unless
the runs vary more than their sampling explains at the 95% level (s² / mean(v) beyond
χ²(R−1) / (R−1)); then τ = √(s² − mean(v)).
"""

from __future__ import annotations

import math
from typing import Sequence

from .basics import normal_ppf
from .clustered import t_ppf_upper
from .exact import _gamma_p

EXCESS_LEVEL = 0.95  # how sure the runs must make us that there is noise beyond sampling
POWER = 0.8  # the detectable change is the one found 80% of the time


def chi2_ppf(p: float, df: int) -> float:
    """The x with P(X <= x) = p for X ~ χ²(df): bisection on the regularised gamma function."""
    lo, hi = 0.0, max(1.0, 2.0 * df)
    while _gamma_p(df / 2, hi / 2) < p:
        lo, hi = hi, hi * 2
    for _ in range(100):
        mid = (lo + hi) / 2
        if _gamma_p(df / 2, mid / 2) < p:
            lo = mid
        else:
            hi = mid
    return (lo + hi) / 2


def quantile_se(sorted_values: Sequence[float], q: float) -> float:
    """The standard error of the q-quantile of these values, distribution-free: the order
    statistics a binomial 95% interval of its rank reaches, their distance over 2 × 1.96."""
    n = len(sorted_values)
    if n < 2:
        return 0.0
    z = normal_ppf(0.975)
    half = z * math.sqrt(n * q * (1 - q))
    lo, hi = max(0, math.floor(n * q - half) - 1), min(n - 1, math.ceil(n * q + half) - 1)
    return (sorted_values[hi] - sorted_values[lo]) / (2 * z)


def between_run_sd(values: Sequence[float], variances: Sequence[float]) -> float:
    """τ: the runs' spread beyond their own sampling variances (0 when it is not shown at the
    95% level); a reading with no sampling model (variance 0) shows any spread."""
    r = len(values)
    if r < 2:
        return 0.0
    mean = sum(values) / r
    s2 = sum((v - mean) ** 2 for v in values) / (r - 1)
    sampling = sum(variances) / len(variances) if variances else 0.0
    if s2 <= 0:
        return 0.0
    if sampling > 0 and s2 / sampling <= chi2_ppf(EXCESS_LEVEL, r - 1) / (r - 1):
        return 0.0
    return math.sqrt(max(0.0, s2 - sampling))


def prediction_floor(spread: float, runs: int, miss: float) -> float:
    """How far a new run's value can lie from the mean of ``runs`` values whose standard
    deviation is ``spread``, one-sided with probability ``miss``: the normal prediction bound
    t(R−1, 1 − miss)·s·√(1 + 1/R), exact when the values are normal (t: s is estimated)."""
    if spread <= 0 or runs < 2:
        return 0.0
    return t_ppf_upper(miss, runs - 1) * spread * math.sqrt(1 + 1 / runs)


def detectable(se: float, alpha: float, power: float = POWER) -> float:
    """The smallest change a one-sided test at ``alpha`` finds with ``power``, when the change's
    estimate has standard error ``se``: (z(1 − α) + z(power)) · se."""
    return (normal_ppf(1 - alpha) + normal_ppf(power)) * se


def samples_needed(n: int, detectable_now: float, target: float) -> int:
    """Samples (per run, both sides scaled alike) for the detectable change to shrink from
    ``detectable_now`` at ``n`` samples to ``target``: standard errors fall as 1/√n."""
    if target <= 0:
        return n
    return max(n, math.ceil(n * (detectable_now / target) ** 2))
