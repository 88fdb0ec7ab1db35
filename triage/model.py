"""Snapshot v1 and its parts: small frozen dataclasses with to_dict/from_dict.

History of the on-disk format (``schema``):
- ``triage.snapshot/v1``: first version (DESIGN.md). Unknown fields are kept in ``extra``
  and written back, so a newer writer's additions survive a round trip through us.

Validation happens here, at the boundary; everything downstream trusts these objects.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from typing import Any, Iterable, Mapping

from .errors import InputFileError
from .layers import LAYERS

SNAPSHOT_SCHEMA = "triage.snapshot/v1"
KNOWN_SCHEMAS = (SNAPSHOT_SCHEMA,)

KINDS = ("samples", "proportion", "gauge", "fact")
BETTER = ("lower", "higher", "equal")
STATUSES = ("ok", "error", "skipped")
_NUMBER_TYPES = {int, float}  # exact types: bool, a subclass of int, is no sample


class _Invalid(Exception):
    """Raised inside from_dict; carries the dotted field path and what was expected."""

    def __init__(self, field_path: str, expected: str):
        self.field_path = field_path
        self.expected = expected
        super().__init__(f"{field_path}: {expected}")


def _describe(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def _req(d: Mapping, key: str, path: str) -> Any:
    if key not in d:
        raise _Invalid(f"{path}.{key}" if path else key, "required field is missing")
    return d[key]


def _str(d: Mapping, key: str, path: str, *, optional: bool = False, choices: Iterable[str] = ()) -> Any:
    where = f"{path}.{key}" if path else key
    if optional and d.get(key) is None:
        return None
    value = _req(d, key, path)
    if not isinstance(value, str):
        raise _Invalid(where, f"expected a string, got {_describe(value)}")
    choices = tuple(choices)
    if choices and value not in choices:
        raise _Invalid(where, f"expected one of {', '.join(choices)}, got {_describe(value)}")
    return value


def _num(value: Any, where: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise _Invalid(where, f"expected a finite number, got {_describe(value)}")
    return value


def _int(value: Any, where: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise _Invalid(where, f"expected a non-negative integer, got {_describe(value)}")
    return value


def _groups(raw: Any, n_values: int, where: str) -> tuple[int, ...] | None:
    """A samples measurement's sub-run sizes: absent, or positive integers summing to its values."""
    if raw is None:
        return None
    expected = f"expected a list of positive integers summing to the {n_values} values"
    if not isinstance(raw, list) or any(type(n) is not int or n < 1 for n in raw):
        raise _Invalid(where, f"{expected}, got {_describe(raw)}")
    if sum(raw) != n_values:
        raise _Invalid(where, f"{expected}, got sizes summing to {sum(raw)}")
    return tuple(raw)


