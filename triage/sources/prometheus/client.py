"""The Prometheus HTTP API, read-only: ``/api/v1/query_range`` and ``/api/v1/label/<name>/values``.

Works against Prometheus itself and anything that speaks its API (Thanos querier, the
OpenShift monitoring route). Every request has a timeout (also sent to the server as the
query's own ``timeout``), at most ``retries`` more tries on a dropped connection, a timeout
or a 429/502/503/504 (Thanos answers 503 while a store is catching up), and a bounded body.

Secrets (header values, the token file's contents) live only in this client's session.
Every text that leaves it (an error, a note) is masked with every form of them, because a
hostile or chatty server may echo the Authorization header back in its error body.
``requests`` is imported here only, when a client is built: it is not needed for --help.
"""

from __future__ import annotations

import json
import math
import threading
import time
from dataclasses import dataclass
from typing import Any, Mapping
from urllib.parse import urlsplit

from triage.errors import BadInput
from triage.http_deadline import deadline
from triage.secrets import http_secrets, mask_secrets

MAX_RESPONSE_BYTES = 64 * 1024 * 1024  # 200 nodes x 24 blocks is ~0.2 MB a query; 64 MB means a runaway selector
RETRY_STATUSES = (429, 502, 503, 504)
BACKOFF_S = 0.25  # first pause between tries, doubled each time: 0.25 s, 0.5 s
MAX_ERROR_TEXT = 200


class PrometheusUnavailable(Exception):
    """No usable answer: unreachable, timed out, 5xx after the retries, too large, not JSON.
    Recorded in the snapshot as an error result; the run goes on."""


class PrometheusRefused(BadInput):
    """401/403: the credentials are wrong or lack the right to read metrics (exit 2)."""


class PrometheusRejected(Exception):
    """400/422: the server rejected the query (PromQL error); ``reason`` is its message, masked."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class RangeSeries:
    labels: Mapping[str, str]
    points: tuple[tuple[float, float], ...]  # (unix time, value); NaN and ±Inf left out


def shown_url(url: str) -> str:
    """The base URL as it may appear in text: no userinfo, no query."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    if ":" in host:
        host = f"[{host}]"
    netloc = host + (f":{parts.port}" if parts.port else "")
    return f"{parts.scheme}://{netloc}{parts.path.rstrip('/')}"


