"""Database layer: PostgreSQL as the platform's services meet it (psycopg 3).

Probes, per target with a ``dsn``:

- ``connect``: latency of a fresh connection per sample (cold-start storms open many at
  once), and the proportion of attempts refused (``too many clients``).
- ``query``: per named critical query (result target ``<target>/<query>``): latency
  samples in groups, a new connection each, every run read-only inside a transaction that
  is rolled back, under a ``statement_timeout``; its plan from ``EXPLAIN (FORMAT JSON)`` as
  a fact (shape, node types, relations, indexes), sequential scans of large tables as a
  gauge, the planner's estimated total cost as a gauge.
- ``connections``: client connections by state (pg_stat_activity), read once per group
  across the run (samples: the judge tests them), their share of ``max_connections``, and
  the server version and connection limit as facts.
- ``cache``, ``activity``: pg_stat_database over the run's window (read at its start and
  end, see pg_stats.py): buffer cache hit ratio; rollbacks, temporary files, deadlocks.
- ``statements``: window mean time of the statements with the most time in the run
  (pg_stat_statements), skipped when the extension is not installed.

Secrets: the password may sit in the DSN, come from ``${ENV}`` in triage.yaml, or from
libpq's own PGPASSWORD / .pgpass. Results name the target, never its DSN; every error text
is scrubbed (libpq messages can echo the connection string); statement texts from
pg_stat_statements have their literals masked (utility statements such as
``ALTER ROLE ... PASSWORD '...'`` are recorded there verbatim).

Connections (pg_connect.py): every probe counts its connection attempts; a server that
refuses one for capacity (too many clients, cannot connect now, a connect timeout while its
port accepts TCP) is measured, in ``connect_errors`` by kind, and the probe samples on over
its groups; identity and configuration (bad password, no such database, name resolution,
TLS) make it ``status: error`` at once. A probe that got only refusals yields only
``connect_errors``, which both sides then have: the judge finds the regression there.

Plan parsing (pg_plan.py) and the window arithmetic (pg_stats.py) are pure functions of
what the server returned, so recorded plans and readings replay in tests.
"""

from __future__ import annotations

import time
from typing import Any, Iterable, Iterator

from triage.probes import GROUP_END, ProbeContext, ProbeSkipped, end_group, group_sizes, probe
from triage.probes.pg_connect import (APPLICATION_NAME, CONNECT_TIMEOUT, GIVE_UP_AFTER, Attempts, connect_kwargs,
                                      open_connection, scrub, statement_timeout_ms)
from triage.probes.pg_plan import plan_relations, summarise_plan
from triage.probes.pg_stats import (DATABASE_COUNTERS, DatabaseReading, StatementsReading, connection_figures,
                                    connection_states, counter_deltas, statement_deltas, statement_text)
from triage.config import Query, Target
from triage.model import Measurement

TOP_STATEMENTS = 5
# Leads triage's own reads of the catalog and statistics views, so the statements probe can
# tell them from the platform's (pg_stat_statements keeps a statement's leading comment).
OWN = "/* triage */ "
# connect_timeout is whole seconds, 2 at least: a group meeting this many timeouts in a row
# goes to the next group, so a server too busy to answer costs groups x 2 x 2 s, not samples x 2 s.
TIMEOUTS_PER_GROUP = 2


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


# --- connections (pg_connect.py: opening one, and how an attempt ended) -------------------------


def _connect(target: Target, ctx: ProbeContext, attempts: Attempts) -> Any | None:
    """A connection, or None when the server refused it for capacity (counted in ``attempts``)."""
    return open_connection(target, ctx.remaining(), attempts)


def _sample_count(target: Target, ctx: ProbeContext) -> int:
    return target.samples or ctx.samples


def _groups(target: Target, ctx: ProbeContext) -> list[int]:
    return group_sizes(_sample_count(target, ctx), target.groups or ctx.config.groups)


# --- connect ---------------------------------------------------------------------------------


