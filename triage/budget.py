"""Practical floors and per-metric budgets (``--budget budgets.yaml``).

A regression must be statistically significant *and* practically large: its change must
pass a relative floor (default 10% of the baseline) and an absolute floor in the metric's
unit, near the probe's own resolution. A budget file overrides both per metric by glob on
``layer.probe.target.metric``, marks facts whose change is itself a regression, or leaves
metrics out of the verdict::

    relative: 10%               # default relative floor (a fraction like 0.1 works too)
    absolute: {ms: 0.05, count: 1}  # default absolute floors per unit ("rate" = proportions)
    rules:                      # every matching rule applies, in order; later ones win
      - match: "dns.*.*.latency"
        relative: 5%
        absolute: 0.02          # in the metric's own unit
      - match: "kernel.*.*.kernel_release"
        regress_on_change: true # a changed fact is a regression, not just evidence
      - match: "app.*.canary.*"
        ignore: true            # shown, never judged
    changes:                    # which layer a changed package or component belongs to (triage.changes)
      - {match: "openssl*", layer: app}   # globs; first match wins, before the built-in table

Bounded units (ratio, percent) have no relative floor by default: a hit ratio falling from
0.99 to 0.95 is five times the misses but only 4% relative.

A few metrics have built-in rules (``BUILT_IN_RULES``) because their natural unit of change
is larger than the unit's floor; a budget's own rules apply after them and win.
"""

from __future__ import annotations

import fnmatch
from dataclasses import dataclass, field, replace
from typing import Any, Mapping

from .changes import CHANGE_LAYERS, ChangeRule

DEFAULT_RELATIVE = 0.10
RATE_UNIT = "rate"  # the pseudo-unit of proportions (events/trials): a rate difference

# Near each unit's measurement resolution: a change smaller than this is noise or does not
# matter, however significant. ms: 0.05 because loopback/in-cluster DNS answers in ~0.1 ms
# and 0.3 ms more per lookup matters when one request makes dozens.
DEFAULT_ABSOLUTE: Mapping[str, float] = {
    "ns": 50_000.0,
    "us": 50.0,
    "µs": 50.0,
    "ms": 0.05,
    "s": 0.00005,
    "count": 1.0,
    "bytes": 1024.0,
    "ratio": 0.01,
    "percent": 1.0,
    "%": 1.0,
    RATE_UNIT: 0.001,  # 0.1 percentage point of timeouts/errors
}
BOUNDED_UNITS = frozenset({"ratio", "percent", "%"})


@dataclass(frozen=True)
class Floors:
    """How large a change must be to matter. ``relative`` None: no relative floor."""

    relative: float | None
    absolute: float
    source: str = "default"

    def passes(self, change: float, baseline: float | None) -> bool:
        """Does a change of this size (either sign) clear both floors?"""
        size = abs(change)
        if size == 0 or size < self.absolute:
            return False
        if self.relative is None or not baseline:
            return True  # from zero, any change above the absolute floor is relatively large
        return size >= self.relative * abs(baseline)

    def smallest_change(self, baseline: float | None) -> float:
        """The size of the smallest change that clears both floors (see ``passes``)."""
        relative = 0.0 if self.relative is None or not baseline else self.relative * abs(baseline)
        return max(self.absolute, relative)

    def to_dict(self) -> dict[str, Any]:
        return {"relative": self.relative, "absolute": self.absolute, "source": self.source}

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> "Floors":
        return cls(d.get("relative"), float(d.get("absolute", 0.0)), str(d.get("source", "default")))


@dataclass(frozen=True)
class MetricPolicy:
    floors: Floors
    regress_on_change: bool = False
    ignore: bool = False


@dataclass(frozen=True)
class BudgetRule:
    match: str
    relative: float | None = None
    absolute: float | None = None
    regress_on_change: bool | None = None
    ignore: bool | None = None
    sets_relative: bool = False  # `relative: null` switches the floor off, unlike leaving it out
    line: int | None = None

    def matches(self, metric_id: str) -> bool:
        return fnmatch.fnmatchcase(metric_id, self.match)


@dataclass(frozen=True)
class Budget:
    source: str | None = None
    relative: float = DEFAULT_RELATIVE
    absolute: Mapping[str, float] = field(default_factory=lambda: dict(DEFAULT_ABSOLUTE))
    rules: tuple[BudgetRule, ...] = ()
    changes: tuple[ChangeRule, ...] = ()  # before triage.changes.DEFAULT_RULES

    def policy_for(self, metric_id: str, kind: str, unit: str | None) -> MetricPolicy:
        """The floors and switches for one metric (``layer.probe.target.metric``)."""
        unit_key = RATE_UNIT if kind == "proportion" else (unit or "")
        relative: float | None = None if unit_key in BOUNDED_UNITS else self.relative
        floors = Floors(relative, float(self.absolute.get(unit_key, 0.0)),
                        "default" if self.source is None else f"{self.source} (defaults)")
        policy = MetricPolicy(floors)
        built_in = len(BUILT_IN_RULES)
        for number, rule in enumerate((*BUILT_IN_RULES, *self.rules), start=1 - built_in):
            if not rule.matches(metric_id):
                continue
            if number <= 0:
                where = "built-in rule"
            else:
                where = f"{self.source}:{rule.line}" if rule.line else f"{self.source} rule {number}"
            f = policy.floors
            if rule.sets_relative:
                f = replace(f, relative=rule.relative)
            if rule.absolute is not None:
                f = replace(f, absolute=rule.absolute)
            if rule.sets_relative or rule.absolute is not None:
                f = replace(f, source=f"{where} ({rule.match})")
            policy = MetricPolicy(
                f,
                policy.regress_on_change if rule.regress_on_change is None else rule.regress_on_change,
                policy.ignore if rule.ignore is None else rule.ignore)
        return policy


