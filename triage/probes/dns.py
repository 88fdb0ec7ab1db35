"""DNS layer probes: what resolution costs, seen three ways.

- ``resolve`` (wire path): raw queries to each configured resolver, in groups, each on
  a new connected UDP socket (a new source port), TCP when a reply is truncated. Only send -> receive is timed; the
  reply is checked after the clock stops, so probe overhead stays small next to the few
  tens of microseconds a loopback resolver takes (see bench/dns_probe.py). The client is
  triage.dns_client's, the one the reproducer resolves with.
- ``getaddrinfo`` (system path): ``socket.getaddrinfo`` from a few threads, the path an
  application takes (nsswitch, /etc/hosts, search list, ndots, parallel A/AAAA, glibc's
  timeouts and retries).
- ``expansion``: how many queries one lookup costs under the active resolv.conf, and the
  resolv.conf settings themselves as facts.

Source and parser are apart: ``parse_resolv_conf`` and ``queries_per_lookup`` are pure
and run on recorded copies in tests/fixtures/dns/; ``read_resolv_conf`` is the source
(triage.resolvconf's one reader, under the probe context's etc_root).
"""

from __future__ import annotations

import ipaddress
import socket
import threading
import time
from dataclasses import dataclass, field
from typing import Any, Iterator, Sequence

from triage.probes import GROUP_END, ProbeSkipped, end_group, group_sizes, probe
from triage.config import split_resolver
from triage.dns_client import (MAX_UDP_REPLY, NXDOMAIN, REFUSED, SERVFAIL, QueryTemplate, WireClient,
                               reply_matches)
from triage.resolvconf import (DNS_PORT, ResolvConf, queries_per_lookup, read_system_resolv_conf, show_hostport,
                               split_hostport)
from triage.model import Measurement

SYSTEM = "system"
RESOLV_CONF_TARGET = "resolv.conf"

# A series (one name, resolver and qtype) that has never been answered stops after this
# many failures in a row: an unreachable resolver then costs a few timeouts, not
# samples x timeout. Five, so a resolver dropping half its queries is wrongly given up on
# in 3% of runs at most (0.5 ** 5), and one dropping 10% practically never.
DEAD_AFTER = 5

# --- resolv.conf: source ------------------------------------------------------------------


def read_resolv_conf(ctx: Any = None) -> tuple[ResolvConf, str, list[str]]:
    """(conf, path, notes): the file as glibc would use it in this process, under ``ctx.etc_root``."""
    return read_system_resolv_conf(getattr(ctx, "etc_root", None))


# --- names and resolvers -------------------------------------------------------------------


def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host.strip("[]").split("%", 1)[0])
    except ValueError:
        return False
    return True


def probe_names(config: Any) -> list[str]:
    """``dns.names`` plus the host of every target that fans out (IP literals need no DNS)."""
    names: list[str] = list(config.dns.names)
    for t in config.targets:
        ep = t.endpoint
        if ep and ep[0] and t.fans_out and not _is_ip(ep[0]):
            names.append(ep[0])
    unique: dict[str, str] = {}  # DNS names are case-insensitive: the first spelling wins
    for n in names:
        unique.setdefault(n.lower(), n)
    return list(unique.values())


def parse_resolver(spec: str) -> tuple[str, int]:
    """``IP``, ``IP:port``, ``[IPv6]:port`` or a bare IPv6 -> (ip, port)."""
    try:
        return split_hostport(spec)
    except ValueError:
        raise ValueError(f"resolver {spec!r}: expected 'system' or IP[:port]") from None


# --- wire path: the query loop -------------------------------------------------------------


@dataclass
class SeriesStats:
    """Everything one (name, resolver, qtype) series saw."""

    qtype: str
    latencies_ms: list[float] = field(default_factory=list)
    trials: int = 0
    answered: int = 0
    timeouts: int = 0
    servfail: int = 0
    nxdomain: int = 0
    refused: int = 0
    tcp_fallback: int = 0
    socket_errors: int = 0
    failures_in_a_row: int = 0
    last_error: str | None = None
    stopped: str | None = None  # why the series ended before its sample count
    group_sizes: list[int] = field(default_factory=list)  # of latencies_ms, one per socket

    def measurements(self) -> list[Measurement]:
        q = self.qtype
        out = []
        if self.latencies_ms:
            out.append(Measurement.samples(f"latency_{q}", self.latencies_ms, groups=self.group_sizes))
        out += [Measurement.proportion(f"timeouts_{q}", self.timeouts, self.trials),
                Measurement.proportion(f"servfail_{q}", self.servfail, self.trials),
                Measurement.proportion(f"nxdomain_{q}", self.nxdomain, self.trials),
                Measurement.proportion(f"refused_{q}", self.refused, self.trials),
                Measurement.proportion(f"tcp_fallback_{q}", self.tcp_fallback, self.trials),
                Measurement.proportion(f"socket_errors_{q}", self.socket_errors, self.trials)]
        return out


