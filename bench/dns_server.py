"""Bench: the embedded DNS server's no-fault throughput, and dnsperf's p50 against it and
against unbound / dnsmasq when installed (the probes' latency floor on this machine).

    python bench/dns_server.py [--seconds 5]

dnsperf (Debian package `dnsperf`) is optional: without it, throughput comes from a Python
load generator (several processes with 32 queries outstanding each) and the p50 rows say
"dnsperf not installed". Everything listens on 127.0.0.1 and stops when the bench ends.
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

from triage.dns_client import StubResolver  # noqa: E402
from triage.repro.dns_profile import parse_profile  # noqa: E402
from triage.repro.dns_server_process import ServerProcess  # noqa: E402
from triage.repro.dns_sides import profile_conf  # noqa: E402

QUERIES = [("db.quay.svc", "A"), ("cache.quay.svc", "AAAA"), ("storage.quay.svc", "A"), ("db.quay.svc", "AAAA")]


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_answering(port: int, deadline_s: float = 10.0) -> None:
    import dns.message
    import dns.query

    end = time.monotonic() + deadline_s
    while True:
        try:
            dns.query.udp(dns.message.make_query("db.quay.svc", "A"), "127.0.0.1", port=port, timeout=0.2)
            return
        except Exception:  # noqa: BLE001 - not up yet
            if time.monotonic() > end:
                raise RuntimeError(f"nothing answers on 127.0.0.1:{port}")
            time.sleep(0.05)


def dnsperf(port: int, seconds: float, outstanding: int, verbose: bool) -> str:
    with tempfile.NamedTemporaryFile("w", suffix=".txt", delete=False) as fh:
        fh.write("".join(f"{name} {qtype}\n" for name, qtype in QUERIES))
        data = fh.name
    try:
        args = ["dnsperf", "-s", "127.0.0.1", "-p", str(port), "-d", data, "-l", str(seconds), "-q", str(outstanding),
                "-t", "2"]
        if verbose:
            args.append("-v")
        return subprocess.run(args, capture_output=True, text=True, timeout=seconds + 30).stdout
    finally:
        os.unlink(data)


def dnsperf_p50_ms(port: int, seconds: float) -> tuple[float, int]:
    """Two queries outstanding (an A+AAAA pair; dnsperf -q 1 paces itself at ~30 qps), every
    latency reported (-v): the p50 in ms."""
    out = dnsperf(port, seconds, 2, True)
    lat = [float(m.group(1)) * 1000 for m in re.finditer(r"^> \S+ \S+ \S+ ([0-9.]+)$", out, re.M)]
    return (statistics.median(lat) if lat else float("nan")), len(lat)


def dnsperf_qps(port: int, seconds: float) -> float:
    out = dnsperf(port, seconds, 100, False)
    m = re.search(r"Queries per second:\s+([0-9.]+)", out)
    return float(m.group(1)) if m else float("nan")


def _blast(port: int, seconds: float, window: int, result) -> None:
    import dns.message

    wires = [dns.message.make_query(n, t).to_wire() for n, t in QUERIES]
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.connect(("127.0.0.1", port))
    s.settimeout(0.2)
    got, i = 0, 0

    def send() -> None:
        nonlocal i
        w = wires[i % len(wires)]
        s.send(bytes((i >> 8 & 255, i & 255)) + w[2:])
        i += 1

    for _ in range(window):
        send()
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        try:
            s.recv(4096)
            got += 1
            send()
        except socket.timeout:
            for _ in range(window):
                send()
    result.put(got)


def python_qps(port: int, seconds: float, procs: int = 2) -> float:
    ctx = mp.get_context("spawn")
    q = ctx.Queue()
    workers = [ctx.Process(target=_blast, args=(port, seconds, 32, q)) for _ in range(procs)]
    for w in workers:
        w.start()
    total = sum(q.get() for _ in workers)
    for w in workers:
        w.join()
    return total / seconds


def stub_p50_ms(port: int, n: int = 2000) -> float:
    """The workload's wire stub: one lookup = A and AAAA in parallel (ndots 1, no search)."""
    stub = StubResolver(profile_conf(parse_profile("ndots=1,search="), "127.0.0.1"), port)
    stub.resolve("warm.example")
    lat = []
    for i in range(n):
        t = time.perf_counter()
        stub.resolve(QUERIES[i % len(QUERIES)][0])
        lat.append((time.perf_counter() - t) * 1000)
    return statistics.median(lat)


