"""Power of `triage compare`: how often an injected regression of a stated size is caught.

Each trial is a full comparison of a 40-metric family (the false_alarms mixtures: 32
heavy-tailed latency sets and 8 proportions) where exactly one metric is made worse, so
Holm pays for all 40 as it would in real use (timeouts are also shown judged alone). Reported: the share of trials in which that
metric's verdict is `regressed` (the others' false alarms are bench/false_alarms.py's job).

- median shifts of +5/10/25/50% at realistic medians: DNS 0.1 ms and app 5 ms, at the
  default sample counts 100 and 200 (and DNS absolute shifts, since +25% of 0.1 ms is
  0.025 ms, under the 0.05 ms floor by design);
- timeout rates 1% -> 2% and 1% -> 3% at 2,000 trials (a proportion metric);
- a slow minority in samples: 1% or 2% of app requests at 5 s, no median move.

Targets: >= 95% for +25% at 200 samples; >= 90% for timeouts 1% -> 3% at 2,000 trials.
Prints figures; never a test. Run: python bench/power.py [--trials 200]
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import replace

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from false_alarms import MIXTURES, PROPORTIONS, family_results, snapshot  # noqa: E402

from triage.judge import compare_snapshots  # noqa: E402

DNS_INDEX = 0  # MIXTURES[0]: dns resolve, median 0.1 ms
APP_INDEX = 3  # MIXTURES[3]: app http, median 5 ms
TIMEOUT_INDEX = 3  # PROPORTIONS[3]: app timeouts, 1% of 2,000 trials


def detection(trials: int, seed: int, *, metric: int | None = None, draw: dict | None = None, n: int | None = None,
              rate_index: int | None = None, rate: float | None = None, alone: bool = False, groups: int = 0) -> float:
    """Share of trials where the one worsened metric is judged regressed."""
    rng = np.random.default_rng(seed)
    hits = 0
    for _ in range(trials):
        if metric is not None:
            size = {"n": n} if n else {}
            base = family_results(rng, shifted={metric: size}, groups=groups)
            cand = family_results(rng, shifted={metric: {**size, **(draw or {})}}, groups=groups)
            target = f"target-{metric:02d}"
        else:
            base = family_results(rng)
            cand = family_results(rng, rate_override={rate_index: rate})
            target = f"rates-{rate_index:02d}"
        if alone:  # a family of one: the metric judged on its own
            base = [r for r in base if r.target == target]
            cand = [r for r in cand if r.target == target]
        c = compare_snapshots([snapshot("A", base)], [snapshot("B", cand)])
        hits += any(m.target == target and m.verdict == "regressed" for m in c.metrics)
    return hits / trials


def servers(runs: int) -> None:
    """Injected regressions on real servers (loopback), each run a fresh pair of probes:
    +3 ms on the embedded DNS server; 4% of its UDP queries lost (a CPU hog loading one
    core half the time); the composite index of the 2021 incident dropped from PostgreSQL."""
    import real_servers as rs
    from triage.model import Snapshot  # noqa: F401 - snapshots come from real probes

    def caught(platform_a, platform_b, layer: str, hog: bool, needle: str) -> tuple[int, dict[str, int], int]:
        hits, leads, roots = 0, {}, 0
        with rs.cpu_hog(enabled=hog):
            for _ in range(runs):
                c = compare_snapshots([rs.probe(platform_a, "a")], [rs.probe(platform_b, "b")])
                regressed = [m for m in c.metrics if m.layer == layer and m.verdict == "regressed"]
                hits += bool(regressed)
                roots += any(s.layer == layer and s.role == "root" for s in c.suspects)
                for m in regressed:
                    if needle in m.id or not needle:
                        leads[m.id] = leads.get(m.id, 0) + 1
        return hits, leads, roots

    started = time.monotonic()
    print(f"power on real servers: {runs} runs per cell, {rs.SAMPLES} samples, default groups")
    with rs.dns_server("healthy", seed=1) as healthy, rs.dns_server("delay=3ms", seed=2) as slow, \
            rs.dns_server("drop=4%", seed=3) as lossy:
        for title, b, hog, needle in (("DNS +3 ms delay", slow, False, "latency"),
                                      ("DNS 4% of UDP queries lost, CPU hog", lossy, True, "")):
            hits, leads, roots = caught(rs.Platform(dns=healthy), rs.Platform(dns=b), "dns", hog, needle)
            top = ", ".join(f"{k.split('.', 2)[2]} x{v}" for k, v in sorted(leads.items(), key=lambda kv: -kv[1])[:4])
            print(f"  {title:<38} dns regressed {hits}/{runs}, dns root {roots}/{runs}; {top}")
    with rs.postgres() as pg:
        platform = rs.Platform(dsn=pg.dsn())
        results = []
        for _ in range(runs):
            a = rs.probe(platform, "a")
            with rs.pg_server.without_composite_index(pg):
                b = rs.probe(platform, "b")
            results.append(compare_snapshots([a], [b]))
        hits = sum(any(m.layer == "database" and m.verdict == "regressed" for m in c.metrics) for c in results)
        plans = sum(any(e.kind == "changed" and "plan" in e.metric for s in c.suspects for e in s.evidence)
                    for c in results)
        print(f"  {'composite index dropped (seq scan)':<38} database regressed {hits}/{runs}, "
              f"plan change in the evidence {plans}/{runs}")
    print(f"({rs.elapsed(started)})")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=200)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--servers", type=int, default=0, help="runs per real-server cell (0 to skip; 20 takes minutes)")
    args = parser.parse_args()
    if args.servers:
        servers(args.servers)
        if not args.trials:
            return
    t = args.trials
    started = time.perf_counter()
    pool = ProcessPoolExecutor(max_workers=os.cpu_count() or 1)
    # Every cell has its own seed, so running cells in parallel changes nothing but the time.
    jobs = {}

    def cell(key, fn, *fargs, **kw):
        jobs[key] = pool.submit(fn, *fargs, **kw)

    for name, index in (("DNS", DNS_INDEX), ("app", APP_INDEX)):
        for n in (100, 200):
            for k, s in enumerate((0.05, 0.10, 0.25, 0.50)):
                cell(("shift", name, n, k), detection, t, args.seed + k, metric=index, n=n, draw={"scale": 1 + s})
    for k, s in enumerate((0.05, 0.10, 0.25, 0.50)):  # the same, recorded in 10 sub-runs a side
        cell(("grouped", k), detection, t, args.seed + k, metric=APP_INDEX, n=200, draw={"scale": 1 + s}, groups=10)
    for n in (100, 200):
        for k, s in enumerate((0.05, 0.1, 0.3)):
            cell(("abs", n, k), detection, t, args.seed + 10 + k, metric=DNS_INDEX, n=n, draw={"add_ms": s})
    for alone in (False, True):
        for k, r in enumerate((0.02, 0.03)):
            cell(("rate", alone, k), detection, t, args.seed + 20 + k, rate_index=TIMEOUT_INDEX, rate=r, alone=alone)
    app = MIXTURES[APP_INDEX]
    for n in (200, 1000):
        for k, share in enumerate((0.01, 0.02)):
            # No timeouts in the baseline's mixture; the candidate adds them.
            quiet = replace(app, timeout_share=0.0)
            noisy = replace(app, timeout_share=share, timeout_ms=5000.0)
            cell(("minority", n, k), _minority, t, args.seed + 30 + k, quiet, noisy, n)
    got = {key: f.result() for key, f in jobs.items()}
    pool.shutdown()
    print(f"power: {t} trials per cell, one worsened metric in a 40-metric family, alpha 0.01 family-wise, "
          f"default floors (10% and 0.05 ms)")
    print("median shift (whole distribution scaled)     +5%     +10%    +25%    +50%")
    for name, label in (("DNS", "DNS 0.1 ms"), ("app", "app 5 ms  ")):
        for n in (100, 200):
            print(f"  {label} n={n:<4}                        " + "  ".join(
                f"{got[('shift', name, n, k)]:6.1%}" for k in range(4)))
    print("  app 5 ms   n=200, 10 groups a side         " + "  ".join(f"{got[('grouped', k)]:6.1%}" for k in range(4))
          + "   (groups as units, t(9))")
    print("DNS 0.1 ms, absolute shift                   +0.05ms +0.1ms  +0.3ms")
    for n in (100, 200):
        print(f"  n={n:<4}                                     " + "  ".join(f"{got[('abs', n, k)]:6.1%}" for k in range(3)))
    assert PROPORTIONS[TIMEOUT_INDEX][3:] == (2000, 0.01)
    print("timeout rate at 2,000 trials (Fisher's exact)  1%->2%  1%->3%")
    for label, alone in (("in the 40-metric family", False), ("alone (family of 1)", True)):
        print(f"  {label:<44}" + "  ".join(f"{got[('rate', alone, k)]:6.1%}" for k in range(2)))
    print("slow minority: share of app samples at 5 s    1%      2%     (n=200 / n=1000)")
    for n in (200, 1000):
        print(f"  n={n:<5}                                     " + "  ".join(f"{got[('minority', n, k)]:6.1%}" for k in range(2)))
    print(f"({time.perf_counter() - started:.0f} s)")


def _minority(trials: int, seed: int, quiet, noisy, n: int) -> float:
    """Detection of a slow minority: swap the app mixture per side."""
    import false_alarms

    rng = np.random.default_rng(seed)
    hits = 0
    original = false_alarms.MIXTURES
    try:
        for _ in range(trials):
            false_alarms.MIXTURES = original[:APP_INDEX] + (quiet,) + original[APP_INDEX + 1:]
            base = false_alarms.family_results(rng, shifted={APP_INDEX: {"n": n}})
            false_alarms.MIXTURES = original[:APP_INDEX] + (noisy,) + original[APP_INDEX + 1:]
            cand = false_alarms.family_results(rng, shifted={APP_INDEX: {"n": n}})
            c = compare_snapshots([snapshot("A", base)], [snapshot("B", cand)])
            hits += any(m.target == f"target-{APP_INDEX:02d}" and m.verdict == "regressed" for m in c.metrics)
    finally:
        false_alarms.MIXTURES = original
    return hits / trials


if __name__ == "__main__":
    main()
