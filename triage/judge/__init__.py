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
- a load ramp's capacity (a gauge): floors-only, and a fall stands only when the candidate
  found its capacity and a step between the two capacities regressed (judge/capacity.py).
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
since stats.compare_samples is vectorised across metrics. Regressions an acks file covers are
recorded on their metrics last (judge/acknowledge.py): they fail no verdict.
"""


from __future__ import annotations

import contextlib
import datetime as dt
import gc
from dataclasses import dataclass
from typing import Iterator, Sequence

from triage.acks import NO_ACKS, Acks
from triage.attribution import attribute, target_nouns
from triage.budget import DEFAULT_BUDGET, Budget
from triage.changes import diff as diff_changes
from triage.model import Snapshot
from triage.pooling import PooledSide, pool_side
from triage.rollup import layer_statuses, overall_verdict
from triage.verdict import DEFAULT_ALPHA, Comparison, MetricComparison, MetricKey

from .acknowledge import acknowledge
from .capacity import corroborate_capacity
from .decide import adjust, freeze
from .drafts import Row, check_alpha
from .kinds import JUDGES, side_summary
from .samples import SamplesBatch, samples_summary

__all__ = ["JUDGES", "Judged", "check_alpha", "collector_paused", "compare_snapshots", "conclude", "judge_metrics",
           "samples_summary"]


def _row_for(key: MetricKey, a_side: PooledSide, b_side: PooledSide, budget: Budget,
             batch: SamplesBatch) -> Row:
    a, b = a_side.metrics.get(key), b_side.metrics.get(key)
    ref = b or a
    assert ref is not None
    policy = budget.policy_for(".".join(key), ref.kind, ref.unit)
    row = Row(key, ref.kind, ref.unit, ref.better, policy.floors, policy.regress_on_change,
              primary=ref.kind == "proportion" and ref.combine is not None)
    a_same = a if a is not None and a.kind == ref.kind else None
    if ref.kind == "samples":
        row.unsummarised = (a_same, b)
    else:
        row.baseline = None if a_same is None else side_summary(ref.kind, a_same)
        row.candidate = None if b is None else side_summary(ref.kind, b)
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
                      sources: tuple[str, str] = ("file", "file"), require_decided: bool = False,
                      acks: Acks = NO_ACKS, today: dt.date | None = None, share: float = 1.0) -> Comparison:
    """Judge pooled candidate runs against pooled baseline runs (pure: no I/O).
    ``require_decided``: a metric that neither regressed nor ruled a regression out makes
    the verdict inconclusive. ``acks``: regressions they cover (for the candidate's labels,
    on ``today``, UTC by default) are reported as acknowledged and fail no verdict.
    ``share``: this is one look of several, judged at α · share (triage.stats.spending)."""
    judged = judge_metrics(baseline, candidate, baseline_spec=baseline_spec, candidate_spec=candidate_spec,
                           budget=budget, alpha=alpha, sources=sources, share=share)
    return conclude(judged, baseline, candidate, budget=budget, alpha=alpha, require_decided=require_decided,
                    acks=acks, today=today)


@dataclass(frozen=True)
class Judged:
    """One look's metrics, judged, before the verdict: both sides pooled, the family size."""

    baseline: PooledSide
    candidate: PooledSide
    metrics: tuple[MetricComparison, ...]  # most severe first
    tests: int


def judge_metrics(baseline: Sequence[Snapshot], candidate: Sequence[Snapshot], *,
                  baseline_spec: str = "baseline", candidate_spec: str = "candidate", budget: Budget | None = None,
                  alpha: float = DEFAULT_ALPHA, sources: tuple[str, str] = ("file", "file"),
                  share: float = 1.0) -> Judged:
    """Every metric's verdict, Holm over the family at α · ``share``."""
    check_alpha(alpha)
    budget = budget or DEFAULT_BUDGET
    with collector_paused():
        a_side = pool_side(baseline_spec, sources[0], baseline)
        b_side = pool_side(candidate_spec, sources[1], candidate)
        batch = SamplesBatch()
        rows = [_row_for(key, a_side, b_side, budget, batch)
                for key in sorted(set(a_side.metrics) | set(b_side.metrics))]
        batch.run()
        tests = adjust(rows, share)
        frozen = corroborate_capacity([freeze(row, alpha) for row in rows], a_side.metrics, b_side.metrics)
        metrics = tuple(sorted(frozen, key=MetricComparison.severity))
    return Judged(a_side, b_side, metrics, tests)


def conclude(judged: Judged, baseline: Sequence[Snapshot], candidate: Sequence[Snapshot], *,
             budget: Budget | None = None, alpha: float = DEFAULT_ALPHA, require_decided: bool = False,
             acks: Acks = NO_ACKS, today: dt.date | None = None) -> Comparison:
    """From judged metrics (one look's, or several looks' merged: triage.sequential) to the
    acknowledgements, layers, suspects and verdict."""
    budget = budget or DEFAULT_BUDGET
    a_side, b_side = judged.baseline, judged.candidate
    labels = ((b_side.info.spec,) if b_side.info.source == "label" else ()) + b_side.info.labels
    metrics = acknowledge(judged.metrics, acks, labels, today)
    layers, notes = layer_statuses(metrics, a_side, b_side)
    changes = diff_changes(baseline, candidate, budget.changes, baseline_title=a_side.info.title,
                           candidate_title=b_side.info.title)
    nouns = target_nouns(baseline, candidate)
    suspects = attribute(layers, metrics, nouns, changes)
    judged_layers = layers if not any(m.acknowledged for m in metrics) else \
        layer_statuses(metrics, a_side, b_side, acknowledged_regress=False)[0]
    verdict, reason = overall_verdict(metrics, judged_layers, require_decided=require_decided)
    return Comparison(verdict, a_side.info, b_side.info, layers, metrics, suspects=suspects, alpha=alpha,
                      tests=judged.tests, primary_tests=sum(1 for m in metrics if m.primary and m.p is not None),
                      budget=budget.source, reason=reason, layer_notes=notes, changes=changes, acks=acks.source,
                      target_nouns=nouns)


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