@probe("database", "connect", targets=_db_targets, subruns=True)
def connect(target: Target, ctx: ProbeContext) -> Iterator[Measurement | object]:
    """Latency of a fresh connection (TCP, TLS, authentication, backend start) per sample;
    in groups, so the connections are spread over the run. Refusals for capacity are
    counted and sampling goes on: a full server is what this probe exists to see."""
    import psycopg

    n = _sample_count(target, ctx)
    kwargs = connect_kwargs(target, ctx.remaining())
    attempts = Attempts(target)
    latencies: list[float] = []
    sizes: list[int] = []
    for g, size in enumerate(_groups(target, ctx)):
        if g:
            yield GROUP_END
        timeouts_in_a_row = 0
        read = False
        for _ in range(size):
            if ctx.expired() or attempts.hopeless() or timeouts_in_a_row >= TIMEOUTS_PER_GROUP:
                break
            started = time.perf_counter()
            try:
                conn = psycopg.connect(target.dsn, **kwargs)
            except psycopg.Error as exc:
                timeouts_in_a_row = timeouts_in_a_row + 1 if attempts.failed(exc).kind == CONNECT_TIMEOUT else 0
                continue
            latencies.append((time.perf_counter() - started) * 1000.0)
            attempts.succeeded()
            timeouts_in_a_row = 0
            with conn:
                if not read:
                    # Once a group, untimed: when capacity refuses later attempts, the server's
                    # connection states at the last of these readings are evidence.
                    conn.execute(f"SET statement_timeout = {statement_timeout_ms(target)}")
                    attempts.last_reading = connection_figures(_connection_reading(conn.cursor()),
                                                               _max_connections(conn))
                    read = True
        end_group(latencies, sizes)
        if ctx.expired() or attempts.hopeless():
            break
    if attempts.tried < n and latencies:
        ctx.note(f"stopped after {attempts.tried} of {n} connections: "
                 + ("probe deadline reached" if ctx.expired() else "connect timeouts in a row"))
    if attempts.hopeless():
        raise attempts.unreachable()
    if not attempts.tried:
        raise TimeoutError("probe deadline reached before the first connection")
    if latencies:
        yield Measurement("latency", "samples", "lower", "ms", values=tuple(latencies),
                          extra={"dsn": scrub(target.dsn or "", target)}, groups=tuple(sizes))
    else:
        ctx.note(f"latency dropped: none of {attempts.tried} connections succeeded ({attempts.refusals()})")
    # ``combine``: the judge may add up the connection failures of every probe of one database.
    yield attempts.measurement(combine=target.name)


# --- critical queries and their plans ---------------------------------------------------------

def relation_rows(cur: Any, relations: Iterable[tuple[str, str]]) -> dict[tuple[str, str], float]:
    """(schema, relation) -> the planner's estimate of its rows (pg_class.reltuples; -1: never
    analysed). The reproducer reads its plan's tables with it too."""
    out = {}
    for schema, rel in sorted(relations):
        cur.execute(f"{OWN}SELECT c.reltuples FROM pg_class c "
                    "WHERE c.oid = to_regclass(format('%%I.%%I', %s::text, %s::text))", (schema, rel))
        row = cur.fetchone()
        if row is not None and row[0] is not None:
            out[(schema, rel)] = float(row[0])
    return out


def explain_plan(cur: Any, q: Query, target: Target) -> Any:
    import psycopg

    try:
        cur.execute("BEGIN READ ONLY")
        cur.execute(f"EXPLAIN (FORMAT JSON, VERBOSE) {q.sql}")
        explain = cur.fetchone()[0]
        sizes = relation_rows(cur, plan_relations(explain))
        cur.execute("ROLLBACK")
    except psycopg.Error as exc:
        raise QueryFailed(scrub(f"{q.name}: EXPLAIN failed: {exc}", target)) from None
    return explain, sizes


