"""App layer: the service's own HTTP endpoints, as its clients meet them.

One probe, ``http``, per target with a ``url``: it sends ``samples`` requests in groups,
each over a new keep-alive ``requests.Session`` (like a real client, and a new connection
per group so per-connection state varies within a run), and records latency, the
proportion of failed or unexpected answers, the status classes seen and the response size.

The same target's host is also resolved by the dns layer and connected to by the kernel
layer (``Config.endpoints()``, unless ``fanout: false``), so an app regression can be
split into DNS time, TCP connect time and the service's own time.

Secrets: header values (which may come from ``${ENV}`` references) are sent, never
recorded; error text is masked of every form of them (``Target.mask``: header values and
their tokens, the URL's password and its basic-auth base64, the query string).
"""

from __future__ import annotations

import re
import statistics
import time
import warnings
from dataclasses import dataclass, field
from typing import Any, Iterator

from triage.probes import GROUP_END, ProbeContext, ProbeSkipped, end_group, group_sizes, probe
from triage.config import Target
from triage.http_deadline import request_within
from triage.model import Measurement

# Give up on a target whose first attempts all failed at the transport level: it is down,
# and a hundred more timeouts would only burn the run's deadline. (A target's ``timeout``
# bounds each request in total, connect to last body byte: triage.http_deadline.)
GIVE_UP_AFTER = 3

STATUS_CLASSES = ("2xx", "3xx", "4xx", "5xx")


class EndpointUnreachable(Exception):
    """No request reached the endpoint; the message says why (already scrubbed)."""


def _http_targets(config: Any) -> list[tuple[str, Target]]:
    targets = [(t.name, t) for t in config.targets if t.url]
    if not targets:
        raise ProbeSkipped("no target with a url in the config")
    return targets


@dataclass
class Tally:
    """What a run of requests saw. Kept apart from the requests so it can be tested alone."""

    expect_status: tuple[int, ...]
    latencies_ms: list[float] = field(default_factory=list)
    group_sizes: list[int] = field(default_factory=list)  # of latencies_ms, one per session
    sizes: list[int] = field(default_factory=list)
    status_codes: dict[int, int] = field(default_factory=dict)
    failures: dict[str, int] = field(default_factory=dict)  # transport failures by kind
    first_failure: str | None = None

    @property
    def attempts(self) -> int:
        return sum(self.status_codes.values()) + sum(self.failures.values())

    def answered(self, status: int, latency_ms: float, size: int) -> None:
        self.status_codes[status] = self.status_codes.get(status, 0) + 1
        self.latencies_ms.append(latency_ms)
        self.sizes.append(size)

    def failed(self, kind: str, reason: str, waited_ms: float | None = None) -> None:
        """A request with no answer; ``waited_ms``: what it cost the client (a timeout's wait)."""
        self.failures[kind] = self.failures.get(kind, 0) + 1
        if waited_ms is not None:
            self.latencies_ms.append(waited_ms)
        if self.first_failure is None:
            self.first_failure = f"{kind}: {reason}"

    def end_group(self) -> None:
        end_group(self.latencies_ms, self.group_sizes)

    def measurements(self) -> Iterator[Measurement]:
        attempts = self.attempts
        unexpected = sum(n for code, n in self.status_codes.items() if code not in self.expect_status)
        failed = sum(self.failures.values())
        yield Measurement.samples("latency", self.latencies_ms, unit="ms", groups=self.group_sizes or None)
        # One number to judge: what a client would call an error (an answer it did not
        # expect, or none at all). The exact codes ride along for the human reading it.
        yield Measurement("errors", "proportion", "lower", events=unexpected + failed, trials=attempts,
                          extra={"status_codes": {str(c): n for c, n in sorted(self.status_codes.items())},
                                 "failures": dict(sorted(self.failures.items()))})
        yield Measurement.proportion("request_failures", failed, attempts)
        # A fixed set of classes, so both snapshots of a comparison carry the same metrics
        # even when a code appears in only one of them; judged as proportions (exact test).
        expected_classes = {f"{code // 100}xx" for code in self.expect_status}
        for cls in STATUS_CLASSES:
            events = sum(n for code, n in self.status_codes.items() if f"{code // 100}xx" == cls)
            better = "higher" if cls in expected_classes else "lower"
            yield Measurement.proportion(f"status_{cls}", events, attempts, better=better)
        if self.sizes:
            yield Measurement.gauge("response_size", statistics.median(self.sizes), unit="bytes", better="equal")


