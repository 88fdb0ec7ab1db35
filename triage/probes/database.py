"""Database layer: PostgreSQL as the platform's services meet it (psycopg 3).

Probes, per target with a ``dsn``:

- ``connect``: latency of a fresh connection per sample (cold-start storms open many at
  once), and the proportion of attempts refused (``too many clients``).
- ``query``: per named critical query (result target ``<target>/<query>``): latency
  samples, each run read-only inside a transaction that is rolled back, under a
  ``statement_timeout``; its plan from ``EXPLAIN (FORMAT JSON)`` as a fact (shape, node
  types, relations, indexes), sequential scans of large tables as a gauge, the planner's
  estimated total cost as a gauge.
- ``connections``: client connections by state (pg_stat_activity), their share of
  ``max_connections``, and the server version and connection limit as facts.
- ``cache``: buffer cache hit ratio of the database (pg_stat_database).
- ``statements``: mean time of the top statements by total time (pg_stat_statements),
  skipped when the extension is not installed.

Secrets: the password may sit in the DSN, come from ``${ENV}`` in triage.yaml, or from
libpq's own PGPASSWORD / .pgpass. Results name the target, never its DSN; every error text
is scrubbed (libpq messages can echo the connection string); statement texts from
pg_stat_statements have their literals masked (utility statements such as
``ALTER ROLE ... PASSWORD '...'`` are recorded there verbatim).

Plan parsing is a pure function of EXPLAIN's JSON (``summarise_plan``) so recorded plans
from other servers can be replayed in tests.
"""

from __future__ import annotations

import math
import re
import time
from dataclasses import dataclass
from typing import Any, Iterable, Iterator, Mapping

from triage.probes import ProbeContext, ProbeSkipped, probe
from triage.config import Query, Target
from triage.secrets import mask_secrets
from triage.model import Measurement

GIVE_UP_AFTER = 3  # first attempts that all failed: the server is not there, stop trying
TOP_STATEMENTS = 5
STATEMENT_TEXT_LIMIT = 200
APPLICATION_NAME = "triage"


class DatabaseUnreachable(Exception):
    """No connection could be made; the message is scrubbed of secrets."""


class QueryFailed(Exception):
    """A critical query failed for a reason other than its statement_timeout."""


# --- targets --------------------------------------------------------------------------------


def _db_targets_quiet(config: Any) -> list[tuple[str, Target]]:
    """Every target with a dsn; no 'skipped' row when there is none: ``connect`` already says so."""
    return [(t.name, t) for t in config.targets if t.dsn]


def _db_targets(config: Any) -> list[tuple[str, Target]]:
    targets = _db_targets_quiet(config)
    if not targets:
        raise ProbeSkipped("no target with a dsn in the config")
    return targets


def _query_targets(config: Any) -> list[tuple[str, tuple[Target, Query]]]:
    return [(f"{t.name}/{q.name}", (t, q)) for t in config.targets if t.dsn for q in t.queries]


# --- secrets and connections ----------------------------------------------------------------


def scrub(text: str, target: Target) -> str:
    """One line of error text with no password in it, whichever form the DSN takes
    (``Target.mask``; triage.secrets knows the forms, $PGPASSWORD included)."""
    return target.mask(text)


def _connect_kwargs(target: Target, ctx: ProbeContext) -> dict[str, Any]:
    kwargs: dict[str, Any] = {"autocommit": True}
    try:
        from psycopg.conninfo import conninfo_to_dict

        given = conninfo_to_dict(target.dsn or "")
    except Exception:  # noqa: BLE001 - connect() raises the same error, scrubbed
        given = {}
    if "connect_timeout" not in given:
        # libpq takes whole seconds and treats anything below 2 as 2.
        kwargs["connect_timeout"] = max(2, math.ceil(min(target.timeout_s, max(ctx.remaining(), 0.001))))
    if "application_name" not in given:
        kwargs["application_name"] = APPLICATION_NAME
    return kwargs


