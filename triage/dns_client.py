"""The one DNS-over-UDP/TCP client: the dns probe measures with it, the reproducer resolves with it.

- ``WireClient``: a connected UDP socket to one server. Query ids are patched into wire
  bytes built once; a reply is ours when id, QR bit and question match; a truncated reply
  is asked again over a fresh TCP connection. The receive timeout is a socket option
  (SO_RCVTIMEO) rather than Python's settimeout(), so each receive in the probe's timed
  path is one system call, not poll() + recv(). ``exchange`` sends several queries at
  once and collects their replies, as glibc does with A and AAAA.
- ``StubResolver``: glibc's stub resolver on that client, for what changes what a lookup
  costs: the search order of triage.resolvconf (search list, ndots, no-tld-query), A and
  AAAA in parallel on one fresh socket per candidate and nameserver, unanswered ones re-sent
  each attempt to each nameserver in turn, TCP on truncation; the next candidate on
  NXDOMAIN, NODATA or SERVFAIL; given up on a timeout or when no nameserver can be reached.
"""

from __future__ import annotations

import functools
import os
import select
import socket
import struct
import threading
import time
from typing import NamedTuple, Sequence

from triage.resolvconf import DNS_PORT, ResolvConf

NOERROR, SERVFAIL, NXDOMAIN, REFUSED = 0, 2, 3, 5
MAX_UDP_REPLY = 65535
# glibc's default nameserver when resolv.conf names none (resolv/res_init.c).
GLIBC_DEFAULT_NAMESERVER = "127.0.0.1"


class QueryTemplate:
    """The wire bytes of one query, built once; per query only the id (and the
    cache-miss label) are patched in place."""

    PREFIX_LEN = 12  # hex characters of the cache-miss label

    def __init__(self, name: str, qtype: str, cache_miss: bool = False):
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

    def copy(self) -> "QueryTemplate":
        """The same query with wire bytes of its own, for another thread to patch."""
        twin = object.__new__(QueryTemplate)
        twin.wire, twin.cache_miss = bytearray(self.wire), self.cache_miss
        return twin


def reply_matches(reply: bytes, wire: bytearray, question: bytes) -> bool:
    """Is this the answer to ``wire``: same id, a response, the same question."""
    return (len(reply) >= 12 and reply[0] == wire[0] and reply[1] == wire[1] and reply[2] & 0x80
            and reply[12:12 + len(question)].lower() == question)


def _timeval(seconds: float) -> bytes:
    """struct timeval for SO_RCVTIMEO; never all zero, which would mean wait forever."""
    whole = int(seconds)
    micros = int(round((seconds - whole) * 1_000_000))
    return struct.pack("ll", whole, max(micros, 1) if whole == 0 else micros)


def describe_socket_error(exc: OSError) -> str:
    """``ConnectionRefusedError: Connection refused``: one line, the same everywhere."""
    return f"{type(exc).__name__}: {exc.strerror or exc}"


class Reply(NamedTuple):
    """What one query of an ``exchange`` got: an answer, nothing within the timeout, or a
    socket error (ICMP port or host unreachable, no route: no answer, and no wait either).
    A NamedTuple: built twice per lookup, where a frozen dataclass costs ~4 us each."""

    rcode: int | None = None  # None: not answered
    answers: int = 0  # ANCOUNT
    tcp: bool = False  # asked again over TCP after a truncated UDP reply
    error: str | None = None

    @property
    def timed_out(self) -> bool:
        return self.rcode is None and self.error is None


@functools.lru_cache(maxsize=64)
def _sockaddr(host: str, port: int) -> tuple[int, tuple]:
    """(family, sockaddr) of a numeric address, scope (``fe80::1%eth0``) included; cached,
    as the stub opens a client per candidate name and this costs ~10 us each time."""
    family, _, _, _, addr = socket.getaddrinfo(host, port, 0, socket.SOCK_DGRAM, 0,
                                               socket.AI_NUMERICHOST | socket.AI_NUMERICSERV)[0]
    return family, addr


