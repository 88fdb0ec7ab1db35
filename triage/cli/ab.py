"""`triage ab`: two live platforms, probed interleaved, judged against each other."""

from __future__ import annotations

import typer

from .env import current_environment


def register(app: typer.Typer) -> None:
    app.command("ab")(ab)


def ab(
    baseline: str = typer.Argument(..., help="LABEL=CONFIG of the baseline platform, e.g. 4.3.18=staging-a.yaml."),
    candidate: str = typer.Argument(..., help="LABEL=CONFIG of the candidate platform, e.g. 4.3.19=staging-b.yaml."),
    rounds: int = typer.Option(3, "--rounds", "-r", min=1, max=100, help="Runs per platform, alternating order."),
    layers: str = typer.Option(None, "--layers", help="Comma list of layers (default all)."),
    samples: int = typer.Option(None, "--samples", "-n", min=1, help="Samples per latency probe per run."),
    deadline: float = typer.Option(600.0, "--deadline", min=0.1, help="Seconds each run may take."),
    store: str = typer.Option(None, "--store", "-s", help="Where every run is stored (default $TRIAGE_STORE, else ./baselines)."),
    budget: str = typer.Option(None, "--budget", "-b", help="Budget YAML: per-metric floors by glob."),
    alpha: float = typer.Option(0.01, "--alpha", help="Family-wise error rate across all tested metrics."),
    fmt: str = typer.Option("table", "--format", "-f", help="table, json or markdown (as `triage compare`)."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress."),
) -> int:
    """Probe two live platforms interleaved (A B, B A, A B, …) so drift cancels, store every
    run under its label, and compare them.

    Exit codes as `triage compare`: 0 ok, 3 regression, 4 inconclusive, 2 bad input.
    Example: triage ab 4.3.18=old.yaml 4.3.19=new.yaml --rounds 4 --store baselines
    """
    from triage.config import load_config
    from triage.errors import BadInput
    from triage.interleave import Platform, ab_compare
    from triage.runner import RunOptions, parse_layers
    from triage.store import resolve_store_path

    from .compare import check_format, render_comparison
    from .progress import progress_for

    def platform(spec: str, which: str) -> Platform:
        label, sep, path = spec.partition("=")
        if not sep or not label or not path:
            raise BadInput(f"{which}: expected LABEL=CONFIG (e.g. 4.3.18=old.yaml), got {spec!r}")
        return Platform(label, load_config(path))

    check_format(fmt)
    env = current_environment(quiet=quiet)
    options = RunOptions(layers=parse_layers(layers), deadline_s=deadline, samples=samples)
    say = (lambda text: None) if quiet or fmt == "json" else (lambda text: env.err(f"triage ab: {text}"))
    result = ab_compare(platform(baseline, "BASELINE"), platform(candidate, "CANDIDATE"), options, rounds,
                        store=resolve_store_path(store), budget_path=budget, alpha=alpha,
                        progress=lambda label: progress_for(env, f"probing {label}"), phase=say)
    render_comparison(env, result, fmt, show_all=False)
    return int(result.exit_status)