def scrub(text: str, target: Target) -> str:
    """Error text without the target's secrets in any form (triage.secrets knows them)."""
    return target.mask(text)


def failure_kind(exc: Exception, requests: Any) -> str:
    if isinstance(exc, requests.exceptions.Timeout):
        return "timeout"
    if isinstance(exc, requests.exceptions.SSLError):
        return "tls"
    if isinstance(exc, requests.exceptions.ConnectionError):
        return "connection"
    return "request"


_URLLIB3_NOISE = re.compile(r"^.*?Max retries exceeded with url: \S+ \(Caused by \w+\((?P<inner>.*)\)\)$")


def short_reason(exc: Exception) -> str:
    """requests wraps urllib3's reason in a long pool message; keep the inner cause."""
    text = " ".join(str(exc).split())
    m = _URLLIB3_NOISE.match(text)
    return m["inner"] if m else text


def session_for(target: Target, requests: Any) -> Any:
    from triage import __version__

    session = requests.Session()
    # No proxies, .netrc or CA bundle from the environment: the probe measures the
    # endpoint itself, with exactly the trust the config states.
    session.trust_env = False
    session.verify = target.verify
    session.headers["User-Agent"] = f"triage/{__version__}"
    session.headers.update(target.headers)
    return session


@probe("app", "http", targets=_http_targets, subruns=True)
def http(target: Target, ctx: ProbeContext) -> Iterator[Measurement | object]:
    """Latency, errors and status classes of ``samples`` requests to the target's url."""
    import requests

    n = target.samples or ctx.samples
    tally = Tally(expect_status=target.expect_status)
    warmups_failed: list[str] = []
    sent = 0

    def given_up() -> bool:
        return not tally.status_codes and tally.attempts >= GIVE_UP_AFTER

    for g, size in enumerate(group_sizes(n, target.groups or ctx.config.groups)):
        if g:
            yield GROUP_END
        if given_up() or ctx.remaining() <= 0.001:
            break
        # Per group, never across a GROUP_END: the filters are global, and the other probes
        # run in between.
        with session_for(target, requests) as session, warnings.catch_warnings():
            if target.verify is False:
                # The config said so; one warning per request would only bury the report.
                from urllib3.exceptions import InsecureRequestWarning

                warnings.simplefilter("ignore", InsecureRequestWarning)
            try:
                # Warm-up, not recorded (as api_latency's): it opens the group's connection, so
                # the TCP/TLS handshake (kernel.tcp_connect's to measure) is in no sample. Its
                # body is read to the end, or the connection would not go back to the pool.
                request_within(session, target.method, target.url,
                               min(target.timeout_s, max(ctx.remaining(), 0.001)), allow_redirects=False)
            except requests.RequestException as exc:
                warmups_failed.append(f"{failure_kind(exc, requests)}: {scrub(short_reason(exc), target)}")
            for _ in range(size):
                remaining = ctx.remaining()
                if remaining <= 0.001:
                    break
                timeout = min(target.timeout_s, remaining)
                sent += 1
                started = time.perf_counter()
                try:
                    # Redirects are not followed: a redirect to a login page is not a 200.
                    response = request_within(session, target.method, target.url, timeout, allow_redirects=False)
                    body = response.content
                except requests.RequestException as exc:
                    waited = time.perf_counter() - started
                    kind = failure_kind(exc, requests)
                    # A timed-out request cost its client the wait: it stays in the latency tail.
                    tally.failed(kind, scrub(short_reason(exc), target), waited * 1000.0 if kind == "timeout" else None)
                    if given_up():
                        break
                    continue
                tally.answered(response.status_code, (time.perf_counter() - started) * 1000.0, len(body))
        tally.end_group()
    if sent < n and not given_up():
        ctx.note(f"stopped after {sent} of {n} requests: probe deadline reached")
    if warmups_failed:
        ctx.note(f"{len(warmups_failed)} warm-up requests got no answer (not recorded; first: {warmups_failed[0]})")
    if not tally.attempts:
        raise TimeoutError("probe deadline reached before the first request")
    if not tally.status_codes:
        raise EndpointUnreachable(scrub(f"all {tally.attempts} requests to {target.url} failed; "
                                        f"first: {tally.first_failure}", target))
    yield from tally.measurements()
