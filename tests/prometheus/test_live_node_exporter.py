"""A real prometheus-node-exporter on loopback, scraped by a real Prometheus for a few
seconds: the node profile's metric names are the exporter's own."""

from __future__ import annotations

import datetime as dt
import json
import os
import re
import shutil
import subprocess
import time
import urllib.parse
import urllib.request

import pytest

from triage.config import parse_config
from triage.sources.prometheus.collect import collect
from triage.sources.prometheus.windows import parse_window

from . import prom_server
from .conftest import _missing


def _samples_seen(url: str, metric: str) -> int:
    query = urllib.parse.urlencode({"query": f"count_over_time({metric}[1m])"})
    with urllib.request.urlopen(f"{url}/api/v1/query?{query}", timeout=5) as r:
        result = json.load(r)["data"]["result"]
    return int(float(result[0]["value"][1])) if result else 0


@pytest.fixture
def node_exporter():
    binary = shutil.which("prometheus-node-exporter") or shutil.which("node_exporter")
    if binary is None:
        _missing(FileNotFoundError("prometheus-node-exporter not installed (apt-get install prometheus-node-exporter)"))
    port = prom_server.free_port()
    process = subprocess.Popen([binary, f"--web.listen-address=127.0.0.1:{port}"], stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL)
    try:
        prom_server.wait_ready(f"http://127.0.0.1:{port}/metrics", process)
        yield f"127.0.0.1:{port}"
    finally:
        process.terminate()
        process.wait(timeout=20)


def test_the_node_profile_reads_a_real_node_exporter(node_exporter):
    try:
        prom_server.binaries()
    except FileNotFoundError as exc:
        _missing(exc)
    with urllib.request.urlopen(f"http://{node_exporter}/metrics", timeout=5) as r:
        exported = r.read().decode()
    version = next(re.search(r'[{,]version="([^"]+)"', line)[1] for line in exported.splitlines()
                   if line.startswith("node_exporter_build_info"))
    server = prom_server.start(scrape=[node_exporter], scrape_interval="1s")
    try:
        until = time.monotonic() + 60
        while _samples_seen(server.url, "node_netstat_Tcp_OutSegs") < 8:  # 8 scrapes: 4 blocks of 2 s
            assert time.monotonic() < until, "Prometheus did not scrape the node exporter within 60 s"
            time.sleep(0.2)  # a poll interval; the condition is the scrape count
        cfg = parse_config(f"prometheus:\n  url: {server.url}\n  block: 2s\n  profiles: [node]\n", "t.yaml")
        now = dt.datetime.now(dt.timezone.utc)
        got = collect(cfg.prometheus, parse_window("6s", now=now), "live")
    finally:
        server.stop()
    by_probe = {(r.probe, r.target): r for r in got.snapshot.results}
    assert {r.status for r in got.snapshot.results} == {"ok"}, [(r.probe, r.error) for r in got.snapshot.results]
    netstat = {m.metric: m for m in by_probe[("netstat", node_exporter)].measurements}
    assert {"tcp_retransmit_rate", "tcp_syn_retrans", "tcp_listen_drops", "udp_rcvbuf_errors"} <= set(netstat)
    assert netstat["tcp_retransmit_rate"].values and all(0 <= v <= 1 for v in netstat["tcp_retransmit_rate"].values)
    facts = {m.metric: m.value for m in by_probe[("node", node_exporter)].measurements}
    assert facts == {"kernel_release": os.uname().release, "node_exporter_version": version}
    assert {"softnet", "nic"} <= {probe for probe, _ in by_probe}
