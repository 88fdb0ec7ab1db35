"""A calibration (triage.calibration) as a terminal table, and as JSON."""

from __future__ import annotations

from typing import TYPE_CHECKING

from triage.formatting import display_unit, format_number, format_rate, plural

from . import RenderOptions, recording_console
from .inert import cell, json_document

if TYPE_CHECKING:  # the result's module also computes it (the judge): not needed to render one
    from triage.calibration import Calibration, MetricNoise


def render_json(c: Calibration, options: RenderOptions = RenderOptions()) -> str:
    return json_document(c.to_dict())


def _value(m: MetricNoise, x: float | None) -> str:
    if x is None:
        return "–"
    return format_rate(x) if m.kind == "proportion" else f"{format_number(x)}{display_unit(m.unit)}"


def _floor(m: MetricNoise) -> str:
    if not m.widened:
        return f"{_value(m, m.floor)} (default)"
    share = f"{m.relative:.0%}, " if m.relative is not None and m.kind == "samples" else ""
    return f"{_value(m, m.default_floor)} → {_value(m, m.floor)} ({share}by {m.component})"


def _needed(m: MetricNoise) -> str:
    if m.needed is None:
        return "no test" if m.kind == "gauge" else "–"
    return f"enough ({m.n})" if m.needed <= (m.n or 0) else format_number(m.needed)


def render(c: Calibration, options: RenderOptions = RenderOptions()) -> str:
    from rich import box
    from rich.table import Table
    from rich.text import Text

    console = recording_console(options)
    width = console.width
    widened = sum(1 for m in c.metrics if m.widened)
    console.print(cell(f"calibrated {c.label} from {c.runs} runs: {plural(widened, 'floor')} widened by the noise, "
                       f"{len(c.metrics) - widened} kept at the defaults; budgets written to {c.out}"))
    table = Table(box=box.SIMPLE_HEAD)
    # rich crops the last column rather than wrap unbreakable numbers: explicit widths that fit.
    fixed = {"runs' value": 11, "spread (between runs)": 22, "floor": 28, "detectable now": 20,
             "samples for the floor": 15}
    spare = width - sum(fixed.values()) - 2 * (len(fixed) + 1)
    longest = max((len(m.id) for m in c.metrics), default=6)
    table.add_column("metric", overflow="fold", width=max(16, min(longest, spare)))
    for name, w in fixed.items():
        table.add_column(name, overflow="fold", width=w)
    for m in c.metrics:
        table.add_row(cell(m.id), _value(m, m.center),  # a metric id is outside text: inert.cell f"{_value(m, m.spread)} ({_value(m, m.noise)})",
                      Text(_floor(m), style="yellow" if m.widened else ""),
                      _value(m, m.detectable) + (f" at n={m.n}" if m.n else ""), _needed(m))
    console.print(table)
    console.print(Text(f"Each run judged against the other {c.runs - 1} with the default floors: "
                       f"{c.flagged_runs} of {c.runs} flagged a regression. Floors: t(R−1, 1 − α/m)·τ·√(1 + 1/R) over "
                       f"the noise τ between runs beyond their own sampling, never below the defaults; detectable: "
                       f"found 80% of the time at α = {c.alpha:g} over the family.", style="dim"))
    return console.export_text(styles=options.color)
