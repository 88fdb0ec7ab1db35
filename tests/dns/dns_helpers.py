"""Helpers for the dns probe tests: probe contexts built from real Config objects and
recorded resolv.conf files. (A uniquely named module: every test area has a conftest.)"""

from __future__ import annotations

import os
import time

from triage.probes import ProbeContext
from triage.config import Config, DnsConfig

FIXTURES = os.path.join(os.path.dirname(os.path.dirname(__file__)), "fixtures", "dns")


def fixture_root(name: str) -> str:
    """An etc_root holding a recorded resolv.conf (tests/fixtures/dns/<name>/resolv.conf)."""
    return os.path.join(FIXTURES, name)


def make_ctx(samples: int = 10, deadline_s: float = 60.0, etc_root: str | None = None, **dns) -> ProbeContext:
    config = Config(dns=DnsConfig(**dns))
    return ProbeContext(config=config, samples=samples, deadline=time.monotonic() + deadline_s,
                        etc_root=etc_root or fixture_root("openshift-4.3-pod"))


def by_metric(measurements) -> dict:
    return {m.metric: m for m in measurements}
