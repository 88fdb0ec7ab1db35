"""One side of a comparison: its snapshots pooled per metric.

A side is one snapshot file or every stored run of a label. Pooling concatenates samples
(and their groups: each run's sub-runs stay separate groups), sums events and trials, and
gathers gauge and fact values (one per run); a metric whose
kind or unit differs between runs is marked conflicting, never silently mixed. Probe
errors are kept per probe, with whether any run of that probe succeeded.
"""

from __future__ import annotations

from collections import Counter
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
    # samples: sizes of the independent groups the values came in, over all runs; None when
    # no run recorded groups (values taken as independent, as snapshots before groups were).
    groups: list[int] | None = None
    events: int = 0
    trials: int = 0
    conflict: str = ""  # kinds or units disagree between runs
    counter: bool = True  # gauge: every run marked it an event count over its window
    window_s: float | None = 0.0  # summed windows of counter runs; None once a run has none
    # counter: the events per round of every run and the rounds' lengths; None once a run
    # counted no rounds.
    round_counts: list[int] | None = field(default_factory=list)
    round_seconds: list[float] | None = field(default_factory=list)
    # proportion: the events and trials per round of every run; None once a run had none.
    round_events: list[int] | None = field(default_factory=list)
    round_trials: list[int] | None = field(default_factory=list)
    # proportion: a failure rate the probe lets add up over targets (its ``combine`` key,
    # e.g. the resolver every name was asked of); such rates are the family's primary ones.
    combine: str | None = None
    # gauge: a ramp's capacity (triage.load): per run, how it was found (SLO, "at least", ...).
    capacity: list[dict] = field(default_factory=list)
    kinds: dict[str, int] = field(default_factory=dict)  # proportion: events by kind, summed over runs
    context: dict[str, Any] = field(default_factory=dict)  # figures the latest run attached (not judged)


@dataclass(frozen=True)
class PooledSide:
    info: SideInfo
    metrics: dict[MetricKey, PooledMetric]
    ok_probes: frozenset[ProbeKey]
    errors: dict[ProbeKey, str]  # the first error of each probe that failed in some run
    layers: frozenset[str]


COMBINED_PREFIX = "all@"


def _add_combined(metrics: dict[MetricKey, PooledMetric]) -> None:
    """Failure rates the probe marked with one ``combine`` key, added up over their targets
    (every name asked of one resolver) as one more metric, target ``all@<key>``: 5 timeouts
    in 200 for each of three names is no evidence alone and plenty together."""
    groups: dict[tuple[str, str, str, str], list[PooledMetric]] = {}
    for (layer, probe, _target, metric), pooled in metrics.items():
        if pooled.kind == "proportion" and pooled.combine and not pooled.conflict:
            groups.setdefault((layer, probe, pooled.combine, metric), []).append(pooled)
    for (layer, probe, combine, metric), members in groups.items():
        key = (layer, probe, COMBINED_PREFIX + combine, metric)
        if len(members) < 2 or key in metrics:
            continue
        metrics[key] = PooledMetric("proportion", members[0].unit, members[0].better,
                                    runs=max(m.runs for m in members), events=sum(m.events for m in members),
                                    trials=sum(m.trials for m in members), combine=combine,
                                    kinds=dict(sum((Counter(m.kinds) for m in members), Counter())))


def _add_rounds(pooled: PooledMetric, counts: Any, seconds: Any) -> None:
    """A run's per-round event counts and round lengths, if it recorded them well formed."""
    if pooled.round_counts is None or pooled.round_seconds is None:
        return
    well_formed = (isinstance(counts, list) and isinstance(seconds, list) and len(counts) == len(seconds) > 1
                   and all(type(c) is int and c >= 0 for c in counts) and all(_positive_window(s) for s in seconds))
    if not well_formed:
        pooled.round_counts = pooled.round_seconds = None
        return
    pooled.round_counts.extend(counts)
    pooled.round_seconds.extend(float(s) for s in seconds)


def _add_round_rates(pooled: PooledMetric, rounds: Any) -> None:
    """A run's per-round [events, trials] pairs, if it recorded them well formed."""
    if pooled.round_events is None or pooled.round_trials is None:
        return
    well_formed = (isinstance(rounds, list) and len(rounds) > 1
                   and all(isinstance(r, list) and len(r) == 2 and all(type(v) is int and v >= 0 for v in r)
                           and r[0] <= r[1] for r in rounds))
    if not well_formed:
        pooled.round_events = pooled.round_trials = None
        return
    pooled.round_events.extend(r[0] for r in rounds)
    pooled.round_trials.extend(r[1] for r in rounds)


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
                    if m.groups is not None or pooled.groups is not None:
                        # A run without groups among runs with them: its values count as independent.
                        if pooled.groups is None:
                            pooled.groups = [1] * len(pooled.values)
                        pooled.groups.extend(m.groups or (1,) * len(m.values))
                    pooled.values.extend(m.values)
                elif m.kind == "proportion":
                    pooled.events += m.events
                    pooled.trials += m.trials
                    combine = m.extra.get("combine")
                    pooled.combine = combine if isinstance(combine, str) and combine else None
                    _add_round_rates(pooled, m.extra.get("rounds"))
                elif m.kind == "gauge":
                    pooled.values.append(m.value)
                    pooled.counter = pooled.counter and m.extra.get("counter") is True
                    window = m.extra.get("window_s")
                    pooled.window_s = (pooled.window_s + window
                                       if _positive_window(window) and pooled.window_s is not None else None)
                    if isinstance(m.extra.get("capacity"), dict):
                        pooled.capacity.append(m.extra["capacity"])
                    _add_rounds(pooled, m.extra.get("rounds"), m.extra.get("round_s"))
                else:
                    pooled.values.append(m.value)
    _add_combined(metrics)
    failures = tuple(
        ProbeFailure(k[0], k[1], k[2], msgs[0], len(msgs), len(snapshots), k not in ok_probes)
        for k, msgs in sorted(errors.items()))
    info = SideInfo(spec, source, tuple(s.label for s in snapshots), tuple(dict.fromkeys(s.host for s in snapshots)),
                    tuple(s.taken_at for s in snapshots), len(snapshots), failures)
    return PooledSide(info, metrics, frozenset(ok_probes), {k: v[0] for k, v in errors.items()}, frozenset(layers))
