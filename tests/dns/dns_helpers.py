"""Helpers for the dns probe tests: probe contexts built from real Config objects and
recorded resolv.conf files. (A uniquely named module: every test area has a conftest.)"""

from __future__ import annotations

import os
import time

from triage.probes import GROUP_END, ProbeContext
from triage.config import Config, DnsConfig

FIXTURES = os.path.join(os.path.dirname(os.path.dirname(__file__)), "fixtures", "dns")


def fixture_root(name: str) -> str:
    """An etc_root holding a recorded resolv.conf (tests/fixtures/dns/<name>/resolv.conf)."""
    return os.path.join(FIXTURES, name)


def make_ctx(samples: int = 10, deadline_s: float = 60.0, etc_root: str | None = None, **dns) -> ProbeContext:
    config = Config(dns=DnsConfig(**dns))
    return ProbeContext(config=config, samples=samples, deadline=time.monotonic() + deadline_s,
                        etc_root=etc_root or fixture_root("openshift-4.3-pod"))


def by_metric(items) -> dict:
    """A probe's measurements by metric; a sub-run probe's groups run back to back."""
    return {m.metric: m for m in items if m is not GROUP_END}


class RecordingResolver:
    """A loopback UDP responder that answers every query (NOERROR, no records) and records
    who asked what: (source port, qname, qtype) in arrival order."""

    def __init__(self):
        import socket
        import threading

        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.settimeout(0.05)  # how often the loop looks at the stop flag
        self.port = self.sock.getsockname()[1]
        self.asked: list[tuple[int, str, str]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True, name="test-recording-resolver")

    def _serve(self) -> None:
        import socket

        import dns.message
        import dns.rdatatype

        while not self._stop.is_set():
            try:
                wire, addr = self.sock.recvfrom(65535)
            except socket.timeout:
                continue
            query = dns.message.from_wire(wire)
            q = query.question[0]
            self.asked.append((addr[1], q.name.to_text().rstrip("."), dns.rdatatype.to_text(q.rdtype)))
            self.sock.sendto(dns.message.make_response(query).to_wire(), addr)

    def __enter__(self) -> "RecordingResolver":
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join(5)
        self.sock.close()
