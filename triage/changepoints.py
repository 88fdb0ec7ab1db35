"""The result of `triage history`: change points across a sequence of labels, typed, with JSON.

History of the on-disk format (``schema``):
- ``triage.history/v1`` (DESIGN.md): ``labels`` in the order used, ``change_points`` (one per
  metric and change: ``metric``, ``layer``, ``label`` — the first label after the change —,
  ``previous_label``, ``change`` with its interval, ``role`` from the attribution at that
  step), plus ``direction``, ``before``/``after`` (the labels of the segments compared),
  ``ack``, ``steps``, ``layers``, ``series`` and the search's parameters.

Built by triage.segmentation; renderers (triage.report.history_view) read it and nothing else.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, Mapping

from .errors import ExitStatus
from .layers import stack_order
from .verdict import MetricComparison

SCHEMA = "triage.history/v1"


@dataclass(frozen=True)
class ChangePoint:
    """One metric changing between ``previous_label`` and ``label``: ``judged`` is the judge's
    comparison of the segment before the change (``before``, its baseline) with the segment
    after it (``after``, up to the metric's next change), acknowledged or not."""

    judged: MetricComparison
    before: tuple[str, ...]
    after: tuple[str, ...]
    role: str = "root"  # root|downstream, among the layers that changed the same way at this step
    downstream_of: tuple[str, ...] = ()

    @property
    def label(self) -> str:
        return self.after[0]

    @property
    def previous_label(self) -> str:
        return self.before[-1]

    @property
    def direction(self) -> str:
        return self.judged.verdict  # regressed or improved

    @property
    def id(self) -> str:
        return self.judged.id

    @property
    def layer(self) -> str:
        return self.judged.layer

    def to_dict(self) -> dict[str, Any]:
        m = self.judged.to_dict()
        return {"metric": m["id"], "layer": self.layer, "probe": m["probe"], "target": m["target"],
                "name": m["metric"], "kind": m["kind"], "unit": m["unit"], "better": m["better"],
                "label": self.label, "previous_label": self.previous_label, "direction": self.direction,
                "change": m["change"], "p_adjusted": m["p_adjusted"], "reason": m["reason"],
                "before": {"labels": list(self.before), "summary": m["baseline"]},
                "after": {"labels": list(self.after), "summary": m["candidate"]},
                "role": self.role, "downstream_of": list(self.downstream_of), "ack": m["ack"],
                "components": m["components"]}


@dataclass(frozen=True)
class History:
    labels: tuple[str, ...]  # in the order used
    change_points: tuple[ChangePoint, ...]  # by label, then roots first, then metric
    order: str = "version"
    runs: Mapping[str, int] = field(default_factory=dict)  # label -> stored runs
    layers: tuple[str, ...] = ()  # the layers searched, bottom first
    metrics: int = 0  # metrics searched (facts and ignored ones aside)
    series: Mapping[str, tuple[float | None, ...]] = field(default_factory=dict)  # changed metric -> per label
    alpha: float = 0.01
    budget: str | None = None
    acks: str | None = None
    comparisons: int = 0  # judge calls the search made

    @property
    def new(self) -> tuple[ChangePoint, ...]:
        """Change points no ack covers: what makes the exit status 3."""
        return tuple(cp for cp in self.change_points if not cp.judged.acknowledged)

    @property
    def exit_status(self) -> ExitStatus:
        return ExitStatus.REGRESSION if self.new else ExitStatus.OK

    def steps(self) -> list[tuple[str, list[ChangePoint]]]:
        """(label, its change points) for each label where something changed, in order."""
        by_label: dict[str, list[ChangePoint]] = {}
        for cp in self.change_points:
            by_label.setdefault(cp.label, []).append(cp)
        return [(label, by_label[label]) for label in self.labels if label in by_label]

    def layer_story(self) -> dict[str, str]:
        """Layer -> 'regressed at 4.3.19', 'followed at 4.3.19', 'unchanged throughout', …"""
        out: dict[str, list[str]] = {layer: [] for layer in self.layers}
        for label, points in self.steps():
            for layer in stack_order({cp.layer for cp in points}):
                mine = [cp for cp in points if cp.layer == layer]
                directions = sorted({cp.direction for cp in mine})
                verb = "followed" if all(cp.role == "downstream" for cp in mine) else " and ".join(directions)
                acked = " (acknowledged)" if all(cp.judged.acknowledged for cp in mine) else ""
                out.setdefault(layer, []).append(f"{verb} at {label}{acked}")
        return {layer: ", ".join(phrases) or "unchanged throughout" for layer, phrases in out.items()}

    def summary(self) -> str:
        """'dns regressed at 4.3.19; app followed at 4.3.19; kernel unchanged throughout'."""
        story = self.layer_story()
        changed = [f"{layer} {phrase}" for layer, phrase in story.items() if phrase != "unchanged throughout"]
        steady = [layer for layer, phrase in story.items() if phrase == "unchanged throughout"]
        parts = changed + ([f"{' and '.join(steady)} unchanged throughout"] if steady else [])
        return "; ".join(parts) or "no metric searched"

    def to_dict(self) -> dict[str, Any]:
        return {"schema": SCHEMA, "labels": list(self.labels), "order": self.order, "runs": dict(self.runs),
                "change_points": [cp.to_dict() for cp in self.change_points],
                "new_change_points": len(self.new), "summary": self.summary(), "layers": self.layer_story(),
                "steps": [{"label": label, "previous_label": points[0].previous_label,
                           "roots": sorted({cp.layer for cp in points if cp.role == "root"}),
                           "downstream": sorted({cp.layer for cp in points if cp.role == "downstream"})}
                          for label, points in self.steps()],
                "series": {k: list(v) for k, v in self.series.items()},
                "metrics": self.metrics, "alpha": self.alpha, "budget": self.budget, "acks": self.acks,
                "comparisons": self.comparisons}

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), sort_keys=True, separators=(",", ":"), allow_nan=False) + "\n"
