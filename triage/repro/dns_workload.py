"""`triage repro dns`'s workload: an app-like request loop that shows a few ms of DNS
becoming pool exhaustion, and the options that shape it.

The model is the registry of the 2020 hunt: a request checks a connection out of a bounded
pool (size P) when it starts, as a Flask app that connects its database per request does,
resolves its K backend hosts (database, cache, storage) while holding it, works for D ms and
returns the connection. Requests arrive at a fixed rate (open loop: traffic does not slow
down because the service did) onto W worker threads. Slower lookups keep connections checked
out longer; near capacity, the pool runs dry and requests queue for it.

How a name is resolved (glibc or the wire stub) is the caller's: ``run_workload`` takes a
``resolve`` function (see dns_sides).
"""

from __future__ import annotations

import re
import threading
import time
from collections import Counter
from dataclasses import asdict, dataclass, field
from typing import Any, Callable, Protocol

from triage.dns_client import Lookup
from triage.errors import BadInput
from triage.resolvconf import split_hostport

DEFAULT_NAMES = ("db.quay.svc", "cache.quay.svc", "storage.quay.svc")
DEFAULT_MAX_QUERIES = 200_000
PATHS = ("auto", "libc", "wire")
_MAX_LABEL = 63  # RFC 1035: octets per label


@dataclass(frozen=True)
class WorkloadOptions:
    names: tuple[str, ...] = DEFAULT_NAMES
    workers: int = 16
    pool_size: int = 8
    hold_ms: float = 20.0
    rate: float = 200.0  # requests per second; 0: closed loop, every worker as fast as it can
    duration_s: float = 10.0
    max_queries: int = DEFAULT_MAX_QUERIES
    path: str = "auto"
    resolver: str | None = None  # "IP[:port]": a real resolver instead of the embedded server
    system: bool = False  # this machine's own resolver configuration

    def validate(self) -> None:
        if not self.names:
            raise BadInput("--names: expected at least one name")
        for name in self.names:
            if (not re.fullmatch(r"[A-Za-z0-9_.-]{1,253}", name) or ".." in name or name.startswith(".")
                    or any(len(label) > _MAX_LABEL for label in name.split("."))):
                raise BadInput(f"--names: {name!r} is not a host name")
        checks = ((self.workers, 1, 1024, "--workers"), (self.pool_size, 1, 1024, "--pool"))
        for value, low, high, what in checks:
            if not low <= value <= high:
                raise BadInput(f"{what}: expected {low}..{high}, got {value}")
        if not 0 <= self.hold_ms <= 60_000:
            raise BadInput(f"--hold-ms: expected 0..60000, got {self.hold_ms:g}")
        if not 0 <= self.rate <= 100_000:
            raise BadInput(f"--rate: expected 0..100000 requests/s, got {self.rate:g}")
        if not 0 < self.duration_s <= 3600:
            raise BadInput(f"--duration: expected more than 0 and at most 3600 s, got {self.duration_s:g}")
        if self.max_queries < 1:
            raise BadInput(f"--max-queries: expected at least 1, got {self.max_queries}")
        if self.path not in PATHS:
            raise BadInput(f"--path: expected one of {', '.join(PATHS)}, got {self.path!r}")
        if self.resolver and self.system:
            raise BadInput("--resolver and --system: pick one")
        if self.resolver:
            self.resolver_address()

    def resolver_address(self) -> tuple[str, int]:
        """``--resolver`` as (ip, port): ``10.0.0.10``, ``10.0.0.10:5353``, ``[fd00::1]:53``, ``::1``."""
        try:
            return split_hostport((self.resolver or "").strip())
        except ValueError as exc:
            raise BadInput(f"--resolver: {exc}") from None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "WorkloadOptions":
        return cls(**{**d, "names": tuple(d["names"])})


@dataclass
class SideResult:
    """What one side saw: raw samples (ms) and counts. Crosses the namespace boundary as JSON.

    ``lookup_ms`` holds successful lookups only: a failed lookup's time (an instant
    "connection refused", or the timeouts it waited out) is no lookup latency; it goes in
    ``failed_lookup_ms``, and why it failed in ``failure_reasons``.
    """

    profile: str
    lookup_ms: list[float] = field(default_factory=list)
    failed_lookup_ms: list[float] = field(default_factory=list)
    request_ms: list[float] = field(default_factory=list)
    pool_wait_ms: list[float] = field(default_factory=list)
    lookups: int = 0
    timeouts: int = 0
    failures: int = 0
    failure_reasons: dict[str, int] = field(default_factory=dict)
    requests: int = 0
    failed_requests: int = 0
    pool_peak: int = 0
    queries: int | None = None
    queries_estimated: bool = False
    resolver_timeout_s: float = 0.0
    duration_s: float = 0.0
    stopped_by: str = "duration"
    server_stats: dict | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "SideResult":
        return cls(**{k: d[k] for k in cls.__dataclass_fields__ if k in d})


