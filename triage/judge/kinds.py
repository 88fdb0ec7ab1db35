"""One judge per measurement kind (``JUDGES``): each adds its components' drafts to a row,
or says why the row cannot be judged."""

from __future__ import annotations

import statistics
from typing import Callable, Mapping

from triage import stats
from triage.pooling import PooledMetric
from triage.verdict import CI_LEVEL, SideSummary

from .drafts import Draft, Row, canonical, directional, distinct
from .samples import SamplesBatch, judge_samples


def _judge_proportion(row: Row, a: PooledMetric, b: PooledMetric, batch: SamplesBatch) -> None:
    # Fisher's test is exact at any number of trials (few trials just cannot reach
    # significance), so no minimum beyond having trials: a host counter's rate over
    # 3 datagrams is judged "unchanged", not a reason to call the run inconclusive.
    if a.trials == 0 or b.trials == 0:
        row.verdict = "inconclusive"
        row.reason = f"no trials on the {'baseline' if a.trials == 0 else 'candidate'} side"
        return
    res = stats.proportion_test(a.events, a.trials, b.events, b.trials, CI_LEVEL)
    p_greater, p_less, method, effect = res.p_greater, res.p_less, "Fisher's exact test", None
    low, high = res.ci_low, res.ci_high
    if a.round_events and b.round_events and sum(a.round_trials or ()) and sum(b.round_trials or ()):
        # Per-round counts (a host counter's segments and retransmits): events are bursty, not
        # independent trials, so the rounds are the units too; the larger p decides.
        rounds = stats.rate_test(a.round_events, a.round_trials, b.round_events, b.round_trials)
        p_greater, p_less = max(p_greater, rounds.p_greater), max(p_less, rounds.p_less)
        low, high = stats.widen(res.change, low, high, rounds, CI_LEVEL)
        method, effect = f"Fisher's exact test and per-round rates as units ({rounds.groups[0]} vs " \
                         f"{rounds.groups[1]} rounds)", rounds.design_effect
    p_worse, p_better = directional(row.better, p_greater, p_less)
    row.components.append(Draft("rate", res.baseline_rate, res.candidate_rate, res.change, res.baseline_rate,
                                low, high, p_worse, p_better, note="Fisher's exact test", method=method,
                                design_effect=effect))


def _judge_gauge(row: Row, a: PooledMetric, b: PooledMetric, batch: SamplesBatch) -> None:
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
    method = "exact Poisson test"
    if a.round_counts and b.round_counts and a.round_seconds and b.round_seconds:
        # Events come in bursts (one lossy connection retransmits dozens of segments at once),
        # so whole counts are over-dispersed for a Poisson test. With per-round counts, the
        # rounds' rates are the units too, and the larger p decides.
        rates_a = [c / s for c, s in zip(a.round_counts, a.round_seconds)]
        rates_b = [c / s for c, s in zip(b.round_counts, b.round_seconds)]
        rounds = stats.clustered_shift_test(rates_a, None, rates_b, None)
        p_greater, p_less = max(p_greater, rounds.p_greater), max(p_less, rounds.p_less)
        method = f"exact Poisson test and per-round rates as units ({len(rates_a)} vs {len(rates_b)} rounds)"
    p_worse, p_better = directional(row.better, p_greater, p_less)
    low, high = stats.counts_difference_interval(count_a, count_b, exposure[0] / exposure[1], CI_LEVEL)
    row.components.append(Draft("count", count_a, count_b, scaled_b - count_a, count_a, low, high, p=p_worse,
                                p_better=p_better, note=note, method=method))


def _judge_fact(row: Row, a: PooledMetric, b: PooledMetric, batch: SamplesBatch) -> None:
    va, vb = distinct(a.values), distinct(b.values)
    changed = {canonical(v) for v in va} != {canonical(v) for v in vb}
    row.baseline = SideSummary("fact", a.runs, len(va), values=va, context=dict(a.context))
    row.candidate = SideSummary("fact", b.runs, len(vb), values=vb, context=dict(b.context))
    row.components.append(Draft("fact", va[0] if len(va) == 1 else list(va), vb[0] if len(vb) == 1 else list(vb),
                                note="changed" if changed else "unchanged", changed=changed))


JUDGES: Mapping[str, Callable[[Row, PooledMetric, PooledMetric, SamplesBatch], None]] = {
    "samples": judge_samples,
    "proportion": _judge_proportion,
    "gauge": _judge_gauge,
    "fact": _judge_fact,
}


def side_summary(kind: str, pooled: PooledMetric) -> SideSummary | None:
    """What a side showed, for rows the judges do not summarise (absent, inconclusive, ...)."""
    if kind == "proportion":
        return SideSummary("proportion", pooled.runs, events=pooled.events, trials=pooled.trials,
                           rate=pooled.events / pooled.trials if pooled.trials else None, kinds=dict(pooled.kinds),
                           context=dict(pooled.context))
    if kind == "gauge":
        return SideSummary("gauge", pooled.runs, len(pooled.values), values=tuple(pooled.values))
    return None
