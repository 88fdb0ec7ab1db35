"""Who is to blame: regressed layers become root suspects or downstream of one.

The dependency graph (DESIGN.md) says who can make whom look slow. A regressed layer none
of whose dependencies regressed is a *root suspect*; one with a regressed dependency is
*downstream* of it (reported, never hidden). Several roots are allowed: the 2020 Quay hunt
had two unrelated problems at once. Changed facts of a layer (kernel release, sysctls,
DNS config, query plans) are attached to it as evidence. A dependency that could not be
judged (its probes failed) is named in the sentence: it cannot be ruled out.

What changed in a suspect's own layer (packages, changelog entries, platform components:
triage.changes) leads its evidence, one sentence: "in dns: glibc 2.28-101.el8 → 2.28-127.el8
(4 new changelog entries), dns-default image changed"; the facts those changes were read
from are not repeated after it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable, Mapping, Sequence

from .changes import ChangeSet, is_change_fact
from .formatting import format_number, plural
from .layers import below, rank
from .load.naming import PROBE as RAMP, UNIT, from_offered, is_capacity, offered_text, parse_step
from .model import Snapshot
from .pooling import COMBINED_PREFIX
from .verdict import Evidence, MetricComparison, Suspect

MAX_EVIDENCE_METRICS = 5
# A cluster of 100 nodes changes 400 per-node facts in one upgrade; the suspect's evidence
# names the first few (aggregates like kernel_versions before per-node ones) and counts the
# rest, which the report's changed-facts table lists in full.
MAX_EVIDENCE_FACTS = 8


def _join(names: Sequence[str]) -> str:
    return ", ".join(names)


# ---------------------------------------------------------------- where: which targets regressed

DEFAULT_NOUN = "targets"
MAX_NAMED_TARGETS = 3
_JUDGED = ("regressed", "improved", "unchanged")  # verdicts of a metric that was actually judged


@dataclass(frozen=True)
class TargetSpread:
    """Of one kind of target in a layer (its noun: "nodes", "CoreDNS pods"), those that
    regressed and how many were judged at all."""

    noun: str
    regressed: tuple[str, ...]
    judged: int
    ruled_out: int = 0  # of the others, those whose every decidable metric ruled a regression out

    @property
    def partial(self) -> bool:
        return 0 < len(self.regressed) < self.judged


def target_nouns(*sides: Iterable[Snapshot]) -> dict[str, str]:
    """``layer.probe`` -> what its targets are, from snapshots that say (the Prometheus
    source records ``target_nouns``); probes not named there have "targets"."""
    out: dict[str, str] = {}
    for side in sides:
        for snap in side:
            nouns = snap.extra.get("target_nouns")
            if isinstance(nouns, dict):
                out.update({str(k): str(v) for k, v in nouns.items()})
    return out


def target_spreads(layer: str, metrics: Sequence[MetricComparison],
                   nouns: Mapping[str, str] | None = None) -> list[TargetSpread]:
    """Per kind of target in ``layer``: which regressed, of how many judged (facts aside)."""
    nouns = nouns or {}
    judged: dict[str, set[str]] = {}
    regressed: dict[str, set[str]] = {}
    undecided: set[str] = set()  # targets with a metric that neither regressed nor ruled one out
    for m in metrics:
        # Targets are counted per probe (3 of 3 names resolved is no partial dns regression
        # because the resolv.conf probe has one target too); a rate added up over targets
        # (all@KEY) is not a target of its own.
        if m.layer != layer or m.kind == "fact" or m.verdict not in _JUDGED or m.target.startswith(COMBINED_PREFIX):
            continue
        noun = nouns.get(f"{m.layer}.{m.probe}") or f"{m.probe} {DEFAULT_NOUN}"
        judged.setdefault(noun, set()).add(m.target)
        if m.verdict == "regressed":
            regressed.setdefault(noun, set()).add(m.target)
        elif m.decision != "ruled out":
            undecided.add(m.target)
    return [TargetSpread(noun, tuple(sorted(regressed[noun])), len(judged[noun]),
                         len(judged[noun] - regressed[noun] - undecided))
            for noun in judged if noun in regressed]


def where_clause(spreads: Sequence[TargetSpread]) -> str:
    """' on 1 of 3 CoreDNS pods (dns-default-b); the others ruled out', or '' when the layer
    regressed on every target it has (or has one). The others are "ruled out" when each of
    their metrics excluded a regression past its floors, else they "did not regress"."""
    if not any(s.partial for s in spreads):
        return ""
    parts = []
    others = sum(s.judged - len(s.regressed) for s in spreads)
    ruled = sum(s.ruled_out for s in spreads)
    for s in spreads:
        names = list(s.regressed[:MAX_NAMED_TARGETS])
        more = len(s.regressed) - len(names)
        listed = ", ".join(names) + (f" and {more} more" if more else "")
        count = f"all {s.judged}" if not s.partial else f"{len(s.regressed)} of {s.judged}"
        parts.append(f"{count} {s.noun} ({listed})")
    if ruled == others:
        return f" on {' and '.join(parts)}; the others ruled out"
    return f" on {' and '.join(parts)}; the others did not regress ({ruled} of {others} ruled out)"


def capacity_sentence(m: MetricComparison) -> str:
    """'app capacity of registry fell from 1,800 to 600 req/s (p99 SLO 50 ms)'."""
    lead = m.lead_component
    where = "" if m.target == "local" else f" of {m.target}"
    note = f" ({lead.note})" if lead is not None and lead.note else ""
    base = lead.baseline if lead is not None else None
    cand = lead.candidate if lead is not None else None
    return f"{m.layer} capacity{where} fell from {format_number(base)} to {offered_text(cand, m.unit or '')}{note}"


def under_load(layer: str, metrics: Sequence[MetricComparison]) -> str:
    """Where on its ramps ``layer`` regressed: ' at 400 q/s and above', ' at idle and at
    400 q/s and above' when its idle probes regressed too; '' when no ramp step did."""
    regressed, recorded, unit, idle = [], [], "", False
    for m in metrics:
        if m.layer != layer:
            continue
        step = parse_step(m.metric) if m.probe == RAMP else None
        if step is None:
            idle = idle or (m.verdict == "regressed" and m.probe != RAMP)
            continue
        unit = UNIT[step.suffix]
        recorded.append(step.offered)
        if m.verdict == "regressed":
            regressed.append(step.offered)
    where = from_offered(regressed, recorded, unit)
    if not where:
        return ""
    return f" at idle and {where}" if idle else f" {where}"
