"""`triage calibrate`: floors from the noise an environment actually has, measured on several
runs of one platform, and what the current sample sizes can detect. Pure: snapshots in, a
Calibration (with the budget file's text) out.

The rule (README "Calibrating floors"), per metric and per component compare tests (the median
and each tested tail of a samples metric, a rate, a counter's count, a gauge's reading):

1. Each run's own value of it (its median, p95, rate, …) and that value's sampling variance
   (an order-statistic standard error for quantiles, binomial for rates, Poisson for counts,
   none for a reading).
2. τ, the noise between runs beyond their sampling (stats.between_run_sd: 0 unless the runs
   vary more than sampling explains at the 95% level). Without it, compare's own tests cover
   what the runs show, and the defaults stand.
3. With it, the noise floor: the prediction bound a new run's value stays within,
   t(R−1, 1 − α/m)·s·√(1 + 1/R) for the runs' spread s, R runs and m metrics
   (stats.prediction_floor): exact for normal run values, so a run of this platform crosses
   any metric's floor by noise alone with probability at most α — the case where compare's
   tests, which know only sampling, would call nearly any such difference significant.
4. The metric's floor is the larger of that (over its components) and the default floors:
   calibration only widens. The defaults say what size matters; calibration says what size
   this environment can tell from noise. A samples metric's floor is written as a relative one
   (of the runs' median value), other kinds' as absolute ones in their unit.

What the current sample sizes can detect comes from compare itself: each run judged against the
others pooled (as a gate judges a run against stored ones), the interval of the metric's median
(rate, count) gives the standard error of its change, and the smallest change found 80% of the
time at Holm's strictest step, α over the family, is (z(1 − α/m) + z(0.8))·se (stats.detectable);
samples needed for the floor scale it as 1/√n.
"""

from __future__ import annotations

import glob
import math
import statistics
from dataclasses import dataclass
from typing import Any, Sequence

from . import stats
from .budget import BOUNDED_UNITS, DEFAULT_BUDGET
from .judge import judge_metrics
from .judge.drafts import component_quantile
from .model import Snapshot
from .pooling import PooledMetric, pool_side
from .verdict import DEFAULT_ALPHA, MetricComparison, MetricKey

MIN_RUNS = 3  # τ needs a spread, and t and χ² at least 2 degrees of freedom
# A run's own p99 is a number only with values beyond it: of 100 values, one slow one (a SYN
# retransmit at 1 s among 0.05 ms connects) makes it 10 ms, and its spread over runs says
# nothing about the platform. A tail counts from 10 values beyond it in every run.
MIN_BEYOND = 10
_Z = stats.normal_ppf(0.975)  # the judge's intervals are 95% ones


@dataclass(frozen=True)
class MetricNoise:
    id: str
    kind: str
    unit: str | None
    component: str  # the component whose noise sets the floor: median, p95, rate, count, value
    center: float  # the runs' median value of the first component (median, rate, count, reading)
    spread: float  # standard deviation of the runs' values of ``component``
    noise: float  # τ: of that spread, the part each run's own sampling does not explain
    default_floor: float  # the smallest change the default floors call a regression, at ``center``
    floor: float  # the calibrated one at ``center`` (never below the default)
    n: int | None = None  # samples (trials) per run
    detectable: float | None = None  # the change found 80% of the time at n; None: no test (a reading)
    needed: int | None = None  # samples per run for ``detectable`` to reach ``floor``
    flagged: int = 0  # of the run-vs-the-others comparisons, those in which it regressed (default floors)

    @property
    def widened(self) -> bool:
        return self.floor > self.default_floor

    @property
    def relative(self) -> float | None:
        return self.floor / abs(self.center) if self.center else None

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "kind": self.kind, "unit": self.unit, "component": self.component,
                "center": self.center, "spread": self.spread, "noise": self.noise,
                "default_floor": self.default_floor, "floor": self.floor, "relative_floor": self.relative,
                "widened": self.widened, "n": self.n, "detectable": self.detectable, "needed": self.needed,
                "flagged": self.flagged}


@dataclass(frozen=True)
class Calibration:
    label: str
    runs: int
    alpha: float
    metrics: tuple[MetricNoise, ...]
    budget_text: str
    flagged_runs: int = 0  # run-vs-the-others comparisons with any regression, default floors
    out: str | None = None  # where the budget was written

    def to_dict(self) -> dict[str, Any]:
        return {"schema": "triage.calibration/v1", "label": self.label, "runs": self.runs, "alpha": self.alpha,
                "out": self.out, "flagged_runs": self.flagged_runs, "metrics": [m.to_dict() for m in self.metrics],
                "widened": sum(1 for m in self.metrics if m.widened), "budget": self.budget_text}


def _run_values(pooled: PooledMetric, component: str, rate: float) -> tuple[float, float] | None:
    """One run's value of a component and its sampling variance."""
    if pooled.kind == "samples":
        if len(pooled.values) < 2:
            return None
        ordered = sorted(pooled.values)
        q = component_quantile(component)
        if component != "median" and len(ordered) * min(q, 1 - q) < MIN_BEYOND:
            return None
        return stats.quantile(ordered, q), stats.quantile_se(ordered, q) ** 2
    if pooled.kind == "proportion":
        if not pooled.trials:
            return None
        return pooled.events / pooled.trials, rate * (1 - rate) / pooled.trials
    if not pooled.values:
        return None
    if component == "count":
        count = float(sum(pooled.values))
        return count, count  # a Poisson count's variance is its mean
    return float(statistics.median(pooled.values)), 0.0


def _components(judged: Sequence[MetricComparison]) -> list[str]:
    """The components compare tested for this metric in any comparison (a reading: its value)."""
    names = []
    for m in judged:
        for c in m.components:
            if c.name not in names and c.name != "fact" and (c.p is not None or c.name in ("median", "value")):
                names.append(c.name)
    return names