class WireClient:
    """A connected UDP socket to one server (TCP opened per truncated reply).

    Construction raises OSError when the address cannot be reached at all (ENETUNREACH
    with no route: connect() on UDP sends nothing, it only looks the route up).
    ``rcvtimeo`` sets SO_RCVTIMEO for a bare ``sock.recv`` (the probe's timed path); the
    stub's ``exchange`` waits with settimeout() instead and skips it (~12 us per socket).
    """

    def __init__(self, host: str, port: int, timeout_s: float, *, rcvtimeo: bool = True):
        family, addr = _sockaddr(host, port)
        self.family = family
        self.addr = addr
        self.timeout_s = timeout_s
        self.timeout_ns = int(timeout_s * 1e9)
        self.sent = 0  # queries ``exchange`` put on the wire, UDP and TCP
        self.sock = socket.socket(family, socket.SOCK_DGRAM)
        try:
            self.sock.connect(addr)
            if rcvtimeo:
                self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVTIMEO, _timeval(timeout_s))
        except BaseException:
            self.sock.close()
            raise
        self._qid = int.from_bytes(os.urandom(2), "big")

    def close(self) -> None:
        self.sock.close()

    def __enter__(self) -> "WireClient":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def next_id(self) -> int:
        self._qid = (self._qid + 1) & 0xFFFF
        return self._qid

    def wait_for_reply(self, t0: int, wire: bytearray, question: bytes) -> tuple[bytes | None, int]:
        """Slow path after a stray datagram (a late reply to an earlier timed-out query):
        keep reading until ours arrives or the query's timeout (from ``t0``, perf_counter_ns) runs out."""
        clock = time.perf_counter_ns
        while True:
            left = (t0 + self.timeout_ns - clock()) / 1e9
            if left <= 0:
                return None, 0
            ready, _, _ = select.select([self.sock], [], [], left)
            if not ready:
                return None, 0
            try:
                reply = self.sock.recv(MAX_UDP_REPLY)
            except OSError:  # an ICMP error for an earlier query; ours may still come
                continue
            t1 = clock()
            if reply_matches(reply, wire, question):
                return reply, t1

    def tcp_exchange(self, wire: bytearray) -> tuple[bytes | None, int]:
        """(reply, elapsed ns) over a fresh TCP connection; (None, 0) on timeout; OSError
        when refused or reset. Timed from connect (a stub pays the handshake) to the last
        byte of the reply."""
        clock = time.perf_counter_ns
        framed = struct.pack("!H", len(wire)) + bytes(wire)
        with socket.socket(self.family, socket.SOCK_STREAM) as s:
            try:
                s.settimeout(self.timeout_s)
                t0 = clock()
                deadline = t0 + self.timeout_ns
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

    def exchange(self, queries: Sequence[bytes]) -> list[Reply]:
        """Send every query back to back (each with a fresh id), then read until each has its
        reply or one timeout has passed since the last send. Never raises for the network:
        a socket error becomes the outcome of every query still unanswered."""
        wires, questions, pending = [], [], {}
        for k, query in enumerate(queries):
            qid = self.next_id().to_bytes(2, "big")
            wires.append(bytearray(qid + query[2:]))
            questions.append(query[12:].lower())
            pending[qid] = k
        replies: list[Reply | None] = [None] * len(wires)
        error: str | None = None
        try:
            for wire in wires:
                self.sock.send(wire)
                self.sent += 1
        except OSError as exc:  # no route, or an ICMP error already pending
            return [Reply(error=describe_socket_error(exc))] * len(wires)
        deadline = time.monotonic() + self.timeout_s
        while pending:
            left = deadline - time.monotonic()
            if left <= 0:
                break
            self.sock.settimeout(left)  # one poll() + recv() in C, cheaper than select() here
            try:
                data = self.sock.recv(MAX_UDP_REPLY)
            except (socket.timeout, TimeoutError):
                break
            except OSError as exc:  # ECONNREFUSED: ICMP port unreachable, nothing listens there
                error = describe_socket_error(exc)
                break
            k = pending.get(data[:2])
            if k is None or not reply_matches(data, wires[k], questions[k]):
                continue
            del pending[data[:2]]
            replies[k] = self._over_tcp(wires[k], questions[k]) if data[2] & 0x02 else _answer(data, tcp=False)
        return [r if r is not None else Reply(error=error) for r in replies]

    def _over_tcp(self, wire: bytearray, question: bytes) -> Reply:
        """The TC bit was set: the same query over TCP, as a stub resolver does."""
        self.sent += 1
        try:
            reply, _ = self.tcp_exchange(wire)
        except OSError as exc:
            return Reply(tcp=True, error="TCP " + describe_socket_error(exc))
        if reply is None or not reply_matches(reply, wire, question):
            return Reply(tcp=True)
        return _answer(reply, tcp=True)


