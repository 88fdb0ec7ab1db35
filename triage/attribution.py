"""Who is to blame: regressed layers become root suspects or downstream of one.

The dependency graph (DESIGN.md) says who can make whom look slow. A regressed layer none
of whose dependencies regressed is a *root suspect*; one with a regressed dependency is
*downstream* of it (reported, never hidden). Several roots are allowed: the 2020 Quay hunt
had two unrelated problems at once. Changed facts of a layer (kernel release, sysctls,
DNS config, query plans) are attached to it as evidence. A dependency that could not be
judged (its probes failed) is named in the sentence: it cannot be ruled out.
"""

from __future__ import annotations

from typing import Mapping, Sequence

from .layers import below, rank
from .verdict import Evidence, MetricComparison, Suspect

MAX_EVIDENCE_METRICS = 5
# A cluster of 100 nodes changes 400 per-node facts in one upgrade; the suspect's evidence
# names the first few (aggregates like kernel_versions before per-node ones) and counts the
# rest, which the report's changed-facts table lists in full.
MAX_EVIDENCE_FACTS = 8


def _join(names: Sequence[str]) -> str:
    return ", ".join(names)


def attribute(layers: Mapping[str, str], metrics: Sequence[MetricComparison]) -> tuple[Suspect, ...]:
    """One Suspect per regressed layer, roots first, bottom of the stack first."""
    regressed = [l for l, s in layers.items() if s == "regressed"]
    suspects: list[Suspect] = []
    for layer in regressed:
        deps = below(layer)
        culprits = tuple(d for d in deps if layers.get(d) == "regressed")
        unknown = [d for d in deps if layers.get(d) in ("failed", "inconclusive")]
        rows = sorted((m for m in metrics if m.layer == layer and m.verdict == "regressed"), key=lambda m: m.severity())
        changed = [m for m in metrics if m.layer == layer and m.kind == "fact" and m.verdict == "changed"]
        lead = rows[0].describe() if rows else "a budgeted fact changed"
        more = f" and {len(rows) - 1} more metric{'s' if len(rows) > 2 else ''}" if len(rows) > 1 else ""
        head = f"{layer} regressed: {lead}{more}"
        if culprits:
            role = "downstream"
            tail = f"below it {_join(culprits)} regressed → downstream of {_join(culprits)}"
        else:
            role = "root"
            if not deps:
                tail = f"{layer} is the bottom of the stack → root suspect"
            else:
                tail = f"nothing below it ({_join(deps)}) regressed → root suspect"
            if unknown:
                tail = (f"nothing below it regressed, but {_join(unknown)} could not be judged "
                        f"({'; '.join(f'{u} {layers[u]}' for u in unknown)}) → root suspect, not ruled out below")
        evidence = [Evidence(m.id, "regressed", m.describe()) for m in rows[:MAX_EVIDENCE_METRICS]]
        changed.sort(key=lambda m: ("[" in m.metric, m.id))
        evidence += [Evidence(m.id, "changed", m.describe()) for m in changed[:MAX_EVIDENCE_FACTS]]
        if len(changed) > MAX_EVIDENCE_FACTS:
            rest = len(changed) - MAX_EVIDENCE_FACTS
            evidence.append(Evidence(f"{layer}.*", "changed", f"and {rest} more changed fact{'s' if rest > 1 else ''} "
                                     f"in {layer}"))
        suspects.append(Suspect(layer, role, f"{head}; {tail}", tuple(evidence), culprits))
    suspects.sort(key=lambda s: (s.role != "root", rank(s.layer)))
    return tuple(suspects)
