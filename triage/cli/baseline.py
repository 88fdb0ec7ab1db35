"""`triage baseline ...`: the git-versioned store of snapshots per platform label."""

from __future__ import annotations

import json

import typer

from .env import environment

baseline_app = typer.Typer(help="Store, list and inspect baseline snapshots (a git-versioned directory).",
                           no_args_is_help=True)

STORE_HELP = "Baseline store: a directory or a git URL (default $TRIAGE_STORE, else ./baselines)."


def register(app: typer.Typer) -> None:
    app.add_typer(baseline_app, name="baseline")


def _store(path: str | None):
    from triage.store_remote import open_store

    return open_store(path)


@baseline_app.command("save")
def save(ctx: typer.Context,
         label: str = typer.Argument(..., help="Platform label, e.g. 4.3.18."),
         file: str = typer.Argument(..., help="Snapshot JSON written by `triage probe --out`."),
         store: str = typer.Option(None, "--store", "-s", help=STORE_HELP)) -> None:
    """Validate FILE and store it as a run of LABEL (one git commit)."""
    run = _store(store).save(label, file)
    environment(ctx).out(f"saved {run.label} run {run.run_id} → {run.path}")


@baseline_app.command("list")
def list_(ctx: typer.Context,
          store: str = typer.Option(None, "--store", "-s", help=STORE_HELP)) -> None:
    """Labels in the store and how many runs each keeps."""
    s = _store(store)
    env = environment(ctx)
    labels = s.labels()
    if not labels:
        env.err(f"triage: store {s.root} holds no baselines yet (triage baseline save LABEL FILE)")
    for label in labels:
        runs = s.runs(label)
        env.out(f"{label}\t{len(runs)} run{'s' if len(runs) != 1 else ''}\t" + " ".join(r.run_id for r in runs))


@baseline_app.command("show")
def show(ctx: typer.Context,
         label: str = typer.Argument(..., help="Platform label, e.g. 4.3.18."),
         store: str = typer.Option(None, "--store", "-s", help=STORE_HELP),
         fmt: str = typer.Option("table", "--format", "-f", help="table or json (a JSON list of the runs)."),) -> None:
    """Show every run of LABEL."""
    from . import output

    output.check_format(fmt, output.VIEW_FORMATS)
    snapshots = _store(store).load_label(label)
    env = environment(ctx)
    if fmt == "json":
        env.out(json.dumps([s.to_dict() for s in snapshots], sort_keys=True))
        return
    for snap in snapshots:
        env.out(output.text(env, snap, "table"))


@baseline_app.command("history")
def history(ctx: typer.Context,
            label: str = typer.Argument(..., help="Platform label, e.g. 4.3.18."),
            store: str = typer.Option(None, "--store", "-s", help=STORE_HELP)) -> None:
    """Git history of LABEL: who saved or removed which run, when."""
    env = environment(ctx)
    for entry in _store(store).history(label):
        env.out(f"{entry.commit}  {entry.when}  {entry.message}")


@baseline_app.command("rm")
def rm(ctx: typer.Context,
       label: str = typer.Argument(..., help="Platform label, e.g. 4.3.18."),
       store: str = typer.Option(None, "--store", "-s", help=STORE_HELP)) -> None:
    """Remove LABEL and all its runs (recorded as a git commit; recoverable from history)."""
    n = _store(store).remove(label)
    environment(ctx).out(f"removed {label} ({n} run{'s' if n != 1 else ''})")
