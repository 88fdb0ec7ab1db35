"""`triage repro db` from end to end: refuse what can be refused before any packet, start a
throwaway server (``--embedded``) or use the one named (``--dsn``), build the Quay-like
schema once, run every profile as one side, save the snapshots, clean up."""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from typing import Any, Callable, Iterator, Sequence

from triage.config import Target
from triage.errors import BadInput
from triage.loopback import ALLOW_LOAD_FLAG, require_loopback_or_allowed
from triage.probes.database import relation_rows
from triage.probes.pg_connect import endpoints, scrub
from triage.probes.pg_plan import PlanSummary, plan_relations, summarise_plan

from . import postgres, quay_schema
from .db_profile import DEFAULT_MAX_CONNECTIONS, StormProfile, parse_storm_profile
from .db_report import DbReproReport, DbSide, save_snapshots
from .db_storm import APPLICATION, STEADY_APPLICATION, CONNECT_TIMEOUT_S, StormOptions, run_side
from .progress import ReproProgress, SilentReproProgress
from .snapshot_files import check_save_dir

ROLE = "quay"  # the embedded server's role for the pods: not a superuser, so the reserved slots stay reserved
DATABASE = "quay"
SETUP_APPLICATION = "triage-repro-db-setup"


@dataclass(frozen=True)
class DbTarget:
    """Where the storm goes: the DSN of a server you have, or a throwaway one of our own."""

    dsn: str | None = None
    embedded: bool = False
    allow_load: tuple[str, ...] = ()


def check_load_target(dsn: str, allowed: Sequence[str]) -> None:
    """Every host the DSN names (libpq's defaults where it names none) is loopback, a unix
    socket, or named with --allow-load; BadInput (exit 2) otherwise, before any packet."""
    from psycopg.conninfo import conninfo_to_dict

    try:
        conninfo = conninfo_to_dict(dsn)
    except Exception as exc:  # noqa: BLE001 - psycopg.ProgrammingError: a DSN libpq cannot parse
        raise BadInput(f"--dsn: {scrub(str(exc), Target('repro-db', dsn=dsn))}") from None
    for host, _ in endpoints(conninfo):
        if not host.startswith(("/", "@")):  # a unix socket is this machine
            require_loopback_or_allowed(host, allowed, "--dsn host", allow_with=f"add {ALLOW_LOAD_FLAG} {host}")


def check(profiles: Sequence[StormProfile], target: DbTarget, options: StormOptions) -> None:
    options.validate()
    if bool(target.dsn) == target.embedded:
        raise BadInput("expected --dsn DSN (a server you have) or --embedded (a throwaway one), one of them")
    if target.dsn:
        named = [p.spec for p in profiles if p.max_connections is not None]
        if named:
            raise BadInput(f"profile {named[0]!r}: max_connections needs --embedded; triage never changes the "
                           "settings of a server you name")
        check_load_target(target.dsn, target.allow_load)
    elif postgres.find_bindir() is None:
        raise BadInput("--embedded: PostgreSQL server binaries (initdb, pg_ctl) not found in /usr/lib/postgresql/*/bin "
                       "or on PATH (Debian/Ubuntu: apt-get install postgresql); or name a server with --dsn")


class _Server:
    """The storm's database: its setup/monitor connections and the pods' connect()."""

    def __init__(self, describe: str, admin: Callable[[str], Any], pod_dsn: str, secret_target: Target,
                 embedded: postgres.EmbeddedPostgres | None = None):
        self.describe, self._admin, self.pod_dsn = describe, admin, pod_dsn
        self.secret_target, self.embedded = secret_target, embedded

    def admin(self, application: str = SETUP_APPLICATION) -> Any:
        return self._admin(application)

    def pod(self, application: str, statement_timeout_ms: int) -> Any:
        import psycopg

        options = f"-c search_path={quay_schema.SCHEMA} -c statement_timeout={statement_timeout_ms}"
        return psycopg.connect(self.pod_dsn, application_name=application, autocommit=True,
                               connect_timeout=CONNECT_TIMEOUT_S, options=options)

    def apply(self, profile: StormProfile) -> None:
        """max_connections of an embedded side (a restart when it changes)."""
        if self.embedded is None:
            return
        wanted = str(profile.max_connections or DEFAULT_MAX_CONNECTIONS)
        if self.embedded.settings.get("max_connections") != wanted:
            self.embedded.restart({"max_connections": wanted})


