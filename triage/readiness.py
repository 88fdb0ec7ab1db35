"""`triage doctor`: for each layer, whether its probes can run here and what they lack, with
the fix for each gap. Read-only and fast: every request is one the probes would make anyway
(or an access review, which changes nothing), bounded by its own timeout (at most
``MAX_WAIT_S``, whatever the config says), and the layers are checked side by side.

A finding's ``status``:
- ``ok``: every probe of the layer can run;
- ``partly``: it runs, but some probe will be skipped (pg_stat_statements missing) or a part of
  it is left out (no conntrack): a run records that, and judges the rest;
- ``cannot``: some probe would end in an error (no access, unreachable, refused RBAC), so a
  comparison of the run would be inconclusive for the layer: what exit 4 means;
- ``off``: not configured, nothing will run (the fix says how to turn it on).
"""

from __future__ import annotations

import dataclasses
import os
import socket
import sys
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Callable

from .config import Config, Target
from .errors import ExitStatus, TriageError
from .formatting import plural
from .layers import LAYERS

MAX_WAIT_S = 5.0  # the longest any one check waits for an answer
STATUSES = ("ok", "partly", "cannot", "off")


@dataclass(frozen=True)
class Finding:
    layer: str  # a layer, "load" (what --load would ramp) or "prometheus" (the history source)
    status: str  # one of STATUSES
    text: str  # what was found, one line
    fix: str = ""  # what to do about the gap

    def line(self) -> str:
        return f"{self.layer:<10} {self.status:<6}  {self.text}" + (f" — fix: {self.fix}" if self.fix else "")


@dataclass(frozen=True)
class Checkup:
    source: str  # the config checked
    findings: tuple[Finding, ...]

    @property
    def exit_status(self) -> int:
        """0 when every configured layer can run, 4 when one cannot."""
        return int(ExitStatus.INCONCLUSIVE if any(f.status == "cannot" for f in self.findings) else ExitStatus.OK)


def _wait(seconds: float) -> float:
    return min(seconds, MAX_WAIT_S)


def _one_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return (text[0] if text else type(exc).__name__)[:300]


# ---------------------------------------------------------------- kernel


KERNEL_FILES = ("net/snmp", "net/netstat", "net/softnet_stat", "net/dev")
CONNTRACK_FILES = ("net/stat/nf_conntrack", "sys/net/netfilter/nf_conntrack_count")


def check_kernel(config: Config, proc_root: str = "/proc") -> Finding:
    if not sys.platform.startswith("linux"):
        return Finding("kernel", "partly", "not Linux: only tcp_connect runs (the counters read /proc)",
                       "run triage on the platform's Linux nodes for the kernel counters")
    unreadable = [f for f in KERNEL_FILES if not os.access(os.path.join(proc_root, f), os.R_OK)]
    targets = len(config.endpoints())
    connect = f"tcp_connect to {plural(targets, 'target')}" if targets else \
        "tcp_connect to a loopback listener of its own (no target has a host)"
    if unreadable:
        return Finding("kernel", "partly", f"{connect}; cannot read {', '.join('/proc/' + f for f in unreadable)}: "
                       "those counters are left out", "run where /proc/net is readable (the host's network "
                       "namespace, not a restricted container)")
    if not all(os.path.exists(os.path.join(proc_root, f)) for f in CONNTRACK_FILES):
        return Finding("kernel", "partly", f"{connect}; /proc/net counters readable; nf_conntrack not loaded: its "
                       "counters are left out", "none needed if the platform does not use conntrack; else "
                       "modprobe nf_conntrack")
    return Finding("kernel", "ok", f"{connect}; /proc/net counters and conntrack readable")


# ---------------------------------------------------------------- dns


