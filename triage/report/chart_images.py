"""The report's charts as PNG and SVG files (`triage report --charts-dir DIR`), for incident
docs that do not render Mermaid: the same ``Chart`` values the Markdown draws, with what
Mermaid lacks: a legend, a real log axis with the values on it, one line per version and
metric (colour the version, marker the metric).

matplotlib is an optional extra (``pip install 'triage[charts]'``), imported only here and
only when a chart is drawn; ``require`` says so (exit 2) before any work is done. Figures are
built without pyplot, so no global state and no display backend is touched.
"""

from __future__ import annotations

import io
import os
import textwrap
from typing import Sequence

from triage.errors import BadInput
from triage.fileio import atomic_write_text

from .charts import BASELINE_COLOUR, CANDIDATE_COLOUR, Chart

EXTRA = "charts"
_MARKERS = ("o", "s", "^")  # one per metric of a chart (charts.MAX_METRICS)


def require(option: str = "--charts-dir") -> None:
    """BadInput (exit 2) naming the extra when matplotlib cannot be imported."""
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        raise BadInput(f"{option} draws PNG and SVG with matplotlib, which is not installed: "
                       f"pip install 'triage[{EXTRA}]'") from None


def _series(chart: Chart) -> list[tuple[str, list[int], list[float], list[float]]]:
    """(metric, x positions, baseline values, candidate values) per metric along the x axis."""
    out: list[tuple[str, list[int], list[float], list[float]]] = []
    per = len(chart.labels) // len(chart.metrics)
    for i, metric in enumerate(chart.metrics):
        xs = list(range(i * per, (i + 1) * per))
        out.append((metric, xs, [chart.baseline[x] for x in xs], [chart.candidate[x] for x in xs]))
    return out


def _figure(chart: Chart):  # -> matplotlib.figure.Figure
    from matplotlib.figure import Figure
    from matplotlib.ticker import FuncFormatter

    from triage.formatting import format_number

    fig = Figure(figsize=(8, 4.5), dpi=100, layout="constrained")
    ax = fig.add_subplot()
    several = len(chart.metrics) > 1
    for (metric, xs, base, cand), marker in zip(_series(chart), _MARKERS):
        suffix = f" · {metric}" if several else ""
        ax.plot(xs, base, color=BASELINE_COLOUR, marker=marker, label=f"{chart.baseline_title}{suffix}")
        ax.plot(xs, cand, color=CANDIDATE_COLOUR, marker=marker, label=f"{chart.candidate_title}{suffix}")
    ax.set_xticks(range(len(chart.labels)), chart.labels, rotation=45 if several else 0, ha="right" if several else "center")
    if chart.log_scale:
        ax.set_yscale("log")
    ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _pos: format_number(v)))
    ax.set_ylabel(chart.unit)
    ax.set_title(chart.title, fontsize=10)
    ax.grid(True, which="major", alpha=0.3)
    ax.legend(fontsize=8)
    fig.supxlabel(textwrap.fill(chart.caption(), 140), fontsize=7, alpha=0.8)
    return fig


def write_charts(charts: Sequence[Chart], directory: str) -> list[str]:
    """Each chart as ``<stem>.png`` and ``<stem>.svg`` in ``directory`` (made if missing),
    written atomically; the paths written."""
    require()
    try:
        os.makedirs(directory, exist_ok=True)
    except OSError as exc:
        raise BadInput(f"--charts-dir {directory}: cannot create it: {exc.strerror}") from None
    import matplotlib

    written = []
    # No date and a fixed id salt: the same chart gives the same SVG (diffable in git).
    with matplotlib.rc_context({"svg.hashsalt": "triage"}):
        for chart in charts:
            fig = _figure(chart)
            for fmt, metadata in (("png", {}), ("svg", {"Date": None})):
                buffer = io.BytesIO()
                fig.savefig(buffer, format=fmt, metadata=metadata)
                path = os.path.join(directory, f"{chart.stem}.{fmt}")
                atomic_write_text(path, buffer.getvalue())
                written.append(path)
    return written
