"""Kubernetes API access for the kubernetes probes, through the official ``kubernetes`` client.

The client does all the auth: kubeconfig contexts, exec credential plugins, client
certificates, tokens, in-cluster service accounts. This module picks where the config comes
from, sends bounded GETs (every one with the configured timeout) and turns failures into
errors that say what went wrong; a 401/403 names the permission that is missing. Bodies come
back as plain JSON, so the probes' parsers run the same on recorded captures.

Credentials stay inside the client. Every error text is masked of every credential the
client holds (``triage.secrets``: the auth headers it sends, the kubeconfig users' tokens,
passwords, client keys and exec-plugin environment), because an API server or a proxy may
echo the Authorization header into an error body (issue 16). The kubeconfig is read through
the bounded YAML loader (``triage.yamlfile``) and handed to the client as data, so a hostile
file is refused before the client's own unbounded loader could expand it. An exec plugin's
failure is reported by its exit status only: its stderr may hold credentials.

``kubernetes`` is imported inside functions: importing it takes about half a second.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import re
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any, Iterable, Iterator, Mapping
from urllib.parse import quote, urlencode

from .errors import InputFileError
from .secrets import header_secrets, kubeconfig_secrets, mask_secrets
from .yamlfile import read_yaml_file

NO_KUBECONFIG = "no kubeconfig: set kubernetes.kubeconfig in triage.yaml, --kubeconfig or KUBECONFIG"

DEFAULT_KUBECONFIG = "~/.kube/config"
PAGE_SIZE = 500  # items per list page; big lists are read in pages, as kubectl does


def layer_enabled(kcfg: Any) -> bool:
    """The layer runs with a ``kubernetes:`` config section, --kubeconfig/--context, or $KUBECONFIG."""
    return bool(kcfg.enabled or kcfg.kubeconfig or kcfg.context or os.environ.get("KUBECONFIG"))


def kubeconfig_source(kcfg: Any) -> str | None:
    """Where the kubeconfig comes from: the configured path, else $KUBECONFIG (may be a
    ``:``-separated list, merged by the client), else ~/.kube/config when it exists; None means
    the in-cluster service account."""
    if kcfg.kubeconfig:
        return os.path.expanduser(kcfg.kubeconfig)
    if os.environ.get("KUBECONFIG"):
        return os.environ["KUBECONFIG"]
    default = os.path.expanduser(DEFAULT_KUBECONFIG)
    return default if os.path.isfile(default) else None


def validate_kubeconfig(path: str, context: str | None) -> None:
    """Cheap check of a kubeconfig named on the command line, so a typo is exit 2 rather than
    a run of failed probes: the file exists, is a kubeconfig, and has ``context``."""
    data, _ = read_yaml_file(path, "kubeconfig")
    if not isinstance(data, dict) or not isinstance(data.get("contexts"), list):
        raise InputFileError(path, "expected a kubeconfig with a list of contexts", field="contexts")
    if context is not None:
        names = [c.get("name") for c in data["contexts"] if isinstance(c, dict)]
        if context not in names:
            raise InputFileError(path, f"no context {context!r} (--context); the file has: "
                                 f"{', '.join(map(str, names)) or '(none)'}", field="contexts")


# --- what a request reads, and the permission it needs -----------------------------------------


@dataclass(frozen=True)
class Api:
    """One GET against the API: builds the path and, when refused, the RBAC hint."""

    resource: str = ""  # plural resource, e.g. nodes; empty for a non-resource URL
    verb: str = "get"  # get | list (RBAC verb)
    group: str = ""  # API group, "" for the core group
    version: str = "v1"
    namespace: str | None = None  # None with namespaced=True: across all namespaces
    name: str | None = None
    namespaced: bool = True
    url: str | None = None  # non-resource URL such as /readyz

    @property
    def path(self) -> str:
        if self.url:
            return self.url
        base = f"/apis/{self.group}/{self.version}" if self.group else f"/api/{self.version}"
        if self.namespace:
            base += f"/namespaces/{quote(self.namespace, safe='')}"
        base += f"/{self.resource}"
        return base + (f"/{quote(self.name, safe='')}" if self.name else "")

    def permission(self) -> str:
        """``'list' on 'nodes' (cluster-scoped); grant a ClusterRole with nodes list``."""
        if self.url:
            return (f"'{self.verb}' on non-resource URL '{self.url}'; grant a ClusterRole with "
                    f"nonResourceURLs ['{self.url}'] verbs [{self.verb}] (system:public-info-viewer has it)")
        full = f"{self.resource}.{self.group}" if self.group else self.resource
        group = f" in apiGroup {self.group}" if self.group else ""
        if self.namespaced and self.namespace:
            return (f"'{self.verb}' on '{full}' in namespace '{self.namespace}'; grant a Role in "
                    f"{self.namespace} (or a ClusterRole) with {self.resource} {self.verb}{group}")
        scope = "in all namespaces" if self.namespaced else "(cluster-scoped)"
        return f"'{self.verb}' on '{full}' {scope}; grant a ClusterRole with {self.resource} {self.verb}{group}"


ACCESS_REVIEW = Api("selfsubjectaccessreviews", "create", group="authorization.k8s.io", namespaced=False)


# --- errors: each names what failed; the runner records it as the probe's error ------------------


class KubeError(Exception):
    status: int = 0


class KubeConfigError(KubeError):
    """No usable kubeconfig or in-cluster account, or the client refused the kubeconfig."""


class Unauthorized(KubeError):
    status = 401


class Forbidden(KubeError):
    status = 403


class NotFound(KubeError):
    status = 404


class Unreachable(KubeError):
    """Connection refused, TLS failure or no answer within the timeout."""


class ApiError(KubeError):
    """Any other HTTP failure."""

    def __init__(self, message: str, status: int):
        super().__init__(message)
        self.status = status


_USER = re.compile(r'User "([^"]+)"')


def _status_message(body: bytes) -> str:
    """The ``message`` of a Kubernetes Status body, else the first line of the body (short)."""
    text = body.decode("utf-8", "replace")
    try:
        data = json.loads(text)
        if isinstance(data, dict) and isinstance(data.get("message"), str):
            text = data["message"]
    except ValueError:
        pass
    first = text.strip().splitlines()[0] if text.strip() else ""
    return first if len(first) <= 200 else first[:197] + "..."


def error_for(status: int, body: bytes, api: Api, source: str, secrets: Iterable[str] = ()) -> KubeError:
    """The error a non-2xx answer to ``api`` becomes; ``secrets`` are masked from the body's text."""
    message = mask_secrets(_status_message(body), secrets)
    if status == 401:
        return Unauthorized(f"the API server refused the credentials of {source} (HTTP 401): the token "
                            "is expired or invalid; log in again (oc login, or refresh the kubeconfig)")
    if status == 403:
        user = _USER.search(message)
        who = f" as user {user.group(1)}" if user else ""
        return Forbidden(f"needs {api.permission()} (HTTP 403{who})")
    if status == 404:
        return NotFound(f"{api.path} not found (HTTP 404)")
    return ApiError(f"HTTP {status} from GET {api.path}: {message or '(empty body)'}", status)


