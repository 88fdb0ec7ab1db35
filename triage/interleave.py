"""Probe two live platforms interleaved (A B, B A, A B, …) and store every run.

Drift on the probing machine (a noisy neighbour, a cache warming, a CPU throttling) then
hits both sides alike instead of masquerading as a regression of whichever ran second.
Alternating the order each round also cancels "always second" effects. Compare pools the
stored runs of each label (triage.engine.ab).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Callable, Sequence

from .config import Config
from .errors import BadInput
from .load.ramp import check_allowed, plan_ramps
from .runner import Progress, RunOptions, run_probes
from .store import SnapshotStore, StoredRun, check_label


@dataclass(frozen=True)
class Platform:
    label: str
    config: Config


def round_order(platforms: Sequence[Platform], round_index: int) -> Sequence[Platform]:
    return platforms if round_index % 2 == 0 else list(reversed(platforms))


def probe_interleaved(platforms: Sequence[Platform], options: RunOptions, rounds: int, store: SnapshotStore, *,
                      progress: Callable[[str], Progress] | None = None,
                      phase: Callable[[str], None] = lambda text: None) -> list[StoredRun]:
    """``rounds`` runs of every platform, alternating order; each run stored under its label.
    With ``options.load``, then one run of ramps alone per platform (a ramp takes seconds per
    step, and one per side is what a capacity can be read from); Ctrl-C during it stores the
    steps completed and ends the command."""
    if len({p.label for p in platforms}) != len(platforms):
        raise BadInput("interleaved platforms need distinct labels")
    for p in platforms:
        check_label(p.label)
        if options.load:
            check_allowed(plan_ramps(p.config, options.layers), options.allow_load)  # before any packet
    saved = []
    for r in range(rounds):
        for p in round_order(platforms, r):
            phase(f"round {r + 1}/{rounds}: probing {p.label} ({', '.join(options.layers)})")
            snapshot = run_probes(p.config, replace(options, label=p.label, load=False),
                                  progress(p.label) if progress else None)
            saved.append(store.save_snapshot(p.label, snapshot))
    for p in platforms if options.load else ():
        phase(f"ramping {p.label}")
        snapshot = run_probes(p.config, replace(options, label=p.label), progress(p.label) if progress else None,
                              specs=[])
        saved.append(store.save_snapshot(p.label, snapshot))
        if snapshot.extra.get("load_interrupted"):
            raise KeyboardInterrupt
    return saved
