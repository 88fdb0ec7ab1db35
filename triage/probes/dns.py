"""DNS layer probes: what resolution costs, seen three ways.

- ``resolve`` (wire path): raw queries to each configured resolver through the wire
  client (``dns_wire``): in groups, each on a new connected UDP socket, TCP when a reply
  is truncated; only send -> receive is timed.
- ``getaddrinfo`` (system path): ``socket.getaddrinfo`` from a few threads, the path an
  application takes (nsswitch, /etc/hosts, search list, ndots, parallel A/AAAA, glibc's
  timeouts and retries).
- ``expansion``: how many queries one lookup costs under the active resolv.conf, and the
  resolv.conf settings themselves as facts.

Source and parser are apart: ``parse_resolv_conf`` and ``queries_per_lookup`` are pure
and run on recorded copies in tests/fixtures/dns/; ``read_resolv_conf`` is the source.
"""

from __future__ import annotations

import ipaddress
import os
import socket
import threading
import time
from dataclasses import dataclass, field, replace
from typing import Any, Iterator

from triage.probes import GROUP_END, ProbeSkipped, end_group, group_sizes, probe
from triage.probes.dns_wire import DEAD_AFTER, SeriesStats, WireSeries
from triage.config import split_resolver
from triage.resolvconf import (DNS_PORT, GLIBC_MAXNS, ResolvConf, apply_resolver_environment, parse_resolv_conf,
                               queries_per_lookup, show_hostport, split_hostport)
from triage.model import Measurement

SYSTEM = "system"
RESOLV_CONF_ENV = "TRIAGE_RESOLV_CONF"  # points every resolv.conf read at another file (tests, captures)
RESOLV_CONF_TARGET = "resolv.conf"

# --- resolv.conf: source ------------------------------------------------------------------


def resolv_conf_path(ctx: Any = None) -> str:
    override = os.environ.get(RESOLV_CONF_ENV)
    if override:
        return override
    return os.path.join(getattr(ctx, "etc_root", None) or "/etc", "resolv.conf")


def read_resolv_conf(ctx: Any = None) -> tuple[ResolvConf, str, list[str]]:
    """(conf, path, notes): the file as glibc would use it in this process."""
    path = resolv_conf_path(ctx)
    notes: list[str] = []
    try:
        with open(path, encoding="utf-8", errors="replace") as fh:
            conf = parse_resolv_conf(fh.read())
    except FileNotFoundError:
        conf = ResolvConf()
        notes.append(f"{path} does not exist: glibc defaults apply (nameserver 127.0.0.1, ndots 1)")
    if not conf.search and not os.environ.get("LOCALDOMAIN", "").split():
        # glibc's default search list: the domain part of the host name.
        host = socket.gethostname()
        if "." in host.rstrip("."):
            conf = replace(conf, search=(host.rstrip(".").split(".", 1)[1],))
            notes.append(f"no search/domain line in {path}: search list from the host name ({conf.search[0]})")
    conf = apply_resolver_environment(conf, os.environ)
    if conf.ignored_nameservers:
        notes.append(f"{path}: glibc uses the first {GLIBC_MAXNS} nameservers, ignores "
                     f"{', '.join(conf.ignored_nameservers)}")
    return conf, path, notes


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


# --- probes -----------------------------------------------------------------------------


@dataclass(frozen=True)
class WireTarget:
    name: str
    resolver: str  # "system" or IP[:port] as configured (without a NAME= alias)
    label_is_alias: bool = False
    label: str | None = None  # the resolver as the target name shows it (NAME, system, IP:port)


def _resolve_targets(config: Any) -> list[tuple[str, WireTarget]]:
    names = probe_names(config)
    if not names:
        raise ProbeSkipped("no names to resolve: set dns.names or give targets a host")
    out = []
    for resolver in config.dns.resolvers:
        alias, address = split_resolver(resolver)
        try:
            label = alias or (address if address == SYSTEM else show_hostport(*parse_resolver(address)))
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


@probe("dns", "resolve", targets=_resolve_targets, subruns=True)
def resolve(target: WireTarget, ctx: Any) -> Iterator[Measurement | object]:
    """Wire-path latency and outcome rates of one name at one resolver, per qtype and all
    qtypes together; each group on a new UDP socket (a new source port)."""
    dns_cfg = ctx.config.dns
    if target.resolver == SYSTEM:
        conf, path, _ = read_resolv_conf(ctx)
        if conf.nameservers:
            host, port = conf.nameservers[0], DNS_PORT
            if len(conf.nameservers) > 1:
                ctx.note(f"system resolver: {show_hostport(host, port)}, the first of "
                         f"{len(conf.nameservers)} nameservers in {path}")
        else:
            host, port = "127.0.0.1", DNS_PORT
            ctx.note(f"system resolver: {path} lists no nameserver, glibc's default 127.0.0.1 used")
    else:
        host, port = parse_resolver(target.resolver)
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