def _connect(target: Target, ctx: ProbeContext) -> Any:
    import psycopg

    try:
        conn = psycopg.connect(target.dsn, **_connect_kwargs(target, ctx))
    except psycopg.Error as exc:
        # ``from None``: the original exception's text may hold the connection string.
        raise DatabaseUnreachable(scrub(f"{target.name}: {exc}", target)) from None
    try:
        # Every statement of ours is bounded, the catalog reads as much as the critical queries.
        conn.execute(f"SET statement_timeout = {_statement_timeout_ms(target)}")
    except psycopg.Error as exc:
        conn.close()
        # ``from None``: the original exception's text may hold the connection string.
        raise DatabaseUnreachable(scrub(f"{target.name}: {exc}", target)) from None
    return conn


def _statement_timeout_ms(target: Target) -> int:
    return max(1, int(target.timeout_s * 1000))


def _sample_count(target: Target, ctx: ProbeContext) -> int:
    return target.samples or ctx.samples


# --- connect ---------------------------------------------------------------------------------


@probe("database", "connect", targets=_db_targets)
def connect(target: Target, ctx: ProbeContext) -> Iterator[Measurement]:
    """Latency of a fresh connection (TCP, TLS, authentication, backend start) per sample."""
    import psycopg

    n = _sample_count(target, ctx)
    kwargs = _connect_kwargs(target, ctx)
    latencies: list[float] = []
    failures = 0
    first_error = None
    for i in range(n):
        if ctx.expired():
            ctx.note(f"stopped after {i} of {n} connections: probe deadline reached")
            break
        started = time.perf_counter()
        try:
            conn = psycopg.connect(target.dsn, **kwargs)
        except psycopg.Error as exc:
            failures += 1
            first_error = first_error or scrub(str(exc), target)
            if not latencies and failures >= GIVE_UP_AFTER:
                break
            continue
        latencies.append((time.perf_counter() - started) * 1000.0)
        conn.close()
    if not latencies:
        if failures:
            raise DatabaseUnreachable(scrub(f"{target.name}: {failures} connection attempts failed; "
                                            f"first: {first_error}", target))
        raise TimeoutError("probe deadline reached before the first connection")
    yield Measurement("latency", "samples", "lower", "ms", values=tuple(latencies),
                      extra={"dsn": scrub(target.dsn or "", target)})
    yield Measurement.proportion("connect_errors", failures, failures + len(latencies))


# --- critical queries and their plans ---------------------------------------------------------


@dataclass(frozen=True)
class PlanSummary:
    """What matters of a plan when it changes: its shape, not its (jittery) estimates."""

    shape: str
    node_types: tuple[str, ...]
    relations: tuple[str, ...]
    indexes: tuple[str, ...]
    large_seq_scans: tuple[str, ...]
    total_cost: float
    scans: tuple[tuple[str, str], ...] = ()  # (relation, how it is read), one per relation

    def fact(self) -> dict[str, Any]:
        return {"shape": self.shape, "node_types": list(self.node_types), "relations": list(self.relations),
                "indexes": list(self.indexes), "seq_scans_on_large_tables": list(self.large_seq_scans)}


_JOIN_NODES = ("Hash Join", "Merge Join", "Nested Loop")
_AGGREGATE_NAMES = {"Plain": "Aggregate", "Sorted": "GroupAggregate", "Hashed": "HashAggregate",
                    "Mixed": "MixedAggregate"}


def _root_plan(explain_json: Any) -> Mapping[str, Any]:
    """EXPLAIN (FORMAT JSON) gives ``[{"Plan": {...}}]``; psycopg may hand it over as text."""
    import json

    if isinstance(explain_json, str):
        explain_json = json.loads(explain_json)
    if isinstance(explain_json, list):
        explain_json = explain_json[0]
    plan = explain_json.get("Plan") if isinstance(explain_json, Mapping) else None
    if not isinstance(plan, Mapping):
        raise ValueError("EXPLAIN output has no Plan")
    return plan


def _walk(node: Mapping[str, Any]) -> Iterator[Mapping[str, Any]]:
    yield node
    for child in node.get("Plans") or ():
        yield from _walk(child)


def _relation(node: Mapping[str, Any]) -> str | None:
    rel = node.get("Relation Name")
    if not rel:
        return None
    schema = node.get("Schema")
    return f"{schema}.{rel}" if schema and schema != "public" else rel


