"""Bench: `triage repro db --embedded --compare with-index without-index` at full scale, as a
user runs it: wall clock, and per side the peak connections against max_connections,
refusals, failed requests, fetch latency and time to warm; then `triage compare` of its
snapshots; then how fast Ctrl-C stops a storm.

    python bench/db_storm.py [--rows 200000] [--runs 3]

Everything runs on 127.0.0.1 (a throwaway PostgreSQL in a temp dir) and is removed at the end.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
TRIAGE = [sys.executable, "-m", "triage"]
ENV = {**os.environ, "CI": "true", "PYTHONPATH": ROOT}


def storm(rows: int, work: str) -> tuple[float, dict, dict]:
    started = time.monotonic()
    done = subprocess.run(TRIAGE + ["repro", "db", "--embedded", "--compare", "with-index", "without-index",
                                    "--rows", str(rows), "--snapshot-dir", "snaps", "--format", "json", "--quiet"],
                          cwd=work, capture_output=True, text=True, env=ENV, timeout=600)
    wall = time.monotonic() - started
    if done.returncode != 0:
        raise SystemExit(f"repro db failed ({done.returncode}): {done.stderr}")
    compared = subprocess.run(TRIAGE + ["compare", "snaps/1-with-index.json", "snaps/2-without-index.json",
                                        "--format", "json"], cwd=work, capture_output=True, text=True, env=ENV)
    return wall, json.loads(done.stdout), json.loads(compared.stdout) | {"exit": compared.returncode}


class _Interrupter:
    """Progress that sends this process a SIGINT once a side has stormed for ``after_s``, and
    notes when the load stopped (side_done runs once every pod's thread is joined)."""

    def __init__(self, after_s: float):
        self.after_s, self.sent, self.stopped = after_s, None, None

    def side_started(self, index: int, total: int, profile: str, duration_s: float) -> None:
        self.timer = threading.Timer(self.after_s, self._interrupt)
        self.timer.start()

    def _interrupt(self) -> None:
        self.sent = time.monotonic()
        os.kill(os.getpid(), signal.SIGINT)

    def tick(self, elapsed_s: float) -> None:
        pass

    def side_done(self) -> None:
        self.stopped = time.monotonic()


def ctrl_c(rows: int) -> tuple[float, float]:
    """(seconds from SIGINT to the load stopped, to the server stopped and removed), with the
    storm 3 s into a without-index side, in this process as the CLI runs it."""
    sys.path.insert(0, ROOT)
    from triage import engine
    from triage.repro.db_repro import DbTarget
    from triage.repro.db_storm import StormOptions

    progress = _Interrupter(3.0)
    try:
        engine.repro_db(["without-index"], DbTarget(embedded=True), StormOptions(rows=rows, duration_s=120,
                                                                                keys=10_000), progress=progress)
    except KeyboardInterrupt:
        ended = time.monotonic()
    else:
        raise SystemExit("the storm ended before Ctrl-C")
    return progress.stopped - progress.sent, ended - progress.sent


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=200_000)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    walls = []
    for run in range(args.runs):
        with tempfile.TemporaryDirectory(prefix="triage-bench-storm-") as work:
            wall, report, verdict = storm(args.rows, work)
        walls.append(wall)
        print(f"run {run + 1}: {wall:.1f} s wall; compare exit {verdict['exit']}, suspects "
              + ", ".join(f"{s['layer']} {s['role']}" for s in verdict["suspects"]))
        for s in report["sides"]:
            fetch = s["fetch_ms"]
            print(f"  {s['profile']:>13}: peak {s['peak_clients']} of {s['max_connections']} "
                  f"(reached: {'yes' if s['reached_max_connections'] else 'no'}), refused "
                  f"{sum(s['connect_refusals'].values())} of {s['connect_attempts']}, failed requests "
                  f"{s['failed_requests']} of {s['cache_misses']} {s['errors']}, fetch p50 {fetch['p50']} ms "
                  f"p99 {fetch['p99']} ms, warm {s['time_to_warm_s']['last']} s, side {s['duration_s']} s "
                  f"({s['stopped_by']})")
        plan = next(e["text"] for su in verdict["suspects"] for e in su["evidence"] if e["metric"].endswith(".plan"))
        print(f"  plan evidence: {plan}")
    print(f"wall clock of --compare with-index without-index: median {statistics.median(walls):.1f} s "
          f"(min {min(walls):.1f}, max {max(walls):.1f}; target < 90 s)")
    stopped, ended = ctrl_c(args.rows)
    print(f"Ctrl-C 3 s into a storm: load stopped {stopped:.2f} s after SIGINT (queries cancelled, pods' threads "
          f"joined, connections closed); server stopped and removed {ended:.2f} s after it")


if __name__ == "__main__":
    main()