@probe("database", "query", targets=_query_targets, subruns=True)
def query(item: tuple[Target, Query], ctx: ProbeContext) -> Iterator[Measurement | object]:
    """Plan and latency of one named critical query, read-only and rolled back; in groups,
    each on a new connection (so a new backend, placed anew on the server's CPUs)."""
    import psycopg

    target, q = item
    n = _sample_count(target, ctx)
    timeout_ms = statement_timeout_ms(target)
    attempts = Attempts(target)
    plan = None
    latencies: list[float] = []
    sizes: list[int] = []
    answered = timeouts = 0
    for g, size in enumerate(_groups(target, ctx)):
        if g:
            yield GROUP_END
        if ctx.expired():
            break
        conn = _connect(target, ctx, attempts)
        if conn is None:
            continue  # refused for capacity: counted; the next group asks again
        with conn:
            # Never a server-side prepared statement: psycopg prepares after 5 runs on one
            # connection, so the planning time in a sample would depend on the group size.
            # Most Python drivers plan every run, as here.
            conn.prepare_threshold = None
            cur = conn.cursor()
            # EXPLAIN on every new connection: it warms the new backend's catalog caches, as
            # the first run of a long-lived connection would, and runs nothing.
            explain, relation_rows = explain_plan(cur, q, target)
            if plan is None:
                unanalysed = sorted(f"{s}.{r}" for (s, r), rows in relation_rows.items() if rows < 0)
                if unanalysed:
                    ctx.note(f"never analysed, size unknown for the large-table check: {', '.join(unanalysed)}")
                plan = summarise_plan(explain, relation_rows, target.large_table_rows)
            for _ in range(size):
                if ctx.expired():
                    break
                cur.execute("BEGIN READ ONLY")
                started = time.perf_counter()
                try:
                    cur.execute(q.sql)
                    if cur.description is not None:
                        cur.fetchall()  # the rows' transfer is part of what a client waits for
                    elapsed = (time.perf_counter() - started) * 1000.0
                except psycopg.errors.QueryCanceled:
                    # The client waited until the server gave up: that cost stays in the latency.
                    latencies.append((time.perf_counter() - started) * 1000.0)
                    timeouts += 1
                    cur.execute("ROLLBACK")
                    if not answered and timeouts >= GIVE_UP_AFTER:
                        raise QueryFailed(f"{q.name}: the first {timeouts} runs all exceeded statement_timeout "
                                          f"({timeout_ms} ms)") from None
                    continue
                except psycopg.Error as exc:
                    raise QueryFailed(scrub(f"{q.name}: {exc}", target)) from None
                cur.execute("ROLLBACK")
                latencies.append(elapsed)
                answered += 1
        end_group(latencies, sizes)
    if attempts.failures:
        ctx.note(f"{attempts.failures} of {attempts.tried} groups could not connect ({attempts.refusals()}): "
                 "their runs were not taken")
    elif len(latencies) < n:
        ctx.note(f"stopped after {len(latencies)} of {n} runs: probe deadline reached")
    # ``combine``: the judge may add up the failures of every critical query of one database.
    connect_errors = attempts.measurement(combine=target.name)
    if plan is None:
        if not attempts.failures:
            raise TimeoutError("probe deadline reached before the first connection")
        yield connect_errors  # measured only refusals: that is the finding
        return
    yield Measurement.samples("latency", latencies, unit="ms", groups=sizes)
    yield Measurement("timeouts", "proportion", "lower", events=timeouts, trials=answered + timeouts,
                      extra={"combine": target.name})
    yield connect_errors
    yield from plan.measurements()


# --- server state -----------------------------------------------------------------------------

def _connection_reading(cur: Any) -> dict[str, int]:
    """Client connections by state (pg_stat_activity), this one and triage's own left out."""
    # Ours by name too: a probe's connection closed just before this reading may not have
    # left pg_stat_activity yet.
    cur.execute(f"{OWN}SELECT state, count(*) FROM pg_stat_activity WHERE backend_type = 'client backend' "
                "AND pid <> pg_backend_pid() AND application_name IS DISTINCT FROM %s GROUP BY state",
                (APPLICATION_NAME,))
    return connection_states(cur.fetchall())


def _max_connections(conn: Any) -> int:
    return int(conn.execute(f"{OWN}SELECT current_setting('max_connections')").fetchone()[0])


