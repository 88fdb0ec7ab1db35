"""Built-in profiles: well-known exporters' metrics mapped to triage's layers and metric names.

Every series is a PromQL expression evaluated once per block (``$block``, e.g. ``5m``), so one
result series gives one sample per block for one target. ``$by`` is the grouping labels the
target is named by. A series lists *variants*: the same quantity under each exporter
version's metric names, newest first; every variant whose metrics exist in the window is
joined with PromQL ``or``, so a fleet half upgraded (CoreDNS 1.6 pods beside 1.7 ones) is
still read whole, and a pod that exports both names counts once (``or`` keeps the left side).

Names checked against the exporters' own sources and docs (README "Prometheus source"):

- node-exporter 1.x: ``node_netstat_*`` from the netstat collector's default field list
  (Tcp_RetransSegs/OutSegs, TcpExt_TCPSynRetrans/ListenDrops/ListenOverflows,
  Udp_InErrors/InDatagrams/RcvbufErrors), ``node_nf_conntrack_*``, ``node_softnet_*``,
  ``node_network_*_total``, ``node_uname_info``, ``node_exporter_build_info``.
- CoreDNS: 1.7.0 renamed ``coredns_dns_request_count_total`` → ``coredns_dns_requests_total``
  and ``coredns_dns_response_rcode_count_total`` → ``coredns_dns_responses_total``, and the
  forward plugin's ``*_rcode_count_total`` → ``coredns_forward_responses_total``; 1.11 moved
  forward latency to ``coredns_proxy_request_duration_seconds{proxy_name="forward"}``. The
  request latency histogram ``coredns_dns_request_duration_seconds`` (its ``_bucket``
  series) and ``coredns_cache_hits_total``/``coredns_cache_misses_total`` kept their names.
- kube-apiserver: ``apiserver_request_duration_seconds`` (1.14+; before it
  ``apiserver_request_latencies`` in microseconds, removed in 1.17), ``apiserver_request_total``
  (before it ``apiserver_request_count``), ``etcd_request_duration_seconds`` (OpenShift drops
  it unless enabled: the etcd series is then simply absent).
- kube-state-metrics: ``kube_pod_container_status_restarts_total``, ``kube_pod_status_ready``,
  ``kube_pod_status_phase``, ``kube_node_status_condition``.
- postgres_exporter: ``pg_stat_database_{blks_hit,blks_read,deadlocks,xact_commit,
  xact_rollback,temp_bytes}``, ``pg_stat_activity_count{datname,state}``,
  ``pg_settings_max_connections``, ``pg_static{version}``, ``postgres_exporter_build_info``.

How each kind of quantity becomes samples (the statistics in triage/judge.py):
- latency: the block's p50/p99 from the histogram (``histogram_quantile``), in ms;
- shares of rare events (retransmits, SERVFAIL, rollbacks): the block's share in ``rate``
  units (a fraction), which gets the same floors as the live probes' proportions of the same
  quantity (0.1 percentage point and 10%); not a proportion, because a counter's events are
  not independent trials: the blocks' spread is the honest noise;
- shares near 100% (cache hits, conntrack fill, connections of max_connections): percent;
- event counts (drops, restarts, deadlocks): the count in the block;
- gauges (connections, not-ready pods): the block's mean;
- versions: facts, the label values seen over the window.

No imports from the rest of triage but the layer names: config validates profile names here.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Mapping


@dataclass(frozen=True)
class Variant:
    promql: str  # with $block (block length) and $by (the grouping labels)
    needs: tuple[str, ...]  # metric names that must exist in the window
    naming: str = ""  # whose metric names these are, e.g. "CoreDNS 1.7+"


@dataclass(frozen=True)
class Series:
    """One metric of a profile: where it goes in the snapshot and how to read it."""

    layer: str
    probe: str
    metric: str  # samples: may hold "{label}", filled from that result label (connections_{state})
    unit: str | None
    better: str
    target: tuple[tuple[str, ...], ...]  # name parts; each part is the first of its labels present
    variants: tuple[Variant, ...]
    kind: str = "samples"  # or "fact"
    fact_label: str | None = None  # facts: the result label that holds the value (a version)

    @property
    def metric_label(self) -> str | None:
        """The label a templated metric name comes from, if any."""
        found = re.search(r"\{(\w+)\}", self.metric)
        return found[1] if found else None

    @property
    def by(self) -> tuple[str, ...]:
        labels = [label for part in self.target for label in part]
        labels += [label for label in (self.metric_label, self.fact_label) if label]
        return tuple(dict.fromkeys(labels))


@dataclass(frozen=True)
class Profile:
    name: str
    exporter: str  # who exports these metrics, for messages
    noun: str  # what one target is, plural: "nodes", "CoreDNS pods"
    series: tuple[Series, ...]
    nouns: Mapping[str, str] = field(default_factory=dict)  # probe -> noun, where it differs

    def noun_of(self, probe: str) -> str:
        return self.nouns.get(probe, self.noun)


# ---------------------------------------------------------------- PromQL building blocks


def _count(metric: str) -> str:
    return f"sum by ($by) (increase({metric}[$block]))"


def _mean(metric: str) -> str:
    return f"sum by ($by) (avg_over_time({metric}[$block]))"


def _share(events: str, total: str, scale: str = "") -> str:
    """events/total per block. A target with no event series at all has share 0, not no
    sample (``or 0 * total``): a pod that never answered SERVFAIL has no SERVFAIL series."""
    return (f"{scale}({_count(events)} or 0 * {_count(total)}) / {_count(total)}")


def _hit_share(hits: str, misses: str) -> str:
    return f"100 * {_count(hits)} / ({_count(hits)} + {_count(misses)})"


def _quantile(q: float, bucket: str, scale: str) -> str:
    return f"histogram_quantile({q}, sum by (le, $by) (rate({bucket}[$block]))) {scale}"


def _labels(metric: str) -> str:
    return f"count by ($by) ({metric})"


def _names(*promql_metrics: str) -> tuple[str, ...]:
    """The metric names a variant needs: each selector's name without its {matchers}."""
    return tuple(m.split("{")[0] for m in promql_metrics)


