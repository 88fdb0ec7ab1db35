"""Judge a candidate against a baseline: one Comparison with a verdict per metric, per layer
and overall, and the suspects (via triage.attribution). Pure: no I/O.

The policy (numbers in triage/stats, floors in triage/budget.py):

- samples: three components: the median shift (Mann–Whitney U, Hodges–Lehmann size) and
  the two tail quantiles on the worse side (p95/p99; p5/p1 when higher is better), each
  tail tested only when enough pooled values lie beyond it.
- proportion: the rate, Fisher's exact test.
- gauge: one value per run, no test; regressed when it moves the worse way past the floors
  (NotReady nodes 0 -> 1). A gauge marked ``"counter": true`` (optionally ``"window_s"``) is
  an event count over the probe window (RSTs, drops): a Poisson count, judged by an exact
  conditional test, since 0 -> 1 events between two runs is noise, not a regression.
- fact: changed or not; evidence, a regression only when a budget says so.
- The family: every tested metric (stats.adjust_family): Holm–Bonferroni across metrics at
  ``alpha`` (family-wise, default 0.01) decides, Benjamini–Hochberg q-values are shown
  beside. A component regresses when its adjusted p is <= alpha, its change passes both
  floors the worse way and its 95% interval excludes zero (the size shown never
  contradicts the verdict).
- Fewer than 8 samples on a side: inconclusive, never regressed (a rank test's normal
  approximation cannot judge fewer); proportions need trials on both sides, nothing more,
  since Fisher's test is exact at any size. A metric on one side only: absent (failed when
  the other side's probe errored). A probe that errored with no successful run on that side
  makes its layer failed: never ok by omission (triage.rollup).

Each kind has one judge function (``JUDGES``); samples are queued and judged in one batch,
since stats.compare_samples is vectorised across metrics.
"""

from __future__ import annotations

import contextlib
import gc
import json
import statistics
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable, Iterator, Mapping, Sequence

from . import stats
from .attribution import attribute, target_nouns
from .budget import DEFAULT_BUDGET, Budget, Floors
from .errors import BadInput
from .formatting import format_p, format_signed
from .model import Snapshot
from .pooling import PooledMetric, PooledSide, pool_side
from .rollup import layer_statuses, overall_verdict
from .verdict import (CI_LEVEL, DEFAULT_ALPHA, Comparison, Component, MetricComparison, MetricKey, SideSummary,
                      component_size)

# ---------------------------------------------------------------- drafts: what is judged, typed


@dataclass
class Draft:
    """One component while it is being judged; frozen into a Component at the end."""

    name: str
    baseline: Any
    candidate: Any
    change: float | None = None
    base_for_floor: float | None = None  # what the relative floor and the relative change are taken of
    ci_low: float | None = None
    ci_high: float | None = None
    p: float | None = None  # one-sided towards worse (two-sided for better=equal); None: untested
    p_better: float | None = None
    p_adjusted: float | None = None
    q: float | None = None
    p_better_adjusted: float | None = None
    note: str = ""
    floors_only: bool = False  # a gauge's value: no test, judged by the floors alone
    changed: bool = False  # facts: the value differs between the sides


@dataclass
class Row:
    """A metric while it is being judged (mutable); frozen into MetricComparison at the end."""

    key: MetricKey
    kind: str
    unit: str | None
    better: str
    floors: Floors | None
    regress_on_change: bool = False
    verdict: str = "unchanged"
    reason: str = ""
    baseline: SideSummary | None = None
    candidate: SideSummary | None = None
    components: list[Draft] = field(default_factory=list)
    # Samples sides not yet summarised: the batch summarises what it tests (from arrays it
    # sorts anyway); the rest (absent, too few) are summarised once, when frozen.
    unsummarised: tuple[PooledMetric | None, PooledMetric | None] = (None, None)


# ---------------------------------------------------------------- small rules


def _canonical(value: Any) -> str:
    return json.dumps(value, sort_keys=True)


def _distinct(values: Iterable[Any]) -> tuple[Any, ...]:
    seen: dict[str, Any] = {}
    for v in values:
        seen.setdefault(_canonical(v), v)
    return tuple(seen.values())


def _worse_sign(better: str) -> int:
    return {"lower": 1, "higher": -1}.get(better, 0)