@contextlib.contextmanager
def _embedded(phase: Callable[[str], None]) -> Iterator[_Server]:
    phase("starting a throwaway PostgreSQL (initdb in a temp dir, 127.0.0.1, a free port)")
    try:
        server = postgres.start(settings={"max_connections": str(DEFAULT_MAX_CONNECTIONS)})
    except postgres.PostgresFailed as exc:
        raise BadInput(f"--embedded: the server would not start: {exc}") from None
    try:
        with server.admin() as conn:
            conn.execute(f"CREATE ROLE {ROLE} LOGIN")
            conn.execute(f"CREATE DATABASE {DATABASE} OWNER {ROLE}")
            version = conn.execute("SHOW server_version").fetchone()[0]

        def admin(application: str) -> Any:
            conn = server.admin(DATABASE, application_name=application)
            conn.execute(f"SET ROLE {ROLE}")  # the schema is the pods' role's; the session stays superuser
            return conn

        yield _Server(f"embedded PostgreSQL {version} on {server.host}:{server.port}", admin,
                      f"host={server.host} port={server.port} dbname={DATABASE} user={ROLE}",
                      Target("repro-db", dsn=""), server)
    finally:
        server.stop()


@contextlib.contextmanager
def _named(dsn: str) -> Iterator[_Server]:
    import psycopg

    secret = Target("repro-db", dsn=dsn)

    def admin(application: str) -> Any:
        try:
            return psycopg.connect(dsn, autocommit=True, connect_timeout=5, application_name=application)
        except psycopg.Error as exc:
            raise BadInput(f"--dsn: cannot connect: {scrub(str(exc), secret)}") from None

    yield _Server(scrub(dsn, secret), admin, dsn, secret)


def _build(server: _Server, rows: int, phase: Callable[[str], None]) -> None:
    import psycopg

    phase(f"building {quay_schema.SCHEMA}: manifest, manifestblob, imagestorage at {rows:,} rows each")
    with server.admin() as conn:
        mine = quay_schema.ours(conn)
        if mine is False:
            raise BadInput(f"--dsn: schema {quay_schema.SCHEMA} exists and was not made by triage; drop it or "
                           "name another database")
        try:
            if mine:
                quay_schema.drop(conn)  # left by an interrupted run
            quay_schema.build(conn, rows)
        except psycopg.Error as exc:
            raise BadInput(f"cannot build {quay_schema.SCHEMA}: {scrub(str(exc), server.secret_target)}") from None


def _end_pods(conn: Any) -> None:
    # pg_terminate_backend(pid, timeout) waits for each to exit: nothing of a side outlives it.
    conn.execute("SELECT pg_terminate_backend(pid, 5000) FROM pg_stat_activity WHERE application_name IN (%s, %s)",
                 (APPLICATION, STEADY_APPLICATION))


def _drop(server: _Server) -> None:
    """A named server gets back what it had: our connections ended, our schema gone."""
    if server.embedded is not None:
        return  # the whole server goes
    with contextlib.suppress(Exception), server.admin() as conn:
        _end_pods(conn)
        quay_schema.drop(conn)


def _prepare(server: _Server, profile: StormProfile, options: StormOptions) -> PlanSummary:
    """The profile's index and limit in place; the pods of an earlier side gone; the plan."""
    server.apply(profile)
    with server.admin() as conn:
        _end_pods(conn)  # a side starts with none of the last one's
        quay_schema.set_index(conn, profile.index)
        conn.execute(f"SET search_path = {quay_schema.SCHEMA}")
        key = quay_schema.hot_keys(0, 1, options.rows, options.seed)[0]
        explain = conn.execute(f"EXPLAIN (FORMAT JSON, VERBOSE) {quay_schema.IMAGE_LAYER_FETCH}", key).fetchone()[0]
        rows = relation_rows(conn.cursor(), plan_relations(explain))
    # A table at half the scale or more is one of the big ones.
    return summarise_plan(explain, rows, options.rows // 2)


def run_db_repro(profile_specs: Sequence[str], target: DbTarget, options: StormOptions, *,
                 progress: ReproProgress | None = None, phase: Callable[[str], None] = lambda text: None,
                 snapshot_dir: str | None = None) -> DbReproReport:
    """Every profile as one side of the storm; the report (and the snapshots, when asked)."""
    if not profile_specs:
        raise BadInput("expected a profile (--profile) or two (--compare A B)")
    profiles = [parse_storm_profile(spec) for spec in profile_specs]
    check(profiles, target, options)
    if snapshot_dir:
        check_save_dir(snapshot_dir, "--snapshot-dir")
    progress = progress or SilentReproProgress()
    sides: list[DbSide] = []
    with (_embedded(phase) if target.embedded else _named(target.dsn or "")) as server:
        _build(server, options.rows, phase)
        try:
            for index, profile in enumerate(profiles):
                plan = _prepare(server, profile, options)
                with server.admin("triage-repro-db-monitor") as monitor:
                    storm = run_side(profile, options, monitor=monitor,
                                     connect=lambda app: server.pod(app, int(options.statement_timeout_s * 1000)),
                                     progress=progress, index=index, total=len(profiles))
                sides.append(DbSide(storm, plan))
        finally:
            _drop(server)
        description = server.describe
    report = DbReproReport(description, options, sides)
    if snapshot_dir:
        report.saved = save_snapshots(report, snapshot_dir)
    return report
