"""`triage gate`: the CI step. Probe now, judge against a stored baseline, exit with the verdict."""

from __future__ import annotations

import typer

from .env import environment


def register(app: typer.Typer) -> None:
    app.command("gate")(gate)


def gate(
    ctx: typer.Context,
    baseline: str = typer.Option(None, "--baseline", help="Stored label to judge against, e.g. 4.3.18 (required, except with --from prometheus --window upgrade:VERSION)."),
    store: str = typer.Option(None, "--store", "-s", help="Baseline store: a directory or a git URL (default $TRIAGE_STORE, else ./baselines)."),
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
    require_decided: bool = typer.Option(False, "--require-decided", help="Exit 4 (inconclusive) unless every metric "
                                         "either regressed or ruled out a regression past its floors; without it an "
                                         "undecided metric (too few samples, too noisy) is only reported."),
    acks: str = typer.Option(None, "--acks", help="Acks YAML: regressions already filed (glob, label, reason, "
                             "expires, accepted size); they are reported but do not fail the gate."),
    load: bool = typer.Option(False, "--load", help="After the probes, ramp load per target (load: in triage.yaml), as the baseline was."),
    allow_load: str = typer.Option(None, "--allow-load", help="HOST[,HOST]: hosts beyond loopback that --load may send load to."),
    until_decided: bool = typer.Option(False, "--until-decided", help="While metrics stay undecided, probe again "
                                       "only the probes behind them (within --deadline), α spent across the rounds."),
    max_rounds: int = typer.Option(None, "--max-rounds", help="With --until-decided: rounds in all, the first "
                                   "included (default 4; 1 to 10)."),
) -> int:
    """Gate an upgrade in CI: probe this platform, compare with the baseline, exit 0/3/4.

    Writes the Markdown report and appends it to $GITHUB_STEP_SUMMARY when set.
    Example: triage gate --baseline 4.3.18 --label 4.3.19 --junit junit.xml --save-as 4.3.19
    """
    from triage import engine
    from triage.errors import BadInput
    from triage.judging import Judging
    from triage.loopback import parse_allow_load
    from triage.rerun import REPORT_FILE
    from triage.runner import RunOptions, parse_layers
    from triage.sequential import DEFAULT_ROUNDS

    from .progress import progress_for

    env = environment(ctx)
    judging = Judging(store, budget, alpha, require_decided, acks)
    if max_rounds is not None and not until_decided:
        raise BadInput("--max-rounds: only with --until-decided")
    rounds = (DEFAULT_ROUNDS if max_rounds is None else max_rounds) if until_decided else None
    if source != "probes" or window or before_upgrade:
        engine.check_rounds(rounds, probing=False)
        from .prometheus import gate_from_prometheus

        result = gate_from_prometheus(env, source, window, before_upgrade, baseline=baseline, label=label,
                                      config=config, judging=judging, save_as=save_as, deadline=deadline,
                                      quiet=quiet, report=report or REPORT_FILE, junit=junit)
        return _verdict(env, result, quiet)
    if baseline is None:
        raise BadInput("--baseline: required (a stored label, e.g. 4.3.18)")
    options = RunOptions(layers=parse_layers(layers), label=label, deadline_s=deadline, samples=samples, load=load,
                         allow_load=parse_allow_load(allow_load))
    result = engine.gate(baseline, options, judging, config_path=config, save_as=save_as,
                         layers_given=layers is not None,
                         report_path=report or REPORT_FILE,
                         junit_path=junit, step_summary=env.step_summary, progress=progress_for(env, quiet),
                         max_rounds=rounds)
    return _verdict(env, result, quiet)


def _verdict(env, result, quiet: bool) -> int:
    from triage.report.inert import terminal

    c = result.comparison
    roots = [layer for layer in c.root_layers if not c.acknowledged_layer(layer)]
    env.out(terminal(f"triage gate: {c.verdict}" + (f" (root suspect: {', '.join(roots)})" if roots else "")
                     + f" — {c.reason}"))
    if c.rounds is not None:
        env.out(terminal(f"rounds: {c.rounds.summary(c.alpha)}"))
    if not quiet:
        saved = " ".join(run.run_id for run in result.saved)
        env.err(f"triage: report {result.report}" + (f", junit {result.junit}" if result.junit else "")
                + (f"; saved run{'s' if len(result.saved) > 1 else ''} {saved} as {result.saved[0].label}"
                   if result.saved else ""))
    return int(c.exit_status)
