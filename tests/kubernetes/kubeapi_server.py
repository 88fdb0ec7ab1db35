"""A small HTTP(S) server speaking the Kubernetes REST API, for the kubernetes layer's tests.

It serves JSON objects with the shapes a real API server returns (lists without per-item
kind/apiVersion, Status bodies for 401/403/404, limit/continue paging, label and field
selectors), and it is reached through a real kubeconfig file, so the official client's own
config loading, auth and request code run unchanged.
"""

from __future__ import annotations

import base64
import copy
import json
import re
import ssl
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

_RESOURCE_PATH = re.compile(
    r"^/(?P<prefix>api/v1|apis/[^/]+/[^/]+)(?:/namespaces/(?P<namespace>[^/]+))?/(?P<resource>[a-z]+)(?:/(?P<name>[^/]+))?$")


@dataclass
class ClusterState:
    """What the API serves. ``objects`` maps (API prefix, plural resource) to objects, e.g.
    ("api/v1", "nodes") or ("apis/apps/v1", "daemonsets"); namespaced objects carry
    metadata.namespace."""

    version: dict
    objects: dict[tuple[str, str], list[dict]] = field(default_factory=dict)
    api_groups: dict[str, dict] = field(default_factory=dict)  # discovery: /apis/<group>
    readyz_ok: bool = True
    serves_readyz: bool = True  # False: an API server older than Kubernetes 1.16
    token: str | None = None  # bearer token the server accepts; None: no auth required
    user: str = "system:serviceaccount:quay:triage"
    forbidden: set[tuple[str, str]] = field(default_factory=set)  # (verb, resource) refused with 403
    # Answer every request with this status and the request's Authorization echoed in the body
    # (a Status message, or plain text with echo_plain), as a broken proxy or webhook may.
    echo_status: int | None = None
    echo_plain: bool = False

    def add(self, prefix: str, resource: str, *objs: dict) -> "ClusterState":
        self.objects.setdefault((prefix, resource), []).extend(copy.deepcopy(o) for o in objs)
        return self


def _status(code: int, reason: str, message: str, details: dict | None = None) -> dict:
    return {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure", "message": message,
            "reason": reason, "details": details or {}, "code": code}


def _lookup(obj: Any, dotted: str) -> Any:
    for part in dotted.split("."):
        obj = obj.get(part) if isinstance(obj, dict) else None
    return obj


def _selected(obj: dict, label_selector: str | None, field_selector: str | None) -> bool:
    labels = (obj.get("metadata") or {}).get("labels") or {}
    for term in filter(None, (label_selector or "").split(",")):
        key, _, value = term.replace("==", "=").partition("=")
        if labels.get(key) != value:
            return False
    for term in filter(None, (field_selector or "").split(",")):
        key, _, value = term.replace("==", "=").partition("=")
        if str(_lookup(obj, key)) != value:
            return False
    return True


