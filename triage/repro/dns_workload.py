"""`triage repro dns`: an app-like workload that shows a few ms of DNS becoming pool exhaustion.

The model is the registry of the 2020 hunt: a request checks a connection out of a bounded
pool (size P) when it starts, as a Flask app that connects its database per request does,
resolves its K backend hosts (database, cache, storage) while holding it, works for D ms and
returns the connection. Requests arrive at a fixed rate (open loop: traffic does not slow
down because the service did) onto W worker threads. Slower lookups keep connections checked
out longer; near capacity, the pool runs dry and requests queue for it.

Resolution paths:
- *libc*: glibc's getaddrinfo, the path an application takes. Against the embedded server
  it runs in a private network + mount namespace (see netns) where the server listens on
  127.0.0.1:53 and the profile's resolv.conf is bind-mounted over /etc/resolv.conf.
- *wire*: WireStub, a dnspython stub that follows resolv.conf semantics (search, ndots,
  timeout, attempts, A and AAAA in parallel on one socket as glibc does, TCP on truncation).

A lookup counts as a *timeout* when it waited out at least one resolver timeout: the stub
knows; on the libc path it is a lookup that took at least 90% of the resolver timeout
(glibc does not say, and nothing else makes a loopback lookup take that long).
"""

from __future__ import annotations

import itertools
import os
import random
import re
import socket
import struct
import threading
import time
from dataclasses import asdict, dataclass, field
from typing import Any, Callable, Protocol, Sequence

from triage.errors import BadInput

from .dns_profile import FaultProfile, parse_profile

DEFAULT_NAMES = ("db.quay.svc", "cache.quay.svc", "storage.quay.svc")
DEFAULT_MAX_QUERIES = 200_000
SNAPSHOT_SAMPLE_CAP = 50_000
PATHS = ("auto", "libc", "wire")
# Resolved once before the clock starts (imports, NSS modules, first socket), never measured.
# Not one of the workload's names, so a cold-cache profile still finds those cold.
WARMUP_NAME = "triage-warmup.example"


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
            if not re.fullmatch(r"[A-Za-z0-9_.-]{1,253}", name) or ".." in name or name.startswith("."):
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
            parse_hostport(self.resolver)


def parse_hostport(text: str) -> tuple[str, int]:
    """``--resolver``: ``10.0.0.10``, ``10.0.0.10:5353``, ``[fd00::1]:53`` or ``::1`` -> (ip, port)."""
    from triage.resolvconf import split_hostport

    try:
        return split_hostport(text.strip())
    except ValueError as exc:
        raise BadInput(f"--resolver: {exc}") from None


# ---- resolv.conf ---------------------------------------------------------------------------

@dataclass(frozen=True)
class ResolvConf:
    nameservers: tuple[tuple[str, int], ...]
    search: tuple[str, ...]
    ndots: int = 1
    timeout_s: int = 5
    attempts: int = 2

    @classmethod
    def parse(cls, text: str) -> "ResolvConf":
        """glibc's reading of resolv.conf (triage.resolvconf), for the keys that change what a lookup costs."""
        from triage.resolvconf import DNS_PORT, parse_resolv_conf

        conf = parse_resolv_conf(text)
        servers = tuple((ns.split("%", 1)[0], DNS_PORT) for ns in conf.nameservers)
        return cls(servers or (("127.0.0.1", DNS_PORT),), tuple(d.rstrip(".") for d in conf.search), conf.ndots,
                   max(1, conf.timeout), max(1, conf.attempts))

    @classmethod
    def for_profile(cls, profile: FaultProfile, nameserver: tuple[str, int]) -> "ResolvConf":
        return cls((nameserver,), profile.search, profile.ndots, profile.timeout_s, profile.attempts)

    def candidates(self, name: str) -> list[str]:
        """The names one lookup may try, in glibc's order (search list x ndots)."""
        if name.endswith("."):
            return [name]
        absolute = name + "."
        searched = [f"{name}.{domain}." for domain in self.search]
        return [absolute, *searched] if name.count(".") >= self.ndots else [*searched, absolute]


