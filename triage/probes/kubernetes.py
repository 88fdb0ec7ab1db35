"""Kubernetes layer: the platform itself, seen through its API.

Probes (all through ``triage.kube_client``; every request bounded by kubernetes.timeout):
- ``api_latency``: GET /version, /readyz and a bounded pod list (limit=50), one target each,
  in groups, each on a new API connection opened by an unrecorded warm-up request.
- ``nodes``: NotReady, pressure and NetworkUnavailable counts; kubelet, kernel, OS image and
  container-runtime versions per node and cluster-wide, as facts (a kernel change between
  platform versions shows up here).
- ``workloads``: per configured namespace, restarts, not-ready pods, CrashLoopBackOff, OOMKilled.
- ``warning_events``: Warning events last seen within the past hour (the API server's default
  event TTL), by reason.
- ``cluster_dns``: OpenShift's DNS operator (openshift-dns/dns-default) or CoreDNS
  (kube-system, k8s-app=kube-dns): pods ready, Corefile digest and key settings, service IP.
- ``platform_version``: OpenShift's ClusterVersion ``status.desired.version``, else /version
  gitVersion; ``triage probe --label auto`` reads it.

Each probe is a source (API calls) and a pure parser over plain JSON objects, so recorded
API objects replay through the same parsers (tests/fixtures/kubernetes/).

Cluster-scoped probes use the target name ``cluster`` rather than the context name, so two
snapshots of different clusters (staging on 4.3.18, staging on 4.3.19) still line up metric
for metric.
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import re
import time
from dataclasses import dataclass, field
from typing import Any, Iterable, Iterator, Sequence

from triage.probes import GROUP_END, ProbeSkipped, end_group, group_sizes, probe
from triage.kube_client import NO_KUBECONFIG, Api, NotFound, Unreachable, client_for, layer_enabled
from triage.probes.kube_reads import (CLUSTER_VERSION, COREDNS, EVENTS, LATENCY_NAMESPACE, NODES, OPENSHIFT_DISCOVERY,
                                      OPENSHIFT_DNS, READYZ, VERSION, DnsFlavor, dns_reads, pod_list)
from triage.model import Measurement

LAYER = "kubernetes"
CLUSTER = "cluster"
LATENCY_LIST_LIMIT = 50
LATENCY_GIVE_UP = 5  # consecutive unreachable requests after which a latency probe stops
EVENT_WINDOW_S = 3600.0
MAX_NODES = 5000
MAX_PODS = 10_000
MAX_EVENTS = 5000
NOT_SET = "(not set)"

# Always reported (0 when absent), so a reason that appears only after the upgrade is a
# change from 0 rather than a metric missing on one side.
COMMON_WARNING_REASONS = (
    "BackOff", "Unhealthy", "FailedScheduling", "FailedMount", "FailedCreatePodSandBox",
    "FailedKillPod", "NetworkNotReady", "DNSConfigForming", "Evicted", "OOMKilling", "SystemOOM",
    "NodeNotReady", "FailedSync",
)


# --- targets: the layer runs only when a kubeconfig is configured -----------------------------


def _kube(config: Any) -> Any:
    kcfg = config.kubernetes
    if not layer_enabled(kcfg):
        raise ProbeSkipped(NO_KUBECONFIG)
    return kcfg


def _cluster_target(config: Any) -> list[tuple[str, Any]]:
    _kube(config)
    return [(CLUSTER, None)]


def _latency_targets(config: Any) -> list[tuple[str, Api]]:
    kcfg = _kube(config)
    listed = pod_list(kcfg.namespaces[0] if kcfg.namespaces else LATENCY_NAMESPACE)
    return [("/version", VERSION), ("/readyz", READYZ), (f"{listed.path}?limit={LATENCY_LIST_LIMIT}", listed)]


def _namespace_targets(config: Any) -> list[tuple[str, str]]:
    kcfg = _kube(config)
    if not kcfg.namespaces:
        raise ProbeSkipped("no namespaces: set kubernetes.namespaces in triage.yaml to watch workloads")
    return [(ns, ns) for ns in kcfg.namespaces]


def _client(ctx: Any) -> Any:
    return client_for(ctx.config.kubernetes)


# --- api_latency -----------------------------------------------------------------------------


@probe(LAYER, "api_latency", targets=_latency_targets, subruns=True)
def api_latency(api: Api, ctx: Any) -> Iterator[Measurement | object]:
    """Latency of one GET in groups, each on a new API connection opened by a warm-up."""
    client = _client(ctx)
    query = {"limit": LATENCY_LIST_LIMIT} if api.verb == "list" else None
    latencies: list[float] = []
    sizes: list[int] = []
    failures = trials = unreachable_run = warmups_unanswered = 0
    gave_up = False
    for g, size in enumerate(group_sizes(ctx.samples, ctx.config.kubernetes.groups or ctx.config.groups)):
        if g:
            yield GROUP_END
        if ctx.expired():
            break
        client.drop_connections()  # each group on a new connection to the API server
        try:
            # Warm-up, not recorded: it pays for the TCP/TLS handshake, which would sit in the
            # tail of every group. Unreachable from the start is the probe's error; later on,
            # the group's own requests count what the warm-up met.
            client.timed(api, query)
        except NotFound:
            # /readyz arrived in Kubernetes 1.16; an older API server simply does not serve it.
            raise ProbeSkipped(f"GET {api.path}: not served by this API server (HTTP 404)") from None
        except Unreachable:
            if not g:
                raise
            warmups_unanswered += 1
        for _ in range(size):
            if ctx.expired():
                break
            trials += 1
            try:
                elapsed_ms, status = client.timed(api, query)
            except Unreachable:  # an error event, no latency
                failures += 1
                unreachable_run += 1
                gave_up = unreachable_run >= LATENCY_GIVE_UP
                if gave_up:
                    break
                continue
            unreachable_run = 0
            latencies.append(elapsed_ms)  # an answer, even a 500 from /readyz, has a latency
            if not 200 <= status < 300:
                failures += 1
        end_group(latencies, sizes)
        if gave_up:
            ctx.note(f"latency: stopped after {LATENCY_GIVE_UP} unreachable requests in a row")
            break
    if trials < ctx.samples and not gave_up:
        ctx.note(f"latency: stopped after {trials} of {ctx.samples} requests at the probe deadline")
    if warmups_unanswered:
        ctx.note(f"latency: {warmups_unanswered} warm-up requests unanswered (not recorded)")
    if not latencies:
        raise RuntimeError(f"GET {api.path}: no request was answered")
    yield Measurement.samples("latency", latencies, unit="ms", groups=sizes)
    yield Measurement.proportion("errors", failures, trials)


# --- nodes -----------------------------------------------------------------------------------


def _conditions(obj: dict) -> dict[str, str]:
    return {c.get("type"): c.get("status") for c in (obj.get("status") or {}).get("conditions") or []
            if isinstance(c, dict)}


def _distinct(values: Iterable[str]) -> str:
    return ", ".join(sorted(set(values))) or NOT_SET


NODE_INFO = (("kubelet_version", "kubeletVersion"), ("kernel_version", "kernelVersion"),
             ("os_image", "osImage"), ("container_runtime", "containerRuntimeVersion"))


def node_measurements(nodes: Sequence[dict]) -> list[Measurement]:
    """Counts of unhealthy node conditions, and versions per node and cluster-wide."""
    counts = dict.fromkeys(("not_ready", "memory_pressure", "disk_pressure", "pid_pressure",
                            "network_unavailable", "unschedulable"), 0)
    per_node: list[Measurement] = []
    seen: dict[str, list[str]] = {metric: [] for metric, _ in NODE_INFO}
    for node in sorted(nodes, key=lambda n: (n.get("metadata") or {}).get("name", "")):
        name = (node.get("metadata") or {}).get("name", "?")
        cond = _conditions(node)
        counts["not_ready"] += cond.get("Ready") != "True"  # False or Unknown (node stopped reporting)
        counts["memory_pressure"] += cond.get("MemoryPressure") == "True"
        counts["disk_pressure"] += cond.get("DiskPressure") == "True"
        counts["pid_pressure"] += cond.get("PIDPressure") == "True"
        counts["network_unavailable"] += cond.get("NetworkUnavailable") == "True"
        counts["unschedulable"] += bool((node.get("spec") or {}).get("unschedulable"))
        info = (node.get("status") or {}).get("nodeInfo") or {}
        for metric, key in NODE_INFO:
            value = info.get(key) or NOT_SET
            seen[metric].append(value)
            per_node.append(Measurement.fact(f"{metric}[{name}]", value))
    out = [Measurement.gauge("nodes", len(nodes), better="higher")]
    out += [Measurement.gauge(metric, value) for metric, value in counts.items()]
    out += [Measurement.fact(f"{metric}s", _distinct(values)) for metric, values in seen.items()]
    return out + per_node


@probe(LAYER, "nodes", targets=_cluster_target)
def nodes(_target: Any, ctx: Any) -> list[Measurement]:
    items, truncated = _client(ctx).list(NODES, max_items=MAX_NODES)
    if truncated:
        ctx.note(f"nodes: only the first {MAX_NODES} nodes were read")
    return node_measurements(items)


# --- workloads -------------------------------------------------------------------------------


def _container_statuses(pod: dict) -> list[dict]:
    status = pod.get("status") or {}
    return [c for key in ("initContainerStatuses", "containerStatuses") for c in status.get(key) or []
            if isinstance(c, dict)]


def pod_measurements(pods: Sequence[dict]) -> list[Measurement]:
    """Restarts (sum over containers), not-ready pods, CrashLoopBackOff and OOMKilled containers."""
    restarts = not_ready = crashloop = oom = 0
    for pod in pods:
        phase = (pod.get("status") or {}).get("phase")
        if phase != "Succeeded" and _conditions(pod).get("Ready") != "True":
            not_ready += 1
        for c in _container_statuses(pod):
            restarts += int(c.get("restartCount") or 0)
            state = c.get("state") or {}
            last = c.get("lastState") or {}
            if (state.get("waiting") or {}).get("reason") == "CrashLoopBackOff":
                crashloop += 1
            if "OOMKilled" in ((state.get("terminated") or {}).get("reason"),
                               (last.get("terminated") or {}).get("reason")):
                oom += 1
    return [Measurement.gauge("restarts", restarts), Measurement.gauge("not_ready_pods", not_ready),
            Measurement.gauge("crashloop_backoff", crashloop), Measurement.gauge("oom_killed", oom)]


@probe(LAYER, "workloads", targets=_namespace_targets)
def workloads(namespace: str, ctx: Any) -> list[Measurement]:
    items, truncated = _client(ctx).list(pod_list(namespace), max_items=MAX_PODS)
    if truncated:
        ctx.note(f"workloads: only the first {MAX_PODS} pods were read")
    if not items:
        ctx.note(f"workloads: no pods in namespace {namespace} (does it exist?)")
    return [Measurement.gauge("pods", len(items), better="higher")] + pod_measurements(items)


# --- warning events --------------------------------------------------------------------------

_TIMESTAMP = re.compile(r"^(\d{4})-(\d\d)-(\d\d)T(\d\d):(\d\d):(\d\d)(?:\.\d+)?(Z|[+-]\d\d:\d\d)$")


def parse_timestamp(text: Any) -> float | None:
    """Kubernetes RFC 3339 time (``2020-05-27T10:15:02Z``, micro-time with fractions) → epoch."""
    m = _TIMESTAMP.match(text) if isinstance(text, str) else None
    if not m:
        return None
    tz = _dt.timezone.utc
    if m[7] != "Z":
        sign = 1 if m[7][0] == "+" else -1
        tz = _dt.timezone(sign * _dt.timedelta(hours=int(m[7][1:3]), minutes=int(m[7][4:6])))
    return _dt.datetime(*(int(m[i]) for i in range(1, 7)), tzinfo=tz).timestamp()


def _last_seen(event: dict) -> float | None:
    series = event.get("series") or {}
    for value in (series.get("lastObservedTime"), event.get("lastTimestamp"), event.get("eventTime"),
                  (event.get("metadata") or {}).get("creationTimestamp")):
        seen = parse_timestamp(value)
        if seen is not None:
            return seen
    return None


def warning_measurements(events: Sequence[dict], now: float, window_s: float = EVENT_WINDOW_S) -> list[Measurement]:
    """Occurrences (the event's count) of Warning events last seen in the window, by reason."""
    by_reason = dict.fromkeys(COMMON_WARNING_REASONS, 0)
    for event in events:
        if event.get("type") != "Warning":
            continue
        seen = _last_seen(event)
        if seen is None or not now - window_s <= seen <= now + 300:  # 300 s: clock skew
            continue
        count = (event.get("series") or {}).get("count") or event.get("count") or 1
        reason = event.get("reason") or "(no reason)"
        by_reason[reason] = by_reason.get(reason, 0) + int(count)
    out = [Measurement.gauge("warnings", sum(by_reason.values()))]
    return out + [Measurement.gauge(f"warnings[{reason}]", n) for reason, n in sorted(by_reason.items())]


@probe(LAYER, "warning_events", targets=_cluster_target)
def warning_events(_target: Any, ctx: Any) -> list[Measurement]:
    items, truncated = _client(ctx).list(EVENTS, {"fieldSelector": "type=Warning"},
                                         max_items=MAX_EVENTS)
    if truncated:
        ctx.note(f"warning_events: only the first {MAX_EVENTS} Warning events were read")
    return warning_measurements(items, now=time.time())


# --- cluster DNS -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Directive:
    name: str
    args: tuple[str, ...] = ()
    block: tuple["Directive", ...] = ()

    def render(self) -> str:
        text = " ".join(self.args)
        if self.block:
            text += " {" + "; ".join(f"{d.name} {d.render()}".strip() for d in self.block) + "}"
        return text.strip()


@dataclass(frozen=True)
class ServerBlock:
    keys: tuple[str, ...]
    directives: tuple[Directive, ...] = field(default=())

    def get(self, name: str) -> Directive | None:
        return next((d for d in self.directives if d.name == name), None)

    @property
    def is_root(self) -> bool:
        return any(k == "." or k.startswith(".:") or k.startswith("dns://.") for k in self.keys)


_NEWLINE = "\n"


def _corefile_tokens(text: str) -> list[str]:
    """Words, braces and line ends; comments dropped. Braces glued to words are split off,
    ``{$ENV}`` placeholders are kept whole."""
    tokens: list[str] = []
    for raw in text.splitlines():
        tokens += re.findall(r"\{\$[^}]*\}|[{}]|[^\s{}]+", raw.split("#", 1)[0])
        tokens.append(_NEWLINE)
    return tokens


def parse_corefile(text: str) -> list[ServerBlock]:
    """Server blocks and their directives, nested blocks kept (a one-line
    ``forward . 1.1.1.1 { policy random }`` too). Snippets and imports stay plain directives;
    an unclosed block ends with the text."""
    tokens = iter(_corefile_tokens(text))  # one stream, read by the outer loop and every block()

    def block() -> tuple[Directive, ...]:
        out: list[Directive] = []
        words: list[str] = []
        for token in tokens:
            if token == "{":
                inner = block()
                if words:
                    out.append(Directive(words[0], tuple(words[1:]), inner))
                words = []
            elif token in ("}", _NEWLINE):
                if words:
                    out.append(Directive(words[0], tuple(words[1:])))
                words = []
                if token == "}":
                    return tuple(out)
            else:
                words.append(token)
        if words:
            out.append(Directive(words[0], tuple(words[1:])))
        return tuple(out)

    blocks: list[ServerBlock] = []
    keys: list[str] = []
    for token in tokens:
        if token == "{":
            blocks.append(ServerBlock(tuple(k.rstrip(",") for k in keys if k.rstrip(",")), block()))
            keys = []
        elif token not in (_NEWLINE, "}"):
            keys.append(token)
    return blocks


COREFILE_SETTINGS = ("forward", "cache", "bufsize")


def corefile_facts(text: str) -> list[Measurement]:
    """The Corefile's digest, its server blocks, and forward/cache/bufsize of each block
    (unsuffixed for the root zone, ``forward[example.com:5353]`` for the others)."""
    blocks = parse_corefile(text)
    out = [Measurement.fact("corefile_sha256", hashlib.sha256(text.encode()).hexdigest()[:16]),
           Measurement.fact("zones", ", ".join(" ".join(b.keys) for b in blocks) or NOT_SET)]
    root = next((b for b in blocks if b.is_root), blocks[0] if blocks else None)
    for block in blocks:
        suffix = "" if block is root else f"[{' '.join(block.keys)}]"
        for name in COREFILE_SETTINGS:
            directive = block.get(name)
            if directive is None and block is not root:
                continue
            out.append(Measurement.fact(f"{name}{suffix}", (directive.render() or "(on)") if directive else NOT_SET))
    return out


def dns_measurements(flavor: DnsFlavor, pods: Sequence[dict], configmap: dict | None, service: dict | None,
                     workload: dict | None) -> tuple[list[Measurement], list[str]]:
    """(measurements, notes) of the cluster DNS deployment."""
    notes: list[str] = []
    ready = sum(1 for p in pods if _conditions(p).get("Ready") == "True")
    restarts = sum(int(c.get("restartCount") or 0) for p in pods for c in _container_statuses(p))
    out = [Measurement.fact("provider", flavor.provider),
           Measurement.gauge("pods", len(pods), better="higher"),
           Measurement.gauge("pods_ready", ready, better="higher"),
           Measurement.gauge("pods_not_ready", len(pods) - ready),
           Measurement.gauge("restarts", restarts)]
    corefile = ((configmap or {}).get("data") or {}).get("Corefile")
    if configmap is None:
        notes.append(f"cluster_dns: no ConfigMap {flavor.namespace}/{flavor.configmap}; Corefile facts dropped")
    elif not isinstance(corefile, str):
        notes.append(f"cluster_dns: ConfigMap {flavor.namespace}/{flavor.configmap} has no Corefile key")
    else:
        out += corefile_facts(corefile)
    if service is None:
        notes.append(f"cluster_dns: no Service {flavor.namespace}/{flavor.service}; service_ip dropped")
    else:
        out.append(Measurement.fact("service_ip", (service.get("spec") or {}).get("clusterIP") or NOT_SET))
    if workload is not None:
        containers = (((workload.get("spec") or {}).get("template") or {}).get("spec") or {}).get("containers") or []
        image = next((c.get("image") for c in containers if c.get("name") == flavor.container), None)
        out.append(Measurement.fact("image", image or NOT_SET))
    return out, notes


def _optional(client: Any, api: Api) -> dict | None:
    """The object, or None when it does not exist (404); 401/403 still raise."""
    try:
        return client.get(api)
    except NotFound:
        return None


@probe(LAYER, "cluster_dns", targets=_cluster_target)
def cluster_dns(_target: Any, ctx: Any) -> list[Measurement]:
    client = _client(ctx)
    flavor = OPENSHIFT_DNS if _optional(client, OPENSHIFT_DISCOVERY) else COREDNS
    pods_api, configmap_api, service_api, _ = dns_reads(flavor)
    pods, _ = client.list(pods_api, {"labelSelector": flavor.selector}, max_items=MAX_PODS)
    configmap = _optional(client, configmap_api)
    service = _optional(client, service_api)
    if not pods and configmap is None and service is None:
        raise ProbeSkipped(f"no cluster DNS found: no pods {flavor.selector}, ConfigMap {flavor.configmap} "
                           f"or Service {flavor.service} in {flavor.namespace}")
    workload = _optional(client, flavor.workload)
    if workload is None:
        ctx.note(f"cluster_dns: no {flavor.workload.resource} {flavor.namespace}/{flavor.workload.name}; "
                 "image fact dropped")
    measurements, notes = dns_measurements(flavor, pods, configmap, service, workload)
    for note in notes:
        ctx.note(note)
    return measurements


# --- platform version ------------------------------------------------------------------------

def platform_measurements(version: dict, cluster_version: dict | None) -> list[Measurement]:
    """OpenShift: ClusterVersion ``status.desired.version``; else /version gitVersion."""
    git_version = version.get("gitVersion") or NOT_SET
    out = [Measurement.fact("kubernetes_version", git_version)]
    desired = ((cluster_version or {}).get("status") or {}).get("desired") or {}
    if cluster_version is not None and desired.get("version"):
        history = (cluster_version.get("status") or {}).get("history") or []
        out += [Measurement.fact("platform", "OpenShift"),
                Measurement.fact("platform_version", desired["version"]),
                Measurement.fact("update_state", ((history[0] or {}).get("state") or NOT_SET) if history else NOT_SET),
                Measurement.fact("channel", (cluster_version.get("spec") or {}).get("channel") or NOT_SET)]
    else:
        out += [Measurement.fact("platform", "Kubernetes"), Measurement.fact("platform_version", git_version)]
    return out


@probe(LAYER, "platform_version", targets=_cluster_target)
def platform_version(_target: Any, ctx: Any) -> list[Measurement]:
    client = _client(ctx)
    version = client.get(VERSION)
    cluster_version = _optional(client, CLUSTER_VERSION)
    if cluster_version is None:
        ctx.note("platform_version: no ClusterVersion (plain Kubernetes, not OpenShift); using /version gitVersion")
    return platform_measurements(version, cluster_version)