@probe("database", "connections", targets=_db_targets_quiet, subruns=True)
def connections(target: Target, ctx: ProbeContext) -> Iterator[Measurement | object]:
    """Client connections by state (triage's own excluded), read once per group across the
    run: a live pool moves (4 idle, then 5), so one reading per run is no evidence. Their
    share of the limit; the server version and limit as facts (configuration: one reading).
    One connection held over the readings, asked for again each group while capacity refuses it."""
    attempts = Attempts(target)
    readings: list[dict[str, int]] = []
    conn = None
    try:
        for g in range(len(_groups(target, ctx))):
            if g:
                yield GROUP_END  # the connection idles meanwhile, and is not counted
            if ctx.expired():
                break
            if conn is None:
                conn = _connect(target, ctx, attempts)
                if conn is None:
                    continue
                cur = conn.cursor()
                cur.execute(f"{OWN}SELECT current_setting('max_connections')::int, "
                            "current_setting('superuser_reserved_connections')::int, current_setting('server_version')")
                max_connections, reserved, version = cur.fetchone()
            readings.append(_connection_reading(cur))
    finally:
        if conn is not None:
            conn.close()
    connect_errors = attempts.measurement()
    if not readings:
        if not attempts.failures:
            raise TimeoutError("probe deadline reached before the first reading")
        ctx.note(f"no reading: every connection was refused ({attempts.refusals()})")
        yield connect_errors
        return
    hidden = max(r["hidden"] for r in readings)
    if hidden:
        ctx.note(f"up to {hidden} connections of other roles have no visible state "
                 "(grant pg_read_all_stats to see them); counted in total only")
    one_each = [1] * len(readings)  # every reading its own moment of the run
    for state in readings[0]:
        if state != "hidden":
            yield Measurement.samples(f"connections_{state}", [r[state] for r in readings], unit="count",
                                      groups=one_each)
    usable = max(1, max_connections - reserved)
    yield Measurement.samples("connection_use", [round(r["total"] / usable, 6) for r in readings], unit="ratio",
                              groups=one_each)
    yield connect_errors
    yield Measurement.fact("max_connections", max_connections)
    yield Measurement.fact("server_version", version)


def _refused(ctx: ProbeContext, attempts: Attempts, end: str) -> None:
    ctx.note(f"no window: the reading at its {end} could not connect ({attempts.refusals()})")


def _database_reading(target: Target, ctx: ProbeContext, attempts: Attempts) -> DatabaseReading | None:
    """pg_stat_database of this database; None when capacity refused the connection."""
    conn = _connect(target, ctx, attempts)
    if conn is None:
        return None
    with conn:
        row = conn.execute(f"{OWN}SELECT {', '.join(DATABASE_COUNTERS)}, stats_reset FROM pg_stat_database "
                           "WHERE datname = current_database()").fetchone()
    if row is None:
        return DatabaseReading({})
    return DatabaseReading({k: int(v or 0) for k, v in zip(DATABASE_COUNTERS, row)}, row[-1])


@probe("database", "cache", targets=_db_targets_quiet, window=True)
def cache(target: Target, ctx: ProbeContext) -> Iterator[Measurement | None]:
    """Share of block reads served from shared buffers during the run (pg_stat_database)."""
    attempts = Attempts(target)
    before, opened = _database_reading(target, ctx, attempts), time.monotonic()
    yield None  # the other probes run here
    after = None if before is None else _database_reading(target, ctx, attempts)
    if after is None:
        _refused(ctx, attempts, "start" if before is None else "end")
        return
    deltas, notes = counter_deltas(before, after, ("blks_hit", "blks_read"))
    for note in notes:
        ctx.note(note)
    hit, read = deltas.get("blks_hit"), deltas.get("blks_read")
    if hit is None or read is None or hit + read == 0:
        ctx.note("cache_hit_ratio dropped: no block reads counted in pg_stat_database during the run")
        return
    yield Measurement("cache_hit_ratio", "gauge", "higher", "ratio", value=round(hit / (hit + read), 6),
                      extra={"blks_hit": hit, "blks_read": read, "window_s": round(time.monotonic() - opened, 3)})


@probe("database", "activity", targets=_db_targets_quiet, window=True)
def activity(target: Target, ctx: ProbeContext) -> Iterator[Measurement | None]:
    """Rollbacks, temporary files and deadlocks in this database during the run
    (pg_stat_database). triage's own critical queries are rolled back, and count here."""
    attempts = Attempts(target)
    before, opened = _database_reading(target, ctx, attempts), time.monotonic()
    yield None  # the other probes run here
    after = None if before is None else _database_reading(target, ctx, attempts)
    if after is None:
        _refused(ctx, attempts, "start" if before is None else "end")
        return
    deltas, notes = counter_deltas(before, after,
                                   ("xact_commit", "xact_rollback", "temp_files", "temp_bytes", "deadlocks"))
    window_s = time.monotonic() - opened
    for note in notes:
        ctx.note(note)
    commits, rollbacks = deltas.get("xact_commit"), deltas.get("xact_rollback")
    if commits is not None and rollbacks is not None and commits + rollbacks:
        yield Measurement("rollback_ratio", "proportion", "lower", events=rollbacks, trials=commits + rollbacks,
                          extra={"xact_commit": commits, "xact_rollback": rollbacks})
    if "temp_files" in deltas:
        yield Measurement.counter("temp_files", deltas["temp_files"], window_s)
    if "temp_bytes" in deltas:
        yield Measurement("temp_bytes", "gauge", "lower", "bytes", value=deltas["temp_bytes"],
                          extra={"window_s": round(window_s, 6)})
    if "deadlocks" in deltas:
        yield Measurement.counter("deadlocks", deltas["deadlocks"], window_s)