def _relative(change: float, baseline: float | None) -> float | None:
    if baseline is None or baseline == 0:
        return None
    return change / abs(baseline)


def _directional(better: str, p_greater: float, p_less: float) -> tuple[float, float | None]:
    """(p towards worse, p towards better); better=equal: two-sided, no 'better'."""
    if better == "lower":
        return p_greater, p_less
    if better == "higher":
        return p_less, p_greater
    return min(1.0, 2 * min(p_greater, p_less)), None


def _moves(better: str, change: float | None, floors: Floors, baseline: float | None) -> tuple[bool, bool]:
    """(moved worse past both floors, moved better past both floors)."""
    if change is None or not floors.passes(change, baseline):
        return False, False
    sign = _worse_sign(better)
    if sign == 0:
        return True, False
    return change * sign > 0, change * sign < 0


def _ci_agrees(better: str, low: float | None, high: float | None, worse: bool) -> bool:
    """Does the interval exclude zero on the side the verdict claims?"""
    if low is None or high is None:
        return True
    sign = _worse_sign(better) * (1 if worse else -1)
    if sign == 0:
        return low > 0 or high < 0
    return low > 0 if sign > 0 else high < 0


def _tails_for(better: str) -> tuple[float, ...]:
    return (0.05, 0.01) if better == "higher" else (0.95, 0.99)


def _tail_name(q: float) -> str:
    return f"p{q * 100:g}"


def check_alpha(alpha: float) -> None:
    if not 0 < alpha < 0.5:
        raise BadInput(f"--alpha: expected a family-wise error rate between 0 and 0.5, got {alpha:g}")


# ---------------------------------------------------------------- one judge per kind


def samples_summary(values: Sequence[float], runs: int) -> SideSummary:
    ordered = sorted(values)
    if not ordered:
        return SideSummary("samples", runs, 0)
    return SideSummary("samples", runs, len(ordered), sum(ordered) / len(ordered), stats.quantile(ordered, 0.5),
                       stats.quantile(ordered, 0.95), stats.quantile(ordered, 0.99))


class _SamplesBatch:
    """Samples rows queued for one vectorised stats.compare_samples call."""

    def __init__(self) -> None:
        self.rows: list[Row] = []
        self.data: list[tuple[list[float], list[float]]] = []
        self.runs: list[tuple[int, int]] = []

    def add(self, row: Row, a: PooledMetric, b: PooledMetric) -> None:
        self.rows.append(row)
        self.data.append((a.values, b.values))
        self.runs.append((a.runs, b.runs))

    def run(self) -> None:
        if not self.rows:
            return
        results = stats.compare_samples(self.data, [_tails_for(r.better) for r in self.rows], ci_level=CI_LEVEL)
        for row, (runs_a, runs_b), res in zip(self.rows, self.runs, results):
            row.baseline = SideSummary("samples", runs_a, res.baseline.n, res.baseline.mean, res.baseline.p50,
                                       res.baseline.p95, res.baseline.p99)
            row.candidate = SideSummary("samples", runs_b, res.candidate.n, res.candidate.mean, res.candidate.p50,
                                        res.candidate.p95, res.candidate.p99)
            s = res.shift
            p_worse, p_better = _directional(row.better, s.p_greater, s.p_less)
            row.components.append(Draft(
                "median", res.baseline.p50, res.candidate.p50, s.shift, res.baseline.p50, s.ci_low, s.ci_high,
                p_worse, p_better, note="" if s.pairwise_exact else "size from 100 quantiles a side"))
            for t in res.tails:
                p_worse, p_better = _directional(row.better, t.p_greater, t.p_less)
                row.components.append(Draft(
                    _tail_name(t.q), t.baseline, t.candidate, t.change, t.baseline, t.ci_low, t.ci_high,
                    p_worse if t.tested else None, p_better if t.tested else None,
                    note="" if t.tested else f"not tested: {t.beyond_baseline + t.beyond_candidate} pooled values "
                                             f"beyond it, {stats.MIN_TAIL_BEYOND} needed"))


def _judge_samples(row: Row, a: PooledMetric, b: PooledMetric, batch: _SamplesBatch) -> None:
    if len(a.values) < stats.MIN_SAMPLES or len(b.values) < stats.MIN_SAMPLES:
        row.verdict = "inconclusive"
        row.reason = f"too few samples ({len(a.values)} vs {len(b.values)}; {stats.MIN_SAMPLES} a side needed)"
        return
    batch.add(row, a, b)