class PrometheusClient:
    def __init__(self, url: str, headers: Mapping[str, str], *, verify: bool | str = True, timeout_s: float = 30.0,
                 retries: int = 2, max_bytes: int = MAX_RESPONSE_BYTES):
        self.base = url.rstrip("/")
        self.url = shown_url(url)
        self.headers = dict(headers)
        self.verify = verify
        self.timeout_s = timeout_s
        self.retries = retries
        self.max_bytes = max_bytes
        self._secrets = http_secrets(url, self.headers)  # every form: triage.secrets knows them
        self._local = threading.local()

    # --- text that leaves the client ------------------------------------------------------

    def mask(self, text: str) -> str:
        return mask_secrets(text, self._secrets)

    def _session(self) -> Any:
        session = getattr(self._local, "session", None)
        if session is None:
            import requests

            session = requests.Session()
            session.headers.update(self.headers)
            session.headers["Accept"] = "application/json"
            self._local.session = session
        return session

    def close(self) -> None:
        session = getattr(self._local, "session", None)
        if session is not None:
            session.close()

    # --- the API -----------------------------------------------------------------------------

    def label_values(self, name: str, start: float, end: float) -> list[str]:
        data = self._get(f"/api/v1/label/{name}/values", {"start": _ts(start), "end": _ts(end)})
        if not isinstance(data, list) or not all(isinstance(v, str) for v in data):
            raise PrometheusUnavailable(f"{self.url}: label values of {name}: expected a list of strings")
        return data

    def query_range(self, promql: str, start: float, end: float, step_s: float) -> list[RangeSeries]:
        data = self._get("/api/v1/query_range", {"query": promql, "start": _ts(start), "end": _ts(end),
                                                  "step": f"{step_s:g}", "timeout": f"{self.timeout_s:g}s"})
        if not isinstance(data, dict) or data.get("resultType") != "matrix" or not isinstance(data.get("result"), list):
            raise PrometheusUnavailable(f"{self.url}: query_range: expected a matrix result")
        return [_series(item, self.url) for item in data["result"]]

    # --- one GET with retries ----------------------------------------------------------------

    def _get(self, path: str, params: Mapping[str, str]) -> Any:
        import requests

        where = f"{self.url}{path}"
        last = ""
        for attempt in range(self.retries + 1):
            if attempt:
                time.sleep(BACKOFF_S * 2 ** (attempt - 1))
            session = self._session()
            try:
                # One try, headers and body, within timeout_s: a server trickling its answer
                # restarts requests' read timeout with every chunk (triage.http_deadline).
                with deadline(session, self.base, self.timeout_s):
                    with session.get(self.base + path, params=params, verify=self.verify, stream=True,
                                     timeout=(min(5.0, self.timeout_s), self.timeout_s),
                                     allow_redirects=False) as response:
                        status = response.status_code
                        if status in (401, 403):
                            raise PrometheusRefused(self._refusal(status, where))
                        if status in RETRY_STATUSES:
                            last = f"HTTP {status}"
                            continue
                        body = self._read(response, where)
            except requests.exceptions.SSLError as exc:
                raise PrometheusUnavailable(self.mask(f"{where}: TLS failed: {_first_line(exc)}"
                                                      " (prometheus.verify: true, false or a CA bundle path)")) from None
            except requests.exceptions.Timeout:
                last = f"no complete answer within {self.timeout_s:g}s"
                continue
            except requests.exceptions.RequestException as exc:
                last = f"cannot connect: {_first_line(exc)}"
                continue
            return self._data(status, body, where)
        raise PrometheusUnavailable(self.mask(f"{where}: {last} (after {self.retries + 1} tries)"))

    def _refusal(self, status: int, where: str) -> str:
        # The body is never quoted: a proxy in front may echo the credentials it refused.
        if status == 401:
            return (f"prometheus: {where}: HTTP 401 Unauthorized: the credentials were refused; check "
                    "prometheus.headers or prometheus.token_file (OpenShift: a fresh `oc whoami -t`)")
        return (f"prometheus: {where}: HTTP 403 Forbidden: these credentials may not read metrics; grant a "
                "read-only role (OpenShift: cluster-monitoring-view)")

    def _read(self, response: Any, where: str) -> bytes:
        declared = response.headers.get("Content-Length")
        if declared and declared.isdigit() and int(declared) > self.max_bytes:
            raise PrometheusUnavailable(f"{where}: answer of {int(declared)} bytes is over the {self.max_bytes}-byte "
                                        "bound: narrow the query or the window")
        chunks, size = [], 0
        for chunk in response.iter_content(chunk_size=1 << 16):
            size += len(chunk)
            if size > self.max_bytes:
                raise PrometheusUnavailable(f"{where}: answer over the {self.max_bytes}-byte bound: narrow the "
                                            "query or the window")
            chunks.append(chunk)
        return b"".join(chunks)

    def _data(self, status: int, body: bytes, where: str) -> Any:
        try:
            doc = json.loads(body)
        except ValueError:
            doc = None
        if not isinstance(doc, dict):
            snippet = body[:MAX_ERROR_TEXT].decode("utf-8", "replace").strip().splitlines()
            raise PrometheusUnavailable(self.mask(f"{where}: HTTP {status}, not a Prometheus API answer"
                                                  + (f": {snippet[0]}" if snippet else "")))
        if status == 200 and doc.get("status") == "success":
            return doc.get("data")
        error = str(doc.get("error") or doc.get("errorType") or "no error text")[:MAX_ERROR_TEXT]
        if status in (400, 422):
            raise PrometheusRejected(self.mask(error))
        raise PrometheusUnavailable(self.mask(f"{where}: HTTP {status}: {error}"))


def _ts(moment: float) -> str:
    return f"{moment:.3f}"


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    reason = text[0] if text else type(exc).__name__
    # urllib3 wraps the cause: "...Max retries exceeded ... (Caused by NewConnectionError(...: [Errno 111] Connection refused'))"
    if "Errno" in reason:
        reason = reason[reason.rfind("[Errno"):].rstrip("')\"")
    return reason[:MAX_ERROR_TEXT]


def _series(item: Any, url: str) -> RangeSeries:
    if not isinstance(item, dict) or not isinstance(item.get("metric"), dict) or not isinstance(item.get("values"), list):
        raise PrometheusUnavailable(f"{url}: query_range: a result series without metric/values")
    points = []
    for pair in item["values"]:
        try:
            t, v = float(pair[0]), float(pair[1])
        except (TypeError, ValueError, IndexError):
            raise PrometheusUnavailable(f"{url}: query_range: a point that is not [time, \"value\"]") from None
        if math.isfinite(v):
            points.append((t, v))
    return RangeSeries({str(k): str(v) for k, v in item["metric"].items()}, tuple(points))

