"""Renderers for `triage repro db`: the sides side by side, then each side's timeline (the
climb of connections against max_connections, second by second); and the JSON document."""

from __future__ import annotations

from typing import Any

from triage.formatting import format_kinds
from triage.repro.db_report import DbReproReport

from . import RenderOptions, recording_console
from .inert import cell, json_document

BAR = 20  # characters of the connections bar: the whole of max_connections


def render_json(report: DbReproReport, options: RenderOptions = RenderOptions()) -> str:
    return json_document(report.to_json_dict())


def _ms(value: float | None) -> str:
    return "—" if value is None else f"{value:.3g}" if value < 10 else f"{value:,.0f}"


def _s(value: float | None) -> str:
    return "never" if value is None else f"{value:.1f} s"


def _summary_rows(sides: list[dict[str, Any]]) -> list[tuple[str, list[str]]]:
    rows: list[tuple[str, list[str]]] = [
        ("peak connections (all clients)",
         [f"{s['peak_clients']} of {s['max_connections']} ({s['max_connections'] - s['superuser_reserved']} "
          "for non-superusers)" for s in sides]),
        ("reached max_connections", ["yes" if s["reached_max_connections"] else "no" for s in sides]),
        ("connections refused", [f"{sum(s['connect_refusals'].values())} of {s['connect_attempts']}"
                                 + (f" ({format_kinds(s['connect_refusals'])})" if s["connect_refusals"] else "")
                                 for s in sides]),
        ("failed requests (of cache misses)",
         [f"{s['failed_requests']} of {s['cache_misses']}" + (f" ({format_kinds(s['errors'])})" if s["errors"] else "")
          for s in sides]),
    ]
    for key, title in (("fetch_ms", "image-layer fetch"), ("request_ms", "cold request"),
                       ("steady_ms", "steady traffic query")):
        for q in ("p50", "p99"):
            rows.append((f"{title} {q} (ms)", [_ms(s[key][q]) for s in sides]))
    rows += [
        ("statement timeouts", [str(s["statement_timeouts"]) for s in sides]),
        ("pods warm", [f"{s['pods_warm']} of {s['pods']}" for s in sides]),
        ("time to warm: first / last pod", [f"{_s(s['time_to_warm_s']['first'])} / {_s(s['time_to_warm_s']['last'])}"
                                           for s in sides]),
        ("plan", [s["plan"] for s in sides]),
        ("stopped by", [f"{s['stopped_by']} after {s['duration_s']:.1f} s" for s in sides]),
    ]
    return rows


def _bar(used: int | None, limit: int, usable: int) -> str:
    if used is None:
        return "?"
    filled = min(BAR, round(BAR * used / max(1, limit)))
    mark = round(BAR * usable / max(1, limit))
    cells = ["█" if i < filled else "·" for i in range(BAR)]
    if mark < BAR and cells[mark] == "·":
        cells[mark] = "|"  # where the slots kept for superusers begin
    return "".join(cells)


def render(report: DbReproReport, options: RenderOptions = RenderOptions()) -> str:
    from rich.table import Table

    doc = report.to_json_dict()
    sides = doc["sides"]
    console = recording_console(options, 120)
    o = report.options
    title = (f"repro db · {report.server} · {o.rows:,} rows · {o.rate:g} requests/s a pod, {o.keys} hot layers "
             f"a pod, steady traffic {o.steady_rate:g} queries/s")
    # Profiles, the server and its error messages are outside text: each through inert.cell.
    summary = Table(title=cell(title), title_justify="left")
    summary.add_column("")
    for side in sides:
        summary.add_column(cell(side["profile"]), justify="right", overflow="fold")
    for label, cells in _summary_rows(sides):
        summary.add_row(cell(label), *map(cell, cells))
    console.print(summary)
    for side in sides:
        limit, usable = side["max_connections"], side["max_connections"] - side["superuser_reserved"]
        table = Table(title=cell(f"{side['profile']}: connections against max_connections {limit} "
                                   f"(| = where the {side['superuser_reserved']} superuser slots begin)"),
                      title_justify="left")
        for column in ("t (s)", "connections", "", "active", "idle", "fetches", "p50 ms", "p95 ms", "errors",
                       "warm pods"):
            table.add_column(column, justify="left" if column == "" else "right")
        for row in side["timeline"]:
            table.add_row(f"{row['t']:.0f}", "—" if row["clients"] is None else str(row["clients"]),
                          _bar(row["clients"], limit, usable), *("—" if row[k] is None else str(row[k])
                                                                 for k in ("active", "idle", "fetches")),
                          _ms(row["fetch_p50_ms"]), _ms(row["fetch_p95_ms"]), str(row["errors"]),
                          f"{row['warm_pods']}/{side['pods']}")
        console.print(table)
    return console.export_text(styles=options.color)
