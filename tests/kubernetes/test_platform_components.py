"""kubernetes.platform_components against the local API server serving OpenShift's
ClusterVersion, ClusterOperators and the DNS, network and ingress operators' workloads (the
recorded objects in tests/fixtures/kubernetes/), and what `triage changes` makes of two runs."""

from __future__ import annotations

import json

from triage.config import Config
from triage.runner import RunOptions, run_probes

from . import kube_states as ks


def run(config: Config, label: str = "test"):
    return run_probes(config, RunOptions(layers=("kubernetes",), label=label))


def components(snapshot) -> tuple[str, dict]:
    (r,) = [r for r in snapshot.results if r.probe == "platform_components"]
    return r.status, {m.metric: m.value for m in r.measurements}


def test_openshift_components_are_read_whole(kube_server, kubeconfig):
    server = kube_server(ks.openshift("4.3.18"))
    status, got = components(run(ks.kube_config(kubeconfig(server))))
    assert status == "ok"
    assert got["desired_version"] == "4.3.18"
    assert got["desired_image"].endswith("@sha256:1f0fd38ac0640646ab8e7fec6821c8928341ad93ac5ca3a48c513ab1fb63bc4b")
    assert got["history"] == ["4.3.18 Completed 2020-05-20T13:21:09Z → 2020-05-20T14:12:01Z",
                              "4.3.10 Completed 2020-04-02T09:01:12Z → 2020-04-02T09:26:44Z"]
    assert set(got["cluster_operators"]) == {"dns", "network", "ingress", "kube-apiserver"}
    assert got["cluster_operators"]["dns"] == {"operator": "4.3.18", "coredns": ks.DNS_IMAGE_4318,
                                               "openshift-cli": ks.release_image("cli", "4.3.18")}
    assert got["cluster_operators"]["kube-apiserver"]["kube-apiserver"] == "1.16.2"
    assert set(got["images"]) == {"openshift-dns-operator/dns-operator", "openshift-dns/dns-default",
                                  "openshift-network-operator/network-operator", "openshift-sdn/sdn", "openshift-sdn/ovs",
                                  "openshift-ingress-operator/ingress-operator", "openshift-ingress/router-default"}
    assert got["images"]["openshift-dns/dns-default"]["dns"] == ks.DNS_IMAGE_4318
    assert set(got["images"]["openshift-dns/dns-default"]) == {"dns", "kube-rbac-proxy"}
    # Every namespace's workloads were listed, bounded like every other list.
    listed = {r["path"] for r in server.requests
              if r["path"].startswith("/apis/apps/v1/namespaces/") and r["path"].endswith(("/deployments", "/daemonsets"))}
    assert "/apis/apps/v1/namespaces/openshift-ovn-kubernetes/daemonsets" in listed and len(listed) == 16
    assert {r["query"].get("limit") for r in server.seen("/apis/config.openshift.io/v1/clusteroperators")} == {"500"}


def test_an_upgrade_lists_the_dns_operator_in_dns_the_rest_in_kubernetes(triage, kube_server, kubeconfig, tmp_path):
    for label in ("4.3.18", "4.3.19"):
        kc = kubeconfig(kube_server(ks.openshift(label)))
        done = triage("probe", "--layers", "kubernetes", "--kubeconfig", str(kc), "--label", "auto",
                      "--out", f"{label}.json", "--quiet", cwd=tmp_path)
        assert done.code == 0, done.stderr
    done = triage("changes", "4.3.18.json", "4.3.19.json", "--format", "json", cwd=tmp_path)
    assert done.code == 0, done.stderr
    out = json.loads(done.stdout)
    by_layer: dict[str, dict] = {}
    for c in out["changes"]:
        by_layer.setdefault(c["layer"], {})[c["name"]] = c
    assert out["layers"] == ["kernel", "dns", "kubernetes"]
    assert by_layer["dns"]["dns-default image"]["summary"] == "dns-default image changed"
    assert by_layer["dns"]["dns-default image"]["new"] == f"dns: {ks.DNS_IMAGE_4319}"
    assert by_layer["dns"]["dns operator"]["summary"] == "dns operator 4.3.18 → 4.3.19 (coredns, openshift-cli changed)"
    kube = by_layer["kubernetes"]
    assert kube["OpenShift"]["summary"] == "OpenShift 4.3.18 → 4.3.19 (1 new update history entry)"
    assert kube["OpenShift"]["entries"][0]["text"].startswith("4.3.19 Completed ")
    assert kube["container runtime"]["old"] == ks.CRIO[ks.KERNEL_4318]
    assert kube["node OS image"]["new"] == ks.OS_IMAGE[ks.KERNEL_4319]
    assert {"network operator", "ingress operator", "router-default image", "sdn image"} <= set(kube)
    assert set(by_layer["kernel"]) == {"node kernel", "ovs image"}
    assert by_layer["kernel"]["node kernel"]["summary"] == f"node kernel {ks.KERNEL_4318} → {ks.KERNEL_4319}"
    # cluster_dns saw the same image: one change, not two.
    assert not any(c["name"] == "cluster DNS image" for c in out["changes"])


