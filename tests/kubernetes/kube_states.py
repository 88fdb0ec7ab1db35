"""Cluster states for the fake API server, built from the recorded objects in
tests/fixtures/kubernetes/: an OpenShift 4.3.18 cluster, the same cluster after the upgrade to
4.3.19 (new kernel, a NotReady node, a crash-looping OOMKilled pod, more restarts) and a plain
Kubernetes cluster with CoreDNS."""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import json
import time
from pathlib import Path

import yaml

from .kubeapi_server import ClusterState

from triage.config import Config, KubernetesConfig

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "kubernetes"

KERNEL_4318 = "4.18.0-147.8.1.el8_1.x86_64"
KERNEL_4319 = "4.18.0-147.13.2.el8_1.x86_64"
NODE_NAMES = ("ip-10-0-131-5.ec2.internal", "ip-10-0-141-12.ec2.internal", "ip-10-0-150-7.ec2.internal")
TOKEN = "sha256~s3cr3t-T0KEN-never-in-snapshots"
DNS_IMAGE_4318 = "quay.io/openshift-release-dev/ocp-v4.0-art-dev@sha256:8f3b9b3b0b5c1e4e"
DNS_IMAGE_4319 = "quay.io/openshift-release-dev/ocp-v4.0-art-dev@sha256:3e2d1c0b9a8f7e6d"


def load(name: str) -> dict:
    return json.loads((FIXTURES / f"{name}.json").read_text())


def _ago(seconds: float) -> str:
    moment = dt.datetime.fromtimestamp(time.time() - seconds, dt.timezone.utc)
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


OS_IMAGE = {KERNEL_4318: "Red Hat Enterprise Linux CoreOS 43.81.202005080540.0 (Ootpa)",
            KERNEL_4319: "Red Hat Enterprise Linux CoreOS 43.81.202005200338.0 (Ootpa)"}
CRIO = {KERNEL_4318: "cri-o://1.16.6-6.rhaos4.3.git9d8d7d9.el8", KERNEL_4319: "cri-o://1.16.6-12.rhaos4.3.git7a1f4c0.el8"}


def node(name: str, kernel: str, ready: bool = True) -> dict:
    """A worker node (the recorded NotReady one when not ready) running ``kernel``."""
    obj = load("node-worker-rhcos" if ready else "node-notready")
    obj["metadata"]["name"] = name
    info = obj["status"]["nodeInfo"]
    info["kernelVersion"] = kernel
    info["osImage"] = OS_IMAGE.get(kernel, "Ubuntu 19.10")
    info["containerRuntimeVersion"] = CRIO.get(kernel, "containerd://1.3.3-14-g449e9269")
    return obj


def app_pod(name: str, restarts: int, crashloop: bool = False) -> dict:
    obj = load("pod-crashloop-oomkilled" if crashloop else "pod-running")
    obj["metadata"]["name"] = name
    obj["status"]["containerStatuses"][0]["restartCount"] = restarts
    return obj


def dns_pod(name: str, image: str, ready: bool = True, restarts: int = 0) -> dict:
    obj = load("pod-dns-default")
    obj["metadata"]["name"] = name
    obj["status"]["containerStatuses"][0]["image"] = image
    obj["status"]["containerStatuses"][0]["restartCount"] = restarts
    if not ready:
        for cond in obj["status"]["conditions"]:
            if cond["type"] in ("Ready", "ContainersReady"):
                cond.update(status="False", reason="ContainersNotReady", message="containers with unready status: [dns]")
        obj["status"]["containerStatuses"][0]["ready"] = False
    return obj


def warning(reason: str, count: int, seconds_ago: float, namespace: str = "quay") -> dict:
    obj = load("event-backoff-warning")
    obj["metadata"]["name"] = f"quay-app.{reason.lower()}.{count}.{int(seconds_ago)}"
    obj["metadata"]["namespace"] = namespace
    obj.update(reason=reason, count=count, lastTimestamp=_ago(seconds_ago), firstTimestamp=_ago(seconds_ago + 600))
    return obj


