"""`triage gate`: the CI step. Probe now, judge against a stored baseline, exit with the verdict."""

from __future__ import annotations

import os

import typer

from .env import current_environment


def register(app: typer.Typer) -> None:
    app.command("gate")(gate)


def gate(
    baseline: str = typer.Option(None, "--baseline", help="Stored label to judge against, e.g. 4.3.18 (required, except with --from prometheus --window upgrade:VERSION)."),
    store: str = typer.Option(None, "--store", "-s", help="Baseline store (default $TRIAGE_STORE, else ./baselines)."),
    config: str = typer.Option(None, "--config", "-c", help="Config file (default ./triage.yaml if present)."),
    budget: str = typer.Option(None, "--budget", "-b", help="Budget YAML: per-metric floors by glob."),
    alpha: float = typer.Option(0.01, "--alpha", help="Family-wise error rate across all tested metrics."),
    label: str = typer.Option("candidate", "--label", "-l", help="Label of this run (e.g. 4.3.19; 'auto': the platform version the kubernetes probes find)."),
    layers: str = typer.Option(None, "--layers", help="Layers to probe (default: those the baseline has)."),
    samples: int = typer.Option(None, "--samples", "-n", min=1, help="Samples per latency probe (overrides config)."),
    deadline: float = typer.Option(600.0, "--deadline", min=0.1, help="Seconds the probe run may take."),
    junit: str = typer.Option(None, "--junit", help="Also write JUnit XML here (one testcase per metric)."),
    report: str = typer.Option(None, "--report", help="Write the Markdown report here (default triage-report.md)."),
    save_as: str = typer.Option(None, "--save-as", help="Store this run under LABEL when the gate passes."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="Only the verdict line."),
    source: str = typer.Option("probes", "--from", help="probes: probe now; prometheus: judge what monitoring recorded in --window."),
    window: str = typer.Option(None, "--window", help="With --from prometheus: START/DURATION, DURATION ending now (1h), upgrade:VERSION[/DURATION] (without --baseline: against the same span before the rollout)."),
    before_upgrade: str = typer.Option(None, "--before-upgrade", help="With --from prometheus: judge the last 2h (or --window DURATION) before the rollout to VERSION."),
) -> int:
    """Gate an upgrade in CI: probe this platform, compare with the baseline, exit 0/3/4.

    Writes the Markdown report and appends it to $GITHUB_STEP_SUMMARY when set.
    Example: triage gate --baseline 4.3.18 --label 4.3.19 --junit junit.xml --save-as 4.3.19
    """
    import shlex

    from triage.config import load_config
    from triage.errors import BadInput
    from triage.fileio import atomic_write_text
    from triage.gate import run_gate
    import dataclasses

    from triage.report import RenderOptions, render
    from triage.runner import RunOptions, parse_layers

    from .progress import progress_for

    env = current_environment(quiet=quiet)
    if source != "probes" or window or before_upgrade:
        from .prometheus import gate_from_prometheus

        result = gate_from_prometheus(env, source, window, before_upgrade, baseline=baseline, label=label,
                                      config=config, store=store, budget=budget, alpha=alpha, save_as=save_as,
                                      deadline=deadline, quiet=quiet)
        picked = "".join(f" {k} {shlex.quote(v)}" for k, v in (("--window", window), ("--before-upgrade", before_upgrade),
                                                                  ("--baseline", baseline)) if v)
        head = f"triage gate --from prometheus{picked}"
    else:
        if baseline is None:
            raise BadInput("--baseline: required (a stored label, e.g. 4.3.18)")
        options = RunOptions(layers=parse_layers(layers), label=label, deadline_s=deadline, samples=samples)
        result = run_gate(load_config(config), baseline, options, store=store, budget_path=budget, alpha=alpha,
                          save_as=save_as, layers_given=layers is not None, progress=progress_for(env))
        head = f"triage gate --baseline {shlex.quote(baseline)}"
    flags = "".join(f" {k} {shlex.quote(v)}" for k, v in (("--store", store), ("--config", config), ("--budget", budget))
                    if v)
    commands = (f"{head} --label {shlex.quote(label)}{flags}",)
    c = dataclasses.replace(result.comparison, commands=commands)
    markdown = render(c, "markdown", RenderOptions(full_report=True))
    report_path = report or "triage-report.md"
    atomic_write_text(report_path, markdown)
    if junit:
        atomic_write_text(junit, render(c, "junit"))
    summary = os.environ.get("GITHUB_STEP_SUMMARY")
    if summary:
        with open(summary, "a", encoding="utf-8") as fh:
            fh.write(markdown + "\n")
    roots = [s.layer for s in c.suspects if s.role == "root"]
    line = f"triage gate: {c.verdict}" + (f" (root suspect: {', '.join(roots)})" if roots else "") + f" — {c.reason}"
    env.out(line)
    if not quiet:
        env.err(f"triage: report {report_path}" + (f", junit {junit}" if junit else "")
                + (f"; saved run {result.saved.run_id} as {result.saved.label}" if result.saved else ""))
    return int(c.exit_status)