def _v(promql: str, *needs: str, naming: str = "") -> Variant:
    return Variant(promql, _names(*needs), naming)


# ---------------------------------------------------------------- node-exporter: kernel, per node

NODE = (("node", "instance"),)  # OpenShift relabels instance to the node name; plain setups have host:port
_NET = 'device!="lo"'

_node = (
    Series("kernel", "netstat", "tcp_retransmit_rate", "rate", "lower", NODE, (
        _v(_share("node_netstat_Tcp_RetransSegs", "node_netstat_Tcp_OutSegs"),
           "node_netstat_Tcp_RetransSegs", "node_netstat_Tcp_OutSegs"),)),
    Series("kernel", "netstat", "tcp_syn_retrans", "count", "lower", NODE, (
        _v(_count("node_netstat_TcpExt_TCPSynRetrans"), "node_netstat_TcpExt_TCPSynRetrans"),)),
    Series("kernel", "netstat", "tcp_listen_drops", "count", "lower", NODE, (
        _v(_count("node_netstat_TcpExt_ListenDrops"), "node_netstat_TcpExt_ListenDrops"),)),
    Series("kernel", "netstat", "tcp_listen_overflows", "count", "lower", NODE, (
        _v(_count("node_netstat_TcpExt_ListenOverflows"), "node_netstat_TcpExt_ListenOverflows"),)),
    Series("kernel", "netstat", "udp_in_error_rate", "rate", "lower", NODE, (
        _v(_share("node_netstat_Udp_InErrors", "node_netstat_Udp_InDatagrams"),
           "node_netstat_Udp_InErrors", "node_netstat_Udp_InDatagrams"),)),
    Series("kernel", "netstat", "udp_rcvbuf_errors", "count", "lower", NODE, (
        _v(_count("node_netstat_Udp_RcvbufErrors"), "node_netstat_Udp_RcvbufErrors"),)),
    Series("kernel", "conntrack", "conntrack_fill", "percent", "lower", NODE, (
        _v(f"100 * {_mean('node_nf_conntrack_entries')} / {_mean('node_nf_conntrack_entries_limit')}",
           "node_nf_conntrack_entries", "node_nf_conntrack_entries_limit"),)),
    *(Series("kernel", "conntrack", f"conntrack_{stat}", "count", "lower", NODE, (
        _v(_count(f"node_nf_conntrack_stat_{stat}"), f"node_nf_conntrack_stat_{stat}"),))
      for stat in ("insert_failed", "drop", "early_drop")),
    Series("kernel", "softnet", "softnet_dropped", "count", "lower", NODE, (
        _v(_count("node_softnet_dropped_total"), "node_softnet_dropped_total"),)),
    Series("kernel", "softnet", "softnet_time_squeeze", "count", "lower", NODE, (
        _v(_count("node_softnet_times_squeezed_total"), "node_softnet_times_squeezed_total"),)),
    *(Series("kernel", "nic", f"{direction}_{what}", "count", "lower", NODE, (
        _v(_count(f"node_network_{direction}_{what}_total{{{_NET}}}"), f"node_network_{direction}_{what}_total"),))
      for direction in ("receive", "transmit") for what in ("drop", "errs")),
    Series("kernel", "node", "kernel_release", None, "equal", NODE, (
        _v(_labels("node_uname_info"), "node_uname_info"),), kind="fact", fact_label="release"),
    Series("kernel", "node", "node_exporter_version", None, "equal", NODE, (
        _v(_labels("node_exporter_build_info"), "node_exporter_build_info"),), kind="fact", fact_label="version"),
)

