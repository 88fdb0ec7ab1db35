"""triage.yaml: load safely, validate with file:line in every error, expand ${ENV} references.

Secrets (passwords in DSNs and URLs, header values) live only in the Config object; every
name a target shows to the outside world goes through ``mask_secrets``.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from typing import Any, Mapping
from urllib.parse import urlsplit

from .errors import BadInput
from .layers import LAYERS
from .load.config import LoadConfig, parse_load
from .secrets import dsn_secrets, http_secrets, mask_secrets
from .sources.prometheus.profiles import PROFILE_NAMES
from .sources.prometheus.windows import parse_duration
from .yamlfile import YamlReader, read_yaml, read_yaml_file, show

DEFAULT_CONFIG_NAME = "triage.yaml"
DEFAULT_SAMPLES = 100
# Sub-runs per latency probe (a fresh connection, socket or session each): per-connection
# state (a client and its backend on one vCPU or two: 0.03 vs 0.09 ms a query) then varies
# within a run instead of deciding a whole run. Ten, as pyperf spreads values over processes.
DEFAULT_GROUPS = 10
# The shortest window the groups of a run are spread over, in seconds: a noisy neighbour
# that comes and goes within a second is then sampled on and off, not in one moment of it.
DEFAULT_SPREAD_S = 1.0

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:@/-]*$")


@dataclass(frozen=True)
class Query:
    name: str
    sql: str


@dataclass(frozen=True)
class Target:
    """Something the platform serves. Which layers it fans out into depends on its keys."""

    name: str
    url: str | None = field(default=None, repr=False)
    host: str | None = None
    port: int | None = None
    dsn: str | None = field(default=None, repr=False)
    queries: tuple[Query, ...] = ()
    method: str = "GET"
    expect_status: tuple[int, ...] = (200,)
    headers: Mapping[str, str] = field(default_factory=dict, repr=False)
    verify: bool | str = True
    timeout_s: float = 5.0
    samples: int | None = None
    groups: int | None = None  # app and database probes of this target; None: the section's or top level
    fanout: bool = True
    large_table_rows: int = 100_000  # database: a sequential scan of a table this big is flagged

    @property
    def endpoint(self) -> tuple[str, int] | None:
        """(host, port) this target is reached at, for the kernel and dns layers."""
        if self.url:
            parts = urlsplit(self.url)
            default = 443 if parts.scheme == "https" else 80
            if parts.hostname:
                return parts.hostname, parts.port or default
        if self.dsn:
            host, port = dsn_endpoint(self.dsn)
            if host:
                return host, port
        if self.host:
            return self.host, self.port or 0
        return None

    @property
    def fans_out(self) -> bool:
        """Probed by the dns and kernel layers too: always for a bare host, else unless fanout is off."""
        return self.fanout or not (self.url or self.dsn)

    @property
    def shown(self) -> str:
        """How the target appears in snapshots and reports: never with a secret."""
        return mask_secrets(self.url or self.dsn or (f"{self.host}:{self.port}" if self.port else self.host or self.name))

    def mask(self, text: str) -> str:
        """One line of ``text`` with none of this target's secrets in any of their forms."""
        known = http_secrets(self.url, self.headers) | (dsn_secrets(self.dsn) if self.dsn else set())
        return mask_secrets(" ".join(str(text).split()), known)


def dsn_endpoint(dsn: str) -> tuple[str | None, int]:
    """Host and port of a PostgreSQL DSN, URL form or key=value form."""
    if "://" in dsn:
        parts = urlsplit(dsn)
        return parts.hostname, parts.port or 5432
    kv = dict(re.findall(r"(\w+)\s*=\s*('[^']*'|\S+)", dsn))
    host = kv.get("host", "").strip("'") or None
    port = kv.get("port", "5432").strip("'")
    return host, int(port) if port.isdigit() else 5432


@dataclass(frozen=True)
class DnsConfig:
    resolvers: tuple[str, ...] = ("system",)
    names: tuple[str, ...] = ()
    qtypes: tuple[str, ...] = ("A", "AAAA")
    cache_miss: bool = False
    concurrency: int = 8
    timeout_s: float = 2.0
    samples: int | None = None
    groups: int | None = None


@dataclass(frozen=True)
class KubernetesConfig:
    kubeconfig: str | None = None
    context: str | None = None
    namespaces: tuple[str, ...] = ()
    timeout_s: float = 10.0
    enabled: bool = False
    groups: int | None = None