def _standard_error(judged: Sequence[MetricComparison]) -> float | None:
    """The standard error of the metric's first component's change, from the 95% intervals."""
    widths = [(c.ci_high - c.ci_low) / (2 * _Z) for m in judged for c in m.components[:1]
              if c.ci_low is not None and c.ci_high is not None and c.p is not None]
    return math.sqrt(sum(w * w for w in widths) / len(widths)) if widths else None


def _noise(key: MetricKey, per_run: Sequence[PooledMetric], judged: Sequence[MetricComparison],
           alpha: float, metrics: int, family: int) -> MetricNoise | None:
    first = per_run[0]
    metric_id = ".".join(key)
    floors = DEFAULT_BUDGET.policy_for(metric_id, first.kind, first.unit).floors
    trials = sum(p.trials for p in per_run)
    rate = sum(p.events for p in per_run) / trials if trials else 0.0
    measured = []  # (component, centre, spread, τ, noise floor), the first component first
    for name in _components(judged) or ["median"]:
        values = [v for v in (_run_values(p, name, rate) for p in per_run) if v is not None]
        if len(values) < len(per_run) or len(values) < MIN_RUNS:
            continue  # a component every run can estimate, or none
        xs = [x for x, _ in values]
        tau, spread = stats.between_run_sd(xs, [v for _, v in values]), statistics.stdev(xs)
        # Noise shown: a new run's value differs from these runs' by its run effect and its
        # sampling alike, and the runs' own spread estimates both: the bound is of that.
        floor = stats.prediction_floor(spread, len(xs), alpha / max(1, metrics)) if tau > 0 else 0.0
        measured.append((name, statistics.median(xs), spread, tau, floor))
    if not measured:
        return None
    centre = measured[0][1]
    default = floors.smallest_change(centre)
    if first.kind == "samples" and floors.relative is not None:
        # One relative floor serves every component: the noisiest one (relative to its value) sets it.
        setter = max(measured, key=lambda m: m[4] / abs(m[1]) if m[1] else 0.0)
        floor = max(default, setter[4] / abs(setter[1]) * abs(centre) if setter[1] else 0.0)
    else:
        setter = max(measured, key=lambda m: m[4])
        floor = max(default, setter[4])
    se = _standard_error(judged)
    n = int(statistics.median(len(p.values) if p.kind == "samples" else p.trials for p in per_run)) \
        if first.kind in ("samples", "proportion") else None
    detect = None if se is None else stats.detectable(se, alpha / max(1, family))
    needed = stats.samples_needed(n, detect, floor) if n and detect is not None else None
    flagged = sum(1 for m in judged if m.verdict == "regressed")
    return MetricNoise(metric_id, first.kind, first.unit, setter[0], centre, setter[2], setter[3], default, floor,
                       n, detect, needed, flagged)


def budget_text(label: str, runs: int, alpha: float, metrics: Sequence[MetricNoise]) -> str:
    """The budgets file: a rule per metric whose noise floor is wider than the defaults."""
    widened = [m for m in metrics if m.widened]
    lines = [f"# triage calibrate: floors from the run-to-run noise of {label} ({runs} runs), alpha {alpha:g}.",
             "# floor = t(R-1, 1 - alpha/m) * tau * sqrt(1 + 1/R), tau the noise between runs beyond their",
             "# sampling; never below the default floors (README: Calibrating floors).",
             f"# {len(metrics) - len(widened)} of {len(metrics)} metrics keep the default floors.",
             "rules:" if widened else "rules: []"]
    for m in widened:
        lines.append(f'  - match: "{glob.escape(m.id)}"')  # matches this id alone: [ * ? escaped
        relative = m.relative
        if m.kind == "samples" and (m.unit or "") not in BOUNDED_UNITS and relative is not None:
            # The budget reader's bound (10000%): past it, no regression of this metric is seen anyway.
            lines.append(f"    relative: {min(math.ceil(relative * 1000) / 10, 10_000):g}%")
        else:
            lines.append(f"    absolute: {float(f'{m.floor:.3g}') if m.floor else 0:g}")
        lines[-1] += f"  # {m.component}: runs spread {m.spread:.3g}, {m.noise:.3g} of it between runs"
    return "\n".join(lines) + "\n"


def calibrate(snapshots: Sequence[Snapshot], *, label: str, alpha: float = DEFAULT_ALPHA) -> Calibration:
    """The noise of each metric over ``snapshots`` (runs of one platform, at least MIN_RUNS)."""
    runs = list(snapshots)
    per_run = [pool_side(f"run {i + 1}", "file", [snap]).metrics for i, snap in enumerate(runs)]
    judged: dict[MetricKey, list[MetricComparison]] = {}
    flagged_runs, family = 0, 0
    for i, snap in enumerate(runs):
        # Only the verdicts (no acks here: a comparison regressed exactly when a metric did).
        c = judge_metrics(runs[:i] + runs[i + 1:], [snap], baseline_spec="the other runs",
                          candidate_spec=f"run {i + 1}", alpha=alpha)
        flagged_runs += any(m.verdict == "regressed" for m in c.metrics)
        family = max(family, c.tests)
        for m in c.metrics:
            judged.setdefault(m.key, []).append(m)
    keys = sorted(k for k in set().union(*per_run) if all(k in run for run in per_run)
                  and per_run[0][k].kind != "fact" and judged.get(k))
    noise = [n for key in keys if (n := _noise(key, [run[key] for run in per_run], judged[key], alpha, len(keys),
                                               family)) is not None]
    return Calibration(label, len(runs), alpha, tuple(noise), budget_text(label, len(runs), alpha, noise),
                       flagged_runs)
