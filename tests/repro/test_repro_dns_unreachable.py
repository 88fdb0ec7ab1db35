"""An unreachable resolver is a clear result: every lookup counted as failed with its reason,
no latency of failed lookups presented as lookup time, and no crash (issue 10, item 6).

Nothing here leaves loopback: "nothing listening" is a loopback port we just released, and
"no route" is an address asked from inside a fresh network namespace, which has no route
to anywhere (not even lo, which starts down there)."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from triage.repro import netns
from triage.repro.dns_report import side_snapshot
from triage.repro.dns_repro import run_dns_repro
from triage.repro.dns_workload import WorkloadOptions

from tests.net_helpers import closed_udp_port

QUIET_LOOP = {"duration_s": 1.0, "rate": 50.0, "workers": 2, "pool_size": 2, "hold_ms": 0.0,
              "names": ("db.quay.svc",)}
NONE = {"p50": None, "p95": None, "p99": None, "max": None}
libc_ok, libc_reason = netns.available(net=False)
netns_ok, netns_reason = netns.available(net=True)


def assert_all_failed_at_once(summary: dict, reason_fragment: str) -> None:
    assert summary["lookups"] > 0 and summary["failures"] == summary["lookups"]
    assert summary["lookup_ms"] == NONE  # no successful lookup, so no lookup latency
    assert summary["timeouts"] == 0  # refused / unreachable is no wait
    assert summary["failed_lookup_ms"]["p50"] is not None
    assert summary["failed_lookup_ms"]["max"] < summary["resolver_timeout_ms"]
    [(reason, count)] = summary["failure_reasons"].items()
    assert reason_fragment in reason and count == summary["lookups"]


def test_wire_path_to_a_port_with_nothing_listening(tmp_path):
    options = WorkloadOptions(path="wire", resolver=f"127.0.0.1:{closed_udp_port()}", **QUIET_LOOP)
    report = run_dns_repro(["healthy"], options, save_dir=str(tmp_path))
    [summary] = report.to_json_dict()["sides"]
    assert_all_failed_at_once(summary, "Connection refused")
    assert summary["queries_per_lookup"] == 2.0  # the pair went out; ICMP said nobody is there
    snap = side_snapshot(report, report.sides[0])
    dns_result = snap.results[0]
    metrics = {m.metric: m for m in dns_result.measurements}
    assert "latency" not in metrics
    assert (metrics["failures"].events, metrics["failures"].trials) == (summary["lookups"], summary["lookups"])
    assert any("latency dropped: none of" in note for note in dns_result.notes)


@pytest.mark.skipif(not libc_ok, reason=f"libc path unavailable here: {libc_reason}")
def test_libc_path_to_a_resolver_with_nothing_listening(nothing_on_port53):
    options = WorkloadOptions(path="libc", resolver=nothing_on_port53, **QUIET_LOOP)
    report = run_dns_repro(["ndots=1,search=,attempts=1"], options)
    assert report.path == "libc"
    [summary] = report.to_json_dict()["sides"]
    assert_all_failed_at_once(summary, "name resolution")  # glibc only says EAI_AGAIN


@pytest.mark.skipif(not netns_ok, reason=f"no network namespace here: {netns_reason}")
def test_no_route_to_the_resolver_is_counted_not_a_crash():
    # In a fresh network namespace no address has a route: connect() fails with ENETUNREACH
    # at once, and nothing can be sent anywhere.
    command = [*netns._unshare_command(net=True), sys.executable, "-m", "triage", "repro", "dns", "--path", "wire",
               "--resolver", "192.0.2.53", "--names", "db.quay.svc", "--duration", "1", "--rate", "50",
               "--workers", "2", "--pool", "2", "--hold-ms", "0", "--format", "json"]
    done = subprocess.run(command, capture_output=True, text=True, timeout=120, env={**os.environ, "CI": "true"})
    assert done.returncode == 0, done.stderr
    [summary] = json.loads(done.stdout)["sides"]
    assert_all_failed_at_once(summary, "Network is unreachable")
    assert summary["queries_per_lookup"] == 0.0  # nothing was sent

