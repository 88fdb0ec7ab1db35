"""One window of Prometheus history read into a Snapshot v1.

1. Which metrics exist in the window (``/api/v1/label/__name__/values``, start/end bounded):
   a profile runs when its metrics exist (or when ``prometheus.profiles`` names it; then a
   missing exporter is a skipped result saying so).
2. Every series is one ``query_range`` with ``step`` = block and ``[$block]`` ranges, so the
   point at ``start + k·block`` covers exactly block k: blocks do not overlap. At most
   ``concurrency`` queries are in flight (a fleet of 200 nodes is still one query a metric).
3. Each result series is a target named by its identifying labels; each block one sample of
   a samples measurement, the block structure recorded as its ``groups`` (one group of one
   value per block: blocks are the independent units, DESIGN.md "Contracts added").

Failures are data, as for the live probes: an unreachable Prometheus or a query that keeps
failing becomes an error result of the layers it would have fed. Refused credentials and a
query of yours that Prometheus rejects are bad input (exit 2): nothing to record, much to fix.
"""

from __future__ import annotations

import re
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Callable, Iterable, Mapping, Sequence

from triage import __version__
from triage.config import PrometheusConfig, PromQuery
from triage.errors import BadInput, InputFileError
from triage.model import Measurement, ProbeResult, Snapshot
from triage.stats.basics import MIN_SAMPLES

from .client import PrometheusClient, PrometheusRejected, PrometheusUnavailable, RangeSeries
from .profiles import PROFILES, Series, Variant
from .windows import Window, format_duration, iso

SOURCE_TARGET = "prometheus"  # target of the error results that stand for a whole layer or probe
ALL = "all"  # target of a query of yours with no `by` labels
MIN_BLOCKS = MIN_SAMPLES  # compare judges no samples metric with fewer a side


@dataclass(frozen=True)
class Planned:
    """One query to run: a profile's series (its present variants joined) or one of yours."""

    series: Series
    promql: str
    noun: str
    profile: str | None = None  # None: prometheus.queries[index]
    index: int = 0
    naming: tuple[str, ...] = ()


@dataclass(frozen=True)
class Collected:
    snapshot: Snapshot
    notes: tuple[str, ...]  # for stderr: what was left out and why
    queries: int = 0
    elapsed_s: float = 0.0


@dataclass
class _Results:
    """Measurements gathered per (layer, probe, target), and the errors per (layer, probe)."""

    measurements: dict[tuple[str, str, str], list[Measurement]] = field(default_factory=dict)
    errors: dict[tuple[str, str], str] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)


def _substitute(promql: str, series: Series, block_s: float) -> str:
    return promql.replace("$block", format_duration_promql(block_s)).replace("$by", ", ".join(series.by))


def format_duration_promql(seconds: float) -> str:
    """A PromQL range: whole seconds as the largest exact unit (300 -> 5m)."""
    whole = int(round(seconds))
    for unit, suffix in ((86400, "d"), (3600, "h"), (60, "m")):
        if whole % unit == 0:
            return f"{whole // unit}{suffix}"
    return f"{whole}s"


def _custom(query: PromQuery) -> Series:
    return Series(query.layer, query.probe, query.metric, query.unit, query.better,
                  tuple((label,) for label in query.by), (Variant(query.promql, ()),))


def plan(config: PrometheusConfig, present: set[str]) -> tuple[list[Planned], list[ProbeResult], list[str]]:
    """(queries to run, skipped results for profiles asked for but absent, notes)."""
    planned: list[Planned] = []
    skipped: list[ProbeResult] = []
    notes: list[str] = []
    absent: list[str] = []
    asked = config.profiles
    for name in asked or tuple(PROFILES):
        profile = PROFILES[name]
        mine = []
        for series in profile.series:
            variants = [v for v in series.variants if set(v.needs) <= present]
            if variants:
                promql = " or ".join(f"({_substitute(v.promql, series, config.block_s)})" for v in variants) \
                    if len(variants) > 1 else _substitute(variants[0].promql, series, config.block_s)
                mine.append(Planned(series, promql, profile.noun_of(series.probe), name,
                                    naming=tuple(v.naming for v in variants if v.naming)))
        if mine:
            planned += mine
        elif asked:
            needs = sorted({n for s in profile.series for n in s.variants[0].needs})[:3]
            reason = (f"no {profile.exporter} metrics in the window (looked for {', '.join(needs)}, ...); "
                      f"profile {name} left out")
            skipped += [ProbeResult(layer, probe, SOURCE_TARGET, "skipped", reason)
                        for layer, probe in dict.fromkeys((s.layer, s.probe) for s in profile.series)]
        else:
            absent.append(name)
    if absent:
        notes.append(f"no metrics in the window for the profiles {', '.join(absent)} (left out)")
    for i, query in enumerate(config.queries):
        series = _custom(query)
        planned.append(Planned(series, _substitute(query.promql, series, config.block_s), "targets", None, i))
    return planned, skipped, notes


