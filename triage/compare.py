"""Judge a candidate against a baseline: one Comparison with a verdict per metric, per layer
and overall, and the suspects (via triage.attribution).

The policy (numbers in triage/stats.py, floors in triage/budget.py):

- samples: three components: the median shift (Mann–Whitney U, Hodges–Lehmann size) and
  the two tail quantiles on the worse side (p95/p99; p5/p1 when higher is better), each
  tail tested only when enough pooled values lie beyond it.
- proportion: the rate, Fisher's exact test.
- gauge: one value per run, no test; regressed when it moves the worse way past the floors
  (NotReady nodes 0 -> 1). A gauge marked ``"counter": true`` (optionally ``"window_s"``) is
  an event count over the probe window (RSTs, drops): a Poisson count, judged by an exact
  conditional test, since 0 -> 1 events between two runs is noise, not a regression.
- fact: changed or not; evidence, a regression only when a budget says so.
- The family: every tested metric. A metric's p-value is the Bonferroni minimum over its
  tested components (k × the smallest), Holm–Bonferroni across metrics at ``alpha``
  (family-wise, default 0.01) decides, Benjamini–Hochberg q-values are shown beside. Each
  component gets the adjusted p of its metric's Holm step computed from its own p, so a
  component regresses when that is <= alpha, its change passes both floors the worse way
  and its 95% interval excludes zero (the size shown never contradicts the verdict).
- Fewer than 8 samples on a side: inconclusive, never regressed (a rank test's normal
  approximation cannot judge fewer); proportions need trials on both sides, nothing more,
  since Fisher's test is exact at any size. A metric on
  one side only: absent (failed when the other side's probe errored). A probe that errored
  with no successful run on that side makes its layer failed: never ok by omission.

Sides are snapshot files or stored labels; a label pools all its runs (samples
concatenated, events and trials summed, gauge and fact values gathered).
"""

from __future__ import annotations

import contextlib
import gc
import json
import math
import statistics
from dataclasses import dataclass, field
from typing import Any, Iterable, Iterator, Mapping, Sequence

from . import stats
from .budget import DEFAULT_BUDGET, Budget, Floors, load_budget
from .errors import BadInput, ExitStatus
from .layers import LAYERS, stack_order
from .model import Snapshot
from .stats import MIN_SAMPLES

SCHEMA = "triage.comparison/v1"
DEFAULT_ALPHA = 0.01
CI_LEVEL = 0.95

VERDICTS = ("regressed", "ok", "inconclusive")
LAYER_STATUSES = ("regressed", "failed", "inconclusive", "improved", "ok", "absent")
METRIC_VERDICTS = ("regressed", "failed", "inconclusive", "absent", "improved", "changed", "unchanged", "ignored")
_SEVERITY = {v: i for i, v in enumerate(METRIC_VERDICTS)}

MetricKey = tuple[str, str, str, str]


# ---------------------------------------------------------------- result model


def _opt_float(value: Any) -> float | None:
    return None if value is None else float(value)


@dataclass(frozen=True)
class SideSummary:
    """One side of one metric, pooled over its runs. Fields by kind: samples n/mean/p50/p95/p99;
    proportion events/trials/rate; gauge and fact ``values`` (one per run, facts distinct)."""

    kind: str
    runs: int = 1
    n: int = 0
    mean: float | None = None
    p50: float | None = None
    p95: float | None = None
    p99: float | None = None
    events: int | None = None
    trials: int | None = None
    rate: float | None = None
    values: tuple[Any, ...] = ()

    @property
    def value(self) -> Any:
        """The one number or fact a gauge/fact side stands for (median for gauges)."""
        if not self.values:
            return None
        if self.kind == "gauge":
            return statistics.median(self.values)
        return self.values[0] if len(self.values) == 1 else list(self.values)

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {"runs": self.runs}
        if self.kind == "samples":
            d.update(n=self.n, mean=self.mean, p50=self.p50, p95=self.p95, p99=self.p99)
        elif self.kind == "proportion":
            d.update(events=self.events, trials=self.trials, rate=self.rate)
        else:
            d.update(n=self.n, value=self.value, values=list(self.values))
        return d

    @classmethod
    def from_dict(cls, kind: str, d: Mapping[str, Any] | None) -> "SideSummary | None":
        if d is None:
            return None
        return cls(kind, int(d.get("runs", 1)), int(d.get("n", 0) or 0), _opt_float(d.get("mean")),
                   _opt_float(d.get("p50")), _opt_float(d.get("p95")), _opt_float(d.get("p99")),
                   d.get("events"), d.get("trials"), _opt_float(d.get("rate")), tuple(d.get("values") or ()))


