"""The comparison JSON's vocabulary and shape, checked before ``Comparison.from_dict`` builds
anything from a saved comparison (`triage report cmp.json`).

A saved comparison is outside input like a snapshot: hand-edited, truncated, or made by
someone else. Issue 16: `"verdict": "Regressed"` re-rendered with exit 0 while its JUnit said
failures="1", and 128 of 1,000 mutated comparisons crashed. So every field the constructors
read is checked here, by the snapshot loader's rules (triage.strictjson: no duplicate keys,
no NaN/Infinity, no lone surrogates, bounded nesting), and refused as InputFileError (exit 2)
naming the file and the field: verdicts, statuses, kinds and roles from their known sets;
strict types (``"ruled_out": "no"`` is no bool: ``bool("no")`` is True); numbers finite and
within ``MAX_NUMBER``; counts within ``MAX_COUNT``; lists within their limits; ``lead`` an
index of its components. Fields we do not read (newer additions, derived ``counts``) need
only be JSON that every writer can write back. Whether the verdict agrees with its metrics is
checked on the built Comparison (verdict.py), where "regressed" means what the judge meant.
"""

from __future__ import annotations

from typing import Any, Callable, Mapping

from .errors import InputFileError
from .layers import LAYERS
from .model import BETTER, KINDS
from .strictjson import Invalid, MAX_FREE_DEPTH, describe, free, integer, join, number, required, string

SCHEMA = "triage.comparison/v1"

VERDICTS = ("regressed", "ok", "inconclusive")
LAYER_STATUSES = ("regressed", "failed", "inconclusive", "improved", "ok", "absent")
METRIC_VERDICTS = ("regressed", "failed", "inconclusive", "absent", "improved", "changed", "unchanged", "ignored")
ROLES = ("root", "downstream")
EVIDENCE_KINDS = ("regressed", "changed")

# Renderers scale rates by 100 and add intervals: 1e300 leaves them room (1.7e308 × 100 is
# inf); a snapshot's values are within 1e15, so no honest comparison comes near it.
MAX_NUMBER = 1e300
MAX_COUNT = 10**15  # samples, events, trials, runs: the snapshot loader's MAX_TRIALS
# A fleet of 500 nodes with 40 metrics each is 20,000 rows; 100,000 render in a few seconds.
MAX_METRICS = 100_000
MAX_COMPONENTS = 64  # a samples metric has six (median, four tails, a rate)
MAX_ITEMS = 100_000  # runs per side (labels, hosts, times), failures, evidence, commands
# Free values sit a few levels below the top (metrics[i].components[j].baseline[k]).
MAX_DEPTH = MAX_FREE_DEPTH + 8

_P = (0.0, 1.0)  # p-values, q-values, alpha, rates


def _object(value: Any, where: str) -> Mapping[str, Any]:
    if not isinstance(value, dict):
        raise Invalid(where, f"expected an object, got {describe(value)}")
    return value


def _list(d: Mapping, key: str, path: str, limit: int, *, needed: bool = False) -> list:
    where = join(path, key)
    value = required(d, key, path) if needed else d.get(key)
    if value is None and not needed:
        return []
    if not isinstance(value, list):
        raise Invalid(where, f"expected a list, got {describe(value)}")
    if len(value) > limit:
        raise Invalid(where, f"expected at most {limit:,} items, got {len(value):,}")
    return value


def _strings(d: Mapping, key: str, path: str, choices: tuple[str, ...] = ()) -> None:
    for i, item in enumerate(_list(d, key, path, MAX_ITEMS)):
        _item_string(item, f"{join(path, key)}[{i}]", choices)


def _item_string(value: Any, where: str, choices: tuple[str, ...] = ()) -> None:
    if not isinstance(value, str):
        raise Invalid(where, f"expected a string, got {describe(value)}")
    if choices and value not in choices:
        raise Invalid(where, f"expected one of {', '.join(choices)}, got {describe(value)}")


def _num(d: Mapping, key: str, path: str, lo: float = -MAX_NUMBER, hi: float = MAX_NUMBER) -> None:
    if d.get(key) is not None:
        number(d[key], join(path, key), lo, hi)


def _count(d: Mapping, key: str, path: str, hi: int = MAX_COUNT) -> None:
    if d.get(key) is not None:
        integer(d[key], join(path, key), hi)


def _bool(d: Mapping, key: str, path: str) -> None:
    if d.get(key) is not None and not isinstance(d[key], bool):
        raise Invalid(join(path, key), f"expected true or false, got {describe(d[key])}")


def _pair(d: Mapping, key: str, path: str, *, open_ends: bool = False) -> None:
    """An interval: null, or [low, high] (with ``open_ends``, either end may be null)."""
    value = d.get(key)
    if value is None:
        return
    where = join(path, key)
    if not isinstance(value, list) or len(value) != 2:
        raise Invalid(where, f"expected [low, high], got {describe(value)}")
    for i, end in enumerate(value):
        if end is not None or not open_ends:
            number(end, f"{where}[{i}]", -MAX_NUMBER, MAX_NUMBER)


def _each(d: Mapping, key: str, path: str, limit: int, check: Callable[[Any, str], None], *,
          needed: bool = False) -> None:
    for i, item in enumerate(_list(d, key, path, limit, needed=needed)):
        check(item, f"{join(path, key)}[{i}]")


