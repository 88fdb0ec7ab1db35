"""The one scheduler every ramp runs on: one step of load, open loop or closed loop.

Open loop (app, dns): request *i* of a step is due at ``t0 + i / rate``, whatever became of
the earlier ones. The dispatcher (the calling thread) hands each due request to an idle
worker, the most recently idle first (so a few connections carry a light step instead of
every worker opening one), or, when every worker is busy, to a backlog the workers drain.
Latency is measured from the *intended* send time, so a stalled server cannot hide behind a
client that slowed down with it (coordinated omission): time in the backlog counts.

Closed loop (database): ``offered`` clients, each running its request back to back; a new
connection per group is opened outside the clock.

Groups: a step's requests fall into ``groups`` consecutive slices by their index, and each
worker opens a fresh connection (socket, session) when it meets a newer slice, so the
cluster-aware tests of the judge apply to load steps as to idle probes.

Whose lag is it. The generator's own lag for a request is how late the dispatcher handed it
out, plus, for a request handed to an idle worker, how late that worker started it; a
request that waited in the backlog waited for the server (every worker was in a request).
The step is *generator-limited* when the generator could not offer the rate — more than 1%
of the step's requests not handed out by 5% of its duration after its end — or when the step
failed its SLO and the generator's own lag or CPU can account for it (see
``StepResult.generator_limit``). Never the server's capacity.

Bounds: a step ends at its duration, its request count, the caller's ``stop_at`` (the run's
deadline) or Ctrl-C (KeyboardInterrupt propagates from the dispatcher's wait, after the
workers were told to stop); requests still unanswered one request timeout after the last
was due are counted as failed, their time so far as latency.
"""

from __future__ import annotations

import collections
import itertools
import math
import threading
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Protocol, Sequence

from triage.stats import quantile as stats_quantile

clock = time.perf_counter

# More than this share of a step's requests not handed out by its end (and CATCH_UP_SHARE of
# its duration after): the generator did not offer the rate (bench/load_generator.py).
GENERATOR_SHORTFALL = 0.01
CATCH_UP_SHARE = 0.05
# A request counts as late for the generator when it started more than this after its
# intended time while a worker was free (sleep overshoot on a busy 2-core VM: p99 1.4-3 ms).
LATE_MS = 1.0
# Closed loop and drains poll this often for the end, the deadline and Ctrl-C (< 1 s).
POLL_S = 0.05
# After a step's last request was due, those in flight get their own timeout and this much
# more before they count as unfinished: a request's timeout is its transport's, and a busy
# host can stall this process for tens of ms (p99 lag up to 67 ms here at 300 req/s), which
# must not turn the server's answers into failures.
DRAIN_GRACE_S = 0.5
# A step that failed its SLO while the generator's own lag (p99) was above this share of the
# SLO is not the server's failure: half the latency budget went to the generator. Seen here,
# 2 ms lock at 600 req/s (the server saturated): lag p99 22 ms; no lock at 900 req/s (the
# generator CPU-bound): 162 ms.
GENERATOR_LAG_SHARE = 0.5
# A generator whose threads ran this many cores (closed loop), or would need to at their cost
# per request (open loop), is at its ceiling: Python runs one thread's bytecode at a time.
GENERATOR_BUSY_CORES = 0.9


class ConnectFailed(Exception):
    """A transport's connect was refused; the message is a short kind with no secret in it
    ("too many clients 1"), recorded as the request's error."""


class Transport(Protocol):
    """How one layer sends one request. ``connect`` may raise (a refused connection is an
    error of that request); ``call`` never raises for the network: it returns None when the
    answer was what a client expects, else a short error kind ("timeout", "status 503")."""

    def connect(self) -> Any: ...
    def call(self, conn: Any) -> str | None: ...
    def close(self, conn: Any) -> None: ...


@dataclass(frozen=True)
class StepSpec:
    offered: float  # requests per second (open loop) or clients (closed loop)
    duration_s: float
    groups: int
    max_requests: int
    timeout_s: float  # a request's own bound (the transport applies it); drains wait this long
    closed: bool = False
    workers: int = 64  # open loop: at most this many requests in flight


