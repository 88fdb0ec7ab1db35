"""`triage compare`: judge a candidate against a baseline, name the layer to blame."""

from __future__ import annotations

import typer

from .env import environment


def register(app: typer.Typer) -> None:
    app.command("compare")(compare)


def compare(
    ctx: typer.Context,
    baseline: str = typer.Argument(..., help="Baseline: a snapshot file, or a stored label (all its runs pooled)."),
    candidate: str = typer.Argument(..., help="Candidate: a snapshot file, or a stored label."),
    fmt: str = typer.Option("table", "--format", "-f", help="table (terminal), json (DESIGN.md contract, nothing else "
                            "on stdout) or markdown (a plain table)."),
    budget: str = typer.Option(None, "--budget", "-b", help="Budget YAML: per-metric floors by glob on "
                               "layer.probe.target.metric, facts whose change is a regression."),
    alpha: float = typer.Option(0.01, "--alpha", help="Family-wise error rate across all tested metrics (Holm)."),
    store: str = typer.Option(None, "--store", "-s", help="Baseline store for labels (default: $TRIAGE_STORE, else ./baselines)."),
    show_all: bool = typer.Option(False, "--all", "-a", help="Show unchanged metrics too."),
    acks: str = typer.Option(None, "--acks", help="Acks YAML: regressions already filed (glob, label, reason, "
                             "expires, accepted size); they are reported but fail nothing."),
    require_decided: bool = typer.Option(False, "--require-decided", help="Exit 4 (inconclusive) unless every metric "
                                         "either regressed or ruled out a regression past its floors; without it an "
                                         "undecided metric (too few samples, too noisy) is only reported."),
) -> int:
    """Compare two platform versions and say which layer regressed.

    Exit codes: 0 no regression, 3 regression, 4 inconclusive (probes failed or too few
    samples), 2 bad input. Example: triage compare 4.3.18 4.3.19 --budget budgets.yaml
    """
    from triage import engine
    from triage.judging import Judging

    from . import output

    output.check_format(fmt, output.COMPARE_FORMATS)
    env = environment(ctx)
    comparison = engine.compare(baseline, candidate, Judging(store, budget, alpha, require_decided, acks))
    env.out(output.text(env, comparison, fmt, show_all=show_all))
    return int(comparison.exit_status)