def target_name(series: Series, labels: Mapping[str, str]) -> str | None:
    """Each name part is the first of its labels present; None when none is (the series is unnamed)."""
    parts = []
    for alternatives in series.target:
        value = next((labels[label] for label in alternatives if labels.get(label)), None)
        if value is not None:
            parts.append(value)
    if not parts:
        return ALL if not series.target else None
    return "/".join(parts)


def metric_name(series: Series, labels: Mapping[str, str]) -> str:
    label = series.metric_label
    if label is None:
        return series.metric
    value = re.sub(r"[^A-Za-z0-9]+", "_", labels.get(label, "")).strip("_").lower() or "none"
    return series.metric.replace(f"{{{label}}}", value)


def _samples(metric: str, values: Sequence[float], series: Series) -> Measurement:
    # One group per block (DESIGN.md: "groups ... one Prometheus block each"): every value
    # is its own independent unit.
    return Measurement(metric=metric, kind="samples", unit=series.unit, better=series.better,
                       values=tuple(values), groups=(1,) * len(values))


def add_series(results: _Results, item: Planned, found: Sequence[RangeSeries]) -> None:
    s = item.series
    if not found:
        where = f"profile {item.profile}" if item.profile else f"prometheus.queries[{item.index}]"
        results.notes.append(f"{where}: {s.layer}.{s.probe}.{s.metric}: the query returned no series")
        return
    facts: dict[str, dict[str, None]] = {}
    seen: set[tuple[str, str]] = set()
    for rs in found:
        target = target_name(s, rs.labels)
        if target is None:
            results.notes.append(f"{s.layer}.{s.probe}.{s.metric}: a series without {', '.join(s.by)} left out")
            continue
        if s.kind == "fact":
            value = rs.labels.get(s.fact_label or "", "")
            if value and rs.points:
                facts.setdefault(target, {})[value] = None
            continue
        metric = metric_name(s, rs.labels)
        if (target, metric) in seen:
            results.notes.append(f"{s.layer}.{s.probe}.{target}.{metric}: several series name this target; "
                                 "the first kept (add a label to `by`)")
            continue
        seen.add((target, metric))
        values = [v for _, v in rs.points]
        if values:
            results.measurements.setdefault((s.layer, s.probe, target), []).append(_samples(metric, values, s))
    for target, values in facts.items():
        distinct = sorted(values)
        results.measurements.setdefault((s.layer, s.probe, target), []).append(
            Measurement.fact(s.metric, distinct[0] if len(distinct) == 1 else distinct))


def request_headers(config: PrometheusConfig) -> dict[str, str]:
    headers = dict(config.headers)
    if config.token_file:
        try:
            with open(config.token_file, encoding="utf-8") as fh:
                token = fh.read().strip()
        except (OSError, UnicodeDecodeError) as exc:
            raise InputFileError(config.token_file, f"cannot read the token file: {getattr(exc, 'strerror', None) or exc}",
                                 field="prometheus.token_file") from None
        if not token:
            raise InputFileError(config.token_file, "the token file is empty", field="prometheus.token_file")
        headers["Authorization"] = f"Bearer {token}"
    return headers


def client_for(config: PrometheusConfig) -> PrometheusClient:
    return PrometheusClient(config.url, request_headers(config), verify=config.verify, timeout_s=config.timeout_s)


def _layers_of(config: PrometheusConfig) -> list[tuple[str, str]]:
    """(layer, probe) pairs this config would feed, for error results when nothing can be read."""
    names = config.profiles or tuple(PROFILES)
    pairs = [(s.layer, s.probe) for n in names for s in PROFILES[n].series]
    pairs += [(q.layer, q.probe) for q in config.queries]
    return list(dict.fromkeys(pairs))


