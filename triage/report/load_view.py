"""The report's "Load ramps" section: per ramp, its capacity on both sides (and how each was
found: the SLO, a lower bound, "generator-limited at N req/s"), a table of its steps, and for
each ramp that regressed a Mermaid chart of p99 latency against offered load, one line per
side (drawn by triage.report.charts, which keeps its labels to safe characters). Plain
Markdown; every text from a snapshot goes through the caller's ``escape``.
"""

from __future__ import annotations

from typing import Callable

from triage.formatting import format_number, format_rate
from triage.load.naming import PROBE, UNIT, is_capacity, parse_step
from triage.verdict import Comparison, MetricComparison

from . import charts

MAX_CHARTS = 6


def _ramps(c: Comparison) -> dict[tuple[str, str], list[MetricComparison]]:
    out: dict[tuple[str, str], list[MetricComparison]] = {}
    for m in c.metrics:
        if m.probe == PROBE and (is_capacity(m.probe, m.metric) or parse_step(m.metric)):
            out.setdefault((m.layer, m.target), []).append(m)
    return dict(sorted(out.items()))


def _steps(rows: list[MetricComparison]) -> tuple[str, dict[float, dict[str, MetricComparison]]]:
    unit, steps = "", {}
    for m in rows:
        step = parse_step(m.metric)
        if step is not None:
            unit = UNIT[step.suffix]
            steps.setdefault(step.offered, {})[step.kind] = m
    return unit, dict(sorted(steps.items()))


def _p99(m: MetricComparison | None, side: str) -> float | None:
    summary = getattr(m, side, None) if m is not None else None
    return None if summary is None else summary.p99


def _rate(m: MetricComparison | None, side: str) -> str:
    summary = getattr(m, side, None) if m is not None else None
    return "–" if summary is None or summary.rate is None else format_rate(summary.rate)


def _chart(c: Comparison, layer: str, target: str, unit: str, steps: dict) -> list[str]:
    """p99 latency against offered load, one line per version, drawn by triage.report.charts
    as every chart of the report is."""
    def line(side: str) -> tuple[list[float], int]:
        values, n = [], 0
        for kinds in steps.values():
            summary = getattr(kinds.get("latency"), side, None)
            if summary is None or summary.p99 is None:
                break  # Mermaid has no gaps: a line ends at the first step its ramp did not record
            values.append(summary.p99)
            n = min(n, summary.n) if n else summary.n
        return values, n

    (base, n_base), (cand, n_cand) = line("baseline"), line("candidate")
    if not base or not cand:
        return []
    chart = charts.Chart(layer, PROBE, target, "ms", (f"p99 latency by offered load ({unit})",),
                         tuple(format_number(offered).replace(",", "") for offered in steps),
                         tuple(base), tuple(cand), c.baseline.title, c.candidate.title, (n_base, n_cand))
    return charts.mermaid(chart)


def render(c: Comparison, escape: Callable[[str], str], draw: bool = True) -> list[str]:
    ramps = _ramps(c)
    if not ramps:
        return []
    lines = ["## Load ramps", ""]
    drawn = 0
    for (layer, target), rows in ramps.items():
        unit, steps = _steps(rows)
        capacity = next((m for m in rows if is_capacity(m.probe, m.metric)), None)
        lines += [f"### {escape(layer)} {escape(target)}", ""]
        if capacity is not None:
            b = capacity.baseline.value if capacity.baseline else None
            k = capacity.candidate.value if capacity.candidate else None
            lead = capacity.lead_component
            note = f" ({escape(lead.note)})" if lead is not None and lead.note else ""
            lines += [f"Capacity: {escape(c.baseline.title)} {format_number(b)} → {escape(c.candidate.title)} "
                      f"{format_number(k)} {escape(capacity.unit or '')}{note}: **{capacity.verdict}** — "
                      f"{escape(capacity.reason)}", ""]
        regressed = any(m.verdict == "regressed" for m in rows)
        if draw and regressed and drawn < MAX_CHARTS and steps:
            chart = _chart(c, layer, target, unit, steps)
            if chart:
                drawn += 1
                lines += chart + ["", f"Blue: {escape(c.baseline.title)}; red: {escape(c.candidate.title)}: the p99 "
                                  "at each offered rate; a line ends where its ramp stopped.", ""]
        if steps:
            lines += [f"| offered ({escape(unit)}) | {escape(c.baseline.title)} p99 ms | "
                      f"{escape(c.candidate.title)} p99 ms | errors | verdict |", "|---|---|---|---|---|"]
            for offered, kinds in steps.items():
                lat, err = kinds.get("latency"), kinds.get("errors")
                verdicts = ", ".join(f"{k} {m.verdict}" for k, m in sorted(kinds.items()) if m.verdict != "unchanged")
                lines.append(f"| {format_number(offered)} | {format_number(_p99(lat, 'baseline'))} | "
                             f"{format_number(_p99(lat, 'candidate'))} | {_rate(err, 'baseline')} → "
                             f"{_rate(err, 'candidate')} | {escape(verdicts or 'unchanged')} |")
            lines.append("")
    return lines
