"""What the reproducers write and summarise the same way: their snapshot directory, each
side's snapshot file, and samples capped for a snapshot or shown as percentiles."""

from __future__ import annotations

import os
import re
from typing import Sequence

from triage.errors import BadInput
from triage.fileio import atomic_write_text
from triage.model import Snapshot
from triage.stats import quantile

SNAPSHOT_SAMPLE_CAP = 50_000


def percentiles(values: Sequence[float]) -> dict[str, float | None]:
    """p50/p95/p99 (linear interpolation, as numpy's default) and max, in the values' unit."""
    if not values:
        return {"p50": None, "p95": None, "p99": None, "max": None}
    ordered = sorted(values)
    return {"p50": round(quantile(ordered, 0.50), 3), "p95": round(quantile(ordered, 0.95), 3),
            "p99": round(quantile(ordered, 0.99), 3), "max": round(ordered[-1], 3)}


def check_save_dir(path: str, option: str = "--save-snapshots") -> None:
    """A reproducer's snapshot directory (``--save-snapshots``, ``--snapshot-dir``): refused
    before any side runs when it cannot be written."""
    if os.path.exists(path) and not os.path.isdir(path):
        raise BadInput(f"{option} {path}: exists and is not a directory")
    try:
        os.makedirs(path, exist_ok=True)
    except OSError as exc:
        raise BadInput(f"{option} {path}: cannot create: {exc.strerror}") from None


def slug(text: str) -> str:
    """A profile as a file name part: 'delay=3ms,drop=1%' -> 'delay-3ms-drop-1'."""
    return re.sub(r"[^A-Za-z0-9]+", "-", text).strip("-")[:60] or "profile"


def capped(values: list[float], notes: list[str], what: str) -> list[float]:
    """A reproducer's samples for a snapshot: at most SNAPSHOT_SAMPLE_CAP, evenly spaced in time (noted)."""
    if len(values) <= SNAPSHOT_SAMPLE_CAP:
        return [round(v, 4) for v in values]
    stride = len(values) / SNAPSHOT_SAMPLE_CAP
    notes.append(f"{what}: kept {SNAPSHOT_SAMPLE_CAP} of {len(values)} samples, evenly spaced in time")
    return [round(values[int(i * stride)], 4) for i in range(SNAPSHOT_SAMPLE_CAP)]


def write_snapshots(directory: str, snapshots: Sequence[Snapshot]) -> list[str]:
    """``DIR/1-<label>.json``, ``DIR/2-...``: one file per side, in order, written atomically."""
    written = []
    for index, snapshot in enumerate(snapshots, start=1):
        path = os.path.join(directory, f"{index}-{slug(snapshot.label)}.json")
        atomic_write_text(path, snapshot.to_json())
        written.append(path)
    return written