@dataclass(frozen=True)
class PromQuery:
    """A query of your own beside the profiles (``prometheus.queries``): one sample per block."""

    layer: str
    probe: str
    metric: str
    promql: str  # $block: the block length, e.g. 5m
    unit: str | None = None
    better: str = "lower"
    by: tuple[str, ...] = ()  # the labels that name a target; none: one target, "all"


@dataclass(frozen=True)
class PrometheusConfig:
    """``prometheus:``: where monitoring's history is read from (triage probe --from prometheus)."""

    url: str = field(repr=False)
    headers: Mapping[str, str] = field(default_factory=dict, repr=False)
    token_file: str | None = None  # read at each run (tokens rotate), sent as a Bearer token
    verify: bool | str = True  # or a CA bundle path
    block_s: float = 300.0  # one sample per block per series
    profiles: tuple[str, ...] | None = None  # None: every profile whose metrics exist in the window
    queries: tuple[PromQuery, ...] = ()
    timeout_s: float = 30.0
    concurrency: int = 4  # queries in flight at once


@dataclass(frozen=True)
class Config:
    source: str = "<built-in defaults>"
    samples: int = DEFAULT_SAMPLES
    groups: int = DEFAULT_GROUPS
    spread_s: float = DEFAULT_SPREAD_S
    probe_timeout_s: float = 120.0
    targets: tuple[Target, ...] = ()
    dns: DnsConfig = DnsConfig()
    kubernetes: KubernetesConfig = KubernetesConfig()
    prometheus: PrometheusConfig | None = None
    load: LoadConfig = LoadConfig()  # the ramps of `triage probe --load` (triage.load)

    def endpoints(self) -> list[tuple[str, tuple[str, int]]]:
        """(target name, (host, port)) for every target that fans out to a reachable port."""
        out = []
        for t in self.targets:
            ep = t.endpoint
            if ep and ep[1] and t.fans_out:
                out.append((t.name, ep))
        return out


# --- loading -------------------------------------------------------------------------------


def split_resolver(spec: str) -> tuple[str | None, str]:
    """``NAME=IP[:port]`` -> (NAME, address); anything else -> (None, spec).

    A name keeps metrics comparable when the address differs between the platforms
    compared (each cluster's DNS service, the demo's two servers)."""
    name, sep, address = spec.partition("=")
    return (name, address) if sep else (None, spec)


def _check_resolver(value: str, path: str, r: YamlReader) -> str:
    from .resolvconf import split_hostport

    expected = f"expected 'system', IP[:port], [IPv6]:port or NAME=IP[:port], got {show(value)}"
    name, address = split_resolver(value)
    if name is not None and not _NAME.match(name):
        raise r.fail(path, expected)
    if address != "system":
        try:
            split_hostport(address)
        except ValueError:
            raise r.fail(path, expected) from None
    return value


