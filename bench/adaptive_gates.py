"""False alarms of gates that sample until they decide (`triage gate --until-decided`): A/A
gates, the candidate drawn from the same platform as the baseline, each round's runs pooled
with the earlier ones, every look through the real judge (triage.sequential.until_decided).

The family: bench/false_alarms.py's heavy-tailed mixtures (32 latency sets, 8 timeout/error
rates), the baseline 200 values a latency set in 10 groups, the candidate 30 a round in 5
groups (so most metrics stay undecided after one round: the adaptive gate has work to do),
rates over 200 trials a round. The gates, K = 4 rounds at most:

- plain, default floors: one round at the full α (`triage gate` without --until-decided);
- adaptive, default floors: what a user gets;
- adaptive, no floors (absolute 1e-9, no relative): nothing is ever ruled out, so every metric
  is looked at in all K rounds, the worst case for the spending rule;
- naive, no floors: the same rounds, each judged at the full α (no spending), for contrast.

Reported: the share of A/A gates with any regression verdict, with its Clopper–Pearson 95%
upper bound, and the rounds and samples the adaptive gates took. Power: one latency set made
30% slower (whole distribution), how often the plain and the adaptive gate catch it, in how
many rounds.

Prints figures; never a test. Run: python bench/adaptive_gates.py [--gates 400] [--alpha 0.05]
"""

from __future__ import annotations

import argparse
import os
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from false_alarms import MIXTURES, PROPORTIONS, SAMPLE_METRICS, clopper_pearson_upper, split  # noqa: E402

from triage.budget import parse_budget  # noqa: E402
from triage.judge import compare_snapshots  # noqa: E402
from triage.model import Measurement, ProbeResult, Snapshot  # noqa: E402
from triage.sequential import until_decided  # noqa: E402

ROUNDS = 4
BASELINE_N, BASELINE_GROUPS = 200, 10
ROUND_N, ROUND_GROUPS = 30, 5
ROUND_TRIALS = 200
NO_FLOORS = parse_budget("relative: null\nabsolute: {ms: 1.0e-9, rate: 1.0e-9}\n", "no-floors.yaml")
SLOWER = 4  # the database query set (2 ms): made 30% slower in the power line


def draw(rng, label: str, n: int, groups: int, trials: int, keys=None, scale: dict | None = None) -> Snapshot:
    """One run of the family (only the probes in ``keys`` when given)."""
    results = []
    for i in range(SAMPLE_METRICS):
        mix = MIXTURES[i % len(MIXTURES)]
        key = (mix.layer, mix.probe, f"target-{i:02d}")
        if keys is None or key in keys:
            values = mix.draw(rng, n=n, scale=(scale or {}).get(i, 1.0))
            results.append(ProbeResult(*key, measurements=(
                Measurement.samples("latency", values, unit="ms", groups=split(n, groups)),), duration_s=0.01))
    for j, (layer, probe, metric, _trials, p) in enumerate(PROPORTIONS):
        key = (layer, probe, f"rates-{j:02d}")
        if keys is None or key in keys:
            results.append(ProbeResult(*key, measurements=(
                Measurement.proportion(metric, int(rng.binomial(trials, p)), trials),), duration_s=0.01))
    return Snapshot(label, "2026-11-23T15:00:00Z", "bench", "0.1.0", tuple(results))


def adaptive(rng, alpha: float, budget, scale=None):
    baseline = [draw(rng, "A", BASELINE_N, BASELINE_GROUPS, ROUND_TRIALS * ROUNDS)]
    first = draw(rng, "B", ROUND_N, ROUND_GROUPS, ROUND_TRIALS, scale=scale)
    d = until_decided(baseline, first, lambda keys, left: draw(rng, "B", ROUND_N, ROUND_GROUPS, ROUND_TRIALS, keys,
                                                               scale), max_rounds=ROUNDS, alpha=alpha, budget=budget)
    return d.comparison


def plain(rng, alpha: float, budget, scale=None):
    baseline = [draw(rng, "A", BASELINE_N, BASELINE_GROUPS, ROUND_TRIALS * ROUNDS)]
    return compare_snapshots(baseline, [draw(rng, "B", ROUND_N, ROUND_GROUPS, ROUND_TRIALS, scale=scale)],
                             alpha=alpha, budget=budget)


