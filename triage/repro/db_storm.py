"""The storm of `triage repro db`: N pods restart at once with cold caches while steady
traffic goes on; what the database sees, second by second.

The model is the registry of the 2021 outage. Each pod serves image pulls arriving at
``rate`` per second (open loop: clients do not slow down because the pod did), each for one
of its ``keys`` hot image layers. A layer in the pod's cache is served at once; a miss runs
the image-layer-fetch query. A pod's pool opens connections lazily, as concurrent misses
need them, up to ``pool`` (one worker thread per connection; idle connections are reused
last-in first-out and kept open, as SQLAlchemy's and peewee's pools keep them). So the
connections a pod holds follow Little's law: misses per second x query time. With the
composite index a fetch takes ~0.1 ms and each pod needs one or two; without it every
fetch scans manifestblob, the server's CPUs saturate, queries queue, every pod opens its
whole pool, and pods x pool passes max_connections: "too many clients". A request waiting
longer than ``pool_timeout`` for a worker fails ("pool timeout"), as the app would answer 500.
Meanwhile the rest of the fleet looks manifests up at ``steady_rate`` (always an index scan):
its latency is the collateral damage.

A monitor connection (the embedded server's superuser over its unix socket, which may use
the reserved slots; with --dsn, the DSN's role, opened before the storm) reads
pg_stat_activity every ``READING_S``. Bounds: the side ends at ``duration`` (or ``SETTLE_S``
after the last pod is warm); requests are at most pods x rate x duration; connections at
most pods x pool; Ctrl-C (or the end) cancels queries in flight, and no thread outlives the
side by more than ``JOIN_S``.
"""

from __future__ import annotations

import heapq
import queue
import random
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Callable

from triage.errors import BadInput
from triage.probes.pg_connect import classify

from . import quay_schema
from .db_profile import StormProfile
from .progress import ReproProgress

APPLICATION = "triage-repro-db"  # the pods' connections, as the monitor counts them
STEADY_APPLICATION = "triage-repro-db-steady"
WARM_SHARE = 0.9  # a pod is warm when its cache holds this share of its hot layers
READING_S = 0.5
SETTLE_S = 1.0
JOIN_S = 1.0
RETRY_AFTER_S = 0.2  # a pod whose connection was refused opens none for this long
STEADY_POOL = 2
CONNECT_TIMEOUT_S = 2  # libpq's floor


@dataclass(frozen=True)
class StormOptions:
    rows: int = 200_000
    duration_s: float = 20.0
    rate: float = 30.0  # requests per second per pod
    keys: int = 60  # hot image layers per pod
    steady_rate: float = 20.0
    pool_timeout_s: float = 1.0
    statement_timeout_s: float = 5.0
    seed: int = 2021

    def validate(self) -> None:
        checks = ((self.rows, 1_000, 20_000_000, "--rows"), (self.duration_s, 1, 600, "--duration"),
                  (self.rate, 1, 1_000, "--rate"), (self.keys, 1, 10_000, "--keys"),
                  (self.steady_rate, 0, 1_000, "--steady-rate"))
        for value, low, high, what in checks:
            if not low <= value <= high:
                raise BadInput(f"{what}: expected {_n(low)}..{_n(high)}, got {_n(value)}")


def _n(value: float) -> str:
    return f"{value:,.0f}" if float(value).is_integer() else f"{value:g}"


@dataclass
class Reading:
    t: float
    active: int
    idle: int
    pods_total: int
    steady_total: int
    clients: int  # every client backend, the monitor's included


@dataclass
class SideResult:
    profile: str
    max_connections: int
    reserved: int
    duration_s: float = 0.0
    stopped_by: str = "duration"
    readings: list[Reading] = field(default_factory=list)
    fetch_ms: list[float] = field(default_factory=list)  # the query alone, of successful fetches
    fetch_t: list[float] = field(default_factory=list)  # when each finished (s into the side)
    request_ms: list[float] = field(default_factory=list)  # arrival -> answer, requests that missed the cache
    steady_ms: list[float] = field(default_factory=list)
    connect_ms: list[float] = field(default_factory=list)
    connect_attempts: int = 0
    connect_refusals: Counter = field(default_factory=Counter)
    errors: Counter = field(default_factory=Counter)  # failed requests by kind
    error_t: list[float] = field(default_factory=list)
    statement_timeouts: int = 0
    requests: int = 0
    hits: int = 0
    misses: int = 0
    steady_errors: int = 0
    warm_s: list[float | None] = field(default_factory=list)  # per pod

    @property
    def peak_connections(self) -> int:
        return max((r.pods_total for r in self.readings), default=0)

    @property
    def peak_clients(self) -> int:
        return max((r.clients for r in self.readings), default=0)

    @property
    def usable(self) -> int:
        return self.max_connections - self.reserved

    @property
    def failed_requests(self) -> int:
        return sum(self.errors.values())

    @property
    def warm_pods(self) -> int:
        return sum(1 for w in self.warm_s if w is not None)


