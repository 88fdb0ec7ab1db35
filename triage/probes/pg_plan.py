"""PostgreSQL plans, the comparable part: what ``EXPLAIN (FORMAT JSON)`` says a query does.

Pure functions of EXPLAIN's JSON, so recorded plans from other servers replay in tests
(tests/fixtures/database/); the ``database.query`` probe is their source.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Iterator, Mapping

from triage.model import Measurement


@dataclass(frozen=True)
class PlanSummary:
    """What matters of a plan when it changes: its shape, not its (jittery) estimates."""

    shape: str
    node_types: tuple[str, ...]
    relations: tuple[str, ...]
    indexes: tuple[str, ...]
    large_seq_scans: tuple[str, ...]
    total_cost: float
    scans: tuple[tuple[str, str], ...] = ()  # (relation, how it is read), one per relation
    # Estimated rows of each large table read by a sequential scan: shown beside a changed
    # plan, never part of the fact (estimates move between ANALYZE runs; the fact must not).
    large_rows: Mapping[str, int] = field(default_factory=dict)

    def fact(self) -> dict[str, Any]:
        """The plan fact. ``access`` (relation -> how it is read) is the one mapping in it, so a
        changed plan's evidence opens with the relation whose access path changed
        (triage.factdiff): "manifest_blob Index Scan using manifest_blob_repo_manifest → Seq Scan"."""
        return {"access": dict(self.scans), "shape": self.shape, "node_types": list(self.node_types),
                "relations": list(self.relations), "indexes": list(self.indexes),
                "seq_scans_on_large_tables": list(self.large_seq_scans)}

    def measurements(self) -> list[Measurement]:
        """What a critical query's plan records: the plan fact (large tables' estimated rows
        beside it), one short fact per relation for budgets (``regress_on_change`` on the
        access path of one big table, ``*.scan.manifest_blob``, without making every plan
        change one), the count of sequential scans on large tables and the estimated cost."""
        return [Measurement("plan", "fact", "equal", value=self.fact(),
                            extra={"context": {"rows": dict(self.large_rows)}} if self.large_rows else {}),
                *(Measurement.fact(f"scan.{relation}", how) for relation, how in self.scans),
                Measurement.gauge("seq_scans_on_large_tables", len(self.large_seq_scans), unit="count"),
                Measurement.gauge("estimated_cost", self.total_cost, unit="cost")]


_JOIN_NODES = ("Hash Join", "Merge Join", "Nested Loop")
_AGGREGATE_NAMES = {"Plain": "Aggregate", "Sorted": "GroupAggregate", "Hashed": "HashAggregate",
                    "Mixed": "MixedAggregate"}


def _root_plan(explain_json: Any) -> Mapping[str, Any]:
    """EXPLAIN (FORMAT JSON) gives ``[{"Plan": {...}}]``; psycopg may hand it over as text."""
    import json

    if isinstance(explain_json, str):
        explain_json = json.loads(explain_json)
    if isinstance(explain_json, list):
        explain_json = explain_json[0]
    plan = explain_json.get("Plan") if isinstance(explain_json, Mapping) else None
    if not isinstance(plan, Mapping):
        raise ValueError("EXPLAIN output has no Plan")
    return plan


def _walk(node: Mapping[str, Any]) -> Iterator[Mapping[str, Any]]:
    yield node
    for child in node.get("Plans") or ():
        yield from _walk(child)


def _relation(node: Mapping[str, Any]) -> str | None:
    rel = node.get("Relation Name")
    if not rel:
        return None
    schema = node.get("Schema")
    return f"{schema}.{rel}" if schema and schema != "public" else rel


def plan_relations(explain_json: Any) -> set[tuple[str, str]]:
    """(schema, relation) of every relation the plan scans (schema from VERBOSE, else public)."""
    return {(n.get("Schema") or "public", n["Relation Name"]) for n in _walk(_root_plan(explain_json))
            if n.get("Relation Name")}


def _node_label(node: Mapping[str, Any]) -> str:
    kind = node.get("Node Type", "?")
    join = node.get("Join Type")
    if kind in _JOIN_NODES and join and join != "Inner":
        kind = f"Nested Loop {join} Join" if kind == "Nested Loop" else kind.replace(" Join", f" {join} Join")
    if kind == "Aggregate":
        kind = _AGGREGATE_NAMES.get(node.get("Strategy", "Plain"), kind)
    if node.get("Parallel Aware"):
        kind = f"Parallel {kind}"
    if node.get("Index Name"):
        kind += f" using {node['Index Name']}"
    rel = _relation(node)
    if rel:
        kind += f" on {rel}"
    return kind


def _access(node: Mapping[str, Any]) -> str:
    """How a scan node reads its relation: 'Seq Scan', 'Index Scan using x', ...; a bitmap
    heap scan names the indexes of the bitmap index scans beneath it."""
    kind = ("Parallel " if node.get("Parallel Aware") else "") + node.get("Node Type", "?")
    indexes = [node["Index Name"]] if node.get("Index Name") else \
        sorted({n["Index Name"] for n in _walk(node) if n.get("Index Name")})
    return f"{kind} using {', '.join(indexes)}" if indexes else kind


def _shape(node: Mapping[str, Any]) -> str:
    children = node.get("Plans") or ()
    label = _node_label(node)
    return f"{label}({', '.join(_shape(c) for c in children)})" if children else label


def summarise_plan(explain_json: Any, reltuples: Mapping[tuple[str, str], float],
                   large_table_rows: float) -> PlanSummary:
    """The comparable part of a plan. ``reltuples``: (schema, relation) -> estimated rows."""
    root = _root_plan(explain_json)
    nodes = list(_walk(root))
    access: dict[str, set[str]] = {}
    for n in nodes:
        rel = _relation(n)
        if rel:
            access.setdefault(rel, set()).add(_access(n))
    large: dict[str, int] = {}
    for n in nodes:
        if n.get("Node Type") == "Seq Scan" and n.get("Relation Name"):
            rows = reltuples.get((n.get("Schema") or "public", n["Relation Name"]), -1)
            if rows >= large_table_rows:
                large[_relation(n)] = int(rows)
    return PlanSummary(
        shape=_shape(root),
        node_types=tuple(sorted({n.get("Node Type", "?") for n in nodes})),
        relations=tuple(sorted({r for r in map(_relation, nodes) if r})),
        indexes=tuple(sorted({n["Index Name"] for n in nodes if n.get("Index Name")})),
        large_seq_scans=tuple(sorted(large)),
        total_cost=float(root.get("Total Cost", 0.0)),
        scans=tuple((rel, " + ".join(sorted(how))) for rel, how in sorted(access.items())),
        large_rows=dict(sorted(large.items())),
    )
