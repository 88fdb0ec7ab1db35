"""Helpers for the reproducer tests: real dnspython queries over real loopback sockets."""

from __future__ import annotations

import socket

import pytest

from triage.errors import BadInput
from triage.repro.dns_server import EmbeddedDnsServer

from tests.net_helpers import PORT53_HOST


class Client:
    """A connected UDP socket: queries go out in order and the server handles them in order,
    so an answer to a later query proves the earlier ones were processed (no sleeps)."""

    def __init__(self, host: str, port: int):
        self.addr = (host, port)
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.connect(self.addr)
        self.sock.settimeout(5)

    def send(self, name: str, qtype: str = "A", qid: int | None = None) -> int:
        import dns.message

        query = dns.message.make_query(name, qtype)
        if qid is not None:
            query.id = qid
        self.sock.send(query.to_wire())
        return query.id

    def recv(self):
        import dns.message

        return dns.message.from_wire(self.sock.recv(65535))

    def ask(self, name: str, qtype: str = "A"):
        qid = self.send(name, qtype)
        while True:
            reply = self.recv()
            if reply.id == qid:
                return reply

    def close(self) -> None:
        self.sock.close()


@pytest.fixture
def client_for():
    made = []

    def make(server) -> Client:
        client = Client(server.host, server.port)
        made.append(client)
        return client

    yield make
    for client in made:
        client.close()


def bind_port53_udp() -> socket.socket:
    """A UDP socket on PORT53_HOST:53 (nothing else can be listening there once it is ours)."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        sock.bind((PORT53_HOST, 53))
    except OSError as exc:
        sock.close()
        pytest.skip(f"cannot bind {PORT53_HOST}:53 here ({exc.strerror})")
    return sock


@pytest.fixture
def port53_silent():
    """PORT53_HOST:53 held by a socket that never answers; yields the socket."""
    sock = bind_port53_udp()
    yield sock
    sock.close()


@pytest.fixture
def nothing_on_port53() -> str:
    """PORT53_HOST, checked to have nothing listening on port 53."""
    bind_port53_udp().close()
    return PORT53_HOST


@pytest.fixture
def port53_server():
    """Factory: an EmbeddedDnsServer on PORT53_HOST:53 with a profile and search domains."""
    started = []

    def make(profile: str = "healthy", search_domains=()) -> EmbeddedDnsServer:
        try:
            server = EmbeddedDnsServer(profile, bind=PORT53_HOST, port=53, search_domains=search_domains).start()
        except BadInput as exc:
            pytest.skip(str(exc))
        started.append(server)
        return server

    yield make
    for server in started:
        server.stop()
