"""A bearer-token proxy in front of the test Prometheus, as OpenShift puts kube-rbac-proxy /
oauth-proxy in front of its Thanos querier: a request without the right token gets 401,
with it the request goes on to the real Prometheus unchanged. ``echo=True`` plays a hostile
or chatty proxy that quotes the Authorization header it refused in its error body.
"""

from __future__ import annotations

import threading
import urllib.error
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


class AuthProxy:
    def __init__(self, upstream: str, token: str, *, echo: bool = False, status: int = 401):
        self.upstream = upstream.rstrip("/")
        self.seen: list[str] = []  # Authorization headers received
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:
                pass

            def do_GET(self) -> None:  # noqa: N802 - http.server's naming
                auth = self.headers.get("Authorization") or ""
                proxy.seen.append(auth)
                if auth != f"Bearer {token}":
                    body = (f'{{"status":"error","errorType":"unauthorized","error":"token refused: {auth}"}}'
                            if echo else "Unauthorized\n").encode()
                    self._send(status, body, "application/json" if echo else "text/plain")
                    return
                try:
                    with urllib.request.urlopen(proxy.upstream + self.path, timeout=30) as r:
                        self._send(r.status, r.read(), r.headers.get("Content-Type", "application/json"))
                except urllib.error.HTTPError as exc:
                    self._send(exc.code, exc.read(), exc.headers.get("Content-Type", "application/json"))

            def _send(self, code: int, body: bytes, ctype: str) -> None:
                self.send_response(code)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.thread = threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}"

    def __enter__(self) -> "AuthProxy":
        self.thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
