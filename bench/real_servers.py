"""Real servers on loopback for the accuracy benches (false_alarms.py --real, power.py --real):
a PostgreSQL seeded like the 2021 incident (tests/database/pg_server.py), the embedded DNS
server in a process of its own with a fault profile, a small threaded HTTP app in a process
of its own, and a CPU hog that loads one core half the time.

Each platform is one triage config; ``probe(platform)`` runs the real probes against it in
this process, as `triage probe` would, and returns the snapshot. Nothing leaves loopback.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from typing import Iterator

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from tests.database import pg_server  # noqa: E402
from tests.load.lock_app import lock_app  # noqa: E402
from triage.config import parse_config  # noqa: E402
from triage.repro.dns_server_process import ServerProcess  # noqa: E402
from triage.runner import RunOptions, run_probes  # noqa: E402

NAME = "quay-db.quay.svc"
SAMPLES = 200

# One core busy for ``on`` seconds, idle for ``off``: a noisy neighbour that comes and goes.
_HOG_CHILD = r"""
import sys, time
on, off = float(sys.argv[1]), float(sys.argv[2])
while True:
    end = time.perf_counter() + on
    while time.perf_counter() < end:
        pass
    time.sleep(off)
"""


@contextlib.contextmanager
def http_app() -> Iterator[str]:
    """The app: a threaded HTTP server in its own process whose handler works ~1 ms of CPU."""
    with lock_app(1.0, busy=True) as url:
        yield url


@contextlib.contextmanager
def cpu_hog(on_s: float = 1.0, off_s: float = 1.0, enabled: bool = True) -> Iterator[None]:
    """A second process loading one core ``on_s`` of every ``on_s + off_s`` seconds."""
    if not enabled:
        yield
        return
    proc = subprocess.Popen([sys.executable, "-c", _HOG_CHILD, str(on_s), str(off_s)])
    try:
        yield
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(10)


@contextlib.contextmanager
def dns_server(profile: str = "healthy", seed: int = 1) -> Iterator[tuple[str, int]]:
    with ServerProcess(profile, names=[NAME], seed=seed) as server:
        yield server.host, server.port


@contextlib.contextmanager
def postgres() -> Iterator[pg_server.PostgresServer]:
    server = pg_server.start()
    try:
        yield server
    finally:
        pg_server.stop(server)


@dataclass(frozen=True)
class Platform:
    """The addresses of one platform's servers; ``config()`` is what an SRE would write."""

    app_url: str | None = None
    dns: tuple[str, int] | None = None
    dsn: str | None = None
    dns_timeout_s: float = 0.5

    def config_text(self, samples: int = SAMPLES) -> str:
        lines = [f"samples: {samples}", "targets:"]
        if self.app_url:
            lines.append(f"  - {{name: registry, url: '{self.app_url}', fanout: false}}")
        if self.dsn:
            lines += ["  - name: registry-db", f"    dsn: '{self.dsn}'", "    fanout: false", "    queries:",
                      f"      - {{name: image-layer-fetch, sql: \"{pg_server.CRITICAL_QUERY}\"}}"]
        if not self.app_url and not self.dsn:
            lines[-1] = "targets: []"
        if self.dns:
            host, port = self.dns
            lines += ["dns:", f"  resolvers: ['cluster-dns={host}:{port}']", f"  names: [{NAME}]",
                      f"  timeout: {self.dns_timeout_s}"]
        return "\n".join(lines) + "\n"

    def layers(self) -> tuple[str, ...]:
        return tuple(layer for layer, on in (("kernel", True), ("dns", self.dns), ("database", self.dsn),
                                             ("app", self.app_url)) if on)


def probe(platform: Platform, label: str, samples: int = SAMPLES):
    """One real `triage probe` run against ``platform``, in this process."""
    config = parse_config(platform.config_text(samples), f"<bench {label}>")
    return run_probes(config, RunOptions(layers=platform.layers(), label=label, deadline_s=300))


def elapsed(since: float) -> str:
    return f"{time.monotonic() - since:.0f} s"