def _judge_proportion(row: Row, a: PooledMetric, b: PooledMetric, batch: _SamplesBatch) -> None:
    # Fisher's test is exact at any number of trials (few trials just cannot reach
    # significance), so no minimum beyond having trials: a host counter's rate over
    # 3 datagrams is judged "unchanged", not a reason to call the run inconclusive.
    if a.trials == 0 or b.trials == 0:
        row.verdict = "inconclusive"
        row.reason = f"no trials on the {'baseline' if a.trials == 0 else 'candidate'} side"
        return
    res = stats.proportion_test(a.events, a.trials, b.events, b.trials, CI_LEVEL)
    p_worse, p_better = _directional(row.better, res.p_greater, res.p_less)
    row.components.append(Draft("rate", res.baseline_rate, res.candidate_rate, res.change, res.baseline_rate,
                                res.ci_low, res.ci_high, p_worse, p_better, note="Fisher's exact test"))


def _judge_gauge(row: Row, a: PooledMetric, b: PooledMetric, batch: _SamplesBatch) -> None:
    if a.counter and b.counter:
        _judge_counter(row, a, b)
        return
    base, cand = statistics.median(a.values), statistics.median(b.values)
    note = "single value, no test" if len(a.values) == 1 and len(b.values) == 1 else \
        f"median of {len(a.values)} vs {len(b.values)} runs, no test"
    row.components.append(Draft("value", base, cand, float(cand - base), base, note=note, floors_only=True))


def _judge_counter(row: Row, a: PooledMetric, b: PooledMetric) -> None:
    """Events counted over each side's window(s): Poisson counts, exact conditional test.
    The change is the candidate's count scaled to the baseline's window, minus the baseline's."""
    count_a, count_b = int(round(sum(a.values))), int(round(sum(b.values)))
    if a.window_s and b.window_s:
        scaled_b, exposure = count_b * a.window_s / b.window_s, (a.window_s, b.window_s)
        note = f"event counts over {a.window_s:g} s vs {b.window_s:g} s, exact Poisson test"
    else:
        scaled_b, exposure = float(count_b), (1.0, 1.0)
        note = "event counts over equal windows, exact Poisson test"
    p_greater, p_less = stats.poisson_counts_test(count_a, count_b, *exposure)
    p_worse, p_better = _directional(row.better, p_greater, p_less)
    row.components.append(Draft("count", count_a, count_b, scaled_b - count_a, count_a, p=p_worse,
                                p_better=p_better, note=note))


def _judge_fact(row: Row, a: PooledMetric, b: PooledMetric, batch: _SamplesBatch) -> None:
    va, vb = _distinct(a.values), _distinct(b.values)
    changed = {_canonical(v) for v in va} != {_canonical(v) for v in vb}
    row.baseline = SideSummary("fact", a.runs, len(va), values=va, context=dict(a.context))
    row.candidate = SideSummary("fact", b.runs, len(vb), values=vb, context=dict(b.context))
    row.components.append(Draft("fact", va[0] if len(va) == 1 else list(va), vb[0] if len(vb) == 1 else list(vb),
                                note="changed" if changed else "unchanged", changed=changed))


JUDGES: Mapping[str, Callable[[Row, PooledMetric, PooledMetric, _SamplesBatch], None]] = {
    "samples": _judge_samples,
    "proportion": _judge_proportion,
    "gauge": _judge_gauge,
    "fact": _judge_fact,
}


def _side_summary(kind: str, pooled: PooledMetric) -> SideSummary | None:
    """What a side showed, for rows the judges do not summarise (absent, inconclusive, ...)."""
    if kind == "proportion":
        return SideSummary("proportion", pooled.runs, events=pooled.events, trials=pooled.trials,
                           rate=pooled.events / pooled.trials if pooled.trials else None, kinds=dict(pooled.kinds),
                           context=dict(pooled.context))
    if kind == "gauge":
        return SideSummary("gauge", pooled.runs, len(pooled.values), values=tuple(pooled.values))
    return None


# ---------------------------------------------------------------- from drafts to verdicts


