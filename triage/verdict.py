"""The result of judging a candidate against a baseline: typed, frozen, with their JSON.

History of the on-disk format (``schema``):
- ``triage.comparison/v1``: DESIGN.md's comparison JSON (verdict, suspects, layers,
  metrics). Additive since: ``commands`` (how to reproduce, set by the engine), ``changes``
  (what changed between the sides, by layer: triage.changes); ``acks`` (the acks file) and
  per metric ``ack`` (the acknowledgement of a regression, triage.acks); ``rounds`` (how a
  gate that samples until it decides got there, triage.rounds; null otherwise).

Built by triage.judge (metrics, layers, verdict) and triage.attribution (suspects); read
back by ``Comparison.from_dict`` so a saved comparison renders again later. Everything a
renderer needs is here; renderers import this module and triage.formatting, nothing else.
"""

from __future__ import annotations

import math
import statistics
from dataclasses import dataclass, field
from typing import Any, Mapping

from . import strictjson
from .acks import Acknowledgement
from .budget import Floors
from .changes import ChangeSet
from .errors import ExitStatus, InputFileError
from .factdiff import changed_phrase
from .fileio import MAX_INPUT_BYTES
from .formatting import (ci_label, display_unit, format_context, format_kinds, format_number, format_range,
                         format_rate, format_relative, format_signed)
from .layers import stack_order
from .rounds import Rounds
from .verdict_schema import LAYER_STATUSES, METRIC_VERDICTS, SCHEMA, VERDICTS, check_comparison  # noqa: F401

DEFAULT_ALPHA = 0.01
CI_LEVEL = 0.95

DECISIONS = ("regressed", "ruled out", "undecided")
_SEVERITY = {v: i for i, v in enumerate(METRIC_VERDICTS)}

MetricKey = tuple[str, str, str, str]


def _opt_float(value: Any) -> float | None:
    return None if value is None else float(value)


def _opt_bool(value: Any) -> bool | None:
    return None if value is None else bool(value)