# --- the client ----------------------------------------------------------------------------------


class KubeClient:
    """An ``ApiClient`` with a per-request timeout; GETs return parsed JSON or raise KubeError."""

    def __init__(self, api_client: Any, timeout_s: float, source: str, secrets: Iterable[str] = ()):
        self.api_client = api_client
        self.timeout_s = timeout_s
        self.source = source  # "context 'staging' of /path" — never a credential
        self.secrets = set(secrets)  # grows with every credential the client computes (refreshed tokens)

    def _prepare(self, path: str, query: Mapping[str, Any] | None) -> tuple[str, str, dict[str, str]]:
        """(path, url, headers) of one GET. Computing the credentials may run the client's
        refresh hook (an exec plugin, a token file read), so it stays out of any timed window."""
        from . import __version__

        configuration = self.api_client.configuration
        headers = {"Accept": "application/json", "User-Agent": f"triage/{__version__}"}
        # The client computes its credentials (token, exec plugin, refresh hooks) as auth
        # settings; we place them exactly as its generated API methods do.
        with _plugin_failures(self.source, self.secrets):
            settings = configuration.auth_settings()
        for setting in settings.values():
            if setting.get("in") == "header" and setting.get("value"):
                headers[setting["key"]] = setting["value"]
                self.secrets |= header_secrets(str(setting["value"]))
        url = configuration.host.rstrip("/") + path
        if query:
            url += "?" + urlencode({k: v for k, v in query.items() if v is not None})
        return path, url, headers

    def _send(self, path: str, url: str, headers: dict[str, str], body: dict | None = None) -> tuple[int, bytes]:
        """(HTTP status, body) of a prepared GET (a POST of ``body``: an access review): the
        request and reading its answer, nothing else."""
        import urllib3
        from kubernetes.client.exceptions import ApiException

        host = self.api_client.configuration.host
        try:
            response = self.api_client.rest_client.request("POST" if body is not None else "GET", url,
                                                           headers=headers, body=body,
                                                           _request_timeout=self.timeout_s)
        except ApiException as exc:
            if not exc.status:  # TLS failure, reported by the client as status 0
                reason = (exc.reason or 'TLS error').splitlines()[-1]
                raise Unreachable(mask_secrets(f"cannot reach the API server at {host}: {reason}",
                                               self.secrets)) from None
            return exc.status, exc.body if isinstance(exc.body, bytes) else str(exc.body or "").encode()
        except urllib3.exceptions.HTTPError as exc:
            unreachable = _unreachable(exc, host, path, self.timeout_s)
            raise Unreachable(mask_secrets(str(unreachable), self.secrets)) from None
        # Newer clients hand back an unread response, older ones read it already.
        data = response.data if getattr(response, "data", None) is not None else response.read()
        return response.status, data or b""

    def drop_connections(self) -> None:
        """Close the pooled connections, so the next request opens a new one."""
        self.api_client.rest_client.pool_manager.clear()

    def timed(self, api: Api, query: Mapping[str, Any] | None = None) -> tuple[float, int]:
        """(milliseconds, HTTP status) of one GET; 401/403/404 raise, other statuses are returned."""
        request = self._prepare(api.path, query)
        started = time.perf_counter()
        status, body = self._send(*request)
        elapsed_ms = (time.perf_counter() - started) * 1000.0
        if status in (401, 403, 404):
            raise error_for(status, body, api, self.source, self.secrets)
        return elapsed_ms, status

    def get(self, api: Api, query: Mapping[str, Any] | None = None) -> dict:
        status, body = self._send(*self._prepare(api.path, query))
        if not 200 <= status < 300:
            raise error_for(status, body, api, self.source, self.secrets)
        try:
            data = json.loads(body)
        except ValueError:
            raise ApiError(f"GET {api.path}: the answer is not JSON", status) from None
        if not isinstance(data, dict):
            raise ApiError(f"GET {api.path}: expected a JSON object", status)
        return data

    def may(self, api: Api) -> tuple[bool, str]:
        """(allowed, the server's reason): may this client's user make the request ``api``? One
        SelfSubjectAccessReview, which changes nothing (every authenticated user may create one)."""
        if api.url:
            spec: dict[str, Any] = {"nonResourceAttributes": {"path": api.url, "verb": api.verb}}
        else:
            attributes = {"verb": api.verb, "group": api.group, "resource": api.resource,
                          "namespace": api.namespace or "", "name": api.name or ""}
            spec = {"resourceAttributes": {k: v for k, v in attributes.items() if v or k in ("group", "namespace")}}
        path, url, headers = self._prepare(ACCESS_REVIEW.path, None)
        headers["Content-Type"] = "application/json"
        review = {"apiVersion": "authorization.k8s.io/v1", "kind": "SelfSubjectAccessReview", "spec": spec}
        status, body = self._send(path, url, headers, review)
        if not 200 <= status < 300:
            raise error_for(status, body, ACCESS_REVIEW, self.source, self.secrets)
        try:
            answer = (json.loads(body) or {}).get("status") or {}
        except (ValueError, AttributeError):
            raise ApiError("POST selfsubjectaccessreviews: the answer is not a JSON object", status) from None
        return answer.get("allowed") is True, mask_secrets(str(answer.get("reason") or ""), self.secrets)

    def pages(self, api: Api, query: Mapping[str, Any] | None = None, *, max_items: int = 10_000,
              page_size: int = PAGE_SIZE) -> Iterator[dict]:
        """Items of a list, page by page (limit/continue); stops after ``max_items``."""
        params = dict(query or {})
        params["limit"] = page_size
        seen = 0
        while True:
            data = self.get(api, params)
            items = data.get("items") or []
            for item in items:
                if seen >= max_items:
                    return
                seen += 1
                yield item
            token = (data.get("metadata") or {}).get("continue")
            if not token or not items:
                return
            params["continue"] = token

    def list(self, api: Api, query: Mapping[str, Any] | None = None, *, max_items: int = 10_000) -> tuple[list[dict], bool]:
        """(items, truncated): all items of a list, at most ``max_items``."""
        items = list(self.pages(api, query, max_items=max_items + 1))
        return items[:max_items], len(items) > max_items