def start_unbound(port: int, tmp: str) -> subprocess.Popen | None:
    binary = shutil.which("unbound") or (os.path.exists("/usr/sbin/unbound") and "/usr/sbin/unbound")
    if not binary:
        return None
    conf = os.path.join(tmp, "unbound.conf")
    with open(conf, "w") as fh:
        fh.write(f"""server:
  interface: 127.0.0.1
  port: {port}
  do-daemonize: no
  chroot: ""
  username: ""
  directory: "{tmp}"
  pidfile: "{tmp}/unbound.pid"
  use-syslog: no
  num-threads: 1
  do-ip6: no
  access-control: 127.0.0.0/8 allow
  local-zone: "quay.svc." static
  local-data: "db.quay.svc. 30 IN A 127.0.0.1"
  local-data: "db.quay.svc. 30 IN AAAA ::1"
  local-data: "cache.quay.svc. 30 IN A 127.0.0.2"
  local-data: "cache.quay.svc. 30 IN AAAA ::1"
  local-data: "storage.quay.svc. 30 IN A 127.0.0.3"
  local-data: "storage.quay.svc. 30 IN AAAA ::1"
remote-control:
  control-enable: no
""")
    return subprocess.Popen([binary, "-d", "-c", conf], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def start_dnsmasq(port: int) -> subprocess.Popen | None:
    binary = shutil.which("dnsmasq") or (os.path.exists("/usr/sbin/dnsmasq") and "/usr/sbin/dnsmasq")
    if not binary:
        return None
    return subprocess.Popen([binary, "--keep-in-foreground", "--no-resolv", "--no-hosts", "--bind-interfaces",
                             "--listen-address=127.0.0.1", f"--port={port}", "--address=/quay.svc/127.0.0.1",
                             "--user=root", "--pid-file="], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=5.0)
    args = parser.parse_args()
    have_dnsperf = shutil.which("dnsperf") is not None
    rows: list[tuple[str, str]] = []
    print(f"# bench/dns_server.py on {os.cpu_count()} cores, {args.seconds:g} s per figure; "
          f"dnsperf {'found' if have_dnsperf else 'not installed'}")

    with ServerProcess(names=("db.quay.svc",)) as srv:
        wait_answering(srv.port)
        rows.append(("embedded, no fault: qps (python load generator, 2 procs x 32 outstanding)",
                     f"{python_qps(srv.port, args.seconds):,.0f}"))
        if have_dnsperf:
            rows.append(("embedded, no fault: qps (dnsperf -q 100)", f"{dnsperf_qps(srv.port, args.seconds):,.0f}"))
            p50, n = dnsperf_p50_ms(srv.port, min(args.seconds, 3))
            rows.append(("embedded, no fault: dnsperf p50, 2 outstanding (ms)", f"{p50:.3f} (n={n})"))
        embedded_p50 = p50 if have_dnsperf else None
        rows.append(("embedded, no fault: wire stub A+AAAA lookup p50 (ms)", f"{stub_p50_ms(srv.port):.3f}"))

    with ServerProcess(profile="delay=5ms") as srv:
        wait_answering(srv.port)
        if have_dnsperf:
            p50, n = dnsperf_p50_ms(srv.port, min(args.seconds, 3))
            rows.append(("embedded, delay=5ms: dnsperf p50 (ms)", f"{p50:.3f} (n={n})"))

    with tempfile.TemporaryDirectory() as tmp:
        for name, starter in (("unbound", lambda port: start_unbound(port, tmp)), ("dnsmasq", start_dnsmasq)):
            port = free_port()
            proc = starter(port)
            if proc is None:
                rows.append((f"{name}: not installed", "-"))
                continue
            try:
                wait_answering(port)
                if have_dnsperf:
                    qps = dnsperf_qps(port, args.seconds)
                    p50, n = dnsperf_p50_ms(port, min(args.seconds, 3))
                    rows.append((f"{name}: qps (dnsperf -q 100)", f"{qps:,.0f}"))
                    rows.append((f"{name}: dnsperf p50 (ms)", f"{p50:.3f} (n={n})"))
                    if embedded_p50:
                        rows.append((f"embedded p50 / {name} p50", f"{embedded_p50 / p50:.2f}x"))
                rows.append((f"{name}: wire stub A+AAAA lookup p50 (ms)", f"{stub_p50_ms(port):.3f}"))
            except RuntimeError as exc:
                rows.append((f"{name}: {exc}", "-"))
            finally:
                proc.terminate()
                proc.wait(timeout=10)

    width = max(len(r[0]) for r in rows)
    for label, value in rows:
        print(f"{label:<{width}}  {value}")


if __name__ == "__main__":
    main()
