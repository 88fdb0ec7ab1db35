"""Scale of the Prometheus source: a synthetic fleet of 200 nodes (the node profile) served by
a real Prometheus, two 2 h windows of 24 blocks each, 2 nodes retransmitting more in the second.

Prints: history size and load time (setup, not triage), fetch time per window (every query,
bounded concurrency), compare time, peak Python memory of fetch + compare, and the verdict.

    python bench/prometheus_fleet.py [--nodes 200] [--concurrency 4]
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import sys
import time
import tracemalloc

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))

from tests.prometheus import history, prom_server  # noqa: E402
from triage.config import parse_config  # noqa: E402
from triage.judge import compare_snapshots  # noqa: E402
from triage.sources.prometheus.collect import collect  # noqa: E402
from triage.sources.prometheus.windows import parse_window  # noqa: E402

DAY = "2020-05-28"
BEFORE, AFTER = f"{DAY}T08:00Z/2h", f"{DAY}T10:00Z/2h"
SCRAPE_S = 60  # a fleet this size is scraped every minute or so; halves the history to load


def fleet(nodes: int, seed: int = 7) -> str:
    rng = np.random.default_rng(seed)
    h = history.History(history.at(f"{DAY}T07:50Z"), history.at(f"{DAY}T12:00Z"), scrape_s=SCRAPE_S)
    upgrade = history.at(f"{DAY}T10:00Z")
    slow = {f"node-{i:03d}" for i in (17, 123)}
    for i in range(nodes):
        name = f"node-{i:03d}"
        share = (lambda t: 0.03 if t >= upgrade else 0.001) if name in slow else (lambda t: 0.001)
        history.add_node(h, rng, name, retrans_share=share, kernel=lambda t: history.KERNELS[1])
    return history.openmetrics([h])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--nodes", type=int, default=200)
    parser.add_argument("--concurrency", type=int, default=4)
    args = parser.parse_args()
    started = time.perf_counter()
    text = fleet(args.nodes)
    generated = time.perf_counter() - started
    server = prom_server.start(text)
    loaded = time.perf_counter() - started - generated
    size_mb = len(text) / 1e6
    del text
    try:
        cfg = parse_config(f"prometheus:\n  url: {server.url}\n  block: 5m\n  profiles: [node]\n"
                           f"  concurrency: {args.concurrency}\n", "bench.yaml").prometheus
        now = dt.datetime(2020, 6, 1, tzinfo=dt.timezone.utc)
        windows = [parse_window(spec, now=now) for spec in (BEFORE, AFTER)]
        times, snaps = [], []
        for label, window in zip(("4.3.18", "4.3.19"), windows):
            t = time.perf_counter()
            got = collect(cfg, window, label)
            times.append(time.perf_counter() - t)
            snaps.append(got.snapshot)
        t = time.perf_counter()
        comparison = compare_snapshots([snaps[0]], [snaps[1]])
        compare_s = time.perf_counter() - t
        tracemalloc.start()
        again = [collect(cfg, w, label).snapshot for label, w in zip(("4.3.18", "4.3.19"), windows)]
        compare_snapshots([again[0]], [again[1]])
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
    finally:
        server.stop()
    metrics = sum(len(r.measurements) for r in snaps[1].results)
    samples = sum(len(m.values) for r in snaps[1].results for m in r.measurements if m.kind == "samples")
    print(f"fleet: {args.nodes} nodes, node profile, 2 windows x 24 blocks; history {size_mb:.0f} MB OpenMetrics, "
          f"generated in {generated:.1f} s, loaded by promtool + Prometheus start in {loaded:.1f} s")
    print(f"snapshot: {len(snaps[1].results)} results, {metrics} metrics, {samples} samples a window")
    print(f"fetch: {times[0]:.2f} s and {times[1]:.2f} s per window ({got.queries} queries, concurrency "
          f"{args.concurrency})")
    print(f"compare: {compare_s:.2f} s ({len(comparison.metrics)} metrics, Holm family {comparison.tests})")
    print(f"peak Python memory, fetch of both windows + compare: {peak / 1e6:.0f} MB")
    print(f"verdict: {comparison.verdict}; " + "; ".join(s.because for s in comparison.suspects))


if __name__ == "__main__":
    main()
