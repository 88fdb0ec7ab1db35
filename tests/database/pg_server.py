"""A real PostgreSQL for the database tests: initdb + pg_ctl in a temp dir.

The server listens on 127.0.0.1 on a free port with its unix socket in the temp dir, runs
as ``nobody`` when the tests run as root (postgres refuses root), and authenticates TCP
clients with scram-sha-256, so a real password travels and its masking is really tested.

Seeded like the 2021 incident: ``manifest`` and ``manifest_blob`` (200k rows each), joined
by a query that uses the composite index ``manifest_blob_repo_manifest``; dropping that
index flips the plan to a sequential scan of ``manifest_blob``.
"""

from __future__ import annotations

import contextlib
import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
from dataclasses import dataclass
from typing import Iterator

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


def _find_bindir() -> str | None:
    candidates = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"),
                        key=lambda p: int(p.split("/")[-3]) if p.split("/")[-3].isdigit() else 0)
    if candidates:
        return os.path.dirname(candidates[-1])
    found = shutil.which("initdb")
    return os.path.dirname(found) if found else None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class PostgresServer:
    bindir: str
    root: str
    port: int
    has_pg_stat_statements: bool
    run_as: str | None

    @property
    def socket_dir(self) -> str:
        return self.root

    @property
    def log_path(self) -> str:
        return os.path.join(self.root, "server.log")

    def tool(self, name: str) -> str:
        return os.path.join(self.bindir, name)

    def dsn(self, *, password: str | None = PASSWORD, database: str = DATABASE, form: str = "url") -> str:
        """How a user writes it in triage.yaml: URL or libpq key=value, with or without password."""
        if form == "url":
            auth = f"{ROLE}:{password}" if password is not None else ROLE
            return f"postgresql://{auth}@127.0.0.1:{self.port}/{database}"
        pw = f" password='{password}'" if password is not None else ""
        return f"host=127.0.0.1 port={self.port} dbname={database} user={ROLE}{pw}"

    def admin(self, database: str = DATABASE):
        """A superuser connection over the unix socket (trust), for setup and DROP INDEX."""
        import psycopg

        return psycopg.connect(host=self.socket_dir, port=self.port, user="postgres", dbname=database,
                               autocommit=True, connect_timeout=5)


def _demote(user: str | None):
    if user is None:
        return {}
    entry = pwd.getpwnam(user)
    return {"user": entry.pw_uid, "group": entry.pw_gid, "extra_groups": []}


def _run(argv: list[str], run_as: str | None, cwd: str) -> None:
    proc = subprocess.run(argv, cwd=cwd, capture_output=True, text=True, timeout=120, **_demote(run_as),
                          env={"PATH": "/usr/bin:/bin", "LC_ALL": "C", "HOME": cwd})
    if proc.returncode != 0:
        output = proc.stderr.strip() or proc.stdout.strip()
        raise RuntimeError(f"{' '.join(argv[:2])} failed ({proc.returncode}): {output}")




def start() -> PostgresServer:
    """initdb, configure, start and seed a server; raises RuntimeError when something fails."""
    bindir = _find_bindir()
    if bindir is None:
        raise FileNotFoundError("PostgreSQL server binaries (initdb, pg_ctl) not found; "
                                ".ci/run installs them with apt-get")
    run_as = "nobody" if os.geteuid() == 0 else None
    # Not under pytest's tmp dir: its parents are mode 0700 for root, and nobody must enter.
    root = tempfile.mkdtemp(prefix="triage-pg-")
    uid = pwd.getpwnam(run_as).pw_uid if run_as else -1
    gid = pwd.getpwnam(run_as).pw_gid if run_as else -1
    os.chown(root, uid, gid)
    data = os.path.join(root, "data")
    pwfile = os.path.join(root, "superuser-pw")
    with open(pwfile, "w") as fh:
        fh.write("unused-superuser-password\n")
    os.chown(pwfile, uid, gid)
    server = PostgresServer(bindir, root, _free_port(), _has_pg_stat_statements(bindir), run_as)
    _run([server.tool("initdb"), "-D", data, "-U", "postgres", "--pwfile", pwfile, "-E", "UTF8",
          "--no-sync", "--auth-local=trust", "--auth-host=scram-sha-256"], run_as, root)
    settings = {
        "listen_addresses": "'127.0.0.1'",
        "port": str(server.port),
        "unix_socket_directories": f"'{root}'",
        "fsync": "off",
        "synchronous_commit": "off",
        "full_page_writes": "off",
        "max_connections": "40",
        "password_encryption": "'scram-sha-256'",
        "log_connections": "on",
    }
    if server.has_pg_stat_statements:
        settings["shared_preload_libraries"] = "'pg_stat_statements'"
    with open(os.path.join(data, "postgresql.conf"), "a") as fh:
        fh.write("\n# triage tests\n" + "".join(f"{k} = {v}\n" for k, v in settings.items()))
    try:
        _run([server.tool("pg_ctl"), "-D", data, "-l", os.path.join(root, "server.log"), "-w", "-t", "60", "start"],
             run_as, root)
        _seed(server)
    except BaseException as exc:
        log = _tail(os.path.join(root, "server.log"))
        stop(server)
        if log and isinstance(exc, Exception):
            raise RuntimeError(f"{exc}; server log ends: {log}") from exc
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


def _tail(path: str, lines: int = 5) -> str:
    try:
        with open(path, encoding="utf-8", errors="replace") as fh:
            return " | ".join(fh.read().splitlines()[-lines:])
    except OSError:
        return ""


def stop(server: PostgresServer) -> None:
    data = os.path.join(server.root, "data")
    try:
        if os.path.exists(os.path.join(data, "postmaster.pid")):
            _run([server.tool("pg_ctl"), "-D", data, "-m", "fast", "-w", "stop"], server.run_as, server.root)
    finally:
        shutil.rmtree(server.root, ignore_errors=True)


def _has_pg_stat_statements(bindir: str) -> bool:
    pg_config = os.path.join(bindir, "pg_config")
    libdir = os.path.join(os.path.dirname(bindir), "lib")
    if os.path.exists(pg_config):
        libdir = subprocess.run([pg_config, "--pkglibdir"], capture_output=True, text=True).stdout.strip() or libdir
    return os.path.exists(os.path.join(libdir, "pg_stat_statements.so"))
