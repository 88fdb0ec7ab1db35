"""A Quay-like schema for `triage repro db`: manifest, manifestblob and imagestorage at a
chosen scale, the image-layer-fetch query every image pull runs, and the composite index
the 2021 incident was missing.

Everything lives in its own schema, ``triage_repro``, marked with a comment: against a
server you name (``--dsn``) the reproducer builds it, runs, and drops it, and refuses a
schema of that name that it did not make.

The critical query finds a blob by digest within a repository: imagestorage by its
checksum index (one row), then manifestblob by (repository_id, blob_id). With the composite
index ``manifestblob_repository_id_blob_id`` that is two index scans (~0.1 ms); without it
the planner reads every row of manifestblob for every fetch (a Seq Scan: ~10-20 ms at
200,000 rows on one core), which is the incident's 10x query meeting a storm.
"""

from __future__ import annotations

import random
from typing import Any

SCHEMA = "triage_repro"
MARKER = "made by triage repro db; dropped when it ends"
COMPOSITE_INDEX = "manifestblob_repository_id_blob_id"
BIG_TABLE = "manifestblob"
REPOSITORIES = 1000

# mb.manifest_id is read too (the registry wants the manifest), so with the index it is an
# Index Scan, not an index-only one.
IMAGE_LAYER_FETCH = (
    "SELECT s.id, s.uuid, s.image_size, mb.manifest_id FROM imagestorage s JOIN manifestblob mb ON mb.blob_id = s.id "
    "WHERE mb.repository_id = %s AND s.content_checksum = %s"
)
# The rest of the fleet's steady traffic: a manifest looked up by digest (always an index scan).
MANIFEST_LOOKUP = "SELECT m.id, m.media_type FROM manifest m WHERE m.repository_id = %s AND m.digest = %s"


def _blob_of(row: int, rows: int) -> int:
    """The imagestorage id manifestblob row ``row`` points at: a fixed permutation (7919 is
    prime, so rows not divisible by it get every blob once)."""
    return (row * 7919) % rows + 1


def ddl(rows: int) -> str:
    """The tables, their rows and every index but the composite one (see ``set_index``)."""
    return f"""
CREATE TABLE imagestorage (
    id bigint PRIMARY KEY,
    uuid text NOT NULL,
    content_checksum text NOT NULL,
    image_size bigint NOT NULL,
    uploading boolean NOT NULL DEFAULT false
);
CREATE TABLE manifest (
    id bigint PRIMARY KEY,
    repository_id int NOT NULL,
    digest text NOT NULL,
    media_type int NOT NULL,
    manifest_bytes text NOT NULL
);
CREATE TABLE manifestblob (
    id bigint PRIMARY KEY,
    repository_id int NOT NULL,
    manifest_id bigint NOT NULL,
    blob_id bigint NOT NULL
);
INSERT INTO imagestorage SELECT g, md5(g::text), 'sha256:' || lpad(g::text, 12, '0'), g * 1024, false
    FROM generate_series(1, {rows}) g;
INSERT INTO manifest SELECT g, g % {REPOSITORIES}, 'sha256:m' || lpad(g::text, 12, '0'), 1, repeat('x', 64)
    FROM generate_series(1, {rows}) g;
INSERT INTO manifestblob SELECT g, g % {REPOSITORIES}, g, (g::bigint * 7919) % {rows} + 1
    FROM generate_series(1, {rows}) g;
CREATE UNIQUE INDEX imagestorage_content_checksum ON imagestorage (content_checksum);
CREATE UNIQUE INDEX manifest_repository_id_digest ON manifest (repository_id, digest);
CREATE INDEX manifestblob_manifest_id ON manifestblob (manifest_id);
"""


def build(conn: Any, rows: int, *, owner: str | None = None) -> None:
    """Create ``triage_repro`` with its tables at ``rows`` rows each, the composite index
    included, and their statistics. ``conn`` is autocommit."""
    conn.execute(f"CREATE SCHEMA {SCHEMA}" + (f" AUTHORIZATION {owner}" if owner else ""))
    conn.execute(f"COMMENT ON SCHEMA {SCHEMA} IS '{MARKER}'")
    conn.execute(f"SET search_path = {SCHEMA}")
    with conn.transaction():
        conn.execute(ddl(rows))
    set_index(conn, True)


def ours(conn: Any) -> bool | None:
    """None: no such schema; True: one this reproducer made; False: someone else's."""
    row = conn.execute("SELECT obj_description(n.oid, 'pg_namespace') FROM pg_namespace n WHERE n.nspname = %s",
                       (SCHEMA,)).fetchone()
    return None if row is None else row[0] == MARKER


def drop(conn: Any) -> None:
    conn.execute(f"DROP SCHEMA IF EXISTS {SCHEMA} CASCADE")


def set_index(conn: Any, present: bool) -> None:
    """The composite index there (with-index) or not (without-index); statistics refreshed,
    so the planner sees the table as it is."""
    if present:
        conn.execute(f"CREATE INDEX IF NOT EXISTS {COMPOSITE_INDEX} ON {SCHEMA}.manifestblob (repository_id, blob_id)")
    else:
        conn.execute(f"DROP INDEX IF EXISTS {SCHEMA}.{COMPOSITE_INDEX}")
    conn.execute(f"ANALYZE {SCHEMA}.imagestorage, {SCHEMA}.manifest, {SCHEMA}.manifestblob")


def hot_keys(pod: int, count: int, rows: int, seed: int) -> list[tuple[int, str]]:
    """The image layers one pod serves (its cache's contents once warm): (repository_id,
    content_checksum) pairs that exist, distinct, the same for the same seed."""
    rng = random.Random(f"{seed}:{pod}")
    picked = rng.sample(range(1, rows + 1), min(count, rows))
    return [(row % REPOSITORIES, f"sha256:{_blob_of(row, rows):012d}") for row in picked]


def manifest_keys(count: int, rows: int, seed: int) -> list[tuple[int, str]]:
    rng = random.Random(f"{seed}:manifests")
    return [(row % REPOSITORIES, f"sha256:m{row:012d}") for row in rng.sample(range(1, rows + 1), min(count, rows))]
