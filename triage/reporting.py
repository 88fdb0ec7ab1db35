"""What `triage compare`, `report` and `gate` share: get a Comparison from what the user
gave (files, stored labels, a saved comparison) and say how to reproduce it."""

from __future__ import annotations

import shlex

from .budget import load_budget
from .fileio import read_input
from .judge import check_alpha, collector_paused, compare_snapshots
from .store import SnapshotStore, load_side, resolve_store_path
from .verdict import DEFAULT_ALPHA, Comparison


def compare_sides(baseline_spec: str, candidate_spec: str, *, store: str | None = None,
                  budget_path: str | None = None, alpha: float = DEFAULT_ALPHA) -> Comparison:
    """Load both sides (snapshot files or stored labels) and the budget, and judge.
    Raises BadInput/InputFileError/StoreError."""
    check_alpha(alpha)  # before any file is read
    budget = load_budget(budget_path)
    snapshots = SnapshotStore(resolve_store_path(store))
    with collector_paused():
        a_source, a_snaps = load_side(baseline_spec, snapshots)
        b_source, b_snaps = load_side(candidate_spec, snapshots)
    return compare_snapshots(a_snaps, b_snaps, baseline_spec=baseline_spec, candidate_spec=candidate_spec,
                             budget=budget, alpha=alpha, sources=(a_source, b_source))


def load_comparison(path: str) -> Comparison:
    """A comparison saved with `triage compare --format json`."""
    return Comparison.from_json(read_input(path, "comparison JSON"), path)


def comparison_for_report(first: str, second: str | None, *, store: str | None = None,
                          budget_path: str | None = None, alpha: float = DEFAULT_ALPHA) -> Comparison:
    """One argument: a saved comparison JSON. Two: baseline and candidate (files or labels)."""
    if second is None:
        return load_comparison(first)
    return compare_sides(first, second, store=store, budget_path=budget_path, alpha=alpha)


def reproduce_commands(c: Comparison, *, store: str | None = None, budget: str | None = None) -> tuple[str, ...]:
    """The commands that re-run this triage: probe each labelled side again, then compare."""
    q = shlex.quote
    opts = (f" --store {q(store)}" if store else "") + (f" --budget {q(budget)}" if budget else "")
    lines = []
    for info in (c.baseline, c.candidate):
        if info.source == "label":
            lines.append(f"triage probe --label {q(info.spec)} --out {q(info.spec)}.json && "
                         f"triage baseline save {q(info.spec)} {q(info.spec)}.json" + (f" --store {q(store)}" if store else ""))
    lines.append(f"triage compare {q(c.baseline.spec)} {q(c.candidate.spec)}{opts}")
    lines.append(f"triage report {q(c.baseline.spec)} {q(c.candidate.spec)}{opts} -o triage-report.md")
    return tuple(lines)