def changed_below(layer: str, changed: Iterable[str]) -> tuple[str, ...]:
    """The layers ``layer`` depends on that changed with it: none, a root suspect; some,
    downstream of them. The one rule, for a comparison's regressed layers and for the layers
    that changed together at one step of a history (triage.segmentation)."""
    changed = set(changed)
    return tuple(d for d in below(layer) if d in changed)


def attribute(layers: Mapping[str, str], metrics: Sequence[MetricComparison],
              nouns: Mapping[str, str] | None = None, changes: ChangeSet | None = None) -> tuple[Suspect, ...]:
    """One Suspect per regressed layer, roots first, bottom of the stack first. ``nouns``
    (``layer.probe`` -> "nodes") name the targets in the where-clause; ``changes`` lead each
    suspect's evidence with what changed in its layer."""
    regressed = [l for l, s in layers.items() if s == "regressed"]
    suspects: list[Suspect] = []
    for layer in regressed:
        deps = below(layer)
        culprits = changed_below(layer, regressed)
        unknown = [d for d in deps if layers.get(d) in ("failed", "inconclusive")]
        # A fallen capacity leads: it says the whole ramp's story in one number.
        rows = sorted((m for m in metrics if m.layer == layer and m.verdict == "regressed"),
                      key=lambda m: (not is_capacity(m.probe, m.metric), m.severity()))
        changed = [m for m in metrics if m.layer == layer and m.kind == "fact" and m.verdict == "changed"]
        lead = rows[0].describe() if rows else "a budgeted fact changed"
        more = f" and {plural(len(rows) - 1, 'more metric')}" if len(rows) > 1 else ""
        if rows and is_capacity(rows[0].probe, rows[0].metric):
            head = f"{capacity_sentence(rows[0])}{more}"
        else:
            head = f"{layer} regressed{where_clause(target_spreads(layer, metrics, nouns))}: {lead}{more}"
        if culprits:
            role = "downstream"
            loads = {c: under_load(c, metrics) for c in culprits}
            if len(culprits) == 1:
                where = loads[culprits[0]]
            else:
                under = [c + w for c, w in loads.items() if w]
                where = f" ({'; '.join(under)})" if under else ""
            tail = f"below it {_join(culprits)} regressed{where} → downstream of {_join(culprits)}"
        else:
            role = "root"
            if not deps:
                tail = f"{layer} is the bottom of the stack → root suspect"
            else:
                tail = f"nothing below it ({_join(deps)}) regressed → root suspect"
            if unknown:
                tail = (f"nothing below it regressed, but {_join(unknown)} could not be judged "
                        f"({'; '.join(f'{u} {layers[u]}' for u in unknown)}) → root suspect, not ruled out below")
        own = changes.in_layer(layer) if changes else ()
        evidence = [Evidence(own[0].source, "changed", f"in {layer}: {changes.sentence(layer)}")] if own else []
        evidence += [Evidence(m.id, "regressed", m.describe()) for m in rows[:MAX_EVIDENCE_METRICS]]
        named = {c.source for c in own}
        changed = [m for m in changed if m.id not in named and not is_change_fact(m.layer, m.probe)]
        changed.sort(key=lambda m: ("[" in m.metric, m.id))
        evidence += [Evidence(m.id, "changed", m.describe()) for m in changed[:MAX_EVIDENCE_FACTS]]
        if len(changed) > MAX_EVIDENCE_FACTS:
            rest = len(changed) - MAX_EVIDENCE_FACTS
            evidence.append(Evidence(f"{layer}.*", "changed", f"and {plural(rest, 'more changed fact')} "
                                     f"in {layer}"))
        suspects.append(Suspect(layer, role, f"{head}; {tail}", tuple(evidence), culprits))
    suspects.sort(key=lambda s: (s.role != "root", rank(s.layer)))
    return tuple(suspects)
