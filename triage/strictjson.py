"""JSON as triage reads and writes it, strictly: the rules every JSON format of ours (snapshots,
comparisons) shares, in one place.

Reading (``loads``) refuses, as InputFileError (exit 2) naming the file and the field, what
Python's json would accept and the engine could not handle: a file over its size limit,
duplicate keys (which one counts is ambiguous: the last one won, even ``schema``), NaN and
±Infinity (not JSON; they parse to ``NonFinite`` so every field check refuses them by type),
integers of 4,300+ digits and nesting the parser cannot recurse through. The field readers
(``required``, ``string``, ``number``, ``integer``, ``free``) check one field each and raise
``Invalid`` with its dotted path; the format's own loader turns that into InputFileError.

Writing (``dumps``): sorted keys, compact (with ``indent`` json falls back to its slow
pure-Python encoder: 0.5 s for 2,000 metrics; ``| jq .`` makes it readable), ASCII (no raw
control character, C1 code or bidi override reaches a file or a terminal: each is a ``\\u``
escape), and never NaN or Infinity: a ValueError there is a bug upstream, never a file that
triage would then refuse to read back.
"""

from __future__ import annotations

import json
import math
from typing import Any, Iterable, Mapping

from .errors import InputFileError

MAX_FREE_DEPTH = 32  # facts and unknown fields; real snapshots nest 6 deep in all


class Invalid(Exception):
    """A field that failed its check: the dotted field path and what was expected."""

    def __init__(self, field_path: str, expected: str):
        self.field_path = field_path
        self.expected = expected
        super().__init__(f"{field_path}: {expected}")


class NonFinite:
    """What NaN/Infinity parse to: not a number, so every check refuses it by type."""

    def __init__(self, text: str):
        self.text = text

    def __repr__(self) -> str:
        return self.text


class _Duplicated(dict):
    """A JSON object that had a key twice; ``duplicate`` names it (found by _locate_duplicate)."""

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


def loads(text: str, source: str, what: str, max_bytes: int) -> Any:
    """``text`` parsed by the rules above; ``what`` names the format in errors ("a snapshot")."""
    if len(text) > max_bytes:
        raise InputFileError(source, f"larger than {max_bytes // (1024 * 1024)} MiB, the limit for {what}")
    objects = _Objects()
    try:
        data = json.loads(text, object_pairs_hook=objects, parse_constant=NonFinite)
    except json.JSONDecodeError as exc:
        raise InputFileError(source, f"not valid JSON ({exc.msg}, line {exc.lineno} column {exc.colno});"
                             f" truncated or not {what}") from None
    except RecursionError:
        raise InputFileError(source, f"not {what}: nested too deep to read") from None
    except ValueError as exc:  # an integer of more than 4,300 digits
        raise InputFileError(source, f"not {what}: {exc}") from None
    duplicate = _locate_duplicate(data) if objects.duplicated else None
    if duplicate:
        where, key = duplicate
        raise InputFileError(source, "appears twice in one object: which one counts is ambiguous",
                             field=f"{where}.{key}" if where else key)
    return data


def dumps(data: Any) -> str:
    """``data`` as one line of JSON by the writing rules above, newline-terminated."""
    return json.dumps(data, sort_keys=True, separators=(",", ":"), allow_nan=False) + "\n"


# ---------------------------------------------------------------- field readers


def describe(value: Any) -> str:
    """A value for an error message: its repr (control characters escaped), cut at 40."""
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def join(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


def text(value: str, where: str) -> str:
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise Invalid(where, "expected text, got a lone surrogate (\\ud800-\\udfff) that no file or "
                      "terminal can hold") from None
    return value


def free(value: Any, where: str, max_depth: int = MAX_FREE_DEPTH) -> Any:
    """A free-form value (a fact, an unknown field): JSON that every writer can write back."""
    stack = [(value, where, 0)]
    while stack:
        v, path, depth = stack.pop()
        if depth > max_depth:
            raise Invalid(where, f"expected at most {max_depth} levels of nesting")
        if isinstance(v, NonFinite) or (isinstance(v, float) and not math.isfinite(v)):
            raise Invalid(path, f"expected JSON, got {v!r} (not a number JSON can hold)")
        if isinstance(v, str):
            text(v, path)
        elif isinstance(v, dict):
            for k, item in v.items():
                text(k, f"{path}.{k!r}")
                stack.append((item, f"{path}.{k}", depth + 1))
        elif isinstance(v, (list, tuple)):
            stack.extend((item, f"{path}[{i}]", depth + 1) for i, item in enumerate(v))
    return value


def required(d: Mapping, key: str, path: str) -> Any:
    if key not in d:
        raise Invalid(join(path, key), "required field is missing")
    return d[key]


def string(d: Mapping, key: str, path: str, *, optional: bool = False, choices: Iterable[str] = ()) -> Any:
    """``d[key]`` as text (None when ``optional`` and absent or null), one of ``choices`` if given."""
    where = join(path, key)
    if optional and d.get(key) is None:
        return None
    value = required(d, key, path)
    if not isinstance(value, str):
        raise Invalid(where, f"expected a string, got {describe(value)}")
    choices = tuple(choices)
    if choices and value not in choices:
        raise Invalid(where, f"expected one of {', '.join(choices)}, got {describe(value)}")
    return text(value, where)


def number(value: Any, where: str, lo: float, hi: float) -> float:
    """A finite number from ``lo`` to ``hi`` (a bool is none; NaN fails the range)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not lo <= value <= hi:
        raise Invalid(where, f"expected a finite number from {lo:g} to {hi:g}, got {describe(value)}")
    return value


def integer(value: Any, where: str, hi: int, lo: int = 0) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not lo <= value <= hi:
        raise Invalid(where, f"expected an integer from {lo:,} to {hi:,}, got {describe(value)}")
    return value
