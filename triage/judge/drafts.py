"""What is judged, typed: a metric's Row and its components' Drafts while they are being
judged, and the small rules every judge shares (directions, floors, intervals)."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, Iterable

from triage.budget import Floors
from triage.errors import BadInput
from triage.pooling import PooledMetric
from triage.verdict import MetricKey, SideSummary


@dataclass
class Draft:
    """One component while it is being judged; frozen into a Component at the end."""

    name: str
    baseline: Any
    candidate: Any
    change: float | None = None
    base_for_floor: float | None = None  # what the relative floor and the relative change are taken of
    ci_low: float | None = None
    ci_high: float | None = None
    p: float | None = None  # one-sided towards worse (two-sided for better=equal); None: untested
    p_better: float | None = None
    p_adjusted: float | None = None
    q: float | None = None
    p_better_adjusted: float | None = None
    note: str = ""
    floors_only: bool = False  # a gauge's value: no test, judged by the floors alone
    changed: bool = False  # facts: the value differs between the sides
    method: str = ""
    design_effect: float | None = None


@dataclass
class Row:
    """A metric while it is being judged (mutable); frozen into MetricComparison at the end."""

    key: MetricKey
    kind: str
    unit: str | None
    better: str
    floors: Floors | None
    regress_on_change: bool = False
    primary: bool = False  # a failure rate users feel (see PRIMARY_SHARE)
    verdict: str = "unchanged"
    reason: str = ""
    baseline: SideSummary | None = None
    candidate: SideSummary | None = None
    components: list[Draft] = field(default_factory=list)
    # Samples sides not yet summarised: the batch summarises what it tests (from arrays it
    # sorts anyway); the rest (absent, too few) are summarised once, when frozen.
    unsummarised: tuple[PooledMetric | None, PooledMetric | None] = (None, None)


# ---------------------------------------------------------------- small rules


def canonical(value: Any) -> str:
    return json.dumps(value, sort_keys=True)


def distinct(values: Iterable[Any]) -> tuple[Any, ...]:
    seen: dict[str, Any] = {}
    for v in values:
        seen.setdefault(canonical(v), v)
    return tuple(seen.values())


def worse_sign(better: str) -> int:
    return {"lower": 1, "higher": -1}.get(better, 0)


def relative_change(change: float, baseline: float | None) -> float | None:
    if baseline is None or baseline == 0:
        return None
    return change / abs(baseline)


def directional(better: str, p_greater: float, p_less: float) -> tuple[float, float | None]:
    """(p towards worse, p towards better); better=equal: two-sided, no 'better'."""
    if better == "lower":
        return p_greater, p_less
    if better == "higher":
        return p_less, p_greater
    return min(1.0, 2 * min(p_greater, p_less)), None


def moves(better: str, change: float | None, floors: Floors, baseline: float | None) -> tuple[bool, bool]:
    """(moved worse past both floors, moved better past both floors)."""
    if change is None or not floors.passes(change, baseline):
        return False, False
    sign = worse_sign(better)
    if sign == 0:
        return True, False
    return change * sign > 0, change * sign < 0


def ci_agrees(better: str, low: float | None, high: float | None, worse: bool) -> bool:
    """Does the interval exclude zero on the side the verdict claims?"""
    if low is None or high is None:
        return True
    sign = worse_sign(better) * (1 if worse else -1)
    if sign == 0:
        return low > 0 or high < 0
    return low > 0 if sign > 0 else high < 0


def tails_for(better: str) -> tuple[float, ...]:
    return (0.05, 0.01) if better == "higher" else (0.95, 0.99)


def tail_name(q: float) -> str:
    return f"p{q * 100:g}"


def component_quantile(name: str) -> float:
    """The quantile a samples component judges: ``median`` 0.5, ``p95`` 0.95 (tail_name's inverse)."""
    return 0.5 if name == "median" else float(name[1:]) / 100


def check_alpha(alpha: float) -> None:
    if not 0 < alpha < 0.5:
        raise BadInput(f"--alpha: expected a family-wise error rate between 0 and 0.5, got {alpha:g}")
