"""Fixtures for the dns probe tests: the real embedded DNS server on loopback.
Resolvers in these tests are only ever 127.0.0.1:<port>."""

from __future__ import annotations

from contextlib import ExitStack

import pytest


@pytest.fixture
def dns_server():
    """Factory: ``dns_server(profile, names=..., search_domains=...)`` -> a running server."""
    from triage.repro.dns_server import EmbeddedDnsServer

    with ExitStack() as stack:
        def start(profile: str = "healthy", names=("db.quay.svc",), **kwargs):
            return stack.enter_context(EmbeddedDnsServer(profile=profile, names=names, bind="127.0.0.1", port=0,
                                                         **kwargs))
        yield start