def plan_relations(explain_json: Any) -> set[tuple[str, str]]:
    """(schema, relation) of every relation the plan scans (schema from VERBOSE, else public)."""
    return {(n.get("Schema") or "public", n["Relation Name"]) for n in _walk(_root_plan(explain_json))
            if n.get("Relation Name")}


def _node_label(node: Mapping[str, Any]) -> str:
    kind = node.get("Node Type", "?")
    join = node.get("Join Type")
    if kind in _JOIN_NODES and join and join != "Inner":
        kind = f"Nested Loop {join} Join" if kind == "Nested Loop" else kind.replace(" Join", f" {join} Join")
    if kind == "Aggregate":
        kind = _AGGREGATE_NAMES.get(node.get("Strategy", "Plain"), kind)
    if node.get("Parallel Aware"):
        kind = f"Parallel {kind}"
    if node.get("Index Name"):
        kind += f" using {node['Index Name']}"
    rel = _relation(node)
    if rel:
        kind += f" on {rel}"
    return kind


def _access(node: Mapping[str, Any]) -> str:
    """How a scan node reads its relation: 'Seq Scan', 'Index Scan using x', ...; a bitmap
    heap scan names the indexes of the bitmap index scans beneath it."""
    kind = ("Parallel " if node.get("Parallel Aware") else "") + node.get("Node Type", "?")
    indexes = [node["Index Name"]] if node.get("Index Name") else \
        sorted({n["Index Name"] for n in _walk(node) if n.get("Index Name")})
    return f"{kind} using {', '.join(indexes)}" if indexes else kind


def _shape(node: Mapping[str, Any]) -> str:
    children = node.get("Plans") or ()
    label = _node_label(node)
    return f"{label}({', '.join(_shape(c) for c in children)})" if children else label


def summarise_plan(explain_json: Any, reltuples: Mapping[tuple[str, str], float],
                   large_table_rows: float) -> PlanSummary:
    """The comparable part of a plan. ``reltuples``: (schema, relation) -> estimated rows."""
    root = _root_plan(explain_json)
    nodes = list(_walk(root))
    access: dict[str, set[str]] = {}
    for n in nodes:
        rel = _relation(n)
        if rel:
            access.setdefault(rel, set()).add(_access(n))
    large = set()
    for n in nodes:
        if n.get("Node Type") == "Seq Scan" and n.get("Relation Name"):
            rows = reltuples.get((n.get("Schema") or "public", n["Relation Name"]), -1)
            if rows >= large_table_rows:
                large.add(_relation(n))
    return PlanSummary(
        shape=_shape(root),
        node_types=tuple(sorted({n.get("Node Type", "?") for n in nodes})),
        relations=tuple(sorted({r for r in map(_relation, nodes) if r})),
        indexes=tuple(sorted({n["Index Name"] for n in nodes if n.get("Index Name")})),
        large_seq_scans=tuple(sorted(large)),
        total_cost=float(root.get("Total Cost", 0.0)),
        scans=tuple((rel, " + ".join(sorted(how))) for rel, how in sorted(access.items())),
    )


def _reltuples(cur: Any, relations: Iterable[tuple[str, str]]) -> dict[tuple[str, str], float]:
    out = {}
    for schema, rel in sorted(relations):
        cur.execute("SELECT c.reltuples FROM pg_class c "
                    "WHERE c.oid = to_regclass(format('%%I.%%I', %s::text, %s::text))", (schema, rel))
        row = cur.fetchone()
        if row is not None and row[0] is not None:
            out[(schema, rel)] = float(row[0])
    return out


