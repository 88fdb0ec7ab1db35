"""From drafts to verdicts: the family-wise adjustment (with the primary failure rates'
share of α), each component's verdict and whether it rules a regression out, and the
component that stands for its metric."""

from __future__ import annotations

from typing import Sequence

from triage import stats
from triage.formatting import format_p, format_signed
from triage.verdict import Component, MetricComparison, component_size

from .drafts import Draft, Row, ci_agrees, moves, relative_change, worse_sign
from .samples import samples_summary


# ---------------------------------------------------------------- from drafts to verdicts


# Share of the family-wise α reserved for the primary metrics when the family has both
# kinds: failure rates a probe marks as adding up over its targets (lost DNS queries,
# failed requests, query timeouts). A lost query costs a user a 2–5 s stall, the failure
# felt most, yet 4% UDP loss gives 0/400 → 11/400 at 200 samples a qtype, Fisher p ≈ 5e-4:
# under plain Holm over 40 metrics (threshold 2.5e-4) it slips through; with half of α
# shared by a few primary rates it is caught. Holm's weighted procedure keeps the
# family-wise rate at α; the other metrics' thresholds fall by at most half.
PRIMARY_SHARE = 0.5


def family_weights(rows: Sequence[Row]) -> list[float]:
    """Per row: its weight in the family (only tested rows count; see PRIMARY_SHARE)."""
    tested = [any(d.p is not None or d.p_better is not None for d in row.components) for row in rows]
    primary = sum(1 for row, t in zip(rows, tested) if t and row.primary)
    secondary = sum(tested) - primary
    if not primary or not secondary:
        return [1.0] * len(rows)
    return [PRIMARY_SHARE / primary if row.primary else (1 - PRIMARY_SHARE) / secondary for row in rows]


def adjust(rows: Sequence[Row], share: float = 1.0) -> int:
    """The family-wise adjustment of every drafted component; returns the family size. The
    'improved' direction is a separate family built the same way. ``share``: the look's share
    of α (triage.stats.spending)."""
    drafts = [row.components for row in rows]
    weights = family_weights(rows)
    worse = stats.adjust_family([[d.p for d in ds] for ds in drafts], weights, share)
    better = stats.adjust_family([[d.p_better for d in ds] for ds in drafts], weights, share)
    for ds, adjusted, q, better_adjusted in zip(drafts, worse.adjusted, worse.q, better.adjusted):
        for d, p_adj, q_value, pb_adj in zip(ds, adjusted, q, better_adjusted):
            d.p_adjusted, d.q, d.p_better_adjusted = p_adj, q_value, pb_adj
    return worse.size


def _finish(row: Row, d: Draft, alpha: float) -> Component:
    if row.kind == "fact":
        verdict = ("regressed" if row.regress_on_change else "changed") if d.changed else "unchanged"
        note = d.note + (" (budget: a change is a regression)" if d.changed and row.regress_on_change else "")
        return Component("fact", d.baseline, d.candidate, verdict=verdict, note=note)
    relative = None if d.change is None else relative_change(d.change, d.base_for_floor)
    worse, better = moves(row.better, d.change, row.floors, d.base_for_floor) if row.floors else (False, False)
    verdict = "unchanged"
    if d.floors_only:  # a state: no test, floors only
        verdict = "regressed" if worse else "improved" if better else "unchanged"
    elif worse and d.p_adjusted is not None and d.p_adjusted <= alpha and \
            ci_agrees(row.better, d.ci_low, d.ci_high, True):
        verdict = "regressed"
    elif better and d.p_better_adjusted is not None and d.p_better_adjusted <= alpha and \
            ci_agrees(row.better, d.ci_low, d.ci_high, False):
        verdict = "improved"
    return Component(d.name, d.baseline, d.candidate, d.change, relative, d.ci_low, d.ci_high, d.p, d.p_adjusted,
                     d.q, d.p_better, d.p_better_adjusted, worse, better, verdict, d.note, d.method,
                     d.design_effect, _ruled_out(row, d, verdict))


def _ruled_out(row: Row, d: Draft, verdict: str) -> bool | None:
    """Does the interval exclude a change the worse way as large as the floors? A gauge's
    single reading has no interval: it is its own answer. None: the component says nothing
    (a tail too thin to test, no floors)."""
    if verdict == "regressed":
        return False
    if row.floors is None:
        return None
    if d.floors_only:
        return True
    if d.ci_low is None or d.ci_high is None or (d.p is None and d.name != "median"):
        return None
    smallest = row.floors.smallest_change(d.base_for_floor)
    sign = worse_sign(row.better)
    if sign > 0:
        return d.ci_high < smallest
    if sign < 0:
        return d.ci_low > -smallest
    return -smallest < d.ci_low and d.ci_high < smallest


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


def freeze(row: Row, alpha: float) -> MetricComparison:
    comps = [_finish(row, d, alpha) for d in row.components]
    lead, verdict, reason = _lead_and_reason(row, comps, alpha)
    if row.reason and verdict in ("regressed", "improved", "unchanged", "changed") and row.components:
        reason = f"{reason}; {row.reason}"
    baseline, candidate = row.baseline, row.candidate
    pending_a, pending_b = row.unsummarised
    if baseline is None and pending_a is not None:
        baseline = samples_summary(pending_a.values, pending_a.runs, pending_a.groups)
    if candidate is None and pending_b is not None:
        candidate = samples_summary(pending_b.values, pending_b.runs, pending_b.groups)
    layer, probe, target, metric = row.key
    return MetricComparison(layer, probe, target, metric, row.kind, row.unit, row.better, verdict, reason,
                            baseline, candidate, tuple(comps), lead, row.floors,
                            _metric_ruled_out(row.kind, verdict, comps), row.primary)


def _metric_ruled_out(kind: str, verdict: str, comps: Sequence[Component]) -> bool | None:
    """Ruled out when every component that could be tested rules a regression out; a metric
    that could not be judged (absent, failed, too few samples) is undecided."""
    if kind == "fact" or verdict == "ignored":
        return None
    if verdict in ("regressed", "inconclusive", "absent", "failed"):
        return False
    answers = [c.ruled_out for c in comps if c.ruled_out is not None]
    return bool(answers) and all(answers)