def test_the_kubernetes_suspect_leads_with_its_own_layers_changes(triage, kube_server, kubeconfig, tmp_path):
    for label in ("4.3.18", "4.3.19"):
        kc = kubeconfig(kube_server(ks.openshift(label)))
        assert triage("probe", "--layers", "kubernetes", "--kubeconfig", str(kc), "--out", f"{label}.json",
                      "--quiet", "--samples", "10", cwd=tmp_path).code == 0
    out = json.loads(triage("compare", "4.3.18.json", "4.3.19.json", "--format", "json", cwd=tmp_path).stdout)
    suspect = next(s for s in out["suspects"] if s["layer"] == "kubernetes")
    first = suspect["evidence"][0]
    assert first["kind"] == "changed" and first["text"].startswith("in kubernetes: OpenShift 4.3.18 → 4.3.19")
    assert first["text"].endswith(" more")  # more than four changed: counted, listed by `triage changes`
    texts = [e["text"] for e in suspect["evidence"][1:]]
    assert not any("container_runtimes" in t or "os_images" in t for t in texts)  # named in the sentence already
    assert any("kernel_versions" in t for t in texts)  # the node kernel is the kernel layer's change


def test_plain_kubernetes_has_no_platform_components_and_uses_the_coredns_image(triage, kube_server, kubeconfig,
                                                                                  tmp_path):
    before = ks.plain_kubernetes()
    after = ks.plain_kubernetes()
    after.objects[("apis/apps/v1", "deployments")][0]["spec"]["template"]["spec"]["containers"][0]["image"] = \
        "k8s.gcr.io/coredns:1.7.0"
    snap = run(ks.kube_config(kubeconfig(kube_server(before))))
    status, _ = components(snap)
    (skipped,) = [r for r in snap.results if r.probe == "platform_components"]
    assert status == "skipped" and skipped.error.startswith("no ClusterVersion (plain Kubernetes, not OpenShift)")
    for name, state in (("a", before), ("b", after)):
        kc = kubeconfig(kube_server(state))
        assert triage("probe", "--layers", "kubernetes", "--kubeconfig", str(kc), "--out", f"{name}.json",
                      "--quiet", cwd=tmp_path).code == 0
    out = json.loads(triage("changes", "a.json", "b.json", "--format", "json", cwd=tmp_path).stdout)
    (change,) = out["changes"]
    assert (change["layer"], change["name"], change["old"], change["new"]) == (
        "dns", "cluster DNS image", "k8s.gcr.io/coredns:1.6.7", "k8s.gcr.io/coredns:1.7.0")


def test_403_on_clusteroperators_names_the_permission(kube_server, kubeconfig):
    state = ks.openshift("4.3.18")
    state.forbidden.add(("list", "clusteroperators"))
    (r,) = [r for r in run(ks.kube_config(kubeconfig(kube_server(state)))).results if r.probe == "platform_components"]
    assert r.status == "error"
    assert "'list' on 'clusteroperators.config.openshift.io' (cluster-scoped)" in r.error
