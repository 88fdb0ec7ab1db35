"""A ramp's capacity across runs: one reading per run, corroborated by the ramp's own steps.

A capacity (triage.load) is one number per run, on the grid of the ramp's steps: a gauge,
judged like every gauge by the floors alone, since one reading per run cannot be tested.
Alone that would be a coin toss near a step boundary: a server whose knee sits between two
steps reads 400 in one run and 800 in the next, -50%, far past any floor. So a fall of
capacity stands as a regression only when

1. every candidate run found its capacity: its ramp reached a step past the SLO. A ramp that
   ended first (generator-limited, out of steps, the deadline) says "at least N": a lower
   bound, which proves no fall; and
2. the steps say so: a latency or error metric of the same ramp regressed, by the family's
   own tests (Holm over everything, cluster-aware for latency), at an offered rate above the
   candidate's capacity and at most the baseline's: where the candidate failed and the
   baseline held.

Otherwise the row stays unchanged and undecided, with the reason. Capacity therefore never
raises a regression the step tests did not find; it names the one they found, in the unit
people think in ("capacity fell from 1,800 to 600 req/s (p99 SLO 50 ms)").
"""

from __future__ import annotations

import statistics
from dataclasses import replace
from typing import Mapping, Sequence

from triage.formatting import format_number
from triage.load.naming import is_capacity, offered_text, parse_step
from triage.pooling import PooledMetric
from triage.verdict import MetricComparison, MetricKey


def _side_note(name: str, pooled: PooledMetric | None, value: float | None, unit: str) -> tuple[str, bool]:
    """(what a side's runs say about how their capacity was found, every run a lower bound?)."""
    runs = pooled.capacity if pooled is not None else []
    bounded = [r for r in runs if r.get("bound") == "at least"]
    if not runs or value is None:
        return "", False
    parts = []
    limited = [r["generator_limited_at"] for r in bounded if isinstance(r.get("generator_limited_at"), (int, float))]
    if bounded:
        parts.append(f"{name} at least {offered_text(value, unit)}"
                     + (f" (generator-limited at {offered_text(round(min(limited)), unit)}, not the server's capacity)"
                        if limited else " (its ramp ended before a step failed)"))
    return "; ".join(parts), bool(bounded)


def _slo(pooled: PooledMetric | None) -> float | None:
    values = [r["slo_ms"] for r in (pooled.capacity if pooled else []) if isinstance(r.get("slo_ms"), (int, float))]
    return statistics.median(values) if values else None


def slo_text(a: float | None, b: float | None) -> str:
    if a is None and b is None:
        return ""
    if a is None or b is None or abs(a - b) <= 0.1 * max(a, b):
        return f"p99 SLO {format_number(b if b is not None else a)} ms"
    return f"p99 SLO {format_number(a)} / {format_number(b)} ms"


def corroborate_capacity(metrics: Sequence[MetricComparison], baseline: Mapping[MetricKey, PooledMetric],
                         candidate: Mapping[MetricKey, PooledMetric]) -> tuple[MetricComparison, ...]:
    """``metrics`` with every ramp capacity row judged as the module docstring says."""
    return tuple(_capacity(m, metrics, baseline.get(m.key), candidate.get(m.key))
                 if is_capacity(m.probe, m.metric) and m.kind == "gauge" and m.components else m for m in metrics)


def _steps_between(m: MetricComparison, metrics: Sequence[MetricComparison], verdict: str, low: float,
                   high: float) -> list[MetricComparison]:
    """The steps of ``m``'s ramp offered above ``low`` and up to ``high`` whose verdict is ``verdict``."""
    return [x for x in metrics if (x.layer, x.probe, x.target) == (m.layer, m.probe, m.target)
            and x.verdict == verdict and (step := parse_step(x.metric)) is not None and low < step.offered <= high]


def _capacity(m: MetricComparison, metrics: Sequence[MetricComparison], a: PooledMetric | None,
              b: PooledMetric | None) -> MetricComparison:
    lead = m.components[m.lead or 0]
    unit = m.unit or ""
    base, cand = lead.baseline, lead.candidate
    a_note, a_bounded = _side_note("baseline", a, base, unit)
    b_note, b_bounded = _side_note("candidate", b, cand, unit)
    note = "; ".join(p for p in (slo_text(_slo(a), _slo(b)), a_note, b_note) if p)
    verdict, reason, ruled_out = m.verdict, m.reason, m.ruled_out
    if m.verdict == "improved":
        # The same two conditions the other way: the baseline found its capacity, and a step
        # between the two improved.
        steps = _steps_between(m, metrics, "improved", base, cand)
        if a_bounded or not steps:
            verdict = "unchanged"
            reason = (f"rose {format_number(base)} → {offered_text(cand, unit)}, but "
                      + ("the baseline's was a lower bound" if a_bounded else "no step between them improved"))
    if m.verdict == "regressed":
        steps = _steps_between(m, metrics, "regressed", cand, base)
        if b_bounded:
            verdict, ruled_out = "unchanged", False
            reason = (f"fell {format_number(base)} → at least {offered_text(cand, unit)}, a lower bound: the "
                      "candidate's ramp ended before a step failed, so no fall is shown")
        elif not steps:
            verdict, ruled_out = "unchanged", False
            reason = (f"fell {format_number(base)} → {offered_text(cand, unit)}, but no step between them regressed "
                      "in the family's tests: not corroborated")
        else:
            names = ", ".join(x.metric for x in sorted(steps, key=lambda x: parse_step(x.metric).offered)[:3])
            reason = f"fell {format_number(base)} → {offered_text(cand, unit)}; corroborated by {names}"
    components = list(m.components)
    components[m.lead or 0] = replace(lead, note=note or lead.note, verdict=verdict, ruled_out=ruled_out)
    return replace(m, verdict=verdict, reason=reason, ruled_out=ruled_out, components=tuple(components))
