"""Synthetic histories: labels of one platform with kernel, dns and app metrics, seeded, in
which a step, an outlier run or an outlier label can be put where a test wants it."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from triage.model import Measurement, ProbeResult, Snapshot
from triage.store import SnapshotStore

DNS = "dns.resolve.quay-db@cluster-dns.latency"
APP = "app.http.registry.latency"
KERNEL = "kernel.tcp_connect.quay-db.latency"
BASE = {"kernel": 0.08, "dns": 0.3, "app": 5.0}  # medians, ms


@dataclass
class Platform:
    """Scale factors per layer for some labels (by index), and per run (label index, run)."""

    labels: int = 12
    runs: int = 2
    samples: int = 100
    groups: int = 10
    steps: dict[int, dict[str, float]] = field(default_factory=dict)  # from label i on: layer -> factor
    outliers: dict[tuple[int, int], dict[str, float]] = field(default_factory=dict)  # (label, run) -> factors

    def names(self) -> list[str]:
        return [f"4.3.{10 + i}" for i in range(self.labels)]

    def factor(self, i: int, run: int, layer: str) -> float:
        f = 1.0
        for start, factors in self.steps.items():
            if i >= start:
                f *= factors.get(layer, 1.0)
        return f * self.outliers.get((i, run), {}).get(layer, 1.0)

    def history(self, seed: int) -> tuple[list[str], dict[str, list[Snapshot]]]:
        rng = np.random.default_rng(seed)
        out = {}
        for i, label in enumerate(self.names()):
            out[label] = [self._run(rng, label, i, r) for r in range(self.runs)]
        return self.names(), out

    def _run(self, rng, label: str, i: int, run: int) -> Snapshot:
        def latency(layer: str) -> Measurement:
            values = rng.lognormal(np.log(BASE[layer] * self.factor(i, run, layer)), 0.25, self.samples)
            return Measurement.samples("latency", np.round(values, 5),
                                       groups=[self.samples // self.groups] * self.groups)

        results = (ProbeResult("kernel", "tcp_connect", "quay-db", measurements=(latency("kernel"),)),
                   ProbeResult("dns", "resolve", "quay-db@cluster-dns", measurements=(
                       latency("dns"), Measurement.proportion("timeouts", int(rng.binomial(self.samples, 0.002)),
                                                              self.samples))),
                   ProbeResult("app", "http", "registry", measurements=(
                       latency("app"), Measurement.proportion("errors", int(rng.binomial(self.samples, 0.005)),
                                                              self.samples))),
                   ProbeResult("kubernetes", "platform_version", "cluster",
                               measurements=(Measurement.fact("platform_version", label),)))
        return Snapshot(label, f"2026-11-{1 + i:02d}T{10 + run:02d}:00:00Z", "node-1", "0.1.0", results)

    def store(self, root, seed: int) -> SnapshotStore:
        store = SnapshotStore(str(root))
        labels, runs = self.history(seed)
        for label in labels:
            for snap in runs[label]:
                store.save_snapshot(label, snap)
        return store
