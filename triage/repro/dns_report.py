"""What `triage repro dns` found: the report, its JSON summary, and each side as a v1 snapshot."""

from __future__ import annotations

import os
import re
import socket
from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Sequence

from triage import __version__
from triage.errors import BadInput
from triage.fileio import atomic_write_text
from triage.model import Measurement, ProbeResult, Snapshot, utc_now
from triage.stats import quantile

from .dns_workload import SideResult, WorkloadOptions

SNAPSHOT_SAMPLE_CAP = 50_000
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


def percentiles(values: Sequence[float]) -> dict[str, float | None]:
    """p50/p95/p99 (linear interpolation, as numpy's default) and max, in the values' unit."""
    if not values:
        return {"p50": None, "p95": None, "p99": None, "max": None}
    ordered = sorted(values)
    return {"p50": round(quantile(ordered, 0.50), 3), "p95": round(quantile(ordered, 0.95), 3),
            "p99": round(quantile(ordered, 0.99), 3), "max": round(ordered[-1], 3)}


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


def check_save_dir(path: str, option: str = "--save-snapshots") -> None:
    """A reproducer's snapshot directory (``--save-snapshots``, ``--snapshot-dir``): refused
    before any side runs when it cannot be written."""
    if os.path.exists(path) and not os.path.isdir(path):
        raise BadInput(f"{option} {path}: exists and is not a directory")
    try:
        os.makedirs(path, exist_ok=True)
    except OSError as exc:
        raise BadInput(f"{option} {path}: cannot create: {exc.strerror}") from None


def slug(text: str) -> str:
    """A profile as a file name part: 'delay=3ms,drop=1%' -> 'delay-3ms-drop-1'."""
    return re.sub(r"[^A-Za-z0-9]+", "-", text).strip("-")[:60] or "profile"


def capped(values: list[float], notes: list[str], what: str) -> list[float]:
    """A reproducer's samples for a snapshot: at most SNAPSHOT_SAMPLE_CAP, evenly spaced in time (noted)."""
    if len(values) <= SNAPSHOT_SAMPLE_CAP:
        return [round(v, 4) for v in values]
    stride = len(values) / SNAPSHOT_SAMPLE_CAP
    notes.append(f"{what}: kept {SNAPSHOT_SAMPLE_CAP} of {len(values)} samples, evenly spaced in time")
    return [round(values[int(i * stride)], 4) for i in range(SNAPSHOT_SAMPLE_CAP)]


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
    written = []
    for index, side in enumerate(report.sides, start=1):
        path = os.path.join(directory, f"{index}-{slug(side.profile)}.json")
        atomic_write_text(path, side_snapshot(report, side).to_json())
        written.append(path)
    return written