class _Pool:
    """A bounded connection pool that only counts: who waits how long, how many are out."""

    def __init__(self, size: int):
        self._slots = threading.Semaphore(size)
        self._lock = threading.Lock()
        self.in_use = 0
        self.peak = 0

    def acquire(self) -> None:
        self._slots.acquire()
        with self._lock:
            self.in_use += 1
            self.peak = max(self.peak, self.in_use)

    def release(self) -> None:
        with self._lock:
            self.in_use -= 1
        self._slots.release()


class SideProgress(Protocol):
    def tick(self, elapsed_s: float) -> None: ...


def run_workload(profile_spec: str, options: WorkloadOptions, resolve: Callable[[str], Lookup],
                 query_count: Callable[[], int | None], resolver_timeout_s: float,
                 progress: SideProgress | None = None) -> SideResult:
    """Run the request loop until --duration or --max-queries; gather samples and counts.

    ``query_count`` says how many DNS queries went out so far (None when nobody can tell);
    it is polled, so the bound can be overshot by what a few ms of traffic sends. A worker
    that raises (a bug, not a failed lookup) stops the side and is re-raised here.
    """
    result = SideResult(profile=profile_spec, resolver_timeout_s=resolver_timeout_s)
    reasons: Counter[str] = Counter()
    crashed: list[BaseException] = []
    pool = _Pool(options.pool_size)
    stop = threading.Event()
    lock = threading.Lock()
    start = time.monotonic()
    end = start + options.duration_s
    hold_s = options.hold_ms / 1000.0
    workers = options.workers

    def serve(index: int) -> None:
        k = 0
        while not stop.is_set():
            if options.rate > 0:
                scheduled = start + (index + k * workers) / options.rate
                k += 1
                if scheduled >= end:
                    return
                wait = scheduled - time.monotonic()
                if wait > 0 and stop.wait(wait):
                    return
            else:
                scheduled = time.monotonic()
                if scheduled >= end:
                    return
            t0 = time.monotonic()
            pool.acquire()
            pool_wait = time.monotonic() - t0
            failed = False
            lookups: list[tuple[float, Lookup]] = []
            try:
                for name in options.names:
                    t = time.perf_counter()
                    outcome = resolve(name)
                    lookups.append(((time.perf_counter() - t) * 1000.0, outcome))
                    failed = failed or not outcome.ok
                if hold_s:
                    time.sleep(hold_s)  # the request's own work with the connection held
            finally:
                pool.release()
            done = time.monotonic()
            with lock:
                for ms, outcome in lookups:
                    result.lookups += 1
                    result.timeouts += outcome.timed_out
                    if outcome.ok:
                        result.lookup_ms.append(ms)
                    else:
                        result.failures += 1
                        result.failed_lookup_ms.append(ms)
                        reasons[outcome.error or "unknown"] += 1
                    if outcome.queries is not None:
                        result.queries = (result.queries or 0) + outcome.queries
                result.requests += 1
                result.failed_requests += failed
                result.request_ms.append((done - scheduled) * 1000.0)
                result.pool_wait_ms.append(pool_wait * 1000.0)

    def worker(index: int) -> None:
        try:
            serve(index)
        except BaseException as exc:  # re-raised by run_workload: a crash must not pass for a result
            crashed.append(exc)
            stop.set()

    threads = [threading.Thread(target=worker, args=(i,), name=f"triage-repro-{i}", daemon=True)
               for i in range(workers)]
    for thread in threads:
        thread.start()
    try:
        while any(t.is_alive() for t in threads):
            now = time.monotonic()
            if progress is not None:
                progress.tick(min(now - start, options.duration_s))
            if now >= end or stop.is_set():
                break
            sent = query_count()
            if sent is not None and sent >= options.max_queries:
                result.stopped_by = "max-queries"
                break
            threads[0].join(timeout=0.05)
    finally:
        stop.set()
    # Lookups under way finish within the resolver's own timeouts; a hung one is abandoned.
    grace = time.monotonic() + resolver_timeout_s * 2 * 8 + options.hold_ms / 1000.0 + 5
    for thread in threads:
        thread.join(timeout=max(0.0, grace - time.monotonic()))
    if crashed:
        raise crashed[0]
    result.duration_s = round(time.monotonic() - start, 3)
    result.pool_peak = pool.peak
    result.failure_reasons = dict(reasons)
    return result