def _adjust(rows: Sequence[Row]) -> int:
    """The family-wise adjustment of every drafted component; returns the family size. The
    'improved' direction is a separate family built the same way."""
    drafts = [row.components for row in rows]
    worse = stats.adjust_family([[d.p for d in ds] for ds in drafts])
    better = stats.adjust_family([[d.p_better for d in ds] for ds in drafts])
    for ds, adjusted, q, better_adjusted in zip(drafts, worse.adjusted, worse.q, better.adjusted):
        for d, p_adj, q_value, pb_adj in zip(ds, adjusted, q, better_adjusted):
            d.p_adjusted, d.q, d.p_better_adjusted = p_adj, q_value, pb_adj
    return worse.size


def _finish(row: Row, d: Draft, alpha: float) -> Component:
    if row.kind == "fact":
        verdict = ("regressed" if row.regress_on_change else "changed") if d.changed else "unchanged"
        note = d.note + (" (budget: a change is a regression)" if d.changed and row.regress_on_change else "")
        return Component("fact", d.baseline, d.candidate, verdict=verdict, note=note)
    relative = None if d.change is None else _relative(d.change, d.base_for_floor)
    worse, better = _moves(row.better, d.change, row.floors, d.base_for_floor) if row.floors else (False, False)
    verdict = "unchanged"
    if d.floors_only:  # a state: no test, floors only
        verdict = "regressed" if worse else "improved" if better else "unchanged"
    elif worse and d.p_adjusted is not None and d.p_adjusted <= alpha and \
            _ci_agrees(row.better, d.ci_low, d.ci_high, True):
        verdict = "regressed"
    elif better and d.p_better_adjusted is not None and d.p_better_adjusted <= alpha and \
            _ci_agrees(row.better, d.ci_low, d.ci_high, False):
        verdict = "improved"
    return Component(d.name, d.baseline, d.candidate, d.change, relative, d.ci_low, d.ci_high, d.p, d.p_adjusted,
                     d.q, d.p_better, d.p_better_adjusted, worse, better, verdict, d.note)


def _lead_and_reason(row: Row, comps: list[Component], alpha: float) -> tuple[int | None, str, str]:
    """The component that stands for the metric, the metric's verdict and the reason."""
    if not comps:
        return None, row.verdict, row.reason
    for verdict in ("regressed", "improved"):
        hits = [i for i, c in enumerate(comps) if c.verdict == verdict]
        if hits:
            # The median is the steadiest account of a change; a tail leads only when the
            # median did not move (a slow minority: timeouts, retries).
            medians = [i for i in hits if comps[i].name == "median"]
            lead = medians[0] if medians else max(hits, key=lambda i: component_size(comps[i]))
            c = comps[lead]
            if row.kind == "gauge" and c.name == "value":
                why = f"moved {'worse' if verdict == 'regressed' else 'better'} past the floors ({c.note})"
            elif row.kind == "fact":
                why = c.note
            else:
                why = f"{c.name}: adjusted p {format_p(c.p_adjusted if verdict == 'regressed' else c.p_better_adjusted)}" \
                      f" <= {alpha:g} and past the floors"
            return lead, verdict, why
    if row.kind == "fact":
        return 0, ("changed" if comps[0].verdict == "changed" else "unchanged"), comps[0].note
    c = comps[0]
    if row.kind == "gauge" and c.name == "value":
        return 0, "unchanged", f"within the floors ({c.note})"
    # Not regressed: say the nearest miss, so a reader sees why.
    significant = [x for x in comps if x.p_adjusted is not None and x.p_adjusted <= alpha]
    if significant:
        x = min(significant, key=lambda y: y.p_adjusted)
        return comps.index(x), "unchanged", f"{x.name} significant (adjusted p {format_p(x.p_adjusted)}) but " \
                                            f"{format_signed(x.change)} is within the floors"
    best = min((x for x in comps if x.p_adjusted is not None), key=lambda y: y.p_adjusted, default=None)
    if best is None:
        return 0, "unchanged", "no component could be tested"
    return 0, "unchanged", f"not significant (smallest adjusted p {format_p(best.p_adjusted)}, {best.name})"