class _Refused(Exception):
    def __init__(self, kind: str):
        self.kind = kind


class _Stats:
    """Everything the threads record, under one lock."""

    def __init__(self, side: SideResult, t0: float):
        self.side, self.t0, self.lock = side, t0, threading.Lock()

    def now(self) -> float:
        return time.monotonic() - self.t0

    def error(self, kind: str) -> None:
        with self.lock:
            self.side.errors[kind] += 1
            self.side.error_t.append(self.now())

    def fetched(self, query_ms: float, request_ms: float) -> None:
        with self.lock:
            self.side.fetch_ms.append(query_ms)
            self.side.fetch_t.append(self.now())
            self.side.request_ms.append(request_ms)

    def connected(self, ms: float | None, kind: str | None = None) -> None:
        with self.lock:
            self.side.connect_attempts += 1
            if ms is not None:
                self.side.connect_ms.append(ms)
            if kind is not None:
                self.side.connect_refusals[kind] += 1


class Pool:
    """Workers of one pod (or of the steady traffic), each with at most one connection at a
    time; connections opened only when none is idle, kept open, reused LIFO."""

    def __init__(self, size: int, connect: Callable[[], Any], stats: _Stats, stop: threading.Event,
                 options: StormOptions, serve: Callable[["Pool", Any, float, Any], None], record_connects: bool):
        self.size, self.connect, self.stats, self.stop, self.options = size, connect, stats, stop, options
        self.serve, self.record_connects = serve, record_connects
        self.jobs: queue.SimpleQueue = queue.SimpleQueue()
        self.idle: list[Any] = []
        self.open = 0
        self.running: set[Any] = set()
        self.retry_at = 0.0
        self.opening = False  # one connection opened at a time (as HikariCP does): the pool grows only under demand
        self.changed = threading.Condition()  # a connection came back, or the pool may open one again
        self.threads = [threading.Thread(target=self._work, daemon=True, name="triage-repro-db") for _ in range(size)]

    def start(self) -> None:
        for t in self.threads:
            t.start()

    def submit(self, arrival: float, job: Any) -> None:
        self.jobs.put((arrival, job))

    def _work(self) -> None:
        while not self.stop.is_set():
            try:
                arrival, job = self.jobs.get(timeout=0.1)
            except queue.Empty:
                continue
            try:
                conn = self._checkout(arrival + self.options.pool_timeout_s)
            except _Refused as refused:
                self.stats.error(refused.kind)  # the app answers 500
                continue
            try:
                self.serve(self, conn, arrival, job)
            finally:
                self._checkin(conn)

    def _checkout(self, deadline: float) -> Any:
        """An idle connection, else a new one while fewer than ``size`` are open and no other
        is being opened, else wait for one until ``deadline`` (the request's pool timeout):
        _Refused("pool timeout"). After a refusal the pool opens none for RETRY_AFTER_S."""
        import psycopg

        with self.changed:
            while True:
                now = time.monotonic()
                if self.idle:
                    conn = self.idle.pop()
                    self.running.add(conn)
                    return conn
                if now >= deadline or self.stop.is_set():
                    raise _Refused("pool timeout")
                if self.open < self.size and now >= self.retry_at and not self.opening:
                    self.open += 1
                    self.opening = True
                    break
                self.changed.wait(min(deadline, max(self.retry_at, now + 0.01)) - now)
        started = time.perf_counter()
        try:
            conn = self.connect()
        except psycopg.Error as exc:
            outcome = classify(getattr(exc, "sqlstate", None), str(exc),
                               timed_out=isinstance(exc, getattr(psycopg.errors, "ConnectionTimeout", ())),
                               listening=lambda: True)  # the monitor is connected: the server is there
            with self.changed:
                self.open -= 1
                self.opening = False
                self.retry_at = time.monotonic() + RETRY_AFTER_S
                self.changed.notify_all()
            if self.record_connects:
                self.stats.connected(None, outcome.kind)
            raise _Refused(outcome.kind) from None
        if self.record_connects:
            self.stats.connected((time.perf_counter() - started) * 1000.0)
        with self.changed:
            self.opening = False
            self.running.add(conn)
            self.changed.notify_all()
        return conn

    def _checkin(self, conn: Any) -> None:
        with self.changed:
            self.running.discard(conn)
            if conn.closed:
                self.open -= 1
            else:
                self.idle.append(conn)
            self.changed.notify()

    def cancel(self) -> None:
        """Cancel the queries in flight (the side is over, or Ctrl-C)."""
        with self.changed:
            self.changed.notify_all()
            running = list(self.running)
        for conn in running:
            try:
                conn.cancel_safe(timeout=1)
            except Exception:  # noqa: BLE001 - the connection may be gone already; nothing to cancel
                pass

    def close(self) -> None:
        """Every connection closed; call once the workers were given their JOIN_S to end."""
        with self.changed:
            conns, self.idle = self.idle + list(self.running), []
        for conn in conns:
            try:
                conn.close()
            except Exception:  # noqa: BLE001 - closing a connection the server already ended
                pass


