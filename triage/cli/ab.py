"""`triage ab`: two live platforms, probed interleaved, judged against each other."""

from __future__ import annotations

import typer

from triage.errors import BadInput

from .env import environment


def register(app: typer.Typer) -> None:
    app.command("ab")(ab)


def platform_spec(spec: str, which: str) -> tuple[str, str]:
    """``LABEL=CONFIG`` -> (label, config path)."""
    label, sep, path = spec.partition("=")
    if not sep or not label or not path:
        raise BadInput(f"{which}: expected LABEL=CONFIG (e.g. 4.3.18=old.yaml), got {spec!r}")
    return label, path


def ab(
    ctx: typer.Context,
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
    load: bool = typer.Option(False, "--load", help="After the rounds, ramp each platform once (load: in their configs)."),
    allow_load: str = typer.Option(None, "--allow-load", help="HOST[,HOST]: hosts beyond loopback that --load may send load to."),
) -> int:
    """Probe two live platforms interleaved (A B, B A, A B, …) so drift cancels, store every
    run under its label, and compare them.

    Exit codes as `triage compare`: 0 ok, 3 regression, 4 inconclusive, 2 bad input.
    Example: triage ab 4.3.18=old.yaml 4.3.19=new.yaml --rounds 4 --store baselines
    """
    from triage import engine
    from triage.judging import Judging
    from triage.loopback import parse_allow_load
    from triage.runner import RunOptions, parse_layers

    from . import output
    from .progress import progress_for

    sides = platform_spec(baseline, "BASELINE"), platform_spec(candidate, "CANDIDATE")
    output.check_format(fmt, output.COMPARE_FORMATS)
    env = environment(ctx)
    options = RunOptions(layers=parse_layers(layers), deadline_s=deadline, samples=samples, load=load,
                         allow_load=parse_allow_load(allow_load))
    say = (lambda text: None) if quiet or fmt == "json" else (lambda text: env.err(f"triage ab: {text}"))
    comparison = engine.ab(*sides, options, rounds, Judging(store, budget, alpha),
                           progress=lambda label: progress_for(env, quiet, f"probing {label}"), phase=say)
    env.out(output.text(env, comparison, fmt))
    return int(comparison.exit_status)
