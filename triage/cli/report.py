"""`triage report`: a Markdown, JSON or JUnit triage report from a comparison."""

from __future__ import annotations

import os

import typer

from .env import environment


def register(app: typer.Typer) -> None:
    app.command("report")(report)


def report(
    ctx: typer.Context,
    first: str = typer.Argument(..., help="A comparison JSON (`triage compare --format json`), or the baseline "
                                "(snapshot file or stored label) when CANDIDATE is given."),
    candidate: str = typer.Argument(None, help="Candidate snapshot file or stored label."),
    fmt: str = typer.Option("markdown", "--format", "-f", help="markdown (GitHub-flavoured), json or junit (XML)."),
    out: str = typer.Option(None, "--out", "-o", help="Write the report here (atomically) instead of stdout."),
    charts: bool = typer.Option(True, "--charts/--no-charts", help="Mermaid latency charts for root-suspect metrics."),
    charts_dir: str = typer.Option(None, "--charts-dir", help="Also write the charts here as PNG and SVG, linked "
                                   "from the Markdown (needs the charts extra: pip install 'triage[charts]')."),
    show_all: bool = typer.Option(False, "--all", "-a", help="List unchanged metrics too."),
    budget: str = typer.Option(None, "--budget", "-b", help="Budget YAML (per-metric floors), when comparing here."),
    alpha: float = typer.Option(0.01, "--alpha", help="Family-wise error rate, when comparing here."),
    store: str = typer.Option(None, "--store", "-s", help="Baseline store for labels (default $TRIAGE_STORE, else ./baselines)."),
    acks: str = typer.Option(None, "--acks", help="Acks YAML, when comparing here: regressions already filed (glob, label, reason, "
                             "expires, accepted size); they are reported but fail nothing."),
) -> int:
    """Write a triage report for an incident doc, a PR comment or CI.

    Exit code follows the verdict: 0 ok, 3 regression, 4 inconclusive, 2 bad input.
    Examples: triage report 4.3.18 4.3.19 -o triage-report.md;
    triage compare a.json b.json --format json > cmp.json && triage report cmp.json --format junit -o junit.xml
    """
    from triage import engine
    from triage.fileio import check_writable
    from triage.judging import Judging

    from . import output

    output.check_format(fmt, output.REPORT_FORMATS)
    if out:
        check_writable(out, "--out")
    env = environment(ctx)
    comparison = engine.report(first, candidate, Judging(store, budget, alpha, acks=acks),
                               charts_dir=charts_dir if charts else None)
    # Links from the report to the chart files: relative to where the report is written.
    link = os.path.relpath(charts_dir, os.path.dirname(os.path.abspath(out))) if charts_dir and out else charts_dir
    output.write(env, output.text(env, comparison, fmt, show_all=show_all, charts=charts, full_report=True,
                                  charts_link=link if charts else None), out)
    if out:
        env.err(f"triage: wrote {out} (verdict {comparison.verdict})")
    if charts_dir and charts:
        env.err(f"triage: wrote the charts to {charts_dir} (PNG and SVG)")
    return int(comparison.exit_status)