@dataclass(frozen=True)
class SideSummary:
    """One side of one metric, pooled over its runs. Fields by kind: samples n/mean/p50/p95/p99
    (and, when the values came in groups, how many and the range of the groups' medians);
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
    groups: int | None = None
    group_p50_low: float | None = None
    group_p50_high: float | None = None
    # What the probe said beside the measurement, judged nowhere: a proportion's events by
    # kind (summed over runs), and figures of the latest run (``context``: the last reading).
    kinds: Mapping[str, int] = field(default_factory=dict)
    context: Mapping[str, Any] = field(default_factory=dict)
    # The rest of a samples side's quantile curve, p50 → p99.9, for charts; judged nowhere.
    p75: float | None = None
    p90: float | None = None
    p999: float | None = None

    def curve(self) -> tuple[tuple[str, float | None], ...]:
        """(label, value) from p50 to p99.9, as a chart draws them."""
        return (("p50", self.p50), ("p75", self.p75), ("p90", self.p90), ("p95", self.p95), ("p99", self.p99),
                ("p99.9", self.p999))

    def notes(self) -> str:
        """'too many clients; last reading: connections 37, ...', or ''."""
        return "; ".join(t for t in (format_kinds(self.kinds), format_context(self.context)) if t)

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
            d.update({k: v for k, v in (("p75", self.p75), ("p90", self.p90), ("p999", self.p999)) if v is not None})
            if self.groups is not None:
                d["groups"] = {"count": self.groups, "p50_range": [self.group_p50_low, self.group_p50_high]}
        elif self.kind == "proportion":
            d.update(events=self.events, trials=self.trials, rate=self.rate)
        else:
            d.update(n=self.n, value=self.value, values=list(self.values))
        if self.kinds:
            d["kinds"] = dict(self.kinds)
        if self.context:
            d["context"] = dict(self.context)
        return d

    @classmethod
    def from_dict(cls, kind: str, d: Mapping[str, Any] | None) -> "SideSummary | None":
        if d is None:
            return None
        groups = d.get("groups") or {}
        low, high = (groups.get("p50_range") or (None, None))[:2]
        return cls(kind, int(d.get("runs", 1)), int(d.get("n", 0) or 0), _opt_float(d.get("mean")),
                   _opt_float(d.get("p50")), _opt_float(d.get("p95")), _opt_float(d.get("p99")),
                   d.get("events"), d.get("trials"), _opt_float(d.get("rate")), tuple(d.get("values") or ()),
                   None if groups.get("count") is None else int(groups["count"]), _opt_float(low), _opt_float(high),
                   dict(d.get("kinds") or {}), dict(d.get("context") or {}),
                   _opt_float(d.get("p75")), _opt_float(d.get("p90")), _opt_float(d.get("p999")))


@dataclass(frozen=True)
class Component:
    """One judged aspect of a metric: ``median`` (Hodges–Lehmann shift), a tail (``p95``,
    ``p99``, ``p5``, ``p1``), a ``rate``, a gauge ``value`` or a ``fact``.

    ``change`` is candidate − baseline; ``relative`` is change / |baseline| (None from 0).
    ``p`` is the raw one-sided p-value in the worse direction (two-sided for better=equal),
    None when untested; ``p_adjusted`` (Holm) and ``q`` (Benjamini–Hochberg) are over the
    whole family. ``practical``: the change passes both floors the worse way. ``method``:
    the test that gave ``p``; ``design_effect``: for values in groups, how much the groups
    widened the variance over independent values. ``ruled_out``: the interval excludes a
    change the worse way as large as the floors (None: nothing to rule out, e.g. a fact).
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
    method: str = ""
    design_effect: float | None = None
    ruled_out: bool | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "baseline": self.baseline, "candidate": self.candidate,
                "change": self.change, "relative": self.relative,
                "ci": None if self.ci_low is None else [self.ci_low, self.ci_high],
                "p": self.p, "p_adjusted": self.p_adjusted, "q": self.q,
                "p_better": self.p_better, "p_better_adjusted": self.p_better_adjusted,
                "practical": self.practical, "practical_better": self.practical_better,
                "verdict": self.verdict, "note": self.note, "method": self.method,
                "design_effect": self.design_effect, "ruled_out": self.ruled_out}

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> "Component":
        ci = d.get("ci") or (None, None)
        return cls(d["name"], d.get("baseline"), d.get("candidate"), _opt_float(d.get("change")),
                   _opt_float(d.get("relative")), _opt_float(ci[0]), _opt_float(ci[1]),
                   _opt_float(d.get("p")), _opt_float(d.get("p_adjusted")), _opt_float(d.get("q")),
                   _opt_float(d.get("p_better")), _opt_float(d.get("p_better_adjusted")),
                   bool(d.get("practical")), bool(d.get("practical_better")),
                   d.get("verdict", "unchanged"), d.get("note", ""), d.get("method", ""),
                   _opt_float(d.get("design_effect")), _opt_bool(d.get("ruled_out")))


def component_size(c: Component) -> float:
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
    # Every tested component's interval excludes a worse change as large as the floors.
    # None: nothing to decide (facts, ignored metrics).
    ruled_out: bool | None = None
    primary: bool = False  # a failure rate the family reserves a share of α for (triage.judge)
    ack: Acknowledgement | None = None  # a regression an acks file covers (triage.judge.acknowledge)

    @property
    def acknowledged(self) -> bool:
        """A regression an ack covers and that holds: reported, but it fails no verdict."""
        return self.ack is not None and self.ack.holds

    @property
    def decision(self) -> str | None:
        """regressed, ruled out, or undecided (judged or not, neither shown nor excluded);
        None for metrics with nothing to decide."""
        if self.verdict == "regressed":
            return "regressed"
        if self.ruled_out is None:
            return None
        return "ruled out" if self.ruled_out else "undecided"

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
        size = component_size(lead) if lead is not None and lead.change is not None else 0.0
        return (_SEVERITY.get(self.verdict, 99), -size, self.p_adjusted if self.p_adjusted is not None else 2.0,
                self.id)

    def describe(self) -> str:
        """The change in words: 'p95 resolve latency of quay-db +4.1 ms (+310%, 95% CI 3.6–4.7 ms)'."""
        lead = self.lead_component
        where = "" if self.target == "local" else f" of {self.target}"
        if lead is None:
            return f"{self.probe} {self.metric}{where}: {self.reason}"
        name = f"{self.probe} {self.metric}{where}"
        notes = self.candidate.notes() if self.candidate is not None else ""
        if self.kind == "fact":
            return f"{name} {changed_phrase(lead.baseline, lead.candidate)}" + (f" ({notes})" if notes else "")
        if self.kind == "proportion":
            text = (f"{name} {format_rate(lead.baseline)} → {format_rate(lead.candidate)} "
                    f"({format_signed(lead.change * 100)} pp")
            if lead.ci_low is not None:
                text += f", {ci_label(CI_LEVEL)} {format_range(lead.ci_low * 100, lead.ci_high * 100)} pp"
            return text + (f"; {notes})" if notes else ")")
        unit = display_unit(self.unit)
        if self.kind == "gauge":
            return (f"{name} {format_number(lead.baseline)} → {format_number(lead.candidate)}{unit} "
                    f"({format_relative(lead.relative, lead.change)}; {lead.note})")
        text = f"{lead.name} {name} {format_signed(lead.change)}{unit} ({format_relative(lead.relative, lead.change)}"
        if lead.ci_low is not None:
            text += f", {ci_label(CI_LEVEL)} {format_range(lead.ci_low, lead.ci_high)}{unit}"
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
            "ruled_out": self.ruled_out,
            "primary": self.primary,
            "ack": None if self.ack is None else self.ack.to_dict(),
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
                   None if d.get("floors") is None else Floors.from_dict(d["floors"]), _opt_bool(d.get("ruled_out")),
                   bool(d.get("primary")), Acknowledgement.from_dict(d.get("ack")))


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
class Evidence:
    metric: str  # layer.probe.target.metric
    kind: str  # "regressed" or "changed"
    text: str

    def to_dict(self) -> dict[str, Any]:
        return {"metric": self.metric, "kind": self.kind, "text": self.text}

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> "Evidence":
        return cls(d["metric"], d["kind"], d["text"])


