"""`triage changes`: what changed between two versions, layer by layer (it judges nothing)."""

from __future__ import annotations

import typer

from .env import environment


def register(app: typer.Typer) -> None:
    app.command("changes")(changes)


def changes(
    ctx: typer.Context,
    baseline: str = typer.Argument(..., help="Baseline: a snapshot file, or a stored label (its newest run)."),
    candidate: str = typer.Argument(..., help="Candidate: a snapshot file, or a stored label."),
    fmt: str = typer.Option("table", "--format", "-f", help="table (terminal), markdown, or json (nothing else on "
                            "stdout)."),
    budget: str = typer.Option(None, "--budget", "-b", help="Budget YAML whose changes: section places packages "
                               "and components in layers (before the built-in table)."),
    store: str = typer.Option(None, "--store", "-s", help="Baseline store for labels (default: $TRIAGE_STORE, else ./baselines)."),
) -> int:
    """List the packages, changelog entries and platform components that changed, by layer.

    Exit codes: 0 (it judges nothing), 2 bad input. Example: triage changes 4.3.18 4.3.19
    """
    from triage import engine

    from . import output

    output.check_format(fmt, output.CHANGES_FORMATS)
    env = environment(ctx)
    env.out(output.text(env, engine.changes(baseline, candidate, store=store, budget_path=budget), fmt))
    return 0
