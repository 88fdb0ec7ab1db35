"""The kubernetes probes' pure parsers on recorded API objects (tests/fixtures/kubernetes/)."""

from __future__ import annotations

import pytest

from triage.probes.kubernetes import (COREDNS, NOT_SET, OPENSHIFT_DNS, corefile_facts, dns_measurements,
                               node_measurements, parse_corefile, parse_timestamp, platform_measurements,
                               pod_measurements, warning_measurements)
from triage.kube_client import Api, Forbidden, NotFound, Unauthorized, error_for

from .kube_states import FIXTURES, load


def values(measurements) -> dict:
    return {m.metric: (m.value if m.kind in ("gauge", "fact") else m) for m in measurements}


def test_nodes_count_conditions_and_report_versions_per_node_and_cluster_wide():
    ready, not_ready = load("node-worker-rhcos"), load("node-notready")
    got = values(node_measurements([ready, not_ready]))
    assert got["nodes"] == 2
    assert got["not_ready"] == 1  # Ready=Unknown counts: the kubelet stopped reporting
    assert got["disk_pressure"] == 1 and got["memory_pressure"] == 0 and got["pid_pressure"] == 0
    assert got["network_unavailable"] == 0 and got["unschedulable"] == 1
    assert got["kernel_version[ip-10-0-141-12.ec2.internal]"] == "4.18.0-147.8.1.el8_1.x86_64"
    assert got["kernel_version[ip-10-0-150-7.ec2.internal]"] == "4.18.0-147.13.2.el8_1.x86_64"
    assert got["kernel_versions"] == "4.18.0-147.13.2.el8_1.x86_64, 4.18.0-147.8.1.el8_1.x86_64"
    assert got["kubelet_versions"] == "v1.16.2"
    assert got["container_runtime[ip-10-0-141-12.ec2.internal]"] == "cri-o://1.16.6-6.rhaos4.3.git9d8d7d9.el8"
    assert got["os_image[ip-10-0-150-7.ec2.internal]"].startswith("Red Hat Enterprise Linux CoreOS 43.81.202005200338")
    kinds = {m.metric: (m.kind, m.better) for m in node_measurements([ready])}
    assert kinds["not_ready"] == ("gauge", "lower") and kinds["nodes"] == ("gauge", "higher")
    assert kinds["kernel_versions"] == ("fact", "equal")


def test_pods_restarts_not_ready_crashloop_and_oomkilled():
    pods = [load("pod-running"), load("pod-crashloop-oomkilled"), load("pod-job-succeeded")]
    got = values(pod_measurements(pods))
    assert got == {"restarts": 1 + 7 + 0, "not_ready_pods": 1, "crashloop_backoff": 1, "oom_killed": 1}


def test_a_completed_job_pod_is_not_counted_as_not_ready():
    assert values(pod_measurements([load("pod-job-succeeded")]))["not_ready_pods"] == 0


def test_warning_events_in_the_window_by_reason_with_counts_and_series():
    backoff = load("event-backoff-warning")  # count 42, last seen 10:41:17
    series = load("event-dnsconfigforming-series")  # series.count 5, last observed 10:40:01
    normal = load("event-normal-pulled")
    now = parse_timestamp("2020-05-27T10:45:00Z")
    got = values(warning_measurements([backoff, series, normal], now=now))
    assert got["warnings[BackOff]"] == 42
    assert got["warnings[DNSConfigForming]"] == 5
    assert got["warnings"] == 47
    assert "warnings[Pulled]" not in got  # Normal events are not warnings
    assert got["warnings[FailedScheduling]"] == 0  # common reasons are always present
    later = values(warning_measurements([backoff, series], now=now + 2 * 3600))
    assert later["warnings"] == 0  # both fell out of the one-hour window


def test_timestamps_parse_with_fractions_and_offsets():
    assert parse_timestamp("1970-01-01T00:01:00Z") == 60
    assert parse_timestamp("1970-01-01T01:01:00.5+01:00") == 60
    assert parse_timestamp(None) is None and parse_timestamp("yesterday") is None


def test_openshift_corefile_settings_and_digest():
    corefile = load("configmap-dns-default")["data"]["Corefile"]
    got = values(corefile_facts(corefile))
    assert got["forward"] == ". /etc/resolv.conf {policy sequential}"
    assert got["cache"] == "30"
    assert got["bufsize"] == NOT_SET
    assert got["zones"] == ".:5353"
    assert len(got["corefile_sha256"]) == 16
    changed = values(corefile_facts(corefile.replace("    errors\n", "    bufsize 512\n    errors\n")))
    assert changed["bufsize"] == "512" and changed["corefile_sha256"] != got["corefile_sha256"]


