"""A toy "platform" for `triage demo`: an embedded DNS server with a fault profile and a tiny
HTTP app that resolves its backend names through that DNS on every request, as the registry
in the 2020 hunt did. Each platform runs in a child process, so its serving threads never
compete for our GIL with the probes that measure it.
"""

from __future__ import annotations

import http.server
import json
import multiprocessing
import socketserver
import threading
from dataclasses import dataclass

from triage.errors import TriageError
from triage.repro.dns_server import EmbeddedDnsServer

BACKENDS = ("quay-db.quay.svc", "quay-redis.quay.svc", "quay-storage.quay.svc")
START_TIMEOUT_S = 20.0
# The registry's weak code path: each request holds one of a few database connections while it
# resolves its backends (a Flask app connecting per request). Idle probes never notice; under
# load, 3 ms more per query is ~20 ms more per request with a connection held, and 4 of them
# serve ~190 req/s instead of over a thousand.
POOL_SIZE = 4


@dataclass(frozen=True)
class PlatformAddress:
    label: str
    profile: str
    dns_port: int
    app_port: int

    @property
    def app_url(self) -> str:
        return f"http://127.0.0.1:{self.app_port}/health"


def _serve(conn, profile: str, backends: tuple[str, ...], seed: int, pool_size: int) -> None:
    """Child process: DNS server + app until the parent says stop (or goes away)."""
    import dns.rdatatype
    import dns.resolver

    pool = threading.BoundedSemaphore(pool_size)

    with EmbeddedDnsServer(profile=profile, names=backends, bind="127.0.0.1", port=0, seed=seed) as dns_server:
        def resolver() -> "dns.resolver.Resolver":
            r = dns.resolver.Resolver(configure=False)
            r.nameservers = ["127.0.0.1"]
            r.port = dns_server.port
            r.timeout, r.lifetime = 0.5, 1.5  # a dropped query costs half a second, as a short resolv.conf timeout
            return r

        class App(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 - http.server's naming
                r = resolver()
                resolved, failed = {}, []
                with pool:  # the connection is held across the lookups, as the registry did
                    for name in backends:
                        for qtype in (dns.rdatatype.A, dns.rdatatype.AAAA):  # AF_UNSPEC: both families
                            try:
                                resolved.setdefault(name, []).extend(a.to_text() for a in r.resolve(name, qtype))
                            except Exception as exc:  # a failed lookup is the app's problem to report
                                failed.append(f"{name}/{dns.rdatatype.to_text(qtype)}: {type(exc).__name__}")
                body = json.dumps({"ok": not failed, "backends": resolved, "failed": failed}).encode()
                self.send_response(200 if not failed else 503)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args) -> None:  # the demo's output is the triage, not access logs
                pass

        class Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
            daemon_threads = True
            allow_reuse_address = True
            request_queue_size = 256  # http.server's 5 overflows under the kernel probe's connects: 1 s SYN retries

            def handle_error(self, request, client_address) -> None:
                pass  # a client that gave up mid-request (a ramp's timeout): no traceback on the demo's stderr

        with Server(("127.0.0.1", 0), App) as app:
            threading.Thread(target=app.serve_forever, daemon=True).start()
            conn.send((dns_server.port, app.server_address[1]))
            try:
                conn.recv()  # blocks until "stop" or the parent's end closes
            except EOFError:
                pass
            app.shutdown()


class DemoPlatform:
    """Context manager: start the platform's processes, yield its addresses, stop them."""

    def __init__(self, label: str, profile: str, *, backends: tuple[str, ...] = BACKENDS, seed: int = 0,
                 pool_size: int = POOL_SIZE):
        self.label, self.profile, self.backends, self.seed = label, profile, backends, seed
        self.pool_size = pool_size
        self._proc = None
        self._conn = None

    def __enter__(self) -> PlatformAddress:
        ctx = multiprocessing.get_context("spawn")
        self._conn, child = ctx.Pipe()
        self._proc = ctx.Process(target=_serve, args=(child, self.profile, self.backends, self.seed, self.pool_size),
                                 daemon=True, name=f"triage-demo-{self.label}")
        self._proc.start()
        child.close()
        if not self._conn.poll(START_TIMEOUT_S):
            self.__exit__()
            raise TriageError(f"demo platform {self.label} did not start within {START_TIMEOUT_S:g}s")
        try:
            dns_port, app_port = self._conn.recv()
        except EOFError:
            self.__exit__()
            raise TriageError(f"demo platform {self.label} failed to start (exit code {self._proc.exitcode})") from None
        return PlatformAddress(self.label, self.profile, dns_port, app_port)

    def __exit__(self, *exc) -> None:
        if self._conn is not None:
            try:
                self._conn.send("stop")
            except (BrokenPipeError, OSError):
                pass
            self._conn.close()
        if self._proc is not None:
            self._proc.join(5)
            if self._proc.is_alive():
                self._proc.terminate()
                self._proc.join(5)