@dataclass(frozen=True)
class Component:
    """One judged aspect of a metric: ``median`` (Hodges–Lehmann shift), a tail (``p95``,
    ``p99``, ``p5``, ``p1``), a ``rate``, a gauge ``value`` or a ``fact``.

    ``change`` is candidate − baseline; ``relative`` is change / |baseline| (None from 0).
    ``p`` is the raw one-sided p-value in the worse direction (two-sided for better=equal),
    None when untested; ``p_adjusted`` (Holm) and ``q`` (Benjamini–Hochberg) are over the
    whole family. ``practical``: the change passes both floors the worse way.
    """

    name: str
    baseline: Any
    candidate: Any
    change: float | None = None
    relative: float | None = None
    ci_low: float | None = None
    ci_high: float | None = None
    p: float | None = None
    p_adjusted: float | None = None
    q: float | None = None
    p_better: float | None = None
    p_better_adjusted: float | None = None
    practical: bool = False
    practical_better: bool = False
    verdict: str = "unchanged"
    note: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "baseline": self.baseline, "candidate": self.candidate,
                "change": self.change, "relative": self.relative,
                "ci": None if self.ci_low is None else [self.ci_low, self.ci_high],
                "p": self.p, "p_adjusted": self.p_adjusted, "q": self.q,
                "p_better": self.p_better, "p_better_adjusted": self.p_better_adjusted,
                "practical": self.practical, "practical_better": self.practical_better,
                "verdict": self.verdict, "note": self.note}

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> "Component":
        ci = d.get("ci") or (None, None)
        return cls(d["name"], d.get("baseline"), d.get("candidate"), _opt_float(d.get("change")),
                   _opt_float(d.get("relative")), _opt_float(ci[0]), _opt_float(ci[1]),
                   _opt_float(d.get("p")), _opt_float(d.get("p_adjusted")), _opt_float(d.get("q")),
                   _opt_float(d.get("p_better")), _opt_float(d.get("p_better_adjusted")),
                   bool(d.get("practical")), bool(d.get("practical_better")),
                   d.get("verdict", "unchanged"), d.get("note", ""))


def _size(c: Component) -> float:
    """How large a component's change is, relative to its baseline (a change from 0: infinite)."""
    return math.inf if c.relative is None and c.change else abs(c.relative or 0.0)