def _target(r: YamlReader, raw: Any, path: str) -> Target:
    d = r.mapping(raw, path, ("name", "url", "host", "port", "dsn", "queries", "method", "expect_status",
                              "headers", "verify", "timeout", "samples", "groups", "fanout",
                              "large_table_rows"))
    if "name" not in d:
        raise r.fail(f"{path}.name", "required: every target needs a name")
    name = r.string(d["name"], f"{path}.name")
    if not _NAME.match(name):
        raise r.fail(f"{path}.name", f"expected letters, digits and . _ : @ / -, got {show(name)}")
    kw: dict[str, Any] = {"name": name}
    if "url" in d:
        url = r.string(d["url"], f"{path}.url")
        try:
            parts = urlsplit(url)
        except ValueError as exc:  # "Invalid IPv6 URL"
            raise r.fail(f"{path}.url", f"expected an http:// or https:// URL ({exc})") from None
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise r.fail(f"{path}.url", f"expected an http:// or https:// URL with a host, got {show(mask_secrets(url))}")
        try:
            parts.port
        except ValueError:
            raise r.fail(f"{path}.url", "expected a port 1-65535 in the URL") from None
        kw["url"] = url
    if "host" in d:
        kw["host"] = r.string(d["host"], f"{path}.host")
    if "port" in d:
        kw["port"] = r.integer(d["port"], f"{path}.port", 1, 65535)
    if "dsn" in d:
        kw["dsn"] = r.string(d["dsn"], f"{path}.dsn")
        try:
            dsn_endpoint(kw["dsn"])  # its host and port are probed by the dns and kernel layers
        except ValueError as exc:
            raise r.fail(f"{path}.dsn", "expected a postgresql:// URL or a libpq key=value string "
                         f"({mask_secrets(str(exc), dsn_secrets(kw['dsn']))})") from None
    if not any(k in kw for k in ("url", "host", "dsn")):
        raise r.fail(path, "expected one of url (app), dsn (database) or host (+port)")
    if "queries" in d:
        qs = d["queries"]
        if not isinstance(qs, list):
            raise r.fail(f"{path}.queries", f"expected a list of {{name, sql}}, got {show(qs)}")
        queries = []
        for i, q in enumerate(qs):
            qd = r.mapping(q, f"{path}.queries[{i}]", ("name", "sql"))
            for key in ("name", "sql"):
                if key not in qd:
                    raise r.fail(f"{path}.queries[{i}].{key}", "required field is missing")
            queries.append(Query(r.string(qd["name"], f"{path}.queries[{i}].name"),
                                 r.string(qd["sql"], f"{path}.queries[{i}].sql")))
        kw["queries"] = tuple(queries)
    if "method" in d:
        method = r.string(d["method"], f"{path}.method").upper()
        if method not in ("GET", "HEAD", "POST", "PUT", "DELETE", "OPTIONS", "PATCH"):
            raise r.fail(f"{path}.method", f"expected an HTTP method, got {show(method)}")
        kw["method"] = method
    if "expect_status" in d:
        raw_codes = d["expect_status"]
        codes = raw_codes if isinstance(raw_codes, list) else [raw_codes]
        kw["expect_status"] = tuple(r.integer(c, f"{path}.expect_status", 100, 599) for c in codes)
    if "headers" in d:
        hd = d["headers"]
        if not isinstance(hd, dict):
            raise r.fail(f"{path}.headers", f"expected a mapping of header: value, got {show(hd)}")
        for k, v in hd.items():
            if not isinstance(v, str) or not v:  # the value itself is not shown: it may be a secret
                raise r.fail(f"{path}.headers.{k}", "expected a non-empty string")
        kw["headers"] = {str(k): r.string(v, f"{path}.headers.{k}") for k, v in hd.items()}
        auth = next((k for k in kw["headers"] if k.lower() == "authorization"), None)
        if auth and kw.get("url") and urlsplit(kw["url"]).username is not None:
            # requests would send the URL's user:password as basic auth and silently drop the
            # configured header; which one the operator meant is theirs to say (issue 16).
            raise r.fail(f"{path}.headers.{auth}", "expected either this header or user:password in the url, "
                         "not both (the url's basic auth would replace the header)")
    if "verify" in d:
        v = d["verify"]
        kw["verify"] = v if isinstance(v, bool) else r.string(v, f"{path}.verify")
    if "timeout" in d:
        kw["timeout_s"] = r.number(d["timeout"], f"{path}.timeout", 0.001, 600)
    if "samples" in d:
        kw["samples"] = r.integer(d["samples"], f"{path}.samples", 1, 1_000_000)
    if "groups" in d:
        kw["groups"] = _groups(r, d["groups"], f"{path}.groups")
    if "fanout" in d:
        kw["fanout"] = r.boolean(d["fanout"], f"{path}.fanout")
    if "large_table_rows" in d:
        kw["large_table_rows"] = r.integer(d["large_table_rows"], f"{path}.large_table_rows", 0, 10**12)
    return Target(**kw)


def _groups(r: YamlReader, value: Any, path: str) -> int:
    return r.integer(value, path, 1, 10_000)


def parse_config(text: str, source: str) -> Config:
    return _config(*read_yaml(text, source), source)