class WireResolver(WireClient):
    """The probe's use of the one wire client: one query at a time, only send -> receive
    timed, its outcome counted into a series."""

    def query(self, template: QueryTemplate, question: bytes, stats: SeriesStats) -> None:
        """One query; its outcome goes into ``stats``. Only send -> receive is timed."""
        wire = template.next(self.next_id())
        if template.cache_miss:
            question = bytes(wire[12:]).lower()
        send, recv, clock = self.sock.send, self.sock.recv, time.perf_counter_ns
        stats.trials += 1
        t0 = clock()
        try:
            send(wire)
            reply = recv(MAX_UDP_REPLY)
            t1 = clock()
        except (BlockingIOError, socket.timeout, TimeoutError):
            reply, t1 = None, 0
        except OSError as exc:  # ICMP unreachable (ECONNREFUSED), no route: no answer, no latency
            stats.socket_errors += 1
            stats.failures_in_a_row += 1
            stats.last_error = f"{type(exc).__name__}: {exc.strerror or exc}"
            return
        # The clock has stopped: everything below is outside the measurement.
        if reply is not None and not reply_matches(reply, wire, question):
            reply, t1 = self.wait_for_reply(t0, wire, question)
        if reply is None:
            stats.timeouts += 1
            stats.failures_in_a_row += 1
            stats.latencies_ms.append(self.timeout_s * 1000.0)
            return
        elapsed_ns = t1 - t0
        if reply[2] & 0x02:  # TC: the answer did not fit, ask again over TCP as a stub would
            stats.tcp_fallback += 1
            try:
                reply, tcp_ns = self.tcp_exchange(wire)
            except OSError as exc:  # refused or reset: no full answer, no latency to record
                stats.socket_errors += 1
                stats.failures_in_a_row += 1
                stats.last_error = f"TCP {type(exc).__name__}: {exc.strerror or exc}"
                return
            if reply is None or not reply_matches(reply, wire, question):
                stats.timeouts += 1
                stats.failures_in_a_row += 1
                stats.latencies_ms.append((elapsed_ns / 1e6) + self.timeout_s * 1000.0)
                return
            elapsed_ns += tcp_ns
        stats.answered += 1
        stats.failures_in_a_row = 0
        stats.latencies_ms.append(round(elapsed_ns / 1e6, 6))
        rcode = reply[3] & 0x0F
        if rcode == SERVFAIL:
            stats.servfail += 1
        elif rcode == NXDOMAIN:
            stats.nxdomain += 1
        elif rcode == REFUSED:
            stats.refused += 1


