"""Kernel networking: TCP connect latency, counter deltas over the probe window, and facts.

Sources (files under ``ctx.proc_root``, psutil) are kept apart from the pure parsers
(``parse_*``), so recorded captures from other kernels replay through the same code.
A missing or unreadable file, or a layout we do not know, drops that metric with a note.
"""

from __future__ import annotations

import os
import socket
import sys
import threading
import time
from dataclasses import replace
from typing import Iterable, Iterator

from triage.probes import GROUP_END, ROUND, ProbeContext, ProbeSkipped, end_group, group_sizes, probe
from triage.model import Measurement

LOOPBACK = "loopback"

# (section.field in /proc/net/snmp or /proc/net/netstat, metric name). Deltas over the window.
# Only counters of trouble in the kernel's own path: resets and failed connection attempts
# (OutRsts, EstabResets, AttemptFails) follow what applications do, so a rise there is a
# symptom of a layer above and would wrongly make the kernel a root suspect.
COUNTERS = (
    ("Tcp.RetransSegs", "tcp_retrans_segs"),
    ("Tcp.InErrs", "tcp_in_errs"),
    ("Udp.InErrors", "udp_in_errors"),
    ("Udp.RcvbufErrors", "udp_rcvbuf_errors"),
    ("Udp.SndbufErrors", "udp_sndbuf_errors"),
    ("Udp.NoPorts", "udp_no_ports"),
    ("Ip.InDiscards", "ip_in_discards"),
    ("TcpExt.TCPSynRetrans", "tcp_syn_retrans"),
    ("TcpExt.ListenOverflows", "tcp_listen_overflows"),
    ("TcpExt.ListenDrops", "tcp_listen_drops"),
    ("TcpExt.TCPAbortOnMemory", "tcp_abort_on_memory"),
    ("TcpExt.TCPAbortOnTimeout", "tcp_abort_on_timeout"),
    ("TcpExt.TCPTimeouts", "tcp_timeouts"),
    ("TcpExt.TCPLostRetransmit", "tcp_lost_retransmit"),
    ("TcpExt.TCPBacklogDrop", "tcp_backlog_drop"),
    ("TcpExt.PruneCalled", "tcp_prune_called"),
)
# (events counter, trials counter, metric): rates whose denominators the kernel also counts.
RATES = (
    ("Tcp.RetransSegs", "Tcp.OutSegs", "tcp_retransmit_rate"),
    ("Udp.InErrors", "Udp.InDatagrams", "udp_in_error_rate"),
)
CONNTRACK_STATS = ("insert_failed", "drop", "early_drop", "invalid", "search_restart")

SYSCTLS = (
    "net/core/somaxconn", "net/core/netdev_max_backlog", "net/core/rmem_max", "net/core/wmem_max",
    "net/core/rmem_default", "net/core/wmem_default", "net/ipv4/tcp_rmem", "net/ipv4/tcp_wmem",
    "net/ipv4/tcp_mem", "net/ipv4/udp_mem", "net/ipv4/tcp_fin_timeout", "net/ipv4/tcp_keepalive_time",
    "net/ipv4/tcp_keepalive_intvl", "net/ipv4/tcp_keepalive_probes", "net/ipv4/tcp_syn_retries",
    "net/ipv4/tcp_synack_retries", "net/ipv4/tcp_max_syn_backlog", "net/ipv4/tcp_tw_reuse",
    "net/ipv4/tcp_congestion_control", "net/ipv4/tcp_slow_start_after_idle", "net/ipv4/tcp_timestamps",
    "net/ipv4/ip_local_port_range", "net/netfilter/nf_conntrack_max",
    "net/netfilter/nf_conntrack_tcp_timeout_established", "net/netfilter/nf_conntrack_udp_timeout",
    "net/netfilter/nf_conntrack_udp_timeout_stream", "net/ipv4/conf/all/rp_filter",
)


def _linux_only() -> None:
    if not sys.platform.startswith("linux"):
        raise ProbeSkipped(f"kernel counters need Linux /proc; this is {sys.platform}")


