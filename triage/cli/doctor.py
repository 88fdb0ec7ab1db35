"""`triage doctor`: which layers can run here, and what each one lacks."""

from __future__ import annotations

import typer

from .env import environment


def register(app: typer.Typer) -> None:
    app.command("doctor")(doctor)


def doctor(
    ctx: typer.Context,
    config: str = typer.Option(None, "--config", "-c", help="Config file (default ./triage.yaml if present, else "
                               "built-in defaults)."),
    kubeconfig: str = typer.Option(None, "--kubeconfig", help="Kubeconfig for the kubernetes layer (default: "
                                   "kubernetes.kubeconfig, $KUBECONFIG)."),
    context: str = typer.Option(None, "--context", help="Kubeconfig context (default: the kubeconfig's current "
                                "context)."),
) -> int:
    """Say, one line per layer, whether it can run here and what it lacks, with the fix;
    and what --load would ramp (how long, and which hosts need --allow-load).

    Read-only and fast: every request has a timeout. Kubernetes RBAC comes from
    SelfSubjectAccessReviews of exactly what the probes read. Exit 0 when every configured
    layer can run, 4 when some cannot, 2 on a bad config.
    """
    from triage import engine
    from triage.report import inert

    env = environment(ctx)
    result = engine.doctor(config_path=config, kubeconfig=kubeconfig, context=context)
    env.out(inert.terminal(f"triage doctor: {result.source}"))
    for finding in result.findings:  # servers' error text is in them: shown, never run
        env.out(inert.terminal(finding.line()))
    return result.exit_status
