"""Helpers for the reproducer tests: real dnspython queries over real loopback sockets."""

from __future__ import annotations

import socket

import pytest


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