@dataclass(frozen=True)
class Suspect:
    layer: str
    role: str  # "root" or "downstream"
    because: str
    evidence: tuple[Evidence, ...] = ()
    downstream_of: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {"layer": self.layer, "role": self.role, "because": self.because,
                "evidence": [e.to_dict() for e in self.evidence], "downstream_of": list(self.downstream_of)}

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> "Suspect":
        return cls(d["layer"], d["role"], d["because"], tuple(Evidence.from_dict(e) for e in d.get("evidence") or ()),
                   tuple(d.get("downstream_of") or ()))


@dataclass(frozen=True)
class Comparison:
    verdict: str
    baseline: SideInfo
    candidate: SideInfo
    layers: Mapping[str, str]
    metrics: tuple[MetricComparison, ...]  # most severe first
    suspects: tuple[Suspect, ...] = ()  # roots first (triage.attribution)
    alpha: float = DEFAULT_ALPHA
    tests: int = 0  # size of the Holm family: metrics with at least one tested component
    primary_tests: int = 0  # of those, primary failure rates sharing PRIMARY_SHARE of α
    budget: str | None = None
    reason: str = ""
    layer_notes: Mapping[str, str] = field(default_factory=dict)
    commands: tuple[str, ...] = ()  # how to reproduce this triage; set by the engine that ran it
    changes: ChangeSet = field(default_factory=ChangeSet)  # packages and components, by layer
    acks: str | None = None  # the acks file its regressions were checked against
    # layer.probe -> what its targets are ("CoreDNS pods", "nodes"), where a source says
    target_nouns: Mapping[str, str] = field(default_factory=dict)
    rounds: Rounds | None = None  # gate --until-decided: the rounds it took (triage.sequential)

    @property
    def acknowledged(self) -> list[MetricComparison]:
        """Regressions an ack covers (they fail no verdict), most severe first."""
        return [m for m in self.sorted_metrics() if m.acknowledged]

    @property
    def root_layers(self) -> list[str]:
        """The layers named root suspect, in the suspects' order."""
        return [s.layer for s in self.suspects if s.role == "root"]

    def acknowledged_layer(self, layer: str) -> bool:
        """Every regression of ``layer`` is acknowledged: it is no reason for this verdict."""
        regressed = [m for m in self.metrics if m.layer == layer and m.verdict == "regressed"]
        return bool(regressed) and all(m.acknowledged for m in regressed)

    @property
    def exit_status(self) -> ExitStatus:
        # No default: a verdict nobody knows must never pass a gate as 0 (issue 16, item 8).
        return {"regressed": ExitStatus.REGRESSION, "inconclusive": ExitStatus.INCONCLUSIVE,
                "ok": ExitStatus.OK}[self.verdict]

    def sorted_metrics(self) -> list[MetricComparison]:
        return sorted(self.metrics, key=MetricComparison.severity)

    def counts(self) -> dict[str, int]:
        out = {v: 0 for v in METRIC_VERDICTS}
        for m in self.metrics:
            out[m.verdict] = out.get(m.verdict, 0) + 1
        return out

    def decisions(self, layer: str | None = None) -> dict[str, int]:
        """How many metrics (of ``layer``, or all) regressed, ruled a regression out, or
        stayed undecided; metrics with nothing to decide (facts) are not counted."""
        out = {decision: 0 for decision in DECISIONS}
        for m in self.metrics:
            if (layer is None or m.layer == layer) and m.decision is not None:
                out[m.decision] += 1
        return out

    def to_dict(self) -> dict[str, Any]:
        return {
            "schema": SCHEMA, "verdict": self.verdict, "reason": self.reason,
            "alpha": self.alpha, "tests": self.tests, "primary_tests": self.primary_tests, "ci_level": CI_LEVEL,
            "budget": self.budget,
            "baseline": self.baseline.to_dict(), "candidate": self.candidate.to_dict(),
            "layers": dict(self.layers), "layer_notes": dict(self.layer_notes),
            "suspects": [s.to_dict() for s in self.suspects],
            "counts": self.counts(),
            "decisions": {k.replace(" ", "_"): v for k, v in self.decisions().items()},
            "layer_decisions": {layer: {k.replace(" ", "_"): v for k, v in self.decisions(layer).items()}
                                for layer in self.layers},
            "metrics": [m.to_dict() for m in self.sorted_metrics()],
            "commands": list(self.commands),
            "changes": self.changes.to_dict(),
            "acks": self.acks,
            "target_nouns": dict(self.target_nouns),
            "rounds": None if self.rounds is None else self.rounds.to_dict(),
        }

    def to_json(self) -> str:
        return strictjson.dumps(self.to_dict())

    @classmethod
    def from_json(cls, text: str, source: str = "<comparison>") -> "Comparison":
        return cls.from_dict(strictjson.loads(text, source, "a comparison", MAX_INPUT_BYTES), source)

    @classmethod
    def from_dict(cls, d: Any, source: str = "<comparison>") -> "Comparison":
        """Rebuild a saved comparison (``--format json``) for re-rendering; InputFileError
        (exit 2, naming the field) for anything triage.verdict_schema refuses."""
        check_comparison(d, source)
        try:
            c = cls(d["verdict"], SideInfo.from_dict(d["baseline"]), SideInfo.from_dict(d["candidate"]),
                    _stack_order(d["layers"]), tuple(MetricComparison.from_dict(m) for m in d["metrics"]),
                    suspects=tuple(Suspect.from_dict(s) for s in d.get("suspects") or ()),
                    alpha=float(d.get("alpha", DEFAULT_ALPHA)), tests=int(d.get("tests", 0)),
                    primary_tests=int(d.get("primary_tests", 0)), budget=d.get("budget"),
                    reason=d.get("reason", ""), layer_notes=dict(d.get("layer_notes") or {}),
                    commands=tuple(str(c) for c in d.get("commands") or ()),
                    changes=ChangeSet.from_dict(d.get("changes")), acks=d.get("acks"),
                    target_nouns={str(k): str(v) for k, v in (d.get("target_nouns") or {}).items()},
                    rounds=Rounds.from_dict(d.get("rounds")))
        except (KeyError, TypeError, ValueError, IndexError, AttributeError) as exc:
            # Fields added since the schema check was written (their own from_dict reads them).
            raise InputFileError(source, f"not a complete comparison ({type(exc).__name__}: {exc})") from None
        _check_verdict(c, source)
        return c


def _check_verdict(c: Comparison, source: str) -> None:
    """The verdict says regressed exactly when a metric did (one no ack covers): otherwise the
    exit code and the JUnit failures of a re-rendered comparison would disagree (issue 16, item 8)."""
    regressed = next((m for m in c.metrics if m.verdict == "regressed" and not m.acknowledged), None)
    if (c.verdict == "regressed") != (regressed is not None):
        because = f"metric {regressed.id} regressed" if regressed else "no metric regressed"
        raise InputFileError(source, f"is {c.verdict!r} but {because}: its exit code and its JUnit failures "
                             "would disagree", field="verdict")


def _stack_order(layers: Mapping[str, str]) -> dict[str, str]:
    """Layers bottom of the stack first (JSON objects come back in key order)."""
    return {k: layers[k] for k in stack_order(layers)}
