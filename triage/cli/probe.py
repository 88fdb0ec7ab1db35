"""`triage probe`: run the probes, write a Snapshot."""

from __future__ import annotations

import typer

from .env import environment


def register(app: typer.Typer) -> None:
    app.command("probe")(probe)


def probe(
    ctx: typer.Context,
    label: str = typer.Option("unlabelled", "--label", "-l", help="Platform version this run describes, e.g. 4.3.19; 'auto': the version the kubernetes probes find."),
    out: str = typer.Option(None, "--out", "-o", help="Write the snapshot JSON here (atomically)."),
    fmt: str = typer.Option("table", "--format", "-f", help="table: a summary on stdout; json: the snapshot and nothing else."),
    layers: str = typer.Option(None, "--layers", help="Comma list of layers: kernel,dns,kubernetes,database,app (default all)."),
    config: str = typer.Option(None, "--config", "-c", help="Config file (default ./triage.yaml if present, else built-in defaults)."),
    samples: int = typer.Option(None, "--samples", "-n", min=1, help="Samples per latency probe (overrides config)."),
    deadline: float = typer.Option(600.0, "--deadline", min=0.1, help="Seconds the whole run may take; probes still running then are recorded as errors."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress, no summary on stderr."),
    kubeconfig: str = typer.Option(None, "--kubeconfig", help="Kubeconfig for the kubernetes layer (default: kubernetes.kubeconfig, $KUBECONFIG)."),
    context: str = typer.Option(None, "--context", help="Kubeconfig context (default: the kubeconfig's current context)."),
    source: str = typer.Option("probes", "--from", help="probes: measure now; prometheus: read what monitoring recorded (prometheus: in triage.yaml)."),
    window: str = typer.Option(None, "--window", help="With --from prometheus: START/DURATION (2026-11-20T10:00Z/2h), DURATION ending now (1h), upgrade:VERSION[/DURATION]."),
    before_upgrade: str = typer.Option(None, "--before-upgrade", help="With --from prometheus: the last 2h (or --window DURATION) before the rollout to VERSION started."),
    load: bool = typer.Option(False, "--load", help="After the probes, ramp load per app, dns and database target (load: in triage.yaml) and record capacity."),
    allow_load: str = typer.Option(None, "--allow-load", help="HOST[,HOST]: hosts beyond loopback that --load may send load to."),
) -> None:
    """Run layered probes against this platform and record a snapshot.

    Exits 0 whenever the snapshot was written: probe errors are recorded inside it and
    summarised on stderr. Example: triage probe --label 4.3.19 --out after.json
    """
    from triage import engine
    from triage.loopback import parse_allow_load
    from triage.runner import RunOptions, parse_layers

    from . import output
    from .progress import progress_for

    output.check_format(fmt, output.VIEW_FORMATS)
    env = environment(ctx)
    if source != "probes" or window or before_upgrade:
        from .prometheus import probe_from_prometheus

        return probe_from_prometheus(env, source, window, before_upgrade, label=label, out=out, fmt=fmt, quiet=quiet,
                                     config=config, kubeconfig=kubeconfig, context=context, deadline=deadline)
    options = RunOptions(layers=parse_layers(layers), label=label, deadline_s=deadline, samples=samples, load=load,
                         allow_load=parse_allow_load(allow_load))
    run = engine.probe(options, config_path=config, kubeconfig=kubeconfig, context=context, out=out,
                       progress=progress_for(env, quiet))
    if fmt == "json" or not (quiet and out):  # json: the snapshot is the output, even with --quiet
        env.out(output.text(env, run.snapshot, fmt))
    if not quiet:
        for line in run.problems:
            env.err(f"triage: {line}")
        if out:
            env.err(f"triage: wrote {out} ({run.counts})")
    if run.snapshot.extra.get("load_interrupted"):
        env.err(f"triage: load stopped by Ctrl-C ({run.snapshot.extra['load_interrupted']}); the snapshot records "
                "the steps completed")