# ---------------------------------------------------------------- CoreDNS: dns, per pod (and upstream)

POD = (("pod", "instance"),)
UPSTREAM = (("pod", "instance"), ("to",))
_DURATION = "coredns_dns_request_duration_seconds_bucket"
_RESPONSES = (("coredns_dns_responses_total", "CoreDNS 1.7+"), ("coredns_dns_response_rcode_count_total", "CoreDNS <1.7"))
_FWD_LATENCY = (('coredns_proxy_request_duration_seconds_bucket{proxy_name="forward"}', "CoreDNS 1.11+"),
                ("coredns_forward_request_duration_seconds_bucket", "CoreDNS <1.11"))
_FWD_RESPONSES = (('coredns_proxy_request_duration_seconds_count{proxy_name="forward"}', "CoreDNS 1.11+"),
                  ("coredns_forward_responses_total", "CoreDNS 1.7-1.10"),
                  ("coredns_forward_response_rcode_count_total", "CoreDNS <1.7"))
_FWD_HEALTH = (('coredns_proxy_healthcheck_failures_total{proxy_name="forward"}', "CoreDNS 1.11+"),
               ("coredns_forward_healthcheck_failures_total", "CoreDNS 1.7-1.10"),
               ("coredns_forward_healthcheck_failure_count_total", "CoreDNS <1.7"))


def _with(selector: str, matcher: str) -> str:
    """``name{a="b"}`` + ``c="d"`` -> ``name{a="b",c="d"}``."""
    if selector.endswith("}"):
        return f"{selector[:-1]},{matcher}}}"
    return f"{selector}{{{matcher}}}"


def _rcode_share(responses: tuple[tuple[str, str], ...], rcode: str) -> tuple[Variant, ...]:
    return tuple(_v(_share(_with(name, f'rcode="{rcode}"'), name), name, naming=naming) for name, naming in responses)


_coredns = (
    Series("dns", "coredns", "latency_p50", "ms", "lower", POD, (_v(_quantile(0.5, _DURATION, "* 1000"), _DURATION),)),
    Series("dns", "coredns", "latency_p99", "ms", "lower", POD, (_v(_quantile(0.99, _DURATION, "* 1000"), _DURATION),)),
    Series("dns", "coredns", "servfail_rate", "rate", "lower", POD, _rcode_share(_RESPONSES, "SERVFAIL")),
    Series("dns", "coredns", "nxdomain_rate", "rate", "lower", POD, _rcode_share(_RESPONSES, "NXDOMAIN")),
    Series("dns", "coredns", "cache_hit", "percent", "higher", POD, (
        _v(_hit_share("coredns_cache_hits_total", "coredns_cache_misses_total"),
           "coredns_cache_hits_total", "coredns_cache_misses_total"),)),
    Series("dns", "forward", "latency_p99", "ms", "lower", UPSTREAM, tuple(
        _v(_quantile(0.99, name, "* 1000"), name, naming=naming) for name, naming in _FWD_LATENCY)),
    Series("dns", "forward", "servfail_rate", "rate", "lower", UPSTREAM, _rcode_share(_FWD_RESPONSES, "SERVFAIL")),
    Series("dns", "forward", "healthcheck_failures", "count", "lower", UPSTREAM, tuple(
        _v(_count(name), name, naming=naming) for name, naming in _FWD_HEALTH)),
    Series("dns", "coredns", "coredns_version", None, "equal", POD, (
        _v(_labels("coredns_build_info"), "coredns_build_info"),), kind="fact", fact_label="version"),
)

# ---------------------------------------------------------------- kube-apiserver and etcd: kubernetes

VERB = (("verb",),)
_API_NEW, _API_OLD = "apiserver_request_duration_seconds_bucket", "apiserver_request_latencies_bucket"
_NOT_LONG = 'verb!~"WATCH|CONNECT"'  # long-running requests: their duration is not latency

_apiserver = (
    *(Series("kubernetes", "apiserver", f"latency_p{int(q * 100)}", "ms", "lower", VERB, (
        _v(_quantile(q, _with(_API_NEW, _NOT_LONG), "* 1000"), _API_NEW, naming="Kubernetes 1.14+"),
        _v(_quantile(q, _with(_API_OLD, _NOT_LONG), "/ 1000"), _API_OLD, naming="Kubernetes <1.17 (µs)")))
      for q in (0.5, 0.99)),
    Series("kubernetes", "apiserver", "error_rate", "rate", "lower", VERB, tuple(
        _v(_share(_with(name, 'code=~"5.."'), name), name, naming=naming)
        for name, naming in (("apiserver_request_total", "Kubernetes 1.14+"), ("apiserver_request_count", "Kubernetes <1.14")))),
    Series("kubernetes", "etcd", "latency_p99", "ms", "lower", (("operation",),), (
        _v(_quantile(0.99, "etcd_request_duration_seconds_bucket", "* 1000"), "etcd_request_duration_seconds_bucket"),)),
    Series("kubernetes", "apiserver", "kubernetes_version", None, "equal", (("job",),), (
        _v(_labels('kubernetes_build_info{job="apiserver"}'), "kubernetes_build_info"),), kind="fact", fact_label="git_version"),
)

