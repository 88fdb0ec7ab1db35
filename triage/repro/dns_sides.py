"""One side of `triage repro dns`: a resolution path, a resolver, and the workload over them.

Resolution paths:
- *libc*: glibc's getaddrinfo, the path an application takes. Against the embedded server
  it runs in a private network + mount namespace (see netns) where the server listens on
  127.0.0.1:53 and the profile's resolv.conf is bind-mounted over /etc/resolv.conf.
- *wire*: triage.dns_client's StubResolver (the wire client the dns probe measures with)
  following the same resolv.conf: search list in glibc's order, ndots, timeout, attempts,
  A and AAAA in parallel on one socket as glibc does, TCP on truncation.

A lookup counts as a *timeout* when it waited out at least one resolver timeout: the stub
knows; on the libc path it is a lookup that took at least 90% of the resolver timeout
(glibc does not say, and nothing else makes a loopback lookup take that long).
"""

from __future__ import annotations

import itertools
import socket
import threading
import time
from typing import Callable

from triage.dns_client import Lookup, StubResolver
from triage.resolvconf import DNS_PORT, ResolvConf, parse_resolv_conf

from .dns_profile import FaultProfile, parse_profile
from .dns_server_process import ServerProcess
from .dns_workload import SideProgress, SideResult, WorkloadOptions, run_workload

# Resolved once before the clock starts (imports, NSS modules, first socket), never measured.
# Not one of the workload's names, so a cold-cache profile still finds those cold.
WARMUP_NAME = "triage-warmup.example"


class LibcResolver:
    """glibc's getaddrinfo, as an application calls it (AF_UNSPEC: A and AAAA)."""

    def __init__(self, timeout_s: float):
        self.timeout_s = timeout_s

    def resolve(self, name: str) -> Lookup:
        start = time.perf_counter()
        try:
            socket.getaddrinfo(name, 443, socket.AF_UNSPEC, socket.SOCK_STREAM)
            ok, error = True, None
        except socket.gaierror as exc:
            ok, error = False, exc.strerror or str(exc)
        elapsed = time.perf_counter() - start
        return Lookup(ok, elapsed >= 0.9 * self.timeout_s, None, error)


def profile_conf(profile: FaultProfile, nameserver: str) -> ResolvConf:
    """The profile's resolv.conf (the very text the libc path bind-mounts), as glibc reads it."""
    return parse_resolv_conf(profile.resolv_conf(nameserver))


def run_embedded_side(profile_spec: str, options: WorkloadOptions, path: str, *, port: int = 0,
                      progress: SideProgress | None = None) -> SideResult:
    """One side against the embedded server (in its own process). ``path`` libc assumes the
    caller made 127.0.0.1:``port`` the system resolver (netns does, inside a namespace)."""
    profile = parse_profile(profile_spec)
    with ServerProcess(profile, names=options.names, port=port) as server:
        resolve: Callable[[str], Lookup]
        if path == "libc":
            resolve = LibcResolver(profile.timeout_s).resolve
        else:
            resolve = StubResolver(profile_conf(profile, server.host), server.port).resolve
        resolve(WARMUP_NAME)
        before = server.stats()["queries"]
        result = run_workload(profile_spec, options, resolve,
                              lambda: server.stats()["queries"] - before, profile.timeout_s, progress)
        result.server_stats = server.stop()
    if result.server_stats is not None:
        result.queries = result.server_stats["queries"] - before
        result.queries_estimated = False
    return result


def run_external_side(profile_spec: str, options: WorkloadOptions, path: str, conf: ResolvConf,
                      port: int = DNS_PORT, progress: SideProgress | None = None) -> SideResult:
    """One side against a real resolver: ``conf``'s nameservers on ``port``. On the libc path
    the caller has put ``conf`` in /etc/resolv.conf (a mount namespace for --resolver; the
    machine's own for --system)."""
    if path == "libc":
        resolver = LibcResolver(max(1, conf.timeout))
        resolver.resolve(WARMUP_NAME)
        # glibc does not say how many queries it sent: bound by the most one lookup can cost.
        per_lookup = 2 * len(conf.candidates(options.names[0])) * max(1, conf.attempts)
        started = itertools.count()  # next() on a count is atomic under the GIL
        done: list[int] = [0]

        def resolve(name: str) -> Lookup:
            done[0] = next(started) + 1
            return resolver.resolve(name)

        result = run_workload(profile_spec, options, resolve, lambda: done[0] * per_lookup, resolver.timeout_s,
                              progress)
        result.queries_estimated = True
        result.queries = None
        return result
    stub = StubResolver(conf, port)
    stub.resolve(WARMUP_NAME)
    sent: list[int] = [0]
    lock = threading.Lock()

    def resolve_wire(name: str) -> Lookup:
        outcome = stub.resolve(name)
        with lock:
            sent[0] += outcome.queries or 0
        return outcome

    return run_workload(profile_spec, options, resolve_wire, lambda: sent[0], stub.timeout_s, progress)