# --- pg_stat_statements -----------------------------------------------------------------------

def statements_reading(conn: Any) -> StatementsReading:
    """pg_stat_statements of this database, without the texts (pg_stat_statements(false):
    no read of the texts file); ProbeSkipped where it cannot be read."""
    import psycopg

    cur = conn.cursor()
    cur.execute(f"{OWN}SELECT 1 FROM pg_extension WHERE extname = 'pg_stat_statements'")
    if cur.fetchone() is None:
        raise ProbeSkipped("pg_stat_statements is not installed in this database "
                           "(shared_preload_libraries + CREATE EXTENSION pg_stat_statements)")
    total = "total_exec_time" if conn.info.server_version >= 130000 else "total_time"
    try:
        cur.execute(f"{OWN}SELECT queryid, sum(calls)::bigint, sum({total}) FROM pg_stat_statements(false) "
                    "WHERE dbid = (SELECT oid FROM pg_database WHERE datname = current_database()) "
                    "AND queryid IS NOT NULL GROUP BY queryid")
        by_query = {int(q): (int(calls), float(total_ms)) for q, calls, total_ms in cur.fetchall()}
    except psycopg.errors.ObjectNotInPrerequisiteState:
        raise ProbeSkipped("pg_stat_statements is installed but not loaded "
                           "(add it to shared_preload_libraries)") from None
    except psycopg.errors.InsufficientPrivilege:
        raise ProbeSkipped("pg_stat_statements is not readable by this role "
                           "(grant pg_read_all_stats)") from None
    if conn.info.server_version < 140000:  # pg_stat_statements_info arrived in 14
        return StatementsReading(by_query)
    stats_reset, dealloc = cur.execute(f"{OWN}SELECT stats_reset, dealloc FROM pg_stat_statements_info").fetchone()
    return StatementsReading(by_query, stats_reset, int(dealloc))


def _statement_texts(conn: Any, queryids: list[int]) -> dict[int, str]:
    rows = conn.execute(f"{OWN}SELECT queryid, query FROM pg_stat_statements "
                        "WHERE dbid = (SELECT oid FROM pg_database WHERE datname = current_database()) "
                        "AND queryid = ANY(%s)", (queryids,)).fetchall()
    texts: dict[int, str] = {}
    for queryid, text in rows:
        texts.setdefault(int(queryid), text or "")
    return texts


@probe("database", "statements", targets=_db_targets_quiet, window=True)
def statements(target: Target, ctx: ProbeContext) -> Iterator[Measurement | None]:
    """Mean execution time, during the run, of the statements with the most time in it."""
    attempts = Attempts(target)
    conn = _connect(target, ctx, attempts)
    before = None
    if conn is not None:
        with conn:
            before = statements_reading(conn)
    yield None  # the other probes run here
    conn = None if before is None else _connect(target, ctx, attempts)
    if conn is None:
        _refused(ctx, attempts, "start" if before is None else "end")
        return
    with conn:
        windows, notes = statement_deltas(before, statements_reading(conn))
        # Texts of a few more than are kept: utility statements and triage's own are skipped.
        texts = _statement_texts(conn, [w.queryid for w in windows[:TOP_STATEMENTS * 10]])
    for note in notes:
        ctx.note(note)
    kept = 0
    for w in windows:
        raw = texts.get(w.queryid, "")
        shown = None if raw.startswith(OWN.strip()) else statement_text(raw)
        if shown is None:
            continue
        yield Measurement("statement.%d.mean_time" % w.queryid, "gauge", "lower", "ms", value=round(w.mean_ms, 6),
                          extra={"query": shown, "calls": w.calls, "total_time_ms": round(w.total_ms, 3)})
        kept += 1
        if kept >= TOP_STATEMENTS:
            break
    if not kept:
        ctx.note("no planned statement of this database ran during the run (pg_stat_statements)")
