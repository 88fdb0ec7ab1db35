"""A local HTTP app in a process of its own (so its threads never share the client's GIL)
whose handler takes ``hold_ms`` per request, asleep or (``busy``) working a CPU, holding one
process-wide lock for it when ``locked`` (the candidate of the capacity tests): locked, it
serves at most 1000 / hold_ms requests a second however many arrive; unlocked, the same
requests overlap. A real listen backlog (http.server's 5 overflows under bursts of connects:
1 s SYN resends) and TCP_NODELAY (Nagle and delayed ACKs would add 40 ms stalls)."""

from __future__ import annotations

import contextlib
import subprocess
import sys
from typing import Iterator

_CHILD = r"""
import sys, threading, time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
hold, locked, busy = float(sys.argv[1]) / 1000.0, sys.argv[2] == "lock", sys.argv[3] == "busy"
lock = threading.Lock()
def work():
    if not busy:
        time.sleep(hold)
        return
    end = time.perf_counter() + hold
    while time.perf_counter() < end:
        pass
class H(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True
    def do_GET(self):
        if locked:
            with lock:
                work()
        else:
            work()
        body = b"ok\n"
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
    def log_message(self, *a):
        pass
class S(ThreadingHTTPServer):
    request_queue_size = 256
    daemon_threads = True
    def handle_error(self, request, client_address):
        pass  # a client that hung up mid-request: the load test's, not ours to report
s = S(("127.0.0.1", 0), H)
print(s.server_address[1], flush=True)
s.serve_forever()
"""


@contextlib.contextmanager
def lock_app(hold_ms: float = 2.0, locked: bool = False, busy: bool = False) -> Iterator[str]:
    """The app's URL while it runs."""
    proc = subprocess.Popen([sys.executable, "-c", _CHILD, str(hold_ms), "lock" if locked else "free",
                             "busy" if busy else "sleep"],
                            stdout=subprocess.PIPE, text=True)
    try:
        port = int(proc.stdout.readline())
        yield f"http://127.0.0.1:{port}/health"
    finally:
        proc.terminate()
        proc.wait(10)
        proc.stdout.close()
