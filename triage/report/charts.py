"""Which charts a report draws, and what is in them: one chart per root-suspect probe target,
the two versions' latency quantile curves (p50 → p99.9), one line per version.

Pure data from a Comparison: the Markdown report draws it as Mermaid (``mermaid``), and
``triage report --charts-dir`` as PNG and SVG (triage.report.chart_images, matplotlib). Both
take the same ``Chart`` values, so the files the Markdown links are exactly the charts it drew.

Why curves and not a bar per quantile: a p99 of 108 ms beside a p50 of 0.06 ms flattens
every bar but one, and six metrics of one target (A and AAAA of three names) made six
near-identical charts. A target's metrics of one unit share a chart, laid side by side
along the x axis; values that span more than a decade are drawn on a log scale.
"""

from __future__ import annotations

import hashlib
import math
import re
from dataclasses import dataclass
from typing import Sequence

from triage.formatting import format_number
from triage.load.naming import PROBE as RAMP
from triage.verdict import Comparison, MetricComparison

from . import inert

MAX_CHARTS = 6  # targets charted at most; the metrics table lists every regression anyway
MAX_METRICS = 3  # metrics of one target in one chart: more and the x axis is unreadable
TIME_UNITS = ("ns", "us", "µs", "ms", "s")  # "latency": what a quantile curve is for
LOG_FROM = 10.0  # largest / smallest value past which the y axis is logarithmic
FEW_FOR_P999 = 1000  # fewer values than this: p99.9 is (nearly) the largest of them
BASELINE_COLOUR, CANDIDATE_COLOUR = "#2b6cb0", "#c53030"  # blue, red: apart for most colour blindness too


@dataclass(frozen=True)
class Chart:
    """One probe target's regressed latency: along ``labels`` (quantiles, per metric when
    there are several), the ``baseline`` and ``candidate`` values, one line each."""

    layer: str
    probe: str
    target: str
    unit: str
    metrics: tuple[str, ...]
    labels: tuple[str, ...]
    baseline: tuple[float, ...]
    candidate: tuple[float, ...]
    baseline_title: str
    candidate_title: str
    n: tuple[int, int]  # the fewest values on each side among the charted metrics

    @property
    def title(self) -> str:
        return f"{self.layer}.{self.probe} {self.target}: {' / '.join(self.metrics)} ({self.unit})"

    @property
    def log_scale(self) -> bool:
        values = [v for v in (*self.baseline, *self.candidate)]
        return min(values) > 0 and max(values) / min(values) > LOG_FROM

    @property
    def stem(self) -> str:
        """The file name (no suffix) of this chart's PNG and SVG: readable, and unique by a hash
        of the whole key, since two targets may slug alike."""
        key = f"{self.layer}.{self.probe}.{self.target}.{self.unit}"
        slug = re.sub(r"[^A-Za-z0-9._-]+", "_", f"{self.layer}-{self.probe}-{self.target}").strip("._")[:80]
        return f"{slug}-{hashlib.sha256(key.encode()).hexdigest()[:8]}"

    def caption(self) -> str:
        """What the lines are (Mermaid charts have no legend) and how to read the tail."""
        n_a, n_b = self.n
        text = (f"Blue: {self.baseline_title} (n = {n_a:,}); red: {self.candidate_title} (n = {n_b:,}). "
                "Quantiles of each side's pooled samples")
        if min(self.n) < FEW_FOR_P999:
            text += f"; p99.9 of fewer than {FEW_FOR_P999:,} values is close to their largest"
        return text + ("; log scale." if self.log_scale else ".")


def _latency(m: MetricComparison) -> bool:
    return (m.kind == "samples" and m.unit in TIME_UNITS and m.baseline is not None and m.candidate is not None
            and m.baseline.p50 is not None and m.candidate.p50 is not None)


def _short_names(metrics: Sequence[str]) -> list[str]:
    """latency_A, latency_AAAA -> A, AAAA: the part that tells them apart, for x-axis labels."""
    if len(metrics) < 2:
        return [""] * len(metrics)
    prefix = metrics[0]
    for name in metrics[1:]:
        while not name.startswith(prefix):
            prefix = prefix[:-1]
    cut = max(prefix.rfind("_"), prefix.rfind("."), prefix.rfind("-")) + 1 if prefix else 0
    return [name[cut:] or name for name in metrics]


