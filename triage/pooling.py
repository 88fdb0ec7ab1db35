"""One side of a comparison: its snapshots pooled per metric.

A side is one snapshot file or every stored run of a label. Pooling concatenates samples,
sums events and trials, and gathers gauge and fact values (one per run); a metric whose
kind or unit differs between runs is marked conflicting, never silently mixed. Probe
errors are kept per probe, with whether any run of that probe succeeded.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Mapping, Sequence

from .model import Snapshot
from .verdict import MetricKey, ProbeFailure, SideInfo

ProbeKey = tuple[str, str, str]  # (layer, probe, target)


@dataclass
class PooledMetric:
    """One metric of one side, gathered over the side's runs (built here, read by the judge)."""

    kind: str
    unit: str | None
    better: str
    runs: int = 0
    values: list[Any] = field(default_factory=list)  # samples; gauge values; fact values
    events: int = 0
    trials: int = 0
    conflict: str = ""  # kinds or units disagree between runs
    counter: bool = True  # gauge: every run marked it an event count over its window
    window_s: float | None = 0.0  # summed windows of counter runs; None once a run has none
    kinds: dict[str, int] = field(default_factory=dict)  # proportion: events by kind, summed over runs
    context: dict[str, Any] = field(default_factory=dict)  # figures the latest run attached (not judged)


@dataclass(frozen=True)
class PooledSide:
    info: SideInfo
    metrics: dict[MetricKey, PooledMetric]
    ok_probes: frozenset[ProbeKey]
    errors: dict[ProbeKey, str]  # the first error of each probe that failed in some run
    layers: frozenset[str]


def _positive_window(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and value > 0


def _add_notes(pooled: PooledMetric, extra: Mapping[str, Any]) -> None:
    """A measurement's ``kinds`` (events by kind; proportions) and ``context`` (figures beside
    it), kept for the sentences: never judged, so a malformed one is just left out."""
    kinds = extra.get("kinds")
    if pooled.kind == "proportion" and isinstance(kinds, Mapping):
        for kind, n in kinds.items():
            if isinstance(n, int) and not isinstance(n, bool) and n > 0:
                pooled.kinds[str(kind)] = pooled.kinds.get(str(kind), 0) + n
    context = extra.get("context")
    if isinstance(context, Mapping) and context:
        pooled.context = dict(context)


def pool_side(spec: str, source: str, snapshots: Sequence[Snapshot]) -> PooledSide:
    """Pool ``snapshots`` (a side named ``spec``, from a "file" or a "label")."""
    metrics: dict[MetricKey, PooledMetric] = {}
    ok_probes: set[ProbeKey] = set()
    errors: dict[ProbeKey, list[str]] = {}
    layers: set[str] = set()
    for snap in snapshots:
        for result in snap.results:
            probe_key = (result.layer, result.probe, result.target)
            layers.add(result.layer)
            if result.status == "error":
                errors.setdefault(probe_key, []).append(result.error or "error")
                continue
            if result.status != "ok":
                continue
            ok_probes.add(probe_key)
            for m in result.measurements:
                key = probe_key + (m.metric,)
                pooled = metrics.get(key)
                if pooled is None:
                    pooled = metrics[key] = PooledMetric(m.kind, m.unit, m.better)
                elif pooled.kind != m.kind:
                    pooled.conflict = f"kind differs between runs ({pooled.kind} vs {m.kind})"
                    continue
                elif (pooled.unit or "") != (m.unit or ""):
                    pooled.conflict = f"unit differs between runs ({pooled.unit} vs {m.unit})"
                    continue
                pooled.runs += 1
                _add_notes(pooled, m.extra)
                if m.kind == "samples":
                    pooled.values.extend(m.values)
                elif m.kind == "proportion":
                    pooled.events += m.events
                    pooled.trials += m.trials
                elif m.kind == "gauge":
                    pooled.values.append(m.value)
                    pooled.counter = pooled.counter and m.extra.get("counter") is True
                    window = m.extra.get("window_s")
                    pooled.window_s = (pooled.window_s + window
                                       if _positive_window(window) and pooled.window_s is not None else None)
                else:
                    pooled.values.append(m.value)
    failures = tuple(
        ProbeFailure(k[0], k[1], k[2], msgs[0], len(msgs), len(snapshots), k not in ok_probes)
        for k, msgs in sorted(errors.items()))
    info = SideInfo(spec, source, tuple(s.label for s in snapshots), tuple(dict.fromkeys(s.host for s in snapshots)),
                    tuple(s.taken_at for s in snapshots), len(snapshots), failures)
    return PooledSide(info, metrics, frozenset(ok_probes), {k: v[0] for k, v in errors.items()}, frozenset(layers))
