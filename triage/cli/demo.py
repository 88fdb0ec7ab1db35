"""`triage demo`: the 4.3.18 vs 4.3.19 DNS hunt on loopback, no cluster needed."""

from __future__ import annotations

import typer

from .env import environment


def register(app: typer.Typer) -> None:
    app.command("demo")(demo)


def demo(
    ctx: typer.Context,
    store: str = typer.Option(None, "--store", "-s", help="Keep the demo's baselines here (default: a new temp dir)."),
    report: str = typer.Option("triage-report.md", "--report", "-o", help="Where to write the Markdown report."),
    rounds: int = typer.Option(3, "--rounds", min=1, max=20, help="Interleaved probe rounds per platform."),
    samples: int = typer.Option(60, "--samples", "-n", min=8, max=5000, help="Samples per latency probe per round."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="Only the verdict and the report path."),
    load: bool = typer.Option(False, "--load", help="Then ramp both platforms (dns, app): 4.3.19's slower DNS cuts the app's capacity."),
) -> int:
    """Run the DNS hunt end to end: two embedded platforms, probe, store, compare, report.

    "4.3.18" has healthy DNS; "4.3.19" adds 3 ms of DNS delay and loses 1% of AAAA queries.
    Exits 0 when the triage names dns as root suspect and app as downstream (with --load:
    downstream by a fall of its capacity).
    """
    from triage import engine

    from . import output
    from .progress import progress_for

    env = environment(ctx)
    say = (lambda text: None) if quiet else (lambda text: env.err(f"triage demo: {text}"))
    result = engine.demo(store=store, rounds=rounds, samples=samples, report_path=report,
                         progress=lambda label: progress_for(env, quiet, f"probing {label}"), phase=say,
                         clock=env.clock, load=load)
    c = result.comparison
    if not quiet:
        env.out(output.text(env, c, "table"))
    roots = ", ".join(c.root_layers) or "none"
    env.out(f"demo verdict: {c.verdict}; root suspect: {roots} "
            f"({'as expected' if result.named_dns else 'NOT the expected dns'}); "
            f"report {result.report}; took {result.elapsed_s:.0f}s")
    if not quiet:
        env.out("\nNext, try:\n" + "\n".join(f"  {command}" for command in result.next_steps))
    return result.exit_status