def _config(data: Any, r: YamlReader, source: str) -> Config:
    top = r.mapping(data, "", ("samples", "groups", "spread", "probe_timeout", "targets", "dns", "kubernetes",
                               "prometheus", "load"))
    kw: dict[str, Any] = {"source": source}
    if "samples" in top:
        kw["samples"] = r.integer(top["samples"], "samples", 1, 1_000_000)
    if "groups" in top:
        kw["groups"] = _groups(r, top["groups"], "groups")
    if "spread" in top:
        kw["spread_s"] = r.number(top["spread"], "spread", 0, 3600)
    if "probe_timeout" in top:
        kw["probe_timeout_s"] = r.number(top["probe_timeout"], "probe_timeout", 0.1, 86400)
    raw_targets = top.get("targets") or []
    if not isinstance(raw_targets, list):
        raise r.fail("targets", f"expected a list of targets, got {show(raw_targets)}")
    targets = tuple(_target(r, t, f"targets[{i}]") for i, t in enumerate(raw_targets))
    seen: set[str] = set()
    for i, t in enumerate(targets):
        if t.name in seen:
            raise r.fail(f"targets[{i}].name", f"expected a unique name, {t.name!r} is used twice")
        seen.add(t.name)
    kw["targets"] = targets
    if "dns" in top:
        d = r.mapping(top["dns"], "dns", ("resolvers", "names", "qtypes", "cache_miss", "concurrency",
                                          "timeout", "samples", "groups"))
        dkw: dict[str, Any] = {}
        if "resolvers" in d:
            dkw["resolvers"] = r.strings(d["resolvers"], "dns.resolvers", lambda v, p: _check_resolver(v, p, r))
        if "names" in d:
            dkw["names"] = r.strings(d["names"], "dns.names")
        if "qtypes" in d:
            def qtype(v: str, p: str) -> str:
                if v.upper() not in ("A", "AAAA"):
                    raise r.fail(p, f"expected A or AAAA, got {show(v)}")
                return v.upper()
            dkw["qtypes"] = r.strings(d["qtypes"], "dns.qtypes", qtype)
        if "cache_miss" in d:
            dkw["cache_miss"] = r.boolean(d["cache_miss"], "dns.cache_miss")
        if "concurrency" in d:
            dkw["concurrency"] = r.integer(d["concurrency"], "dns.concurrency", 1, 256)
        if "timeout" in d:
            dkw["timeout_s"] = r.number(d["timeout"], "dns.timeout", 0.001, 60)
        if "samples" in d:
            dkw["samples"] = r.integer(d["samples"], "dns.samples", 1, 1_000_000)
        if "groups" in d:
            dkw["groups"] = _groups(r, d["groups"], "dns.groups")
        kw["dns"] = DnsConfig(**dkw)
    if "kubernetes" in top:
        k = r.mapping(top["kubernetes"], "kubernetes", ("kubeconfig", "context", "namespaces", "timeout", "groups"))
        kkw: dict[str, Any] = {"enabled": True}
        if "kubeconfig" in k:
            kkw["kubeconfig"] = os.path.expanduser(r.string(k["kubeconfig"], "kubernetes.kubeconfig"))
        if "context" in k:
            kkw["context"] = r.string(k["context"], "kubernetes.context")
        if "namespaces" in k:
            kkw["namespaces"] = r.strings(k["namespaces"], "kubernetes.namespaces")
        if "timeout" in k:
            kkw["timeout_s"] = r.number(k["timeout"], "kubernetes.timeout", 0.1, 600)
        if "groups" in k:
            kkw["groups"] = _groups(r, k["groups"], "kubernetes.groups")
        kw["kubernetes"] = KubernetesConfig(**kkw)
    if "prometheus" in top:
        kw["prometheus"] = _prometheus(r, top["prometheus"])
    if "load" in top:
        kw["load"] = parse_load(r, top["load"])
    return Config(**kw)


_LABEL = re.compile(r"^[a-zA-Z_][a-zA-Z0-9_]*$")
_METRIC_NAME = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.:-]*$")