def naive(rng, alpha: float, budget, scale=None) -> tuple[bool, dict[int, bool]]:
    """Every round judged at the full α, all probes again each round, stop at the first alarm."""
    baseline = [draw(rng, "A", BASELINE_N, BASELINE_GROUPS, ROUND_TRIALS * ROUNDS)]
    runs = []
    for k in range(ROUNDS):
        runs.append(draw(rng, "B", ROUND_N, ROUND_GROUPS, ROUND_TRIALS, scale=scale))
        c = compare_snapshots(baseline, runs, alpha=alpha, budget=budget)
        regressed = {m.id for m in c.metrics if m.verdict == "regressed"}
        if regressed:
            return True, {k + 1: True}
    return False, {}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--gates", type=int, default=400)
    parser.add_argument("--alpha", type=float, default=0.05)
    parser.add_argument("--seed", type=int, default=17)
    args = parser.parse_args()
    rng = np.random.default_rng(args.seed)
    n = args.gates
    print(f"A/A gates: {n} a row, 40 metrics, baseline {BASELINE_N} values a latency set ({BASELINE_GROUPS} groups), "
          f"candidate {ROUND_N} a round ({ROUND_GROUPS} groups), rates {ROUND_TRIALS} trials a round; "
          f"at most {ROUNDS} rounds; alpha {args.alpha:g} family-wise")
    for name, budget in (("adaptive, default floors", None), ("adaptive, no floors", NO_FLOORS)):
        started = time.perf_counter()
        alarms, rounds, samples, undecided = 0, [], [], []
        for _ in range(n):
            c = adaptive(rng, args.alpha, budget)
            alarms += any(m.verdict == "regressed" for m in c.metrics)
            rounds.append(len(c.rounds.looks))
            samples.append(c.rounds.samples)
            undecided.append(len(c.rounds.undecided))
        print(f"  {name:<26} gates with a false regression: {alarms}/{n} = {alarms / n:.1%} "
              f"(95% upper bound {clopper_pearson_upper(alarms, n):.1%}); rounds {np.mean(rounds):.2f} on average "
              f"({', '.join(f'{k}: {rounds.count(k)}' for k in range(1, ROUNDS + 1))}), "
              f"{np.mean(samples):,.0f} samples, {np.mean(undecided):.1f} metrics left undecided "
              f"({time.perf_counter() - started:.0f} s)")
    for name, gate in (("plain, default floors", lambda: any(m.verdict == "regressed" for m in plain(
            rng, args.alpha, None).metrics)), ("naive, no floors", lambda: naive(rng, args.alpha, NO_FLOORS)[0])):
        started = time.perf_counter()
        alarms = sum(gate() for _ in range(n))
        print(f"  {name:<26} gates with a false regression: {alarms}/{n} = {alarms / n:.1%} "
              f"(95% upper bound {clopper_pearson_upper(alarms, n):.1%}); "
              + ("one round" if name.startswith("plain") else "every round at the full alpha, all probes again")
              + f" ({time.perf_counter() - started:.0f} s)")
    power = max(50, n // 4)
    row_id = f"database.query.target-{SLOWER:02d}.latency"
    caught = sum({m.id: m for m in plain(rng, args.alpha, None, {SLOWER: 1.3}).metrics}[row_id].verdict == "regressed"
                 for _ in range(power))
    print(f"power: database query 2 ms made 30% slower: plain gate caught {caught}/{power}")
    caught, when = 0, []
    for _ in range(power):
        c = adaptive(rng, args.alpha, None, scale={SLOWER: 1.3})
        row = {m.id: m for m in c.metrics}[row_id]
        if row.verdict == "regressed":
            caught += 1
            when.append(c.rounds.decided_at[row.id])
    print(f"       adaptive gate, default floors: caught {caught}/{power}"
          + (f", at round {np.mean(when):.2f} on average "
             f"({', '.join(f'{k}: {when.count(k)}' for k in range(1, ROUNDS + 1))})" if when else ""))


if __name__ == "__main__":
    main()
