"""`triage history`: at which label did each metric change, and which layer led."""

from __future__ import annotations

from typing import List

import typer

from .env import environment


def register(app: typer.Typer) -> None:
    app.command("history")(history)


def history(
    ctx: typer.Context,
    labels: List[str] = typer.Argument(None, help="Stored labels to read (globs allowed, e.g. '4.3.*'); default "
                                       "every label in the store."),
    layer: List[str] = typer.Option(None, "--layer", help="Only this layer (repeat or comma list)."),
    metric: List[str] = typer.Option(None, "--metric", help="Only metrics matching this glob on "
                                     "layer.probe.target.metric (repeatable)."),
    order: str = typer.Option("version", "--order", help="version (natural sort: 4.3.9 < 4.3.10, nightlies and "
                              "rc before their release) or time (the first run of each label)."),
    fmt: str = typer.Option("table", "--format", "-f", help="table, markdown (one chart per changed root metric) "
                            "or json (triage.history/v1)."),
    store: str = typer.Option(None, "--store", "-s", help="Baseline store (default $TRIAGE_STORE, else ./baselines)."),
    budget: str = typer.Option(None, "--budget", "-b", help="Budget YAML: per-metric floors by glob."),
    alpha: float = typer.Option(0.01, "--alpha", help="Family-wise error rate over every metric and position."),
    acks: str = typer.Option(None, "--acks", help="Acks YAML: regressions already filed, by glob and the label "
                             "after the change; reported, but they do not make exit 3."),
) -> int:
    """Find the change points of every metric across stored labels, and the layer that led each step.

    Exit codes: 0 no change point, 3 a change point (not acknowledged), 2 bad input.
    Example: triage history --layer dns --format markdown
    """
    from triage import engine
    from triage.judging import Judging

    from . import output

    output.check_format(fmt, output.HISTORY_FORMATS)
    layers = tuple(x.strip() for item in layer or () for x in item.split(",") if x.strip())
    result = engine.history(tuple(labels or ()), Judging(store, budget, alpha, acks=acks), layers=layers,
                            metrics=tuple(metric or ()), order=order)
    env = environment(ctx)
    env.out(output.text(env, result, fmt))
    return int(result.exit_status)
