"""The comparison in a terminal (rich): verdict, a layer table coloured by status, the
suspects, and the metrics most severe first. Colour only when asked (TTY and no NO_COLOR)."""

from __future__ import annotations


from triage.verdict import Comparison, SideInfo

from . import RenderOptions, recording_console
from .cells import footers, metric_cells, shown_metrics, side_hosts, side_when
from .inert import cell, terminal
from .metric_rows import metric_lines

DEFAULT_WIDTH = 140  # columns when the environment names none (not a terminal, no COLUMNS)

STATUS_STYLE = {
    "regressed": "bold red",
    "failed": "bold magenta",
    "inconclusive": "yellow",
    "improved": "cyan",
    "ok": "green",
    "absent": "dim",
    "unchanged": "green",
    "changed": "blue",
    "ignored": "dim",
    "acknowledged": "yellow",
}
VERDICT_STYLE = {"regressed": "bold white on red", "inconclusive": "bold black on yellow", "ok": "bold white on green"}


def _side(info: SideInfo) -> str:
    return f"{info.title} · {side_hosts(info)} · {side_when(info)}"


def render(comparison: Comparison, options: RenderOptions = RenderOptions()) -> str:
    from rich import box
    from rich.console import Group
    from rich.panel import Panel
    from rich.table import Table
    from rich.text import Text

    c = comparison
    console = recording_console(options, DEFAULT_WIDTH)
    width = console.width

    head = Text()
    head.append(f" {c.verdict.upper()} ", style=VERDICT_STYLE.get(c.verdict, "bold"))
    head.append(f"  {terminal(c.reason)}")
    console.print(head)
    console.print(Text(f"baseline  {terminal(_side(c.baseline))}\ncandidate {terminal(_side(c.candidate))}",
                       style="dim"))
    console.print()

    layers = Table(title="layers", title_justify="left", box=box.SIMPLE_HEAD)
    layers.add_column("layer")
    layers.add_column("status")
    layers.add_column("notes", overflow="fold")
    for layer, status in c.layers.items():
        style = STATUS_STYLE.get(status, "")
        layers.add_row(cell(layer, style), cell(status, style), cell(c.layer_notes.get(layer, "")))
    console.print(layers)

    if c.suspects:
        parts = []
        for s in c.suspects:
            line = Text()
            if c.acknowledged_layer(s.layer):
                line.append("acknowledged ", style="yellow")
            else:
                line.append("ROOT SUSPECT " if s.role == "root" else "downstream   ",
                            style="bold red" if s.role == "root" else "yellow")
            line.append(terminal(s.because))
            parts.append(line)
            for e in s.evidence:
                parts.append(cell(f"    · {e.kind}: {e.text}", "dim" if e.kind == "regressed" else "blue"))
        console.print(Panel(Group(*parts), title="suspects", title_align="left", border_style="red"))

    rows = shown_metrics(c, options.show_all)
    cells = [metric_cells(m) for m in rows]
    if rows:
        console.print(Text("metrics (most severe first, by target)"))
        for line in metric_lines(rows, width, STATUS_STYLE):
            text = Text()
            for part, style in line.segments:
                text.append(part, style=style)
            console.print(text, no_wrap=True, overflow="ignore")
        for x in cells:
            if not x.judged:
                line = Text("  ")
                line.append(x.verdict, style=STATUS_STYLE.get(x.verdict, ""))
                line.append(f" {terminal(x.metric)}: {terminal(x.reason)}")
                console.print(line)
    for f in footers(c, len(rows)):
        line = Text(style="dim" if f.kind == "family" else "")
        if f.lead:
            line.append(f.lead + " ", style="magenta")
        line.append(terminal(f.text))
        console.print(line)
    return console.export_text(styles=options.color)
