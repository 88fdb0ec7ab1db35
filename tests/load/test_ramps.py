"""`triage probe --load` end to end against servers these tests start on loopback: the embedded
DNS server in its own process, a local HTTP app in its own process (tests/load/lock_app.py).

Directions only, each fixed by the servers: a DNS server that may hold one reply in flight
for 2 ms drops what arrives faster than 500 q/s; an app whose handler holds one lock for 2 ms
serves at most 500 req/s. Capacity and speed figures are bench/load_ramps.py's.
"""

from __future__ import annotations

import json
import socket
import sys

import pytest

from triage.model import Snapshot
from triage.repro.dns_server_process import ServerProcess

from .lock_app import lock_app

NAME = "db.quay.svc"


def dns_section(port: int) -> str:
    return f"dns:\n  resolvers: ['cluster-dns=127.0.0.1:{port}']\n  names: [{NAME}]\n  timeout: 0.5\n"


def ramp_of(path, layer: str):
    snap = Snapshot.load(str(path))
    found = [r for r in snap.results if r.layer == layer and r.probe == "ramp"]
    assert len(found) == 1, [(r.layer, r.probe, r.target, r.status, r.error) for r in snap.results]
    return found[0]


def metric(result, name: str):
    return next(m for m in result.measurements if m.metric == name)


DNS_RAMP = """load:
  layers: [dns]
  step_duration: 0.5
  dns: {rates: [100, 200, 400, 800], slo_ms: 200}
"""
DNS_LOAD = "samples: 20\nspread: 0\n" + DNS_RAMP


def test_dns_capacity_falls_with_slow_answers_and_few_workers(triage, tmp_path):
    for label, profile in (("healthy", "healthy"), ("slow", "delay=2ms,overload=1")):
        with ServerProcess(profile, names=[NAME]) as server:
            (tmp_path / f"{label}.yaml").write_text(DNS_LOAD + dns_section(server.port))
            out = triage("probe", "--layers", "dns", "--load", "--config", f"{label}.yaml", "--label", label,
                         "--out", f"{label}.json", "-q")
        assert out.code == 0, out.stderr
    healthy = ramp_of(tmp_path / "healthy.json", "dns")
    assert healthy.target == "cluster-dns" and healthy.status == "ok", healthy.notes
    assert {m.metric for m in healthy.measurements} >= {"latency@100qps", "errors@100qps", "capacity"}
    assert metric(healthy, "latency@100qps").groups is not None  # grouped: the cluster-aware tests apply
    out = triage("compare", "healthy.json", "slow.json", "--format", "json")
    assert out.code == 3, out.stdout[-2000:]
    c = out.json()
    capacity = next(m for m in c["metrics"] if m["id"] == "dns.ramp.cluster-dns.capacity")
    assert capacity["verdict"] == "regressed", capacity["reason"]
    assert capacity["better"] == "higher" and capacity["unit"] == "q/s"
    dns = next(s for s in c["suspects"] if s["layer"] == "dns")
    assert dns["role"] == "root"
    assert dns["because"].startswith("dns capacity of cluster-dns fell from "), dns["because"]
    assert "(p99 SLO 200 ms" in dns["because"]


APP_RAMP = """targets:
  - {{name: registry, url: '{url}'}}
load:
  layers: [app]
  step_duration: 1.5
  timeout: 0.25
  app: {{rates: [150, 300, 600], slo_ms: 400}}
"""
APP_LOAD = "samples: 20\nspread: 0\n" + APP_RAMP


def test_app_capacity_falls_behind_a_lock_and_app_is_the_root(triage, tmp_path):
    import os
    import subprocess

    with ServerProcess("healthy", names=[NAME]) as dns:
        for label, locked in (("free", False), ("locked", True)):
            with lock_app(2.0, locked=locked) as url:
                (tmp_path / f"{label}.yaml").write_text(APP_LOAD.format(url=url) + dns_section(dns.port))
                # A process of its own, as `triage probe` runs: threads other tests left behind in
                # this one would share the generator's GIL and make its 600 req/s the generator's limit.
                run = subprocess.run([sys.executable, "-m", "triage", "probe", "--layers", "kernel,dns,app", "--load",
                                      "--config", f"{label}.yaml", "--label", label, "--out", f"{label}.json", "-q"],
                                     cwd=tmp_path, capture_output=True, text=True, env={**os.environ, "CI": "true"},
                                     timeout=300)
            assert run.returncode == 0, run.stderr
    out = triage("compare", "free.json", "locked.json", "--format", "json")
    assert out.code == 3, [ramp_of(tmp_path / f"{side}.json", "app").notes for side in ("free", "locked")]
    c = out.json()
    assert c["layers"]["app"] == "regressed"
    assert c["layers"]["dns"] == "ok" and c["layers"]["kernel"] == "ok", c["layer_notes"]
    capacity = next(m for m in c["metrics"] if m["id"] == "app.ramp.registry.capacity")
    assert capacity["verdict"] == "regressed", capacity["reason"]
    [app] = c["suspects"]
    assert app["layer"] == "app" and app["role"] == "root"
    assert app["because"].startswith("app capacity of registry fell from "), app["because"]
    assert app["because"].endswith("→ root suspect")


