"""A real PostgreSQL for the database tests: initdb + pg_ctl in a temp dir.

The server listens on 127.0.0.1 on a free port with its unix socket in the temp dir, runs
as ``nobody`` when the tests run as root (postgres refuses root), and authenticates TCP
clients with scram-sha-256, so a real password travels and its masking is really tested.

Seeded like the 2021 incident: ``manifest`` and ``manifest_blob`` (200k rows each), joined
by a query that uses the composite index ``manifest_blob_repo_manifest``; dropping that
index flips the plan to a sequential scan of ``manifest_blob``.
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
from dataclasses import dataclass

import pytest

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
        raise RuntimeError(f"{' '.join(argv[:2])} failed ({proc.returncode}): {proc.stderr.strip() or proc.stdout.strip()}")


