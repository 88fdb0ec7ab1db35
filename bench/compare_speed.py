"""How long `triage compare` takes on two big snapshots: 2,000 samples metrics x 500 samples
a side (plus a few proportions, gauges and facts), wall clock including interpreter start.

Target: < 3 s. Prints figures; never a test. Run: python bench/compare_speed.py [--repeat 5]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

import numpy as np

METRICS = 2000
SAMPLES = 500


def big_snapshot(label: str, seed: int, shift: float, groups: int = 0) -> dict:
    rng = np.random.default_rng(seed)
    layers = ("kernel", "dns", "kubernetes", "database", "app")
    results = []
    for i in range(METRICS):
        layer = layers[i % len(layers)]
        median = 0.1 if layer == "dns" else 5.0
        # One metric in a hundred gets slower on the candidate, so the verdict has work to do.
        factor = shift if i % 100 == 0 else 1.0
        values = np.round(rng.lognormal(np.log(median * factor), 0.3, SAMPLES), 5).tolist()
        measurements = [{"metric": "latency", "unit": "ms", "kind": "samples", "better": "lower", "values": values}]
        if groups:  # sub-runs, as live probes record them: judged with groups as units
            measurements[0]["groups"] = [SAMPLES // groups] * groups
        if i % 50 == 0:
            measurements.append({"metric": "timeouts", "kind": "proportion", "better": "lower",
                                 "events": int(rng.binomial(SAMPLES, 0.01)), "trials": SAMPLES})
            measurements.append({"metric": "restarts", "unit": "count", "kind": "gauge", "better": "lower", "value": 0})
            measurements.append({"metric": "version", "kind": "fact", "value": label})
        results.append({"layer": layer, "probe": "synthetic", "target": f"target-{i:04d}", "status": "ok",
                        "error": None, "duration_s": 1.0, "measurements": measurements})
    return {"schema": "triage.snapshot/v1", "label": label, "taken_at": "2026-11-23T15:00:00Z", "host": "bench",
            "tool_version": "0.1.0", "results": results}


def timed(cmd: list[str]) -> tuple[float, float, int]:
    """(wall seconds, CPU seconds of the child, exit code). CPU time says how much of the
    wall clock was ours when other work shares the machine."""
    import resource

    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    proc = subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    elapsed = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if proc.returncode not in (0, 3, 4):
        sys.exit(f"compare failed ({proc.returncode}): {proc.stderr.strip()}")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return elapsed, cpu, proc.returncode


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--groups", type=int, default=0, help="record the samples in this many sub-runs (0: none)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="triage-bench-") as tmp:
        a, b = os.path.join(tmp, "a.json"), os.path.join(tmp, "b.json")
        for path, label, seed, shift in ((a, "4.3.18", 1, 1.0), (b, "4.3.19", 2, 1.3)):
            with open(path, "w") as fh:
                json.dump(big_snapshot(label, seed, shift, args.groups), fh)
        size = os.path.getsize(a) / 1e6
        grouping = f" in {args.groups} groups" if args.groups else ""
        print(f"compare_speed: {METRICS} metrics x {SAMPLES} samples{grouping} a side ({size:.1f} MB per snapshot), "
              f"{args.repeat} runs each, wall clock incl. interpreter start")
        triage = [sys.executable, "-m", "triage"]
        for fmt in ("json", "table"):
            times, cpus = [], []
            code = 0
            for _ in range(args.repeat):
                elapsed, cpu, code = timed(triage + ["compare", a, b, "--format", fmt])
                times.append(elapsed)
                cpus.append(cpu)
            print(f"  --format {fmt:<5}  wall median {statistics.median(times):.2f} s  min {min(times):.2f} s  "
                  f"max {max(times):.2f} s  (CPU median {statistics.median(cpus):.2f} s, exit {code})  target < 3 s: "
                  f"{'met' if statistics.median(times) < 3 else 'MISSED'}")
        _breakdown(a, b)


def _breakdown(a: str, b: str) -> None:
    """Where the time goes, in this process (CPU seconds): loading vs judging vs rendering."""
    code = (
        "import time; c0 = time.process_time()\n"
        "from triage.model import Snapshot\n"
        f"sa = Snapshot.load({a!r}); sb = Snapshot.load({b!r}); c1 = time.process_time()\n"
        "from triage.judge import compare_snapshots\n"
        "r = compare_snapshots([sa], [sb]); c2 = time.process_time()\n"
        "from triage.report.json_out import render\n"
        "render(r); c3 = time.process_time()\n"
        "print(f'  CPU breakdown: imports+load two snapshots {c1 - c0:.2f} s, judge {c2 - c1:.2f} s, json {c3 - c2:.2f} s')\n"
    )
    start = subprocess.run([sys.executable, "-c", "pass"])
    del start
    subprocess.run([sys.executable, "-c", code], check=True)


if __name__ == "__main__":
    main()
