"""Statistics for judging a candidate against a baseline: pure, deterministic functions.

What each measurement kind gets (the policy lives in triage/judge.py; the numbers here):

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

numpy is imported inside functions, so importing this package costs nothing; scipy.stats
is not used here because importing it alone takes over a second on a small machine. Tests
check every function against scipy. Modules: basics (constants, normal, quantile), exact
(counts and rates), samples (batched rank tests and tails), clustered (the same questions
when values come in groups), family (Holm, BH), series (where in a history of labels a change lies), noise (run-to-run
variation, for calibrated floors), spending (α over the looks of a gate that samples until it decides).
"""

from .basics import _np as numpy
from .basics import (DEFAULT_CI_LEVEL, DEFAULT_RESAMPLES, DEFAULT_SEED, EXACT_PAIRWISE_MAX, MIN_SAMPLES, MIN_TAIL_BEYOND,
                     THINNED_POINTS, normal_ppf, normal_sf, quantile)
from .clustered import (ClusteredTest, as_values, clustered_shift_test, clustered_share_test,
                        group_medians, group_medians_rows, group_sizes, pooled_quantiles, rate_test, share_tests, shift_tests, tail_tests,
                        widen)
from .exact import (RateResult, binomial_tails, counts_difference_interval, fisher_exact_one_sided, hypergeom_tails,
                    poisson_counts_test, poisson_interval, proportion_test)
from .family import FamilyAdjustment, adjust_family, benjamini_hochberg, holm
from .noise import between_run_sd, chi2_ppf, detectable, prediction_floor, quantile_se, samples_needed
from .samples import SamplesResult, ShiftResult, Summary, TailResult, compare_samples, hodges_lehmann
from .series import Separation, separation
from .spending import MAX_LOOKS, look_shares

__all__ = [
    "DEFAULT_CI_LEVEL", "DEFAULT_RESAMPLES", "DEFAULT_SEED", "EXACT_PAIRWISE_MAX", "MIN_SAMPLES", "MIN_TAIL_BEYOND",
    "THINNED_POINTS", "normal_ppf", "normal_sf", "numpy", "quantile",
    "ClusteredTest", "as_values", "clustered_shift_test", "clustered_share_test", "group_medians",
    "group_medians_rows", "group_sizes", "pooled_quantiles", "rate_test", "share_tests", "shift_tests", "tail_tests", "widen",
    "RateResult", "binomial_tails", "counts_difference_interval", "fisher_exact_one_sided", "hypergeom_tails",
    "poisson_counts_test", "poisson_interval", "proportion_test",
    "FamilyAdjustment", "adjust_family", "benjamini_hochberg", "holm",
    "SamplesResult", "ShiftResult", "Summary", "TailResult", "compare_samples", "hodges_lehmann",
    "Separation", "separation",
    "between_run_sd", "chi2_ppf", "detectable", "prediction_floor", "quantile_se", "samples_needed",
    "MAX_LOOKS", "look_shares",
]