@dataclass
class StepResult:
    """What one step saw. ``latencies_ms`` are in group order (``group_sizes``), each from
    the request's intended send time; failed and unfinished requests are in them with the
    time they cost their client."""

    spec: StepSpec
    latencies_ms: list[float] = field(default_factory=list)
    group_sizes: list[int] = field(default_factory=list)
    trials: int = 0
    errors: int = 0
    error_kinds: dict[str, int] = field(default_factory=dict)
    not_offered: int = 0  # due in the step but never handed out: the generator fell behind
    queued: int = 0  # found every worker busy (the server was holding them)
    late: int = 0  # started late by the generator's own doing (see LATE_MS)
    lag_ms: list[float] = field(default_factory=list)  # the generator's own lag per request
    server_ms: list[float] = field(default_factory=list)  # latency minus the generator's lag
    elapsed_s: float = 0.0
    sent: int = 0  # requests a worker started (the backlog's leftovers never were)
    wall_s: float = 0.0  # from the first due time to the end of the drain
    in_flight_peak: int = 0
    generator_cores: float = 0.0  # CPU this process's threads ran, per second of the step
    stopped_by: str | None = None  # None: ran its course; "deadline"

    @property
    def achieved(self) -> float:
        """Open loop: requests per second actually offered; closed loop: completed per second."""
        offered = self.trials - self.not_offered
        return offered / self.elapsed_s if self.elapsed_s > 0 else 0.0

    @property
    def sent_rate(self) -> float:
        """Requests per second the generator actually put on the wire: the rate it managed,
        what "generator-limited at N" reports (``achieved`` counts those only handed out)."""
        return self.sent / self.wall_s if self.wall_s > 0 else 0.0

    @property
    def error_share(self) -> float:
        return self.errors / self.trials if self.trials else 0.0

    def p99(self, values: Sequence[float] | None = None) -> float | None:
        return quantile(self.latencies_ms if values is None else values, 0.99)

    def shortfall(self) -> bool:
        """The generator did not offer the rate (open loop only)."""
        return not self.spec.closed and self.not_offered > GENERATOR_SHORTFALL * max(1, self.trials)

    def generator_broke(self, slo_ms: float) -> bool:
        """The step's p99 passes ``slo_ms`` only with the generator's own lag in it."""
        total, server = self.p99(), self.p99(self.server_ms)
        return total is not None and server is not None and total > slo_ms >= server

    def generator_limit(self, slo_ms: float, failed: bool) -> str | None:
        """Why the generator, not the server, decided this step; None when it did not. A
        step that passed its SLO passed, however hard the generator worked for it; one that
        failed is the generator's when its own lag could explain it (see GENERATOR_LAG_SHARE)
        or, closed loop, when it ran out of CPU."""
        offered = self.spec.offered
        if self.shortfall():
            return f"it handed out {self.achieved:.0f} of the {offered:g} per second asked"
        if not failed:
            return None
        lag = quantile(self.lag_ms, 0.99) or 0.0
        if self.generator_broke(slo_ms) or (not self.spec.closed and lag > GENERATOR_LAG_SHARE * slo_ms):
            return f"its own scheduling lag (p99 {lag:.3g} ms) is too large a part of the p99 SLO ({slo_ms:.3g} ms)"
        if self.spec.closed and self.generator_cores >= GENERATOR_BUSY_CORES:
            return f"it ran {self.generator_cores:.2f} CPU cores, its ceiling"
        if not self.spec.closed and self.needed_cores() >= GENERATOR_BUSY_CORES:
            # Its workers, not the server, held the backlog: at what a request cost it in CPU here,
            # the rate asked needs more than the one core Python gives it (a saturated server
            # instead keeps workers waiting, which costs none: 0.43 cores at a 2 ms lock's 500 req/s).
            return (f"at its cost of {1000 * self.cpu_per_request:.2f} ms "
                    f"of CPU a request it would need {self.needed_cores():.1f} cores to offer {offered:g} per second")
        return None

    @property
    def completed(self) -> int:
        """Requests that ended in the step (answered, failed or timed out)."""
        return self.trials - self.not_offered - self.error_kinds.get("unfinished", 0)

    @property
    def cpu_per_request(self) -> float:
        """The generator's CPU seconds per completed request in the step."""
        return self.generator_cores * self.elapsed_s / max(1, self.completed)

    def needed_cores(self) -> float:
        """CPU the offered rate would take at the step's measured cost per completed request."""
        if self.generator_cores <= 0:
            return 0.0
        return self.cpu_per_request * self.spec.offered


