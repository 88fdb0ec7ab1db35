"""Recorded monitoring history for the Prometheus tests and the bench, as OpenMetrics text.

Every counter advances block by block (5-minute blocks, scraped every 30 s): within a block
it rises linearly, so ``increase(x[5m])`` at a block's end reads that block's increment. The
increments are drawn independently per block (noise per block, nothing carried over), so two
windows of a healthy period are honestly alike and a rank test over blocks is valid.

Two days of the 2020 hunt, each 05:50-13:00 UTC:

- day 1 (2020-05-27), the DNS slowdown: 3 nodes (healthy kernel), 3 CoreDNS 1.6 pods
  (``coredns_dns_response_rcode_count_total``: the names before 1.7) and the registry's
  request histogram. From UPGRADE (10:20, mid-rollout) pod ``dns-default-b`` answers 4x
  slower and the registry, which resolves through all three pods, gets slower with it.
- day 2 (2020-05-28): 3 nodes; from 10:20 ``worker-1`` retransmits 3% of its segments
  instead of 0.1%.

ClusterVersion history (``cluster_version()``) for day 1: 4.3.18 completed long before,
the rollout to 4.3.19 started 10:00 and completed 10:40.
"""

from __future__ import annotations

import calendar
import math
from dataclasses import dataclass, field
from typing import Callable, Iterable, Sequence

import numpy as np

SCRAPE_S = 30
BLOCK_S = 300


def at(text: str) -> int:
    """'2020-05-27T10:20Z' -> unix seconds."""
    date, clock = text.rstrip("Z").split("T")
    y, mo, d = map(int, date.split("-"))
    h, mi = map(int, clock.split(":")[:2])
    return calendar.timegm((y, mo, d, h, mi, 0, 0, 0, 0))


DAY1, DAY2 = "2020-05-27", "2020-05-28"
START, END = "05:50", "13:00"
UPGRADE = {DAY1: at(f"{DAY1}T10:20Z"), DAY2: at(f"{DAY2}T10:20Z")}
ROLLOUT_STARTED, ROLLOUT_COMPLETED = f"{DAY1}T10:00:00Z", f"{DAY1}T10:40:00Z"
NODES = ("worker-0", "worker-1", "worker-2")
DNS_PODS = ("dns-default-a", "dns-default-b", "dns-default-c")
SLOW_POD, RETRANSMITTING_NODE = "dns-default-b", "worker-1"
KERNELS = ("4.18.0-147.8.1.el8_1.x86_64", "4.18.0-147.13.2.el8_1.x86_64")  # 4.3.18's RHCOS, 4.3.19's
COREDNS_BUCKETS = tuple(0.00025 * 2 ** i for i in range(16))  # CoreDNS plugin.TimeBuckets
HTTP_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10)  # the Prometheus client default


@dataclass
class Family:
    name: str
    kind: str  # OpenMetrics type: unknown, gauge, counter, histogram
    lines: list[str] = field(default_factory=list)


def _labels(labels: dict[str, str]) -> str:
    return "{" + ",".join(f'{k}="{v}"' for k, v in labels.items()) + "}" if labels else ""


class History:
    """OpenMetrics text built one family at a time, one timeline of scrapes."""

    def __init__(self, start: int, end: int, scrape_s: int = SCRAPE_S):
        self.start, self.end = start, end
        self.times = np.arange(start, end + 1, scrape_s)
        self.blocks = (end - start) // BLOCK_S + 1
        self.block_starts = start + BLOCK_S * np.arange(self.blocks)
        self.families: dict[str, Family] = {}

    def _family(self, name: str, kind: str) -> Family:
        return self.families.setdefault(name, Family(name, kind))

    def cumulative(self, increments: np.ndarray, base: float = 1000.0) -> np.ndarray:
        """Counter values at every scrape for per-block ``increments``, rising linearly in a block."""
        done = np.concatenate(([0.0], np.cumsum(increments)))
        b = (self.times - self.start) // BLOCK_S
        frac = ((self.times - self.start) % BLOCK_S) / BLOCK_S
        return base + done[b] + increments[np.minimum(b, len(increments) - 1)] * frac

    def counter(self, name: str, labels: dict[str, str], increments: np.ndarray, *, integer: bool = True) -> None:
        values = self.cumulative(increments)
        fam = self._family(name, "unknown")
        key = _labels(labels)
        fam.lines += [f"{name}{key} {int(v) if integer else round(v, 6)} {t}" for t, v in zip(self.times, values)]

    def gauge(self, name: str, labels: dict[str, str], value: Callable[[int], float]) -> None:
        fam = self._family(name, "gauge")
        key = _labels(labels)
        fam.lines += [f"{name}{key} {value(int(t)):g} {t}" for t in self.times]

    def histogram(self, name: str, labels: dict[str, str], buckets: Sequence[float], per_block: np.ndarray) -> None:
        """``per_block``: (blocks, len(buckets) + 1) observation counts, the last column above every bucket."""
        fam = self._family(name, "histogram")
        cumulative = np.cumsum(per_block, axis=1)  # le-cumulative per block
        series = [self.cumulative(cumulative[:, i]) for i in range(cumulative.shape[1])]
        bounds = [f"{b:g}" for b in buckets] + ["+Inf"]
        for j, t in enumerate(self.times):
            for bound, values in zip(bounds, series):
                fam.lines.append(f'{name}_bucket{_labels({**labels, "le": bound})} {int(values[j])} {t}')
            fam.lines.append(f"{name}_count{_labels(labels)} {int(series[-1][j])} {t}")
            fam.lines.append(f"{name}_sum{_labels(labels)} {series[-1][j] * 0.001:.3f} {t}")

    def text(self) -> str:
        out = []
        for fam in self.families.values():
            out.append(f"# TYPE {fam.name} {fam.kind}")
            out += fam.lines
        return "\n".join(out) + "\n"