class WireSeries:
    """One name at one resolver, every qtype, in groups: each group asks ``size`` rounds of
    the qtypes interleaved (A AAAA A AAAA ...) on a new socket, so drift hits them alike and
    per-socket state (source port, flow hash, buffers) varies within a run.

    A qtype that was never answered stops after DEAD_AFTER failures in a row, and the
    whole series stops when ``deadline`` (time.monotonic) leaves no room for one more full
    timeout; ``notes`` says so. The stats carry the group sizes of their latencies.
    """

    def __init__(self, host: str, port: int, name: str, qtypes: Sequence[str], samples: int, timeout_s: float,
                 *, cache_miss: bool = False):
        self.host, self.port, self.samples, self.timeout_s = host, port, samples, timeout_s
        self.templates = [QueryTemplate(name, q, cache_miss) for q in qtypes]
        self.questions = [t.question() for t in self.templates]
        self.series = [SeriesStats(q) for q in qtypes]
        self.notes: list[str] = []
        self.rounds = 0
        self.done = False

    def run_group(self, size: int, deadline: float | None = None, interval_s: float = 0.0) -> None:
        """``size`` more rounds on a fresh socket. ``interval_s`` paces the rounds (a pause
        after each; the bench uses it to compare against dnsperf's own pacing)."""
        if self.done:
            return
        with WireResolver(self.host, self.port, self.timeout_s) as resolver:
            for _ in range(size):
                active = [k for k, s in enumerate(self.series) if s.stopped is None]
                if not active:
                    self.done = True
                    break
                if deadline is not None and deadline - time.monotonic() < self.timeout_s:
                    self.notes.append(f"deadline reached after {self.rounds} of {self.samples} samples per qtype")
                    self.done = True
                    break
                for k in active:
                    s = self.series[k]
                    resolver.query(self.templates[k], self.questions[k], s)
                    if s.answered == 0 and s.failures_in_a_row >= DEAD_AFTER:
                        cause = s.last_error if s.socket_errors == s.failures_in_a_row else "timeouts"
                        s.stopped = f"{DEAD_AFTER} failures in a row ({cause}) and no answer"
                        self.notes.append(f"{s.qtype}: stopped after {s.trials} of {self.samples} queries: "
                                          f"{s.stopped}")
                self.rounds += 1
                if interval_s:
                    time.sleep(interval_s)
        for s in self.series:
            end_group(s.latencies_ms, s.group_sizes)

    def finish(self) -> tuple[list[SeriesStats], list[str]]:
        """The stats, and the notes (with one for each qtype that has no latency at all)."""
        for s in self.series:
            if not s.latencies_ms:
                self.notes.append(f"latency_{s.qtype} dropped: no answer and no timeout to record "
                                  f"({s.socket_errors} socket errors: {s.last_error})")
        return self.series, self.notes


def run_wire_series(host: str, port: int, name: str, qtypes: Sequence[str], samples: int, timeout_s: float,
                    *, cache_miss: bool = False, deadline: float | None = None, interval_s: float = 0.0,
                    groups: int = 1) -> tuple[list[SeriesStats], list[str]]:
    """Query ``name`` ``samples`` times per qtype at host:port in ``groups`` groups back to
    back (see WireSeries). Returns the stats and the notes on early stops."""
    series = WireSeries(host, port, name, qtypes, samples, timeout_s, cache_miss=cache_miss)
    for size in group_sizes(samples, groups):
        series.run_group(size, deadline, interval_s)
    return series.finish()


# --- probes -----------------------------------------------------------------------------


@dataclass(frozen=True)
class WireTarget:
    name: str
    resolver: str  # "system" or IP[:port] as configured (without a NAME= alias)
    label_is_alias: bool = False
    label: str | None = None  # the resolver as the target name shows it (NAME, system, IP:port)


def resolver_label(alias: str | None, address: str) -> str:
    """A configured resolver's name in targets: its alias, else ``system``, else host:port as
    shown (ValueError for an address that does not parse)."""
    return alias or (address if address == SYSTEM else show_hostport(*parse_resolver(address)))


def _resolve_targets(config: Any) -> list[tuple[str, WireTarget]]:
    names = probe_names(config)
    if not names:
        raise ProbeSkipped("no names to resolve: set dns.names or give targets a host")
    out = []
    for resolver in config.dns.resolvers:
        alias, address = split_resolver(resolver)
        try:
            label = resolver_label(alias, address)
        except ValueError:
            label = resolver  # the probe itself raises, recorded as this target's error
        out += [(f"{n}@{label}", WireTarget(n, address, alias is not None, label)) for n in names]
    return out


def _samples(ctx: Any) -> int:
    return ctx.config.dns.samples or ctx.samples


def _groups(ctx: Any) -> list[int]:
    return group_sizes(_samples(ctx), ctx.config.dns.groups or ctx.config.groups)


def resolver_failures(series: list[SeriesStats], resolver: str) -> list[Measurement]:
    """All qtypes together: a 4% loss is 0/200 -> 5/200 for A and 0/200 -> 6/200 for AAAA,
    neither significant alone. ``combine`` names the resolver, so the judge may also add up
    these counts over every name asked of it (same layer, probe, metric and combine)."""
    trials = sum(s.trials for s in series)
    timeouts = sum(s.timeouts for s in series)
    failed = sum(s.timeouts + s.servfail + s.refused + s.socket_errors for s in series)
    extra = {"combine": resolver}
    return [Measurement("timeouts", "proportion", "lower", events=timeouts, trials=trials, extra=extra),
            Measurement("failures", "proportion", "lower", events=failed, trials=trials, extra=extra)]


