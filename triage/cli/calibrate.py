"""`triage calibrate`: floors from the noise this environment actually has."""

from __future__ import annotations

import typer

from .env import environment


def register(app: typer.Typer) -> None:
    app.command("calibrate")(calibrate)


def calibrate(
    ctx: typer.Context,
    label: str = typer.Argument(None, help="Stored label whose runs (at least 3) are measured; or probe now with --runs."),
    runs: int = typer.Option(None, "--runs", min=1, help="Probe this many runs now (at least 3) instead of reading a label."),
    run_label: str = typer.Option("calibration", "--label", "-l", help="With --runs: the label of the runs probed now."),
    save: bool = typer.Option(False, "--save", help="With --runs: store the runs under --label (a baseline to gate against)."),
    out: str = typer.Option(None, "--out", "-o", help="Write the budgets file here (default calibrated-budgets.yaml)."),
    fmt: str = typer.Option("table", "--format", "-f", help="table or json."),
    store: str = typer.Option(None, "--store", "-s", help="Baseline store (default $TRIAGE_STORE, else ./baselines)."),
    alpha: float = typer.Option(0.01, "--alpha", help="Family-wise error rate the floors and detectable sizes are for."),
    config: str = typer.Option(None, "--config", "-c", help="With --runs: config file (default ./triage.yaml if present)."),
    layers: str = typer.Option(None, "--layers", help="With --runs: comma list of layers to probe (default all)."),
    samples: int = typer.Option(None, "--samples", "-n", min=1, help="With --runs: samples per latency probe."),
    deadline: float = typer.Option(600.0, "--deadline", min=0.1, help="With --runs: seconds each run may take."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress."),
) -> int:
    """Measure run-to-run noise per metric and write a budgets file whose floors are that noise.

    Also prints, per metric, the smallest change the current sample sizes can detect and the
    samples needed to detect the floor. Exit 0 when written, 2 on bad input.
    Example: triage calibrate 4.3.18 --out budgets.yaml && triage gate --baseline 4.3.18 --budget budgets.yaml
    """
    from triage import engine
    from triage.judging import Judging
    from triage.runner import RunOptions, parse_layers

    from . import output
    from .progress import progress_for

    output.check_format(fmt, output.VIEW_FORMATS)
    env = environment(ctx)
    options = RunOptions(layers=parse_layers(layers), label=run_label, deadline_s=deadline, samples=samples)
    result = engine.calibrate(label, Judging(store, alpha=alpha), runs=runs, options=options, config_path=config,
                              out=out or engine.CALIBRATED_FILE, save=save,
                              progress=lambda what: progress_for(env, quiet, f"probing {what}"))
    env.out(output.text(env, result, fmt))
    if not quiet and fmt != "json":
        env.err(f"triage: wrote {result.out}")
    return 0