@dataclass(frozen=True)
class MetricComparison:
    layer: str
    probe: str
    target: str
    metric: str
    kind: str
    unit: str | None
    better: str
    verdict: str
    reason: str
    baseline: SideSummary | None = None
    candidate: SideSummary | None = None
    components: tuple[Component, ...] = ()
    lead: int | None = None  # index of the component that stands for the change
    floors: Floors | None = None

    @property
    def id(self) -> str:
        return f"{self.layer}.{self.probe}.{self.target}.{self.metric}"

    @property
    def key(self) -> MetricKey:
        return (self.layer, self.probe, self.target, self.metric)

    @property
    def lead_component(self) -> Component | None:
        return None if self.lead is None else self.components[self.lead]

    @property
    def p_adjusted(self) -> float | None:
        ps = [c.p_adjusted for c in self.components if c.p_adjusted is not None]
        return min(ps) if ps else None

    @property
    def q(self) -> float | None:
        qs = [c.q for c in self.components if c.q is not None]
        return min(qs) if qs else None

    @property
    def p(self) -> float | None:
        ps = [c.p for c in self.components if c.p is not None]
        return min(ps) if ps else None

    def severity(self) -> tuple:
        """Sort key, most severe first: by verdict, then by relative size of the change."""
        lead = self.lead_component
        size = _size(lead) if lead is not None and lead.change is not None else 0.0
        return (_SEVERITY.get(self.verdict, 99), -size, self.p_adjusted if self.p_adjusted is not None else 2.0,
                self.id)

    def describe(self) -> str:
        """The change in words: 'p95 resolve latency of quay-db +4.1 ms (+310%, 95% CI 3.6–4.7 ms)'."""
        lead = self.lead_component
        where = "" if self.target == "local" else f" of {self.target}"
        if lead is None:
            return f"{self.probe} {self.metric}{where}: {self.reason}"
        name = f"{self.probe} {self.metric}{where}"
        if self.kind == "fact":
            return f"{name} changed {short_value(lead.baseline)} → {short_value(lead.candidate)}"
        if self.kind == "proportion":
            text = (f"{name} {format_rate(lead.baseline)} → {format_rate(lead.candidate)} "
                    f"({format_signed(lead.change * 100)} pp")
            if lead.ci_low is not None:
                text += f", {CI_LABEL} {format_range(lead.ci_low * 100, lead.ci_high * 100)} pp"
            return text + ")"
        unit = display_unit(self.unit)
        if self.kind == "gauge":
            return (f"{name} {format_number(lead.baseline)} → {format_number(lead.candidate)}{unit} "
                    f"({format_relative(lead.relative, lead.change)}; {lead.note})")
        text = f"{lead.name} {name} {format_signed(lead.change)}{unit} ({format_relative(lead.relative, lead.change)}"
        if lead.ci_low is not None:
            text += f", {CI_LABEL} {format_range(lead.ci_low, lead.ci_high)}{unit}"
        return text + ")"

    def to_dict(self) -> dict[str, Any]:
        lead = self.lead_component
        return {
            "id": self.id, "layer": self.layer, "probe": self.probe, "target": self.target,
            "metric": self.metric, "kind": self.kind, "unit": self.unit, "better": self.better,
            "baseline": None if self.baseline is None else self.baseline.to_dict(),
            "candidate": None if self.candidate is None else self.candidate.to_dict(),
            "change": None if lead is None else {
                "component": lead.name, "absolute": lead.change, "relative": lead.relative,
                "ci": None if lead.ci_low is None else [lead.ci_low, lead.ci_high], "ci_level": CI_LEVEL},
            "p": self.p, "p_adjusted": self.p_adjusted, "q": self.q,
            "verdict": self.verdict, "reason": self.reason,
            "floors": None if self.floors is None else self.floors.to_dict(),
            "lead": self.lead,
            "components": [c.to_dict() for c in self.components],
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> "MetricComparison":
        kind = d["kind"]
        return cls(d["layer"], d["probe"], d["target"], d["metric"], kind, d.get("unit"),
                   d.get("better", "lower"), d["verdict"], d.get("reason", ""),
                   SideSummary.from_dict(kind, d.get("baseline")), SideSummary.from_dict(kind, d.get("candidate")),
                   tuple(Component.from_dict(c) for c in d.get("components") or ()), d.get("lead"),
                   None if d.get("floors") is None else Floors.from_dict(d["floors"]))


@dataclass(frozen=True)
class ProbeFailure:
    layer: str
    probe: str
    target: str
    error: str
    runs: int = 1  # how many of the side's runs it failed in
    of_runs: int = 1
    blocking: bool = True  # no run of this side succeeded: its metrics are missing

    def to_dict(self) -> dict[str, Any]:
        return {"layer": self.layer, "probe": self.probe, "target": self.target, "error": self.error,
                "runs": self.runs, "of_runs": self.of_runs, "blocking": self.blocking}

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> "ProbeFailure":
        return cls(d["layer"], d["probe"], d["target"], d.get("error") or "", int(d.get("runs", 1)),
                   int(d.get("of_runs", 1)), bool(d.get("blocking", True)))


@dataclass(frozen=True)
class SideInfo:
    """Where one side came from: a file or a label, and what its runs say about themselves."""

    spec: str
    source: str  # "file" or "label"
    labels: tuple[str, ...] = ()
    hosts: tuple[str, ...] = ()
    taken_at: tuple[str, ...] = ()
    runs: int = 1
    failures: tuple[ProbeFailure, ...] = ()

    @property
    def title(self) -> str:
        return ", ".join(dict.fromkeys(self.labels)) or self.spec

    def to_dict(self) -> dict[str, Any]:
        return {"spec": self.spec, "source": self.source, "labels": list(self.labels), "hosts": list(self.hosts),
                "taken_at": list(self.taken_at), "runs": self.runs, "failures": [f.to_dict() for f in self.failures]}

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> "SideInfo":
        return cls(d.get("spec", ""), d.get("source", "file"), tuple(d.get("labels") or ()),
                   tuple(d.get("hosts") or ()), tuple(d.get("taken_at") or ()), int(d.get("runs", 1)),
                   tuple(ProbeFailure.from_dict(f) for f in d.get("failures") or ()))


@dataclass(frozen=True)
class Comparison:
    verdict: str
    baseline: SideInfo
    candidate: SideInfo
    layers: Mapping[str, str]
    metrics: tuple[MetricComparison, ...]  # most severe first
    suspects: tuple[Any, ...] = ()  # attribution.Suspect
    alpha: float = DEFAULT_ALPHA
    tests: int = 0  # size of the Holm family: metrics with at least one tested component
    budget: str | None = None
    reason: str = ""
    layer_notes: Mapping[str, str] = field(default_factory=dict)

    @property
    def exit_status(self) -> ExitStatus:
        return {"regressed": ExitStatus.REGRESSION, "inconclusive": ExitStatus.INCONCLUSIVE}.get(
            self.verdict, ExitStatus.OK)

    def sorted_metrics(self) -> list[MetricComparison]:
        return sorted(self.metrics, key=MetricComparison.severity)

    def counts(self) -> dict[str, int]:
        out = {v: 0 for v in METRIC_VERDICTS}
        for m in self.metrics:
            out[m.verdict] = out.get(m.verdict, 0) + 1
        return out

    def to_dict(self) -> dict[str, Any]:
        return {
            "schema": SCHEMA, "verdict": self.verdict, "reason": self.reason,
            "alpha": self.alpha, "tests": self.tests, "ci_level": CI_LEVEL, "budget": self.budget,
            "baseline": self.baseline.to_dict(), "candidate": self.candidate.to_dict(),
            "layers": dict(self.layers), "layer_notes": dict(self.layer_notes),
            "suspects": [s.to_dict() for s in self.suspects],
            "counts": self.counts(),
            "metrics": [m.to_dict() for m in self.sorted_metrics()],
        }

    def to_json(self) -> str:
        # Compact like snapshots: with `indent`, Python's json falls back to its slow pure-Python
        # encoder (0.5 s for 2,000 metrics); `| jq .` makes it readable.
        return json.dumps(self.to_dict(), sort_keys=True, separators=(",", ":"), allow_nan=False) + "\n"

    @classmethod
    def from_dict(cls, d: Any, source: str = "<comparison>") -> "Comparison":
        """Rebuild a saved comparison (``--format json``) for re-rendering."""
        from .attribution import Suspect
        from .errors import InputFileError

        if not isinstance(d, dict) or d.get("schema") != SCHEMA:
            got = d.get("schema") if isinstance(d, dict) else type(d).__name__
            raise InputFileError(source, f"expected {SCHEMA}, got {got!r}", field="schema")
        try:
            return cls(d["verdict"], SideInfo.from_dict(d["baseline"]), SideInfo.from_dict(d["candidate"]),
                       _stack_order(d["layers"]), tuple(MetricComparison.from_dict(m) for m in d["metrics"]),
                       tuple(Suspect.from_dict(s) for s in d.get("suspects") or ()), float(d.get("alpha", DEFAULT_ALPHA)),
                       int(d.get("tests", 0)), d.get("budget"), d.get("reason", ""), dict(d.get("layer_notes") or {}))
        except (KeyError, TypeError, ValueError, IndexError) as exc:
            raise InputFileError(source, f"not a complete comparison ({type(exc).__name__}: {exc})") from None


def _stack_order(layers: Mapping[str, str]) -> dict[str, str]:
    """Layers bottom of the stack first (JSON objects come back in key order)."""
    return {k: layers[k] for k in stack_order(layers)}


# ---------------------------------------------------------------- number formatting


CI_LABEL = f"{CI_LEVEL:.0%} CI"


def format_number(x: Any) -> str:
    """Three significant digits in plain notation: 4.1, 0.0523, 310, 12,400."""
    if x is None:
        return "–"
    if isinstance(x, bool) or not isinstance(x, (int, float)):
        return str(x)
    if x == 0 or not math.isfinite(x):
        return "0" if x == 0 else str(x)
    ax = abs(x)
    if ax >= 1000:
        return f"{x:,.0f}"
    decimals = max(0, 2 - math.floor(math.log10(ax)))
    text = f"{x:.{decimals}f}"
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return text


def format_range(low: float | None, high: float | None) -> str:
    """An interval with both ends at the same precision: '1.66–2.00'."""
    if low is None or high is None:
        return "–"
    texts = [format_number(low), format_number(high)]
    decimals = max(len(t.split(".")[1]) if "." in t else 0 for t in texts)
    if max(abs(low), abs(high)) < 1000:
        texts = [f"{v:.{decimals}f}" for v in (low, high)]
    return "–".join(texts)


def format_signed(x: float | None) -> str:
    if x is None:
        return "–"
    text = format_number(x)
    return text if text.startswith("-") or x == 0 else "+" + text


def format_relative(relative: float | None, change: float | None = None) -> str:
    if relative is None:
        return "from 0" if change else "±0%"
    pct = relative * 100
    if pct == 0:
        return "±0%"
    text = f"{pct:+.0f}%" if abs(pct) >= 10 else f"{pct:+.1f}%"
    return text


def format_p(p: float | None) -> str:
    if p is None:
        return "–"
    if p == 0:
        return "<1e-300"
    if p < 0.001:
        return f"{p:.1e}"
    return f"{p:.3f}".rstrip("0").rstrip(".") if p < 1 else "1"


def display_unit(unit: str | None) -> str:
    """' ms' after a number; nothing for plain counts ('3', not '3 count')."""
    return f" {unit}" if unit and unit != "count" else ""


def format_rate(rate: Any) -> str:
    if not isinstance(rate, (int, float)):
        return "–"
    return f"{rate * 100:.2f}%" if rate < 0.1 else f"{rate * 100:.1f}%"


def short_value(value: Any) -> str:
    """A fact value in one short line (JSON for anything but a string)."""
    text = value if isinstance(value, str) else json.dumps(value, sort_keys=True)
    return text if len(text) <= 60 else text[:57] + "..."


# ---------------------------------------------------------------- loading and pooling sides


@dataclass
class _Pooled:
    kind: str
    unit: str | None
    better: str
    runs: int = 0
    values: list = field(default_factory=list)  # samples; gauge values; fact values
    events: int = 0
    trials: int = 0
    conflict: str = ""  # kinds or units disagree between runs
    counter: bool = True  # gauge: every run marked it an event count over its window
    window_s: float | None = 0.0  # summed windows of counter runs; None once a run has none


@dataclass
class _Side:
    info: SideInfo
    metrics: dict[MetricKey, _Pooled]
    ok_probes: set[tuple[str, str, str]]
    errors: dict[tuple[str, str, str], str]
    layers: set[str]


def load_side(spec: str, store: str | None = None) -> tuple[str, list[Snapshot]]:
    """A snapshot file, or every run stored under a label (the store's rule decides which).
    Returns ("file" or "label", snapshots)."""
    from .store import SnapshotStore, load_side as store_load_side, resolve_store_path

    return store_load_side(spec, SnapshotStore(resolve_store_path(store)))


def pool_side(spec: str, source: str, snapshots: Sequence[Snapshot]) -> _Side:
    metrics: dict[MetricKey, _Pooled] = {}
    ok_probes: set[tuple[str, str, str]] = set()
    errors: dict[tuple[str, str, str], list[str]] = {}
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
                    pooled = metrics[key] = _Pooled(m.kind, m.unit, m.better)
                elif pooled.kind != m.kind:
                    pooled.conflict = f"kind differs between runs ({pooled.kind} vs {m.kind})"
                    continue
                elif (pooled.unit or "") != (m.unit or ""):
                    pooled.conflict = f"unit differs between runs ({pooled.unit} vs {m.unit})"
                    continue
                pooled.runs += 1
                if m.kind == "samples":
                    pooled.values.extend(m.values)
                elif m.kind == "proportion":
                    pooled.events += m.events
                    pooled.trials += m.trials
                elif m.kind == "gauge":
                    pooled.values.append(m.value)
                    pooled.counter = pooled.counter and m.extra.get("counter") is True
                    window = m.extra.get("window_s")
                    ok_window = isinstance(window, (int, float)) and not isinstance(window, bool) and window > 0
                    pooled.window_s = pooled.window_s + window if ok_window and pooled.window_s is not None else None
                else:
                    pooled.values.append(m.value)
    failures = tuple(
        ProbeFailure(k[0], k[1], k[2], msgs[0], len(msgs), len(snapshots), k not in ok_probes)
        for k, msgs in sorted(errors.items()))
    info = SideInfo(spec, source, tuple(s.label for s in snapshots), tuple(dict.fromkeys(s.host for s in snapshots)),
                    tuple(s.taken_at for s in snapshots), len(snapshots), failures)
    return _Side(info, metrics, ok_probes, {k: v[0] for k, v in errors.items()}, layers)


# ---------------------------------------------------------------- judging


def _canonical(value: Any) -> str:
    return json.dumps(value, sort_keys=True)


def _distinct(values: Iterable[Any]) -> tuple[Any, ...]:
    seen: dict[str, Any] = {}
    for v in values:
        seen.setdefault(_canonical(v), v)
    return tuple(seen.values())


def _worse_sign(better: str) -> int:
    return {"lower": 1, "higher": -1}.get(better, 0)


def _relative(change: float, baseline: float | None) -> float | None:
    if baseline is None or baseline == 0:
        return None
    return change / abs(baseline)


def _directional(better: str, p_greater: float, p_less: float) -> tuple[float, float | None]:
    """(p towards worse, p towards better); better=equal: two-sided, no 'better'."""
    if better == "lower":
        return p_greater, p_less
    if better == "higher":
        return p_less, p_greater
    return min(1.0, 2 * min(p_greater, p_less)), None


def _moves(better: str, change: float | None, floors: Floors, baseline: float | None) -> tuple[bool, bool]:
    """(moved worse past both floors, moved better past both floors)."""
    if change is None or not floors.passes(change, baseline):
        return False, False
    sign = _worse_sign(better)
    if sign == 0:
        return True, False
    return change * sign > 0, change * sign < 0


def _ci_agrees(better: str, low: float | None, high: float | None, worse: bool) -> bool:
    """Does the interval exclude zero on the side the verdict claims?"""
    if low is None or high is None:
        return True
    sign = _worse_sign(better) * (1 if worse else -1)
    if sign == 0:
        return low > 0 or high < 0
    return low > 0 if sign > 0 else high < 0


def _tails_for(better: str) -> tuple[float, ...]:
    return (0.05, 0.01) if better == "higher" else (0.95, 0.99)


def _tail_name(q: float) -> str:
    return f"p{q * 100:g}"


class _Row:
    """A metric row while it is being judged (mutable); frozen into MetricComparison at the end."""

    def __init__(self, key: MetricKey, kind: str, unit: str | None, better: str, floors: Floors | None):
        self.key = key
        self.kind = kind
        self.unit = unit
        self.better = better
        self.floors = floors
        self.verdict = "unchanged"
        self.reason = ""
        self.baseline: SideSummary | None = None
        self.candidate: SideSummary | None = None
        self.components: list[dict[str, Any]] = []
        self.regress_on_change = False


def _samples_summary(values: list[float], runs: int) -> SideSummary:
    ordered = sorted(values)
    if not ordered:
        return SideSummary("samples", runs, 0)
    return SideSummary("samples", runs, len(ordered), sum(ordered) / len(ordered), stats.quantile(ordered, 0.5),
                       stats.quantile(ordered, 0.95), stats.quantile(ordered, 0.99))


def _tested_summary(s: stats.Summary, runs: int) -> SideSummary:
    return SideSummary("samples", runs, s.n, s.mean, s.p50, s.p95, s.p99)


@dataclass
class _LazySamples:
    values: list
    runs: int


def _judge_samples_batch(rows: list[_Row], data: list[tuple[list[float], list[float]]]) -> None:
    results = stats.compare_samples(data, [_tails_for(r.better) for r in rows], ci_level=CI_LEVEL)
    for row, res in zip(rows, results):
        row.baseline = _tested_summary(res.baseline, row.baseline.runs)
        row.candidate = _tested_summary(res.candidate, row.candidate.runs)
        s = res.shift
        p_worse, p_better = _directional(row.better, s.p_greater, s.p_less)
        note = "" if s.pairwise_exact else "size from 100 quantiles a side"
        row.components.append(dict(
            name="median", baseline=res.baseline.p50, candidate=res.candidate.p50, change=s.shift,
            base_for_floor=res.baseline.p50, ci_low=s.ci_low, ci_high=s.ci_high, p=p_worse, p_better=p_better,
            note=note))
        for t in res.tails:
            p_worse, p_better = _directional(row.better, t.p_greater, t.p_less)
            row.components.append(dict(
                name=_tail_name(t.q), baseline=t.baseline, candidate=t.candidate, change=t.change,
                base_for_floor=t.baseline, ci_low=t.ci_low, ci_high=t.ci_high,
                p=p_worse if t.tested else None, p_better=p_better if t.tested else None,
                note="" if t.tested else f"not tested: {t.beyond_baseline + t.beyond_candidate} pooled values "
                                         f"beyond it, {stats.MIN_TAIL_BEYOND} needed"))


def _judge_proportion(row: _Row, a: _Pooled, b: _Pooled) -> None:
    res = stats.proportion_test(a.events, a.trials, b.events, b.trials, CI_LEVEL)
    p_worse, p_better = _directional(row.better, res.p_greater, res.p_less)
    row.components.append(dict(
        name="rate", baseline=res.baseline_rate, candidate=res.candidate_rate, change=res.change,
        base_for_floor=res.baseline_rate, ci_low=res.ci_low, ci_high=res.ci_high, p=p_worse, p_better=p_better,
        note="Fisher's exact test"))


def _judge_gauge(row: _Row, a: _Pooled, b: _Pooled) -> None:
    base, cand = statistics.median(a.values), statistics.median(b.values)
    note = "single value, no test" if len(a.values) == 1 and len(b.values) == 1 else \
        f"median of {len(a.values)} vs {len(b.values)} runs, no test"
    row.components.append(dict(name="value", baseline=base, candidate=cand, change=float(cand - base),
                               base_for_floor=base, note=note))


def _judge_counter(row: _Row, a: _Pooled, b: _Pooled) -> None:
    """Events counted over each side's window(s): Poisson counts, exact conditional test.
    The change is the candidate's count scaled to the baseline's window, minus the baseline's."""
    count_a, count_b = int(round(sum(a.values))), int(round(sum(b.values)))
    if a.window_s and b.window_s:
        scaled_b, exposure = count_b * a.window_s / b.window_s, (a.window_s, b.window_s)
        note = f"event counts over {a.window_s:g} s vs {b.window_s:g} s, exact Poisson test"
    else:
        scaled_b, exposure = float(count_b), (1.0, 1.0)
        note = "event counts over equal windows, exact Poisson test"
    p_greater, p_less = stats.poisson_counts_test(count_a, count_b, *exposure)
    p_worse, p_better = _directional(row.better, p_greater, p_less)
    row.components.append(dict(name="count", baseline=count_a, candidate=count_b, change=scaled_b - count_a,
                               base_for_floor=count_a, p=p_worse, p_better=p_better, note=note))


def _judge_fact(row: _Row, a: _Pooled, b: _Pooled) -> None:
    va, vb = _distinct(a.values), _distinct(b.values)
    changed = {_canonical(v) for v in va} != {_canonical(v) for v in vb}
    row.baseline = SideSummary("fact", a.runs, len(va), values=va)
    row.candidate = SideSummary("fact", b.runs, len(vb), values=vb)
    base = va[0] if len(va) == 1 else list(va)
    cand = vb[0] if len(vb) == 1 else list(vb)
    row.components.append(dict(name="fact", baseline=base, candidate=cand, changed=changed,
                               note="changed" if changed else "unchanged"))


def _finish_component(row: _Row, c: dict[str, Any], alpha: float) -> Component:
    change = c.get("change")
    relative = None if change is None else _relative(change, c.get("base_for_floor"))
    if row.kind == "fact":
        changed = c["changed"]
        verdict = ("regressed" if row.regress_on_change else "changed") if changed else "unchanged"
        return Component("fact", c["baseline"], c["candidate"], verdict=verdict,
                         note=c["note"] + (" (budget: a change is a regression)" if changed and row.regress_on_change else ""))
    worse, better = _moves(row.better, change, row.floors, c.get("base_for_floor")) if row.floors else (False, False)
    verdict = "unchanged"
    if row.kind == "gauge" and c["name"] == "value":  # a state: no test, floors only
        verdict = "regressed" if worse else "improved" if better else "unchanged"
    else:
        p_adj, pb_adj = c.get("p_adjusted"), c.get("p_better_adjusted")
        if worse and p_adj is not None and p_adj <= alpha and _ci_agrees(row.better, c.get("ci_low"), c.get("ci_high"), True):
            verdict = "regressed"
        elif better and pb_adj is not None and pb_adj <= alpha and \
                _ci_agrees(row.better, c.get("ci_low"), c.get("ci_high"), False):
            verdict = "improved"
    return Component(c["name"], c.get("baseline"), c.get("candidate"), change, relative, c.get("ci_low"),
                     c.get("ci_high"), c.get("p"), c.get("p_adjusted"), c.get("q"), c.get("p_better"),
                     c.get("p_better_adjusted"), worse, better, verdict, c.get("note", ""))


def _lead_and_reason(row: _Row, comps: list[Component], alpha: float) -> tuple[int | None, str, str]:
    """The component that stands for the metric, the metric's verdict and the reason."""
    if not comps:
        return None, row.verdict, row.reason
    for verdict in ("regressed", "improved"):
        hits = [i for i, c in enumerate(comps) if c.verdict == verdict]
        if hits:
            # The median is the steadiest account of a change; a tail leads only when the
            # median did not move (a slow minority: timeouts, retries).
            medians = [i for i in hits if comps[i].name == "median"]
            lead = medians[0] if medians else max(hits, key=lambda i: _size(comps[i]))
            c = comps[lead]
            if row.kind == "gauge" and c.name == "value":
                why = f"moved {'worse' if verdict == 'regressed' else 'better'} past the floors ({c.note})"
            elif row.kind == "fact":
                why = c.note
            else:
                why = f"{c.name}: adjusted p {format_p(c.p_adjusted if verdict == 'regressed' else c.p_better_adjusted)}" \
                      f" <= {alpha:g} and past the floors"
            return lead, verdict, why
    if row.kind == "fact":
        return 0, ("changed" if comps[0].verdict == "changed" else "unchanged"), comps[0].note
    lead = 0
    c = comps[0]
    if row.kind == "gauge" and c.name == "value":
        return lead, "unchanged", f"within the floors ({c.note})"
    # Not regressed: say the nearest miss, so a reader sees why.
    significant = [x for x in comps if x.p_adjusted is not None and x.p_adjusted <= alpha]
    if significant:
        x = min(significant, key=lambda y: y.p_adjusted)
        return comps.index(x), "unchanged", f"{x.name} significant (adjusted p {format_p(x.p_adjusted)}) but " \
                                            f"{format_signed(x.change)} is within the floors"
    best = min((x for x in comps if x.p_adjusted is not None), key=lambda y: y.p_adjusted, default=None)
    if best is None:
        return lead, "unchanged", "no component could be tested"
    return lead, "unchanged", f"not significant (smallest adjusted p {format_p(best.p_adjusted)}, {best.name})"


def _check_alpha(alpha: float) -> None:
    if not 0 < alpha < 0.5:
        raise BadInput(f"--alpha: expected a family-wise error rate between 0 and 0.5, got {alpha:g}")


def compare_snapshots(baseline: Sequence[Snapshot], candidate: Sequence[Snapshot], *,
                      baseline_spec: str = "baseline", candidate_spec: str = "candidate",
                      budget: Budget | None = None, alpha: float = DEFAULT_ALPHA,
                      sources: tuple[str, str] = ("file", "file")) -> Comparison:
    """Judge pooled candidate runs against pooled baseline runs (pure: no I/O)."""
    from .attribution import attribute

    _check_alpha(alpha)
    budget = budget or DEFAULT_BUDGET
    a_side = pool_side(baseline_spec, sources[0], baseline)
    b_side = pool_side(candidate_spec, sources[1], candidate)

    rows: list[_Row] = []
    samples_rows: list[_Row] = []
    samples_data: list[tuple[list[float], list[float]]] = []
    for key in sorted(set(a_side.metrics) | set(b_side.metrics)):
        a, b = a_side.metrics.get(key), b_side.metrics.get(key)
        ref = b or a
        assert ref is not None
        metric_id = ".".join(key)
        policy = budget.policy_for(metric_id, ref.kind, ref.unit)
        row = _Row(key, ref.kind, ref.unit, ref.better, policy.floors)
        row.regress_on_change = policy.regress_on_change
        rows.append(row)
        for pooled, attr in ((a, "baseline"), (b, "candidate")):
            if pooled is not None and pooled.kind == ref.kind:
                if ref.kind == "samples":
                    # Summaries of tested samples come from the batch below; this one
                    # serves rows that never reach it (too few samples, absent, ...).
                    setattr(row, attr, _LazySamples(pooled.values, pooled.runs))
                elif ref.kind == "proportion":
                    setattr(row, attr, SideSummary("proportion", pooled.runs, events=pooled.events,
                                                   trials=pooled.trials,
                                                   rate=pooled.events / pooled.trials if pooled.trials else None))
                elif ref.kind == "gauge":
                    setattr(row, attr, SideSummary("gauge", pooled.runs, len(pooled.values), values=tuple(pooled.values)))
        if policy.ignore:
            row.verdict, row.reason = "ignored", f"ignored by budget ({budget.source})"
            continue
        if a is None or b is None:
            missing_side, other = ("candidate", b_side) if b is None else ("baseline", a_side)
            err = other.errors.get(key[:3])
            if err is not None and key[:3] not in other.ok_probes:
                row.verdict, row.reason = "failed", f"probe failed on the {missing_side} side: {err}"
            else:
                row.verdict, row.reason = "absent", f"only in the {'baseline' if b is None else 'candidate'}"
            continue
        if a.kind != b.kind or (a.unit or "") != (b.unit or "") or a.conflict or b.conflict:
            row.verdict = "inconclusive"
            row.reason = a.conflict or b.conflict or (
                f"kind differs ({a.kind} vs {b.kind})" if a.kind != b.kind else f"unit differs ({a.unit} vs {b.unit})")
            continue
        if a.better != b.better:
            row.reason = f"better differs ({a.better} vs {b.better}); judged as {b.better}"
        if ref.kind == "samples":
            if len(a.values) < MIN_SAMPLES or len(b.values) < MIN_SAMPLES:
                row.verdict = "inconclusive"
                row.reason = f"too few samples ({len(a.values)} vs {len(b.values)}; {MIN_SAMPLES} a side needed)"
                continue
            samples_rows.append(row)
            samples_data.append((a.values, b.values))
        elif ref.kind == "proportion":
            # Fisher's test is exact at any number of trials (few trials just cannot reach
            # significance), so no minimum beyond having trials: a host counter's rate over
            # 3 datagrams is judged "unchanged", not a reason to call the run inconclusive.
            if a.trials == 0 or b.trials == 0:
                row.verdict = "inconclusive"
                row.reason = f"no trials on the {'baseline' if a.trials == 0 else 'candidate'} side"
                continue
            _judge_proportion(row, a, b)
        elif ref.kind == "gauge" and a.counter and b.counter:
            _judge_counter(row, a, b)
        elif ref.kind == "gauge":
            _judge_gauge(row, a, b)
        else:
            _judge_fact(row, a, b)
    if samples_rows:
        _judge_samples_batch(samples_rows, samples_data)
    for row in rows:
        for attr in ("baseline", "candidate"):
            lazy = getattr(row, attr)
            if isinstance(lazy, _LazySamples):
                setattr(row, attr, _samples_summary(lazy.values, lazy.runs))

    tests = _adjust(rows)
    metrics = tuple(sorted((_freeze(row, alpha) for row in rows), key=MetricComparison.severity))
    layers, notes = _layer_statuses(metrics, a_side, b_side)
    suspects = attribute(layers, metrics)
    verdict, reason = _overall(metrics, layers)
    return Comparison(verdict, a_side.info, b_side.info, layers, metrics, suspects, alpha, tests,
                      budget.source, reason, notes)


def _adjust(rows: list[_Row]) -> int:
    """Holm–Bonferroni and Benjamini–Hochberg across tested metrics; returns the family size.

    A metric's p-value is the Bonferroni minimum of its k tested components (k × the
    smallest), valid however the components depend on each other. A component's adjusted p
    is Holm's at its metric's step with k × its own p in place of the metric's: it is
    <= alpha only if the metric is rejected *and* that component alone meets the step's
    threshold, so the component that passes the floors is the one that is significant.
    The 'improved' direction is a separate family built the same way.
    """
    family = 0
    for p_key, adj_key, q_key in (("p", "p_adjusted", "q"), ("p_better", "p_better_adjusted", None)):
        members = [comps for comps in ([c for c in r.components if c.get(p_key) is not None] for r in rows) if comps]
        m = len(members)
        if p_key == "p":
            family = m
        metric_p = [min(1.0, len(comps) * min(c[p_key] for c in comps)) for comps in members]
        order = sorted(range(m), key=lambda i: metric_p[i])
        running = 0.0
        for step, i in enumerate(order):
            previous = running
            running = max(running, min(1.0, (m - step) * metric_p[i]))
            k = len(members[i])
            for c in members[i]:
                c[adj_key] = max(previous, min(1.0, (m - step) * k * c[p_key]))
        if q_key is None:
            continue
        tail_min = [1.0] * (m + 1)  # BH: running minimum of m p_(j) / j from the largest p down
        for pos in range(m - 1, -1, -1):
            tail_min[pos] = min(tail_min[pos + 1], m * metric_p[order[pos]] / (pos + 1))
        for pos, i in enumerate(order):
            k = len(members[i])
            for c in members[i]:
                c[q_key] = min(1.0, max(tail_min[pos], min(tail_min[pos + 1], m * k * c[p_key] / (pos + 1))))
    return family


def _freeze(row: _Row, alpha: float) -> MetricComparison:
    comps = [_finish_component(row, c, alpha) for c in row.components]
    lead, verdict, reason = _lead_and_reason(row, comps, alpha)
    if row.reason and verdict in ("regressed", "improved", "unchanged", "changed") and row.components:
        reason = f"{reason}; {row.reason}"
    layer, probe, target, metric = row.key
    return MetricComparison(layer, probe, target, metric, row.kind, row.unit, row.better, verdict, reason,
                            row.baseline, row.candidate, tuple(comps), lead, row.floors)


def _layer_statuses(metrics: Sequence[MetricComparison], a: _Side, b: _Side) -> tuple[dict[str, str], dict[str, str]]:
    seen = a.layers | b.layers | {m.layer for m in metrics}
    order = stack_order(seen | set(LAYERS))
    statuses: dict[str, str] = {}
    notes: dict[str, str] = {}
    for layer in order:
        rows = [m for m in metrics if m.layer == layer]
        verdicts = {m.verdict for m in rows}
        blocking = [f for side in (a, b) for f in side.info.failures if f.layer == layer and f.blocking]
        if "regressed" in verdicts:
            status = "regressed"
        elif blocking or "failed" in verdicts:
            status = "failed"
        elif "inconclusive" in verdicts:
            status = "inconclusive"
        elif "improved" in verdicts:
            status = "improved"
        elif verdicts & {"unchanged", "changed"}:
            status = "ok"
        else:
            status = "absent"
        statuses[layer] = status
        parts = []
        counts = {v: sum(1 for m in rows if m.verdict == v) for v in METRIC_VERDICTS}
        for v in ("regressed", "failed", "inconclusive", "improved", "changed", "absent"):
            if counts[v]:
                parts.append(f"{counts[v]} {v}")
        judged = sum(counts[v] for v in ("regressed", "improved", "unchanged", "changed"))
        if rows:
            parts.append(f"{judged} of {len(rows)} metrics judged")
        for f in blocking:
            parts.append(f"{f.probe} [{f.target}] failed: {f.error}")
        if not rows and layer not in seen:
            parts.append("not probed on either side")
        notes[layer] = "; ".join(parts)
    return statuses, notes


def _overall(metrics: Sequence[MetricComparison], layers: Mapping[str, str]) -> tuple[str, str]:
    regressed = sorted({m.layer for m in metrics if m.verdict == "regressed"})
    if regressed:
        return "regressed", f"regression in {', '.join(l for l in layers if l in regressed)}"
    failed = [l for l, s in layers.items() if s == "failed"]
    undecided = [l for l, s in layers.items() if s == "inconclusive"]
    if failed or undecided:
        parts = []
        if failed:
            parts.append(f"probes failed in {', '.join(failed)}")
        if undecided:
            parts.append(f"too little data to decide in {', '.join(undecided)}")
        return "inconclusive", "; ".join(parts)
    if not any(m.verdict in ("unchanged", "improved", "changed") for m in metrics):
        return "inconclusive", "no metric was measured on both sides"
    return "ok", "no regression past the floors at the family-wise level"


@contextlib.contextmanager
def _collector_paused() -> Iterator[None]:
    """Loading and judging allocate millions of objects but no reference cycles; left on,
    the cyclic collector rescans the growing heap again and again (~0.3 s of a 2,000-metric
    compare). Restores whatever state it found."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def compare_sides(baseline_spec: str, candidate_spec: str, *, store: str | None = None,
                  budget_path: str | None = None, alpha: float = DEFAULT_ALPHA) -> Comparison:
    """The engine behind `triage compare` (and gate/report/demo): load both sides (files or
    stored labels), the budget, and judge. Raises BadInput/InputFileError/StoreError."""
    _check_alpha(alpha)  # before any file is read
    budget = load_budget(budget_path)
    with _collector_paused():
        a_source, a_snaps = load_side(baseline_spec, store)
        b_source, b_snaps = load_side(candidate_spec, store)
        return compare_snapshots(a_snaps, b_snaps, baseline_spec=baseline_spec, candidate_spec=candidate_spec,
                                 budget=budget, alpha=alpha, sources=(a_source, b_source))