def resolver_address(resolver: str, ctx: Any = None) -> tuple[str, int, str | None]:
    """(host, port, note) a configured resolver is asked at: ``system`` is resolv.conf's first
    nameserver on port 53 (glibc's 127.0.0.1 when it lists none), else IP[:port] as written."""
    if resolver != SYSTEM:
        return (*parse_resolver(resolver), None)
    conf, path, _ = read_resolv_conf(ctx)
    if not conf.nameservers:
        return "127.0.0.1", DNS_PORT, f"system resolver: {path} lists no nameserver, glibc's default 127.0.0.1 used"
    host = conf.nameservers[0]
    note = (f"system resolver: {show_hostport(host, DNS_PORT)}, the first of {len(conf.nameservers)} nameservers "
            f"in {path}") if len(conf.nameservers) > 1 else None
    return host, DNS_PORT, note


@probe("dns", "resolve", targets=_resolve_targets, subruns=True)
def resolve(target: WireTarget, ctx: Any) -> Iterator[Measurement | object]:
    """Wire-path latency and outcome rates of one name at one resolver, per qtype and all
    qtypes together; each group on a new UDP socket (a new source port)."""
    dns_cfg = ctx.config.dns
    host, port, note = resolver_address(target.resolver, ctx)
    if note:
        ctx.note(note)
    wire = WireSeries(host, port, target.name, dns_cfg.qtypes, _samples(ctx), dns_cfg.timeout_s,
                      cache_miss=dns_cfg.cache_miss)
    for g, size in enumerate(_groups(ctx)):
        if g:
            yield GROUP_END
        wire.run_group(size, ctx.deadline)  # the runner moves ctx.deadline on at every group
        if wire.done:
            break
    series, notes = wire.finish()
    for note in notes:
        ctx.note(note)
    if target.label_is_alias:
        # A named resolver is declared the same on both sides; its address is no evidence.
        ctx.note(f"resolver address {show_hostport(host, port)}")
    else:
        yield Measurement.fact("resolver", show_hostport(host, port))
    yield Measurement.fact("query_mode", "cache-miss" if dns_cfg.cache_miss else "cached")
    for s in series:
        yield from s.measurements()
    yield from resolver_failures(series, target.label or (SYSTEM if target.resolver == SYSTEM
                                                          else show_hostport(host, port)))


# getaddrinfo -----------------------------------------------------------------------------


def _system_targets(config: Any) -> list[tuple[str, str]]:
    if SYSTEM not in (split_resolver(r)[1] for r in config.dns.resolvers):
        raise ProbeSkipped("dns.resolvers does not include 'system'")
    names = probe_names(config)
    if not names:
        raise ProbeSkipped("no names to resolve: set dns.names or give targets a host")
    return [(n, n) for n in names]


@dataclass
class _Lookups:
    """Shared by the lookup threads; list appends and the lock keep it consistent."""

    samples: int
    deadline: float
    lock: threading.Lock = field(default_factory=threading.Lock)
    issued: int = 0
    latencies_ms: list[float] = field(default_factory=list)
    failures: int = 0
    temporary: int = 0
    in_a_row: int = 0
    succeeded: int = 0
    gave_up: bool = False
    in_flight: dict[int, int] = field(default_factory=dict)  # thread id -> start ns

    crash: BaseException | None = None  # not a lookup failure: a bug or a bad name; re-raised

    def claim(self, worker: int) -> int | None:
        """Start ns of the next lookup for ``worker``, or None when there is no more to do."""
        with self.lock:
            if self.gave_up or self.issued >= self.samples or time.monotonic() >= self.deadline:
                return None
            self.issued += 1
            started = self.in_flight[worker] = time.perf_counter_ns()
            return started


def _lookup_worker(name: str, state: _Lookups) -> None:
    me = threading.get_ident()
    while (t0 := state.claim(me)) is not None:
        error: socket.gaierror | None = None
        try:
            socket.getaddrinfo(name, None, socket.AF_UNSPEC, socket.SOCK_STREAM)
        except socket.gaierror as exc:
            error = exc
        except BaseException as exc:  # e.g. UnicodeError for a name IDNA cannot encode
            with state.lock:
                del state.in_flight[me]
                state.issued -= 1
                state.crash = state.crash or exc
                state.gave_up = True
            return
        t1 = time.perf_counter_ns()
        with state.lock:
            del state.in_flight[me]
            state.latencies_ms.append(round((t1 - t0) / 1e6, 6))
            if error is None:
                state.succeeded += 1
                state.in_a_row = 0
                continue
            state.failures += 1
            state.in_a_row += 1
            if error.errno == socket.EAI_AGAIN:
                state.temporary += 1
            if state.succeeded == 0 and state.in_a_row >= DEAD_AFTER:
                state.gave_up = True


