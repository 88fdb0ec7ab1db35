"""Which regressions an acks file covers (triage.acks), decided after the verdicts.

An ack covers a regressed metric when its glob matches the metric and one of its labels the
candidate's label. It then holds unless it has expired (the day after ``expires``) or the
regression is *larger* than it accepted: some regressed component's interval lies wholly
beyond the accepted size (its near end, the end closest to no change, is past it). A point
estimate over the size is not enough: a +45% measurement whose interval reaches down to +38%
is the +40% that was accepted, measured again. Without ``accepted`` any size is accepted.

When several acks match, one that holds wins; otherwise the first that matched is recorded
(expired or exceeded), so the report can say why the regression counts as new.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import replace
from typing import Iterable, Sequence

from triage.acks import Ack, Acknowledgement, Acks
from triage.formatting import format_number, format_relative
from triage.verdict import Component, MetricComparison

from .drafts import worse_sign


def _near_end(better: str, c: Component) -> float:
    """How far the regression is from no change at the least: the interval's near end, in the
    worse direction (or the change itself when there is no interval)."""
    sign = worse_sign(better)
    if c.ci_low is None or c.ci_high is None:
        return abs(c.change or 0.0)
    if sign > 0:
        return max(0.0, c.ci_low)
    if sign < 0:
        return max(0.0, -c.ci_high)
    return 0.0 if c.ci_low <= 0 <= c.ci_high else min(abs(c.ci_low), abs(c.ci_high))


def _exceeds(ack: Ack, m: MetricComparison) -> str:
    """'' when every regressed component is within the accepted size; else why not."""
    relative, absolute = ack.accepted_size()
    if relative is None and absolute is None:
        return ""
    for c in m.components:
        if c.verdict != "regressed":
            continue
        near = _near_end(m.better, c)
        base = abs(c.baseline) if isinstance(c.baseline, (int, float)) and not isinstance(c.baseline, bool) else None
        if relative is not None and near > 0 and (not base or near > relative * base):
            shown = format_relative(near / base) if base else f"{format_number(near)} from 0"
            return f"{c.name} at least {shown}, more than the {ack.accepted} accepted"
        if absolute is not None and near > absolute:
            return f"{c.name} at least {format_number(near)}, more than the {ack.accepted} accepted"
    return ""


def _outcome(ack: Ack, m: MetricComparison, today: dt.date) -> Acknowledgement:
    if ack.expired(today):
        return Acknowledgement(ack, "expired", f"ack expired after {ack.expires}")
    why = _exceeds(ack, m)
    return Acknowledgement(ack, "exceeded", f"larger than acknowledged: {why}") if why else Acknowledgement(ack, "acknowledged")


def acknowledgement(m: MetricComparison, acks: Acks, labels: Iterable[str], today: dt.date) -> Acknowledgement | None:
    """What ``acks`` say about the regressed metric ``m`` of a candidate labelled ``labels``."""
    if m.verdict != "regressed":
        return None
    labels = tuple(labels)
    outcomes = [_outcome(a, m, today) for a in acks.entries if any(a.applies_to(m.id, label) for label in labels)]
    return next((o for o in outcomes if o.holds), outcomes[0] if outcomes else None)


def acknowledge(metrics: Sequence[MetricComparison], acks: Acks, labels: Iterable[str],
                today: dt.date | None = None) -> tuple[MetricComparison, ...]:
    """``metrics`` with each regression's Acknowledgement recorded (``today``: UTC by default)."""
    if not acks.entries:
        return tuple(metrics)
    today = today or dt.datetime.now(dt.timezone.utc).date()
    labels = tuple(labels)
    return tuple(replace(m, ack=a) if (a := acknowledgement(m, acks, labels, today)) else m for m in metrics)
