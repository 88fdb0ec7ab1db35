"""`triage init`: write a commented triage.yaml from what this machine shows."""

from __future__ import annotations

import typer

from .env import environment


def register(app: typer.Typer) -> None:
    app.command("init")(init)


def init(
    ctx: typer.Context,
    path: str = typer.Argument("triage.yaml", help="Where to write the config (default ./triage.yaml)."),
    force: bool = typer.Option(False, "--force", help="Replace an existing file (atomically) instead of refusing."),
    prometheus: str = typer.Option(None, "--prometheus", help="A Prometheus (or Thanos querier) base URL to read "
                                   "recorded history from: written as prometheus.url."),
) -> int:
    """Start a triage.yaml from what this machine shows: resolv.conf, the kubeconfig, a local
    PostgreSQL, and commented templates for what it cannot see (app endpoints, queries).

    Reads only; connects nowhere. Refuses to overwrite an existing file (exit 2) unless --force.
    Example: triage init --prometheus https://thanos-querier.openshift-monitoring.svc:9091
    """
    from triage import engine

    env = environment(ctx)
    result = engine.init(path, force=force, prometheus=prometheus)
    env.out(f"wrote {result.path}:")
    for line in result.seen:
        env.out(f"  {line}")
    env.out(f"next: {result.next_command}")
    return 0
