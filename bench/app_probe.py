"""How much of the app probe's latency is the probe itself (requests, urllib3)?

Against the same local keep-alive HTTP server, compares the latency the ``app.http`` probe
records with a bare socket loop that writes a request and reads exactly the answer. The
difference is the client overhead every app latency sample carries; it is constant-ish, so
it cancels in a comparison, but it sets the floor below which app latency changes are noise.

    python bench/app_probe.py [--requests 2000] [--body 2048]
"""

from __future__ import annotations

import argparse
import os
import socket
import statistics
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

from tests.app.http_server import Answer, ControlledServer, always  # noqa: E402
from triage.config import parse_config  # noqa: E402
from triage.runner import RunOptions, run_probes  # noqa: E402


def raw_loop(port: int, n: int) -> list[float]:
    """Keep-alive GETs over one socket; the answer is read to its last byte, as the probe does."""
    out = []
    request = f"GET /health HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n\r\n".encode()
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        reader = sock.makefile("rb")
        for _ in range(n):
            started = time.perf_counter()
            sock.sendall(request)
            length = 0
            while True:
                line = reader.readline()
                if line in (b"\r\n", b""):
                    break
                if line.lower().startswith(b"content-length:"):
                    length = int(line.split(b":")[1])
            reader.read(length)
            out.append((time.perf_counter() - started) * 1000.0)
    return out


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--body", type=int, default=2048)
    args = parser.parse_args()
    with ControlledServer(always(Answer(200, body_size=args.body))) as server:
        cfg = parse_config(f"targets:\n  - name: bench\n    url: {server.url}/health\n", "bench")
        raw_loop(server.port, 50)  # warm-up: imports, caches
        raw = raw_loop(server.port, args.requests)
        started = time.perf_counter()
        snap = run_probes(cfg, RunOptions(layers=("app",), samples=args.requests))
        wall = time.perf_counter() - started
    result = snap.results[0]
    assert result.status == "ok", result.error
    probe = list(next(m for m in result.measurements if m.metric == "latency").values)
    print(f"requests per side: {args.requests}, body {args.body} bytes, loopback keep-alive, {os.cpu_count()} CPUs")
    print(f"{'':16}{'p50 ms':>10}{'p95 ms':>10}{'p99 ms':>10}")
    for name, values in (("raw socket", raw), ("app.http probe", probe)):
        print(f"{name:16}{statistics.median(values):10.3f}{pct(values, 0.95):10.3f}{pct(values, 0.99):10.3f}")
    print(f"probe overhead (p50): {statistics.median(probe) - statistics.median(raw):.3f} ms per request")
    print(f"probe wall time: {wall:.2f} s for {args.requests} requests ({wall / args.requests * 1000:.3f} ms each)")


if __name__ == "__main__":
    main()
