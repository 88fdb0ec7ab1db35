"""The kubernetes probes end to end: the official client, configured from a real kubeconfig
file, against a local server speaking the Kubernetes API (kubeapi_server.py)."""

from __future__ import annotations

import socket
import sys
from pathlib import Path

import pytest

from triage.judge import compare_snapshots
from triage.config import Config
from triage.errors import BadInput
from triage.kube_client import NO_KUBECONFIG, Api, Unreachable, client_for
from triage.labels import auto_label
from triage.runner import RunOptions, run_probes

from . import kube_states as ks


def run(config: Config, label: str = "test"):
    return run_probes(config, RunOptions(layers=("kubernetes",), label=label))


def result(snapshot, probe: str, target: str = "cluster"):
    matches = [r for r in snapshot.results if r.probe == probe and r.target == target]
    assert len(matches) == 1, [(r.probe, r.target) for r in snapshot.results]
    return matches[0]


def facts(r) -> dict:
    return {m.metric: m.value for m in r.measurements if m.kind in ("fact", "gauge")}


def test_openshift_cluster_every_probe_measures(kube_server, kubeconfig):
    server = kube_server(ks.openshift("4.3.18"))
    snapshot = run(ks.kube_config(kubeconfig(server)))
    assert {r.status for r in snapshot.results} == {"ok"}, [(r.probe, r.error) for r in snapshot.results]
    assert auto_label(snapshot) == "4.3.18"

    nodes = facts(result(snapshot, "nodes"))
    assert nodes["nodes"] == 3 and nodes["not_ready"] == 0 and nodes["disk_pressure"] == 0
    assert nodes["kernel_versions"] == ks.KERNEL_4318
    assert nodes[f"kernel_version[{ks.NODE_NAMES[2]}]"] == ks.KERNEL_4318

    work = facts(result(snapshot, "workloads", "quay"))
    assert work == {"pods": 4, "restarts": 1, "not_ready_pods": 0, "crashloop_backoff": 0, "oom_killed": 0}

    events = facts(result(snapshot, "warning_events"))
    assert events["warnings[BackOff]"] == 3 and events["warnings[Unhealthy]"] == 5
    assert events["warnings[FailedMount]"] == 0  # two hours old: outside the window
    assert events["warnings"] == 8

    dns = facts(result(snapshot, "cluster_dns"))
    assert dns["provider"] == "openshift-dns-operator" and dns["pods_ready"] == 3 and dns["pods_not_ready"] == 0
    assert dns["service_ip"] == "172.30.0.10" and dns["forward"] == ". /etc/resolv.conf {policy sequential}"
    assert dns["image"] == ks.DNS_IMAGE_4318

    platform = facts(result(snapshot, "platform_version"))
    assert platform["platform"] == "OpenShift" and platform["kubernetes_version"] == "v1.16.2"

    for target in ("/version", "/readyz", "/api/v1/namespaces/quay/pods?limit=50"):
        latency = result(snapshot, "api_latency", target)
        samples = next(m for m in latency.measurements if m.metric == "latency")
        errors = next(m for m in latency.measurements if m.metric == "errors")
        assert len(samples.values) == 5 and all(v > 0 for v in samples.values)
        assert (errors.events, errors.trials) == (0, 5)

    # Every request carried the kubeconfig's token, lists were bounded.
    assert server.requests and all(r["authorized"] for r in server.requests)
    assert {r["query"].get("limit") for r in server.seen("/api/v1/namespaces/quay/pods")} == {"50", "500"}
    assert [r["query"].get("fieldSelector") for r in server.seen("/api/v1/events")] == ["type=Warning"]


