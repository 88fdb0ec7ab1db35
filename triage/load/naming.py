"""How ramp metrics are named and read back: one grammar for the ramp that writes them, the
judge that corroborates capacity, the sentences of attribution and the report's charts.

A ramp is the result (layer, ``ramp``, target). Per recorded step: ``latency@200rps``
(samples, ms, in groups) and ``errors@200rps`` (a proportion); for the ramp: ``capacity``
(a gauge in the step unit, better higher). Suffixes: ``rps`` (app, req/s), ``qps`` (dns,
q/s), ``clients`` (database: concurrent clients, closed loop). Pure; imports formatting only.
"""

from __future__ import annotations

import re
from typing import Iterable, NamedTuple

from triage.formatting import format_number

PROBE = "ramp"
CAPACITY = "capacity"
STEP_KINDS = ("latency", "errors")
SUFFIX = {"app": "rps", "dns": "qps", "database": "clients"}
UNIT = {"rps": "req/s", "qps": "q/s", "clients": "clients"}

_STEP = re.compile(rf"^({'|'.join(STEP_KINDS)})@(\d+(?:\.\d+)?)({'|'.join(UNIT)})$")


class Step(NamedTuple):
    kind: str  # latency | errors
    offered: float
    suffix: str

    @property
    def unit(self) -> str:
        return UNIT[self.suffix]


def number(value: float) -> str:
    """A step's offered rate in a name: 200, 12.5 (never 200.0)."""
    return f"{value:g}"


def step_metric(kind: str, offered: float, suffix: str) -> str:
    return f"{kind}@{number(offered)}{suffix}"


def parse_step(metric: str) -> Step | None:
    m = _STEP.match(metric)
    return Step(m[1], float(m[2]), m[3]) if m else None


def is_capacity(probe: str, metric: str) -> bool:
    return probe == PROBE and metric == CAPACITY


def offered_text(offered: float, unit: str) -> str:
    """'1,800 req/s', '4 clients'."""
    return f"{format_number(offered)} {unit}"


def from_offered(offered: Iterable[float], recorded: Iterable[float], unit: str) -> str:
    """Where a layer regressed on its ramps: 'at 400 q/s and above' when every recorded step
    from the lowest regressed one up regressed, else 'at 400 and 1,600 q/s'."""
    hits = sorted(set(offered))
    if not hits:
        return ""
    above = [r for r in sorted(set(recorded)) if r >= hits[0]]
    if len(hits) > 1 and above == hits:
        return f"at {offered_text(hits[0], unit)} and above"
    if len(hits) == 1:
        return f"at {offered_text(hits[0], unit)}"
    return f"at {', '.join(format_number(h) for h in hits[:-1])} and {offered_text(hits[-1], unit)}"