# ---------------------------------------------------------------- kube-state-metrics: kubernetes

NAMESPACE = (("namespace",),)
_RUNNING = 'max by (namespace, pod) (kube_pod_status_phase{phase="Running"} == 1)'

_kube_state = (
    Series("kubernetes", "pods", "restarts", "count", "lower", NAMESPACE, (
        _v(_count("kube_pod_container_status_restarts_total"), "kube_pod_container_status_restarts_total"),)),
    # Completed job pods report Ready=false for ever: count not-ready pods that are Running.
    Series("kubernetes", "pods", "not_ready", "count", "lower", NAMESPACE, (
        _v(f'sum by ($by) (avg_over_time(kube_pod_status_ready{{condition="false"}}[$block]) '
           f'* on (namespace, pod) group_left () {_RUNNING})',
           "kube_pod_status_ready", "kube_pod_status_phase"),)),
    Series("kubernetes", "nodes", "not_ready", "count", "lower", (("condition",),), (
        _v('sum by ($by) (max_over_time(kube_node_status_condition{condition="Ready",status!="true"}[$block]))',
           "kube_node_status_condition"),)),
    Series("kubernetes", "nodes", "under_pressure", "count", "lower", (("condition",),), (
        _v('sum by ($by) (max_over_time(kube_node_status_condition{condition=~".+Pressure",status="true"}[$block]))',
           "kube_node_status_condition"),)),
)

# ---------------------------------------------------------------- postgres_exporter: database

DATABASE = (("datname",),)
SERVER = (("instance",),)

_postgres = (
    Series("database", "postgres", "connections_{state}", "count", "lower", DATABASE, (
        _v(_mean("pg_stat_activity_count"), "pg_stat_activity_count"),)),
    Series("database", "postgres", "cache_hit", "percent", "higher", DATABASE, (
        _v(_hit_share("pg_stat_database_blks_hit", "pg_stat_database_blks_read"),
           "pg_stat_database_blks_hit", "pg_stat_database_blks_read"),)),
    Series("database", "postgres", "deadlocks", "count", "lower", DATABASE, (
        _v(_count("pg_stat_database_deadlocks"), "pg_stat_database_deadlocks"),)),
    Series("database", "postgres", "rollback_rate", "rate", "lower", DATABASE, (
        _v(f"{_count('pg_stat_database_xact_rollback')} / ({_count('pg_stat_database_xact_rollback')} + "
           f"{_count('pg_stat_database_xact_commit')})", "pg_stat_database_xact_rollback", "pg_stat_database_xact_commit"),)),
    Series("database", "postgres", "temp_bytes", "bytes", "lower", DATABASE, (
        _v(_count("pg_stat_database_temp_bytes"), "pg_stat_database_temp_bytes"),)),
    Series("database", "postgres_server", "connection_use", "percent", "lower", SERVER, (
        _v(f"100 * {_mean('pg_stat_activity_count')} / {_mean('pg_settings_max_connections')}",
           "pg_stat_activity_count", "pg_settings_max_connections"),)),
    Series("database", "postgres_server", "server_version", None, "equal", SERVER, (
        _v(_labels("pg_static"), "pg_static"),), kind="fact", fact_label="short_version"),
    Series("database", "postgres_server", "postgres_exporter_version", None, "equal", SERVER, (
        _v(_labels("postgres_exporter_build_info"), "postgres_exporter_build_info"),), kind="fact", fact_label="version"),
)

PROFILES: Mapping[str, Profile] = {
    "node": Profile("node", "node-exporter", "nodes", _node),
    "coredns": Profile("coredns", "CoreDNS", "CoreDNS pods", _coredns, {"forward": "CoreDNS upstreams"}),
    "apiserver": Profile("apiserver", "kube-apiserver", "API verbs", _apiserver, {"etcd": "etcd operations"}),
    "kube-state": Profile("kube-state", "kube-state-metrics", "namespaces", _kube_state, {"nodes": "node conditions"}),
    "postgres": Profile("postgres", "postgres_exporter", "databases", _postgres, {"postgres_server": "PostgreSQL servers"}),
}
PROFILE_NAMES: tuple[str, ...] = tuple(PROFILES)