# --- pure parsers ----------------------------------------------------------------------------


def parse_proc_pairs(text: str) -> dict[str, int]:
    """/proc/net/snmp and /proc/net/netstat: a header line then a value line per section.

    Returns ``{"Tcp.RetransSegs": 12, ...}``; a section whose lines do not pair up is left out.
    """
    out: dict[str, int] = {}
    lines = [line.split() for line in text.splitlines() if line.strip()]
    for header, values in zip(lines[::2], lines[1::2]):
        if not header or not values or header[0] != values[0] or len(header) != len(values):
            continue
        section = header[0].rstrip(":")
        for name, value in zip(header[1:], values[1:]):
            try:
                out[f"{section}.{name}"] = int(value)
            except ValueError:
                continue
    return out


def parse_softnet_stat(text: str) -> dict[str, int]:
    """/proc/net/softnet_stat: one hex row per CPU; column 1 dropped, column 2 time_squeeze."""
    totals = {"softnet_dropped": 0, "softnet_time_squeeze": 0}
    rows = 0
    for line in text.splitlines():
        cols = line.split()
        if len(cols) < 3:
            continue
        try:
            totals["softnet_dropped"] += int(cols[1], 16)
            totals["softnet_time_squeeze"] += int(cols[2], 16)
        except ValueError:
            continue
        rows += 1
    if not rows:
        raise ValueError("no per-CPU rows with at least 3 hex columns")
    return totals


def parse_conntrack_stat(text: str) -> dict[str, int]:
    """/proc/net/stat/nf_conntrack: a header naming the columns, then one hex row per CPU.
    Columns differ between kernels, so they are looked up by name."""
    lines = [line.split() for line in text.splitlines() if line.strip()]
    if len(lines) < 2:
        raise ValueError("expected a header and at least one row")
    header = lines[0]
    totals: dict[str, int] = {}
    for row in lines[1:]:
        if len(row) != len(header):
            continue
        for name, value in zip(header, row):
            if name == "entries":
                continue  # a global gauge repeated per CPU, not a counter
            try:
                totals[name] = totals.get(name, 0) + int(value, 16)
            except ValueError:
                continue
    return totals


# --- sources ---------------------------------------------------------------------------------


def _read(ctx: ProbeContext, relative: str) -> str | None:
    path = os.path.join(ctx.proc_root, relative)
    try:
        with open(path, encoding="ascii", errors="replace") as fh:
            return fh.read()
    except OSError as exc:
        ctx.note(f"{path}: {exc.strerror or exc}; its metrics are left out")
        return None


def _read_counters(ctx: ProbeContext) -> dict[str, int]:
    counters: dict[str, int] = {}
    for relative in ("net/snmp", "net/netstat"):
        text = _read(ctx, relative)
        if text is not None:
            counters.update(parse_proc_pairs(text))
    for relative, parser in (("net/softnet_stat", parse_softnet_stat), ("net/stat/nf_conntrack", parse_conntrack_stat)):
        text = _read(ctx, relative)
        if text is None:
            continue
        try:
            parsed = parser(text)
        except ValueError as exc:
            ctx.note(f"{relative}: unknown layout ({exc}); its metrics are left out")
            continue
        prefix = "conntrack." if relative.endswith("nf_conntrack") else ""
        counters.update({prefix + k: v for k, v in parsed.items()})
    return counters


