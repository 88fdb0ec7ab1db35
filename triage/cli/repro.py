"""`triage repro dns` (and `repro dns serve`) and `triage repro db`: the built-in reproducers of
the 2020 DNS hunt and of the 2021 cold-cache storm."""

from __future__ import annotations

from typing import List, Optional, Tuple

import typer

from triage.loopback import ALLOW_LOAD_FLAG, EXPOSE_FLAG, parse_allow_load

from .env import environment

repro_app = typer.Typer(help="Built-in reproducers of the incidents triage was built from.", no_args_is_help=True)
dns_app = typer.Typer(help="DNS slowness: an app-like workload against a DNS fault profile, or the fault server alone.")

PROFILE_HELP = ("Fault profile: a spec like 'delay=3ms,jitter=1ms,drop=2%:AAAA' or a YAML file; 'healthy' is none. "
                "Keys: delay, jitter[=pareto:], drop[=N%:QTYPE], aaaa-blackhole, search-nxdomain[=MS], servfail=N%, "
                "truncate, overload=N[:servfail], clash[=MS], neg-ttl, cold-cache[=MS], seed; client: ndots, search, "
                "timeout, attempts.")


DB_PROFILE_HELP = ("Storm profile: a comma list or a YAML file of with-index (default), without-index (the composite "
                   "index dropped), pods=N (10), pool=M (10), max_connections=K (50; --embedded only).")


def register(app: typer.Typer) -> None:
    repro_app.add_typer(dns_app, name="dns")
    repro_app.command("db")(db)
    app.add_typer(repro_app, name="repro")