def _freeze(row: Row, alpha: float) -> MetricComparison:
    comps = [_finish(row, d, alpha) for d in row.components]
    lead, verdict, reason = _lead_and_reason(row, comps, alpha)
    if row.reason and verdict in ("regressed", "improved", "unchanged", "changed") and row.components:
        reason = f"{reason}; {row.reason}"
    baseline, candidate = row.baseline, row.candidate
    pending_a, pending_b = row.unsummarised
    if baseline is None and pending_a is not None:
        baseline = samples_summary(pending_a.values, pending_a.runs)
    if candidate is None and pending_b is not None:
        candidate = samples_summary(pending_b.values, pending_b.runs)
    layer, probe, target, metric = row.key
    return MetricComparison(layer, probe, target, metric, row.kind, row.unit, row.better, verdict, reason,
                            baseline, candidate, tuple(comps), lead, row.floors)


# ---------------------------------------------------------------- the whole comparison


def _row_for(key: MetricKey, a_side: PooledSide, b_side: PooledSide, budget: Budget,
             batch: _SamplesBatch) -> Row:
    a, b = a_side.metrics.get(key), b_side.metrics.get(key)
    ref = b or a
    assert ref is not None
    policy = budget.policy_for(".".join(key), ref.kind, ref.unit)
    row = Row(key, ref.kind, ref.unit, ref.better, policy.floors, policy.regress_on_change)
    a_same = a if a is not None and a.kind == ref.kind else None
    if ref.kind == "samples":
        row.unsummarised = (a_same, b)
    else:
        row.baseline = None if a_same is None else _side_summary(ref.kind, a_same)
        row.candidate = None if b is None else _side_summary(ref.kind, b)
    if policy.ignore:
        row.verdict, row.reason = "ignored", f"ignored by budget ({budget.source})"
    elif a is None or b is None:
        missing_side, other = ("candidate", b_side) if b is None else ("baseline", a_side)
        err = other.errors.get(key[:3])
        if err is not None and key[:3] not in other.ok_probes:
            row.verdict, row.reason = "failed", f"probe failed on the {missing_side} side: {err}"
        else:
            row.verdict, row.reason = "absent", f"only in the {'baseline' if b is None else 'candidate'}"
    elif a.kind != b.kind or (a.unit or "") != (b.unit or "") or a.conflict or b.conflict:
        row.verdict = "inconclusive"
        row.reason = a.conflict or b.conflict or (
            f"kind differs ({a.kind} vs {b.kind})" if a.kind != b.kind else f"unit differs ({a.unit} vs {b.unit})")
    else:
        if a.better != b.better:
            row.reason = f"better differs ({a.better} vs {b.better}); judged as {b.better}"
        JUDGES[ref.kind](row, a, b, batch)
    return row


def compare_snapshots(baseline: Sequence[Snapshot], candidate: Sequence[Snapshot], *,
                      baseline_spec: str = "baseline", candidate_spec: str = "candidate",
                      budget: Budget | None = None, alpha: float = DEFAULT_ALPHA,
                      sources: tuple[str, str] = ("file", "file")) -> Comparison:
    """Judge pooled candidate runs against pooled baseline runs (pure: no I/O)."""
    check_alpha(alpha)
    budget = budget or DEFAULT_BUDGET
    with collector_paused():
        a_side = pool_side(baseline_spec, sources[0], baseline)
        b_side = pool_side(candidate_spec, sources[1], candidate)
        batch = _SamplesBatch()
        rows = [_row_for(key, a_side, b_side, budget, batch)
                for key in sorted(set(a_side.metrics) | set(b_side.metrics))]
        batch.run()
        tests = _adjust(rows)
        metrics = tuple(sorted((_freeze(row, alpha) for row in rows), key=MetricComparison.severity))
    layers, notes = layer_statuses(metrics, a_side, b_side)
    suspects = attribute(layers, metrics, target_nouns(baseline, candidate))
    verdict, reason = overall_verdict(metrics, layers)
    return Comparison(verdict, a_side.info, b_side.info, layers, metrics, suspects, alpha, tests,
                      budget.source, reason, notes)


@contextlib.contextmanager
def collector_paused() -> Iterator[None]:
    """Loading and judging allocate millions of objects but no reference cycles; left on,
    the cyclic collector rescans the growing heap again and again (~0.3 s of a 2,000-metric
    compare). Restores whatever state it found."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()