def _side_summary(value: Any, where: str) -> None:
    if value is None:
        return
    d = _object(value, where)
    for key in ("runs", "n", "events", "trials"):
        _count(d, key, where)
    for key in ("mean", "p50", "p95", "p99"):
        _num(d, key, where)
    _num(d, "rate", where, *_P)
    _list(d, "values", where, MAX_ITEMS)
    groups = d.get("groups")
    if groups is not None:
        g = _object(groups, join(where, "groups"))
        _count(g, "count", join(where, "groups"))
        _pair(g, "p50_range", join(where, "groups"), open_ends=True)


def _component(value: Any, where: str) -> None:
    d = _object(value, where)
    string(d, "name", where)
    for key in ("change", "relative", "design_effect"):
        _num(d, key, where)
    for key in ("p", "p_adjusted", "q", "p_better", "p_better_adjusted"):
        _num(d, key, where, *_P)
    _pair(d, "ci", where)
    for key in ("practical", "practical_better", "ruled_out"):
        _bool(d, key, where)
    string(d, "verdict", where, optional=True, choices=METRIC_VERDICTS)
    string(d, "note", where, optional=True)
    string(d, "method", where, optional=True)


def _metric(value: Any, where: str) -> None:
    d = _object(value, where)
    string(d, "layer", where, choices=LAYERS)
    for key in ("probe", "target", "metric"):
        string(d, key, where)
    string(d, "kind", where, choices=KINDS)
    string(d, "unit", where, optional=True)
    string(d, "better", where, optional=True, choices=BETTER)
    string(d, "verdict", where, choices=METRIC_VERDICTS)
    string(d, "reason", where, optional=True)
    _side_summary(d.get("baseline"), join(where, "baseline"))
    _side_summary(d.get("candidate"), join(where, "candidate"))
    components = _list(d, "components", where, MAX_COMPONENTS)
    for i, c in enumerate(components):
        _component(c, f"{join(where, 'components')}[{i}]")
    if d.get("lead") is not None:
        if not components:
            raise Invalid(join(where, "lead"), f"expected null (there are no components), got {describe(d['lead'])}")
        lead = integer(d["lead"], join(where, "lead"), len(components) - 1)
        if d["kind"] != "fact" and components[lead].get("change") is None:
            # The renderers show the lead's change for every kind but facts.
            raise Invalid(f"{join(where, 'components')}[{lead}].change",
                          "expected a number: the lead component of a measured metric has a change")
    floors = d.get("floors")
    if floors is not None:
        f = _object(floors, join(where, "floors"))
        _num(f, "relative", join(where, "floors"))
        _num(f, "absolute", join(where, "floors"))
        string(f, "source", join(where, "floors"), optional=True)
    for key in ("ruled_out", "primary"):
        _bool(d, key, where)


def _failure(value: Any, where: str) -> None:
    d = _object(value, where)
    string(d, "layer", where, choices=LAYERS)
    string(d, "probe", where)
    string(d, "target", where)
    string(d, "error", where, optional=True)
    _count(d, "runs", where)
    _count(d, "of_runs", where)
    _bool(d, "blocking", where)


def _side_info(value: Any, where: str) -> None:
    d = _object(value, where)
    string(d, "spec", where, optional=True)
    string(d, "source", where, optional=True)
    for key in ("labels", "hosts", "taken_at"):
        _strings(d, key, where)
    _count(d, "runs", where)
    _each(d, "failures", where, MAX_ITEMS, _failure)


def _evidence(value: Any, where: str) -> None:
    d = _object(value, where)
    string(d, "metric", where)
    string(d, "kind", where, choices=EVIDENCE_KINDS)
    string(d, "text", where)


def _suspect(value: Any, where: str) -> None:
    d = _object(value, where)
    string(d, "layer", where, choices=LAYERS)
    string(d, "role", where, choices=ROLES)
    string(d, "because", where)
    _each(d, "evidence", where, MAX_ITEMS, _evidence)
    _strings(d, "downstream_of", where, LAYERS)


def _mapping(d: Mapping, key: str, path: str, keys: tuple[str, ...], values: tuple[str, ...] = (), *,
             needed: bool = False) -> None:
    where = join(path, key)
    value = required(d, key, path) if needed else d.get(key)
    if value is None and not needed:
        return
    for k, v in _object(value, where).items():
        _item_string(k, f"{where} key", keys)
        _item_string(v, join(where, k), values)


def check_comparison(d: Any, source: str) -> None:
    """Refuse (InputFileError naming ``source`` and the field) a comparison the renderers and
    ``Comparison.from_dict`` could not take as it is."""
    try:
        if not isinstance(d, dict):
            raise Invalid("(top level)", f"expected a JSON object, got {describe(d)}")
        if d.get("schema") != SCHEMA:
            raise Invalid("schema", f"expected {SCHEMA}, got {describe(d.get('schema'))} (not a triage comparison, "
                          "or from a newer triage)")
        free(d, "(top level)", MAX_DEPTH)  # depth, NaN, surrogates anywhere, read or not
        string(d, "verdict", "", choices=VERDICTS)
        string(d, "reason", "", optional=True)
        string(d, "budget", "", optional=True)
        _num(d, "alpha", "", *_P)
        _count(d, "tests", "")
        _count(d, "primary_tests", "")
        _side_info(required(d, "baseline", ""), "baseline")
        _side_info(required(d, "candidate", ""), "candidate")
        _mapping(d, "layers", "", LAYERS, LAYER_STATUSES, needed=True)
        _mapping(d, "layer_notes", "", LAYERS)
        _each(d, "suspects", "", len(LAYERS) * 2, _suspect)
        _each(d, "metrics", "", MAX_METRICS, _metric, needed=True)
        _strings(d, "commands", "")
    except Invalid as exc:
        raise InputFileError(source, exc.expected, field=exc.field_path) from None