def test_a_generator_that_cannot_keep_up_is_reported_as_such_never_as_capacity(triage, tmp_path):
    # 100,000 req/s through requests in one Python process: no host of ours gets near it.
    with lock_app(0.0) as url:
        (tmp_path / "t.yaml").write_text(
            f"samples: 10\nspread: 0\ntargets:\n  - {{name: registry, url: '{url}', fanout: false}}\n"
            "load:\n  layers: [app]\n  step_duration: 0.5\n  max_requests: 20000\n  timeout: 0.5\n"
            "  app: {rates: [40, 100000], slo_ms: 500}\n")
        for label in ("a", "b"):
            out = triage("probe", "--layers", "app", "--load", "--config", "t.yaml", "--label", label,
                         "--out", f"{label}.json")
            assert out.code == 0, out.stderr
    ramp = ramp_of(tmp_path / "a.json", "app")
    info = ramp.extra["ramp"]
    assert isinstance(info["generator_limited_at"], float) and info["generator_limited_at"] < 100_000
    assert info["bound"] == "at least" and info["capacity"] == 40
    assert not any(m.metric.endswith("@100000rps") for m in ramp.measurements)  # that step is not recorded
    assert metric(ramp, "capacity").value == 40  # the last step the server held, a lower bound
    assert any(n.startswith("generator-limited at ") and " req/s (offered 100,000 req/s)" in n for n in ramp.notes)
    assert "generator-limited at " in out.stdout  # the probe's own table shows the ramp's notes
    out = triage("report", "a.json", "b.json", "-o", "r.md")
    assert out.code == 0, out.stderr
    report = (tmp_path / "r.md").read_text()
    section = report[report.index("## Load ramps"):report.index("## Metrics")]
    assert "generator-limited at " in section and "not the server" in section
    assert "capacity fell" not in report and "100,000 req/s (p99" not in report


def test_ctrl_c_stops_the_ramp_and_the_snapshot_keeps_the_steps_completed(tmp_path):
    import os
    import signal
    import subprocess
    import time

    with ServerProcess("healthy", names=[NAME]) as server:
        (tmp_path / "t.yaml").write_text("samples: 10\nspread: 0\n" + dns_section(server.port)
                                         + "load:\n  step_duration: 1\n  dns: {rates: [100, 110, 120]}\n")
        proc = subprocess.Popen([sys.executable, "-m", "triage", "probe", "--layers", "dns", "--load", "--config",
                                 "t.yaml", "--out", "run.json"], cwd=tmp_path, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True, env={**os.environ, "CI": "true"})
        # Wait for the condition "the second step is under way" (queries counted by the server),
        # not for a fixed time: the idle probe asks 20, the warm-up 1, the first step 100.
        give_up = time.monotonic() + 60
        while server.stats()["queries"] < 20 + 1 + 100 + 20 and time.monotonic() < give_up and proc.poll() is None:
            time.sleep(0.01)
        proc.send_signal(signal.SIGINT)
        stdout, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 0, stderr
    assert "load stopped by Ctrl-C" in stderr
    ramp = ramp_of(tmp_path / "run.json", "dns")
    assert ramp.extra["ramp"]["interrupted"] is True
    names = {m.metric for m in ramp.measurements}
    assert "latency@100qps" in names and "latency@120qps" not in names
    assert any("Ctrl-C" in n for n in ramp.notes)


