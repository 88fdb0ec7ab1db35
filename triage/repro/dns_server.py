"""The embedded DNS server: a synthetic zone over UDP and TCP with injectable faults.

Every name answers (configured names and a wildcard): A 127.x.y.z and AAAA fd00::…,
deterministic per name, so a client can check it got *its* answer. Faults come from a
FaultProfile (see dns_profile). One asyncio loop in a background thread does all the work:
a delayed reply is a ``call_later``, never a sleep, so a slow answer never holds up the next
query. Decisions that draw random numbers all run on that one thread, so a seeded profile
repeats the same decisions for the same query sequence.

Replies to a question already seen are served from a small cache keyed by the query's bytes
after the ID (the question, flags and EDNS), so the steady state does not re-run dnspython.
"""

from __future__ import annotations

import asyncio
import random
import signal
import socket
import struct
import threading
import time
import zlib
from collections import Counter
from typing import Callable, Iterable

from triage.errors import BadInput
from triage.loopback import EXPOSE_FLAG, require_loopback_or_allowed
from triage.resolvconf import show_hostport

from .dns_profile import PARETO_SHAPE, FaultProfile, parse_profile

DEFAULT_TTL = 30
MAX_TCP_CONNECTIONS = 256
TCP_IDLE_S = 10.0
_CACHE_LIMIT = 8192
_SEEN_LIMIT = 200_000
_ZONE_SOA_NAME = "synthetic.invalid."

# Outcomes of the fault decision for one query.
_ANSWER, _NXDOMAIN, _SERVFAIL, _TRUNCATED = "answer", "nxdomain", "servfail", "truncated"


def check_bind(bind: str, exposed: bool) -> None:
    """The loopback rule for a reproducer server: a non-loopback ``bind`` needs ``exposed``."""
    require_loopback_or_allowed(bind, (bind,) if exposed else (), "--bind",
                                allow_with=f"add {EXPOSE_FLAG} if anyone who can reach it may get answers")


def synthetic_a(name: str) -> str:
    """127.x.y.z from a CRC of the name: stable across runs and processes."""
    h = zlib.crc32(name.lower().rstrip(".").encode())
    return f"127.{(h >> 16) & 0xFF}.{(h >> 8) & 0xFF}.{1 + (h & 0xFF) % 254}"


def synthetic_aaaa(name: str) -> str:
    """fd00::7472:x:y (a unique-local address) from the same CRC."""
    h = zlib.crc32(name.lower().rstrip(".").encode())
    return f"fd00::7472:{(h >> 16) & 0xFFFF:x}:{h & 0xFFFF:x}"


class _Udp(asyncio.DatagramProtocol):
    def __init__(self, server: "EmbeddedDnsServer"):
        self.server = server
        self.transport: asyncio.DatagramTransport | None = None

    def connection_made(self, transport) -> None:
        self.transport = transport

    def datagram_received(self, data: bytes, addr) -> None:
        self.server._handle(data, addr, self._send, udp=True)

    def _send(self, wire: bytes, addr) -> None:
        if self.transport is not None and not self.transport.is_closing():
            self.transport.sendto(wire, addr)

    def error_received(self, exc: Exception) -> None:
        # ICMP port unreachable from a client that went away: nothing to do.
        self.server._count["udp_send_errors"] += 1


class _Tcp(asyncio.Protocol):
    def __init__(self, server: "EmbeddedDnsServer"):
        self.server = server
        self.transport: asyncio.Transport | None = None
        self.buffer = b""
        self.idle: asyncio.TimerHandle | None = None

    def connection_made(self, transport) -> None:
        self.transport = transport
        srv = self.server
        if len(srv._tcp_conns) >= srv.max_tcp_connections:
            srv._count["tcp_refused"] += 1
            transport.close()
            return
        srv._tcp_conns.add(self)
        srv._count["tcp_connections"] += 1
        self._arm()

    def _arm(self) -> None:
        if self.idle is not None:
            self.idle.cancel()
        self.idle = self.server._loop.call_later(TCP_IDLE_S, self._close)

    def _close(self) -> None:
        if self.transport is not None:
            self.transport.close()

    def connection_lost(self, exc) -> None:
        self.server._tcp_conns.discard(self)
        if self.idle is not None:
            self.idle.cancel()
        self.transport = None

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        self._arm()
        while len(self.buffer) >= 2:
            (length,) = struct.unpack("!H", self.buffer[:2])
            if len(self.buffer) < 2 + length:
                if len(self.buffer) > 70_000:
                    self._close()
                return
            wire, self.buffer = self.buffer[2:2 + length], self.buffer[2 + length:]
            peer = self.transport.get_extra_info("peername") if self.transport else None
            self.server._handle(wire, peer, self._send, udp=False)

    def _send(self, wire: bytes, addr) -> None:
        if self.transport is not None and not self.transport.is_closing():
            self.transport.write(struct.pack("!H", len(wire)) + wire)