class Pod:
    """One restarted pod: a cold cache of its hot layers, filled by the fetches it runs."""

    def __init__(self, index: int, profile: StormProfile, options: StormOptions, stats: _Stats,
                 stop: threading.Event, connect: Callable[[], Any]):
        self.index = index
        self.keys = quay_schema.hot_keys(index, options.keys, options.rows, options.seed)
        self.cache: set[tuple[int, str]] = set()
        self.warm_at: float | None = None
        self.stats = stats
        self.pool = Pool(profile.pool, connect, stats, stop, options, self._fetch, record_connects=True)

    def request(self, arrival: float, key: tuple[int, str]) -> None:
        with self.stats.lock:
            self.stats.side.requests += 1
            hit = key in self.cache
            if hit:
                self.stats.side.hits += 1
            else:
                self.stats.side.misses += 1
        if not hit:
            self.pool.submit(arrival, key)

    def _fetch(self, pool: Pool, conn: Any, arrival: float, key: tuple[int, str]) -> None:
        import psycopg

        started = time.perf_counter()
        try:
            conn.execute(quay_schema.IMAGE_LAYER_FETCH, key).fetchall()
        except psycopg.errors.QueryCanceled:
            if not pool.stop.is_set():
                with self.stats.lock:
                    self.stats.side.statement_timeouts += 1
                self.stats.error("statement timeout")
            return
        except psycopg.Error as exc:
            if not pool.stop.is_set():
                self.stats.error(classify(getattr(exc, "sqlstate", None), str(exc)).kind)
            conn.close()
            return
        query_ms = (time.perf_counter() - started) * 1000.0
        self.stats.fetched(query_ms, (time.monotonic() - arrival) * 1000.0)
        with self.stats.lock:
            self.cache.add(key)
            if self.warm_at is None and len(self.cache) >= WARM_SHARE * len(self.keys):
                self.warm_at = self.stats.now()


def _steady(stats: _Stats) -> Callable[[Pool, Any, float, Any], None]:
    def serve(pool: Pool, conn: Any, arrival: float, key: tuple[int, str]) -> None:
        import psycopg

        started = time.perf_counter()
        try:
            conn.execute(quay_schema.MANIFEST_LOOKUP, key).fetchall()
        except psycopg.Error as exc:
            if not pool.stop.is_set():
                with stats.lock:
                    stats.side.steady_errors += 1
            if not isinstance(exc, psycopg.errors.QueryCanceled):
                conn.close()  # broken: the pool opens another
            return
        with stats.lock:
            stats.side.steady_ms.append((time.perf_counter() - started) * 1000.0)

    return serve