def _own_address() -> str | None:
    """A non-loopback address of this host (a UDP connect sends nothing), or None."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        try:
            s.connect(("192.0.2.1", 9))
            address = s.getsockname()[0]
        except OSError:
            return None
    return None if address.startswith("127.") else address


SOCKET_EVENTS: list[tuple] = []


def _audit(event: str, args: tuple) -> None:
    if event in ("socket.connect", "socket.sendto", "socket.sendmsg") and SOCKET_EVENTS is not None:
        SOCKET_EVENTS.append((event, args[1] if len(args) > 1 else None))


def test_load_toward_a_non_loopback_host_is_refused_before_any_packet(triage, tmp_path):
    address = _own_address()
    if address is None:
        pytest.skip("this host has no non-loopback address to listen on")
    # Listeners of our own on that address: whatever reached them would wait in their queues.
    tcp = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    with tcp, udp:
        tcp.bind((address, 0))
        tcp.listen(16)
        udp.bind((address, 0))
        tcp.setblocking(False)
        udp.setblocking(False)
        (tmp_path / "t.yaml").write_text(
            f"targets:\n  - {{name: registry, url: 'http://{address}:{tcp.getsockname()[1]}/health'}}\n"
            f"dns:\n  resolvers: ['{address}:{udp.getsockname()[1]}']\n  names: [{NAME}]\n")
        sys.addaudithook(_audit)  # stays for the session; records only socket calls, cheaply
        SOCKET_EVENTS.clear()
        out = triage("probe", "--layers", "kernel,dns,app", "--load", "--config", "t.yaml", "--out", "s.json")
        events = list(SOCKET_EVENTS)
        assert out.code == 2, out.stderr
        assert f"--load: dns target {address}:{udp.getsockname()[1]}: host {address}: not a loopback address" \
            in out.stderr
        assert f"--allow-load {address}" in out.stderr
        with pytest.raises(BlockingIOError):
            tcp.accept()  # no connection was ever made to it
        with pytest.raises(BlockingIOError):
            udp.recv(512)  # no datagram ever reached it
    assert not [e for e in events if e[1] and address in str(e[1])], events
    assert not (tmp_path / "s.json").exists()
    out = triage("probe", "--load", "--allow-load", ",", "--layers", "app")
    assert out.code == 2 and "--allow-load: expected a comma list of hosts" in out.stderr


def test_bad_load_settings_are_refused_with_file_line_and_field(triage, tmp_path):
    cases = {"load:\n  step_duration: 0\n": "t.yaml:2: load.step_duration: expected a number 0.1-60",
             "load:\n  app: {rates: [100, 50]}\n": "t.yaml:2: load.app.rates[1]: expected steps in increasing order",
             "load:\n  dns: {rates: [200000]}\n": "load.dns.rates[0]: expected a number 0.1-100000",
             "load:\n  database: {clients: [1, 2.5]}\n": "load.database.clients[1]: expected an integer 1-256",
             "load:\n  errors_max: 2%\n  app: {stop: {errors: 1%}}\n": "load.app.stop.errors: expected at least errors_max",
             "load:\n  dns: {cache: [cold]}\n": "load.dns.cache[0]: expected hit or miss",
             "load:\n  ramps: 3\n": "load.ramps: unknown key"}
    for text, needle in cases.items():
        (tmp_path / "t.yaml").write_text(text)
        out = triage("probe", "--load", "--config", "t.yaml", "--layers", "app")
        assert out.code == 2 and needle in out.stderr, (text, out.stderr)


def test_the_snapshot_json_carries_the_ramp_and_loads_back(tmp_path, triage):
    with ServerProcess("healthy", names=[NAME]) as server:
        (tmp_path / "t.yaml").write_text("samples: 10\nspread: 0\n" + dns_section(server.port)
                                         + "load:\n  step_duration: 0.3\n  groups: 3\n  dns: {rates: [50, 100]}\n")
        out = triage("probe", "--layers", "dns", "--load", "--config", "t.yaml", "--format", "json")
    assert out.code == 0, out.stderr
    data = json.loads(out.stdout)
    [ramp] = [r for r in data["results"] if r["probe"] == "ramp"]
    steps = ramp["ramp"]["steps"]
    assert [s["offered"] for s in steps] == [50, 100]
    assert all({"achieved", "p99_ms", "lag_p99_ms", "generator_limited", "recorded"} <= set(s) for s in steps)
    latency = next(m for m in ramp["measurements"] if m["metric"] == "latency@50qps")
    assert latency["offered"] == 50 and sum(latency["groups"]) == len(latency["values"])
    capacity = next(m for m in ramp["measurements"] if m["metric"] == "capacity")
    assert capacity["better"] == "higher" and capacity["capacity"]["slo_ms"] >= 5  # the default floor
    assert Snapshot.from_json(out.stdout).to_json() == Snapshot.from_json(out.stdout).to_json()
