"""What the kubernetes probes read from the API, in one place: the probes send these requests,
and `triage doctor` asks the API server (a SelfSubjectAccessReview each) whether this
kubeconfig's user may, before a run finds out by a 403 in the middle of a probe."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from triage.kube_client import Api

VERSION = Api(url="/version")
READYZ = Api(url="/readyz")
NODES = Api("nodes", "list", namespaced=False)
EVENTS = Api("events", "list")  # all namespaces
CLUSTER_VERSION = Api("clusterversions", group="config.openshift.io", name="version", namespaced=False)
# The DNS operator's API group exists only on OpenShift; discovery is open to every user.
OPENSHIFT_DISCOVERY = Api(url="/apis/operator.openshift.io")
LATENCY_NAMESPACE = "kube-system"  # the pod list timed when no namespace is configured


def pod_list(namespace: str) -> Api:
    return Api("pods", "list", namespace=namespace)


# platform_components (OpenShift): the ClusterOperators, and the workloads of the operators' own
# namespaces and their operands': DNS, network (openshift-sdn or OVN-Kubernetes, multus) and
# ingress. A namespace that does not exist on this cluster lists nothing.
CLUSTER_OPERATORS = Api("clusteroperators", "list", group="config.openshift.io", namespaced=False)
OPERATOR_NAMESPACES = ("openshift-dns-operator", "openshift-dns", "openshift-network-operator", "openshift-sdn",
                       "openshift-ovn-kubernetes", "openshift-multus", "openshift-ingress-operator",
                       "openshift-ingress")
WORKLOAD_KINDS = ("deployments", "daemonsets")


def workload_list(kind: str, namespace: str) -> Api:
    return Api(kind, "list", group="apps", namespace=namespace)


@dataclass(frozen=True)
class DnsFlavor:
    provider: str
    namespace: str
    configmap: str
    service: str
    workload: Api
    selector: str
    container: str


OPENSHIFT_DNS = DnsFlavor("openshift-dns-operator", "openshift-dns", "dns-default", "dns-default",
                          Api("daemonsets", group="apps", namespace="openshift-dns", name="dns-default"),
                          "dns.operator.openshift.io/daemonset-dns=default", "dns")
COREDNS = DnsFlavor("coredns", "kube-system", "coredns", "kube-dns",
                    Api("deployments", group="apps", namespace="kube-system", name="coredns"),
                    "k8s-app=kube-dns", "coredns")


def dns_reads(flavor: DnsFlavor) -> list[Api]:
    return [pod_list(flavor.namespace), Api("configmaps", namespace=flavor.namespace, name=flavor.configmap),
            Api("services", namespace=flavor.namespace, name=flavor.service), flavor.workload]


def reads(kcfg: Any, openshift: bool) -> list[tuple[str, Api]]:
    """(probe, request) for every request a run of the kubernetes probes makes under ``kcfg``
    on an OpenShift cluster or a plain Kubernetes one."""
    namespaces = tuple(kcfg.namespaces)
    out = [("api_latency", VERSION), ("api_latency", READYZ),
           ("api_latency", pod_list(namespaces[0] if namespaces else LATENCY_NAMESPACE)), ("nodes", NODES)]
    out += [("workloads", pod_list(ns)) for ns in namespaces]
    out.append(("warning_events", EVENTS))
    out += [("cluster_dns", api) for api in dns_reads(OPENSHIFT_DNS if openshift else COREDNS)]
    out.append(("platform_version", VERSION))
    if openshift:
        out += [("platform_version", CLUSTER_VERSION), ("platform_components", CLUSTER_OPERATORS)]
        out += [("platform_components", workload_list(kind, ns)) for ns in OPERATOR_NAMESPACES for kind in WORKLOAD_KINDS]
    return out
