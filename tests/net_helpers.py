"""Loopback addresses for tests that need somewhere nothing answers."""

from __future__ import annotations

import socket


def closed_udp_port(host: str = "127.0.0.1") -> int:
    """A UDP port on ``host`` with nothing listening: bound by us, then released."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind((host, 0))
        return s.getsockname()[1]


# A loopback address of our own for the DNS port: glibc (the libc path, --system) only talks
# to port 53, so tests of those paths bind it here. Binding port 53 takes root (or
# CAP_NET_BIND_SERVICE); tests/repro/conftest.py's fixtures skip without it.
PORT53_HOST = "127.0.0.77"