def test_upgrade_with_more_restarts_a_notready_node_and_a_new_kernel_flags_kubernetes(kube_server, kubeconfig):
    before = run(ks.kube_config(kubeconfig(kube_server(ks.openshift("4.3.18"))), samples=10), label="auto")
    after = run(ks.kube_config(kubeconfig(kube_server(ks.openshift("4.3.19"))), samples=10), label="auto")
    assert (auto_label(before), auto_label(after)) == ("4.3.18", "4.3.19")
    nodes = facts(result(after, "nodes"))
    assert nodes["not_ready"] == 1 and nodes["kernel_versions"] == ks.KERNEL_4319
    assert facts(result(after, "workloads", "quay"))["restarts"] == 10

    comparison = compare_snapshots([before], [after])
    assert comparison.layers["kubernetes"] == "regressed"
    suspect = next(s for s in comparison.suspects if s.layer == "kubernetes")
    evidence = {e.metric: e for e in suspect.evidence}
    kernel = evidence["kubernetes.nodes.cluster.kernel_versions"]
    assert kernel.kind == "changed" and ks.KERNEL_4318 in kernel.text and ks.KERNEL_4319 in kernel.text
    # Per-node facts are listed in full in the comparison; the suspect's evidence is capped.
    per_node = next(m for m in comparison.metrics
                    if m.id == f"kubernetes.nodes.cluster.kernel_version[{ks.NODE_NAMES[0]}]")
    assert per_node.verdict == "changed"
    regressed = {m.id for m in comparison.metrics if m.verdict == "regressed"}
    assert {"kubernetes.nodes.cluster.not_ready", "kubernetes.workloads.quay.restarts"} <= regressed


def test_403_on_nodes_errors_with_the_rbac_hint_and_the_other_probes_still_run(kube_server, kubeconfig):
    state = ks.openshift("4.3.18")
    state.forbidden.add(("list", "nodes"))
    snapshot = run(ks.kube_config(kubeconfig(kube_server(state))))
    nodes = result(snapshot, "nodes")
    assert nodes.status == "error"
    assert nodes.error == ("Forbidden: needs 'list' on 'nodes' (cluster-scoped); grant a ClusterRole with nodes "
                           "list (HTTP 403 as user system:serviceaccount:quay:triage)")
    others = [r for r in snapshot.results if r.probe != "nodes"]
    assert len(others) == 8 and {r.status for r in others} == {"ok"}


def test_403_on_clusterversion_names_the_openshift_permission(kube_server, kubeconfig):
    state = ks.openshift("4.3.18")
    state.forbidden.add(("get", "clusterversions"))
    r = result(run(ks.kube_config(kubeconfig(kube_server(state)))), "platform_version")
    assert r.status == "error"
    assert "'get' on 'clusterversions.config.openshift.io' (cluster-scoped)" in r.error


def test_refused_credentials_error_without_showing_any_token(kube_server, kubeconfig):
    wrong = "sha256~WRONG-token-also-secret"
    server = kube_server(ks.openshift("4.3.18"))
    path = kubeconfig(server, token=wrong)
    snapshot = run(ks.kube_config(path))
    assert {r.status for r in snapshot.results} == {"error"}
    assert all(r.error.startswith("Unauthorized: the API server refused the credentials of context 'staging'")
               for r in snapshot.results if r.probe != "api_latency")
    text = snapshot.to_json()
    assert wrong not in text and ks.TOKEN not in text and "WRONG" not in text
    assert str(path) in text  # which kubeconfig is named, its secrets are not


def test_no_token_reaches_a_snapshot_on_success_either(kube_server, kubeconfig):
    snapshot = run(ks.kube_config(kubeconfig(kube_server(ks.openshift("4.3.19")))))
    assert ks.TOKEN not in snapshot.to_json() and "s3cr3t" not in snapshot.to_json()


def test_plain_kubernetes_falls_back_to_gitversion_and_coredns(kube_server, kubeconfig):
    snapshot = run(ks.kube_config(kubeconfig(kube_server(ks.plain_kubernetes()))))
    platform = result(snapshot, "platform_version")
    assert platform.status == "ok"
    assert facts(platform) == {"kubernetes_version": "v1.18.2", "platform": "Kubernetes", "platform_version": "v1.18.2"}
    assert platform.notes == ("platform_version: no ClusterVersion (plain Kubernetes, not OpenShift); "
                              "using /version gitVersion",)
    assert auto_label(snapshot) == "v1.18.2"
    dns = facts(result(snapshot, "cluster_dns"))
    assert dns["provider"] == "coredns" and dns["service_ip"] == "10.96.0.10"
    assert dns["image"] == "k8s.gcr.io/coredns:1.6.7" and dns["pods_ready"] == 1 and dns["forward"] == ". /etc/resolv.conf"
    assert facts(result(snapshot, "nodes"))["kernel_versions"] == "5.4.0-31-generic"