@probe("database", "query", targets=_query_targets)
def query(item: tuple[Target, Query], ctx: ProbeContext) -> Iterator[Measurement]:
    """Plan and latency of one named critical query, read-only and rolled back."""
    import psycopg

    target, q = item
    n = _sample_count(target, ctx)
    timeout_ms = _statement_timeout_ms(target)
    with _connect(target, ctx) as conn:
        cur = conn.cursor()
        try:
            cur.execute("BEGIN READ ONLY")
            cur.execute(f"EXPLAIN (FORMAT JSON, VERBOSE) {q.sql}")
            explain = cur.fetchone()[0]
            relations = plan_relations(explain)
            sizes = _reltuples(cur, relations)
            cur.execute("ROLLBACK")
        except psycopg.Error as exc:
            raise QueryFailed(scrub(f"{q.name}: EXPLAIN failed: {exc}", target)) from None
        unanalysed = sorted(f"{s}.{r}" for (s, r), rows in sizes.items() if rows < 0)
        if unanalysed:
            ctx.note(f"never analysed, size unknown for the large-table check: {', '.join(unanalysed)}")
        plan = summarise_plan(explain, sizes, target.large_table_rows)

        latencies: list[float] = []
        timeouts = 0
        for i in range(n):
            if ctx.expired():
                ctx.note(f"stopped after {i} of {n} runs: probe deadline reached")
                break
            cur.execute("BEGIN READ ONLY")
            started = time.perf_counter()
            try:
                cur.execute(q.sql)
                if cur.description is not None:
                    cur.fetchall()  # the rows' transfer is part of what a client waits for
                elapsed = (time.perf_counter() - started) * 1000.0
            except psycopg.errors.QueryCanceled:
                timeouts += 1
                cur.execute("ROLLBACK")
                if not latencies and timeouts >= GIVE_UP_AFTER:
                    raise QueryFailed(f"{q.name}: the first {timeouts} runs all exceeded statement_timeout "
                                      f"({timeout_ms} ms)") from None
                continue
            except psycopg.Error as exc:
                raise QueryFailed(scrub(f"{q.name}: {exc}", target)) from None
            cur.execute("ROLLBACK")
            latencies.append(elapsed)
    yield Measurement.samples("latency", latencies, unit="ms")
    yield Measurement.proportion("timeouts", timeouts, timeouts + len(latencies))
    yield Measurement.fact("plan", plan.fact())
    # One short fact per relation as well: when a plan flips, the evidence line reads
    # "scan.manifest_blob changed Index Scan using ... -> Seq Scan", not a truncated blob.
    for relation, how in plan.scans:
        yield Measurement.fact(f"scan.{relation}", how)
    yield Measurement.gauge("seq_scans_on_large_tables", len(plan.large_seq_scans), unit="count")
    yield Measurement.gauge("estimated_cost", plan.total_cost, unit="cost")


# --- server state -----------------------------------------------------------------------------

# pg_stat_activity.state -> metric suffix. NULL: a session of another role, hidden without
# pg_read_all_stats.
_STATES = {"active": "active", "idle": "idle", "idle in transaction": "idle_in_transaction",
           "idle in transaction (aborted)": "idle_in_transaction_aborted"}


def connection_states(rows: Iterable[tuple[str | None, int]]) -> dict[str, int]:
    """(state, count) rows -> counts for a fixed set of states (+other, hidden, total)."""
    counts = dict.fromkeys([*_STATES.values(), "other", "hidden"], 0)
    for state, count in rows:
        key = "hidden" if state is None else _STATES.get(state, "other")
        counts[key] += int(count)
    counts["total"] = sum(counts.values())
    return counts


@probe("database", "connections", targets=_db_targets_quiet)
def connections(target: Target, ctx: ProbeContext) -> Iterator[Measurement]:
    """Client connections by state (ours excluded), their share of the limit, server facts."""
    with _connect(target, ctx) as conn:
        cur = conn.cursor()
        cur.execute("SELECT state, count(*) FROM pg_stat_activity "
                    "WHERE backend_type = 'client backend' AND pid <> pg_backend_pid() GROUP BY state")
        counts = connection_states(cur.fetchall())
        cur.execute("SELECT current_setting('max_connections')::int, "
                    "current_setting('superuser_reserved_connections')::int, current_setting('server_version')")
        max_connections, reserved, version = cur.fetchone()
    if counts["hidden"]:
        ctx.note(f"{counts['hidden']} connections of other roles have no visible state "
                 "(grant pg_read_all_stats to see them); counted in total only")
    for state, count in counts.items():
        if state != "hidden":
            yield Measurement.gauge(f"connections_{state}", count, unit="count")
    usable = max(1, max_connections - reserved)
    yield Measurement.gauge("connection_use", round(counts["total"] / usable, 6), unit="ratio")
    yield Measurement.fact("max_connections", max_connections)
    yield Measurement.fact("server_version", version)