@dataclass(frozen=True)
class Measurement:
    """One metric of one probe result. Which fields matter depends on ``kind``:

    samples: ``values`` (+unit, better); proportion: ``events``/``trials`` (+better);
    gauge: ``value`` number (+unit, better); fact: ``value`` of any JSON type.
    """

    metric: str
    kind: str
    better: str = "lower"
    unit: str | None = None
    values: tuple[float, ...] = ()
    events: int = 0
    trials: int = 0
    value: Any = None
    extra: Mapping[str, Any] = field(default_factory=dict)
    # samples only: sizes, in order, of the independent sub-runs (a fresh connection, socket
    # or session each) the values were taken in; None: not recorded, judged as independent.
    groups: tuple[int, ...] | None = None

    # Constructors say what a probe means and keep probes short.
    @classmethod
    def samples(cls, metric: str, values: Iterable[float], unit: str = "ms", better: str = "lower",
                groups: Iterable[int] | None = None) -> "Measurement":
        values = tuple(float(v) for v in values)
        sizes = None if groups is None else tuple(groups)
        if sizes is not None and (any(isinstance(n, bool) or not isinstance(n, int) or n < 1 for n in sizes)
                                  or sum(sizes) != len(values)):
            raise ValueError(f"{metric}: groups {list(sizes)} are not positive sizes summing to {len(values)} values")
        return cls(metric=metric, kind="samples", unit=unit, better=better, values=values, groups=sizes)

    @classmethod
    def proportion(cls, metric: str, events: int, trials: int, better: str = "lower") -> "Measurement":
        return cls(metric=metric, kind="proportion", better=better, events=int(events), trials=int(trials))

    @classmethod
    def gauge(cls, metric: str, value: float, unit: str = "count", better: str = "lower") -> "Measurement":
        return cls(metric=metric, kind="gauge", unit=unit, better=better, value=value)

    @classmethod
    def counter(cls, metric: str, events: int, window_s: float, rounds: Iterable[int] | None = None,
                round_s: Iterable[float] | None = None) -> "Measurement":
        """Events counted over a window (retransmits, drops): a gauge that compare judges as a
        Poisson count, scaled by the window, instead of by floors alone. ``rounds`` and
        ``round_s``: the same events counted per round of the run and each round's length,
        so the judge can tell a rate that rose from one burst."""
        extra: dict[str, Any] = {"counter": True, "window_s": round(float(window_s), 6)}
        if rounds is not None and round_s is not None:
            extra["rounds"] = [int(n) for n in rounds]
            extra["round_s"] = [round(float(s), 6) for s in round_s]
        return cls(metric=metric, kind="gauge", unit="count", better="lower", value=int(events), extra=extra)

    @classmethod
    def fact(cls, metric: str, value: Any) -> "Measurement":
        return cls(metric=metric, kind="fact", better="equal", value=value)

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = dict(self.extra)
        d["metric"] = self.metric
        d["kind"] = self.kind
        if self.kind != "fact":
            d["better"] = self.better
        if self.unit is not None and self.kind in ("samples", "gauge"):
            d["unit"] = self.unit
        if self.kind == "samples":
            d["values"] = list(self.values)
            if self.groups is not None:
                d["groups"] = list(self.groups)
        elif self.kind == "proportion":
            d["events"] = self.events
            d["trials"] = self.trials
        else:
            d["value"] = self.value
        return d

    @classmethod
    def from_dict(cls, d: Any, path: str = "measurement") -> "Measurement":
        if not isinstance(d, dict):
            raise _Invalid(path, f"expected an object, got {_describe(d)}")
        metric = _str(d, "metric", path)
        kind = _str(d, "kind", path, choices=KINDS)
        better = "equal" if kind == "fact" else (_str(d, "better", path, optional=True, choices=BETTER) or "lower")
        unit = _str(d, "unit", path, optional=True)
        known = {"metric", "kind", "better", "unit", "values", "events", "trials", "value"}
        extra = {k: v for k, v in d.items() if k not in known}
        if kind == "samples":
            raw = _req(d, "values", path)
            if not isinstance(raw, list):
                raise _Invalid(f"{path}.values", f"expected a list of numbers, got {_describe(raw)}")
            # Snapshots carry millions of values: check types and finiteness with C-level maps.
            values = tuple(map(float, raw)) if set(map(type, raw)) <= _NUMBER_TYPES else ()
            if len(values) != len(raw) or not all(map(math.isfinite, values)):
                bad = next((v for v in raw if isinstance(v, bool) or not isinstance(v, (int, float))
                            or not math.isfinite(v)), None)
                raise _Invalid(f"{path}.values", f"expected a list of finite numbers, got {_describe(bad)}")
            groups = _groups(extra.pop("groups", None), len(values), f"{path}.groups")
            return cls(metric, kind, better, unit, values=values, extra=extra, groups=groups)
        if kind == "proportion":
            events = _int(_req(d, "events", path), f"{path}.events")
            trials = _int(_req(d, "trials", path), f"{path}.trials")
            if events > trials:
                raise _Invalid(f"{path}.events", f"expected at most trials ({trials}), got {events}")
            return cls(metric, kind, better, unit, events=events, trials=trials, extra=extra)
        value = _req(d, "value", path)
        if kind == "gauge":
            value = _num(value, f"{path}.value")
        return cls(metric, kind, better, unit, value=value, extra=extra)