def _ask(resolver: str, name: str, timeout_s: float) -> str | None:
    """None when ``resolver`` answered one A query for ``name``, else why not."""
    from .dns_client import QueryTemplate, WireClient
    from .probes.dns import resolver_address

    host, port, _ = resolver_address(resolver)
    try:
        with WireClient(host, port, timeout_s, rcvtimeo=False) as client:
            reply = client.exchange([bytes(QueryTemplate(name, "A").next(0))])[0]
    except OSError as exc:
        return f"{resolver} ({host}:{port}): {exc.strerror or exc}"
    if reply.error:
        return f"{resolver} ({host}:{port}): {reply.error}"
    if reply.rcode is None:
        return f"{resolver} ({host}:{port}): no answer within {timeout_s:g}s"
    return None if reply.rcode in (0, 3) else f"{resolver} ({host}:{port}): rcode {reply.rcode} for {name}"


def _libc_path() -> str:
    from .repro import netns

    usable, reason = netns.available()
    return ("the libc path of `triage repro dns` is available (user namespaces)" if usable else
            f"`triage repro dns` will use the wire path: no namespaces here ({reason})")


def check_dns(config: Config) -> Finding:
    from .config import split_resolver
    from .probes.dns import probe_names
    from .resolvconf import read_system_resolv_conf

    conf, path, _ = read_system_resolv_conf()
    names = probe_names(config)
    libc = _libc_path()
    if not names:
        return Finding("dns", "off", f"no names to resolve ({path}: nameservers "
                       f"{', '.join(conf.nameservers) or 'none'}); {libc}",
                       "list the names your service resolves in dns.names, or give targets a url, dsn or host")
    failing = [why for r in config.dns.resolvers if (why := _ask(split_resolver(r)[1], names[0],
                                                                  _wait(config.dns.timeout_s)))]
    asked = f"{plural(len(names), 'name')} at {plural(len(config.dns.resolvers), 'resolver')}"
    if failing:
        return Finding("dns", "cannot", f"{asked}; not answering: {'; '.join(failing)}; {libc}",
                       "check dns.resolvers (system is the first nameserver of resolv.conf, port 53)")
    return Finding("dns", "ok", f"{asked}, each answered a query for {names[0]}; {libc}")


# ---------------------------------------------------------------- kubernetes


def check_kubernetes(config: Config) -> Finding:
    from .kube_client import Forbidden, KubeError, NotFound, client_for, layer_enabled
    from .probes.kube_reads import OPENSHIFT_DISCOVERY, VERSION, reads

    kcfg = config.kubernetes
    if not layer_enabled(kcfg):
        return Finding("kubernetes", "off", "no kubeconfig", "add a kubernetes: section to triage.yaml "
                       "(triage init writes it from your kubeconfig), or set KUBECONFIG")
    kcfg = dataclasses.replace(kcfg, timeout_s=_wait(kcfg.timeout_s))
    try:
        client = client_for(kcfg)
        version = client.get(VERSION).get("gitVersion", "?")
        try:
            client.get(OPENSHIFT_DISCOVERY)
            openshift = True
        except NotFound:
            openshift = False
        where = f"{client.source} reachable (Kubernetes {version}{', OpenShift' if openshift else ''})"
        denied = [(probe, api) for probe, api in reads(kcfg, openshift) if not client.may(api)[0]]
    except Forbidden as exc:
        return Finding("kubernetes", "partly", f"reachable, but its RBAC cannot be checked ({_one_line(exc)})",
                       "let this user create selfsubjectaccessreviews (every authenticated user may by default)")
    except (KubeError, TriageError) as exc:
        return Finding("kubernetes", "cannot", _one_line(exc), "check the kubeconfig, its context and the "
                       "API server address (kubectl --context ... version)")
    if not denied:
        return Finding("kubernetes", "ok", f"{where}; RBAC allows every request the probes make")
    missing = "; ".join(dict.fromkeys(api.permission().split(";")[0] + f" ({probe})" for probe, api in denied))
    fixes = "; ".join(dict.fromkeys(api.permission().split("; ", 1)[-1] for _, api in denied))
    return Finding("kubernetes", "cannot", f"{where}; missing RBAC: {missing}", fixes)


# ---------------------------------------------------------------- database