def _configuration() -> Any:
    import urllib3
    from kubernetes import client as kclient

    configuration = kclient.Configuration()
    # At most one retry (a pooled connection the server closed is not a failure), so a request
    # takes at most twice the timeout; never a retry on an HTTP status.
    configuration.retries = urllib3.Retry(total=1, connect=1, read=1, status=0, redirect=0)
    return configuration


def _unreachable(exc: Exception, host: str, path: str, timeout_s: float) -> Unreachable:
    import urllib3

    reason = getattr(exc, "reason", None) or exc  # MaxRetryError wraps the last failure
    # NewConnectionError subclasses ConnectTimeoutError in urllib3, but it is a refusal.
    if isinstance(reason, urllib3.exceptions.TimeoutError) and not isinstance(
            reason, urllib3.exceptions.NewConnectionError):
        return Unreachable(f"no answer from {host} within {timeout_s:g}s (GET {path})")
    detail = str(reason).rsplit(": ", 1)[-1].strip() or type(reason).__name__
    return Unreachable(f"cannot reach the API server at {host}: {detail}")


_PLUGIN_EXIT = re.compile(r"^(exec: process returned -?\d+)")


class _PluginFailures(logging.Filter):
    """Catches what the client's kubeconfig loader logs instead of raising (an exec plugin
    that failed, a malformed plugin answer). Logged on the root logger, it would reach stderr
    through logging's last-resort handler with the plugin's stderr in it."""

    def __init__(self) -> None:
        super().__init__()
        self.messages: list[str] = []

    def filter(self, record: logging.LogRecord) -> bool:
        if f"{os.sep}kubernetes{os.sep}config{os.sep}" not in record.pathname:
            return True
        message = record.getMessage()
        # The plugin's own stderr follows its exit status; it may hold a token.
        plugin_exit = _PLUGIN_EXIT.match(message)
        self.messages.append(f"{plugin_exit.group(1)} (its stderr is not shown: it may hold credentials)"
                             if plugin_exit else message.splitlines()[0] if message else "exec plugin failed")
        return False


