"""DNS fault profiles: what the embedded server does wrong, and how the client is set up.

A profile is a comma list of ``key[=value]`` items, e.g. ``delay=3ms,jitter=1ms,drop=2%:AAAA``,
or a YAML file (``*.yaml``/``*.yml``, or any existing file) mapping the same keys to values.
``healthy`` (or an empty spec) is no fault at all. Durations take ``us``, ``ms`` or ``s``
(a bare number is milliseconds); rates take ``%`` (a bare number is a percentage).

Server faults:
  delay=3ms              every reply is sent this much later (scheduled, never blocking)
  jitter=1ms             extra delay, normal with this standard deviation (clipped at 0)
  jitter=pareto:1ms      extra delay, Pareto (shape 1.5: a heavy tail) with this mean
  drop=2%[:AAAA]         drop this share of queries, of one qtype only if given (repeatable)
  aaaa-blackhole         never answer AAAA queries
  search-nxdomain[=20ms] NXDOMAIN for names under a search suffix that are not configured
                         names, optionally that much slower (the ndots:5 cost)
  servfail=5%            answer SERVFAIL to this share
  truncate[=50%]         set TC on UDP replies (all, or this share), forcing a TCP retry
  overload=64[:servfail] at most this many replies in flight; the excess is dropped
                         (default) or answered SERVFAIL
  clash[=5ms][:50%]      drop a query arriving from the same source address and port within
                         the window (default 5 ms) after another: the conntrack race that
                         turns glibc's parallel A/AAAA into a resolver-timeout stall
  neg-ttl=30s            TTL of negative answers (SOA minimum), default 30 s
  cold-cache[=50ms]      the first query for a (name, qtype) is this much slower
  seed=42                seed the fault RNG, so drops and jitter repeat run to run

Client side (the generated resolv.conf and the wire stub follow these):
  ndots=5  search=a.svc.cluster.local:svc.cluster.local:cluster.local  timeout=1s  attempts=2
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, replace
from typing import Any, Mapping

from triage.errors import BadInput

from .spec import read_fields

HEALTHY = "healthy"
DEFAULT_SEARCH = ("quay.svc.cluster.local", "svc.cluster.local", "cluster.local")
DEFAULT_NDOTS = 5
# glibc's default is 5 s; 1 s keeps a stalled lookup visible without making runs crawl.
DEFAULT_TIMEOUT_S = 1
DEFAULT_ATTEMPTS = 2
DEFAULT_NEG_TTL_S = 30
DEFAULT_CLASH_WINDOW_MS = 5.0
DEFAULT_COLD_CACHE_MS = 50.0
PARETO_SHAPE = 1.5

QTYPES = ("A", "AAAA", "CNAME", "MX", "NS", "PTR", "SOA", "SRV", "TXT", "ANY")


@dataclass(frozen=True)
class DropRule:
    rate: float  # 0..1
    qtype: str | None = None  # None: every qtype

    def describe(self) -> str:
        return f"drop={_pct(self.rate)}" + (f":{self.qtype}" if self.qtype else "")


@dataclass(frozen=True)
class FaultProfile:
    """A parsed profile. ``spec`` is the text it came from (its label in reports)."""

    spec: str = HEALTHY
    delay_ms: float = 0.0
    jitter_ms: float = 0.0
    jitter_dist: str = "normal"  # normal | pareto
    drops: tuple[DropRule, ...] = ()
    aaaa_blackhole: bool = False
    search_nxdomain: bool = False
    search_nxdomain_ms: float = 0.0
    servfail_rate: float = 0.0
    truncate_rate: float = 0.0
    overload_max: int | None = None
    overload_action: str = "drop"  # drop | servfail
    clash_window_ms: float | None = None
    clash_rate: float = 1.0
    neg_ttl_s: int = DEFAULT_NEG_TTL_S
    cold_cache_ms: float | None = None
    seed: int | None = None
    # client side
    ndots: int = DEFAULT_NDOTS
    search: tuple[str, ...] = DEFAULT_SEARCH
    timeout_s: int = DEFAULT_TIMEOUT_S
    attempts: int = DEFAULT_ATTEMPTS

    @property
    def healthy(self) -> bool:
        """No server fault at all (client settings do not count)."""
        return self.faults() == ()

    def faults(self) -> tuple[str, ...]:
        """The active server faults in canonical spec form."""
        out: list[str] = []
        if self.delay_ms:
            out.append(f"delay={_ms(self.delay_ms)}")
        if self.jitter_ms:
            out.append(f"jitter={'pareto:' if self.jitter_dist == 'pareto' else ''}{_ms(self.jitter_ms)}")
        out.extend(rule.describe() for rule in self.drops)
        if self.aaaa_blackhole:
            out.append("aaaa-blackhole")
        if self.search_nxdomain:
            out.append("search-nxdomain" + (f"={_ms(self.search_nxdomain_ms)}" if self.search_nxdomain_ms else ""))
        if self.servfail_rate:
            out.append(f"servfail={_pct(self.servfail_rate)}")
        if self.truncate_rate:
            out.append("truncate" + ("" if self.truncate_rate >= 1 else f"={_pct(self.truncate_rate)}"))
        if self.overload_max is not None:
            out.append(f"overload={self.overload_max}" + (":servfail" if self.overload_action == "servfail" else ""))
        if self.clash_window_ms is not None:
            out.append(f"clash={_ms(self.clash_window_ms)}" + ("" if self.clash_rate >= 1 else f":{_pct(self.clash_rate)}"))
        if self.cold_cache_ms is not None:
            out.append(f"cold-cache={_ms(self.cold_cache_ms)}")
        return tuple(out)

    def to_dict(self) -> dict[str, Any]:
        """Plain data, to hand the profile to a child process as JSON."""
        d = {name: getattr(self, name) for name in self.__dataclass_fields__}
        d["drops"] = [[rule.rate, rule.qtype] for rule in self.drops]
        d["search"] = list(self.search)
        return d

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> "FaultProfile":
        fields = {k: v for k, v in d.items() if k in cls.__dataclass_fields__}
        fields["drops"] = tuple(DropRule(rate, qtype) for rate, qtype in d.get("drops", ()))
        fields["search"] = tuple(d.get("search", DEFAULT_SEARCH))
        return cls(**fields)

    def resolv_conf(self, nameserver: str = "127.0.0.1") -> str:
        """The resolv.conf a client of this profile uses (the libc path bind-mounts it)."""
        lines = [f"nameserver {nameserver}"]
        if self.search:
            lines.append("search " + " ".join(self.search))
        lines.append(f"options ndots:{self.ndots} timeout:{self.timeout_s} attempts:{self.attempts}")
        return "\n".join(lines) + "\n"


def _ms(value: float) -> str:
    return f"{value:g}ms"


def _pct(rate: float) -> str:
    return f"{rate * 100:g}%"


_DURATION = re.compile(r"^\s*([0-9]*\.?[0-9]+(?:[eE][-+]?[0-9]+)?)\s*(us|µs|ms|s)?\s*$")


def _duration_ms(text: Any, key: str) -> float:
    if isinstance(text, bool):
        raise BadInput(f"profile: {key}: expected a duration like 3ms, got {text!r}")
    if isinstance(text, (int, float)):
        value, unit = float(text), "ms"
    else:
        m = _DURATION.match(str(text))
        if not m:
            raise BadInput(f"profile: {key}: expected a duration like 3ms, 500us or 1s, got {text!r}")
        value, unit = float(m.group(1)), m.group(2) or "ms"
    scale = {"us": 0.001, "µs": 0.001, "ms": 1.0, "s": 1000.0}[unit]
    result = value * scale
    if not math.isfinite(result) or result < 0 or result > 600_000:
        raise BadInput(f"profile: {key}: expected a duration between 0 and 600s, got {text!r}")
    return result


def _rate(text: Any, key: str) -> float:
    raw = str(text).strip()
    number = raw[:-1] if raw.endswith("%") else raw
    try:
        value = float(number)
    except ValueError:
        raise BadInput(f"profile: {key}: expected a percentage like 2%, got {text!r}") from None
    if not math.isfinite(value) or not 0 <= value <= 100:
        raise BadInput(f"profile: {key}: expected a percentage between 0% and 100%, got {text!r}")
    return value / 100.0


def _int(text: Any, key: str, low: int, high: int, what: str) -> int:
    raw = str(text).strip()
    if key in ("timeout", "neg-ttl") and raw.endswith("s"):
        raw = raw[:-1]
    try:
        value = int(raw)
    except ValueError:
        raise BadInput(f"profile: {key}: expected {what}, got {text!r}") from None
    if not low <= value <= high:
        raise BadInput(f"profile: {key}: expected {what} between {low} and {high}, got {text!r}")
    return value


def _qtype(text: str, key: str) -> str:
    qtype = text.strip().upper()
    if qtype not in QTYPES:
        raise BadInput(f"profile: {key}: unknown qtype {text!r}; expected one of {', '.join(QTYPES)}")
    return qtype


_LABEL = re.compile(r"^(?!-)[A-Za-z0-9_-]{1,63}(?<!-)$")


def _domains(value: Any, key: str) -> tuple[str, ...]:
    parts = value if isinstance(value, (list, tuple)) else str(value).split(":")
    out = []
    for part in parts:
        name = str(part).strip().rstrip(".")
        if not name:
            continue
        if len(name) > 253 or not all(_LABEL.match(label) for label in name.split(".")):
            raise BadInput(f"profile: {key}: {part!r} is not a domain name")
        out.append(name.lower())
    if len(out) > 6:
        raise BadInput(f"profile: {key}: at most 6 search domains (glibc's limit), got {len(out)}")
    return tuple(out)


def _flag(value: Any, key: str) -> bool:
    if value is None or value is True:
        return True
    if value is False:
        return False
    text = str(value).strip().lower()
    if text in ("", "true", "yes", "on", "1"):
        return True
    if text in ("false", "no", "off", "0"):
        return False
    raise BadInput(f"profile: {key}: takes no value (or true/false), got {value!r}")


def _apply(fields: dict[str, Any], key: str, value: Any) -> None:
    """Fold one ``key[=value]`` into ``fields`` (value None: the key was given bare)."""
    k = key.strip().lower().replace("_", "-")

    def need() -> Any:
        if value is None or (isinstance(value, str) and not value.strip()):
            raise BadInput(f"profile: {k}: needs a value, e.g. {_EXAMPLES.get(k, k + '=...')}")
        return value

    if k == "delay":
        fields["delay_ms"] = _duration_ms(need(), k)
    elif k == "jitter":
        raw = str(need()).strip()
        dist, _, amount = raw.partition(":") if ":" in raw else ("normal", "", raw)
        dist = dist.strip().lower()
        if dist not in ("normal", "pareto"):
            raise BadInput(f"profile: jitter: expected normal or pareto before ':', got {dist!r}")
        fields["jitter_ms"] = _duration_ms(amount, k)
        fields["jitter_dist"] = dist
    elif k == "drop":
        rules = need()
        for rule in rules if isinstance(rules, (list, tuple)) else [rules]:
            rate, _, qtype = str(rule).partition(":")
            fields.setdefault("drops", []).append(DropRule(_rate(rate, k), _qtype(qtype, k) if qtype else None))
    elif k == "aaaa-blackhole":
        fields["aaaa_blackhole"] = _flag(value, k)
    elif k == "search-nxdomain":
        if value is None or isinstance(value, bool):
            fields["search_nxdomain"] = value is not False
        else:
            fields["search_nxdomain"] = True
            fields["search_nxdomain_ms"] = _duration_ms(value, k)
    elif k == "servfail":
        fields["servfail_rate"] = _rate(need(), k)
    elif k == "truncate":
        if value is None or isinstance(value, bool):
            fields["truncate_rate"] = 0.0 if value is False else 1.0
        else:
            fields["truncate_rate"] = _rate(value, k)
    elif k == "overload":
        limit, _, action = str(need()).partition(":")
        fields["overload_max"] = _int(limit, k, 1, 1_000_000, "a maximum number of replies in flight")
        action = action.strip().lower() or "drop"
        if action not in ("drop", "servfail"):
            raise BadInput(f"profile: overload: expected drop or servfail after ':', got {action!r}")
        fields["overload_action"] = action
    elif k == "clash":
        if value is False:
            return
        window, _, rate = ("" if value in (None, True) else str(value)).partition(":")
        fields["clash_window_ms"] = _duration_ms(window, k) if window.strip() else DEFAULT_CLASH_WINDOW_MS
        fields["clash_rate"] = _rate(rate, k) if rate.strip() else 1.0
    elif k == "neg-ttl":
        fields["neg_ttl_s"] = _int(need(), k, 0, 86400, "seconds")
    elif k == "cold-cache":
        if value is False:
            return
        fields["cold_cache_ms"] = DEFAULT_COLD_CACHE_MS if value in (None, True) else _duration_ms(value, k)
    elif k == "seed":
        fields["seed"] = _int(need(), k, 0, 2**63 - 1, "an integer")
    elif k == "ndots":
        fields["ndots"] = _int(need(), k, 0, 15, "an integer")
    elif k == "search":  # "search=" (empty): no search list at all
        fields["search"] = () if value is None or value == "" else _domains(value, k)
    elif k == "timeout":
        fields["timeout_s"] = _int(need(), k, 1, 30, "whole seconds (glibc's unit)")
    elif k == "attempts":
        fields["attempts"] = _int(need(), k, 1, 5, "an integer")
    else:
        raise BadInput(f"profile: unknown key {key.strip()!r}; expected one of {', '.join(_EXAMPLES)}")


_EXAMPLES = {
    "delay": "delay=3ms", "jitter": "jitter=1ms or jitter=pareto:1ms", "drop": "drop=2%:AAAA",
    "aaaa-blackhole": "aaaa-blackhole", "search-nxdomain": "search-nxdomain=20ms", "servfail": "servfail=5%",
    "truncate": "truncate", "overload": "overload=64:servfail", "clash": "clash=5ms", "neg-ttl": "neg-ttl=30s",
    "cold-cache": "cold-cache=50ms", "seed": "seed=42", "ndots": "ndots=5", "search": "search=a.svc:svc",
    "timeout": "timeout=1", "attempts": "attempts=2",
}


def _build(spec: str, fields: dict[str, Any]) -> FaultProfile:
    if "drops" in fields:
        fields["drops"] = tuple(fields["drops"])
    return replace(FaultProfile(spec=spec), **fields)


def parse_profile(spec: str | None) -> FaultProfile:
    """``"delay=3ms,jitter=1ms,drop=2%:AAAA"`` or a YAML path -> FaultProfile.

    ``"healthy"``, ``""`` and None are no fault. A bad spec raises BadInput with one line.
    """
    text = (spec or "").strip()
    if text.lower() in ("", HEALTHY):
        return FaultProfile(spec=HEALTHY)
    return _build(*read_fields(text, "delay, drop, ...", _apply,
                               skip=lambda key, value: key.strip().lower() == HEALTHY and value is None))
