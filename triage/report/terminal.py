"""The comparison in a terminal (rich): verdict, a layer table coloured by status, the
suspects, and the metrics most severe first. Colour only when asked (TTY and no NO_COLOR)."""

from __future__ import annotations

from dataclasses import dataclass

from triage.compare import CI_LABEL, Comparison

from .markdown_table import HIDDEN_BY_DEFAULT, metric_cells

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
}
VERDICT_STYLE = {"regressed": "bold white on red", "inconclusive": "bold black on yellow", "ok": "bold white on green"}


@dataclass(frozen=True)
class TerminalOptions:
    color: bool = True
    show_all: bool = False
    width: int | None = None


def _side(info: object) -> str:
    hosts = ", ".join(info.hosts) or "?"
    when = info.taken_at[0] if len(info.taken_at) == 1 else f"{len(info.taken_at)} runs pooled"
    return f"{info.title} · {hosts} · {when}"


def render(comparison: Comparison, options: TerminalOptions = TerminalOptions()) -> str:
    import io

    from rich import box
    from rich.console import Console, Group
    from rich.markup import escape
    from rich.panel import Panel
    from rich.table import Table
    from rich.text import Text

    c = comparison
    console = Console(record=True, width=options.width or 140, no_color=not options.color,
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
            line.append("ROOT SUSPECT " if s.role == "root" else "downstream   ",
                        style="bold red" if s.role == "root" else "yellow")
            line.append(s.because)
            parts.append(line)
            for e in s.evidence:
                parts.append(Text(f"    · {e.kind}: {e.text}", style="dim" if e.kind == "regressed" else "blue"))
        console.print(Panel(Group(*parts), title="suspects", title_align="left", border_style="red"))

    rows = [m for m in c.sorted_metrics() if options.show_all or m.verdict not in HIDDEN_BY_DEFAULT]
    if rows:
        table = Table(title="metrics (most severe first)", title_justify="left", box=box.SIMPLE_HEAD)
        id_width = min(48, max(len(m.id) for m in rows))
        for col, kw in (("metric", {"overflow": "fold", "min_width": id_width}), ("comp.", {}), ("baseline", {"justify": "right"}),
                        ("candidate", {"justify": "right"}), ("change", {"justify": "right"}),
                        (CI_LABEL, {"justify": "right"}), ("adj. p", {"justify": "right"}), ("q", {"justify": "right"}),
                        ("verdict", {"overflow": "fold", "min_width": 9})):
            table.add_column(col, **kw)
        for m in rows:
            x = metric_cells(m)
            style = STATUS_STYLE.get(x.verdict, "")
            verdict = Text(x.verdict, style=style)
            if x.verdict not in ("regressed", "improved", "unchanged", "changed"):
                verdict.append(f": {x.reason}", style="")
            table.add_row(Text(x.metric), x.component, Text(x.baseline), Text(x.candidate),
                          Text(x.change, style=style if x.verdict in ("regressed", "improved") else ""),
                          Text(x.ci), x.p_adjusted, x.q, verdict)
        console.print(table)
    hidden = len(c.metrics) - len(rows)
    footer = []
    if hidden:
        footer.append(f"{hidden} unchanged metric{'s' if hidden != 1 else ''} not shown (--all shows them).")
    for side_name, info in (("baseline", c.baseline), ("candidate", c.candidate)):
        for f in info.failures:
            runs = f" ({f.runs} of {f.of_runs} runs)" if f.of_runs > 1 else ""
            footer.append(f"[magenta]probe failed on the {side_name}:[/] {escape(f'{f.layer}.{f.probe} [{f.target}]: {f.error}')}{runs}")
    footer.append(f"[dim]Holm–Bonferroni over {c.tests} tests at α = {c.alpha:g} (family-wise); q = Benjamini–Hochberg; "
                  f"a regression must also pass its practical floors.[/]")
    for line in footer:
        console.print(line)
    return console.export_text(styles=options.color)