# ---- resolvers -----------------------------------------------------------------------------

@dataclass
class Lookup:
    ok: bool
    timed_out: bool
    queries: int | None  # None: not observable (libc)
    error: str | None = None


class WireStub:
    """A glibc-like stub on dnspython: A and AAAA in parallel on one fresh UDP socket per
    candidate name, unanswered ones re-sent each attempt to each nameserver in turn, TCP on
    truncation, the search list walked on NXDOMAIN/NODATA/SERVFAIL and abandoned on timeout.
    Replies are judged from their header (ID, TC, RCODE, ANCOUNT): the answer's content does
    not matter here, and parsing it would only add time to every lookup."""

    def __init__(self, conf: ResolvConf):
        self.conf = conf
        self._wire: dict[tuple[str, str], bytes] = {}
        self._rng = random.Random()
        self._lock = threading.Lock()

    def _query(self, qname: str, qtype: str) -> bytes:
        wire = self._wire.get((qname, qtype))
        if wire is None:
            import dns.message

            wire = dns.message.make_query(qname, qtype).to_wire()
            self._wire[(qname, qtype)] = wire
        return wire

    def resolve(self, name: str) -> Lookup:
        queries, timed_out = 0, False
        for candidate in self.conf.candidates(name):
            status, sent, waited_out = self._pair(candidate)
            queries += sent
            timed_out = timed_out or waited_out
            if status == "found":
                return Lookup(True, timed_out, queries)
            if status == "timeout":
                return Lookup(False, True, queries, "timeout")
        return Lookup(False, timed_out, queries, "not found")

    def _pair(self, qname: str) -> tuple[str, int, bool]:
        results: dict[str, tuple[int, int]] = {}  # qtype -> (rcode, ancount)
        pending = ["A", "AAAA"]
        sent, waited_out = 0, False
        for _ in range(self.conf.attempts):
            for server in self.conf.nameservers:
                family = socket.AF_INET6 if ":" in server[0] else socket.AF_INET
                with socket.socket(family, socket.SOCK_DGRAM) as sock:
                    sock.connect(server)
                    ids = {}
                    with self._lock:
                        first = self._rng.getrandbits(16)
                    for n, qtype in enumerate(pending):
                        qid = (first + n) & 0xFFFF
                        ids[qid] = qtype
                        sock.send(struct.pack("!H", qid) + self._query(qname, qtype)[2:])
                        sent += 1
                    deadline = time.monotonic() + self.conf.timeout_s
                    while ids:
                        left = deadline - time.monotonic()
                        if left <= 0:
                            break
                        sock.settimeout(left)
                        try:
                            data = sock.recv(4096)
                        except socket.timeout:
                            break
                        except ConnectionRefusedError:  # ICMP port unreachable: no server there
                            break
                        if len(data) < 12:
                            continue
                        qid, flags, _, ancount = struct.unpack("!HHHH", data[:8])
                        qtype = ids.pop(qid, None)
                        if qtype is None or not flags & 0x8000:
                            continue
                        if flags & 0x0200:  # TC: ask again over TCP
                            sent += 1
                            results[qtype] = self._tcp(server, qname, qtype)
                        else:
                            results[qtype] = (flags & 0x000F, ancount)
                    if ids:
                        waited_out = True
                pending = [q for q in pending if q not in results]
                if not pending:
                    break
            if not pending:
                break
        if any(rcode == 0 and ancount > 0 for rcode, ancount in results.values()):
            return "found", sent, waited_out
        if pending:
            return "timeout", sent, waited_out
        return ("servfail" if any(rcode == 2 for rcode, _ in results.values()) else "negative"), sent, waited_out

    def _tcp(self, server: tuple[str, int], qname: str, qtype: str) -> tuple[int, int]:
        family = socket.AF_INET6 if ":" in server[0] else socket.AF_INET
        wire = self._query(qname, qtype)
        try:
            with socket.socket(family, socket.SOCK_STREAM) as sock:
                sock.settimeout(self.conf.timeout_s)
                sock.connect(server)
                sock.sendall(struct.pack("!H", len(wire)) + wire)
                head = _recv_exact(sock, 2)
                data = _recv_exact(sock, struct.unpack("!H", head)[0])
        except OSError:
            return (2, 0)  # counted like SERVFAIL: no usable answer from this server
        if len(data) < 12:
            return (2, 0)
        flags, _, ancount = struct.unpack("!HHH", data[2:8])
        return (flags & 0x000F, ancount)