@probe("dns", "getaddrinfo", targets=_system_targets, subruns=True)
def getaddrinfo(name: str, ctx: Any) -> Iterator[Measurement | object]:
    """The application's path: getaddrinfo(name, AF_UNSPEC) from dns.concurrency threads,
    in groups (glibc opens a new socket per lookup already: the groups spread them)."""
    samples = _samples(ctx)
    state = _Lookups(samples=0, deadline=ctx.deadline)
    sizes: list[int] = []
    for g, size in enumerate(_groups(ctx)):
        if g:
            yield GROUP_END
        with state.lock:
            state.samples += size
            state.deadline = ctx.deadline  # the runner moves it on at every group
        # Daemon threads rather than a ThreadPoolExecutor: getaddrinfo cannot be cancelled,
        # and an executor's threads are joined at interpreter exit, so a lookup stuck on an
        # unreachable nameserver would hold the finished CLI for glibc's full timeout.
        workers = [threading.Thread(target=_lookup_worker, args=(name, state), daemon=True,
                                    name=f"triage-getaddrinfo-{i}")
                   for i in range(min(ctx.config.dns.concurrency, size))]
        for w in workers:
            w.start()
        for w in workers:
            w.join(max(0.0, ctx.deadline - time.monotonic()) + 0.2)
        with state.lock:
            if state.in_flight or state.gave_up or state.crash or state.issued < state.samples:
                break  # stuck, given up or out of time: the group is closed with what it has below
            end_group(state.latencies_ms, sizes)
    now = time.perf_counter_ns()
    with state.lock:
        latencies = list(state.latencies_ms)
        failures, temporary, done = state.failures, state.temporary, len(state.latencies_ms)
        unfinished = [now - t0 for t0 in state.in_flight.values()]
        gave_up, crash = state.gave_up, state.crash
    if crash is not None:
        raise crash
    if unfinished:
        # Still waiting on glibc at the deadline: a failure for the app; the time so far is
        # a lower bound of its latency, kept so the tail stays visible.
        latencies += [round(ns / 1e6, 6) for ns in unfinished]
        failures += len(unfinished)
        ctx.note(f"{len(unfinished)} lookups unfinished at the deadline: counted as failures, "
                 f"their time so far as latency")
    trials = done + len(unfinished)
    if gave_up:
        ctx.note(f"stopped after {trials} of {samples} lookups: {DEAD_AFTER} failures in a row and no success")
    elif trials < samples:
        ctx.note(f"deadline reached after {trials} of {samples} lookups")
    end_group(latencies, sizes)  # the last group, with its unfinished lookups
    if latencies:
        yield Measurement.samples("latency", latencies, groups=sizes)
    yield Measurement.proportion("failures", failures, trials)
    yield Measurement.proportion("temporary_failures", temporary, trials)


# expansion -------------------------------------------------------------------------------


def _expansion_targets(config: Any) -> list[tuple[str, str | None]]:
    return [(RESOLV_CONF_TARGET, None)] + [(n, n) for n in probe_names(config)]


@probe("dns", "expansion", targets=_expansion_targets)
def expansion(name: str | None, ctx: Any) -> list[Measurement]:
    """resolv.conf as facts (target ``resolv.conf``), and per name the queries one lookup costs."""
    conf, path, notes = read_resolv_conf(ctx)
    if name is None:
        for note in notes:
            ctx.note(note)
        return [Measurement.fact("nameservers", list(conf.nameservers)),
                Measurement.fact("search", list(conf.search)),
                Measurement.fact("ndots", conf.ndots),
                Measurement.fact("timeout", conf.timeout),
                Measurement.fact("attempts", conf.attempts),
                Measurement.fact("options", list(conf.options))]
    cost = queries_per_lookup(name, conf.search, conf.ndots, ctx.config.dns.qtypes, no_tld_query=conf.no_tld_query)
    return [Measurement.gauge("queries_worst", cost.worst, unit="queries"),
            Measurement.gauge("queries_found", cost.found_absolute, unit="queries")]