@probe("database", "cache", targets=_db_targets_quiet)
def cache(target: Target, ctx: ProbeContext) -> Iterator[Measurement]:
    """Share of block reads served from shared buffers, since the statistics were reset."""
    with _connect(target, ctx) as conn:
        row = conn.execute("SELECT blks_hit, blks_read FROM pg_stat_database "
                           "WHERE datname = current_database()").fetchone()
    hit, read = (int(row[0] or 0), int(row[1] or 0)) if row else (0, 0)
    if hit + read == 0:
        ctx.note("cache_hit_ratio dropped: no block reads recorded in pg_stat_database yet")
        return
    yield Measurement("cache_hit_ratio", "gauge", "higher", "ratio", value=round(hit / (hit + read), 6),
                      extra={"blks_hit": hit, "blks_read": read})


# --- pg_stat_statements -----------------------------------------------------------------------

_LITERAL = re.compile(r"'(?:[^']|'')*'|\$(?P<tag>[A-Za-z_]*)\$.*?\$(?P=tag)\$", re.S)
_PLANNABLE = re.compile(r"^\s*(?:/\*.*?\*/\s*)*(select|insert|update|delete|with|values|table|merge)\b",
                        re.I | re.S)


def statement_text(query_text: str) -> str | None:
    """A statement's text fit to record, or None for utility statements (CREATE ROLE ...
    PASSWORD '...' is kept verbatim by pg_stat_statements). Literals are masked anyway."""
    if not _PLANNABLE.match(query_text):
        return None
    text = " ".join(_LITERAL.sub("'***'", query_text).split())
    text = mask_secrets(text)
    return text if len(text) <= STATEMENT_TEXT_LIMIT else text[:STATEMENT_TEXT_LIMIT - 3] + "..."


@probe("database", "statements", targets=_db_targets_quiet)
def statements(target: Target, ctx: ProbeContext) -> Iterator[Measurement]:
    """Mean execution time of the statements with the most total time in this database."""
    import psycopg

    with _connect(target, ctx) as conn:
        cur = conn.cursor()
        cur.execute("SELECT 1 FROM pg_extension WHERE extname = 'pg_stat_statements'")
        if cur.fetchone() is None:
            raise ProbeSkipped("pg_stat_statements is not installed in this database "
                               "(shared_preload_libraries + CREATE EXTENSION pg_stat_statements)")
        new_columns = conn.info.server_version >= 130000
        total, mean = ("total_exec_time", "mean_exec_time") if new_columns else ("total_time", "mean_time")
        try:
            cur.execute(f"SELECT queryid, query, calls, {total}, {mean} FROM pg_stat_statements "
                        "WHERE dbid = (SELECT oid FROM pg_database WHERE datname = current_database()) "
                        f"AND queryid IS NOT NULL ORDER BY {total} DESC LIMIT 100")
            rows = cur.fetchall()
        except psycopg.errors.ObjectNotInPrerequisiteState:
            raise ProbeSkipped("pg_stat_statements is installed but not loaded "
                               "(add it to shared_preload_libraries)") from None
        except psycopg.errors.InsufficientPrivilege:
            raise ProbeSkipped("pg_stat_statements is not readable by this role "
                               "(grant pg_read_all_stats)") from None
    kept = 0
    for queryid, text, calls, total_ms, mean_ms in rows:
        shown = statement_text(text or "")
        if shown is None:
            continue
        yield Measurement("statement.%d.mean_time" % queryid, "gauge", "lower", "ms",
                          value=round(float(mean_ms), 6),
                          extra={"query": shown, "calls": int(calls), "total_time_ms": round(float(total_ms), 3)})
        kept += 1
        if kept >= TOP_STATEMENTS:
            break
    if not kept:
        ctx.note("pg_stat_statements has no planned statements for this database yet")
