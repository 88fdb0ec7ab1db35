"""What `triage init` writes: a commented triage.yaml, started from what this machine shows.

``look_around`` reads, never changes, never connects: resolv.conf through the one reader
(triage.resolvconf), the kubeconfig the kubernetes layer would use (its current context and
the namespaces its contexts name), a local PostgreSQL socket or the ``PG*`` variables, and a
Prometheus URL if one was given. ``starter_yaml`` turns that into text whose live keys are
what was seen (and the sub-run defaults), and whose commented blocks are templates for what
cannot be seen (app endpoints, a database's DSN and critical queries). Every value goes in as
a JSON string (valid YAML, any character escaped); nothing secret is ever written: no
password, no token, only where they come from.
"""

from __future__ import annotations

import glob
import json
import os
import socket
from dataclasses import dataclass, field
from typing import Mapping

from .config import DEFAULT_GROUPS, DEFAULT_SAMPLES, DEFAULT_SPREAD_S, KubernetesConfig
from .errors import BadInput, InputFileError, TriageError
from .resolvconf import ResolvConf, read_system_resolv_conf

# Where PostgreSQL puts its Unix sockets (Debian/Ubuntu/RHEL packages, then the upstream default).
SOCKET_DIRS = ("/var/run/postgresql", "/run/postgresql", "/tmp")
PG_VARIABLES = ("PGHOST", "PGPORT", "PGDATABASE", "PGUSER")  # never PGPASSWORD: it stays in the environment


@dataclass(frozen=True)
class Seen:
    """What init found, each part with the line it reports."""

    resolv: ResolvConf
    resolv_path: str
    kubeconfig: str | None = None
    context: str | None = None
    namespaces: tuple[str, ...] = ()  # the current context's first, then the other contexts'
    kube_problem: str | None = None  # the kubeconfig exists but could not be read
    sockets: tuple[str, ...] = ()  # PostgreSQL socket files
    pg_env: Mapping[str, str] = field(default_factory=dict)
    prometheus: str | None = None

    def report(self) -> list[str]:
        """One line per layer: what init wrote for it."""
        conf = self.resolv
        lines = [f"dns: {self.resolv_path}: nameservers {', '.join(conf.nameservers) or 'none (127.0.0.1)'}; "
                 f"search {' '.join(conf.search) or 'none'}; add the names your service resolves (dns.names)"]
        if self.kubeconfig and not self.kube_problem:
            ns = f", namespace {self.namespaces[0]}" if self.namespaces else ", no namespace (kubernetes.namespaces)"
            lines.append(f"kubernetes: context {self.context or '(current)'} of {self.kubeconfig}{ns}")
        else:
            lines.append(f"kubernetes: {self.kube_problem or 'no kubeconfig found'}: a commented template")
        if self.sockets or self.pg_env:
            found = " ".join(f"{k}={v}" for k, v in self.pg_env.items()) or ", ".join(self.sockets)
            lines.append(f"database: PostgreSQL at {found}: a commented target (add its critical queries)")
        else:
            lines.append("database: no local PostgreSQL socket or PG* variables: a commented template")
        lines.append("app: commented placeholders: add your service's endpoints under targets")
        lines.append(f"prometheus: {self.prometheus}" if self.prometheus else
                     "prometheus: not configured (triage init --prometheus URL writes it)")
        return lines


