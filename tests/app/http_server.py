"""A local HTTP(S) server whose answers the test decides: status, body size, delay.

Binds 127.0.0.1 on a free port and serves from a thread. ``behaviour(n)`` receives the
1-based number of the request and returns what to answer, so "every fifth request fails"
is exact, not random. Requests are recorded (path, headers) for the test to inspect.
"""

from __future__ import annotations

import os
import ssl
import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Callable

FIXTURES = os.path.join(os.path.dirname(__file__), "..", "fixtures", "app")
CERT = os.path.join(FIXTURES, "localhost-cert.pem")
KEY = os.path.join(FIXTURES, "localhost-key.pem")


@dataclass(frozen=True)
class Answer:
    status: int = 200
    body_size: int = 2
    delay_s: float = 0.0  # server-side work; the bench uses it, tests only to outlast a client timeout
    location: str | None = None
    truncated: bool = False  # promise more body than is sent, then hang up
    # Echo the request's Authorization (whole, or its bare token) back, as misbehaving servers
    # and proxies do: "status-line" (a malformed one), "reason", "body", "redirect", "header".
    echo: str | None = None
    trickle_s: float = 0.0  # send the body one byte per trickle_s seconds (a slow-loris answer)


def always(answer: Answer) -> Callable[[int], Answer]:
    return lambda n: answer


def every(nth: int, special: Answer, usual: Answer = Answer()) -> Callable[[int], Answer]:
    """Requests nth, 2*nth, ... get ``special``: exactly 1/nth of them."""
    return lambda n: special if n % nth == 0 else usual


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as a real service would
    disable_nagle_algorithm = True  # headers and body go in separate writes: no 40 ms delayed-ACK stalls

    def _answer(self) -> None:
        server: ControlledServer = self.server.controller  # type: ignore[attr-defined]
        length = int(self.headers.get("Content-Length") or 0)
        if length:
            self.rfile.read(length)
        n = server.record(self.command, self.path, dict(self.headers.items()), self.client_address[1])
        answer = server.behaviour(n)
        if answer.delay_s:
            time.sleep(answer.delay_s)
        if answer.echo:
            self._echo(answer.echo)
            return
        body = b"x" * answer.body_size
        self.send_response(answer.status)
        self.send_header("Content-Length", str(len(body) + (100 if answer.truncated else 0)))
        if answer.location:
            self.send_header("Location", answer.location)
        self.end_headers()
        if self.command != "HEAD" and answer.trickle_s:
            for i in range(len(body)):
                self.wfile.write(body[i:i + 1])
                self.wfile.flush()
                time.sleep(answer.trickle_s)  # the server's pace, not a test's synchronisation
        elif self.command != "HEAD":
            self.wfile.write(body)
        if answer.truncated:
            self.wfile.flush()
            self.close_connection = True

    def _echo(self, how: str) -> None:
        header = self.headers.get("Authorization") or ""
        token = header.partition(" ")[2] or header
        if how == "status-line":
            self.wfile.write(f"HTTP/1.1 9x9 {token}\r\n\r\n".encode("latin-1"))
            self.close_connection = True
            return
        if how == "header":
            self.wfile.write(f"HTTP/1.1 200 OK\r\nX-Echo {header}\r\nContent-Length: 2\r\n\r\nok".encode("latin-1"))
            return
        body = f"denied: Authorization: {header} token={token}".encode("latin-1")
        self.send_response(302 if how == "redirect" else 500, f"bad {token}" if how == "reason" else None)
        if how == "redirect":
            self.send_header("Location", f"http://127.0.0.1:9/login?auth={token}&h={header}")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_GET = do_POST = do_HEAD = do_PUT = do_DELETE = _answer

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - quiet tests
        pass


class _Server(ThreadingHTTPServer):
    # A real service's listen backlog. The default 5 overflows under tcp_connect's bursts of
    # connect-and-close: the kernel drops the SYN and the client resends it after 1 s.
    request_queue_size = 128

    def handle_error(self, request: object, client_address: object) -> None:
        # A client that hung up (the probe's timeouts, a test that ended while a delayed answer
        # was pending) is expected here; socketserver would print its traceback to sys.stderr,
        # which a later in-process CLI test may be capturing as its own.
        pass


class ControlledServer:
    def __init__(self, behaviour: Callable[[int], Answer] = always(Answer()), *, tls: bool = False):
        self.behaviour = behaviour
        self.requests: list[tuple[str, str, dict[str, str]]] = []
        self.client_ports: list[int] = []  # per request: the connection it came over
        self._lock = threading.Lock()
        self.httpd = _Server(("127.0.0.1", 0), _Handler)
        self.httpd.daemon_threads = True
        self.httpd.controller = self  # type: ignore[attr-defined]
        self.tls = tls
        if tls:
            context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            context.load_cert_chain(CERT, KEY)
            self.httpd.socket = context.wrap_socket(self.httpd.socket, server_side=True)
        self.port = self.httpd.server_address[1]
        self._thread = threading.Thread(target=self.httpd.serve_forever, daemon=True, name="test-http")

    @property
    def url(self) -> str:
        return f"{'https' if self.tls else 'http'}://127.0.0.1:{self.port}"

    def record(self, method: str, path: str, headers: dict[str, str], client_port: int) -> int:
        with self._lock:
            self.requests.append((method, path, headers))
            self.client_ports.append(client_port)
            return len(self.requests)

    def __enter__(self) -> "ControlledServer":
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
        self._thread.join(5)