@contextlib.contextmanager
def _plugin_failures(source: str, secrets: Iterable[str]) -> Iterator[None]:
    """Run the client's credential loading; what it logged as an error becomes KubeConfigError."""
    caught = _PluginFailures()
    root = logging.getLogger()
    root.addFilter(caught)
    try:
        yield
    finally:
        root.removeFilter(caught)
    if caught.messages:
        raise KubeConfigError(mask_secrets(f"credentials of {source}: {caught.messages[0]}", secrets))


def read_kubeconfigs(spec: str) -> list[tuple[str, dict]]:
    """(path, document) of each kubeconfig in ``spec`` (``:``-separated, as $KUBECONFIG),
    through the bounded YAML loader; a missing file in a list is skipped, as kubectl does."""
    parts = [os.path.expanduser(p) for p in spec.split(os.pathsep) if p]
    docs = []
    for path in parts:
        if len(parts) > 1 and not os.path.exists(path):
            continue
        data, reader = read_yaml_file(path, "kubeconfig")
        if not isinstance(data, dict):
            raise reader.fail("", "expected a kubeconfig (a mapping with clusters, contexts and users)")
        for item in ("clusters", "contexts", "users"):
            entries = data.get(item) or []
            if not isinstance(entries, list) or not all(isinstance(e, dict) and isinstance(e.get("name"), str)
                                                        for e in entries):
                raise reader.fail(item, "expected a list of entries, each with a name")
        docs.append((path, data))
    if not docs:
        raise KubeConfigError(f"kubeconfig {spec}: no such file")
    return docs