def test_no_cluster_dns_at_all_is_skipped_with_the_reason(kube_server, kubeconfig):
    state = ks.plain_kubernetes()
    del state.objects[("api/v1", "configmaps")], state.objects[("api/v1", "services")]
    state.objects[("api/v1", "pods")] = [p for p in state.objects[("api/v1", "pods")]
                                         if p["metadata"]["namespace"] != "kube-system"]
    r = result(run(ks.kube_config(kubeconfig(kube_server(state)))), "cluster_dns")
    assert r.status == "skipped" and r.error.startswith("no cluster DNS found: no pods k8s-app=kube-dns")


def test_without_a_kubeconfig_the_layer_is_skipped_with_the_reason(monkeypatch):
    monkeypatch.delenv("KUBECONFIG", raising=False)
    snapshot = run(Config())
    assert len(snapshot.results) == 7
    assert {(r.status, r.error) for r in snapshot.results} == {("skipped", NO_KUBECONFIG)}
    with pytest.raises(BadInput, match=r"--label auto: no platform version found .*no kubeconfig"):
        auto_label(snapshot)


def test_KUBECONFIG_turns_the_layer_on_and_no_namespaces_skips_workloads(kube_server, kubeconfig, monkeypatch):
    monkeypatch.setenv("KUBECONFIG", str(kubeconfig(kube_server(ks.openshift("4.3.19")))))
    snapshot = run(Config(samples=3))
    assert auto_label(snapshot) == "4.3.19"
    workloads = result(snapshot, "workloads", "local")
    assert workloads.status == "skipped" and workloads.error.startswith("no namespaces: set kubernetes.namespaces")
    latency = [r for r in snapshot.results if r.probe == "api_latency"]
    assert [r.target for r in latency] == ["/version", "/readyz", "/api/v1/namespaces/kube-system/pods?limit=50"]


def test_the_context_picks_the_cluster(kube_server, kubeconfig):
    path = kubeconfig(kube_server(ks.openshift("4.3.18")))
    good = run(ks.kube_config(path, context="staging"))
    assert result(good, "platform_version").status == "ok"
    other = result(run(ks.kube_config(path, context="other")), "platform_version")
    assert other.status == "error" and other.error.startswith("Unreachable: cannot reach the API server at http://127.0.0.1:9")
    missing = result(run(ks.kube_config(path, context="nope")), "platform_version")
    assert missing.status == "error" and "KubeConfigError: kubeconfig" in missing.error and "nope" in missing.error


def test_readyz_failing_is_an_error_rate_not_a_crash(kube_server, kubeconfig):
    state = ks.openshift("4.3.18")
    state.readyz_ok = False
    r = result(run(ks.kube_config(kubeconfig(kube_server(state)))), "api_latency", "/readyz")
    assert r.status == "ok"
    errors = next(m for m in r.measurements if m.metric == "errors")
    assert (errors.events, errors.trials) == (5, 5)


def test_an_api_server_without_readyz_skips_that_latency_target_only(kube_server, kubeconfig):
    state = ks.plain_kubernetes()
    state.serves_readyz = False
    snapshot = run(ks.kube_config(kubeconfig(kube_server(state))))
    readyz = result(snapshot, "api_latency", "/readyz")
    assert (readyz.status, readyz.error) == ("skipped", "GET /readyz: not served by this API server (HTTP 404)")
    assert result(snapshot, "api_latency", "/version").status == "ok"


def test_a_namespace_without_pods_is_noted(kube_server, kubeconfig):
    snapshot = run(ks.kube_config(kubeconfig(kube_server(ks.plain_kubernetes())), namespaces=("quay", "qauy")))
    typo = result(snapshot, "workloads", "qauy")
    assert typo.status == "ok" and facts(typo)["pods"] == 0
    assert typo.notes == ("workloads: no pods in namespace qauy (does it exist?)",)
    assert result(snapshot, "workloads", "quay").notes == ()


def test_exec_credential_plugin_runs_once_per_run(kube_server, kubeconfig, tmp_path):
    counter = tmp_path / "exec-runs"
    plugin = tmp_path / "credential_plugin.py"
    plugin.write_text(
        "import json, sys\n"
        f"open({str(counter)!r}, 'a').write('x')\n"
        "print(json.dumps({'apiVersion': 'client.authentication.k8s.io/v1beta1', 'kind': 'ExecCredential',\n"
        f"                  'status': {{'token': {ks.TOKEN!r}}}}}))\n")
    server = kube_server(ks.openshift("4.3.19"))
    snapshot = run(ks.kube_config(kubeconfig(server, token=None, exec_command=[sys.executable, str(plugin)])))
    assert {r.status for r in snapshot.results} == {"ok"}, [(r.probe, r.error) for r in snapshot.results]
    assert auto_label(snapshot) == "4.3.19"
    assert counter.read_text() == "x"  # one client for the whole run
    assert ks.TOKEN not in snapshot.to_json()


