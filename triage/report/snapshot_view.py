"""A terminal table of one snapshot: what each probe saw, at a glance."""

from __future__ import annotations


from triage.formatting import short_value
from triage.model import Measurement, Snapshot
from triage.stats import quantile

from . import RenderOptions, recording_console
from .inert import cell


def summarise(m: Measurement) -> str:
    """A short human summary of one measurement (no statistics beyond a median and p95)."""
    unit = f" {m.unit}" if m.unit else ""
    if m.kind == "samples":
        if not m.values:
            return "no samples"
        vals = sorted(m.values)
        return f"p50 {quantile(vals, 0.5):.4g}{unit}  p95 {quantile(vals, 0.95):.4g}{unit}  n={len(vals)}"
    if m.kind == "proportion":
        rate = m.events / m.trials if m.trials else 0.0
        return f"{m.events}/{m.trials} ({rate:.2%})"
    if m.kind == "gauge":
        return f"{m.value:g}{unit}"
    return short_value(m.value)


def render_json(snapshot: Snapshot, options: RenderOptions = RenderOptions()) -> str:
    return snapshot.to_json()


def render(snapshot: Snapshot, options: RenderOptions = RenderOptions()) -> str:
    from rich.table import Table

    # Every cell is outside text (the snapshot's), so every cell goes through inert.cell: shown
    # with its control characters escaped, never read as markup.
    table = Table(title=cell(f"snapshot {snapshot.label} · {snapshot.host} · {snapshot.taken_at}"),
                  title_justify="left")
    for col in ("layer", "probe", "target", "status", "metric", "value"):
        table.add_column(col, overflow="fold")
    styles = {"ok": "green", "error": "red", "skipped": "yellow"}
    for r in snapshot.results:
        status = cell(r.status, styles.get(r.status, ""))
        if r.status != "ok" or not r.measurements:
            table.add_row(cell(r.layer), cell(r.probe), cell(r.target), status, "", cell(r.error or ""))
            continue
        for i, m in enumerate(r.measurements):
            first = i == 0
            table.add_row(cell(r.layer if first else ""), cell(r.probe if first else ""),
                          cell(r.target if first else ""), status if first else "", cell(m.metric),
                          cell(summarise(m)))
    console = recording_console(options, 120)
    console.print(table)
    for r in snapshot.results:
        if r.probe == "ramp":  # a ramp's capacity and how it was found (generator-limited, ...)
            for note in r.notes:
                console.print(cell(f"{r.layer}.ramp [{r.target}]: {note}"), soft_wrap=True)
    return console.export_text(styles=options.color)