def _merged(docs: list[tuple[str, dict]]) -> Any:
    """The kubeconfigs merged as the client's own merger does (first entry of a name wins;
    each entry remembers its file, so relative certificate paths resolve beside it), named by
    file and entry name only: the client quotes node names in its errors."""
    from kubernetes.config.kube_config import ConfigNode

    first_path, first = docs[0]
    merged = {k: v for k, v in first.items() if k not in ("clusters", "contexts", "users")}
    merged.update(clusters=[], contexts=[], users=[])
    root = ConfigNode(first_path, merged, first_path)
    for path, doc in docs:
        for item in ("clusters", "contexts", "users"):
            names = {entry.value["name"] for entry in merged[item]}
            for entry in doc.get(item) or []:
                if entry["name"] not in names:
                    names.add(entry["name"])
                    merged[item].append(ConfigNode(f"{path}/{item}[name={entry['name']}]", entry, path))
        if "current-context" in doc:
            merged["current-context"] = doc["current-context"]
    return root


def _build(kcfg: Any) -> KubeClient:
    from kubernetes import client as kclient
    from kubernetes import config as kconfig
    from kubernetes.config.kube_config import KubeConfigLoader

    path = kubeconfig_source(kcfg)
    if path is None:
        if not os.environ.get("KUBERNETES_SERVICE_HOST"):
            raise KubeConfigError(f"no kubeconfig found ({DEFAULT_KUBECONFIG} does not exist) and not "
                                  "running in a pod; set kubernetes.kubeconfig in triage.yaml, --kubeconfig "
                                  "or KUBECONFIG")
        configuration = _configuration()
        try:
            kconfig.load_incluster_config(client_configuration=configuration)
        except kconfig.ConfigException as exc:
            raise KubeConfigError(f"in-cluster service account: {str(exc).splitlines()[0]}") from None
        return KubeClient(kclient.ApiClient(configuration), kcfg.timeout_s, "the in-cluster service account")
    try:
        docs = read_kubeconfigs(path)
    except InputFileError as exc:
        raise KubeConfigError(f"kubeconfig {exc}") from None
    secrets: set[str] = set()
    for _, doc in docs:
        secrets |= kubeconfig_secrets(doc)
    root = _merged(docs)
    context = kcfg.context or root.value.get("current-context")
    source = f"context '{context}' of {path}" if context else f"the current context of {path}"
    configuration = _configuration()
    try:
        with _plugin_failures(source, secrets):
            # No config_persister: refreshed credentials are never written back into the file.
            KubeConfigLoader(config_dict=root, active_context=kcfg.context,
                             config_base_path=None).load_and_set(configuration)
    except kconfig.ConfigException as exc:
        text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise KubeConfigError(mask_secrets(f"kubeconfig {path}: {text}", secrets)) from None
    except OSError as exc:
        raise KubeConfigError(f"kubeconfig {path}: {exc.strerror or exc}") from None
    return KubeClient(kclient.ApiClient(configuration), kcfg.timeout_s, source, secrets)


_CLIENTS: "OrderedDict[tuple, KubeClient]" = OrderedDict()
_CLIENTS_LOCK = threading.Lock()
_CLIENTS_KEPT = 4


def _file_identity(spec: str | None) -> tuple:
    if spec is None:
        return ()
    out = []
    for part in spec.split(os.pathsep):
        try:
            st = os.stat(part)
            out.append((part, st.st_mtime_ns, st.st_size))
        except OSError:
            out.append((part, None, None))
    return tuple(out)


def client_for(kcfg: Any) -> KubeClient:
    """The client for this kubernetes config, built once per run and reused by every probe (an
    exec credential plugin then runs once, not once per probe). A changed kubeconfig file
    builds a new one."""
    source = kubeconfig_source(kcfg)
    key = (source, kcfg.context, kcfg.timeout_s, _file_identity(source))
    with _CLIENTS_LOCK:
        cached = _CLIENTS.get(key)
        if cached is not None:
            _CLIENTS.move_to_end(key)
            return cached
    built = _build(kcfg)
    with _CLIENTS_LOCK:
        _CLIENTS[key] = built
        while len(_CLIENTS) > _CLIENTS_KEPT:
            _, old = _CLIENTS.popitem(last=False)
            try:
                old.api_client.close()
            except Exception:  # noqa: BLE001 - closing a pool we no longer use must not fail a run
                pass
    return built
