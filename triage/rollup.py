"""From metric verdicts to layer statuses and the overall verdict.

A layer is regressed if any of its metrics regressed; failed when a probe of it failed on
a side with no successful run (never ok by omission); inconclusive when some metric could
not be judged; ok when its metrics were judged and none regressed; absent when it was
probed on neither side. The overall verdict: regressed if any layer is, else inconclusive
if a layer failed or could not be decided, else ok, saying how many metrics ruled a
regression out (their interval excludes one as large as their floors) and how many are
undecided; with --require-decided an undecided metric makes it inconclusive. A regression an
ack covers (triage.acks) keeps its layer regressed, for attribution, but fails no verdict:
the verdict is decided as if it had not regressed, and its reason names it as acknowledged.
"""

from __future__ import annotations

from typing import Mapping, Sequence

from .formatting import plural
from .layers import LAYERS, rank, stack_order
from .pooling import PooledSide
from .verdict import METRIC_VERDICTS, MetricComparison


def layer_statuses(metrics: Sequence[MetricComparison], a: PooledSide, b: PooledSide, *,
                   acknowledged_regress: bool = True) -> tuple[dict[str, str], dict[str, str]]:
    """(layer -> status, layer -> a note in words), every known layer, bottom of the stack first.
    ``acknowledged_regress`` False: an acknowledged regression counts as unchanged (for the verdict)."""
    seen = a.layers | b.layers | {m.layer for m in metrics}
    by_layer: dict[str, list[MetricComparison]] = {}
    for m in metrics:
        by_layer.setdefault(m.layer, []).append(m)
    statuses: dict[str, str] = {}
    notes: dict[str, str] = {}
    for layer in stack_order(seen | set(LAYERS)):
        rows = by_layer.get(layer, [])
        verdicts = {"unchanged" if m.acknowledged and not acknowledged_regress else m.verdict for m in rows}
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
            decisions = [m.decision for m in rows if m.decision is not None]
            if decisions:
                parts.append(f"{decisions.count('ruled out')} ruled out, {decisions.count('undecided')} undecided")
        for f in blocking:
            parts.append(f"{f.probe} [{f.target}] failed: {f.error}")
        if not rows and layer not in seen:
            parts.append("not probed on either side")
        notes[layer] = "; ".join(parts)
    return statuses, notes


def decided_sentence(metrics: Sequence[MetricComparison]) -> str:
    """'180 of 184 metrics ruled out a regression past their floors; 4 undecided (...)'."""
    decisions = [m.decision for m in metrics if m.decision is not None]
    ruled, undecided = decisions.count("ruled out"), decisions.count("undecided")
    text = f"{ruled} of {len(decisions)} metrics ruled out a regression past their floors"
    return text + (f"; {undecided} undecided (too few samples or too noisy)" if undecided else "")


def overall_verdict(metrics: Sequence[MetricComparison], layers: Mapping[str, str], *,
                    require_decided: bool = False) -> tuple[str, str]:
    """(verdict, reason in words). ``require_decided``: an undecided metric makes the
    verdict inconclusive instead of ok. ``layers``: statuses with acknowledged regressions
    counted as unchanged (layer_statuses(acknowledged_regress=False))."""
    verdict, reason = _verdict(metrics, layers, require_decided)
    acked = [m for m in metrics if m.acknowledged]
    if acked:
        where = ", ".join(dict.fromkeys(m.layer for m in sorted(acked, key=lambda m: rank(m.layer))))
        reason += f"; {plural(len(acked), 'acknowledged regression')} in {where}"
    lapsed = [m.ack.status for m in metrics if m.ack is not None and not m.ack.holds]
    for status, words in (("expired", "under an expired ack"), ("exceeded", "larger than acknowledged")):
        if lapsed.count(status):
            reason += f"; {plural(lapsed.count(status), 'regression')} {words}"
    return verdict, reason


def _verdict(metrics: Sequence[MetricComparison], layers: Mapping[str, str], require_decided: bool) -> tuple[str, str]:
    regressed = {m.layer for m in metrics if m.verdict == "regressed" and not m.acknowledged}
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
    if not any(m.verdict in ("unchanged", "improved", "changed") or m.acknowledged for m in metrics):
        return "inconclusive", "no metric was measured on both sides"
    decided = decided_sentence(metrics)
    if require_decided and any(m.decision == "undecided" for m in metrics):
        return "inconclusive", f"no regression, but not every metric decided (--require-decided): {decided}"
    new = "no new regression" if any(m.acknowledged for m in metrics) else "no regression"
    return "ok", f"{new} past the floors at the family-wise level; {decided}"