def test_corefile_with_several_server_blocks_and_one_line_blocks():
    text = """# managed by the operator
.:5353 {
    bufsize 512
    forward . /etc/resolv.conf {
        policy sequential
    }
    cache 900 {
        denial 9984 30
    }
}
example.com:5353 {
    forward . 10.0.0.2 10.0.0.3 { policy random }
}
"""
    blocks = parse_corefile(text)
    assert [b.keys for b in blocks] == [(".:5353",), ("example.com:5353",)]
    got = values(corefile_facts(text))
    assert got["cache"] == "900 {denial 9984 30}"
    assert got["bufsize"] == "512"
    assert got["forward[example.com:5353]"] == ". 10.0.0.2 10.0.0.3 {policy random}"
    assert "cache[example.com:5353]" not in got  # only settings a block has


def test_coredns_corefile_of_kubeadm():
    got = values(corefile_facts(load("configmap-coredns")["data"]["Corefile"]))
    assert got["forward"] == ". /etc/resolv.conf" and got["cache"] == "30" and got["zones"] == ".:53"


def test_dns_measurements_of_openshift_and_coredns():
    pods = [load("pod-dns-default")]
    got, notes = dns_measurements(OPENSHIFT_DNS, pods, load("configmap-dns-default"), load("service-dns-default"),
                                  load("daemonset-dns-default"))
    got = values(got)
    assert notes == []
    assert got["provider"] == "openshift-dns-operator"
    assert (got["pods"], got["pods_ready"], got["pods_not_ready"]) == (1, 1, 0)
    assert got["service_ip"] == "172.30.0.10"
    assert got["image"].startswith("quay.io/openshift-release-dev/ocp-v4.0-art-dev@sha256:8f3b9b3b")
    got, notes = dns_measurements(COREDNS, [load("pod-coredns")], None, load("service-kube-dns"),
                                  load("deployment-coredns"))
    got = values(got)
    assert got["service_ip"] == "10.96.0.10" and got["image"] == "k8s.gcr.io/coredns:1.6.7"
    assert "corefile_sha256" not in got
    assert notes == ["cluster_dns: no ConfigMap kube-system/coredns; Corefile facts dropped"]


def test_platform_version_prefers_clusterversion_desired_version():
    got = values(platform_measurements(load("version-ocp-4.3"), load("clusterversion-4.3.18")))
    assert got == {"kubernetes_version": "v1.16.2", "platform": "OpenShift", "platform_version": "4.3.18",
                   "update_state": "Completed", "channel": "stable-4.3"}
    plain = values(platform_measurements(load("version-k8s-1.18"), None))
    assert plain == {"kubernetes_version": "v1.18.2", "platform": "Kubernetes", "platform_version": "v1.18.2"}


@pytest.mark.parametrize("api, expected", [
    (Api("nodes", "list", namespaced=False),
     "'list' on 'nodes' (cluster-scoped); grant a ClusterRole with nodes list"),
    (Api("pods", "list", namespace="quay"),
     "'list' on 'pods' in namespace 'quay'; grant a Role in quay (or a ClusterRole) with pods list"),
    (Api("events", "list"), "'list' on 'events' in all namespaces; grant a ClusterRole with events list"),
    (Api("clusterversions", group="config.openshift.io", name="version", namespaced=False),
     "'get' on 'clusterversions.config.openshift.io' (cluster-scoped); grant a ClusterRole with "
     "clusterversions get in apiGroup config.openshift.io"),
    (Api(url="/readyz"), "'get' on non-resource URL '/readyz'; grant a ClusterRole with nonResourceURLs "
                         "['/readyz'] verbs [get] (system:public-info-viewer has it)"),
])
def test_rbac_hints_name_the_missing_permission(api, expected):
    assert api.permission() == expected


def test_api_paths():
    assert Api("nodes", "list", namespaced=False).path == "/api/v1/nodes"
    assert Api("daemonsets", group="apps", namespace="openshift-dns", name="dns-default").path == \
        "/apis/apps/v1/namespaces/openshift-dns/daemonsets/dns-default"
    assert Api("clusterversions", group="config.openshift.io", name="version", namespaced=False).path == \
        "/apis/config.openshift.io/v1/clusterversions/version"


def test_recorded_forbidden_status_becomes_the_rbac_hint_with_the_user():
    body = (FIXTURES / "status-forbidden-nodes.json").read_bytes()
    err = error_for(403, body, Api("nodes", "list", namespaced=False), "context 'staging'")
    assert isinstance(err, Forbidden)
    assert str(err) == ("needs 'list' on 'nodes' (cluster-scoped); grant a ClusterRole with nodes list "
                        "(HTTP 403 as user system:serviceaccount:quay:triage)")
    assert isinstance(error_for(404, b"", Api(url="/x"), "s"), NotFound)
    unauthorized = error_for(401, b'{"message":"Unauthorized"}', Api(url="/version"), "context 'staging' of /k")
    assert isinstance(unauthorized, Unauthorized) and "context 'staging' of /k" in str(unauthorized)
