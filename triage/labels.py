"""``--label auto``: a snapshot labels itself with the platform version its kubernetes probes found
(OpenShift's ClusterVersion, else the API server's gitVersion)."""

from __future__ import annotations

import dataclasses
from typing import Iterable

from .errors import BadInput
from .model import Snapshot

AUTO = "auto"
VERSION_PROBE = ("kubernetes", "platform_version")
VERSION_METRIC = "platform_version"


def check_auto_label(label: str, layers: Iterable[str]) -> None:
    """Before the run: ``--label auto`` needs the kubernetes layer."""
    if label == AUTO and "kubernetes" not in tuple(layers):
        raise BadInput("--label auto: the platform version comes from the kubernetes layer; "
                       "add kubernetes to --layers or give the label explicitly")


def auto_label(snapshot: Snapshot) -> str:
    """The platform version the kubernetes.platform_version probe found; BadInput saying why not."""
    results = [r for r in snapshot.results if (r.layer, r.probe) == VERSION_PROBE]
    if not results:
        raise BadInput("--label auto: no platform version: the kubernetes layer did not run; "
                       "add kubernetes to --layers or give the label explicitly")
    for result in results:
        if result.status != "ok":
            continue
        for m in result.measurements:
            if m.metric == VERSION_METRIC and m.kind == "fact" and isinstance(m.value, str) and m.value.strip():
                return m.value.strip()
    reasons = "; ".join(f"{r.status}: {r.error}" for r in results if r.status != "ok") or "it reported no version"
    raise BadInput(f"--label auto: no platform version found (kubernetes.platform_version {reasons}); "
                   "give the label explicitly")


def resolve_label(snapshot: Snapshot) -> Snapshot:
    """``snapshot`` itself, or relabelled with its platform version when its label is ``auto``."""
    if snapshot.label != AUTO:
        return snapshot
    return dataclasses.replace(snapshot, label=auto_label(snapshot))
