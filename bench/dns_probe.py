"""Bench: the dns wire probe against dnsperf on the same loopback server.

Why: probe overhead hides small regressions. The probe times only send -> receive on a
connected UDP socket; this bench says how close that gets to dnsperf, a C load tool, on
the same server, one query outstanding at a time (dnsperf -c 1 -q 1), as p50 ratios. It
also prints the sequential qps of both and dnsperf's sustained qps (-q 64) per server, and
the probe's p50 against `triage repro dns serve --profile delay=5ms` (expect about 5 ms).

Servers: the embedded one (healthy, in its own process); unbound and dnsmasq when
installed (started here on a free 127.0.0.1 port with a local zone, stopped at the end).
Only loopback is ever queried. Rounds alternate probe and dnsperf so drift hits both.

    python bench/dns_probe.py [--queries 5000] [--rounds 3] [--json]

Needs dnsperf (Debian: apt-get install dnsperf) for the ratios; prints
"dnsperf not installed" otherwise and reports the probe alone.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from contextlib import contextmanager
from typing import Iterator

from triage.probes.dns import run_wire_series

NAME = "db.quay.svc"
LOCAL_ADDRESS = "127.0.0.10"


def stop(proc: subprocess.Popen) -> None:
    """SIGTERM, then SIGKILL if it has not gone within 10 s."""
    proc.terminate()
    try:
        proc.wait(10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def free_port() -> int:
    """A port free for UDP and TCP on 127.0.0.1 right now."""
    for _ in range(50):
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp, \
                socket.socket(socket.AF_INET, socket.SOCK_STREAM) as tcp:
            udp.bind(("127.0.0.1", 0))
            port = udp.getsockname()[1]
            try:
                tcp.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise RuntimeError("no free port")


def wait_until_answering(host: str, port: int, limit_s: float = 15.0) -> None:
    deadline = time.monotonic() + limit_s
    while time.monotonic() < deadline:
        series, _ = run_wire_series(host, port, NAME, ("A",), 1, 0.2)
        if series[0].answered:
            return
        time.sleep(0.1)  # a server process starting up: polling, not synchronising a test
    raise RuntimeError(f"no answer from {host}:{port} within {limit_s:g}s")


# --- servers ---------------------------------------------------------------------------------


@contextmanager
def embedded(profile: str = "healthy") -> Iterator[tuple[str, int]]:
    from triage.repro.dns_server_process import ServerProcess

    with ServerProcess(profile=profile, names=(NAME,)) as srv:
        wait_until_answering(srv.host, srv.port)
        yield srv.host, srv.port


@contextmanager
def foreground_process(argv: list[str], port: int) -> Iterator[tuple[str, int]]:
    proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_until_answering("127.0.0.1", port)
        yield "127.0.0.1", port
    finally:
        stop(proc)


@contextmanager
def unbound(workdir: str) -> Iterator[tuple[str, int]]:
    port = free_port()
    conf = os.path.join(workdir, "unbound.conf")
    with open(conf, "w", encoding="utf-8") as fh:
        fh.write(f"""server:
  interface: 127.0.0.1
  port: {port}
  do-daemonize: no
  use-syslog: no
  logfile: ""
  chroot: ""
  username: ""
  directory: "{workdir}"
  pidfile: ""
  do-ip6: no
  num-threads: 1
  access-control: 127.0.0.0/8 allow
  local-zone: "quay.svc." static
  local-data: "{NAME}. 300 IN A {LOCAL_ADDRESS}"
remote-control:
  control-enable: no
