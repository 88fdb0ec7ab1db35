"""The report's "Load ramps" section: per ramp, its capacity on both sides (and how each was
found: the SLO, a lower bound, "generator-limited at N req/s"), a table of its steps, and for
each ramp that regressed a Mermaid chart of p99 latency against offered load, one line per
side. Plain Markdown; every text from a snapshot goes through the caller's ``escape``.
"""

from __future__ import annotations

from typing import Callable

from triage.formatting import format_number, format_rate
from triage.load.naming import PROBE, UNIT, is_capacity, parse_step
from triage.verdict import Comparison, MetricComparison

MAX_CHARTS = 6
_SAFE = " ._-:()/"  # Mermaid strings end at a quote; brackets and the rest of punctuation go too


def _safe(text: str) -> str:
    return "".join(ch for ch in text if ch.isalnum() or ch in _SAFE)


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
    xs, lines = [], ([], [])
    for offered, kinds in steps.items():
        xs.append(f'"{_safe(format_number(offered).replace(",", ""))}"')
        for line, side in zip(lines, ("baseline", "candidate")):
            value = _p99(kinds.get("latency"), side)
            line.append(value)
    series = []
    for line in lines:
        # A line ends where its ramp stopped; Mermaid has no gaps, so it is cut at the first hole.
        values = []
        for value in line:
            if value is None:
                break
            values.append(format_number(value).replace(",", ""))
        series.append(values)
    if not any(series):
        return []
    title = _safe(f"{layer} {target}: p99 latency (ms) against offered load ({unit})")
    out = ["```mermaid", "xychart-beta", f'    title "{title}"', f"    x-axis [{', '.join(xs)}]",
           '    y-axis "p99 ms"']
    out += [f"    line [{', '.join(values)}]" for values in series if values]
    return out + ["```", ""]


def render(c: Comparison, escape: Callable[[str], str], charts: bool = True) -> list[str]:
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
            note = f" ({lead.note})" if lead is not None and lead.note else ""
            lines += [f"Capacity: {escape(c.baseline.title)} {format_number(b)} → {escape(c.candidate.title)} "
                      f"{format_number(k)} {escape(capacity.unit or '')}{escape(note)}: **{capacity.verdict}** — "
                      f"{escape(capacity.reason)}", ""]
        regressed = any(m.verdict == "regressed" for m in rows)
        if charts and regressed and drawn < MAX_CHARTS and steps:
            chart = _chart(c, layer, target, unit, steps)
            if chart:
                drawn += 1
                lines += chart + [f"Lines: {escape(c.baseline.title)} first, {escape(c.candidate.title)} second; a "
                                  "line ends where its ramp stopped.", ""]
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