def _database_target(target: Target) -> tuple[str, str, str]:
    """(status, text, fix) for one database target."""
    from .probes.database import QueryFailed, explain_plan, statements_reading
    from .probes import ProbeSkipped
    from .probes.pg_connect import Attempts, ConnectionRejected, DatabaseUnreachable, open_connection

    short = dataclasses.replace(target, timeout_s=max(2.0, _wait(target.timeout_s)))  # libpq's floor is 2 s
    try:
        conn = open_connection(short, short.timeout_s, Attempts(short))
    except (ConnectionRejected, DatabaseUnreachable) as exc:
        return "cannot", _one_line(exc), "check the dsn, the password (PGPASSWORD, ~/.pgpass) and pg_hba.conf"
    if conn is None:
        return "cannot", f"{target.name}: the server refused the connection for capacity (too many clients)", \
            "free connection slots, or raise max_connections"
    try:
        version = conn.info.server_version
        parts = [f"{target.name}: PostgreSQL {version // 10000}.{version % 10000}"]
        status, fix = "ok", ""
        with conn.cursor() as cur:
            for q in target.queries:
                try:
                    explain_plan(cur, q, target)
                except QueryFailed as exc:
                    return "cannot", f"{parts[0]}; {_one_line(exc)}", "fix the query's sql in triage.yaml"
            if target.queries:
                parts.append(f"{plural(len(target.queries), 'critical query', 'critical queries')} "
                             "plan")
            try:
                statements_reading(conn)
            except ProbeSkipped as exc:
                text = str(exc)
                reason, _, how = text.partition(" (")
                parts.append(f"{reason}: the statements probe will be skipped")
                status, fix = "partly", how.rstrip(")") or text
    finally:
        conn.close()
    return status, "; ".join(parts), fix


def check_database(config: Config) -> Finding:
    targets = [t for t in config.targets if t.dsn]
    if not targets:
        return Finding("database", "off", "no target with a dsn",
                       "add a target with dsn: (and its critical queries) to triage.yaml")
    results = [_database_target(t) for t in targets]
    worst = max((r[0] for r in results), key=STATUSES.index)
    return Finding("database", worst, "; ".join(r[1] for r in results),
                   "; ".join(dict.fromkeys(r[2] for r in results if r[2])))


# ---------------------------------------------------------------- app


def _app_target(target: Target) -> str | None:
    """None when the endpoint answered as expected (or, for a method that is not read-only, took
    a TCP connection), else what went wrong."""
    import requests

    from .http_deadline import request_within
    from .probes.app import scrub, session_for, short_reason

    timeout = _wait(target.timeout_s)
    if target.method not in ("GET", "HEAD"):
        host, port = target.endpoint or ("", 0)
        try:
            socket.create_connection((host, port), timeout=timeout).close()
        except OSError as exc:
            return f"{target.name}: cannot connect to {host}:{port}: {exc.strerror or exc}"
        return None
    try:
        with session_for(target, requests) as session:
            response = request_within(session, target.method, target.url, timeout, allow_redirects=False)
    except requests.exceptions.RequestException as exc:
        return scrub(f"{target.name}: no answer: {short_reason(exc)}", target)
    if response.status_code not in target.expect_status:
        return f"{target.name}: answered {response.status_code}, expected {', '.join(map(str, target.expect_status))}"
    return None


def check_app(config: Config) -> Finding:
    targets = [t for t in config.targets if t.url]
    if not targets:
        return Finding("app", "off", "no target with a url", "add your service's endpoints as targets with url:")
    problems = [p for t in targets if (p := _app_target(t))]
    if any("no answer" in p or "cannot connect" in p for p in problems):
        return Finding("app", "cannot", "; ".join(problems), "check the url, and that the service is up")
    if problems:
        # An unexpected status is a measurement (the errors rate), not a probe that fails.
        return Finding("app", "partly", "; ".join(problems), "check expect_status, or the endpoint")
    return Finding("app", "ok", f"{plural(len(targets), 'endpoint')} answered as expected")


# ---------------------------------------------------------------- prometheus


