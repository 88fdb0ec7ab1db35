"""`triage gate`: probe the platform now, judge it against a stored baseline, and (when it
passes) keep the run. The CI entry point: the verdict is the exit code."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Callable, Sequence

from .judge import compare_snapshots
from .verdict import DEFAULT_ALPHA, Comparison
from .budget import load_budget
from .config import Config
from .model import Snapshot
from .runner import Progress, RunOptions, run_probes
from .store import SnapshotStore, StoredRun, check_label, resolve_store_path


@dataclass(frozen=True)
class GateResult:
    comparison: Comparison
    snapshot: Snapshot
    saved: StoredRun | None


def run_gate(config: Config, baseline_label: str, options: RunOptions, *, store: str | None = None,
             budget_path: str | None = None, alpha: float = DEFAULT_ALPHA, save_as: str | None = None,
             layers_given: bool = False, progress: Progress | None = None,
             take: Callable[[RunOptions, Sequence[Snapshot]], Snapshot] | None = None,
             baseline_runs: Sequence[Snapshot] | None = None) -> GateResult:
    """Everything that can be refused (label, budget, save-as name) is checked before probing.

    ``take(options, baseline runs)`` produces the candidate instead of the live probes, and
    ``baseline_runs`` stand for the stored label (both: the Prometheus source)."""
    snapshots = SnapshotStore(resolve_store_path(store))
    baseline = list(baseline_runs) if baseline_runs is not None else snapshots.load_label(baseline_label)
    budget = load_budget(budget_path)
    if save_as:
        check_label(save_as)
    if not layers_given:
        # Probe what the baseline knows about: a layer it never measured can only be "absent".
        seen = {r.layer for snap in baseline for r in snap.results if r.status == "ok"}
        options = replace(options, layers=tuple(layer for layer in options.layers if layer in seen) or options.layers)
    snapshot = take(options, baseline) if take else run_probes(config, options, progress)
    comparison = compare_snapshots(baseline, [snapshot], baseline_spec=baseline_label,
                                   candidate_spec=f"{snapshot.label} (now)" if take is None else snapshot.label,
                                   budget=budget, alpha=alpha,
                                   sources=("label" if baseline_runs is None else "file", "file"))
    saved = None
    if save_as and comparison.verdict == "ok":
        saved = snapshots.save_snapshot(save_as, snapshot)
    return GateResult(comparison, snapshot, saved)
