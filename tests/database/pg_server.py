"""A real PostgreSQL for the database tests, started by triage.repro.postgres (initdb +
pg_ctl in a temp dir) and seeded here.

The server listens on 127.0.0.1 on a free port with its unix socket in the temp dir, runs
as ``nobody`` when the tests run as root (postgres refuses root), and authenticates TCP
clients with scram-sha-256, so a real password travels and its masking is really tested.

Seeded like the 2021 incident: ``manifest`` and ``manifest_blob`` (200k rows each), joined
by a query that uses the composite index ``manifest_blob_repo_manifest``; dropping that
index flips the plan to a sequential scan of ``manifest_blob``.
"""

from __future__ import annotations

import contextlib
from typing import Iterator

from triage.repro import postgres

PASSWORD = "Pl4n-Fl1p-s3cret-7c2e"  # distinctive, so a grep for it means something
ROLE = "quay"
DATABASE = "quay"
PLAIN_DATABASE = "quay_plain"  # no pg_stat_statements extension in this one
ROWS = 200_000
COMPOSITE_INDEX = "manifest_blob_repo_manifest"

CRITICAL_QUERY = (
    "SELECT b.blob_digest, b.size FROM manifest m "
    "JOIN manifest_blob b ON b.repository_id = m.repository_id AND b.manifest_id = m.id "
    "WHERE m.repository_id = 42 AND m.digest = 'sha256:0000042'"
)

SCHEMA = f"""
CREATE TABLE manifest (
    id bigint PRIMARY KEY,
    repository_id int NOT NULL,
    digest text NOT NULL
);
CREATE TABLE manifest_blob (
    id bigint PRIMARY KEY,
    repository_id int NOT NULL,
    manifest_id bigint NOT NULL,
    blob_digest text NOT NULL,
    size bigint NOT NULL
);
INSERT INTO manifest SELECT g, g % 1000, 'sha256:' || lpad(g::text, 7, '0') FROM generate_series(1, {ROWS}) g;
INSERT INTO manifest_blob SELECT g, (g % {ROWS} + 1) % 1000, g % {ROWS} + 1, md5(g::text), g * 7
    FROM generate_series(1, {ROWS}) g;
CREATE UNIQUE INDEX manifest_repo_digest ON manifest (repository_id, digest);
CREATE INDEX {COMPOSITE_INDEX} ON manifest_blob (repository_id, manifest_id);
ANALYZE manifest;
ANALYZE manifest_blob;
"""


class PostgresServer(postgres.EmbeddedPostgres):
    """The session's server (triage/repro/postgres.py's), with the test role's DSNs."""

    def dsn(self, *, password: str | None = PASSWORD, database: str = DATABASE, form: str = "url") -> str:
        """How a user writes it in triage.yaml: URL or libpq key=value, with or without password."""
        if form == "url":
            return self.tcp_dsn(ROLE, database, password)
        pw = f" password='{password}'" if password is not None else ""
        return f"host=127.0.0.1 port={self.port} dbname={database} user={ROLE}{pw}"

    def admin(self, database: str = DATABASE, **kwargs):
        """A superuser connection over the unix socket (trust), for setup and DROP INDEX."""
        return super().admin(database, **kwargs)


def start() -> PostgresServer:
    """Start (triage.repro.postgres) and seed a server; FileNotFoundError without the binaries."""
    server = postgres.start(settings={"max_connections": "40", "log_connections": "on"}, auth_host="scram-sha-256",
                            superuser_password="unused-superuser-password", preload_pg_stat_statements=True,
                            server_class=PostgresServer)
    try:
        _seed(server)
    except BaseException:
        server.stop()
        raise
    return server


def _seed(server: PostgresServer) -> None:
    with server.admin("postgres") as conn:
        conn.execute(f"CREATE ROLE {ROLE} LOGIN PASSWORD '{PASSWORD}'")
        conn.execute(f"GRANT pg_monitor TO {ROLE}")  # as a monitoring role would have it
        conn.execute(f"CREATE DATABASE {DATABASE} OWNER {ROLE}")
        conn.execute(f"CREATE DATABASE {PLAIN_DATABASE} OWNER {ROLE}")
    with server.admin(DATABASE) as conn:
        if server.has_pg_stat_statements:
            conn.execute("CREATE EXTENSION pg_stat_statements")
            # Utility statements are kept verbatim by pg_stat_statements: this puts the
            # password where the statements probe will read, so its masking is exercised.
            conn.execute(f"ALTER ROLE {ROLE} PASSWORD '{PASSWORD}'")
        conn.execute(f"SET ROLE {ROLE}")
        conn.execute(SCHEMA)


@contextlib.contextmanager
def without_composite_index(server: PostgresServer) -> Iterator[None]:
    """The 2021 incident's missing index: dropped (and statistics refreshed) inside, back after."""
    with server.admin() as conn:
        conn.execute(f"DROP INDEX {COMPOSITE_INDEX}")
        conn.execute("ANALYZE manifest_blob")
    try:
        yield
    finally:
        with server.admin() as conn:
            conn.execute(f"CREATE INDEX IF NOT EXISTS {COMPOSITE_INDEX} ON manifest_blob (repository_id, manifest_id)")
            conn.execute("ANALYZE manifest_blob")


def stop(server: PostgresServer) -> None:
    server.stop()
