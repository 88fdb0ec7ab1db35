"""The comparison in a terminal (rich): verdict, a layer table coloured by status, the
suspects, and the metrics most severe first. Colour only when asked (TTY and no NO_COLOR)."""

from __future__ import annotations

import io
import shutil

from triage.formatting import ci_label, printable
from triage.verdict import CI_LEVEL, Comparison, SideInfo

from . import RenderOptions
from .cells import footers, metric_cells, shown_metrics, side_hosts, side_when

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
    from rich.console import Console, Group
    from rich.panel import Panel
    from rich.table import Table
    from rich.text import Text

    c = comparison
    width = options.width or max(100, shutil.get_terminal_size((140, 24)).columns)
    console = Console(record=True, width=width, no_color=not options.color,
                      force_terminal=options.color, color_system="standard" if options.color else None,
                      file=io.StringIO(), highlight=False)

    head = Text()
    head.append(f" {c.verdict.upper()} ", style=VERDICT_STYLE.get(c.verdict, "bold"))
    head.append(f"  {c.reason}")
    console.print(head)
    console.print(Text(f"baseline  {_side(c.baseline)}\ncandidate {_side(c.candidate)}", style="dim"))
    console.print()

    layers = Table(title="layers", title_justify="left", box=box.SIMPLE_HEAD)
    layers.add_column("layer")
    layers.add_column("status")
    layers.add_column("notes", overflow="fold")
    for layer, status in c.layers.items():
        style = STATUS_STYLE.get(status, "")
        layers.add_row(Text(layer, style=style), Text(status, style=style), Text(c.layer_notes.get(layer, "")))
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
            line.append(printable(s.because))  # names and versions from snapshots: shown, never acted on
            parts.append(line)
            for e in s.evidence:
                parts.append(Text(printable(f"    · {e.kind}: {e.text}"), style="dim" if e.kind == "regressed" else "blue"))
        console.print(Panel(Group(*parts), title="suspects", title_align="left", border_style="red"))

    rows = shown_metrics(c, options.show_all)
    cells = [metric_cells(m) for m in rows]
    if rows:
        # Narrow terminals lose the q-values first, then the interval (JSON and Markdown keep all).
        show_q, show_ci = width >= 150, width >= 120
        fixed = {"comp.": 8, "adj. p": 9, "q": 9 if show_q else 0, "verdict": 13}
        columns = 4 + (1 if show_ci else 0) + 2 + (1 if show_q else 0)
        # rich cannot shrink unbreakable numbers below their length and then crops the last
        # column, so the wrapping columns get explicit shares of what the fixed ones leave.
        spare = max(40, width - 2 * columns - sum(fixed.values()))
        natural = {"metric": max(len(x.metric) for x in cells),
                   "values": max(len(f"{x.baseline} → {x.candidate}") for x in cells),
                   "change": max(len(x.change) for x in cells),
                   "ci": max(len(x.ci) for x in cells) if show_ci else 0}
        # Long fact values may wrap; metric ids should not.
        caps = {"metric": 48, "values": 26, "change": 20, "ci": 22}
        natural = {k: min(caps[k], max(6, v)) if k != "ci" or show_ci else 0 for k, v in natural.items()}
        total = sum(natural.values())
        w = dict(natural) if total <= spare else {k: max(6, int(v * spare / total)) for k, v in natural.items()}
        table = Table(title="metrics (most severe first)", title_justify="left", box=box.SIMPLE_HEAD)
        table.add_column("metric", overflow="fold", width=w["metric"])
        table.add_column("comp.", no_wrap=True, width=fixed["comp."])
        table.add_column("baseline → candidate", justify="right", overflow="fold", width=w["values"])
        table.add_column("change", justify="right", overflow="fold", width=w["change"])
        if show_ci:
            table.add_column(ci_label(CI_LEVEL), justify="right", overflow="fold", width=w["ci"])
        table.add_column("adj. p", justify="right", no_wrap=True, width=fixed["adj. p"])
        if show_q:
            table.add_column("q", justify="right", no_wrap=True, width=fixed["q"])
        table.add_column("verdict", no_wrap=True, width=fixed["verdict"])
        for x in cells:
            style = STATUS_STYLE.get(x.verdict, "")
            row = [Text(x.metric), x.component, Text(f"{x.baseline} → {x.candidate}"),
                   Text(x.change, style=style if x.verdict in ("regressed", "improved") else "")]
            row += [Text(x.ci)] if show_ci else []
            row += [x.p_adjusted] + ([x.q] if show_q else []) + [Text(x.verdict, style=style)]
            table.add_row(*row)
        console.print(table)
        for x in cells:
            if not x.judged:
                line = Text("  ")
                line.append(x.verdict, style=STATUS_STYLE.get(x.verdict, ""))
                line.append(f" {x.metric}: {x.reason}")
                console.print(line)
    for f in footers(c, len(rows)):
        line = Text(style="dim" if f.kind == "family" else "")
        if f.lead:
            line.append(f.lead + " ", style="magenta")
        line.append(f.text)
        console.print(line)
    return console.export_text(styles=options.color)
