"""False alarms of `triage compare` on A/A pairs: how often it cries wolf when nothing changed.

1. Synthetic: 200 A/A pairs, each 40 metrics (32 latency sample sets drawn from heavy-tailed
   mixtures like real DNS/app/database latencies: a lognormal body, rare slow outliers, and
   timeouts recorded as the timeout value; plus 8 timeout/error proportions). Both sides of a
   pair come from the same mixtures. Reported: the share of pairs with any regression
   verdict (target <= 1%), and for contrast the share a naive per-metric test at p < 0.05
   would flag, and the share flagged by the statistics alone (before the practical floors).
2. Real: back-to-back `triage probe --layers kernel --quiet` runs on this machine, compared
   as the probe emits them, and with its window event counters marked as counts.

Prints figures; never a test. Run: python bench/false_alarms.py [--pairs 200] [--real 5]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, replace

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from triage.judge import compare_snapshots
from triage.model import Measurement, ProbeResult, Snapshot


@dataclass(frozen=True)
class Mixture:
    """A latency distribution: lognormal body, a few slow outliers, rare timeouts."""

    layer: str
    probe: str
    n: int
    median_ms: float
    sigma: float
    outlier_share: float = 0.0
    outlier_median_ms: float = 0.0
    outlier_sigma: float = 0.5
    timeout_share: float = 0.0
    timeout_ms: float = 0.0

    def draw(self, rng: np.random.Generator, scale: float = 1.0, add_ms: float = 0.0, n: int | None = None) -> list[float]:
        n = n or self.n
        values = rng.lognormal(np.log(self.median_ms), self.sigma, n)
        kind = rng.random(n)
        slow = kind < self.outlier_share
        values[slow] = rng.lognormal(np.log(self.outlier_median_ms or self.median_ms * 10), self.outlier_sigma, slow.sum())
        timed_out = (kind >= self.outlier_share) & (kind < self.outlier_share + self.timeout_share)
        values = values * scale + add_ms
        values[timed_out] = self.timeout_ms  # a timeout is recorded as the timeout: ties
        return np.round(values, 4).tolist()  # 0.1 µs resolution


MIXTURES = (
    Mixture("dns", "resolve", 100, 0.1, 0.3, 0.01, 1.0, 0.5, 0.002, 5000.0),  # loopback/in-cluster resolver
    Mixture("dns", "getaddrinfo", 200, 0.4, 0.35, 0.02, 5.0, 0.7, 0.005, 5000.0),  # search-list expansion
    Mixture("kernel", "tcp_connect", 100, 0.05, 0.25, 0.005, 1000.0, 0.05),  # SYN retransmit after 1 s
    Mixture("app", "http", 200, 5.0, 0.25, 0.02, 40.0, 0.5, 0.001, 30000.0),
    Mixture("database", "query", 500, 2.0, 0.4, 0.01, 30.0, 1.0),  # a heavy plan/IO tail
    Mixture("kubernetes", "api", 100, 20.0, 0.3, 0.03, 200.0, 0.6),
)
# (layer, probe, metric, trials, rate)
PROPORTIONS = (
    ("dns", "resolve", "timeouts", 2000, 0.005),
    ("dns", "resolve", "servfail", 2000, 0.001),
    ("app", "http", "errors", 500, 0.01),
    ("app", "http", "timeouts", 2000, 0.01),
    ("kernel", "tcp_connect", "connect_failures", 100, 0.0),
    ("database", "query", "errors", 500, 0.002),
    ("kubernetes", "api", "errors", 100, 0.01),
    ("dns", "getaddrinfo", "timeouts", 200, 0.005),
)
SAMPLE_METRICS = 32


def split(n: int, groups: int) -> list[int] | None:
    """``n`` values in ``groups`` sub-runs as equal as can be (None: no groups recorded)."""
    if not groups:
        return None
    base, extra = divmod(n, groups)
    return [base + (1 if g < extra else 0) for g in range(groups)]


def family_results(rng: np.random.Generator, shifted: dict[int, dict] | None = None,
                   rate_override: dict[int, float] | None = None, groups: int = 0) -> list[ProbeResult]:
    """One side: 32 sample metrics (mixtures in turn) and 8 proportions. ``shifted`` maps a
    sample metric index to draw() keyword arguments; ``rate_override`` a proportion index
    to its rate; ``groups``: record each sample metric in that many sub-runs (the values
    stay independent draws: groups that differ in nothing)."""
    results = []
    for i in range(SAMPLE_METRICS):
        mix = MIXTURES[i % len(MIXTURES)]
        values = mix.draw(rng, **(shifted or {}).get(i, {}))
        results.append(ProbeResult(mix.layer, mix.probe, f"target-{i:02d}", measurements=(
            Measurement.samples("latency", values, groups=split(len(values), groups)),)))
    for j, (layer, probe, metric, trials, rate) in enumerate(PROPORTIONS):
        rate = (rate_override or {}).get(j, rate)
        events = int(rng.binomial(trials, rate))
        results.append(ProbeResult(layer, probe, f"rates-{j:02d}",
                                   measurements=(Measurement.proportion(metric, events, trials),)))
    return results


def snapshot(label: str, results: list[ProbeResult]) -> Snapshot:
    return Snapshot(label, "2026-11-23T15:00:00Z", "bench", "0.1.0", tuple(results))


def clopper_pearson_upper(k: int, n: int, level: float = 0.95) -> float:
    from scipy.stats import beta

    return 1.0 if k == n else float(beta.ppf(level, k + 1, n - k))


def synthetic(pairs: int, seed: int) -> None:
    rng = np.random.default_rng(seed)
    alarms = stats_only = naive = 0
    alarm_metrics: dict[str, int] = {}
    started = time.perf_counter()
    for _ in range(pairs):
        c = compare_snapshots([snapshot("A", family_results(rng))], [snapshot("A'", family_results(rng))])
        regressed = [m for m in c.metrics if m.verdict == "regressed"]
        if regressed:
            alarms += 1
            for m in regressed:
                key = f"{m.probe} {m.metric} ({m.lead_component.name})"
                alarm_metrics[key] = alarm_metrics.get(key, 0) + 1
        if any(comp.p_adjusted is not None and comp.p_adjusted <= c.alpha for m in c.metrics for comp in m.components):
            stats_only += 1
        # What a tool testing each metric alone at p < 0.05 (two-sided, median/rate only) would say.
        if any(m.components and m.components[0].p is not None and
               min(1.0, 2 * min(m.components[0].p, m.components[0].p_better or 1.0)) < 0.05 for m in c.metrics):
            naive += 1
    elapsed = time.perf_counter() - started
    print(f"synthetic A/A: {pairs} pairs x 40 metrics (32 heavy-tailed sample sets of 100-500, 8 proportions), "
          f"alpha 0.01 family-wise")
    print(f"  pairs with any regression verdict: {alarms}/{pairs} = {alarms / pairs:.1%} "
          f"(95% upper bound {clopper_pearson_upper(alarms, pairs):.1%}; target <= 1%)")
    print(f"  pairs flagged by the statistics alone (Holm, before floors): {stats_only}/{pairs} = {stats_only / pairs:.1%}")
    print(f"  pairs a naive per-metric test at p < 0.05 would flag: {naive}/{pairs} = {naive / pairs:.1%}")
    if alarm_metrics:
        print("  alarms by metric: " + ", ".join(f"{k} x{v}" for k, v in sorted(alarm_metrics.items())))
    print(f"  ({elapsed:.1f} s, {elapsed / pairs * 1000:.0f} ms per comparison)")


STATE_GAUGES = {"conntrack_entries", "conntrack_fill"}  # levels, not events counted over the window


def mark_window_counters(path: str) -> str:
    """The proposed kernel-probe change, applied to a stored snapshot: event-count deltas of
    the `counters` and `nic` probes marked ``"counter": true`` (Poisson counts), written beside."""
    with open(path, encoding="utf-8") as fh:
        data = json.load(fh)
    for result in data["results"]:
        if result["layer"] == "kernel" and result["probe"] in ("counters", "nic"):
            for m in result["measurements"]:
                if m["kind"] == "gauge" and m["metric"] not in STATE_GAUGES:
                    m["counter"] = True
    marked = path.replace(".json", "-marked.json")
    with open(marked, "w", encoding="utf-8") as fh:
        json.dump(data, fh)
    return marked


def real(pairs: int) -> None:
    triage = [sys.executable, "-m", "triage"]
    outcomes: dict[str, dict[str, int]] = {"as emitted": {}, "counters marked": {}}
    alarms: dict[str, dict[str, int]] = {"as emitted": {}, "counters marked": {}}
    tested = 0
    with tempfile.TemporaryDirectory(prefix="triage-aa-") as tmp:
        for i in range(pairs):
            paths = []
            for side in ("a", "b"):
                path = os.path.join(tmp, f"{i}-{side}.json")
                subprocess.run(triage + ["probe", "--layers", "kernel", "--quiet", "--label", side, "--out", path],
                               check=True, stdout=subprocess.DEVNULL)
                paths.append(path)
            for variant, pair in (("as emitted", paths), ("counters marked", [mark_window_counters(p) for p in paths])):
                proc = subprocess.run(triage + ["compare", *pair, "--format", "json"], capture_output=True, text=True)
                out = json.loads(proc.stdout)
                outcomes[variant][out["verdict"]] = outcomes[variant].get(out["verdict"], 0) + 1
                for m in out["metrics"]:
                    if m["verdict"] == "regressed":
                        alarms[variant][m["id"]] = alarms[variant].get(m["id"], 0) + 1
                tested = max(tested, out["tests"])
    print(f"real A/A: {pairs} pairs of back-to-back `triage probe --layers kernel --quiet` runs on this machine "
          f"(up to {tested} tested metrics a pair)")
    for variant in outcomes:
        print(f"  {variant:<16} verdicts: " + ", ".join(f"{k} {v}/{pairs}" for k, v in sorted(outcomes[variant].items())))
        if alarms[variant]:
            print("                   regressed: " + ", ".join(
                f"{k} x{v}" for k, v in sorted(alarms[variant].items(), key=lambda kv: -kv[1])))
    print("  (counters marked = the kernel probe's window event counts flagged \"counter\": true, so compare\n"
          "   tests them as Poisson counts instead of applying the floors-only rule for state gauges)")


def without_groups(snapshot: Snapshot) -> Snapshot:
    """The same values judged as if independent (no sub-runs recorded)."""
    results = tuple(replace(r, measurements=tuple(replace(m, groups=None) for m in r.measurements))
                    for r in snapshot.results)
    return replace(snapshot, results=results)


def servers(pairs: int, hog: bool) -> None:
    """A/A pairs against real servers: a seeded PostgreSQL, the embedded DNS server, a
    threaded HTTP app, all on loopback, probed twice back to back as `triage probe` would,
    each pair compared; a CPU hog loads one core half the time."""
    import real_servers as rs

    started = time.monotonic()
    flagged = {"groups": {}, "groups ignored": {}}
    metrics: dict[str, dict[str, int]] = {"groups": {}, "groups ignored": {}}
    tested = 0
    with rs.postgres() as pg, rs.dns_server() as dns, rs.http_app() as url, rs.cpu_hog(enabled=hog):
        platform = rs.Platform(app_url=url, dns=dns, dsn=pg.dsn())
        layers = platform.layers()
        for _ in range(pairs):
            a, b = rs.probe(platform, "a"), rs.probe(platform, "b")
            for variant, pair in (("groups", (a, b)), ("groups ignored", (without_groups(a), without_groups(b)))):
                c = compare_snapshots([pair[0]], [pair[1]])
                tested = max(tested, c.tests)
                for layer in {m.layer for m in c.metrics if m.verdict == "regressed"}:
                    flagged[variant][layer] = flagged[variant].get(layer, 0) + 1
                for m in c.metrics:
                    if m.verdict == "regressed":
                        metrics[variant][m.id] = metrics[variant].get(m.id, 0) + 1
    print(f"real-server A/A: {pairs} pairs, layers {', '.join(layers)}, up to {tested} tested metrics a pair, "
          f"CPU hog {'on 1 s / off 1 s' if hog else 'off'} ({rs.elapsed(started)})")
    for variant in flagged:
        rates = ", ".join(f"{layer} {flagged[variant].get(layer, 0)}/{pairs}" for layer in layers)
        print(f"  {variant:<15} pairs with a regressed layer: {rates}")
        if metrics[variant]:
            print("                  regressed: " + ", ".join(
                f"{k} x{v}" for k, v in sorted(metrics[variant].items(), key=lambda kv: -kv[1])[:6]))
    print("  (groups ignored = the same snapshots with their sub-runs dropped: every value taken as independent)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pairs", type=int, default=200)
    parser.add_argument("--real", type=int, default=10, help="real kernel A/A pairs (0 to skip)")
    parser.add_argument("--servers", type=int, default=0,
                        help="A/A pairs against real PostgreSQL, DNS and HTTP servers (0 to skip; 50 takes minutes)")
    parser.add_argument("--no-hog", action="store_true", help="with --servers: no CPU hog")
    parser.add_argument("--seed", type=int, default=2020)
    args = parser.parse_args()
    if args.pairs:
        synthetic(args.pairs, args.seed)
    if args.real:
        real(args.real)
    if args.servers:
        servers(args.servers, not args.no_hog)


if __name__ == "__main__":
    main()
