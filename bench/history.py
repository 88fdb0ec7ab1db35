"""Change points of `triage history` over synthetic histories: how often an A/A history (every
label the same platform) shows a change point, whether a step is named at its label with the
right layer leading, and what an outlier run at the first label does.

Each run is bench/false_alarms.py's 40-metric family (32 heavy-tailed latency sets of 100–500
values in 10 groups, 8 proportions); a label pools its runs. Run effects (``--run-sigma``) scale
every latency set of a run by one lognormal factor, the noise between runs that triage
calibrate measures.

Prints figures; never a test. Run: python bench/history.py [--histories 200] [--labels 12]
"""

from __future__ import annotations

import argparse
import os
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from false_alarms import MIXTURES, SAMPLE_METRICS, clopper_pearson_upper, family_results  # noqa: E402

from triage.model import Snapshot  # noqa: E402
from triage.segmentation import find_change_points  # noqa: E402

DNS_STEP, APP_STEP = 0, 3  # target-00 is dns resolve (0.1 ms), target-03 app http (5 ms)


def run(rng, label: str, i: int, shifted: dict | None = None, run_sigma: float = 0.0) -> Snapshot:
    shifted = dict(shifted or {})
    if run_sigma:
        factor = float(np.exp(rng.normal(0, run_sigma)))
        for m in range(SAMPLE_METRICS):
            shifted[m] = {**shifted.get(m, {}), "scale": shifted.get(m, {}).get("scale", 1.0) * factor}
    return Snapshot(label, f"2026-11-{1 + i // 24:02d}T{i % 24:02d}:00:00Z", "bench", "0.1.0",
                    tuple(family_results(rng, shifted, groups=10)))


def history(rng, labels: int, runs: int, *, step_at: int | None = None, outlier_first: bool = False,
            run_sigma: float = 0.0):
    names = [f"4.3.{10 + i}" for i in range(labels)]
    out = {}
    for i, name in enumerate(names):
        snaps = []
        for r in range(runs):
            shifted = {}
            if step_at is not None and i >= step_at:
                shifted = {DNS_STEP: {"scale": 2.0}, APP_STEP: {"scale": 1.3}}
            if outlier_first and i == 0 and r == 0:
                shifted = {m: {"scale": 3.0} for m in range(SAMPLE_METRICS)}
            snaps.append(run(rng, name, i * runs + r, shifted, run_sigma))
        out[name] = snaps
    return names, out


def aa(histories: int, labels: int, runs: int, seed: int, run_sigma: float = 0.0, outlier_first: bool = False) -> None:
    rng = np.random.default_rng(seed)
    flagged, points, comparisons = 0, {}, 0
    started = time.perf_counter()
    for _ in range(histories):
        names, snaps = history(rng, labels, runs, run_sigma=run_sigma, outlier_first=outlier_first)
        h = find_change_points(names, snaps)
        comparisons += h.comparisons
        flagged += bool(h.change_points)
        for cp in h.change_points:
            points[cp.id] = points.get(cp.id, 0) + 1
    elapsed = time.perf_counter() - started
    what = "A/A" + (f", run effects σ={run_sigma:g}" if run_sigma else "") + (", an outlier run (x3) at the first label" if outlier_first else "")
    print(f"{what}: {histories} histories of {labels} labels x {runs} runs x 40 metrics")
    print(f"  histories with any change point: {flagged}/{histories} = {flagged / histories:.1%} "
          f"(95% upper bound {clopper_pearson_upper(flagged, histories):.1%})")
    if points:
        print("  change points by metric: " + ", ".join(f"{k} x{v}" for k, v in sorted(points.items())))
    print(f"  {elapsed / histories:.2f} s and {comparisons / histories:.0f} comparisons per history")


def power(histories: int, labels: int, runs: int, seed: int) -> None:
    rng = np.random.default_rng(seed)
    step_at = min(7, labels - 2)
    exact = roles = other = 0
    for _ in range(histories):
        names, snaps = history(rng, labels, runs, step_at=step_at)
        h = find_change_points(names, snaps)
        found = {(cp.id, cp.label): cp.role for cp in h.change_points}
        dns, app = (f"{MIXTURES[i % len(MIXTURES)].layer}.{MIXTURES[i % len(MIXTURES)].probe}.target-{i:02d}.latency"
                    for i in (DNS_STEP, APP_STEP))
        at = names[step_at]
        exact += (dns, at) in found and (app, at) in found
        roles += found.get((dns, at)) == "root" and found.get((app, at)) == "downstream"
        other += sum(1 for key in found if key not in ((dns, at), (app, at)))
    print(f"a step at label {step_at + 1} of {labels} (dns 0.1 -> 0.2 ms, app 5 -> 6.5 ms), {histories} histories:")
    print(f"  both named at label {step_at + 1}: {exact}/{histories}; dns root and app downstream: {roles}/{histories}; "
          f"other change points: {other}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--histories", type=int, default=200)
    parser.add_argument("--labels", type=int, default=12)
    parser.add_argument("--runs", type=int, default=2)
    parser.add_argument("--long", type=int, default=20, help="A/A histories of 40 labels (0 to skip)")
    parser.add_argument("--seed", type=int, default=2020)
    args = parser.parse_args()
    aa(args.histories, args.labels, args.runs, args.seed)
    aa(max(1, args.histories // 4), args.labels, args.runs, args.seed + 1, outlier_first=True)
    aa(max(1, args.histories // 4), args.labels, args.runs, args.seed + 2, run_sigma=0.05)
    power(max(1, args.histories // 4), args.labels, args.runs, args.seed + 3)
    if args.long:
        aa(args.long, 40, args.runs, args.seed + 4)


if __name__ == "__main__":
    main()
