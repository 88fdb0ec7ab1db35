"""A history (triage.changepoints) in a terminal, as Markdown with one chart per changed root
metric over the labels, and as JSON (the triage.history/v1 contract)."""

from __future__ import annotations


from triage.changepoints import ChangePoint, History
from triage.formatting import ci_label, format_number, plural
from triage.verdict import CI_LEVEL

from . import RenderOptions, recording_console
from .cells import metric_cells
from .inert import cell, mermaid, terminal
from .inert import markdown as escape

MAX_CHARTS = 6


def _headline(h: History) -> str:
    new, acked = len(h.new), len(h.change_points) - len(h.new)
    if not h.change_points:
        return "no change point"
    return plural(new, "change point") + (f" ({acked} more acknowledged)" if acked else "") if new else \
        f"no new change point ({acked} acknowledged)"


def _span(h: History) -> str:
    runs = sorted(set(h.runs.values()))
    each = f"{runs[0]} run{'s' if runs[0] != 1 else ''} each" if len(runs) == 1 else f"{runs[0]}–{runs[-1]} runs each"
    return (f"{len(h.labels)} labels ({h.labels[0]} … {h.labels[-1]}, {h.order} order), {each}; "
            f"{plural(h.metrics, 'metric')} searched")


def _method(h: History) -> str:
    return (f"Binary segmentation over the labels, each split judged as `triage compare` judges two labels "
            f"(at α = {h.alpha:g} / 2^level / {max(1, len(h.labels) - 1)} positions, Holm over the metrics); a change "
            f"needs 2 labels on each side and must hold with any one label left out; {h.comparisons} comparisons.")


def _row(cp: ChangePoint) -> tuple[str, ...]:
    x = metric_cells(cp.judged)
    role = cp.role + (f" of {', '.join(cp.downstream_of)}" if cp.downstream_of else "")
    status = "acknowledged" if cp.judged.acknowledged else cp.direction
    return (cp.label, cp.previous_label, x.metric, status, x.baseline, x.candidate, x.change, x.ci, role)


HEADER = ("at", "after", "metric", "change point", "before", "after it", "change", ci_label(CI_LEVEL), "role")


def render_json(h: History, options: RenderOptions = RenderOptions()) -> str:
    return h.to_json()


def render(h: History, options: RenderOptions = RenderOptions()) -> str:
    from rich import box
    from rich.table import Table
    from rich.text import Text

    console = recording_console(options)
    head = Text()
    style = "bold white on red" if h.new else "bold white on green"
    head.append(f" {_headline(h).upper()} ", style=style)
    head.append(f"  {terminal(h.summary())}")
    console.print(head)
    console.print(cell(_span(h), "dim"))
    if h.change_points:
        table = Table(title="change points", title_justify="left", box=box.SIMPLE_HEAD)
        for name in HEADER:
            table.add_column(name, overflow="fold")
        for cp in h.change_points:
            row = _row(cp)
            # Labels and metric names are outside text: inert.cell, never rich markup.
            table.add_row(*map(cell, row[:3]), cell(row[3], "yellow" if cp.judged.acknowledged else "bold red"
                                                    if cp.direction == "regressed" else "cyan"), *map(cell, row[4:]))
        console.print(table)
    for cp in h.change_points:
        if cp.judged.ack is not None:
            a = cp.judged.ack
            console.print(cell(f"{a.status}: {cp.id} at {cp.label}: {a.describe()}"
                               + (f" — {a.note}" if a.note else ""), "yellow"))
    console.print(Text(_method(h), style="dim"))
    return console.export_text(styles=options.color)


def _chart(h: History, metric_id: str, unit: str | None) -> list[str]:
    points = [(label, v) for label, v in zip(h.labels, h.series.get(metric_id, ())) if v is not None]
    if len(points) < 2:
        return []
    labels = ", ".join(f'"{mermaid(label)}"' for label, _ in points)
    values = ", ".join(format_number(v).replace(",", "") for _, v in points)
    return ["```mermaid", "xychart-beta", f'    title "{mermaid(metric_id)}"',
            f"    x-axis [{labels}]", f'    y-axis "{mermaid(unit or "value")}"', f"    line [{values}]",
            "```", ""]


def render_markdown(h: History, options: RenderOptions = RenderOptions()) -> str:
    lines = [f"# triage history: {escape(h.labels[0])} … {escape(h.labels[-1])}", "",
             f"**{escape(_headline(h)).capitalize()}**: {escape(h.summary())}.", "", escape(_span(h)) + ".", ""]
    if h.change_points:
        lines += ["| " + " | ".join(HEADER) + " |", "|" + "---|" * len(HEADER)]
        lines += ["| " + " | ".join(escape(v) for v in _row(cp)) + " |" for cp in h.change_points]
        lines.append("")
    for cp in h.change_points:
        if cp.judged.ack is not None:
            a = cp.judged.ack
            lines.append(f"- {a.status}: {escape(cp.id)} at {escape(cp.label)}: {escape(a.describe())}"
                         + (f" — {escape(a.note)}" if a.note else ""))
    roots = list(dict.fromkeys((cp.id, cp.judged.unit) for cp in h.change_points if cp.role == "root"))
    charts = [line for metric_id, unit in roots[:MAX_CHARTS] for line in _chart(h, metric_id, unit)]
    if charts and options.charts:
        lines += ["", "## Changed root metrics over the labels", "", *charts]
    lines += ["", escape(_method(h)), ""]
    return "\n".join(lines).rstrip() + "\n"