# A live pool opens and closes connections all the time: one idle connection more (4 → 5) is
# no regression, a climb of ten toward max_connections is (the 2021 storm ended there).
BUILT_IN_RULES: tuple[BudgetRule, ...] = (
    BudgetRule("database.connections.*.connections_*", absolute=10.0),
    BudgetRule("database.connections.*.connection_use", absolute=0.1),  # 10 points of max_connections
    # A load step's errors come in bursts (one stall of a busy host times out a few hundred
    # requests at once), which Fisher's test, counting requests as independent, over-reads:
    # 1 percentage point, the share under which a ramp calls a step fine (load.errors_max).
    BudgetRule("*.ramp.*.errors@*", absolute=0.01),
    # Every ramp sample carries the Python generator's own overhead and wake-up lag (0.3-0.6 ms
    # at the median against a loopback DNS server, moving 20-30% between back-to-back runs of
    # one server on a busy host: 12 A/A pairs, 3 "regressed" at the 0.05 ms default): a ramp
    # resolves 1 ms; the idle probes resolve the rest.
    BudgetRule("*.ramp.*.latency@*", absolute=1.0),
)

DEFAULT_BUDGET = Budget()


def _relative(r: Any, value: Any, path: str) -> float | None:
    """A relative floor: 0.1, "10%", or null (no relative floor)."""
    if value is None:
        return None
    if isinstance(value, str) and value.strip().endswith("%"):
        try:
            number = float(value.strip()[:-1]) / 100
        except ValueError:
            raise r.fail(path, f"expected a fraction like 0.1 or a percentage like 10%, got {value!r}") from None
    elif isinstance(value, (int, float)) and not isinstance(value, bool):
        number = float(value)
    else:
        raise r.fail(path, f"expected a fraction like 0.1 or a percentage like 10%, got {value!r}")
    if not 0 <= number <= 100:
        raise r.fail(path, f"expected a relative floor between 0 and 100 (10000%), got {value!r}")
    return number


def _absolute(r: Any, value: Any, path: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value < float("inf"):
        raise r.fail(path, f"expected a non-negative number in the metric's unit, got {value!r}")
    return float(value)


def parse_budget(text: str, source: str) -> Budget:
    from .yamlfile import read_yaml

    data, r = read_yaml(text, source)
    top = r.mapping(data, "", ("relative", "absolute", "rules", "changes"))
    relative = DEFAULT_RELATIVE
    if "relative" in top:
        relative = _relative(r, top["relative"], "relative")
        if relative is None:
            relative = 0.0
    absolute = dict(DEFAULT_ABSOLUTE)
    if "absolute" in top:
        raw = top["absolute"]
        if not isinstance(raw, dict):
            raise r.fail("absolute", f"expected a mapping of unit: floor (e.g. ms: 0.05), got {raw!r}")
        for unit, value in raw.items():
            absolute[str(unit)] = _absolute(r, value, f"absolute.{unit}")
    rules = []
    raw_rules = top.get("rules") or []
    if not isinstance(raw_rules, list):
        raise r.fail("rules", f"expected a list of rules ({{match: glob, ...}}), got {raw_rules!r}")
    for i, raw in enumerate(raw_rules):
        path = f"rules[{i}]"
        d = r.mapping(raw, path, ("match", "relative", "absolute", "regress_on_change", "ignore"))
        if "match" not in d:
            raise r.fail(f"{path}.match", "required: a glob on layer.probe.target.metric, e.g. dns.*.*.latency")
        match = d["match"]
        if not isinstance(match, str) or not match:
            raise r.fail(f"{path}.match", f"expected a glob like dns.*.*.latency, got {match!r}")
        if len(d) == 1:
            raise r.fail(path, "rule sets nothing: add relative, absolute, regress_on_change or ignore")
        kw: dict[str, Any] = {"match": match, "line": r.lines.get(path)}
        if "relative" in d:
            kw["relative"] = _relative(r, d["relative"], f"{path}.relative")
            kw["sets_relative"] = True
        if "absolute" in d:
            kw["absolute"] = _absolute(r, d["absolute"], f"{path}.absolute")
        for flag in ("regress_on_change", "ignore"):
            if flag in d:
                kw[flag] = r.boolean(d[flag], f"{path}.{flag}")
        rules.append(BudgetRule(**kw))
    return Budget(source, relative, absolute, tuple(rules), _change_rules(r, top.get("changes")))


def _change_rules(r: Any, raw: Any) -> tuple[ChangeRule, ...]:
    """``changes: [{match: glob, layer: kernel|dns|kubernetes|database|app|other}, ...]``."""
    if raw is None:
        return ()
    if not isinstance(raw, list):
        raise r.fail("changes", f"expected a list of {{match: glob, layer: name}}, got {raw!r}")
    out = []
    for i, item in enumerate(raw):
        path = f"changes[{i}]"
        d = r.mapping(item, path, ("match", "layer"))
        for key in ("match", "layer"):
            if key not in d:
                raise r.fail(f"{path}.{key}", "required: e.g. {match: \"openssl*\", layer: app}")
        match = r.string(d["match"], f"{path}.match")
        if d["layer"] not in CHANGE_LAYERS:
            raise r.fail(f"{path}.layer", f"expected one of {', '.join(CHANGE_LAYERS)}, got {d['layer']!r}")
        out.append(ChangeRule(match, d["layer"], r.lines.get(path)))
    return tuple(out)


def load_budget(path: str | None) -> Budget:
    if path is None:
        return DEFAULT_BUDGET
    from .fileio import read_input

    return parse_budget(read_input(path, "budget YAML"), path)