def cpu_sample() -> dict[str, float]:
    """Per thread of this process, the seconds it ran on a CPU: /proc/self/task/*/schedstat
    (Linux; threads that ended in between are missed); elsewhere the process's CPU time."""
    import os

    out: dict[str, float] = {}
    try:
        tasks = os.listdir("/proc/self/task")
    except OSError:
        return {"process": time.process_time()}
    for tid in tasks:
        try:
            with open(f"/proc/self/task/{tid}/schedstat") as f:
                out[tid] = int(f.read().split()[0]) / 1e9
        except (OSError, ValueError, IndexError):
            continue
    return out or {"process": time.process_time()}


def cores_used(before: dict[str, float], after: dict[str, float], wall_s: float) -> float:
    """CPU seconds the threads ran between two samples, per second of wall time."""
    ran = sum(max(0.0, t - before.get(tid, 0.0)) for tid, t in after.items())
    return ran / wall_s if wall_s > 0 else 0.0


def quantile(values: Sequence[float], q: float) -> float | None:
    """The q-quantile as the judge and the reports compute it (triage.stats), None of nothing:
    the p99 a stop rule reads is the p99 the report shows."""
    return stats_quantile(sorted(values), q) if values else None


class _Pool:
    """Workers, the idle stack, the backlog and the records; one lock for all of it."""

    def __init__(self, transport: Transport, spec: StepSpec, total: int):
        self.transport, self.spec, self.total = transport, spec, total
        self.lock = threading.Lock()
        self.idle: list[_Worker] = []
        self.backlog: collections.deque = collections.deque()
        self.records: list[tuple] = []  # (index, intended, lag_s, ended, error)
        self.in_flight = 0
        self.in_flight_peak = 0
        self.queued = 0
        self.closed = False
        self.crash: BaseException | None = None
        self.workers: list[_Worker] = []

    def group_of(self, index: int) -> int:
        return min(self.spec.groups - 1, index * self.spec.groups // max(1, self.total))

    def hand(self, index: int, intended: float) -> None:
        """Give request ``index`` (due at ``intended``) to the most recently idle worker, or
        to the backlog when every worker is in a request."""
        with self.lock:
            lag = clock() - intended
            if self.idle:
                worker = self.idle.pop()
                self.in_flight += 1
                self.in_flight_peak = max(self.in_flight_peak, self.in_flight)
                worker.slot = (index, intended, lag, True)
                worker.wake.release()
                return
            self.queued += 1
            self.backlog.append((index, intended, lag, False))

    def finished(self, worker: "_Worker", record: tuple) -> tuple | None:
        """Record a request; the next one for this worker (from the backlog), or None: idle."""
        with self.lock:
            if self.closed:
                return None
            self.records.append(record)
            if self.backlog:
                return self.backlog.popleft()
            self.in_flight -= 1
            self.idle.append(worker)
            return None

    def close(self) -> tuple[list[tuple], list[tuple], list[tuple]]:
        """Stop taking records; (records, requests in flight, requests still in the backlog)."""
        with self.lock:
            self.closed = True
            in_flight = [w.current for w in self.workers if w.current is not None]
            backlog = list(self.backlog)
            self.backlog.clear()
            idle, self.idle = self.idle, []
            for worker in self.workers:
                worker.stop = True
        for worker in idle:
            worker.wake.release()
        return self.records, in_flight, backlog


class _Worker(threading.Thread):
    """Sends the requests it is handed, one at a time, on its own connection (a new one
    for each newer group); then takes the backlog's oldest, or goes idle."""

    def __init__(self, pool: _Pool, number: int):
        super().__init__(daemon=True, name=f"triage-load-{number}")
        self.pool = pool
        self.wake = threading.Lock()
        self.wake.acquire()
        self.slot: tuple | None = None  # (index, intended, dispatch lag, handed to an idle worker)
        self.current: tuple | None = None  # (index, intended) of the request under way
        self.stop = False

    def run(self) -> None:
        pool, transport = self.pool, self.pool.transport
        conn, conn_group = None, -1
        try:
            while True:
                self.wake.acquire()
                slot, self.slot = self.slot, None
                while slot is not None and not self.stop:
                    index, intended, lag, was_idle = slot
                    self.current = (index, intended)
                    started = clock()
                    if was_idle:
                        lag = started - intended  # the dispatcher's lag and this worker's wake-up
                    group = pool.group_of(index)
                    error = None
                    if group != conn_group:
                        (conn, error), conn_group = _reconnect(transport, conn), group
                    if error is None:
                        error = transport.call(conn) if conn is not None else "connect"
                    record = (index, intended, lag, clock(), error)
                    self.current = None
                    slot = pool.finished(self, record)
                if self.stop:
                    return
        except BaseException as exc:  # a bug, not a failed request: the step re-raises it
            pool.crash = pool.crash or exc
        finally:
            if conn is not None:
                try:
                    transport.close(conn)
                except Exception:  # noqa: BLE001 - closing a broken connection
                    pass


def _reconnect(transport: Transport, conn: Any) -> tuple[Any, str | None]:
    """A new group's connection: the old one closed, a fresh one opened; (connection or None,
    the error kind that fails the request when it could not be opened)."""
    if conn is not None:
        transport.close(conn)
    try:
        return transport.connect(), None
    except ConnectFailed as exc:
        return None, f"connect: {exc}"
    except Exception as exc:  # noqa: BLE001 - a refused connection fails this request, not the step
        return None, f"connect: {type(exc).__name__}"  # the type only: a message may quote a secret


def _summarise(spec: StepSpec, records: list[tuple], unfinished: list[tuple], ended: float,
               group_of: Callable[[int], int]) -> StepResult:
    result = StepResult(spec)
    by_group: dict[int, list[float]] = {}
    kinds: collections.Counter[str] = collections.Counter()
    for index, intended, lag, done, error in records:
        latency = (done - intended) * 1000.0
        by_group.setdefault(group_of(index), []).append(latency)
        result.lag_ms.append(lag * 1000.0)
        result.server_ms.append(latency - lag * 1000.0)
        if lag * 1000.0 > LATE_MS:
            result.late += 1
        if error is not None:
            kinds[error] += 1
    for index, intended in unfinished:
        by_group.setdefault(group_of(index), []).append((ended - intended) * 1000.0)
        kinds["unfinished"] += 1
    for g in sorted(by_group):
        result.latencies_ms.extend(by_group[g])
        result.group_sizes.append(len(by_group[g]))
    result.trials = len(records) + len(unfinished)
    result.errors = sum(kinds.values())
    result.error_kinds = dict(kinds.most_common())
    return result


def run_open_step(transport: Transport, spec: StepSpec, stop_at: float) -> StepResult:
    """One open-loop step at ``spec.offered`` requests per second (see the module docstring).
    ``stop_at``: a ``clock()`` time the step must end by (the run's deadline)."""
    total = max(1, min(spec.max_requests, math.ceil(spec.offered * spec.duration_s)))
    pool = _Pool(transport, spec, total)
    cpu_before, wall_before = cpu_sample(), clock()
    pool.workers = [_Worker(pool, i) for i in range(max(1, spec.workers))]
    for worker in pool.workers:
        worker.start()
        pool.idle.append(worker)
    pool.idle.reverse()  # the first worker on top of the stack
    interval = 1.0 / spec.offered
    # Requests may still be handed out this long after the step's end (late: their latency
    # says so); only a generator further behind than that did not offer the rate. 5% of the
    # step: a 12 ms stall at the end of a 1.5 s step is lag, not a lower rate.
    catch_up = max(interval, CATCH_UP_SHARE * spec.duration_s)
    t0 = clock() + 0.002
    end = min(t0 + total * interval, stop_at)
    sent, stopped_by = 0, None
    try:
        for index in range(total):
            due = t0 + index * interval
            if due >= end:
                stopped_by = None if end < stop_at else "deadline"
                break
            wait = due - clock()
            if wait > 0:
                time.sleep(wait)
            if clock() >= end + catch_up:  # still behind well past the step's end: the rest is not offered
                break
            pool.hand(index, due)
            sent += 1
            if pool.crash is not None:
                break
        _drain(pool, min(end + spec.timeout_s + DRAIN_GRACE_S, stop_at))
        if clock() >= stop_at and (sent < total or pool.in_flight):
            stopped_by = "deadline"
    except KeyboardInterrupt:
        pool.close()
        raise
    ended = clock()
    cores = cores_used(cpu_before, cpu_sample(), ended - wall_before)
    records, in_flight, backlog = pool.close()
    if pool.crash is not None:
        raise pool.crash
    unfinished = [slot[:2] for slot in in_flight] + [slot[:2] for slot in backlog]
    result = _summarise(spec, records, unfinished, ended, pool.group_of)
    result.not_offered = total - sent
    result.trials += result.not_offered
    result.queued = pool.queued
    result.in_flight_peak = pool.in_flight_peak
    result.generator_cores = cores
    result.elapsed_s = max(1e-9, min(ended, t0 + total * interval) - t0)
    result.sent, result.wall_s = len(records) + len(in_flight), ended - t0
    result.stopped_by = stopped_by
    return result


def _drain(pool: _Pool, until: float) -> None:
    """Wait for the requests in flight (and the backlog) until ``until``; Ctrl-C-responsive."""
    while clock() < until:
        with pool.lock:
            if not pool.in_flight and not pool.backlog:
                return
        time.sleep(min(POLL_S / 5, max(0.0, until - clock())))


def run_closed_step(transport: Transport, spec: StepSpec, stop_at: float) -> StepResult:
    """One closed-loop step: ``spec.offered`` clients, each request back to back."""
    clients = max(1, int(spec.offered))
    cpu_before = cpu_sample()
    t0 = clock()
    end = min(t0 + spec.duration_s, stop_at)
    slice_s = spec.duration_s / max(1, spec.groups)
    counter = itertools.count()
    records: list[tuple] = []
    crashed: list[BaseException] = []
    stop = threading.Event()
    current: dict[int, tuple] = {}

    def client(number: int) -> None:
        conn, conn_group = None, -1
        try:
            while not stop.is_set():
                now = clock()
                group = min(spec.groups - 1, int((now - t0) / slice_s))
                if now >= end or next(counter) >= spec.max_requests:
                    return
                error = None
                if group != conn_group:  # outside the clock: a pool opens ahead of need
                    (conn, error), conn_group = _reconnect(transport, conn), group
                intended = clock()
                current[number] = (group, intended)
                if error is None:
                    error = transport.call(conn) if conn is not None else "connect"
                done = clock()
                del current[number]
                if not stop.is_set():
                    records.append((group, intended, 0.0, done, error))
        except BaseException as exc:  # a bug, not a failed request
            crashed.append(exc)
        finally:
            if conn is not None:
                try:
                    transport.close(conn)
                except Exception:  # noqa: BLE001
                    pass

    threads = [threading.Thread(target=client, args=(i,), daemon=True, name=f"triage-load-client-{i}")
               for i in range(clients)]
    for t in threads:
        t.start()
    stopped_by = None
    try:
        drain_until = min(end + spec.timeout_s + DRAIN_GRACE_S, stop_at)
        for t in threads:  # joined in slices: Ctrl-C and the deadline are heard within POLL_S
            while t.is_alive() and clock() < drain_until and not crashed:
                t.join(POLL_S)
        if clock() >= stop_at:
            stopped_by = "deadline"
    finally:
        stop.set()
    ended = clock()
    cores = cores_used(cpu_before, cpu_sample(), ended - t0)
    if crashed:
        raise crashed[0]
    taken = list(records)
    unfinished = list(current.values())
    result = _summarise(spec, taken, unfinished, ended, lambda g: g)
    result.elapsed_s = max(1e-9, min(ended, end) - t0)
    result.sent, result.wall_s = len(taken) + len(unfinished), ended - t0
    result.in_flight_peak = clients
    result.generator_cores = cores
    result.stopped_by = stopped_by
    return result