def _recv_exact(sock: socket.socket, n: int) -> bytes:
    chunks, got = [], 0
    while got < n:
        chunk = sock.recv(n - got)
        if not chunk:
            raise ConnectionError("connection closed mid-reply")
        chunks.append(chunk)
        got += len(chunk)
    return b"".join(chunks)


class LibcResolver:
    """glibc's getaddrinfo, as an application calls it (AF_UNSPEC: A and AAAA)."""

    def __init__(self, timeout_s: float):
        self.timeout_s = timeout_s

    def resolve(self, name: str) -> Lookup:
        start = time.perf_counter()
        try:
            socket.getaddrinfo(name, 443, socket.AF_UNSPEC, socket.SOCK_STREAM)
            ok, error = True, None
        except socket.gaierror as exc:
            ok, error = False, exc.strerror or str(exc)
        elapsed = time.perf_counter() - start
        return Lookup(ok, elapsed >= 0.9 * self.timeout_s, None, error)


# ---- the workload --------------------------------------------------------------------------

@dataclass
class SideResult:
    """What one side saw: raw samples (ms) and counts. Crosses the namespace boundary as JSON."""

    profile: str
    lookup_ms: list[float] = field(default_factory=list)
    request_ms: list[float] = field(default_factory=list)
    pool_wait_ms: list[float] = field(default_factory=list)
    lookups: int = 0
    timeouts: int = 0
    failures: int = 0
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
    it is polled, so the bound can be overshot by what a few ms of traffic sends.
    """
    result = SideResult(profile=profile_spec, resolver_timeout_s=resolver_timeout_s)
    pool = _Pool(options.pool_size)
    stop = threading.Event()
    lock = threading.Lock()
    start = time.monotonic()
    end = start + options.duration_s
    hold_s = options.hold_ms / 1000.0
    workers = options.workers

    def worker(index: int) -> None:
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
                    result.lookup_ms.append(ms)
                    result.lookups += 1
                    result.timeouts += outcome.timed_out
                    result.failures += not outcome.ok
                    if outcome.queries is not None:
                        result.queries = (result.queries or 0) + outcome.queries
                result.requests += 1
                result.failed_requests += failed
                result.request_ms.append((done - scheduled) * 1000.0)
                result.pool_wait_ms.append(pool_wait * 1000.0)

    threads = [threading.Thread(target=worker, args=(i,), name=f"triage-repro-{i}", daemon=True)
               for i in range(workers)]
    for thread in threads:
        thread.start()
    try:
        while any(t.is_alive() for t in threads):
            now = time.monotonic()
            if progress is not None:
                progress.tick(min(now - start, options.duration_s))
            if now >= end:
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
    result.duration_s = round(time.monotonic() - start, 3)
    result.pool_peak = pool.peak
    return result


# ---- one side on each path -----------------------------------------------------------------

def run_embedded_side(profile_spec: str, options: WorkloadOptions, path: str, *, port: int = 0,
                      progress: SideProgress | None = None) -> SideResult:
    """One side against the embedded server (in its own process). ``path`` libc assumes the
    caller made 127.0.0.1:``port`` the system resolver (netns does, inside a namespace)."""
    from .dns_server import ServerProcess

    profile = parse_profile(profile_spec)
    with ServerProcess(profile, names=options.names, port=port) as server:
        if path == "libc":
            resolver: Any = LibcResolver(profile.timeout_s)
        else:
            resolver = WireStub(ResolvConf.for_profile(profile, (server.host, server.port)))
        resolver.resolve(WARMUP_NAME)
        before = server.stats()["queries"]
        result = run_workload(profile_spec, options, resolver.resolve,
                              lambda: server.stats()["queries"] - before, profile.timeout_s, progress)
        result.server_stats = server.stop()
    if result.server_stats is not None:
        result.queries = result.server_stats["queries"] - before
        result.queries_estimated = False
    return result


def run_external_side(profile_spec: str, options: WorkloadOptions, path: str, conf: ResolvConf,
                      progress: SideProgress | None = None) -> SideResult:
    """One side against a real resolver. On the libc path the caller has put ``conf`` in
    /etc/resolv.conf (a mount namespace for --resolver; the machine's own for --system)."""
    if path == "libc":
        resolver: Any = LibcResolver(conf.timeout_s)
        resolver.resolve(WARMUP_NAME)
        # glibc does not say how many queries it sent: bound by the most one lookup can cost.
        per_lookup = 2 * len(conf.candidates(options.names[0])) * conf.attempts
        started = itertools.count()  # next() on a count is atomic under the GIL
        done: list[int] = [0]

        def resolve(name: str) -> Lookup:
            done[0] = next(started) + 1
            return resolver.resolve(name)

        result = run_workload(profile_spec, options, resolve, lambda: done[0] * per_lookup, conf.timeout_s, progress)
        result.queries_estimated = True
        result.queries = None
        return result
    stub = WireStub(conf)
    stub.resolve(WARMUP_NAME)
    sent: list[int] = [0]
    lock = threading.Lock()

    def resolve_wire(name: str) -> Lookup:
        outcome = stub.resolve(name)
        with lock:
            sent[0] += outcome.queries or 0
        return outcome

    return run_workload(profile_spec, options, resolve_wire, lambda: sent[0], conf.timeout_s, progress)


# ---- the whole comparison ------------------------------------------------------------------

class ReproProgress(Protocol):
    def side_started(self, index: int, total: int, profile: str, duration_s: float) -> None: ...
    def tick(self, elapsed_s: float) -> None: ...
    def side_done(self) -> None: ...


class SilentReproProgress:
    def side_started(self, index: int, total: int, profile: str, duration_s: float) -> None: pass
    def tick(self, elapsed_s: float) -> None: pass
    def side_done(self) -> None: pass


@dataclass
class ReproReport:
    path: str
    target: str  # "embedded", "resolver IP:port" or "system"
    path_detail: str
    sides: list[SideResult]
    options: WorkloadOptions
    saved: list[str] = field(default_factory=list)

    def to_json_dict(self) -> dict[str, Any]:
        return {"path": self.path, "sides": [summarise(side) for side in self.sides]}


def percentiles(values: Sequence[float]) -> dict[str, float | None]:
    """p50/p95/p99 (linear interpolation, as numpy's default) and max, in the values' unit."""
    from triage.stats import quantile

    if not values:
        return {"p50": None, "p95": None, "p99": None, "max": None}
    ordered = sorted(values)
    return {"p50": round(quantile(ordered, 0.50), 3), "p95": round(quantile(ordered, 0.95), 3),
            "p99": round(quantile(ordered, 0.99), 3), "max": round(ordered[-1], 3)}


def summarise(side: SideResult) -> dict[str, Any]:
    qpl = None
    if side.queries is not None and side.lookups and not side.queries_estimated:
        qpl = round(side.queries / side.lookups, 3)
    return {
        "profile": side.profile,
        "lookup_ms": percentiles(side.lookup_ms),
        "timeouts": side.timeouts,
        "queries_per_lookup": qpl,
        "request_ms": percentiles(side.request_ms),
        "pool_wait_ms": percentiles(side.pool_wait_ms),
        "pool_peak": side.pool_peak,
        "lookups": side.lookups,
        "failures": side.failures,
        "requests": side.requests,
        "resolver_timeout_ms": round(side.resolver_timeout_s * 1000.0, 3),
        "duration_s": side.duration_s,
        "stopped_by": side.stopped_by,
    }


def choose_path(options: WorkloadOptions) -> tuple[str, str]:
    """(path, why) for the requested --path on this machine."""
    from . import netns

    if options.system:
        # No namespace needed: the machine's own resolv.conf is the point.
        return ("wire", "dnspython stub reading /etc/resolv.conf") if options.path == "wire" else \
            ("libc", "glibc getaddrinfo with this machine's /etc/resolv.conf")
    if options.resolver:
        _, port = parse_hostport(options.resolver)
        if options.path == "wire":
            return "wire", f"dnspython stub to {options.resolver}"
        usable, reason = netns.available(net=False)
        if port != 53:
            reason = f"glibc only talks to port 53, --resolver names port {port}"
            usable = False
        if usable:
            return "libc", "glibc getaddrinfo in a private mount namespace with a generated resolv.conf"
        if options.path == "libc":
            raise BadInput(f"--path libc: not possible here: {reason}")
        return "wire", f"dnspython stub (libc path unavailable: {reason})"
    if options.path == "wire":
        return "wire", "dnspython stub to the embedded server on loopback"
    usable, reason = netns.available(net=True)
    if usable:
        return "libc", ("glibc getaddrinfo in a private network+mount namespace; embedded server on "
                        "127.0.0.1:53; generated resolv.conf bind-mounted over /etc/resolv.conf")
    if options.path == "libc":
        raise BadInput(f"--path libc: not possible here: {reason}")
    return "wire", f"dnspython stub to the embedded server (libc path unavailable: {reason})"


def run_dns_repro(profile_specs: Sequence[str], options: WorkloadOptions,
                  progress: ReproProgress | None = None, save_dir: str | None = None) -> ReproReport:
    """Run every profile as one side, on the path chosen for this machine; save snapshots."""
    from . import netns

    options.validate()
    if not profile_specs:
        raise BadInput("expected a profile (--profile) or two (--compare A B)")
    profiles = [parse_profile(spec) for spec in profile_specs]  # every spec checked before any run
    external = bool(options.resolver or options.system)
    if external:
        faulty = [p.spec for p in profiles if not p.healthy]
        if faulty:
            raise BadInput(f"profile {faulty[0]!r}: server faults need the embedded server; with --resolver or "
                           "--system only client settings (ndots, search, timeout, attempts) apply")
    path, detail = choose_path(options)
    progress = progress or SilentReproProgress()
    if save_dir:
        _check_dir(save_dir)
    sides: list[SideResult] = []
    for index, (spec, profile) in enumerate(zip(profile_specs, profiles)):
        label = profile.spec
        progress.side_started(index, len(profiles), label, options.duration_s)
        try:
            if not external:
                if path == "libc":
                    side = netns.run_side_in_namespace(spec, options, net=True, progress=progress)
                else:
                    side = run_embedded_side(spec, options, "wire", progress=progress)
            else:
                conf = _external_conf(options, profile)
                if path == "libc" and options.resolver:
                    side = netns.run_side_in_namespace(spec, options, net=False, progress=progress)
                else:
                    side = run_external_side(spec, options, path, conf, progress)
        finally:
            progress.side_done()
        side.profile = label
        sides.append(side)
    target = "system" if options.system else (f"resolver {options.resolver}" if options.resolver else "embedded")
    report = ReproReport(path, target, detail, sides, options)
    if save_dir:
        report.saved = save_snapshots(report, save_dir)
    return report


def _external_conf(options: WorkloadOptions, profile: FaultProfile) -> ResolvConf:
    if options.system:
        try:
            with open("/etc/resolv.conf", encoding="utf-8") as fh:
                return ResolvConf.parse(fh.read())
        except OSError as exc:
            raise BadInput(f"/etc/resolv.conf: cannot read: {exc.strerror}") from None
    return ResolvConf.for_profile(profile, parse_hostport(options.resolver or ""))


# ---- snapshots -----------------------------------------------------------------------------

def _check_dir(path: str) -> None:
    if os.path.exists(path) and not os.path.isdir(path):
        raise BadInput(f"--save-snapshots {path}: exists and is not a directory")
    try:
        os.makedirs(path, exist_ok=True)
    except OSError as exc:
        raise BadInput(f"--save-snapshots {path}: cannot create: {exc.strerror}") from None


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9]+", "-", text).strip("-")[:60] or "profile"


