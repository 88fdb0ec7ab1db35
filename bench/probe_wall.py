"""Wall time of `triage probe` against local servers: what a run costs an SRE.

Starts a real PostgreSQL (tests/database/pg_server.py, ~5 s to seed), the embedded DNS
server and a local HTTP server, all on loopback, writes a triage.yaml for them and times
`triage probe --quiet` as a subprocess (interpreter start and imports included), then
prints the wall time per run and the time each probe reported.

    python bench/probe_wall.py [--runs 3] [--samples 100]
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

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

from tests.app.http_server import Answer, ControlledServer, always  # noqa: E402
from tests.database import pg_server  # noqa: E402
from triage.repro.dns_server import EmbeddedDnsServer  # noqa: E402

NAMES = ("db.quay.svc", "registry.quay.svc")


def write_config(path: str, app_url: str, dns_port: int, dsn: str, samples: int) -> None:
    # Only loopback resolvers and IP-literal targets: nothing reaches the system resolver.
    with open(path, "w") as fh:
        fh.write(f"""samples: {samples}
targets:
  - name: registry
    url: {app_url}
  - name: registry-db
    dsn: "{dsn}"
    queries:
      - name: image-layer-fetch
        sql: "{pg_server.CRITICAL_QUERY}"
dns:
  resolvers: ["cluster-dns=127.0.0.1:{dns_port}"]
  names: [{", ".join(NAMES)}]
""")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--samples", type=int, default=100)
    args = parser.parse_args()
    postgres = pg_server.start()
    try:
        with EmbeddedDnsServer(profile="healthy", names=NAMES, bind="127.0.0.1", port=0) as dns_srv, \
                ControlledServer(always(Answer(200, body_size=512))) as app, tempfile.TemporaryDirectory() as tmp:
            cfg = os.path.join(tmp, "triage.yaml")
            write_config(cfg, app.url + "/health", dns_srv.port, postgres.dsn(), args.samples)
            walls, per_probe = [], {}
            for i in range(args.runs):
                out = os.path.join(tmp, f"run{i}.json")
                started = time.perf_counter()
                subprocess.run([sys.executable, "-m", "triage", "probe", "--config", cfg, "--out", out, "--quiet",
                                "--layers", "kernel,dns,database,app", "--label", "bench"], check=True)
                walls.append(time.perf_counter() - started)
                with open(out) as fh:
                    for r in json.load(fh)["results"]:
                        per_probe.setdefault(f"{r['layer']}.{r['probe']}", []).append(r["duration_s"])
    finally:
        pg_server.stop(postgres)
    print(f"triage probe, {args.samples} samples, {args.runs} runs: wall "
          f"{statistics.median(walls):.2f} s median ({', '.join(f'{w:.2f}' for w in walls)})")
    print("probe time per run (sum over its targets, median of runs):")
    for name, durations in per_probe.items():
        per_run = len(durations) // args.runs or 1
        sums = [sum(durations[k * per_run:(k + 1) * per_run]) for k in range(args.runs)]
        print(f"  {name:24s} {statistics.median(sums):6.3f} s")


if __name__ == "__main__":
    main()
