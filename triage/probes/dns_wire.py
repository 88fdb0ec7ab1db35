"""The DNS wire client: raw queries to one resolver over UDP (TCP when a reply is truncated),
and the series loop the ``dns.resolve`` probe (and the benches) take their samples with.

Only send -> receive is timed; the reply is checked after the clock stops, so the
client's own cost stays small next to the few tens of microseconds a loopback resolver
takes (see bench/dns_probe.py). A series runs in groups, each on a new UDP socket (a new
source port, a new socket buffer and flow hash), so per-socket state varies within a run.
"""

from __future__ import annotations

import os
import select
import socket
import struct
import time
from dataclasses import dataclass, field
from typing import Sequence

from triage.model import Measurement
from triage.probes import end_group, group_sizes

# A series (one name, resolver and qtype) that has never been answered stops after this
# many failures in a row: an unreachable resolver then costs a few timeouts, not
# samples x timeout. Five, so a resolver dropping half its queries is wrongly given up on
# in 3% of runs at most (0.5 ** 5), and one dropping 10% practically never.
DEAD_AFTER = 5

NOERROR, SERVFAIL, NXDOMAIN, REFUSED = 0, 2, 3, 5
_MAX_UDP_REPLY = 65535


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


class _QueryTemplate:
    """The wire bytes of one query, built once; per query only the id (and the
    cache-miss label) are patched in place."""

    PREFIX_LEN = 12  # hex characters of the cache-miss label

    def __init__(self, name: str, qtype: str, cache_miss: bool):
        import dns.message

        qname = ("x" * self.PREFIX_LEN + "." + name) if cache_miss else name
        self.wire = bytearray(dns.message.make_query(qname, qtype).to_wire())
        self.cache_miss = cache_miss
        if cache_miss and self.wire[12] != self.PREFIX_LEN:
            raise ValueError(f"unexpected query layout for {qname!r}")

    def next(self, qid: int) -> bytearray:
        wire = self.wire
        wire[0] = qid >> 8
        wire[1] = qid & 0xFF
        if self.cache_miss:
            wire[13:13 + self.PREFIX_LEN] = os.urandom(self.PREFIX_LEN // 2).hex().encode()
        return wire

    def question(self) -> bytes:
        return bytes(self.wire[12:]).lower()


def _reply_matches(reply: bytes, wire: bytearray, question: bytes) -> bool:
    """Is this the answer to ``wire``: same id, a response, the same question."""
    return (len(reply) >= 12 and reply[0] == wire[0] and reply[1] == wire[1] and reply[2] & 0x80
            and reply[12:12 + len(question)].lower() == question)


def _timeval(seconds: float) -> bytes:
    """struct timeval for SO_RCVTIMEO; never all zero, which would mean wait forever."""
    whole = int(seconds)
    micros = int(round((seconds - whole) * 1_000_000))
    return struct.pack("ll", whole, max(micros, 1) if whole == 0 else micros)


class WireResolver:
    """A connected UDP socket to one resolver (TCP opened per truncated reply).

    The receive timeout is a socket option (SO_RCVTIMEO) rather than Python's
    settimeout(), so each receive is one system call, not poll() + recv().
    """

    def __init__(self, host: str, port: int, timeout_s: float):
        family, _, _, _, addr = socket.getaddrinfo(host, port, 0, socket.SOCK_DGRAM, 0,
                                                   socket.AI_NUMERICHOST | socket.AI_NUMERICSERV)[0]
        self.family = family
        self.addr = addr
        self.timeout_s = timeout_s
        self._timeout_ns = int(timeout_s * 1e9)
        self.sock = socket.socket(family, socket.SOCK_DGRAM)
        try:
            self.sock.connect(addr)
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVTIMEO, _timeval(timeout_s))
        except BaseException:
            self.sock.close()
            raise
        self._qid = int.from_bytes(os.urandom(2), "big")

    def close(self) -> None:
        self.sock.close()

    def __enter__(self) -> "WireResolver":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _next_id(self) -> int:
        self._qid = (self._qid + 1) & 0xFFFF
        return self._qid

    def _wait_for_reply(self, t0: int, wire: bytearray, question: bytes) -> tuple[bytes | None, int]:
        """Slow path after a stray datagram (a late reply to an earlier timed-out query):
        keep reading until ours arrives or the query's timeout runs out."""
        clock = time.perf_counter_ns
        while True:
            left = (t0 + self._timeout_ns - clock()) / 1e9
            if left <= 0:
                return None, 0
            ready, _, _ = select.select([self.sock], [], [], left)
            if not ready:
                return None, 0
            try:
                reply = self.sock.recv(_MAX_UDP_REPLY)
            except OSError:  # an ICMP error for an earlier query; ours may still come
                continue
            t1 = clock()
            if _reply_matches(reply, wire, question):
                return reply, t1

    def _tcp_exchange(self, wire: bytearray) -> tuple[bytes | None, int]:
        """(reply, elapsed ns) over a fresh TCP connection; (None, 0) on timeout.
        Timed from connect (a stub pays the handshake) to the last byte of the reply."""
        clock = time.perf_counter_ns
        framed = struct.pack("!H", len(wire)) + bytes(wire)
        with socket.socket(self.family, socket.SOCK_STREAM) as s:
            try:
                s.settimeout(self.timeout_s)
                t0 = clock()
                deadline = t0 + self._timeout_ns
                s.connect(self.addr)
                s.sendall(framed)
                head = self._recv_exact(s, 2, deadline)
                reply = self._recv_exact(s, struct.unpack("!H", head)[0], deadline)
            except (socket.timeout, TimeoutError):
                return None, 0
            return reply, clock() - t0

    @staticmethod
    def _recv_exact(s: socket.socket, n: int, deadline_ns: int) -> bytes:
        chunks = bytearray()
        while len(chunks) < n:
            left = (deadline_ns - time.perf_counter_ns()) / 1e9
            if left <= 0:
                raise TimeoutError
            s.settimeout(left)
            chunk = s.recv(n - len(chunks))
            if not chunk:
                raise ConnectionResetError("resolver closed the TCP connection mid-reply")
            chunks += chunk
        return bytes(chunks)

    def query(self, template: _QueryTemplate, question: bytes, stats: SeriesStats) -> None:
        """One query; its outcome goes into ``stats``. Only send -> receive is timed."""
        wire = template.next(self._next_id())
        if template.cache_miss:
            question = bytes(wire[12:]).lower()
        send, recv, clock = self.sock.send, self.sock.recv, time.perf_counter_ns
        stats.trials += 1
        t0 = clock()
        try:
            send(wire)
            reply = recv(_MAX_UDP_REPLY)
            t1 = clock()
        except (BlockingIOError, socket.timeout, TimeoutError):
            reply, t1 = None, 0
        except OSError as exc:  # ICMP unreachable (ECONNREFUSED), no route: no answer, no latency
            stats.socket_errors += 1
            stats.failures_in_a_row += 1
            stats.last_error = f"{type(exc).__name__}: {exc.strerror or exc}"
            return
        # The clock has stopped: everything below is outside the measurement.
        if reply is not None and not _reply_matches(reply, wire, question):
            reply, t1 = self._wait_for_reply(t0, wire, question)
        if reply is None:
            stats.timeouts += 1
            stats.failures_in_a_row += 1
            stats.latencies_ms.append(self.timeout_s * 1000.0)
            return
        elapsed_ns = t1 - t0
        if reply[2] & 0x02:  # TC: the answer did not fit, ask again over TCP as a stub would
            stats.tcp_fallback += 1
            try:
                reply, tcp_ns = self._tcp_exchange(wire)
            except OSError as exc:  # refused or reset: no full answer, no latency to record
                stats.socket_errors += 1
                stats.failures_in_a_row += 1
                stats.last_error = f"TCP {type(exc).__name__}: {exc.strerror or exc}"
                return
            if reply is None or not _reply_matches(reply, wire, question):
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
    the qtypes interleaved (A AAAA A AAAA ...) on a new socket, so drift hits them alike.

    A qtype that was never answered stops after DEAD_AFTER failures in a row, and the
    whole series stops when ``deadline`` (time.monotonic) leaves no room for one more full
    timeout; ``notes`` says so. The stats carry the group sizes of their latencies.
    """

    def __init__(self, host: str, port: int, name: str, qtypes: Sequence[str], samples: int, timeout_s: float,
                 *, cache_miss: bool = False):
        self.host, self.port, self.samples, self.timeout_s = host, port, samples, timeout_s
        self.templates = [_QueryTemplate(name, q, cache_miss) for q in qtypes]
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
    """Query ``name`` ``samples`` times per qtype at host:port, in ``groups`` groups back to
    back (see WireSeries). Returns the stats and the notes on early stops."""
    series = WireSeries(host, port, name, qtypes, samples, timeout_s, cache_miss=cache_miss)
    for size in group_sizes(samples, groups):
        series.run_group(size, deadline, interval_s)
    return series.finish()