@dns_app.callback(invoke_without_command=True)
def dns(
    ctx: typer.Context,
    profile: str = typer.Option("healthy", "--profile", "-p", help=PROFILE_HELP),
    compare: Optional[Tuple[str, str]] = typer.Option(None, "--compare", metavar="A B",
                                                      help="Run two profiles side by side, e.g. --compare healthy 'delay=3ms,drop=1%:AAAA'."),
    names: str = typer.Option(",".join(("db.quay.svc", "cache.quay.svc", "storage.quay.svc")), "--names",
                              help="Comma list of the backend names each request resolves (K = how many)."),
    workers: int = typer.Option(16, "--workers", "-w", help="Worker threads serving requests (W)."),
    pool: int = typer.Option(8, "--pool", help="Connection pool size (P); a request holds one throughout."),
    hold_ms: float = typer.Option(20.0, "--hold-ms", help="Work per request with the connection held (D), ms."),
    rate: float = typer.Option(200.0, "--rate", help="Requests per second arriving (open loop); 0: closed loop."),
    duration: float = typer.Option(10.0, "--duration", "-d", help="Seconds per side."),
    max_queries: int = typer.Option(200_000, "--max-queries", help="Stop a side after about this many DNS queries."),
    path: str = typer.Option("auto", "--path", help="auto, libc (glibc in a private namespace) or wire (dnspython stub)."),
    resolver: str = typer.Option(None, "--resolver", help="Aim at a real resolver IP[:port] instead of the embedded server."),
    system: bool = typer.Option(False, "--system", help="Aim at this machine's own resolver configuration."),
    fmt: str = typer.Option("table", "--format", "-f", help="table or json (JSON and nothing else on stdout)."),
    save_snapshots: str = typer.Option(None, "--save-snapshots", help="Write each side as a v1 snapshot into DIR, for `triage compare`."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress, no notes on stderr."),
) -> None:
    """Run an app-like workload (W workers; each request holds a pooled connection, resolves K
    names, works D ms) against one DNS fault profile, or two side by side with --compare.

    Example: triage repro dns --compare healthy 'delay=3ms,drop=1%:AAAA' --duration 5
    """
    if ctx.invoked_subcommand is not None:
        return
    from triage import engine
    from triage.repro.dns_workload import WorkloadOptions

    from . import output
    from .progress import RichReproProgress

    output.check_format(fmt, output.VIEW_FORMATS)
    env = environment(ctx)
    options = WorkloadOptions(names=tuple(n.strip() for n in names.split(",") if n.strip()), workers=workers,
                              pool_size=pool, hold_ms=hold_ms, rate=rate, duration_s=duration,
                              max_queries=max_queries, path=path, resolver=resolver, system=system)
    progress = RichReproProgress(env) if env.watched(quiet) else None
    report = engine.repro_dns(list(compare) if compare else [profile], options, progress=progress,
                              save_dir=save_snapshots)
    env.out(output.text(env, report, fmt))
    if not quiet:
        if fmt == "json":
            env.err(f"triage: path {report.path}: {report.path_detail}")
        for written in report.saved:
            env.err(f"triage: wrote {written}")


@dns_app.command("serve")
def serve(
    ctx: typer.Context,
    profile: str = typer.Option("healthy", "--profile", "-p", help=PROFILE_HELP),
    port: int = typer.Option(5353, "--port", help="UDP and TCP port (0: any free one)."),
    bind: str = typer.Option("127.0.0.1", "--bind", help="Address to listen on (loopback unless confirmed)."),
    names: List[str] = typer.Option([], "--name", help="A configured name (repeatable); every other name answers too."),
    exposed: bool = typer.Option(False, EXPOSE_FLAG,
                                 help="Confirm that a non-loopback --bind is meant: anyone who can reach it gets answers."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="Only the address line; no stats at exit."),
) -> None:
    """Serve the synthetic zone with a fault profile in the foreground until Ctrl-C.

    Example: triage repro dns serve --profile delay=5ms --port 5353
    """
    from triage import engine

    env = environment(ctx)

    def announce(server) -> None:
        env.out(f"serving DNS on {server.address} (UDP and TCP), profile {server.profile.spec}; Ctrl-C stops")

    stats = engine.serve_dns(profile, names=names, bind=bind, port=port, exposed=exposed, announce=announce)
    if not quiet:
        dropped = ", ".join(f"{k} {v}" for k, v in sorted(stats["dropped_by_reason"].items())) or "none"
        env.err(f"triage: stopped after {stats['queries']} queries (answered {stats['answered']}, "
                f"nxdomain {stats['nxdomain']}, servfail {stats['servfail']}, truncated {stats['truncated']}, "
                f"dropped {stats['dropped']}: {dropped})")


def db(
    ctx: typer.Context,
    profile: str = typer.Option("with-index", "--profile", "-p", help=DB_PROFILE_HELP),
    compare: Optional[Tuple[str, str]] = typer.Option(
        None, "--compare", metavar="A B", help="Run two profiles, e.g. --compare with-index without-index."),
    dsn: str = typer.Option(None, "--dsn", help="A PostgreSQL server you have (the schema triage_repro is built there "
                                                "and dropped at the end; it takes up to pods x pool connections)."),
    embedded: bool = typer.Option(False, "--embedded", help="Start a throwaway PostgreSQL (initdb in a temp dir, "
                                                            "127.0.0.1, a free port; removed afterwards)."),
    rows: int = typer.Option(200_000, "--rows", help="Rows of manifest, manifestblob and imagestorage each."),
    duration: float = typer.Option(20.0, "--duration", "-d", help="Seconds per side at most (a side ends "
                                                                  "earlier once every pod is warm)."),
    rate: float = typer.Option(30.0, "--rate", help="Image pulls per second arriving at each pod (open loop)."),
    keys: int = typer.Option(60, "--keys", help="Hot image layers per pod: what its cold cache must fetch."),
    allow_load: str = typer.Option("", ALLOW_LOAD_FLAG, metavar="HOST[,HOST]",
                                   help="Hosts of --dsn that may take the load; loopback otherwise."),
    fmt: str = typer.Option("table", "--format", "-f", help="table or json (JSON and nothing else on stdout)."),
    snapshot_dir: str = typer.Option(None, "--snapshot-dir", help="Write each side as a v1 snapshot into DIR, "
                                                                  "for `triage compare`."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress, no notes on stderr."),
) -> None:
    """The 2021 cold-cache storm: N pods restart at once, each opening its pool and warming its
    cache with the image-layer-fetch query while steady traffic goes on, against a Quay-like
    schema; connections against max_connections, latency, errors and time to warm, over time.

    Example: triage repro db --embedded --compare with-index without-index --snapshot-dir storm
    """
    from triage import engine
    from triage.repro.db_repro import DbTarget
    from triage.repro.db_storm import StormOptions

    from . import output
    from .progress import RichReproProgress

    output.check_format(fmt, output.VIEW_FORMATS)
    env = environment(ctx)
    watched = env.watched(quiet)
    allowed = parse_allow_load(allow_load)
    target = DbTarget(dsn=dsn, embedded=embedded, allow_load=allowed)
    report = engine.repro_db(list(compare) if compare else [profile], target,
                             StormOptions(rows=rows, duration_s=duration, rate=rate, keys=keys),
                             progress=RichReproProgress(env) if watched else None,
                             phase=(lambda text: env.err(f"triage: {text}")) if watched else (lambda text: None),
                             snapshot_dir=snapshot_dir)
    env.out(output.text(env, report, fmt))
    if not quiet:
        for written in report.saved:
            env.err(f"triage: wrote {written}")
