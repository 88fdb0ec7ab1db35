"""`triage demo`: the 4.3.18 → 4.3.19 DNS hunt, end to end, on one machine.

Two embedded platforms on loopback: "4.3.18" with healthy DNS and "4.3.19" with a few ms of
DNS delay and a small AAAA loss, each serving a tiny app that resolves its backends through
its own DNS on every request. Both are probed interleaved (A B, B A, …, so drift on this
machine cancels), every run is stored as a baseline, the labels are compared, and the
verdict should be: dns root suspect, app downstream.
"""

from __future__ import annotations

import tempfile
import time
from dataclasses import dataclass
from typing import Callable

from .verdict import Comparison
from .config import Config, DnsConfig, Target
from .interleave import Platform, ab_compare
from .runner import Progress, RunOptions
from .repro.demo_platform import BACKENDS, DemoPlatform, PlatformAddress

HEALTHY = ("4.3.18", "healthy")
DEGRADED = ("4.3.19", "delay=3ms,drop=1%:AAAA")
LAYERS = ("kernel", "dns", "app")
ROUNDS = 3
SAMPLES_PER_RUN = 60
DNS_TIMEOUT_S = 0.5


@dataclass(frozen=True)
class DemoResult:
    comparison: Comparison
    store: str
    elapsed_s: float

    @property
    def named_dns(self) -> bool:
        """The triage the demo exists to show: dns the root, app downstream of it."""
        roots = [s.layer for s in self.comparison.suspects if s.role == "root"]
        downstream = [s.layer for s in self.comparison.suspects if s.role == "downstream"]
        return roots == ["dns"] and "app" in downstream


def platform_config(p: PlatformAddress, samples: int) -> Config:
    """What an SRE would write for this platform: the app's URL and its cluster DNS.
    The resolver is named, so both platforms' DNS metrics line up though their ports differ."""
    return Config(source=f"<demo {p.label}>", samples=samples,
                  targets=(Target(name="registry", url=p.app_url, timeout_s=5.0),),
                  dns=DnsConfig(resolvers=(f"cluster-dns=127.0.0.1:{p.dns_port}",), names=BACKENDS,
                                timeout_s=DNS_TIMEOUT_S))


def run_demo(store: str | None = None, *, rounds: int = ROUNDS, samples: int = SAMPLES_PER_RUN,
             progress: Callable[[str], Progress] | None = None,
             phase: Callable[[str], None] = lambda text: None) -> DemoResult:
    """Start both platforms, probe them interleaved, store every run, compare the labels."""
    started = time.monotonic()
    store_root = store or tempfile.mkdtemp(prefix="triage-demo-store-")
    phase("starting platforms 4.3.18 (healthy DNS) and 4.3.19 (DNS +3 ms, 1% AAAA lost) on loopback")
    with DemoPlatform(*HEALTHY, seed=18) as healthy, DemoPlatform(*DEGRADED, seed=19) as degraded:
        comparison = ab_compare(Platform(healthy.label, platform_config(healthy, samples)),
                                Platform(degraded.label, platform_config(degraded, samples)),
                                RunOptions(layers=LAYERS), rounds, store=store_root, progress=progress, phase=phase)
    return DemoResult(comparison, store_root, time.monotonic() - started)
