"""What `triage calibrate` buys: A/A false alarms of a gate (a stored label of 5 runs against one
new run of the same platform) with the default floors and with the floors calibrated from those
5 runs, in an environment whose runs differ by more than their sampling; and what it costs in
power on a quiet metric and on a noisy one.

Each run is bench/false_alarms.py's 40-metric family; run effects scale each latency set of a
run by its own lognormal factor, σ cycling 0, 3%, 8%, 15% over the 32 sets (the noise between
runs that no number of samples inside a run averages away). Every trial calibrates afresh.

Prints figures; never a test. Run: python bench/calibration.py [--trials 100]
"""

from __future__ import annotations

import argparse
import os
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from false_alarms import SAMPLE_METRICS, clopper_pearson_upper, family_results  # noqa: E402

from triage.budget import parse_budget  # noqa: E402
from triage.calibration import calibrate  # noqa: E402
from triage.judge import compare_snapshots  # noqa: E402
from triage.model import Snapshot  # noqa: E402

SIGMAS = (0.0, 0.03, 0.08, 0.15)
QUIET, NOISY = 4, 3  # database query 2 ms (σ 0) and app http 5 ms (σ 15%)


def run(rng, name: str, shifted: dict | None = None) -> Snapshot:
    effects = {i: {"scale": float(np.exp(rng.normal(0, SIGMAS[i % len(SIGMAS)])))} for i in range(SAMPLE_METRICS)}
    for i, kw in (shifted or {}).items():
        effects[i] = {"scale": effects[i]["scale"] * kw["scale"]}
    return Snapshot(name, "2026-11-23T15:00:00Z", "bench", "0.1.0", tuple(family_results(rng, effects, groups=10)))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=100)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--seed", type=int, default=2021)
    args = parser.parse_args()
    rng = np.random.default_rng(args.seed)
    alarms = {"default": 0, "calibrated": 0}
    caught = {(which, floors): 0 for which in ("quiet", "noisy") for floors in alarms}
    widened = 0
    started = time.perf_counter()
    for _ in range(args.trials):
        baseline = [run(rng, "4.3.18") for _ in range(args.runs)]
        c = calibrate(baseline, label="4.3.18")
        widened += sum(1 for m in c.metrics if m.widened)
        budgets = {"default": None, "calibrated": parse_budget(c.budget_text, "calibrated.yaml")}
        candidates = {"aa": run(rng, "4.3.18"), "quiet": run(rng, "4.3.19", {QUIET: {"scale": 1.5}}),
                      "noisy": run(rng, "4.3.19", {NOISY: {"scale": 1.5}})}
        for floors, budget in budgets.items():
            for which, candidate in candidates.items():
                verdicts = {m.target: m.verdict for m in compare_snapshots(baseline, [candidate], budget=budget).metrics}
                if which == "aa":
                    alarms[floors] += any(v == "regressed" for v in verdicts.values())
                else:
                    caught[(which, floors)] += verdicts[f"target-{QUIET if which == 'quiet' else NOISY:02d}"] == "regressed"
    elapsed = time.perf_counter() - started
    n = args.trials
    print(f"gate A/A: a label of {args.runs} runs vs one new run, 40 metrics, run effects σ = "
          f"{', '.join(f'{s:.0%}' for s in SIGMAS)} over the latency sets; {n} trials, each calibrated afresh")
    for floors, count in alarms.items():
        print(f"  {floors:<10} floors: false alarms {count}/{n} = {count / n:.1%} "
              f"(95% upper bound {clopper_pearson_upper(count, n):.1%})")
    print(f"  floors widened per calibration: {widened / n:.1f} of 40 metrics on average")
    for which, label in (("quiet", "database 2 ms, σ 0"), ("noisy", "app 5 ms, σ 15%")):
        print(f"  +50% on a {which} metric ({label}) caught: default {caught[(which, 'default')]}/{n}, "
              f"calibrated {caught[(which, 'calibrated')]}/{n}")
    print(f"  ({elapsed:.0f} s)")


if __name__ == "__main__":
    main()
