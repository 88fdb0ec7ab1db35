"""Snapshot v1 and its parts: small frozen dataclasses with to_dict/from_dict.

History of the on-disk format (``schema``):
- ``triage.snapshot/v1``: first version (DESIGN.md). Unknown fields are kept in ``extra``
  and written back, so a newer writer's additions survive a round trip through us.

Validation happens here, at the boundary; everything downstream trusts these objects. It
refuses (InputFileError, exit 2, naming the file and the field) whatever the engine could not
handle in bounded time and memory (issue 16): a file over ``MAX_SNAPSHOT_BYTES``; duplicate
keys; NaN/Infinity; numbers beyond ``MAX_MAGNITUDE``; event counts beyond ``MAX_EVENTS``
(the exact tests build arrays that size); counter windows outside ``WINDOW_S``; lone
surrogates (unwritable as UTF-8); free-form values (facts, unknown fields) nested deeper than
``MAX_FREE_DEPTH``; layers other than the five.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, Iterable, Mapping

from .errors import InputFileError
from .fileio import MAX_INPUT_BYTES, read_input
from .layers import LAYERS

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
MAX_FREE_DEPTH = 32  # facts and unknown fields; real snapshots nest 6 deep in all

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


class _NonFinite:
    """What NaN/Infinity parse to: not a number, so every check below refuses it by type."""

    def __init__(self, text: str):
        self.text = text

    def __repr__(self) -> str:
        return self.text


class _Duplicated(dict):
    """A JSON object that had a key twice; ``duplicate`` names it (found by _locate)."""

    duplicate: str = ""


class _Objects:
    """json's object hook for one load: dicts, marking those that had a key twice."""

    def __init__(self) -> None:
        self.duplicated = False

    def __call__(self, pairs: list[tuple[str, Any]]) -> dict:
        d = dict(pairs)
        if len(d) == len(pairs):
            return d
        self.duplicated = True
        marked, seen = _Duplicated(d), set()
        marked.duplicate = next(k for k, _ in pairs if k in seen or seen.add(k))  # type: ignore[func-returns-value]
        return marked


def _locate_duplicate(data: Any) -> tuple[str, str] | None:
    """(path of the object, key) of the first object that had a key twice, if any."""
    stack: list[tuple[Any, str]] = [(data, "")]
    while stack:
        value, path = stack.pop()
        if isinstance(value, _Duplicated):
            return path, value.duplicate
        if isinstance(value, dict):
            stack.extend((v, f"{path}.{k}" if path else k) for k, v in value.items()
                         if isinstance(v, (dict, list)))
        elif isinstance(value, list):
            stack.extend((v, f"{path}[{i}]") for i, v in enumerate(value) if isinstance(v, (dict, list)))
    return None


def _text(value: str, where: str) -> str:
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise _Invalid(where, "expected text, got a lone surrogate (\\ud800-\\udfff) that no file or "
                       "terminal can hold") from None
    return value


def _free(value: Any, where: str) -> Any:
    """A free-form value (a fact, an unknown field): JSON that every writer can write back."""
    stack = [(value, where, 0)]
    while stack:
        v, path, depth = stack.pop()
        if depth > MAX_FREE_DEPTH:
            raise _Invalid(where, f"expected at most {MAX_FREE_DEPTH} levels of nesting")
        if isinstance(v, _NonFinite):
            raise _Invalid(path, f"expected JSON, got {v.text} (not a number JSON can hold)")
        if isinstance(v, str):
            _text(v, path)
        elif isinstance(v, dict):
            for k, item in v.items():
                _text(k, f"{path}.{k!r}")
                stack.append((item, f"{path}.{k}", depth + 1))
        elif isinstance(v, list):
            stack.extend((item, f"{path}[{i}]", depth + 1) for i, item in enumerate(v))
    return value


def _extra(d: Mapping, known: set[str], path: str) -> dict:
    return {k: _free(v, f"{path}.{k}" if path else k) for k, v in d.items() if k not in known}


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
    return _text(value, where)


def _num(value: Any, where: str, lo: float = -MAX_MAGNITUDE, hi: float = MAX_MAGNITUDE) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not lo <= value <= hi:
        raise _Invalid(where, f"expected a finite number from {lo:g} to {hi:g}, got {_describe(value)}")
    return value


def _int(value: Any, where: str, hi: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= hi:
        raise _Invalid(where, f"expected an integer from 0 to {hi:,}, got {_describe(value)}")
    return value


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
    builds the Poisson test over the count and divides by the windows)."""
    if extra.get("counter") is not True:
        return _num(value, f"{path}.value")
    if "window_s" in extra:
        window = _num(extra["window_s"], f"{path}.window_s", 0, WINDOW_S[1])
        if 0 < window < WINDOW_S[0]:
            raise _Invalid(f"{path}.window_s", f"expected 0 (unknown) or at least {WINDOW_S[0]:g} s, got {window!r}")
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
            extra = _extra(d, {"schema", "label", "taken_at", "host", "tool_version", "results"}, "")
        except _Invalid as exc:
            raise InputFileError(source, exc.expected, field=exc.field_path) from None
        return cls(label, taken_at, host, tool_version, results, extra)

    @classmethod
    def from_json(cls, text: str, source: str = "<snapshot>") -> "Snapshot":
        if len(text) > MAX_SNAPSHOT_BYTES:
            raise InputFileError(source, f"larger than {MAX_SNAPSHOT_BYTES // (1024 * 1024)} MiB, the limit "
                                 "for a snapshot")
        objects = _Objects()
        try:
            data = json.loads(text, object_pairs_hook=objects, parse_constant=_NonFinite)
        except json.JSONDecodeError as exc:
            raise InputFileError(source, f"not valid JSON ({exc.msg}, line {exc.lineno} column {exc.colno});"
                                 " truncated or not a snapshot", line=None) from None
        except RecursionError:
            raise InputFileError(source, "not a snapshot: nested too deep to read") from None
        except ValueError as exc:  # an integer of more than 4,300 digits
            raise InputFileError(source, f"not a snapshot: {exc}") from None
        duplicate = _locate_duplicate(data) if objects.duplicated else None
        if duplicate:
            where, key = duplicate
            raise InputFileError(source, "appears twice in one object: which one counts is ambiguous",
                                 field=f"{where}.{key}" if where else key)
        return cls.from_dict(data, source)

    @classmethod
    def load(cls, path: str) -> "Snapshot":
        return cls.from_json(read_input(path, "snapshot JSON", MAX_SNAPSHOT_BYTES), path)


def utc_now() -> str:
    """A snapshot's ``taken_at``: UTC, whole seconds, ``Z``."""
    import datetime as dt

    return dt.datetime.now(dt.timezone.utc).replace(microsecond=0).isoformat().replace("+00:00", "Z")


def metric_key(result: ProbeResult, measurement: Measurement) -> tuple[str, str, str, str]:
    """The identity of a metric across snapshots: (layer, probe, target, metric)."""
    return (result.layer, result.probe, result.target, measurement.metric)