class EmbeddedDnsServer:
    """A synthetic-zone DNS server on UDP and TCP (same port), in a background thread.

    Use as a context manager; ``host``/``port`` say where it listens, ``stats()`` what it did.
    Binding a non-loopback address needs ``exposed=True`` (the CLI's --i-know-this-exposes-dns).
    ``ServerProcess`` (dns_server_process) runs one in a child process.
    """

    def __init__(self, profile: str | FaultProfile | None = None, names: Iterable[str] = (),
                 bind: str = "127.0.0.1", port: int = 0,
                 search_domains: Iterable[str] | None = None, *, ttl: int = DEFAULT_TTL,
                 seed: int | None = None, exposed: bool = False,
                 max_tcp_connections: int = MAX_TCP_CONNECTIONS):
        self.profile = profile if isinstance(profile, FaultProfile) else parse_profile(profile)
        check_bind(bind, exposed)
        if not 0 <= int(port) <= 65535:
            raise BadInput(f"--port: expected 0..65535, got {port}")
        self.bind = bind
        self.requested_port = int(port)
        self.names = frozenset(_norm(n) for n in names)
        search = self.profile.search if search_domains is None else tuple(search_domains)
        # Query names arrive absolute (trailing dot): ".svc.cluster.local." matches under a search domain.
        self._search_suffixes = tuple(f".{_norm(s)}." for s in search)
        self.ttl = int(ttl)
        self.max_tcp_connections = max_tcp_connections
        seed = self.profile.seed if seed is None else seed
        self._rng = random.Random(seed)
        self._count: Counter = Counter()
        self._cache: dict[tuple[bytes, str], bytes] = {}
        self._parsed: dict[bytes, tuple[str, str] | None] = {}
        self._seen: set[tuple[str, str]] = set()
        self._last_from: dict[tuple, float] = {}
        self._tcp_conns: set[_Tcp] = set()
        self._in_flight = 0
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._udp_transport = None
        self._tcp_server = None
        self.host = bind
        self.port = 0

    # ---- lifecycle -------------------------------------------------------------------------

    def __enter__(self) -> "EmbeddedDnsServer":
        self.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop()

    def start(self) -> "EmbeddedDnsServer":
        if self._thread is not None:
            return self
        udp, tcp = self._bind_sockets()
        self.host, self.port = udp.getsockname()[:2]
        ready = threading.Event()
        failure: list[BaseException] = []

        def run() -> None:
            loop = asyncio.new_event_loop()
            self._loop = loop
            try:
                self._udp_transport, _ = loop.run_until_complete(
                    loop.create_datagram_endpoint(lambda: _Udp(self), sock=udp))
                self._tcp_server = loop.run_until_complete(
                    loop.create_server(lambda: _Tcp(self), sock=tcp, backlog=128))
            except BaseException as exc:  # handed to start()'s caller
                failure.append(exc)
                ready.set()
                loop.close()
                return
            ready.set()
            try:
                loop.run_forever()
            finally:
                self._shutdown(loop)

        self._thread = threading.Thread(target=run, name=f"triage-dns-{self.port}", daemon=True)
        self._thread.start()
        ready.wait()
        if failure:
            self._thread.join()
            self._thread = None
            raise failure[0]
        return self

    def _bind_sockets(self) -> tuple[socket.socket, socket.socket]:
        family = socket.AF_INET6 if ":" in self.bind else socket.AF_INET
        # With port 0, UDP picks the port and TCP must get the same one; retry if it is taken.
        for _ in range(20):
            udp = socket.socket(family, socket.SOCK_DGRAM)
            tcp = socket.socket(family, socket.SOCK_STREAM)
            try:
                udp.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
                udp.bind((self.bind, self.requested_port))
                port = udp.getsockname()[1]
                tcp.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                tcp.bind((self.bind, port))
                tcp.listen(128)
                udp.setblocking(False)
                tcp.setblocking(False)
                return udp, tcp
            except OSError as exc:
                udp.close()
                tcp.close()
                if self.requested_port:
                    raise BadInput(f"cannot listen on {self.bind}:{self.requested_port}: {exc.strerror}") from None
        raise BadInput(f"cannot find a port free for both UDP and TCP on {self.bind}")

    def stop(self) -> None:
        loop, thread = self._loop, self._thread
        if thread is None or loop is None:
            return
        if loop.is_running():
            loop.call_soon_threadsafe(loop.stop)
        thread.join(timeout=10)
        self._thread = None

    def _shutdown(self, loop: asyncio.AbstractEventLoop) -> None:
        """On the loop thread after run_forever returns: close everything, drop pending replies."""
        for conn in list(self._tcp_conns):
            conn._close()
        if self._tcp_server is not None:
            self._tcp_server.close()
        if self._udp_transport is not None:
            self._udp_transport.close()
        pending = [h for h in getattr(loop, "_scheduled", ()) if not h.cancelled()]
        self._count["unsent_at_stop"] += len(pending)
        for handle in pending:
            handle.cancel()
        try:
            loop.run_until_complete(asyncio.sleep(0))  # let transports finish closing
        finally:
            loop.close()

    @property
    def address(self) -> str:
        return show_hostport(self.host, self.port)

    def stats(self) -> dict:
        """Counts so far: queries (total, by qtype, udp/tcp), answered, dropped (by reason),
        servfail, nxdomain, truncated, delayed (and the delay scheduled), cold misses, peak in flight."""
        c = dict(self._count)  # one C-level copy: consistent under the GIL
        by_qtype = {k[6:]: v for k, v in c.items() if k.startswith("qtype:")}
        dropped_by = {k[5:]: v for k, v in c.items() if k.startswith("drop:")}
        plain = {k: v for k, v in c.items() if ":" not in k}
        out = {key: plain.get(key, 0) for key in (
            "queries", "udp", "tcp", "answered", "nxdomain", "servfail", "truncated", "dropped", "delayed",
            "cold_misses", "overload", "malformed", "in_flight_peak", "tcp_connections", "tcp_refused", "unsent_at_stop")}
        out["delay_ms_scheduled"] = round(plain.get("delay_us_scheduled", 0) / 1000.0, 3)
        out["queries_by_qtype"] = by_qtype
        out["dropped_by_reason"] = dropped_by
        out["in_flight"] = self._in_flight
        return out

    # ---- the query path (loop thread only) ----------------------------------------------------

    def _question(self, wire: bytes) -> tuple[str, str] | None:
        """(qname, qtype) of a query, or None if it is not a query we can answer."""
        key = wire[2:]
        hit = self._parsed.get(key)
        if hit is not None or key in self._parsed:
            return hit
        import dns.message
        import dns.opcode
        import dns.rdatatype

        try:
            msg = dns.message.from_wire(wire)
            if msg.flags & 0x8000 or msg.opcode() != dns.opcode.QUERY or len(msg.question) != 1:
                question = None
            else:
                q = msg.question[0]
                question = (q.name.to_text().lower(), dns.rdatatype.to_text(q.rdtype))
        except Exception:  # noqa: BLE001 - any undecodable datagram is just counted
            question = None
        if len(self._parsed) >= _CACHE_LIMIT:
            self._parsed.clear()
        self._parsed[key] = question
        return question

    def _handle(self, wire: bytes, addr, send, *, udp: bool) -> None:
        count = self._count
        count["queries"] += 1
        count["udp" if udp else "tcp"] += 1
        question = self._question(wire)
        if question is None:
            count["malformed"] += 1
            return
        qname, qtype = question
        count["qtype:" + qtype] += 1
        p = self.profile
        rng = self._rng

        if p.overload_max is not None and self._in_flight >= p.overload_max:
            count["overload"] += 1
            if p.overload_action == "drop":
                self._drop("overload")
                return
            self._reply(wire, qname, qtype, _SERVFAIL, send, addr, 0.0)
            return
        if udp and p.clash_window_ms is not None and addr is not None:
            now = time.monotonic()
            last = self._last_from.get(addr)
            if len(self._last_from) >= _SEEN_LIMIT:
                self._last_from.clear()
            self._last_from[addr] = now
            if last is not None and (now - last) * 1000.0 <= p.clash_window_ms and rng.random() < p.clash_rate:
                self._drop("clash")
                return
        if p.aaaa_blackhole and qtype == "AAAA":
            self._drop("aaaa_blackhole")
            return
        for rule in p.drops:
            if (rule.qtype is None or rule.qtype == qtype) and rng.random() < rule.rate:
                self._drop("drop")
                return

        delay_ms = p.delay_ms
        if p.jitter_ms:
            if p.jitter_dist == "pareto":
                scale = p.jitter_ms * (1 - 1 / PARETO_SHAPE)  # a Pareto whose mean is jitter_ms
                delay_ms += scale * rng.paretovariate(PARETO_SHAPE)
            else:
                delay_ms += max(0.0, rng.gauss(0.0, p.jitter_ms))
        if p.cold_cache_ms is not None:
            key = (qname, qtype)
            if key not in self._seen:
                if len(self._seen) >= _SEEN_LIMIT:
                    self._seen.clear()
                self._seen.add(key)
                count["cold_misses"] += 1
                delay_ms += p.cold_cache_ms

        if p.servfail_rate and rng.random() < p.servfail_rate:
            outcome = _SERVFAIL
        elif p.search_nxdomain and qname.rstrip(".") not in self.names and qname.endswith(self._search_suffixes):
            outcome = _NXDOMAIN
            delay_ms += p.search_nxdomain_ms
        else:
            outcome = _ANSWER
        if udp and p.truncate_rate and outcome == _ANSWER and (p.truncate_rate >= 1 or rng.random() < p.truncate_rate):
            outcome = _TRUNCATED
        self._reply(wire, qname, qtype, outcome, send, addr, delay_ms)

    def _drop(self, reason: str) -> None:
        self._count["dropped"] += 1
        self._count["drop:" + reason] += 1

    def _reply(self, wire: bytes, qname: str, qtype: str, outcome: str, send, addr, delay_ms: float) -> None:
        tail = self._cache.get((wire[2:], outcome))
        if tail is None:
            tail = self._build(wire, qname, qtype, outcome)[2:]
            if len(self._cache) >= _CACHE_LIMIT:
                self._cache.clear()
            self._cache[(wire[2:], outcome)] = tail
        response = wire[:2] + tail
        count = self._count
        count["answered" if outcome == _ANSWER else outcome] += 1
        if delay_ms <= 0:
            send(response, addr)
            return
        count["delayed"] += 1
        count["delay_us_scheduled"] += int(delay_ms * 1000)
        self._in_flight += 1
        if self._in_flight > count["in_flight_peak"]:
            count["in_flight_peak"] = self._in_flight
        self._loop.call_later(delay_ms / 1000.0, self._deliver, send, response, addr)

    def _deliver(self, send, response: bytes, addr) -> None:
        self._in_flight -= 1
        send(response, addr)

    def _build(self, wire: bytes, qname: str, qtype: str, outcome: str) -> bytes:
        import dns.flags
        import dns.message
        import dns.rcode
        import dns.rdataclass
        import dns.rdatatype
        import dns.rrset

        query = dns.message.from_wire(wire)
        response = dns.message.make_response(query)
        response.flags |= dns.flags.AA | (query.flags & dns.flags.RD) | dns.flags.RA
        if outcome == _SERVFAIL:
            response.set_rcode(dns.rcode.SERVFAIL)
        elif outcome == _TRUNCATED:
            response.flags |= dns.flags.TC
        elif outcome == _NXDOMAIN:
            response.set_rcode(dns.rcode.NXDOMAIN)
            response.authority.append(self._soa())
        elif qtype in ("A", "AAAA"):
            address = synthetic_a(qname) if qtype == "A" else synthetic_aaaa(qname)
            response.answer.append(dns.rrset.from_text(qname, self.ttl, "IN", qtype, address))
        else:  # NOERROR, no data: the name exists, this type does not
            response.authority.append(self._soa())
        return response.to_wire()

    def _soa(self):
        import dns.rrset

        neg = self.profile.neg_ttl_s
        return dns.rrset.from_text(_ZONE_SOA_NAME, neg, "IN", "SOA",
                                   f"ns.{_ZONE_SOA_NAME} hostmaster.{_ZONE_SOA_NAME} 1 3600 600 86400 {neg}")


def _norm(name: str) -> str:
    return name.strip().lower().rstrip(".")


def serve_until_interrupted(profile: str | FaultProfile | None, *, names: Iterable[str] = (), bind: str = "127.0.0.1",
                            port: int = 5353, exposed: bool = False,
                            announce: Callable[[EmbeddedDnsServer], None] | None = None) -> dict:
    """`triage repro dns serve`: run in the foreground until Ctrl-C or SIGTERM; return the stats.

    ``announce`` is called once the server listens (the CLI prints the address there).
    """
    server = EmbeddedDnsServer(profile, names, bind, port, exposed=exposed)
    stop = threading.Event()

    def on_term(signum, frame) -> None:
        stop.set()

    previous = signal.signal(signal.SIGTERM, on_term) if threading.current_thread() is threading.main_thread() else None
    try:
        with server:
            if announce is not None:
                announce(server)
            try:
                while not stop.wait(0.5):  # wakes for Ctrl-C; the server runs on its own thread
                    pass
            except KeyboardInterrupt:
                pass
        return server.stats()
    finally:
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)