def _error_results(pairs: Iterable[tuple[str, str]], reason: str) -> list[ProbeResult]:
    return [ProbeResult(layer, probe, SOURCE_TARGET, "error", reason) for layer, probe in pairs]


def collect(config: PrometheusConfig, window: Window, label: str, *, source: str = "triage.yaml",
            client: PrometheusClient | None = None, deadline_s: float = 600.0,
            clock: Callable[[], float] = time.monotonic) -> Collected:
    """Read ``window`` into a Snapshot labelled ``label``."""
    started = clock()
    blocks = int(window.duration.total_seconds() // config.block_s)
    if blocks < 1:
        raise BadInput(f"--window: {format_duration(window.duration)} is shorter than one block "
                       f"(prometheus.block {format_duration_promql(config.block_s)})")
    notes: list[str] = []
    if blocks < MIN_BLOCKS:
        notes.append(f"the window holds {blocks} blocks of {format_duration_promql(config.block_s)}: compare needs "
                     f"{MIN_BLOCKS} samples a side; lengthen --window or shorten prometheus.block")
    client = client or client_for(config)
    first = window.start.timestamp() + config.block_s
    last = window.start.timestamp() + blocks * config.block_s
    results = _Results()
    extra_results: list[ProbeResult] = []
    queries = 0
    try:
        try:
            present = set(client.label_values("__name__", window.start.timestamp(), window.end.timestamp()))
        except PrometheusUnavailable as exc:
            extra_results += _error_results(_layers_of(config), client.mask(f"cannot read Prometheus: {exc}"))
            planned: list[Planned] = []
        else:
            planned, skipped, plan_notes = plan(config, present)
            extra_results += skipped
            notes += plan_notes
        deadline = started + deadline_s

        def run(item: Planned) -> tuple[Planned, list[RangeSeries] | str]:
            if clock() >= deadline:
                return item, f"run deadline of {deadline_s:g}s reached before the query started"
            try:
                return item, client.query_range(item.promql, first, last, config.block_s)
            except PrometheusUnavailable as exc:
                return item, str(exc)
            except PrometheusRejected as exc:
                if item.profile is None:
                    raise InputFileError(source, f"Prometheus rejected the query: {exc.reason}",
                                         field=f"prometheus.queries[{item.index}].promql") from None
                return item, f"Prometheus rejected the built-in query of profile {item.profile}: {exc.reason}"

        with ThreadPoolExecutor(max_workers=config.concurrency, thread_name_prefix="triage-prom") as pool:
            for item, outcome in pool.map(run, planned):
                queries += 1
                if isinstance(outcome, str):
                    results.errors.setdefault((item.series.layer, item.series.probe), outcome)
                else:
                    add_series(results, item, outcome)
    finally:
        client.close()
    snapshot = _snapshot(config, window, label, client, results, extra_results, planned)
    return Collected(snapshot, tuple(notes + results.notes), queries, clock() - started)


def _snapshot(config: PrometheusConfig, window: Window, label: str, client: PrometheusClient, results: _Results,
              extra_results: list[ProbeResult], planned: Sequence[Planned]) -> Snapshot:
    out = list(extra_results)
    for (layer, probe, target), ms in sorted(results.measurements.items()):
        out.append(ProbeResult(layer, probe, target, "ok", None, 0.0, tuple(ms)))
    out += [ProbeResult(layer, probe, SOURCE_TARGET, "error", client.mask(reason))
            for (layer, probe), reason in sorted(results.errors.items())]
    nouns = {f"{p.series.layer}.{p.series.probe}": p.noun for p in planned}
    namings: dict[str, list[str]] = {}
    for p in planned:
        if p.profile:
            namings.setdefault(p.profile, [])
            namings[p.profile] += [n for n in p.naming if n not in namings[p.profile]]
    source = {"kind": "prometheus", "url": client.url, "block_s": config.block_s,
              "window": {"start": iso(window.start), "end": iso(window.end), "why": window.why},
              "profiles": namings}
    host = client.url.split("://", 1)[-1]
    return Snapshot(label=label, taken_at=iso(window.end), host=host, tool_version=__version__,
                    results=tuple(out), extra={"source": source, "target_nouns": nouns})


def problems(snapshot: Snapshot) -> list[str]:
    """Source-level lines for stderr: the error and skipped results."""
    return [f"{r.layer}.{r.probe}: {r.status}: {r.error}" for r in snapshot.results if r.status != "ok"]