def _arrivals(pods: list[Pod], steady: Pool | None, options: StormOptions, stats: _Stats,
              stop: threading.Event) -> None:
    """Open-loop arrivals: exponential gaps (seeded) per pod and for the steady traffic."""
    rng = random.Random(options.seed)
    heap: list[tuple[float, int]] = [(rng.expovariate(options.rate), i) for i in range(len(pods))]
    manifests = quay_schema.manifest_keys(max(options.keys, 100), options.rows, options.seed)
    if steady is not None and options.steady_rate:
        heap.append((rng.expovariate(options.steady_rate), -1))
    heapq.heapify(heap)
    while heap and not stop.is_set():
        at, who = heapq.heappop(heap)
        if at >= options.duration_s:
            continue
        if stop.wait(max(0.0, at - stats.now())):
            return
        arrival = time.monotonic()
        if who < 0:
            steady.submit(arrival, rng.choice(manifests))  # type: ignore[union-attr]
            heapq.heappush(heap, (at + rng.expovariate(options.steady_rate), who))
        else:
            pods[who].request(arrival, rng.choice(pods[who].keys))
            heapq.heappush(heap, (at + rng.expovariate(options.rate), who))


def _monitor(conn: Any, stats: _Stats, stop: threading.Event) -> None:
    # Every client backend, the monitor's own included: it holds a slot of max_connections too.
    sql = ("SELECT count(*) FILTER (WHERE application_name = %(pods)s AND state = 'active'), "
           "count(*) FILTER (WHERE application_name = %(pods)s AND state = 'idle'), "
           "count(*) FILTER (WHERE application_name = %(pods)s), "
           "count(*) FILTER (WHERE application_name = %(steady)s), count(*) "
           "FROM pg_stat_activity WHERE backend_type = 'client backend'")
    while True:
        t = stats.now()
        row = conn.execute(sql, {"pods": APPLICATION, "steady": STEADY_APPLICATION}).fetchone()
        with stats.lock:
            stats.side.readings.append(Reading(round(t, 3), *map(int, row)))
        if stop.wait(READING_S):
            return


def run_side(profile: StormProfile, options: StormOptions, *, monitor: Any,
             connect: Callable[[str], Any], progress: ReproProgress, index: int, total: int) -> SideResult:
    """One storm against the prepared schema. ``connect(application_name)`` opens a pod's
    connection (search_path and statement_timeout set); ``monitor`` is a connection of its own."""
    max_connections, reserved = monitor.execute(
        "SELECT current_setting('max_connections')::int, current_setting('superuser_reserved_connections')::int"
    ).fetchone()
    side = SideResult(profile.spec, int(max_connections), int(reserved))
    stop = threading.Event()
    stats = _Stats(side, time.monotonic())
    pods = [Pod(i, profile, options, stats, stop, lambda: connect(APPLICATION)) for i in range(profile.pods)]
    steady = Pool(STEADY_POOL, lambda: connect(STEADY_APPLICATION), stats, stop, options, _steady(stats),
                  record_connects=False) if options.steady_rate else None
    pools = [p.pool for p in pods] + ([steady] if steady else [])
    threads = [threading.Thread(target=_monitor, args=(monitor, stats, stop), daemon=True),
               threading.Thread(target=_arrivals, args=(pods, steady, options, stats, stop), daemon=True)]
    progress.side_started(index, total, profile.spec, options.duration_s)
    try:
        for pool in pools:
            pool.start()
        for t in threads:
            t.start()
        while True:
            now = stats.now()
            progress.tick(min(now, options.duration_s))
            warm = [p.warm_at for p in pods]
            if now >= options.duration_s:
                break
            if all(w is not None for w in warm) and now >= max(warm) + SETTLE_S:  # type: ignore[type-var]
                side.stopped_by = "warm"
                break
            stop.wait(0.1)  # the main loop's clock; Ctrl-C lands here within 0.1 s
    except KeyboardInterrupt:
        side.stopped_by = "interrupted"
        raise
    finally:
        side.duration_s = round(stats.now(), 3)
        stop.set()
        for pool in pools:
            pool.cancel()
        deadline = time.monotonic() + JOIN_S
        for t in threads + [t for pool in pools for t in pool.threads]:
            t.join(max(0.0, deadline - time.monotonic()))
        for pool in pools:
            pool.close()
        progress.side_done()
    side.warm_s = [None if p.warm_at is None else round(p.warm_at, 3) for p in pods]
    return side
