"""The demo's scenario: two platforms on loopback, what an SRE would configure for each, and
the triage the demo exists to show.

"4.3.18" has healthy DNS; "4.3.19" adds a few ms of DNS delay and loses a small share of
AAAA queries (the 2020 hunt in miniature). Each serves a tiny app that resolves its backends
through its own DNS on every request (triage.repro.demo_platform).
"""

from __future__ import annotations

from triage.verdict import Comparison
from triage.config import Config, DnsConfig, Target
from triage.load.config import LoadConfig, RampSteps

from .demo_platform import BACKENDS, PlatformAddress

HEALTHY = ("4.3.18", "healthy")
DEGRADED = ("4.3.19", "delay=3ms,drop=1%:AAAA")
LAYERS = ("kernel", "dns", "app")
ROUNDS = 3
SAMPLES_PER_RUN = 60
DNS_TIMEOUT_S = 0.5


# `triage demo --load`: one ramp run per platform after the idle rounds, in short steps
# (0.8 s). SLOs are set rather than derived from each side's first step, so the sentence
# names one SLO. The app's is 1 s because 4.3.19's lost AAAA queries cost a 0.5 s resolver
# timeout at any load (3 of its 6 lookups per request: p99 ~630 ms even at 25 req/s): what
# the ramp shows is the pool running dry (4.3.18 holds 200 req/s, 4.3.19 only 100).
LOAD = LoadConfig(step_duration_s=0.8, timeout_s=2.0, layers=("dns", "app"),
                  app=RampSteps((25, 50, 100, 200, 300), slo_ms=1000.0),
                  dns=RampSteps((250, 500, 1000), slo_ms=100.0))


def platform_config(p: PlatformAddress, samples: int) -> Config:
    """What an SRE would write for this platform: the app's URL and its cluster DNS.
    The resolver is named, so both platforms' DNS metrics line up though their ports differ."""
    return Config(source=f"<demo {p.label}>", samples=samples,
                  targets=(Target(name="registry", url=p.app_url, timeout_s=5.0),),
                  dns=DnsConfig(resolvers=(f"cluster-dns=127.0.0.1:{p.dns_port}",), names=BACKENDS,
                                timeout_s=DNS_TIMEOUT_S), load=LOAD)


def names_capacity_loss(comparison: Comparison) -> bool:
    """`--load`: app's capacity fell, downstream of dns."""
    app = next((s for s in comparison.suspects if s.layer == "app"), None)
    return names_dns(comparison) and app is not None and app.because.startswith("app capacity")


def names_dns(comparison: Comparison) -> bool:
    """The triage the demo exists to show: dns the root, app downstream of it."""
    roots = comparison.root_layers
    downstream = [s.layer for s in comparison.suspects if s.role == "downstream"]
    return roots == ["dns"] and "app" in downstream