def _capped(values: list[float], notes: list[str], what: str) -> list[float]:
    if len(values) <= SNAPSHOT_SAMPLE_CAP:
        return [round(v, 4) for v in values]
    stride = len(values) / SNAPSHOT_SAMPLE_CAP
    notes.append(f"{what}: kept {SNAPSHOT_SAMPLE_CAP} of {len(values)} samples, evenly spaced in time")
    return [round(values[int(i * stride)], 4) for i in range(SNAPSHOT_SAMPLE_CAP)]


def side_snapshot(report: ReproReport, side: SideResult):
    """One side as a v1 Snapshot: dns/repro (lookups) and app/repro_request (requests)."""
    from triage import __version__
    from triage.model import Measurement, ProbeResult, Snapshot, utc_now

    target = report.target
    dns_notes: list[str] = []
    app_notes: list[str] = []
    dns_measurements = [
        Measurement.samples("latency", _capped(side.lookup_ms, dns_notes, "latency")),
        Measurement.proportion("timeouts", side.timeouts, side.lookups),
        Measurement.proportion("failures", side.failures, side.lookups),
    ]
    summary = summarise(side)
    if summary["queries_per_lookup"] is not None:
        dns_measurements.append(Measurement.gauge("queries_per_lookup", summary["queries_per_lookup"], unit="count"))
    else:
        dns_notes.append("queries_per_lookup: glibc does not say how many queries it sent")
    dns_measurements += [Measurement.fact("path", report.path), Measurement.fact("profile", side.profile)]
    app_measurements = [
        Measurement.samples("latency", _capped(side.request_ms, app_notes, "latency")),
        Measurement.samples("pool_wait", _capped(side.pool_wait_ms, app_notes, "pool_wait")),
        Measurement.gauge("pool_peak", side.pool_peak, unit="connections"),
        Measurement.proportion("errors", side.failed_requests, side.requests),
    ]
    o = report.options
    workload = {"names": list(o.names), "workers": o.workers, "pool_size": o.pool_size, "hold_ms": o.hold_ms,
                "rate": o.rate, "duration_s": side.duration_s, "stopped_by": side.stopped_by,
                "resolver_timeout_s": side.resolver_timeout_s}
    results = (
        ProbeResult("dns", "repro", target, "ok", None, side.duration_s, tuple(dns_measurements), tuple(dns_notes)),
        ProbeResult("app", "repro_request", target, "ok", None, side.duration_s, tuple(app_measurements),
                    tuple(app_notes)),
    )
    taken_at = utc_now()
    extra = {"repro": {"kind": "dns", "path": report.path, "path_detail": report.path_detail,
                       "profile": side.profile, "workload": workload, "server_stats": side.server_stats}}
    return Snapshot(label=side.profile, taken_at=taken_at, host=socket.gethostname(), tool_version=__version__,
                    results=results, extra=extra)


def save_snapshots(report: ReproReport, directory: str) -> list[str]:
    from triage.fileio import atomic_write_text

    written = []
    for index, side in enumerate(report.sides, start=1):
        path = os.path.join(directory, f"{index}-{_slug(side.profile)}.json")
        atomic_write_text(path, side_snapshot(report, side).to_json())
        written.append(path)
    return written
