"""Kubernetes layer, OpenShift's platform components: what an upgrade replaced.

One probe, ``kubernetes.platform_components`` (target ``cluster``), facts only, read by
triage.changes (which places each change in its layer: the DNS operator in dns, the others in
kubernetes) and never a regression by itself:

- ``desired_version``, ``desired_image``: ClusterVersion ``status.desired``;
- ``history``: ClusterVersion ``status.history``, newest first, one line per update
  ("4.3.19 Completed 2020-05-27T10:00:00Z → 2020-05-27T10:40:00Z"), at most MAX_HISTORY;
- ``cluster_operators``: {operator: {operand: version}} from every ClusterOperator's
  ``status.versions`` (the dns operator reports ``operator`` 4.3.19 and its ``coredns`` and
  ``openshift-cli`` image pullspecs);
- ``images``: {"<namespace>/<workload>": {container: image}} of the Deployments and
  DaemonSets of the DNS, network and ingress operators and of their operands.

Node OS images, kubelet and CRI-O versions are already facts of ``kubernetes.nodes``, and the
DNS image of ``kubernetes.cluster_dns``: triage.changes reads them there. Plain Kubernetes has
no ClusterVersion: the probe is skipped with that reason.
"""

from __future__ import annotations

from typing import Any, Iterable, Sequence

from triage.model import Measurement
from triage.probes import ProbeSkipped, probe
from triage.probes.kube_reads import CLUSTER_OPERATORS, OPERATOR_NAMESPACES, WORKLOAD_KINDS, workload_list
from triage.probes.kubernetes import CLUSTER_VERSION, LAYER, NOT_SET, _client, _cluster_target, _optional

MAX_HISTORY = 10  # the cluster keeps more; an upgrade adds one, the last ten cover a year of z-streams
MAX_OPERATORS = 200  # OpenShift 4.3 runs ~30 ClusterOperators, 4.16 ~35
MAX_WORKLOADS = 50  # per namespace and kind; these namespaces hold one to five each


def history_lines(history: Iterable[Any]) -> list[str]:
    lines = []
    for entry in list(history)[:MAX_HISTORY]:
        if not isinstance(entry, dict):
            continue
        done = entry.get("completionTime") or "…"  # null while the update is still rolling out
        lines.append(f"{entry.get('version') or NOT_SET} {entry.get('state') or NOT_SET} "
                     f"{entry.get('startedTime') or NOT_SET} → {done}")
    return lines


def operator_versions(operators: Sequence[dict]) -> dict[str, dict[str, str]]:
    out: dict[str, dict[str, str]] = {}
    for co in operators:
        name = (co.get("metadata") or {}).get("name")
        if not name:
            continue
        versions = (co.get("status") or {}).get("versions") or []  # nullable in the API
        out[name] = {str(v.get("name")): str(v.get("version")) for v in versions
                     if isinstance(v, dict) and v.get("name")}
    return dict(sorted(out.items()))


def workload_images(workloads: Sequence[dict]) -> dict[str, dict[str, str]]:
    out: dict[str, dict[str, str]] = {}
    for w in workloads:
        meta = w.get("metadata") or {}
        spec = ((w.get("spec") or {}).get("template") or {}).get("spec") or {}
        containers = [c for key in ("initContainers", "containers") for c in spec.get(key) or [] if isinstance(c, dict)]
        images = {str(c.get("name")): str(c.get("image") or NOT_SET) for c in containers if c.get("name")}
        if meta.get("name") and images:
            out[f"{meta.get('namespace', '?')}/{meta['name']}"] = dict(sorted(images.items()))
    return dict(sorted(out.items()))


def component_measurements(cluster_version: dict, operators: Sequence[dict],
                           workloads: Sequence[dict]) -> list[Measurement]:
    """The facts of one cluster's components, from its API objects (pure)."""
    status = cluster_version.get("status") or {}
    desired = status.get("desired") or {}
    return [Measurement.fact("desired_version", desired.get("version") or NOT_SET),
            Measurement.fact("desired_image", desired.get("image") or NOT_SET),
            Measurement.fact("history", history_lines(status.get("history") or [])),
            Measurement.fact("cluster_operators", operator_versions(operators)),
            Measurement.fact("images", workload_images(workloads))]


@probe(LAYER, "platform_components", targets=_cluster_target)
def platform_components(_target: Any, ctx: Any) -> list[Measurement]:
    client = _client(ctx)
    cluster_version = _optional(client, CLUSTER_VERSION)
    if cluster_version is None:
        raise ProbeSkipped("no ClusterVersion (plain Kubernetes, not OpenShift): node versions are in "
                           "kubernetes.nodes, the CoreDNS image in kubernetes.cluster_dns")
    operators, truncated = client.list(CLUSTER_OPERATORS, max_items=MAX_OPERATORS)
    if truncated:
        ctx.note(f"platform_components: only the first {MAX_OPERATORS} ClusterOperators were read")
    workloads: list[dict] = []
    for namespace in OPERATOR_NAMESPACES:
        for kind in WORKLOAD_KINDS:
            items, cut = client.list(workload_list(kind, namespace), max_items=MAX_WORKLOADS)
            if cut:
                ctx.note(f"platform_components: only the first {MAX_WORKLOADS} {kind} of {namespace} were read")
            workloads += items
    return component_measurements(cluster_version, operators, workloads)