def cluster_version(version: str) -> dict:
    obj = load("clusterversion-4.3.18")
    if version != "4.3.18":
        # The release image of the update the 4.3.18 cluster was offered (status.availableUpdates).
        image = next((u["image"] for u in obj["status"]["availableUpdates"] if u["version"] == version),
                     obj["status"]["desired"]["image"])
        obj["status"]["desired"].update(version=version, image=image)
        entry = dict(obj["status"]["history"][0], version=version, image=image, startedTime=_ago(7200),
                     completionTime=_ago(3600))
        obj["status"]["history"].insert(0, entry)
    return obj


# The images a release replaces, by the name their recorded digest was made from
# (tests/fixtures/kubernetes/*operator*.json, daemonset-sdn/ovs): 4.3.19 brings new builds of
# all but kube-rbac-proxy, as a z-stream release does.
RELEASE_IMAGES = ("cli", "router", "dns-operator", "cluster-network-operator", "sdn", "ingress-operator")
OPERATORS = ("clusteroperator-dns", "clusteroperator-network", "clusteroperator-ingress",
             "clusteroperator-kube-apiserver")
OPERATOR_WORKLOADS = (("deployments", "deployment-dns-operator"), ("deployments", "deployment-network-operator"),
                      ("daemonsets", "daemonset-sdn"), ("daemonsets", "daemonset-ovs"),
                      ("deployments", "deployment-ingress-operator"), ("deployments", "deployment-router-default"))


def release_image(name: str, version: str) -> str:
    return "quay.io/openshift-release-dev/ocp-v4.0-art-dev@sha256:" + hashlib.sha256(f"{name}-{version}".encode()).hexdigest()


def released(name: str, version: str, dns_image: str) -> dict:
    """A recorded operator object as release ``version`` has it: its versions and images."""
    text = json.dumps(load(name))
    if version != "4.3.18":
        for image in RELEASE_IMAGES:
            text = text.replace(release_image(image, "4.3.18"), release_image(image, version))
        text = text.replace('"4.3.18"', json.dumps(version))
    obj = json.loads(text)
    for v in (obj.get("status") or {}).get("versions") or []:
        if v["name"] == "coredns":
            v["version"] = dns_image  # the dns operator reports its operand's pullspec
    return obj


def with_history(history: list[dict], *, token: str | None = TOKEN) -> ClusterState:
    """OpenShift whose ClusterVersion carries ``history`` (newest first, as the cluster keeps
    it): what --window upgrade:VERSION reads to cut windows around a rollout."""
    obj = load("clusterversion-4.3.18")
    obj["status"]["history"] = history
    obj["status"]["desired"]["version"] = history[0]["version"]
    state = ClusterState(version=load("version-ocp-4.3"), token=token,
                         api_groups={"operator.openshift.io": load("apigroup-operator-openshift-io")})
    return state.add("apis/config.openshift.io/v1", "clusterversions", obj)