def _answer(reply: bytes, *, tcp: bool) -> Reply:
    return Reply(rcode=reply[3] & 0x0F, answers=int.from_bytes(reply[6:8], "big"), tcp=tcp)


class Lookup(NamedTuple):
    """The outcome of resolving one name, as an application sees it."""

    ok: bool
    timed_out: bool  # waited out at least one resolver timeout (possibly before succeeding)
    queries: int | None  # queries sent; None: not observable (glibc does not say)
    error: str | None = None  # why it failed: "timeout", "not found", "SERVFAIL", a socket error


# What asking one candidate name came to.
_FOUND, _NEGATIVE, _SERVFAIL, _TIMEOUT, _UNREACHABLE = "found", "negative", "servfail", "timeout", "unreachable"


class StubResolver:
    """glibc's stub resolver on ``WireClient`` (see the module docstring), over a
    triage.resolvconf ``ResolvConf``. Every nameserver is asked on ``port`` (resolv.conf
    has no port; the reproducer's embedded server listens on any). ``timeout`` and
    ``attempts`` count as at least 1, as glibc makes them. Safe to share between threads:
    each candidate gets its own socket. Replies are judged from their header (RCODE,
    ANCOUNT): the answer's content does not matter here, and parsing it would only add
    time to every lookup."""

    def __init__(self, conf: ResolvConf, port: int = DNS_PORT, qtypes: Sequence[str] = ("A", "AAAA")):
        self.conf = conf
        self.port = port
        self.qtypes = tuple(qtypes)
        self.nameservers = conf.nameservers or (GLIBC_DEFAULT_NAMESERVER,)
        self.timeout_s = max(1, conf.timeout)
        self.attempts = max(1, conf.attempts)
        self._wire: dict[tuple[str, str], bytes] = {}
        self._lock = threading.Lock()

    def _query(self, qname: str, qtype: str) -> bytes:
        wire = self._wire.get((qname, qtype))
        if wire is None:
            wire = bytes(QueryTemplate(qname, qtype).wire)
            with self._lock:
                self._wire[(qname, qtype)] = wire
        return wire

    def resolve(self, name: str) -> Lookup:
        queries, timed_out, servfail = 0, False, False
        for candidate in self.conf.candidates(name):
            status, sent, waited_out, error = self._ask(candidate)
            queries += sent
            timed_out = timed_out or waited_out
            if status == _FOUND:
                return Lookup(True, timed_out, queries)
            if status == _TIMEOUT:
                return Lookup(False, True, queries, "timeout")
            if status == _UNREACHABLE:
                return Lookup(False, timed_out, queries, error)
            servfail = servfail or status == _SERVFAIL
        return Lookup(False, timed_out, queries, "SERVFAIL" if servfail else "not found")

    def _ask(self, qname: str) -> tuple[str, int, bool, str | None]:
        """(status, queries sent, waited out a timeout, last socket error) for one candidate."""
        results: dict[int, Reply] = {}  # qtype index -> its answer
        pending = list(range(len(self.qtypes)))
        sent, waited_out, error = 0, False, None
        for _ in range(self.attempts):
            for server in self.nameservers:
                try:
                    client = WireClient(server, self.port, self.timeout_s, rcvtimeo=False)
                except OSError as exc:  # no route to it: nothing was sent
                    error = describe_socket_error(exc)
                    continue
                with client:
                    replies = client.exchange([self._query(qname, self.qtypes[k]) for k in pending])
                    sent += client.sent
                for k, reply in zip(pending, replies):
                    if reply.rcode is not None:
                        results[k] = reply
                    elif reply.error:
                        error = reply.error
                    else:
                        waited_out = True
                pending = [k for k in pending if k not in results]
                if not pending:
                    break
            if not pending:
                break
        if any(r.rcode == NOERROR and r.answers > 0 for r in results.values()):
            return _FOUND, sent, waited_out, None
        if pending:
            return (_TIMEOUT if waited_out else _UNREACHABLE), sent, waited_out, error
        status = _SERVFAIL if any(r.rcode == SERVFAIL for r in results.values()) else _NEGATIVE
        return status, sent, waited_out, None