def _chart(c: Comparison, rows: Sequence[MetricComparison]) -> Chart | None:
    labels: list[str] = []
    baseline: list[float] = []
    candidate: list[float] = []
    for m, short in zip(rows, _short_names([m.metric for m in rows])):
        a, b = dict(m.baseline.curve()), dict(m.candidate.curve())
        for q, value in a.items():
            if value is not None and b.get(q) is not None and math.isfinite(value) and math.isfinite(b[q]):
                labels.append(f"{short} {q}".strip())
                baseline.append(value)
                candidate.append(b[q])
    if not labels:
        return None
    first = rows[0]
    return Chart(first.layer, first.probe, first.target, first.unit or "", tuple(m.metric for m in rows),
                 tuple(labels), tuple(baseline), tuple(candidate), c.baseline.title, c.candidate.title,
                 (min(m.baseline.n for m in rows), min(m.candidate.n for m in rows)))


def charts(c: Comparison) -> list[Chart]:
    """The charts of ``c``: its root suspects' regressed latency metrics, one chart per probe
    target (and unit), most severe first; MAX_CHARTS at most."""
    roots = set(c.root_layers)
    groups: dict[tuple[str, str, str, str | None], list[MetricComparison]] = {}
    for m in c.sorted_metrics():
        # A load ramp's steps have their chart against offered load (triage.report.load_view).
        if m.layer in roots and m.verdict == "regressed" and _latency(m) and m.probe != RAMP:
            groups.setdefault((m.layer, m.probe, m.target, m.unit), []).append(m)
    out = []
    for rows in groups.values():
        chart = _chart(c, sorted(rows[:MAX_METRICS], key=lambda m: m.metric))
        if chart is not None:
            out.append(chart)
        if len(out) == MAX_CHARTS:
            break
    return out


# ---------------------------------------------------------------- Mermaid


def _text(text: str) -> str:
    """A Mermaid quoted string of a chart: inert.mermaid, the one Mermaid step (no quote,
    bracket, comma, backtick, '#' or line break: Mermaid has no escape for a quote, and labels
    may be read as Markdown or HTML)."""
    return inert.mermaid(text)


def _number(x: float) -> str:
    return format_number(x).replace(",", "")


def _decades(values: Sequence[float]) -> str:
    """'-1 = 0.1 / 0 = 1 / 1 = 10': the key to a log10 axis, over the decades shown."""
    low, high = math.floor(math.log10(min(values))), math.ceil(math.log10(max(values)))
    return " / ".join(f"{d} = {_number(10.0 ** d)}" for d in range(low, high + 1))


def mermaid(chart: Chart) -> list[str]:
    """The chart as a Mermaid ``xychart-beta`` block: blue line the baseline, red the candidate.
    Mermaid has no log axis: a log-scale chart plots log10 of the values, and its axis title
    says which number is which value."""
    values = (*chart.baseline, *chart.candidate)
    if chart.log_scale:
        lines = [[f"{math.log10(v):.3f}" for v in side] for side in (chart.baseline, chart.candidate)]
        axis = f"log10 of {chart.unit} ({_decades(values)})"
    else:
        lines = [[_number(v) for v in side] for side in (chart.baseline, chart.candidate)]
        axis = chart.unit
    palette = '{"themeVariables": {"xyChart": {"plotColorPalette": "%s, %s"}}}' % (BASELINE_COLOUR, CANDIDATE_COLOUR)
    return ["```mermaid", f"%%{{init: {palette}}}%%", "xychart-beta", f'    title "{_text(chart.title)}"',
            f"    x-axis [{', '.join(chr(34) + _text(label) + chr(34) for label in chart.labels)}]",
            f'    y-axis "{_text(axis)}"', f"    line [{', '.join(lines[0])}]", f"    line [{', '.join(lines[1])}]",
            "```"]
