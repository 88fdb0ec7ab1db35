"""A big cluster's per-node facts must not flood a suspect's evidence."""

from triage.attribution import MAX_EVIDENCE_FACTS, attribute
from triage.judge import compare_snapshots
from triage.model import Measurement, ProbeResult, Snapshot


def snapshot(label, kernel, restarts):
    facts = [Measurement.fact("kernel_versions", [kernel])]
    facts += [Measurement.fact(f"kernel_version[node-{i:03d}]", kernel) for i in range(100)]
    facts.append(Measurement.gauge("not_ready", restarts))
    return Snapshot(label, "2026-11-23T15:00:00Z", "h", "0.1.0",
                    (ProbeResult("kubernetes", "nodes", "cluster", measurements=tuple(facts)),))


def test_changed_facts_are_capped_with_aggregates_first():
    c = compare_snapshots([snapshot("a", "4.18.0-147.8.1", 0)], [snapshot("b", "4.18.0-147.13.2", 1)])
    (suspect,) = c.suspects
    changed = [e for e in suspect.evidence if e.kind == "changed"]
    assert len(changed) == MAX_EVIDENCE_FACTS + 1
    assert changed[0].metric == "kubernetes.nodes.cluster.kernel_versions"
    assert changed[-1].text == f"and {101 - MAX_EVIDENCE_FACTS} more changed facts in kubernetes"
    assert attribute(c.layers, c.metrics) == c.suspects