""")
    with foreground_process([shutil.which("unbound"), "-d", "-c", conf], port) as addr:
        yield addr


@contextmanager
def dnsmasq() -> Iterator[tuple[str, int]]:
    port = free_port()
    argv = [shutil.which("dnsmasq"), "--keep-in-foreground", "--conf-file=/dev/null", "--no-resolv", "--no-hosts",
            "--bind-interfaces", "--listen-address=127.0.0.1", f"--port={port}", "--user=root",
            f"--address=/{NAME}/{LOCAL_ADDRESS}", "--pid-file="]
    with foreground_process(argv, port) as addr:
        yield addr


@contextmanager
def repro_serve(profile: str) -> Iterator[tuple[str, int]]:
    """`triage repro dns serve --profile ... --port 0`, reading the address it announces."""
    proc = subprocess.Popen([sys.executable, "-m", "triage", "repro", "dns", "serve", "--profile", profile,
                             "--port", "0", "--quiet", "--name", NAME],
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    try:
        line = proc.stdout.readline() if proc.stdout else ""
        m = re.search(r"on (\S+):(\d+) ", line)
        if not m:
            raise RuntimeError(f"repro dns serve did not announce its address: {line!r}")
        host, port = m[1], int(m[2])
        wait_until_answering(host, port)
        yield host, port
    finally:
        stop(proc)


# --- measurements ---------------------------------------------------------------------------


def probe_round(host: str, port: int, queries: int, interval_s: float = 0.0) -> dict:
    started = time.perf_counter()
    series, _ = run_wire_series(host, port, NAME, ("A",), queries, 2.0, interval_s=interval_s)
    wall = time.perf_counter() - started
    s = series[0]
    if s.answered != queries:
        raise RuntimeError(f"probe: {s.answered} of {queries} answered at {host}:{port}")
    return {"p50_us": statistics.median(s.latencies_ms) * 1000, "qps": queries / wall}


def dnsperf_round(host: str, port: int, queries: int, datafile: str) -> dict:
    proc = subprocess.run(["dnsperf", "-s", host, "-p", str(port), "-d", datafile, "-c", "1", "-q", "1",
                           "-n", str(queries), "-t", "2", "-v"], capture_output=True, text=True, timeout=300)
    latencies = [float(line.split()[-1]) for line in proc.stdout.splitlines() if line.startswith("> NOERROR")]
    if len(latencies) < queries * 0.99:
        raise RuntimeError(f"dnsperf: {len(latencies)} of {queries} NOERROR at {host}:{port}\n{proc.stdout[-800:]}")
    qps = re.search(r"Queries per second:\s+([0-9.]+)", proc.stdout)
    return {"p50_us": statistics.median(latencies) * 1e6, "qps": float(qps[1]) if qps else float("nan")}


def dnsperf_capacity(host: str, port: int, datafile: str, seconds: int = 3) -> float:
    proc = subprocess.run(["dnsperf", "-s", host, "-p", str(port), "-d", datafile, "-c", "4", "-q", "64",
                           "-l", str(seconds), "-t", "2"], capture_output=True, text=True, timeout=seconds + 60)
    m = re.search(r"Queries per second:\s+([0-9.]+)", proc.stdout)
    return float(m[1]) if m else float("nan")


def measure(label: str, host: str, port: int, queries: int, rounds: int, datafile: str | None,
            paced_queries: int, interval_s: float) -> dict:
    run_wire_series(host, port, NAME, ("A",), 300, 2.0)  # warm up caches and the server's code path
    hot, paced, perf = [], [], []
    for _ in range(rounds):
        hot.append(probe_round(host, port, queries))
        paced.append(probe_round(host, port, paced_queries, interval_s))
        if datafile:
            perf.append(dnsperf_round(host, port, queries, datafile))
    row = {"server": label, "queries": queries, "rounds": rounds,
           "probe_p50_us": statistics.median(r["p50_us"] for r in hot),
           "probe_qps": statistics.median(r["qps"] for r in hot),
           "probe_paced_p50_us": statistics.median(r["p50_us"] for r in paced),
           "paced_interval_ms": interval_s * 1000}
    if perf:
        row["dnsperf_p50_us"] = statistics.median(r["p50_us"] for r in perf)
        row["dnsperf_qps"] = statistics.median(r["qps"] for r in perf)
        row["p50_ratio"] = row["probe_p50_us"] / row["dnsperf_p50_us"]
        row["paced_p50_ratio"] = row["probe_paced_p50_us"] / row["dnsperf_p50_us"]
        row["dnsperf_capacity_qps"] = dnsperf_capacity(host, port, datafile)
    return row


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--queries", type=int, default=1000, help="queries per round and side")
    parser.add_argument("--paced-queries", type=int, default=300,
                        help="queries per round of the paced probe (one every --interval-ms)")
    parser.add_argument("--interval-ms", type=float, default=12.0,
                        help="pause between paced probe queries, near dnsperf -q 1's own pace here")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--json", action="store_true", help="print the rows as JSON")
    args = parser.parse_args()

    have_dnsperf = shutil.which("dnsperf") is not None
    if not have_dnsperf:
        print("dnsperf not installed (Debian: apt-get install dnsperf): probe figures only", file=sys.stderr)
    rows = []
    with tempfile.TemporaryDirectory(prefix="triage-bench-dns-") as workdir:
        datafile = None
        if have_dnsperf:
            datafile = os.path.join(workdir, "queries.txt")
            with open(datafile, "w", encoding="utf-8") as fh:
                fh.write(f"{NAME} A\n")
        servers = [("embedded (healthy)", lambda: embedded())]
        if shutil.which("unbound"):
            servers.append(("unbound", lambda: unbound(workdir)))
        else:
            print("unbound not installed: skipped", file=sys.stderr)
        if shutil.which("dnsmasq"):
            servers.append(("dnsmasq", lambda: dnsmasq()))
        else:
            print("dnsmasq not installed: skipped", file=sys.stderr)
        servers.append(("repro dns serve delay=5ms", lambda: repro_serve("delay=5ms")))
        for label, start in servers:
            queries = args.queries if "delay" not in label else min(args.queries, 300)
            with start() as (host, port):
                rows.append(measure(label, host, port, queries, args.rounds, datafile,
                                    args.paced_queries, args.interval_ms / 1000))

    if args.json:
        print(json.dumps(rows, indent=2))
        return 0
    print(f"{'server':<27} {'probe p50':>10} {'paced p50':>10} {'dnsperf p50':>12} {'ratio':>6} {'paced':>6} "
          f"{'probe qps':>10} {'dnsperf qps':>12} {'capacity qps':>13}")
    for r in rows:
        def fmt(key: str, spec: str) -> str:
            return format(r[key], spec) if key in r else "-"
        print(f"{r['server']:<27} {fmt('probe_p50_us', '>8.1f')}us {fmt('probe_paced_p50_us', '>8.1f')}us "
              f"{fmt('dnsperf_p50_us', '>10.1f')}us {fmt('p50_ratio', '>5.2f')}x {fmt('paced_p50_ratio', '>5.2f')}x "
              f"{fmt('probe_qps', '>10.0f')} {fmt('dnsperf_qps', '>12.0f')} {fmt('dnsperf_capacity_qps', '>13.0f')}")
    print("probe p50: back to back; paced: one query every --interval-ms; dnsperf: -c 1 -q 1 (one outstanding).")
    print("ratio = probe p50 / dnsperf p50 (target <= 2); capacity: dnsperf -c 4 -q 64 for 3 s.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
