"""``load:`` in triage.yaml: the ramps `triage probe --load` runs, their steps and stop rules.

Every key is optional; every bound is checked with file:line (config.parse_config calls
``parse_load``). The defaults keep an unconfigured ramp short and gentle: at most 7 steps of
2 s per target, 200,000 requests per ramp, 64 requests in flight.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from triage.yamlfile import YamlReader, show

MAX_RATE = 100_000.0  # req/s or q/s: a ceiling no config may pass
MAX_CLIENTS = 256
MAX_STEPS = 20
CACHE_MODES = ("hit", "miss")
RAMP_LAYERS = ("app", "dns", "database")


@dataclass(frozen=True)
class RampSteps:
    """One layer's ramp: its steps (offered rates, or clients for the database), the p99 SLO
    that decides its capacity, and the stop rule that ends it."""

    steps: tuple[float, ...]
    slo_ms: float | None = None  # None: slo_factor × the first step's p99, at least slo_floor_ms
    stop_p99_ms: float | None = None  # None: stop at the first step past the SLO
    stop_errors: float | None = None  # None: stop at the first step past errors_max
    cache: tuple[str, ...] = ("hit",)  # dns only: hit (the names as configured), miss (random label)


@dataclass(frozen=True)
class LoadConfig:
    step_duration_s: float = 2.0
    # Per step: consecutive slices, a fresh connection (socket, session) each. 20, not the idle
    # probes' 10: a step that saturates builds its queue over the step, so its first slices
    # can look like the baseline's; with 10 slices a side the best p is 5.4e-6, with 20 7e-12.
    groups: int = 20
    # Default SLO: 5x the first (lightest) step's p99, so the knee of each platform's own curve
    # decides; never under 5 ms, or a loopback DNS server's 0.3 ms would make the generator's
    # own scheduling jitter on a busy host (p99 1.4-3 ms here) look like the server's limit.
    slo_factor: float = 5.0
    slo_floor_ms: float = 5.0
    errors_max: float = 0.01  # capacity also needs fewer errors than this share
    timeout_s: float = 1.0  # per request; an unanswered request counts as failed after it
    max_in_flight: int = 64  # open loop: requests outstanding at once
    max_requests: int = 200_000  # per ramp, all steps together
    layers: tuple[str, ...] = RAMP_LAYERS  # which layers ramp (of those probed)
    app: RampSteps = field(default_factory=lambda: RampSteps((25, 50, 100, 200, 400, 800, 1600)))
    dns: RampSteps = field(default_factory=lambda: RampSteps((250, 500, 1000, 2000, 4000, 8000)))
    database: RampSteps = field(default_factory=lambda: RampSteps((1, 2, 4, 8, 16)))

    def for_layer(self, layer: str) -> RampSteps:
        return {"app": self.app, "dns": self.dns, "database": self.database}[layer]


def _share(r: YamlReader, value: Any, path: str) -> float:
    """A share of requests: 0.01 or "1%", at most a half."""
    number = value
    if isinstance(value, str) and value.strip().endswith("%"):
        try:
            number = float(value.strip()[:-1]) / 100
        except ValueError:
            number = None
    if isinstance(number, bool) or not isinstance(number, (int, float)) or not 0 <= number <= 0.5:
        raise r.fail(path, f"expected a share between 0 and 0.5, like 0.01 or 1%, got {show(value)}")
    return float(number)


def _steps(r: YamlReader, value: Any, path: str, lo: float, hi: float, whole: bool) -> tuple[float, ...]:
    expected = (f"expected a list of 1-{MAX_STEPS} increasing {'integers' if whole else 'numbers'} "
                f"{lo:g}-{hi:g}, got {show(value)}")
    if not isinstance(value, list) or not 1 <= len(value) <= MAX_STEPS:
        raise r.fail(path, expected)
    out: list[float] = []
    for i, item in enumerate(value):
        number = r.integer(item, f"{path}[{i}]", int(lo), int(hi)) if whole else r.number(item, f"{path}[{i}]", lo, hi)
        if out and number <= out[-1]:
            raise r.fail(f"{path}[{i}]", f"expected steps in increasing order, {number:g} follows {out[-1]:g}")
        out.append(float(number))
    return tuple(out)


def _ramp(r: YamlReader, raw: Any, path: str, default: RampSteps, layer: str) -> RampSteps:
    key = "clients" if layer == "database" else "rates"
    allowed = (key, "slo_ms", "stop") + (("cache",) if layer == "dns" else ())
    d = r.mapping(raw, path, allowed)
    kw: dict[str, Any] = {"steps": default.steps}
    if key in d:
        if layer == "database":
            kw["steps"] = _steps(r, d[key], f"{path}.{key}", 1, MAX_CLIENTS, whole=True)
        else:
            kw["steps"] = _steps(r, d[key], f"{path}.{key}", 0.1, MAX_RATE, whole=False)
    if "slo_ms" in d:
        kw["slo_ms"] = r.number(d["slo_ms"], f"{path}.slo_ms", 0.01, 600_000)
    if "stop" in d:
        s = r.mapping(d["stop"], f"{path}.stop", ("p99_ms", "errors"))
        if "p99_ms" in s:
            kw["stop_p99_ms"] = r.number(s["p99_ms"], f"{path}.stop.p99_ms", 0.01, 600_000)
            if kw.get("slo_ms") is not None and kw["stop_p99_ms"] < kw["slo_ms"]:
                raise r.fail(f"{path}.stop.p99_ms", f"expected at least the SLO ({kw['slo_ms']:g} ms): a ramp "
                                                    "stopped below its SLO could not find its capacity")
        if "errors" in s:
            kw["stop_errors"] = _share(r, s["errors"], f"{path}.stop.errors")
    if "cache" in d:
        def mode(v: str, p: str) -> str:
            if v not in CACHE_MODES:
                raise r.fail(p, f"expected hit or miss, got {show(v)}")
            return v
        modes = r.strings(d["cache"], f"{path}.cache", mode)
        kw["cache"] = tuple(dict.fromkeys(modes))
    return RampSteps(**kw)


# key, LoadConfig field, bounds (integers when the bounds are)
_NUMBERS = (("step_duration", "step_duration_s", 0.1, 60.0), ("groups", "groups", 1, 100),
            ("slo_factor", "slo_factor", 1.5, 100.0), ("slo_floor_ms", "slo_floor_ms", 0.0, 600_000.0),
            ("timeout", "timeout_s", 0.01, 60.0), ("max_in_flight", "max_in_flight", 1, 1024),
            ("max_requests", "max_requests", 1, 1_000_000))


def parse_load(r: YamlReader, raw: Any) -> LoadConfig:
    d = r.mapping(raw, "load", ("layers", "step_duration", "groups", "slo_factor", "slo_floor_ms", "errors_max",
                                "timeout", "max_in_flight", "max_requests", "app", "dns", "database"))
    kw: dict[str, Any] = {}
    if "layers" in d:
        def layer(v: str, p: str) -> str:
            if v not in RAMP_LAYERS:
                raise r.fail(p, f"expected one of {', '.join(RAMP_LAYERS)}, got {show(v)}")
            return v
        kw["layers"] = tuple(dict.fromkeys(r.strings(d["layers"], "load.layers", layer)))
    for key, attr, lo, hi in _NUMBERS:
        if key in d:
            read = r.integer if isinstance(lo, int) else r.number
            kw[attr] = read(d[key], f"load.{key}", lo, hi)
    if "errors_max" in d:
        kw["errors_max"] = _share(r, d["errors_max"], "load.errors_max")
    defaults = LoadConfig()
    for layer in RAMP_LAYERS:
        if layer in d:
            kw[layer] = _ramp(r, d[layer], f"load.{layer}", defaults.for_layer(layer), layer)
    config = LoadConfig(**kw)
    for layer in RAMP_LAYERS:
        ramp = config.for_layer(layer)
        if ramp.stop_errors is not None and ramp.stop_errors < config.errors_max:
            raise r.fail(f"load.{layer}.stop.errors", f"expected at least errors_max ({config.errors_max:g}): a ramp "
                                                       "stopped below it could not find its capacity")
    return config