def openshift(version: str = "4.3.18", *, token: str | None = TOKEN) -> ClusterState:
    """OpenShift 4.3.18, or 4.3.19 after the upgrade: new kernel on every node, one node
    NotReady, a crash-looping OOMKilled app pod, more restarts and BackOff warnings, a new
    DNS image and one DNS pod not ready."""
    after = version != "4.3.18"
    kernel = KERNEL_4319 if after else KERNEL_4318
    dns_image = DNS_IMAGE_4319 if after else DNS_IMAGE_4318
    state = ClusterState(version=load("version-ocp-4.3"), token=token,
                         api_groups={"operator.openshift.io": load("apigroup-operator-openshift-io")})
    state.add("api/v1", "nodes", *(node(n, kernel, ready=not (after and i == 2)) for i, n in enumerate(NODE_NAMES)))
    pods = [app_pod("quay-app-7d4b9c6f5-x2k8p", 2 if after else 1),
            app_pod("quay-app-7d4b9c6f5-q9w3e", 1 if after else 0),
            app_pod("quay-app-7d4b9c6f5-m4q7z", 7, crashloop=True) if after else app_pod("quay-app-7d4b9c6f5-m4q7z", 0),
            load("pod-job-succeeded")]
    state.add("api/v1", "pods", *pods)
    state.add("api/v1", "pods", *(dns_pod(f"dns-default-{s}", dns_image, ready=not (after and s == "c"))
                                  for s in "abc"))
    events = [warning("BackOff", 42 if after else 3, 60), warning("Unhealthy", 5, 300),
              warning("FailedMount", 9, 2 * 3600),  # outside the one-hour window: not counted
              load("event-normal-pulled")]
    if after:
        events.append(warning("NodeNotReady", 1, 30, namespace="default"))
    state.add("api/v1", "events", *events)
    configmap = load("configmap-dns-default")
    state.add("api/v1", "configmaps", configmap)
    state.add("api/v1", "services", load("service-dns-default"))
    daemonset = load("daemonset-dns-default")
    daemonset["spec"]["template"]["spec"]["containers"][0]["image"] = dns_image
    state.add("apis/apps/v1", "daemonsets", daemonset)
    state.add("apis/config.openshift.io/v1", "clusterversions", cluster_version(version))
    state.add("apis/config.openshift.io/v1", "clusteroperators", *(released(n, version, dns_image) for n in OPERATORS))
    for resource, name in OPERATOR_WORKLOADS:
        state.add("apis/apps/v1", resource, released(name, version, dns_image))
    return state


def plain_kubernetes(*, token: str | None = TOKEN) -> ClusterState:
    """Kubernetes 1.18 with CoreDNS in kube-system; no ClusterVersion, no OpenShift API groups."""
    state = ClusterState(version=load("version-k8s-1.18"), token=token)
    state.add("api/v1", "nodes", node("kind-control-plane", "5.4.0-31-generic"))
    state.add("api/v1", "pods", app_pod("quay-app-7d4b9c6f5-x2k8p", 0), load("pod-coredns"))
    state.add("api/v1", "events", warning("BackOff", 2, 60))
    state.add("api/v1", "configmaps", load("configmap-coredns"))
    state.add("api/v1", "services", load("service-kube-dns"))
    state.add("apis/apps/v1", "deployments", load("deployment-coredns"))
    return state


def write_kubeconfig(path: Path, server_url: str, *, token: str | None = TOKEN, context: str = "staging",
                     ca_pem: bytes | None = None, exec_command: list[str] | None = None,
                     other_server: str = "http://127.0.0.1:9", basic: tuple[str, str] | None = None) -> Path:
    """A real kubeconfig file for the client to load: ``context`` (current) reaches the server,
    the context ``other`` another cluster (by default a port nothing listens on)."""
    user: dict = {}
    if token is not None:
        user["token"] = token
    if basic is not None:
        user["username"], user["password"] = basic
    if exec_command is not None:
        user["exec"] = {"apiVersion": "client.authentication.k8s.io/v1beta1", "command": exec_command[0],
                        "args": exec_command[1:]}
    cluster: dict = {"server": server_url}
    if ca_pem is not None:
        cluster["certificate-authority-data"] = base64.b64encode(ca_pem).decode()
    doc = {"apiVersion": "v1", "kind": "Config", "preferences": {},
           "clusters": [{"name": "api-staging-example-com:6443", "cluster": cluster},
                        {"name": "api-other-example-com:6443", "cluster": {"server": other_server}}],
           "users": [{"name": "triage/api-staging-example-com:6443", "user": user}],
           "contexts": [{"name": context, "context": {"cluster": "api-staging-example-com:6443",
                                                      "user": "triage/api-staging-example-com:6443",
                                                      "namespace": "quay"}},
                        {"name": "other", "context": {"cluster": "api-other-example-com:6443",
                                                      "user": "triage/api-staging-example-com:6443"}}],
           "current-context": context}
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    return path


def kube_config(path: Path | str, *, namespaces: tuple[str, ...] = ("quay",), context: str | None = None,
                timeout_s: float = 5.0, samples: int = 5) -> Config:
    return Config(samples=samples, kubernetes=KubernetesConfig(kubeconfig=str(path), context=context,
                                                               namespaces=namespaces, timeout_s=timeout_s,
                                                               enabled=True))