class KubeApiServer:
    """Serves a ClusterState on 127.0.0.1 (http, or https with ``tls=(certfile, keyfile)``)."""

    def __init__(self, state: ClusterState, tls: tuple[str, str] | None = None):
        self.state = state
        self.requests: list[dict] = []  # path, query, authorized (bool), client port of every request seen
        self.reviews: list[dict] = []  # the spec of every SelfSubjectAccessReview answered
        self._lock = threading.Lock()
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            disable_nagle_algorithm = True  # headers and body in separate writes would wait on delayed ACKs

            def log_message(self, *args: Any) -> None:  # keep test output clean
                pass

            def do_GET(self) -> None:  # noqa: N802 - http.server's naming
                code, body, ctype = server.answer(self.path, self.headers.get("Authorization"), self.client_address[1])
                self._reply(code, body, ctype)

            def do_POST(self) -> None:  # noqa: N802 - the one POST an API client of triage makes: an access review
                length = int(self.headers.get("Content-Length") or 0)
                code, body, ctype = server.review(self.path, self.headers.get("Authorization"), self.rfile.read(length))
                self._reply(code, body, ctype)

            def _reply(self, code: int, body: Any, ctype: str) -> None:
                data = body if isinstance(body, bytes) else json.dumps(body).encode()
                self.send_response(code)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        # A client that hung up (timeout tests) must not print a traceback into whatever
        # sys.stderr a later in-process CLI test is capturing.
        self.httpd.handle_error = lambda request, client_address: None  # type: ignore[method-assign]
        self.scheme = "http"
        if tls:
            context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            context.load_cert_chain(*tls)
            self.httpd.socket = context.wrap_socket(self.httpd.socket, server_side=True)
            self.scheme = "https"
        self.thread = threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)

    @property
    def url(self) -> str:
        return f"{self.scheme}://127.0.0.1:{self.httpd.server_address[1]}"

    def __enter__(self) -> "KubeApiServer":
        self.thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()

    def seen(self, path: str) -> list[dict]:
        with self._lock:
            return [r for r in self.requests if r["path"] == path]

    # --- the API -------------------------------------------------------------------------------

    def review(self, raw_path: str, authorization: str | None, raw: bytes) -> tuple[int, Any, str]:
        """POST /apis/authorization.k8s.io/v1/selfsubjectaccessreviews: the review back with its
        ``status`` filled in, as a real API server answers (allowed, and RBAC's reason when it is);
        denied for (verb, resource) in ``forbidden``, (verb, path) for a non-resource URL."""
        state = self.state
        path = urlsplit(raw_path).path
        authorized = state.token is None or authorization == f"Bearer {state.token}"
        with self._lock:
            self.requests.append({"path": path, "query": {}, "authorized": authorized, "port": 0, "method": "POST"})
        json_type = "application/json"
        if not authorized:
            return 401, _status(401, "Unauthorized", "Unauthorized"), json_type
        if path != "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews":
            return 404, _status(404, "NotFound", "the server could not find the requested resource"), json_type
        if ("create", "selfsubjectaccessreviews") in state.forbidden:
            return 403, _status(403, "Forbidden", f'selfsubjectaccessreviews.authorization.k8s.io is forbidden: User '
                                f'"{state.user}" cannot create resource "selfsubjectaccessreviews"'), json_type
        review = json.loads(raw)
        spec = review.get("spec") or {}
        attrs = spec.get("resourceAttributes")
        key = (attrs["verb"], attrs["resource"]) if attrs else (spec["nonResourceAttributes"]["verb"],
                                                                spec["nonResourceAttributes"]["path"])
        allowed = key not in state.forbidden
        status: dict[str, Any] = {"allowed": allowed}
        if allowed:
            status["reason"] = f'RBAC: allowed by ClusterRoleBinding "triage-reader" of ClusterRole "triage-reader" ' \
                               f'to User "{state.user}"'
        with self._lock:
            self.reviews.append(spec)
        return 201, {"kind": "SelfSubjectAccessReview", "apiVersion": "authorization.k8s.io/v1",
                     "metadata": {"creationTimestamp": None}, "spec": spec, "status": status}, json_type

    def answer(self, raw_path: str, authorization: str | None, client_port: int = 0) -> tuple[int, Any, str]:
        parts = urlsplit(raw_path)
        path, query = parts.path, {k: v[0] for k, v in parse_qs(parts.query).items()}
        state = self.state
        authorized = state.token is None or authorization == f"Bearer {state.token}"
        with self._lock:
            self.requests.append({"path": path, "query": query, "authorized": authorized, "port": client_port})
        json_type = "application/json"
        if state.echo_status is not None:
            token = (authorization or "").partition(" ")[2]
            text = f"HTTP {state.echo_status} token {token} (header {authorization})"
            if state.echo_plain:
                return state.echo_status, text.encode(), "text/plain; charset=utf-8"
            if state.echo_status == 403:
                text = f'nodes is forbidden: User "{token}" cannot list resource "nodes" ({authorization})'
            return state.echo_status, _status(state.echo_status, "Echo", text), json_type
        if not authorized:
            return 401, _status(401, "Unauthorized", "Unauthorized"), json_type
        if path == "/version":
            return 200, state.version, json_type
        if path == "/readyz" and state.serves_readyz:
            if state.readyz_ok:
                return 200, b"ok", "text/plain; charset=utf-8"
            return 500, b"[+]ping ok\n[-]etcd failed: reason withheld\nreadyz check failed\n", "text/plain; charset=utf-8"
        group = re.match(r"^/apis/([^/]+)$", path)
        if group:
            if group[1] in state.api_groups:
                return 200, state.api_groups[group[1]], json_type
            return 404, _status(404, "NotFound", "the server could not find the requested resource"), json_type
        m = _RESOURCE_PATH.match(path)
        key = (m["prefix"], m["resource"]) if m else None
        known = key in state.objects or (m and m["resource"] in ("pods", "events", "configmaps", "services"))
        if not m or not known:
            return 404, _status(404, "NotFound", "the server could not find the requested resource"), json_type
        api_group = m["prefix"].split("/")[1] if m["prefix"].startswith("apis/") else ""
        verb = "get" if m["name"] else "list"
        if (verb, m["resource"]) in state.forbidden:
            scope = f'in the namespace "{m["namespace"]}"' if m["namespace"] else "at the cluster scope"
            message = (f'{m["resource"]} is forbidden: User "{state.user}" cannot {verb} resource '
                       f'"{m["resource"]}" in API group "{api_group}" {scope}')
            return 403, _status(403, "Forbidden", message, {"kind": m["resource"]}), json_type
        items = [o for o in state.objects.get(key, [])
                 if m["namespace"] is None or (o.get("metadata") or {}).get("namespace") == m["namespace"]]
        if m["name"]:
            found = next((o for o in items if o["metadata"]["name"] == m["name"]), None)
            if found is None:
                return 404, _status(404, "NotFound", f'{m["resource"]} "{m["name"]}" not found',
                                    {"name": m["name"], "kind": m["resource"]}), json_type
            return 200, found, json_type
        items = [o for o in items if _selected(o, query.get("labelSelector"), query.get("fieldSelector"))]
        start = int(json.loads(base64.b64decode(query["continue"]))["start"]) if query.get("continue") else 0
        limit = int(query["limit"]) if query.get("limit") else len(items)
        page = items[start:start + limit]
        kind = (items[0].get("kind") if items else None) or m["resource"].capitalize().rstrip("s")
        metadata: dict[str, Any] = {"resourceVersion": "2145600"}
        if start + limit < len(items):
            metadata["continue"] = base64.b64encode(json.dumps({"start": start + limit}).encode()).decode()
            metadata["remainingItemCount"] = len(items) - start - limit
        api_version = "v1" if m["prefix"] == "api/v1" else m["prefix"].split("/", 1)[1]  # apps/v1, ...
        body = {"kind": f"{kind}List", "apiVersion": api_version, "metadata": metadata,
                # A real server omits kind/apiVersion on the items of a list.
                "items": [{k: v for k, v in o.items() if k not in ("kind", "apiVersion")} for o in page]}
        return 200, body, json_type
