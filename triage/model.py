"""Snapshot v1 and its parts: small frozen dataclasses with to_dict/from_dict.

History of the on-disk format (``schema``):
- ``triage.snapshot/v1``: first version (DESIGN.md). Unknown fields are kept in ``extra``
  and written back, so a newer writer's additions survive a round trip through us.

Validation happens here, at the boundary; everything downstream trusts these objects. It
refuses (InputFileError, exit 2, naming the file and the field) whatever the engine could not
handle in bounded time and memory (issue 16): a file over ``MAX_SNAPSHOT_BYTES``, duplicate
keys, NaN/Infinity (the JSON rules every format shares: triage.strictjson); numbers beyond ``MAX_MAGNITUDE``; event counts beyond ``MAX_EVENTS``
(the exact tests build arrays that size); counter windows outside ``WINDOW_S``; lone
surrogates (unwritable as UTF-8); free-form values (facts, unknown fields) nested deeper than
``MAX_FREE_DEPTH``; layers other than the five.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any, Iterable, Mapping

from . import strictjson
from .errors import InputFileError
from .fileio import MAX_INPUT_BYTES, read_input
from .layers import LAYERS
from .strictjson import Invalid as _Invalid, describe as _describe, free as _free
from .strictjson import integer as _int, required as _req, string as _str

SNAPSHOT_SCHEMA = "triage.snapshot/v1"
KNOWN_SCHEMAS = (SNAPSHOT_SCHEMA,)

MAX_SNAPSHOT_BYTES = MAX_INPUT_BYTES
# 1e15 is 31,700 years in ms or a petabyte in bytes; squares and sums of a million such values
# stay far from float overflow (1e308), which ±1e308 samples reached in the statistics.
MAX_MAGNITUDE = 1e15
# Fisher's and the Poisson test build their pmf over the events: 1e6 events take ~0.2 s and
# ~130 MB, 1e7 took 2 s and 1.1 GB, 1e12 would need terabytes.
MAX_EVENTS = 10**6
MAX_TRIALS = 10**15  # trials only enter logarithms; below 2**53 they stay exact as floats
WINDOW_S = (1e-6, 1e9)  # a counter window: 0 (unknown), or a microsecond to 31 years

KINDS = ("samples", "proportion", "gauge", "fact")
BETTER = ("lower", "higher", "equal")
STATUSES = ("ok", "error", "skipped")
_NUMBER_TYPES = {int, float}  # exact types: bool, a subclass of int, is no sample


def _num(value: Any, where: str, lo: float = -MAX_MAGNITUDE, hi: float = MAX_MAGNITUDE) -> float:
    return strictjson.number(value, where, lo, hi)


def _extra(d: Mapping, known: set[str], path: str) -> dict:
    return {k: _free(v, strictjson.join(path, k)) for k, v in d.items() if k not in known}


def _floats(raw: list) -> tuple[float, ...]:
    """``raw`` as floats, or () if anything in it is no number (a bool is none) or an integer
    too large for a float."""
    if not set(map(type, raw)) <= _NUMBER_TYPES:
        return ()
    try:
        return tuple(map(float, raw))
    except OverflowError:
        return ()


def _gauge(value: Any, extra: Mapping[str, Any], path: str) -> float:
    """A gauge's value; a counter's is an event count and its window a duration (compare
    builds the Poisson test over the count and divides by the windows). Pooling adds up the
    windows of every gauge that has one, counter or not (a 400-digit one overflowed it)."""
    if "window_s" in extra:
        window = _num(extra["window_s"], f"{path}.window_s", 0, WINDOW_S[1])
        if 0 < window < WINDOW_S[0]:
            raise _Invalid(f"{path}.window_s", f"expected 0 (unknown) or at least {WINDOW_S[0]:g} s, got {window!r}")
    if extra.get("counter") is not True:
        return _num(value, f"{path}.value")
    return _num(value, f"{path}.value", 0, MAX_EVENTS)


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
        extra = _extra(d, {"metric", "kind", "better", "unit", "values", "events", "trials", "value"}, path)
        if kind == "samples":
            raw = _req(d, "values", path)
            if not isinstance(raw, list):
                raise _Invalid(f"{path}.values", f"expected a list of numbers, got {_describe(raw)}")
            # Snapshots carry millions of values: check types and range with C-level maps (NaN
            # fails the comparison, so it is refused with the rest).
            values = _floats(raw)
            if len(values) != len(raw) or not all(map(MAX_MAGNITUDE.__ge__, map(abs, values))):
                bad = next((v for v in raw if isinstance(v, bool) or not isinstance(v, (int, float))
                            or not abs(v) <= MAX_MAGNITUDE), None)
                raise _Invalid(f"{path}.values", f"expected a list of finite numbers from {-MAX_MAGNITUDE:g} to "
                               f"{MAX_MAGNITUDE:g}, got {_describe(bad)}")
            groups = _groups(extra.pop("groups", None), len(values), f"{path}.groups")
            return cls(metric, kind, better, unit, values=values, extra=extra, groups=groups)
        if kind == "proportion":
            events = _int(_req(d, "events", path), f"{path}.events", MAX_EVENTS)
            trials = _int(_req(d, "trials", path), f"{path}.trials", MAX_TRIALS)
            if events > trials:
                raise _Invalid(f"{path}.events", f"expected at most trials ({trials}), got {events}")
            return cls(metric, kind, better, unit, events=events, trials=trials, extra=extra)
        value = _req(d, "value", path)
        value = _gauge(value, extra, path) if kind == "gauge" else _free(value, f"{path}.value")
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
        layer = _str(d, "layer", path, choices=LAYERS)
        probe = _str(d, "probe", path)
        target = _str(d, "target", path)
        status = _str(d, "status", path, choices=STATUSES)
        error = _str(d, "error", path, optional=True)
        duration = _num(d.get("duration_s", 0.0), f"{path}.duration_s", 0)
        raw = d.get("measurements", [])
        if not isinstance(raw, list):
            raise _Invalid(f"{path}.measurements", f"expected a list, got {_describe(raw)}")
        measurements = tuple(Measurement.from_dict(m, f"{path}.measurements[{i}]") for i, m in enumerate(raw))
        notes = d.get("notes") or []
        if not isinstance(notes, list) or not all(isinstance(n, str) for n in notes):
            raise _Invalid(f"{path}.notes", "expected a list of strings")
        _free(notes, f"{path}.notes")
        extra = _extra(d, {"layer", "probe", "target", "status", "error", "duration_s", "measurements", "notes"},
                       path)
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
        return strictjson.dumps(self.to_dict())

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
            extra = _extra(d, {"schema", "label", "taken_at", "host", "tool_version", "results"}, "")
        except _Invalid as exc:
            raise InputFileError(source, exc.expected, field=exc.field_path) from None
        return cls(label, taken_at, host, tool_version, results, extra)

    @classmethod
    def from_json(cls, text: str, source: str = "<snapshot>") -> "Snapshot":
        return cls.from_dict(strictjson.loads(text, source, "a snapshot", MAX_SNAPSHOT_BYTES), source)

    @classmethod
    def load(cls, path: str) -> "Snapshot":
        return cls.from_json(read_input(path, "snapshot JSON", MAX_SNAPSHOT_BYTES), path)


def checked(result: ProbeResult) -> ProbeResult:
    """``result`` as the loader will read it back (the runner writes what triage reads): a
    measurement the loader would refuse (NaN or ±Infinity from a probe, a value out of range)
    or an unknown field it would refuse is dropped with a note naming the field, rather than
    written into a snapshot that every later command refuses; text no file can hold (a lone
    surrogate, from bytes decoded with surrogateescape) keeps its escape instead."""
    notes = [_writable(n) for n in result.notes]
    kept = []
    for i, m in enumerate(result.measurements):
        try:
            Measurement.from_dict(m.to_dict(), f"measurements[{i}]")
        except _Invalid as exc:
            notes.append(f"measurement {_describe(m.metric)} dropped: {exc.field_path}: {exc.expected}")
        else:
            kept.append(m)
    extra = {}
    for key, value in result.extra.items():
        try:
            extra[_free(key, "extra")] = _free(value, key)
        except _Invalid as exc:
            notes.append(f"field {_describe(key)} dropped: {exc.field_path}: {exc.expected}")
    return replace(result, layer=_writable(result.layer), probe=_writable(result.probe),
                   target=_writable(result.target), error=None if result.error is None else _writable(result.error),
                   measurements=tuple(kept), notes=tuple(notes), extra=extra)


def _writable(text: str) -> str:
    return text.encode("utf-8", "backslashreplace").decode("utf-8")


def utc_now() -> str:
    """A snapshot's ``taken_at``: UTC, whole seconds, ``Z``."""
    import datetime as dt

    return dt.datetime.now(dt.timezone.utc).replace(microsecond=0).isoformat().replace("+00:00", "Z")


def metric_key(result: ProbeResult, measurement: Measurement) -> tuple[str, str, str, str]:
    """The identity of a metric across snapshots: (layer, probe, target, metric)."""
    return (result.layer, result.probe, result.target, measurement.metric)