def counter_measurements(readings: list[tuple[float, dict[str, int]]],
                         ctx: ProbeContext) -> Iterator[Measurement]:
    """Deltas of the curated counters over the window, and per round between consecutive
    readings (``(monotonic time, counters)``, first and last the window's ends); rates
    where the kernel also counts the denominator."""
    window_s = readings[-1][0] - readings[0][0]
    round_s = [b[0] - a[0] for a, b in zip(readings, readings[1:])]

    def deltas(key: str) -> list[int] | None:
        if not all(key in counters for _, counters in readings):
            return None
        # A counter that went down was reset: no negative event count.
        return [max(0, b[1][key] - a[1][key]) for a, b in zip(readings, readings[1:])]

    def counted(key: str, metric: str) -> Measurement | None:
        per_round = deltas(key)
        if per_round is None:
            return None
        return Measurement.counter(metric, sum(per_round), window_s, per_round if len(per_round) > 1 else None,
                                   round_s if len(per_round) > 1 else None)

    missing = []
    for key, metric in COUNTERS:
        m = counted(key, metric)
        if m is None:
            missing.append(key)
        else:
            yield m
    for events_key, trials_key, metric in RATES:
        events, trials = deltas(events_key), deltas(trials_key)
        if events is not None and trials is not None and sum(trials) > 0:
            pairs = [[min(e, t), t] for e, t in zip(events, trials)]
            m = Measurement.proportion(metric, sum(e for e, _ in pairs), sum(trials))
            yield replace(m, extra={"rounds": pairs}) if len(pairs) > 1 else m
    for key in ("softnet_dropped", "softnet_time_squeeze"):
        m = counted(key, key)
        if m is not None:
            yield m
    for name in CONNTRACK_STATS:
        m = counted(f"conntrack.{name}", f"conntrack_{name}")
        if m is not None:
            yield m
    if missing:
        ctx.note(f"counters not on this kernel: {', '.join(missing)}")


def _conntrack_fill(ctx: ProbeContext) -> Iterator[Measurement]:
    count_path = os.path.join(ctx.proc_root, "sys/net/netfilter/nf_conntrack_count")
    if not os.path.exists(count_path):
        ctx.note("conntrack not loaded (no nf_conntrack_count); conntrack fill left out")
        return
    count, limit = _read(ctx, "sys/net/netfilter/nf_conntrack_count"), _read(ctx, "sys/net/netfilter/nf_conntrack_max")
    if count is None or limit is None:
        return
    try:
        count_n, limit_n = int(count.strip()), int(limit.strip())
    except ValueError:
        ctx.note("nf_conntrack_count/max are not integers; conntrack fill left out")
        return
    yield Measurement.gauge("conntrack_entries", count_n)
    if limit_n > 0:
        yield Measurement.gauge("conntrack_fill", round(100.0 * count_n / limit_n, 3), unit="percent")


# --- probes ----------------------------------------------------------------------------------


@probe("kernel", "counters", window=True, rounds=True)
def counters(target: None, ctx: ProbeContext) -> Iterator[Measurement | None]:
    """Network counters read at the start and the end of the run, and at the end of every
    round between (about 0.2 ms of /proc reads each, outside every other probe's clock):
    what the run window saw, and how it spread over the run."""
    _linux_only()
    readings = [(time.monotonic(), _read_counters(ctx))]
    while (yield None) is ROUND:  # the other probes run here, a round at a time
        readings.append((time.monotonic(), _read_counters(ctx)))
    readings.append((time.monotonic(), _read_counters(ctx)))
    yield from counter_measurements(readings, ctx)
    yield from _conntrack_fill(ctx)


def _interfaces(config: object) -> list[tuple[str, str]]:
    _linux_only()
    import psutil

    return [(name, name) for name, stats in sorted(psutil.net_if_stats().items()) if stats.isup]


@probe("kernel", "nic", targets=_interfaces, window=True)
def nic(interface: str, ctx: ProbeContext) -> Iterator[Measurement | None]:
    """Per-interface errors and drops over the run window, and its MTU."""
    import psutil

    before, opened = psutil.net_io_counters(pernic=True).get(interface), time.monotonic()
    yield None
    after = psutil.net_io_counters(pernic=True).get(interface)
    window_s = time.monotonic() - opened
    if before is None or after is None:
        ctx.note(f"interface {interface} disappeared during the run")
        return
    for field in ("errin", "errout", "dropin", "dropout"):
        yield Measurement.counter(field, max(0, getattr(after, field) - getattr(before, field)), window_s)
    stats = psutil.net_if_stats().get(interface)
    if stats is not None:
        yield Measurement.fact("mtu", stats.mtu)


