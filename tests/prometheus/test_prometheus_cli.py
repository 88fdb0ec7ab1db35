"""`triage probe/gate --from prometheus` as a user runs them (in-process), against the recorded history."""

from __future__ import annotations

import json

from tests.kubernetes.kube_states import with_history, write_kubeconfig
from tests.kubernetes.kubeapi_server import KubeApiServer

from . import history
from .auth_proxy import AuthProxy
from .prom_server import free_port


def test_gate_upgrade_window_exits_3_names_dns_and_prints_the_windows(triage, recorded, prom_config, tmp_path):
    with KubeApiServer(with_history(history.cluster_version_history())) as api:
        cfg = prom_config(recorded.url, kubeconfig=write_kubeconfig(tmp_path / "kubeconfig", api.url))
        r = triage("gate", "--from", "prometheus", "--window", "upgrade:4.3.19", "--config", str(cfg),
                       "--store", str(tmp_path / "store"), "--report", str(tmp_path / "report.md"), cwd=tmp_path)
    assert r.returncode == 3, r.stderr
    assert r.stdout.startswith("triage gate: regressed (root suspect: dns)")
    assert ("triage: window 4.3.18: 2020-05-27T08:00:00Z → 2020-05-27T10:00:00Z (2h; the last 2h of 4.3.18, up to "
            "the start of the rollout to 4.3.19)") in r.stderr
    assert ("triage: window 4.3.19: 2020-05-27T10:40:00Z → 2020-05-27T12:40:00Z (2h; the first 2h of 4.3.19, from "
            "its rollout's completion)") in r.stderr
    report = (tmp_path / "report.md").read_text()
    assert "dns regressed on 1 of 3 CoreDNS pods (dns-default-b); the others ruled out" in report
    assert "triage gate --from prometheus --window upgrade:4.3.19" in report


def test_probe_then_compare_two_healthy_windows_exits_0(triage, recorded, prom_config, tmp_path):
    cfg = prom_config(recorded.url)
    for name, window in (("a.json", "2020-05-27T06:00Z/2h"), ("b.json", "2020-05-27T08:00Z/2h")):
        r = triage("probe", "--from", "prometheus", "--window", window, "--config", str(cfg), "--out", name,
                       "--label", name[0], "--quiet", cwd=tmp_path)
        assert r.returncode == 0 and r.stdout == "" and r.stderr == "", r.stderr
    r = triage("compare", "a.json", "b.json", "--format", "json", cwd=tmp_path)
    assert r.returncode == 0, r.stdout[-500:]
    assert json.loads(r.stdout)["verdict"] == "ok"


def test_a_wrong_token_is_one_line_exit_2_and_no_token_anywhere(triage, recorded, prom_config, tmp_path):
    token = "sha256~cli-wr0ng-t0ken-5c1d9e8f7a6b"
    with AuthProxy(recorded.url, "the-right-one-000000000000", echo=True) as proxy:
        cfg = prom_config(proxy.url, f'  headers: {{Authorization: "Bearer {token}"}}\n')
        r = triage("probe", "--from", "prometheus", "--window", "2020-05-27T08:00Z/2h", "--config", str(cfg),
                       "--out", "s.json", cwd=tmp_path)
    assert r.returncode == 2 and r.stdout == ""
    assert r.stderr.count("\n") == 1 and r.stderr.startswith("triage: error: prometheus: ")
    assert f"{proxy.url}/api/v1/label/__name__/values: HTTP 401 Unauthorized" in r.stderr
    assert token not in r.stderr and "wr0ng" not in r.stderr and not (tmp_path / "s.json").exists()


def test_an_unreachable_prometheus_still_writes_the_snapshot_and_exits_0(triage, prom_config, tmp_path):
    cfg = prom_config(f"http://127.0.0.1:{free_port()}", queries=False)
    r = triage("probe", "--from", "prometheus", "--window", "2020-05-27T08:00Z/1h", "--config", str(cfg),
                   "--out", "s.json", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    snap = json.loads((tmp_path / "s.json").read_text())
    assert {x["status"] for x in snap["results"]} == {"error"}
    assert "triage: kernel.netstat: error: cannot read Prometheus: http://127.0.0.1:" in r.stderr
    r = triage("compare", "s.json", "s.json", cwd=tmp_path)
    assert r.returncode == 4  # never ok by omission


def test_window_without_from_prometheus_and_bad_windows_are_exit_2(triage, tmp_path, prom_config):
    cfg = prom_config("http://127.0.0.1:9")
    r = triage("probe", "--window", "1h", "--config", str(cfg), cwd=tmp_path)
    assert r.returncode == 2 and "--window/--before-upgrade: only with --from prometheus" in r.stderr
    r = triage("probe", "--from", "prometheus", "--window", "2020-05-27T08:00/2h", "--config", str(cfg), cwd=tmp_path)
    assert r.returncode == 2 and "--window: expected an ISO 8601 time with a zone" in r.stderr
    r = triage("gate", "--from", "prometheus", "--window", "1h", "--config", str(cfg), cwd=tmp_path)
    assert r.returncode == 2 and "--baseline: required, unless --window upgrade:VERSION" in r.stderr
    r = triage("probe", "--from", "prometheus", "--window", "upgrade:4.3.19", "--config", str(cfg), cwd=tmp_path,
                   drop=("KUBECONFIG",))
    assert r.returncode == 2 and "needs the cluster's ClusterVersion" in r.stderr
