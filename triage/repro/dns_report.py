"""What `triage repro dns` found: the report, its JSON summary, and each side as a v1 snapshot."""

from __future__ import annotations

import socket
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from triage import __version__
from triage.model import Measurement, ProbeResult, Snapshot, utc_now

from .dns_workload import SideResult, WorkloadOptions
from .snapshot_files import capped, percentiles, write_snapshots

_REASONS_SHOWN = 3  # the most frequent failure reasons in a summary


@dataclass
class ReproReport:
    path: str
    target: str  # "embedded", "resolver IP:port" or "system"
    path_detail: str
    sides: list[SideResult]
    options: WorkloadOptions
    saved: list[str] = field(default_factory=list)

    def to_json_dict(self) -> dict[str, Any]:
        return {"path": self.path, "sides": [summarise(side) for side in self.sides]}


def summarise(side: SideResult) -> dict[str, Any]:
    """One side for the JSON document. ``lookup_ms`` is successful lookups only (all None
    when none succeeded); failed ones are ``failures``, ``failed_lookup_ms`` and
    ``failure_reasons`` (the most frequent few, with counts)."""
    qpl = None
    if side.queries is not None and side.lookups and not side.queries_estimated:
        qpl = round(side.queries / side.lookups, 3)
    reasons = Counter(side.failure_reasons).most_common(_REASONS_SHOWN)
    return {
        "profile": side.profile,
        "lookup_ms": percentiles(side.lookup_ms),
        "timeouts": side.timeouts,
        "queries_per_lookup": qpl,
        "request_ms": percentiles(side.request_ms),
        "pool_wait_ms": percentiles(side.pool_wait_ms),
        "pool_peak": side.pool_peak,
        "lookups": side.lookups,
        "failures": side.failures,
        "failed_lookup_ms": percentiles(side.failed_lookup_ms),
        "failure_reasons": dict(reasons),
        "requests": side.requests,
        "resolver_timeout_ms": round(side.resolver_timeout_s * 1000.0, 3),
        "duration_s": side.duration_s,
        "stopped_by": side.stopped_by,
    }


def side_snapshot(report: ReproReport, side: SideResult) -> Snapshot:
    """One side as a v1 Snapshot: dns/repro (lookups) and app/repro_request (requests)."""
    target = report.target
    dns_notes: list[str] = []
    app_notes: list[str] = []
    dns_measurements = []
    if side.lookup_ms:
        dns_measurements.append(Measurement.samples("latency", capped(side.lookup_ms, dns_notes, "latency")))
    else:
        dns_notes.append(f"latency dropped: none of {side.lookups} lookups succeeded")
    dns_measurements += [
        Measurement.proportion("timeouts", side.timeouts, side.lookups),
        Measurement.proportion("failures", side.failures, side.lookups),
    ]
    if side.failures:
        reasons = ", ".join(f"{reason} ({n})" for reason, n in Counter(side.failure_reasons).most_common())
        dns_notes.append(f"{side.failures} failed lookups, not in latency: {reasons}")
    summary = summarise(side)
    if summary["queries_per_lookup"] is not None:
        dns_measurements.append(Measurement.gauge("queries_per_lookup", summary["queries_per_lookup"], unit="count"))
    else:
        dns_notes.append("queries_per_lookup: glibc does not say how many queries it sent")
    dns_measurements += [Measurement.fact("path", report.path), Measurement.fact("profile", side.profile)]
    app_measurements = [
        Measurement.samples("latency", capped(side.request_ms, app_notes, "latency")),
        Measurement.samples("pool_wait", capped(side.pool_wait_ms, app_notes, "pool_wait")),
        Measurement.gauge("pool_peak", side.pool_peak, unit="connections"),
        Measurement.proportion("errors", side.failed_requests, side.requests),
    ]
    o = report.options
    workload = {"names": list(o.names), "workers": o.workers, "pool_size": o.pool_size, "hold_ms": o.hold_ms,
                "rate": o.rate, "duration_s": side.duration_s, "stopped_by": side.stopped_by,
                "resolver_timeout_s": side.resolver_timeout_s}
    results = (
        ProbeResult("dns", "repro", target, "ok", None, side.duration_s, tuple(dns_measurements), tuple(dns_notes)),
        ProbeResult("app", "repro_request", target, "ok", None, side.duration_s, tuple(app_measurements),
                    tuple(app_notes)),
    )
    extra = {"repro": {"kind": "dns", "path": report.path, "path_detail": report.path_detail,
                       "profile": side.profile, "workload": workload, "server_stats": side.server_stats}}
    return Snapshot(label=side.profile, taken_at=utc_now(), host=socket.gethostname(), tool_version=__version__,
                    results=results, extra=extra)


def save_snapshots(report: ReproReport, directory: str) -> list[str]:
    return write_snapshots(directory, [side_snapshot(report, side) for side in report.sides])