@probe("kernel", "facts")
def facts(target: None, ctx: ProbeContext) -> Iterable[Measurement]:
    """Kernel release and the networking sysctls that change how connections behave."""
    _linux_only()
    release = _read(ctx, "sys/kernel/osrelease")
    out = [Measurement.fact("kernel_release", release.strip() if release else os.uname().release)]
    absent = []
    for name in SYSCTLS:
        path = os.path.join(ctx.proc_root, "sys", name)
        try:
            with open(path, encoding="ascii", errors="replace") as fh:
                value = " ".join(fh.read().split())
        except OSError:
            absent.append(name.replace("/", "."))
            continue
        out.append(Measurement.fact(name.replace("/", "."), value))
    if absent:
        ctx.note(f"sysctls not readable here: {', '.join(absent)}")
    return out


def _connect_targets(config) -> list[tuple[str, tuple[str, int] | None]]:
    endpoints = config.endpoints()
    return [(name, ep) for name, ep in endpoints] or [(LOOPBACK, None)]


class _LoopbackListener:
    """A listener the probe owns, so the layer has a latency signal with no targets at all."""

    def __init__(self) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(1024)
        self.sock.settimeout(0.2)
        self.address = self.sock.getsockname()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._accept, daemon=True, name="triage-loopback-listener")
        self._thread.start()

    def _accept(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except (socket.timeout, OSError):
                continue
            conn.close()

    def close(self) -> None:
        self._stop.set()
        self._thread.join(1.0)
        self.sock.close()


def measure_connects(address: tuple[str, int], samples: int, timeout_s: float, ctx: ProbeContext,
                     groups: int = 1) -> Iterator[Measurement | object]:
    """Time ``samples`` TCP handshakes to an already-resolved address in ``groups`` sub-runs
    (``GROUP_END`` between them); only connect() is timed. Every connect is a fresh socket
    already: the groups spread the samples over the run."""
    family = socket.AF_INET6 if ":" in address[0] else socket.AF_INET
    latencies: list[float] = []
    sizes: list[int] = []
    failures = 0
    errors: dict[str, int] = {}
    trials = 0
    for g, size in enumerate(group_sizes(samples, groups)):
        if g:
            yield GROUP_END
        for _ in range(size):
            if ctx.expired():
                break
            sock = socket.socket(family, socket.SOCK_STREAM)
            sock.settimeout(min(timeout_s, max(0.05, ctx.remaining())))
            trials += 1
            try:
                start = time.perf_counter_ns()
                sock.connect(address)
                latencies.append((time.perf_counter_ns() - start) / 1e6)
            except OSError as exc:
                failures += 1
                reason = "timeout" if isinstance(exc, socket.timeout) else (os.strerror(exc.errno) if exc.errno else str(exc))
                errors[reason] = errors.get(reason, 0) + 1
            finally:
                sock.close()
        end_group(latencies, sizes)
        if ctx.expired():
            break
    if trials < samples:
        ctx.note(f"deadline reached after {trials} of {samples} connects")
    if latencies:
        yield Measurement.samples("connect_latency", latencies, unit="ms", groups=sizes)
    yield Measurement.proportion("connect_failures", failures, trials)
    if errors:
        ctx.note("connect failures: " + ", ".join(f"{k} x{v}" for k, v in sorted(errors.items())))


@probe("kernel", "tcp_connect", targets=_connect_targets, subruns=True)
def tcp_connect(endpoint: tuple[str, int] | None, ctx: ProbeContext) -> Iterator[Measurement | object]:
    """TCP connect latency to a target's host:port (or to a loopback listener of our own)."""
    groups = ctx.config.groups
    if endpoint is None:
        listener = _LoopbackListener()
        try:
            yield from measure_connects(listener.address, ctx.samples, 2.0, ctx, groups)
        finally:
            listener.close()
        return
    host, port = endpoint
    # Resolve once, outside the timed window: DNS time belongs to the dns layer.
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    address = infos[0][4][:2]
    yield from measure_connects(address, ctx.samples, 3.0, ctx, groups)