def _kubeconfig(environ: Mapping[str, str]) -> tuple[str | None, str | None, tuple[str, ...], str | None]:
    """(path, current context, namespaces, problem) of the kubeconfig the kubernetes layer would read."""
    from .kube_client import KubeError, kubeconfig_source, read_kubeconfigs

    path = environ.get("KUBECONFIG") or kubeconfig_source(KubernetesConfig())
    if not path:
        return None, None, (), None
    try:
        docs = read_kubeconfigs(path)
    except (TriageError, KubeError) as exc:  # a broken kubeconfig is reported in the file, not fatal
        return path, None, (), f"kubeconfig {path} could not be read ({str(exc).splitlines()[0][:120]})"
    current = next((d["current-context"] for _, d in reversed(docs) if isinstance(d.get("current-context"), str)),
                   None)
    namespaces: list[str] = []
    for _, doc in docs:
        for entry in doc.get("contexts") or []:
            ns = (entry.get("context") or {}).get("namespace") if isinstance(entry.get("context"), dict) else None
            if isinstance(ns, str) and ns:
                namespaces.insert(0, ns) if entry.get("name") == current else namespaces.append(ns)
    return path, current, tuple(dict.fromkeys(namespaces)), None


def _postgres(environ: Mapping[str, str]) -> tuple[tuple[str, ...], dict[str, str]]:
    sockets = tuple(sorted({p for d in SOCKET_DIRS for p in glob.glob(os.path.join(d, ".s.PGSQL.*"))
                            if not p.endswith(".lock")}))
    return sockets, {k: environ[k] for k in PG_VARIABLES if environ.get(k)}


def look_around(environ: Mapping[str, str] | None = None, prometheus: str | None = None) -> Seen:
    """What this machine shows the layers (read-only: no connection is made)."""
    environ = os.environ if environ is None else environ
    conf, path, _notes = read_system_resolv_conf()
    kubeconfig, context, namespaces, problem = _kubeconfig(environ)
    sockets, pg_env = _postgres(environ)
    return Seen(conf, path, kubeconfig, context, namespaces, problem, sockets, pg_env, prometheus)


def check_prometheus_url(url: str) -> None:
    """--prometheus as the config would take it as prometheus.url; BadInput naming the option."""
    from .config import parse_config

    try:
        parse_config(f"prometheus:\n  url: {json.dumps(url)}\n", "--prometheus")
    except InputFileError as exc:
        raise BadInput(f"--prometheus: {exc.reason}") from None


def _q(value: str) -> str:
    return json.dumps(value)


def _comment(text: str) -> str:
    """Text that came from outside, safe in a comment: one line."""
    return " ".join(text.split())


def _dns(seen: Seen) -> list[str]:
    conf = seen.resolv
    lines = ["dns:",
             f"  # {_comment(seen.resolv_path)}: nameservers {_comment(' '.join(conf.nameservers)) or 'none'}; "
             f"search {_comment(' '.join(conf.search)) or 'none'}; ndots {conf.ndots}, timeout {conf.timeout} s, "
             f"attempts {conf.attempts}",
             "  resolvers:",
             "    - system                    # the resolv.conf path: its first nameserver, port 53"]
    for i, ns in enumerate(conf.nameservers[1:], start=2):
        lines.append(f"    # - {_q(f'nameserver-{i}={ns}')}   # ask nameserver {i} directly too (glibc uses it "
                     "only when the first fails)")
    example = f"quay-db.{conf.search[0]}" if conf.search else "quay-db.quay.svc"
    lines += [f"  names: []                     # the names your service resolves, e.g. [{_q(example)}]; "
              "target hosts are added",
              "  qtypes: [A, AAAA]", ""]
    return lines


def _kubernetes(seen: Seen) -> list[str]:
    if seen.kubeconfig and not seen.kube_problem:
        others = ", ".join(_comment(n) for n in seen.namespaces[1:])
        lines = ["kubernetes:", f"  kubeconfig: {_q(seen.kubeconfig)}"]
        if seen.context:
            lines.append(f"  context: {_q(seen.context)}        # its current context")
        if seen.namespaces:
            lines.append(f"  namespaces: [{_q(seen.namespaces[0])}]" + (
                f"   # other namespaces its contexts name: {others}" if others else "") + "")
        else:
            lines.append("  namespaces: []               # the namespaces of your workloads, e.g. [quay]")
        return lines + ["  timeout: 10                   # seconds, every API request", ""]
    why = f"# {_comment(seen.kube_problem)}" if seen.kube_problem else "# no kubeconfig found ($KUBECONFIG, ~/.kube/config)"
    return [why, "# kubernetes:", "#   kubeconfig: ~/.kube/config", "#   context: staging",
            "#   namespaces: [quay]", ""]


