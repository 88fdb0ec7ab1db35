"""Acknowledged regressions (``--acks acks.yaml``): regressions a team has already filed, so a
gate fails only on what is new.

    acks:
      - match: "dns.*"              # glob on layer.probe.target.metric, as in budgets
        label: "4.3.19"             # the candidate label it applies to (or labels: [..]; globs)
        reason: "slower DNS on 4.3.19, fix in 4.3.20"
        ticket: OCPBUGS-1234        # optional
        expires: 2026-12-31         # optional; the last day it applies
        accepted: 40%               # optional; the largest regression it accepts: relative to the
                                    # baseline (40%) or in the metric's own unit (2.5)

This module reads the file; which regression an ack covers, and whether it is larger than the
ack accepted, is decided by the judge (triage.judge.acknowledge), which records the outcome on
the metric as an ``Acknowledgement``.
"""

from __future__ import annotations

import datetime as dt
import fnmatch
from dataclasses import dataclass
from typing import Any, Mapping

_KEYS = ("match", "label", "labels", "reason", "ticket", "expires", "accepted")


@dataclass(frozen=True)
class Ack:
    """One entry of an acks file, as written (``source`` is file:line)."""

    match: str
    labels: tuple[str, ...]
    reason: str
    ticket: str | None = None
    expires: str | None = None  # ISO date, the last day the ack applies
    accepted: str | None = None  # as written: "40%" (relative) or "2.5" (the metric's unit)
    source: str = ""

    def applies_to(self, metric_id: str, label: str) -> bool:
        return fnmatch.fnmatchcase(metric_id, self.match) and any(fnmatch.fnmatchcase(label, g) for g in self.labels)

    def expired(self, today: dt.date) -> bool:
        return self.expires is not None and today > dt.date.fromisoformat(self.expires)

    def accepted_size(self) -> tuple[float | None, float | None]:
        """(relative, absolute): the largest regression accepted; (None, None) when any size is."""
        if self.accepted is None:
            return None, None
        if self.accepted.endswith("%"):
            return float(self.accepted[:-1]) / 100, None
        return None, float(self.accepted)

    def to_dict(self) -> dict[str, Any]:
        return {"match": self.match, "labels": list(self.labels), "reason": self.reason, "ticket": self.ticket,
                "expires": self.expires, "accepted": self.accepted, "source": self.source}

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> "Ack":
        return cls(str(d["match"]), tuple(str(x) for x in d.get("labels") or ()), str(d.get("reason", "")),
                   d.get("ticket"), d.get("expires"), d.get("accepted"), str(d.get("source", "")))


@dataclass(frozen=True)
class Acknowledgement:
    """An ack that matched a regressed metric, and what came of it: ``acknowledged`` (the
    regression does not fail the verdict), ``expired`` or ``exceeded`` (larger than the ack
    accepted): both of these fail as a new regression would. ``note`` says why, in words."""

    ack: Ack
    status: str
    note: str = ""

    @property
    def holds(self) -> bool:
        return self.status == "acknowledged"

    def describe(self) -> str:
        """'slower DNS on 4.3.19, fix in 4.3.20 (OCPBUGS-1234, until 2026-12-31)'."""
        extras = [x for x in (self.ack.ticket, self.ack.expires and f"until {self.ack.expires}") if x]
        return self.ack.reason + (f" ({', '.join(extras)})" if extras else "")

    def to_dict(self) -> dict[str, Any]:
        return {"status": self.status, "note": self.note, **self.ack.to_dict()}

    @classmethod
    def from_dict(cls, d: Mapping[str, Any] | None) -> "Acknowledgement | None":
        if d is None:
            return None
        return cls(Ack.from_dict(d), str(d.get("status", "acknowledged")), str(d.get("note", "")))


@dataclass(frozen=True)
class Acks:
    source: str | None = None
    entries: tuple[Ack, ...] = ()


NO_ACKS = Acks()


def _accepted(r: Any, value: Any, path: str) -> str:
    """"40%" (relative to the baseline) or a non-negative number in the metric's unit."""
    expected = "expected a size like 40% (of the baseline) or 2.5 (in the metric's unit)"
    if isinstance(value, str) and value.strip().endswith("%"):
        try:
            number = float(value.strip()[:-1])
        except ValueError:
            raise r.fail(path, f"{expected}, got {value!r}") from None
        if not 0 <= number < float("inf"):
            raise r.fail(path, f"{expected}, got {value!r}")
        return f"{number:g}%"
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value < float("inf"):
        raise r.fail(path, f"{expected}, got {value!r}")
    return f"{value:g}"


def _expires(r: Any, value: Any, path: str) -> str:
    # YAML reads 2026-12-31 as a date; a quoted "2026-12-31" is a string: both are fine.
    if isinstance(value, dt.datetime):
        value = value.date()
    if isinstance(value, str):
        try:
            value = dt.date.fromisoformat(value.strip())
        except ValueError:
            pass
    if not isinstance(value, dt.date):
        raise r.fail(path, f"expected a date like 2026-12-31, got {value!r}")
    return value.isoformat()


def _label(r: Any, value: Any, path: str) -> str:
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        # YAML reads 4.10 as the number 4.1: a label must be written as it is stored.
        raise r.fail(path, f"expected a label as text; quote it (\"{value}\") so YAML keeps it as written")
    return r.string(value, path)


def parse_acks(text: str, source: str) -> Acks:
    from .yamlfile import read_yaml

    data, r = read_yaml(text, source)
    top = r.mapping(data, "", ("acks",))
    raw = top.get("acks")
    if not isinstance(raw, list):
        raise r.fail("acks", f"expected a list of acks ({{match: glob, label: LABEL, reason: ...}}), got {raw!r}")
    entries = []
    for i, item in enumerate(raw):
        path = f"acks[{i}]"
        d = r.mapping(item, path, _KEYS)
        for key in ("match", "reason"):
            if key not in d:
                example = "a glob on layer.probe.target.metric, e.g. dns.*" if key == "match" else \
                    "why this regression is accepted, e.g. 'slower DNS on 4.3.19, fix in 4.3.20'"
                raise r.fail(f"{path}.{key}", f"required: {example}")
        if ("label" in d) == ("labels" in d):
            raise r.fail(path, "expected exactly one of label (the candidate label it applies to) or labels (a list)")
        if "label" in d:
            labels = (_label(r, d["label"], f"{path}.label"),)
        else:
            raw_labels = d["labels"] if isinstance(d["labels"], list) else [d["labels"]]
            labels = tuple(_label(r, x, f"{path}.labels[{j}]") for j, x in enumerate(raw_labels))
        if not labels:
            raise r.fail(f"{path}.labels", "expected at least one label")
        entries.append(Ack(
            r.string(d["match"], f"{path}.match"), labels, r.string(d["reason"], f"{path}.reason"),
            None if d.get("ticket") is None else r.string(str(d["ticket"]), f"{path}.ticket"),
            None if "expires" not in d else _expires(r, d["expires"], f"{path}.expires"),
            None if "accepted" not in d else _accepted(r, d["accepted"], f"{path}.accepted"),
            f"{source}:{r.lines.get(path, '?')}"))
    return Acks(source, tuple(entries))


def load_acks(path: str | None) -> Acks:
    if path is None:
        return NO_ACKS
    from .fileio import read_input

    return parse_acks(read_input(path, "acks YAML"), path)
