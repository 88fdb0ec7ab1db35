"""Renderers for `triage repro dns`: the side-by-side table and the JSON document."""

from __future__ import annotations


from triage.repro.dns_report import ReproReport

from . import RenderOptions, recording_console
from .inert import cell, json_document


def render_json(report: ReproReport, options: RenderOptions = RenderOptions()) -> str:
    return json_document(report.to_json_dict())


def _ms(value) -> str:
    return "—" if value is None else f"{value:.3g}" if value < 10 else f"{value:.1f}"


def _rows(report: ReproReport) -> list[tuple[str, list[str]]]:
    sides = report.to_json_dict()["sides"]
    rows: list[tuple[str, list[str]]] = []
    for key, title in (("lookup_ms", "lookup"), ("request_ms", "request"), ("pool_wait_ms", "pool wait")):
        for q in ("p50", "p95", "p99", "max"):
            rows.append((f"{title} {q} (ms)", [_ms(s[key][q]) for s in sides]))
    rows.append(("lookups", [str(s["lookups"]) for s in sides]))
    rows.append(("timeouts (waited ≥1 resolver timeout)",
                 [f"{s['timeouts']} ({s['timeouts'] / s['lookups']:.2%})" if s["lookups"] else "0" for s in sides]))
    rows.append(("failed lookups", [str(s["failures"]) for s in sides]))
    rows.append(("queries per lookup", ["—" if s["queries_per_lookup"] is None else f"{s['queries_per_lookup']:.2f}"
                                        for s in sides]))
    rows.append(("requests", [str(s["requests"]) for s in sides]))
    rows.append((f"pool peak (of {report.options.pool_size})", [str(s["pool_peak"]) for s in sides]))
    rows.append(("stopped by", [f"{s['stopped_by']} after {s['duration_s']:.1f} s" for s in sides]))
    return rows


def render(report: ReproReport, options: RenderOptions = RenderOptions()) -> str:
    from rich.table import Table

    o = report.options
    timeout_ms = report.sides[0].resolver_timeout_s * 1000 if report.sides else 0
    title = (f"repro dns · path {report.path} · {report.target} · {len(o.names)} lookups/request, "
             f"pool {o.pool_size}, hold {o.hold_ms:g} ms, "
             + (f"{o.rate:g} req/s" if o.rate else "closed loop") + f" on {o.workers} workers")
    # Names, profiles and the path detail are outside text: each through inert.cell.
    table = Table(title=cell(title), title_justify="left",
                  caption=cell(f"{report.path}: {report.path_detail}; resolver timeout {timeout_ms:g} ms "
                               "(glibc's default is 5000 ms)"), caption_justify="left")
    table.add_column("")
    for side in report.sides:
        table.add_column(cell(side.profile), justify="right", overflow="fold")
    for label, cells in _rows(report):
        table.add_row(cell(label), *map(cell, cells))
    console = recording_console(options, 120)
    console.print(table)
    return console.export_text(styles=options.color)