@dataclass(frozen=True)
class ProbeResult:
    """What one probe saw of one target. ``notes`` says which metrics were dropped and why."""

    layer: str
    probe: str
    target: str
    status: str = "ok"
    error: str | None = None
    duration_s: float = 0.0
    measurements: tuple[Measurement, ...] = ()
    notes: tuple[str, ...] = ()
    extra: Mapping[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = dict(self.extra)
        d.update(layer=self.layer, probe=self.probe, target=self.target, status=self.status,
                 error=self.error, duration_s=round(self.duration_s, 6),
                 measurements=[m.to_dict() for m in self.measurements])
        if self.notes:
            d["notes"] = list(self.notes)
        return d

    @classmethod
    def from_dict(cls, d: Any, path: str = "result") -> "ProbeResult":
        if not isinstance(d, dict):
            raise _Invalid(path, f"expected an object, got {_describe(d)}")
        layer = _str(d, "layer", path)
        probe = _str(d, "probe", path)
        target = _str(d, "target", path)
        status = _str(d, "status", path, choices=STATUSES)
        error = _str(d, "error", path, optional=True)
        duration = _num(d.get("duration_s", 0.0), f"{path}.duration_s")
        raw = d.get("measurements", [])
        if not isinstance(raw, list):
            raise _Invalid(f"{path}.measurements", f"expected a list, got {_describe(raw)}")
        measurements = tuple(Measurement.from_dict(m, f"{path}.measurements[{i}]") for i, m in enumerate(raw))
        notes = d.get("notes") or []
        if not isinstance(notes, list) or not all(isinstance(n, str) for n in notes):
            raise _Invalid(f"{path}.notes", "expected a list of strings")
        known = {"layer", "probe", "target", "status", "error", "duration_s", "measurements", "notes"}
        extra = {k: v for k, v in d.items() if k not in known}
        return cls(layer, probe, target, status, error, float(duration), measurements, tuple(notes), extra)


@dataclass(frozen=True)
class Snapshot:
    """One run of probes against one platform: the unit that is stored and compared."""

    label: str
    taken_at: str
    host: str
    tool_version: str
    results: tuple[ProbeResult, ...] = ()
    extra: Mapping[str, Any] = field(default_factory=dict)
    schema: str = SNAPSHOT_SCHEMA

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = dict(self.extra)
        d.update(schema=SNAPSHOT_SCHEMA, label=self.label, taken_at=self.taken_at, host=self.host,
                 tool_version=self.tool_version, results=[r.to_dict() for r in self.results])
        return d

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), sort_keys=True, separators=(",", ":")) + "\n"

    @classmethod
    def from_dict(cls, d: Any, source: str = "<snapshot>") -> "Snapshot":
        """Validate and build; errors name ``source`` and the field, exit 2 at the CLI."""
        try:
            if not isinstance(d, dict):
                raise _Invalid("(top level)", f"expected a JSON object, got {_describe(d)}")
            schema = _str(d, "schema", "")
            if schema not in KNOWN_SCHEMAS:
                raise _Invalid("schema", f"expected {' or '.join(KNOWN_SCHEMAS)}, got {_describe(schema)}"
                               " (not a triage snapshot, or from a newer triage)")
            label = _str(d, "label", "")
            taken_at = _str(d, "taken_at", "")
            host = _str(d, "host", "")
            tool_version = _str(d, "tool_version", "")
            raw = _req(d, "results", "")
            if not isinstance(raw, list):
                raise _Invalid("results", f"expected a list, got {_describe(raw)}")
            results = tuple(ProbeResult.from_dict(r, f"results[{i}]") for i, r in enumerate(raw))
        except _Invalid as exc:
            raise InputFileError(source, exc.expected, field=exc.field_path) from None
        known = {"schema", "label", "taken_at", "host", "tool_version", "results"}
        extra = {k: v for k, v in d.items() if k not in known}
        return cls(label, taken_at, host, tool_version, results, extra)

    @classmethod
    def from_json(cls, text: str, source: str = "<snapshot>") -> "Snapshot":
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise InputFileError(source, f"not valid JSON ({exc.msg}, line {exc.lineno} column {exc.colno});"
                                 " truncated or not a snapshot", line=None) from None
        return cls.from_dict(data, source)

    @classmethod
    def load(cls, path: str) -> "Snapshot":
        from .fileio import read_input

        return cls.from_json(read_input(path, "snapshot JSON"), path)


def utc_now() -> str:
    """A snapshot's ``taken_at``: UTC, whole seconds, ``Z``."""
    import datetime as dt

    return dt.datetime.now(dt.timezone.utc).replace(microsecond=0).isoformat().replace("+00:00", "Z")


def metric_key(result: ProbeResult, measurement: Measurement) -> tuple[str, str, str, str]:
    """The identity of a metric across snapshots: (layer, probe, target, metric)."""
    return (result.layer, result.probe, result.target, measurement.metric)