def _database(seen: Seen) -> list[str]:
    # PG* variables first: they say which server this user works with; a socket, that one runs here.
    if seen.pg_env:
        env = seen.pg_env
        parts = [f"host={env['PGHOST']}" if "PGHOST" in env else "", f"port={env['PGPORT']}" if "PGPORT" in env else "",
                 f"dbname={env.get('PGDATABASE', 'postgres')}", f"user={env['PGUSER']}" if "PGUSER" in env else ""]
        dsn = " ".join(p for p in parts if p)
        where = "the PG* variables: " + _comment(" ".join(f"{k}={v}" for k, v in env.items()))
    elif seen.sockets:
        directory, _, port = seen.sockets[0].rpartition("/.s.PGSQL.")
        dsn = f"host={directory} port={port} dbname=postgres"
        where = f"a local PostgreSQL socket: {_comment(seen.sockets[0])}"
    else:
        dsn = "postgresql://quay@db.example.com:5432/quay"
        where = "a template: no local PostgreSQL socket or PG* variables were found"
    return [f"  # Database, from {where}",
            "  # - name: registry-db         # connect latency, critical queries and their plans, connections",
            f"  #   dsn: {_q(dsn)}   # password: PGPASSWORD, ~/.pgpass or ${{ENV}}, never here",
            "  #   queries:                  # the queries every request depends on (run read-only, rolled back)",
            '  #     - {name: image-layer-fetch, sql: "SELECT ..."}']


def _prometheus(seen: Seen) -> list[str]:
    if seen.prometheus:
        return ["prometheus:                     # triage probe --from prometheus --window ...",
                f"  url: {_q(seen.prometheus)}",
                '  # headers: {Authorization: "Bearer ${PROM_TOKEN}"}   # or token_file: ~/.triage/prom-token',
                "  # verify: ca.pem              # true (default), false, or a CA bundle",
                "  block: 5m                     # one sample per block per series", ""]
    return ["# prometheus:                   # history monitoring already recorded: triage init --prometheus URL",
            "#   url: https://thanos-querier.openshift-monitoring.svc:9091", ""]


def starter_yaml(seen: Seen, host: str | None = None) -> str:
    """The commented triage.yaml for what was ``seen``."""
    lines = [f"# triage.yaml, written by `triage init` on {_comment(host or socket.gethostname())} from what it "
             "could see.",
             "# Every key: docs/configuration.md. Next: `triage doctor` says what each layer still lacks here.",
             "",
             f"samples: {DEFAULT_SAMPLES}                      # samples per latency probe",
             f"groups: {DEFAULT_GROUPS}                        # the independent sub-runs they are taken in "
             "(a fresh connection, socket or session each)",
             f"spread: {DEFAULT_SPREAD_S:g}                         # seconds, at least, the groups of a run are "
             "spread over",
             "",
             "targets:",
             "  # What the platform serves; a URL's or DSN's host is also resolved (dns) and connected to",
             "  # (kernel). Uncomment and edit:",
             "  # - name: registry            # app: latency, status codes and errors of an endpoint",
             "  #   url: https://registry.example.com/health",
             "  #   expect_status: [200]",
             '  #   headers: {Authorization: "Bearer ${REGISTRY_TOKEN}"}   # ${ENV} references; values never recorded',
             "  # - name: db-host             # a host: dns and kernel only",
             "  #   host: db.example.com",
             "  #   port: 5432",
             *_database(seen),
             "",
             *_dns(seen),
             *_kubernetes(seen),
             *_prometheus(seen)]
    return "\n".join(lines).rstrip() + "\n"