def _prometheus(r: YamlReader, raw: Any) -> PrometheusConfig:
    p = r.mapping(raw, "prometheus", ("url", "headers", "token_file", "verify", "block", "profiles", "queries",
                                      "timeout", "concurrency"))
    if "url" not in p:
        raise r.fail("prometheus.url", "required: the Prometheus (or Thanos querier) base URL")
    url = r.string(p["url"], "prometheus.url")
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname or parts.query:
        raise r.fail("prometheus.url", f"expected an http:// or https:// base URL with a host and no query, "
                                       f"got {show(mask_secrets(url))}")
    kw: dict[str, Any] = {"url": url}
    if "headers" in p:
        hd = p["headers"]
        if not isinstance(hd, dict) or not hd:
            raise r.fail("prometheus.headers", "expected a mapping of header: value, e.g. "
                                               "{Authorization: \"Bearer ${PROM_TOKEN}\"}")
        kw["headers"] = {str(k): r.string(v, f"prometheus.headers.{k}") for k, v in hd.items()}
    if "token_file" in p:
        if any(k.lower() == "authorization" for k in kw.get("headers", {})):
            raise r.fail("prometheus.token_file", "expected either token_file or an Authorization header, not both")
        kw["token_file"] = os.path.expanduser(r.string(p["token_file"], "prometheus.token_file"))
    if "verify" in p:
        v = p["verify"]
        kw["verify"] = v if isinstance(v, bool) else os.path.expanduser(r.string(v, "prometheus.verify"))
        if isinstance(kw["verify"], str) and not os.path.isfile(kw["verify"]):
            raise r.fail("prometheus.verify", f"expected true, false or a CA bundle file, {show(v)} does not exist")
    if "block" in p:
        kw["block_s"] = _duration_s(r, p["block"], "prometheus.block", 1, 86400)
    if "timeout" in p:
        kw["timeout_s"] = r.number(p["timeout"], "prometheus.timeout", 0.1, 600)
    if "concurrency" in p:
        kw["concurrency"] = r.integer(p["concurrency"], "prometheus.concurrency", 1, 32)
    if "profiles" in p:
        def known(v: str, path: str) -> str:
            if v not in PROFILE_NAMES:
                raise r.fail(path, f"expected one of {', '.join(PROFILE_NAMES)}, got {show(v)}")
            return v
        kw["profiles"] = r.strings(p["profiles"], "prometheus.profiles", known)
    raw_queries = p.get("queries") or []
    if not isinstance(raw_queries, list):
        raise r.fail("prometheus.queries", f"expected a list of {{layer, probe, metric, promql, ...}}, got "
                                           f"{show(raw_queries)}")
    queries, seen = [], set()
    for i, q in enumerate(raw_queries):
        path = f"prometheus.queries[{i}]"
        d = r.mapping(q, path, ("layer", "probe", "metric", "promql", "unit", "better", "by"))
        for key in ("layer", "probe", "metric", "promql"):
            if key not in d:
                raise r.fail(f"{path}.{key}", "required field is missing")
        layer = r.string(d["layer"], f"{path}.layer")
        if layer not in LAYERS:
            raise r.fail(f"{path}.layer", f"expected one of {', '.join(LAYERS)}, got {show(layer)}")
        names = {}
        for key in ("probe", "metric"):
            names[key] = r.string(d[key], f"{path}.{key}")
            if not _METRIC_NAME.match(names[key]):
                raise r.fail(f"{path}.{key}", f"expected letters, digits and _ . : -, got {show(names[key])}")
        better = r.string(d["better"], f"{path}.better") if "better" in d else "lower"
        if better not in ("lower", "higher", "equal"):
            raise r.fail(f"{path}.better", f"expected lower, higher or equal, got {show(better)}")
        by = r.strings(d["by"], f"{path}.by") if "by" in d else ()
        for j, label in enumerate(by):
            if not _LABEL.match(label):
                raise r.fail(f"{path}.by[{j}]", f"expected a Prometheus label name, got {show(label)}")
        key = (layer, names["probe"], names["metric"])
        if key in seen:
            raise r.fail(f"{path}.metric", f"expected a unique layer/probe/metric, {'/'.join(key)} is used twice")
        seen.add(key)
        queries.append(PromQuery(layer, names["probe"], names["metric"], r.string(d["promql"], f"{path}.promql"),
                                 r.string(d["unit"], f"{path}.unit") if "unit" in d else None, better, by))
    kw["queries"] = tuple(queries)
    return PrometheusConfig(**kw)


def _duration_s(r: YamlReader, value: Any, path: str, lo: float, hi: float) -> float:
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        seconds = float(value)
    else:
        try:
            seconds = parse_duration(r.string(value, path), path).total_seconds()
        except BadInput:
            raise r.fail(path, f"expected a duration like 5m or 300 (seconds), got {show(value)}") from None
    if not lo <= seconds <= hi:
        raise r.fail(path, f"expected a duration between {lo:g} s and {hi:g} s, got {show(value)}")
    return seconds


def load_config(path: str | None = None) -> Config:
    """``path`` if given; else ./triage.yaml when present; else built-in defaults."""
    if path is None:
        if not os.path.exists(DEFAULT_CONFIG_NAME):
            return Config()
        path = DEFAULT_CONFIG_NAME
    return _config(*read_yaml_file(path, "config"), path)


def with_kubernetes(config: Config, kubeconfig: str | None = None, context: str | None = None) -> Config:
    """``config`` with --kubeconfig/--context applied; either one turns the kubernetes layer on.
    A kubeconfig named on the command line is checked now, so a typo is exit 2."""
    import dataclasses

    if kubeconfig is None and context is None:
        return config
    changes: dict[str, Any] = {"enabled": True}
    if kubeconfig is not None:
        changes["kubeconfig"] = os.path.expanduser(kubeconfig)
    if context is not None:
        changes["context"] = context
    updated = dataclasses.replace(config.kubernetes, **changes)
    if kubeconfig is not None:
        from .kube_client import validate_kubeconfig

        validate_kubeconfig(updated.kubeconfig, context)
    return dataclasses.replace(config, kubernetes=updated)