def test_https_with_the_cluster_ca_from_the_kubeconfig(kube_server, kubeconfig, self_signed_cert):
    cert, _key = self_signed_cert
    server = kube_server(ks.openshift("4.3.18"), tls=self_signed_cert)
    assert server.url.startswith("https://")
    trusted = run(ks.kube_config(kubeconfig(server, ca_pem=Path(cert).read_bytes())))
    assert {r.status for r in trusted.results} == {"ok"} and auto_label(trusted) == "4.3.18"
    untrusted = result(run(ks.kube_config(kubeconfig(server))), "platform_version")
    assert untrusted.status == "error" and untrusted.error.startswith("Unreachable: cannot reach the API server at https://")


def test_a_server_that_never_answers_is_bounded_by_the_timeout(tmp_path):
    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen(8)  # accepts connections into the backlog, never reads or answers
    try:
        url = f"http://127.0.0.1:{silent.getsockname()[1]}"
        config = ks.kube_config(ks.write_kubeconfig(tmp_path / "kc", url), timeout_s=0.2)
        with pytest.raises(Unreachable, match=r"no answer from http://127\.0\.0\.1:\d+ within 0\.2s \(GET /version\)"):
            client_for(config.kubernetes).get(Api(url="/version"))
    finally:
        silent.close()


def test_a_server_that_is_down_makes_every_probe_an_error_and_the_run_goes_on(tmp_path):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # closed when the block ends: nothing listens there
    snapshot = run(ks.kube_config(ks.write_kubeconfig(tmp_path / "kc", f"http://127.0.0.1:{port}")))
    assert len(snapshot.results) == 9 and {r.status for r in snapshot.results} == {"error"}
    assert all(f"cannot reach the API server at http://127.0.0.1:{port}" in r.error for r in snapshot.results)


def test_lists_are_read_in_pages_and_bounded(kube_server, kubeconfig):
    server = kube_server(ks.openshift("4.3.18"))
    client = client_for(ks.kube_config(kubeconfig(server)).kubernetes)
    nodes = Api("nodes", "list", namespaced=False)
    names = [n["metadata"]["name"] for n in client.pages(nodes, page_size=2)]
    assert names == list(ks.NODE_NAMES)
    pages = server.seen("/api/v1/nodes")
    assert [p["query"].get("limit") for p in pages] == ["2", "2"] and "continue" in pages[1]["query"]
    items, truncated = client.list(nodes, max_items=2)
    assert len(items) == 2 and truncated
    items, truncated = client.list(nodes, max_items=3)
    assert len(items) == 3 and not truncated


def test_api_latency_takes_each_group_on_a_new_connection_after_a_warm_up(kube_server, kubeconfig):
    import dataclasses

    from triage.probes import all_probes

    server = kube_server(ks.openshift("4.3.18"))
    base = ks.kube_config(kubeconfig(server), samples=6)
    config = dataclasses.replace(base, kubernetes=dataclasses.replace(base.kubernetes, groups=3))
    latency_spec = next(s for s in all_probes(["kubernetes"]) if s.name == "api_latency")
    snapshot = run_probes(config, RunOptions(layers=("kubernetes",)), specs=[latency_spec])
    version = result(snapshot, "api_latency", "/version")
    samples = next(m for m in version.measurements if m.metric == "latency")
    errors = next(m for m in version.measurements if m.metric == "errors")
    assert samples.groups == (2, 2, 2) and (errors.events, errors.trials) == (0, 6)
    # Three groups of a warm-up and two samples: each group's requests share one connection,
    # and each group has its own.
    ports = [r["port"] for r in server.seen("/version")]
    assert len(ports) == 9
    assert [len(set(ports[i:i + 3])) for i in (0, 3, 6)] == [1, 1, 1]
    assert len({ports[0], ports[3], ports[6]}) == 3