def observations(rng: np.random.Generator, n: int, median_s: float, sigma: float, buckets: Sequence[float]) -> np.ndarray:
    """Counts of ``n`` lognormal latencies per bucket (the last: above every bound)."""
    draws = rng.lognormal(math.log(median_s), sigma, n)
    edges = np.concatenate(([0.0], buckets, [np.inf]))
    return np.histogram(draws, bins=edges)[0]


def add_node(h: History, rng: np.random.Generator, node: str, *, retrans_share: Callable[[int], float],
             kernel: Callable[[int], str]) -> None:
    nb = h.blocks
    labels = {"instance": node}
    out_segs = rng.normal(200_000, 10_000, nb).clip(1)
    share = np.array([retrans_share(int(t)) for t in h.block_starts]) * rng.lognormal(0, 0.2, nb)
    h.counter("node_netstat_Tcp_OutSegs", labels, out_segs)
    h.counter("node_netstat_Tcp_RetransSegs", labels, np.round(out_segs * share))
    for name, rate in (("TcpExt_TCPSynRetrans", 2.0), ("TcpExt_ListenDrops", 0.3), ("TcpExt_ListenOverflows", 0.3),
                       ("Udp_RcvbufErrors", 0.2)):
        h.counter(f"node_netstat_{name}", labels, rng.poisson(rate, nb).astype(float))
    datagrams = rng.normal(50_000, 2_000, nb).clip(1)
    h.counter("node_netstat_Udp_InDatagrams", labels, datagrams)
    h.counter("node_netstat_Udp_InErrors", labels, rng.poisson(1.0, nb).astype(float))
    for stat in ("insert_failed", "drop", "early_drop"):
        h.counter(f"node_nf_conntrack_stat_{stat}", labels, rng.poisson(0.1, nb).astype(float))
    entries = rng.normal(20_000, 1_000, nb)
    h.gauge("node_nf_conntrack_entries", labels, lambda t: round(entries[(t - h.start) // BLOCK_S]))
    h.gauge("node_nf_conntrack_entries_limit", labels, lambda t: 262144)
    h.counter("node_softnet_dropped_total", {**labels, "cpu": "0"}, rng.poisson(0.2, nb).astype(float))
    h.counter("node_softnet_times_squeezed_total", {**labels, "cpu": "0"}, rng.poisson(3.0, nb).astype(float))
    for direction in ("receive", "transmit"):
        for what in ("drop", "errs"):
            h.counter(f"node_network_{direction}_{what}_total", {**labels, "device": "ens3"},
                      rng.poisson(0.5, nb).astype(float))
    for t in h.times:  # an info metric whose label changes at the reboot
        h._family("node_uname_info", "gauge").lines.append(
            f'node_uname_info{_labels({**labels, "release": kernel(int(t)), "nodename": node})} 1 {t}')
    h.gauge("node_exporter_build_info", {**labels, "version": "0.18.1"}, lambda t: 1)


def add_coredns(h: History, rng: np.random.Generator, pod: str, *, median_s: Callable[[int], float]) -> None:
    """One CoreDNS 1.6 pod: latency histogram, rcode counters (1.6 names), cache, build info."""
    labels = {"pod": pod, "namespace": "openshift-dns", "server": "dns://:5353", "zone": "."}
    per_block = np.array([observations(rng, 3000, median_s(int(t)) * math.exp(rng.normal(0, 0.05)), 0.6,
                                       COREDNS_BUCKETS) for t in h.block_starts])
    h.histogram("coredns_dns_request_duration_seconds", labels, COREDNS_BUCKETS, per_block)
    total = per_block.sum(axis=1).astype(float)
    nx = rng.binomial(total.astype(int), 0.03).astype(float)
    servfail = rng.binomial(total.astype(int), 0.0005).astype(float)
    for rcode, counts in (("NOERROR", total - nx - servfail), ("NXDOMAIN", nx), ("SERVFAIL", servfail)):
        h.counter("coredns_dns_response_rcode_count_total", {**labels, "rcode": rcode}, counts)
    hits = rng.binomial(total.astype(int), 0.8).astype(float)
    h.counter("coredns_cache_hits_total", {"pod": pod, "server": "dns://:5353", "type": "success"}, hits)
    h.counter("coredns_cache_misses_total", {"pod": pod, "server": "dns://:5353"}, total - hits)
    h.gauge("coredns_build_info", {"pod": pod, "version": "1.6.2", "revision": "", "goversion": "go1.12"}, lambda t: 1)


def add_app(h: History, rng: np.random.Generator, *, median_s: Callable[[int], float]) -> None:
    labels = {"handler": "/v2/", "namespace": "quay", "pod": "quay-app-7d4b9c6f5-x2k8p"}
    per_block = np.array([observations(rng, 2000, median_s(int(t)) * math.exp(rng.normal(0, 0.05)), 0.5,
                                       HTTP_BUCKETS) for t in h.block_starts])
    h.histogram("http_request_duration_seconds", labels, HTTP_BUCKETS, per_block)


def _after(upgrade: int, before, after) -> Callable[[int], object]:
    return lambda t: after if t >= upgrade else before


def day1(seed: int = 1) -> History:
    rng = np.random.default_rng(seed)
    h = History(at(f"{DAY1}T{START}Z"), at(f"{DAY1}T{END}Z"))
    up = UPGRADE[DAY1]
    for node in NODES:
        add_node(h, rng, node, retrans_share=lambda t: 0.001, kernel=_after(up, *KERNELS))
    for pod in DNS_PODS:
        add_coredns(h, rng, pod, median_s=_after(up, 0.0006, 0.0024) if pod == SLOW_POD else lambda t: 0.0006)
    add_app(h, rng, median_s=_after(up, 0.020, 0.032))
    return h


def day2(seed: int = 2) -> History:
    rng = np.random.default_rng(seed)
    h = History(at(f"{DAY2}T{START}Z"), at(f"{DAY2}T{END}Z"))
    up = UPGRADE[DAY2]
    for node in NODES:
        share = _after(up, 0.001, 0.03) if node == RETRANSMITTING_NODE else (lambda t: 0.001)
        add_node(h, rng, node, retrans_share=share, kernel=lambda t: KERNELS[1])
    return h


def openmetrics(histories: Iterable[History]) -> str:
    """One OpenMetrics document from several histories (their families merged, in time order)."""
    merged: dict[str, Family] = {}
    for h in histories:
        for fam in h.families.values():
            merged.setdefault(fam.name, Family(fam.name, fam.kind)).lines.extend(fam.lines)
    out = []
    for fam in merged.values():
        out.append(f"# TYPE {fam.name} {fam.kind}")
        out += fam.lines
    return "\n".join(out) + "\n# EOF\n"


def cluster_version_history() -> list[dict]:
    """ClusterVersion status.history for day 1, newest first, as OpenShift records it."""
    return [
        {"state": "Completed", "startedTime": ROLLOUT_STARTED, "completionTime": ROLLOUT_COMPLETED,
         "version": "4.3.19", "image": "quay.io/openshift-release-dev/ocp-release@sha256:" + "b" * 64,
         "verified": True},
        {"state": "Completed", "startedTime": "2020-05-20T13:21:09Z", "completionTime": "2020-05-20T14:12:01Z",
         "version": "4.3.18", "image": "quay.io/openshift-release-dev/ocp-release@sha256:" + "a" * 64,
         "verified": True},
    ]


APP_QUERIES = """\
    - {layer: app, probe: http, metric: latency_p50, unit: ms, better: lower, by: [handler],
       promql: 'histogram_quantile(0.5, sum by (le, handler) (rate(http_request_duration_seconds_bucket[$block]))) * 1000'}
    - {layer: app, probe: http, metric: latency_p99, unit: ms, better: lower, by: [handler],
       promql: 'histogram_quantile(0.99, sum by (le, handler) (rate(http_request_duration_seconds_bucket[$block]))) * 1000'}
"""