def check_prometheus(config: Config) -> Finding | None:
    if config.prometheus is None:
        return None
    from .sources.prometheus.client import PrometheusClient, PrometheusRefused, PrometheusUnavailable, shown_url
    from .sources.prometheus.collect import plan, request_headers

    p = config.prometheus
    try:
        client = PrometheusClient(p.url, request_headers(p), verify=p.verify, timeout_s=_wait(p.timeout_s), retries=0)
    except TriageError as exc:
        return Finding("prometheus", "cannot", _one_line(exc), "check prometheus.token_file")
    now = time.time()
    try:
        present = set(client.label_values("__name__", now - 3600, now))
    except PrometheusRefused as exc:
        return Finding("prometheus", "cannot", _one_line(exc).removeprefix("prometheus: "),
                       "a fresh token in prometheus.headers or token_file")
    except PrometheusUnavailable as exc:
        return Finding("prometheus", "cannot", _one_line(exc), "check prometheus.url and that it is reachable")
    finally:
        client.close()
    planned, _, _ = plan(p, present)
    profiles = list(dict.fromkeys(x.profile for x in planned if x.profile))
    if not profiles:
        return Finding("prometheus", "partly", f"{shown_url(p.url)} answers with its credentials; no profile's "
                       "metrics in the last hour (older windows may have them)", "check prometheus.profiles")
    return Finding("prometheus", "ok", f"{shown_url(p.url)} answers with its credentials; metrics of "
                   f"{', '.join(profiles)} in the last hour")


# ---------------------------------------------------------------- load ramps


def check_load(config: Config) -> Finding:
    """What ``--load`` would ramp, how long it would take, and whether any target is beyond
    loopback (``--load`` refuses those, exit 2, until ``--allow-load`` names them). Sends nothing."""
    from .load.ramp import plan_ramps
    from .loopback import ALLOW_LOAD_FLAG, is_loopback

    plans = plan_ramps(config, LAYERS)
    if not plans:
        return Finding("load", "off", "no target to ramp with --load", "a url target, dns names or a database "
                       "query gives --load something to ramp")
    per_layer = Counter(p.layer for p in plans)
    counts = ", ".join(f"{layer} {per_layer[layer]}" for layer in LAYERS if per_layer[layer])
    seconds = sum(len(p.steps.steps) for p in plans) * config.load.step_duration_s
    text = (f"--load would ramp {plural(len(plans), 'target')} ({counts}), "
            f"at most {seconds:,.0f} s of steps, {config.load.max_requests:,} requests a ramp")
    beyond = sorted({p.host for p in plans if p.host is not None and not is_loopback(p.host)})
    if beyond:
        return Finding("load", "partly", f"{text}; not loopback, so refused: {', '.join(beyond)}",
                       f"{ALLOW_LOAD_FLAG} {','.join(beyond)} once the owners agree to the load")
    return Finding("load", "ok", f"{text}; every target on loopback")


# ---------------------------------------------------------------- all of it


CHECKS: tuple[tuple[str, Callable[[Config], Finding | None]], ...] = (
    ("kernel", check_kernel), ("dns", check_dns), ("kubernetes", check_kubernetes),
    ("database", check_database), ("app", check_app), ("load", check_load), ("prometheus", check_prometheus))


def checkup(config: Config) -> Checkup:
    """Every check, side by side: the slowest decides how long it takes."""
    def run(item: tuple[str, Callable[[Config], Finding | None]]) -> Finding | None:
        layer, check = item
        try:
            return check(config)
        except TriageError as exc:
            return Finding(layer, "cannot", _one_line(exc))

    with ThreadPoolExecutor(max_workers=len(CHECKS), thread_name_prefix="triage-doctor") as pool:
        findings = [f for f in pool.map(run, CHECKS) if f is not None]
    order = {name: i for i, name in enumerate((*LAYERS, "load", "prometheus"))}
    return Checkup(config.source, tuple(sorted(findings, key=lambda f: order.get(f.layer, 99))))

