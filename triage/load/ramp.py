"""Ramps: per layer target, steps of rising load until a stop rule, and what they record.

- app: request-rate steps against each ``url`` target (open loop);
- dns: query-rate steps against each resolver, the probe's names in turn, cached or
  cache-miss as ``load.dns.cache`` says (open loop, as resperf);
- database: concurrent-client steps running each critical query (closed loop).

A ramp stops at the first step past its stop rule (by default: past the SLO or errors_max),
at the first step the generator could not carry (schedule.StepResult.generator_limit), at
its last step, its request budget, the run's deadline or Ctrl-C. It records, as Snapshot v1
measurements of the result (layer, ``ramp``, target), per step that counts:
``latency@200rps`` (samples from the intended send times, in groups) and ``errors@200rps``,
and for the ramp ``capacity``: the highest offered rate whose p99 stayed under the SLO and
whose errors stayed under errors_max, every step below it passing too; a gauge with
``better: higher`` whose ``capacity`` extra says how it was found. A ramp that never found a
failing step reports ``bound: at least``: the server did at least that much, and its
capacity is unknown. A step the generator could not carry records no metrics: it is
reported as "generator-limited at N req/s" (the rate the generator did manage), in the
result's notes and its ``ramp`` extra, never as the server's capacity.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, replace
from typing import Any, Callable, Sequence
from urllib.parse import urlsplit

from triage.config import Config, dsn_endpoint, split_resolver
from triage.loopback import ALLOW_LOAD_FLAG, require_loopback_or_allowed
from triage.model import Measurement, ProbeResult
from triage.probes.dns import probe_names, resolver_address, resolver_label

from .config import LoadConfig, RampSteps
from .naming import CAPACITY, PROBE, SUFFIX, UNIT, offered_text, step_metric
from .schedule import StepResult, StepSpec, Transport, clock, quantile, run_closed_step, run_open_step
from .transports import DnsTransport, HttpTransport, PgTransport

@dataclass(frozen=True)
class RampPlan:
    layer: str
    target: str  # the result's target name
    host: str | None  # where the load goes; None: a local socket file
    steps: RampSteps
    build: Callable[[], Transport]  # imports the layer's client library: called when the ramp runs
    closed: bool = False

    @property
    def unit(self) -> str:
        return UNIT[SUFFIX[self.layer]]


class RampFailed(Exception):
    """The ramp could not measure anything: its first step got no answer at all."""


def plan_ramps(config: Config, layers: Sequence[str]) -> list[RampPlan]:
    """The ramps of ``layers`` this config has targets for, bottom of the stack first."""
    load = config.load
    layers = [layer for layer in layers if layer in load.layers]
    plans: list[RampPlan] = []
    if "dns" in layers:
        names = probe_names(config)
        for resolver in config.dns.resolvers if names else ():
            alias, address = split_resolver(resolver)
            host, port, _ = resolver_address(address)
            label = resolver_label(alias, address)
            for mode in load.dns.cache:
                plans.append(RampPlan("dns", label if mode == "hit" else f"{label}/cache-miss", host, load.dns,
                                      _bind(DnsTransport, host, port, tuple(names), config.dns.qtypes, mode == "miss",
                                            load.timeout_s)))
    if "database" in layers:
        for t in config.targets:
            host = dsn_endpoint(t.dsn)[0] if t.dsn else None
            for q in t.queries if t.dsn else ():
                plans.append(RampPlan("database", f"{t.name}/{q.name}", None if not host or host.startswith("/")
                                      else host, load.database, _bind(PgTransport, t, q, load.timeout_s), closed=True))
    if "app" in layers:
        for t in config.targets:
            if t.url:
                plans.append(RampPlan("app", t.name, urlsplit(t.url).hostname, load.app,
                                      _bind(HttpTransport, t, load.timeout_s)))
    return plans


def _bind(factory: Callable[..., Transport], *args: Any) -> Callable[[], Transport]:
    return lambda: factory(*args)


def check_allowed(plans: Sequence[RampPlan], allowed: Sequence[str]) -> None:
    """The loopback rule for load: BadInput (exit 2) naming the first host that is neither
    loopback nor named in ``--allow-load``. Called before any probe sends anything."""
    for plan in plans:
        if plan.host is not None:
            require_loopback_or_allowed(plan.host, allowed, f"--load: {plan.layer} target {plan.target}: host",
                                        allow_with=f"name it with {ALLOW_LOAD_FLAG} {plan.host} to send it load")


# --------------------------------------------------------------------------- one ramp


@dataclass
class _Ramp:
    """A ramp while it runs: what it has recorded so far and why it stopped."""

    plan: RampPlan
    load: LoadConfig
    slo_ms: float | None = None
    slo_source: str = ""
    capacity: float | None = None  # highest offered rate passing, every lower step passing too
    failed_at: float | None = None  # the first step past the SLO or errors_max
    generator_limited: tuple[float, float, str] | None = None  # (achieved, offered, why)
    stopped_by: str = "its last step"
    interrupted: bool = False

    def __post_init__(self) -> None:
        self.steps: list[dict[str, Any]] = []
        self.measurements: list[Measurement] = []

    def set_slo(self, first: StepResult) -> None:
        if self.plan.steps.slo_ms is not None:
            self.slo_ms, self.slo_source = self.plan.steps.slo_ms, "configured"
            return
        p99 = first.p99() or 0.0
        factor, floor = self.load.slo_factor, self.load.slo_floor_ms
        self.slo_ms = max(floor, factor * p99)
        self.slo_source = (f"{factor:g} x the first step's p99 ({p99:.3g} ms)" if factor * p99 >= floor
                           else f"the {floor:g} ms floor ({factor:g} x the first step's p99 is {factor * p99:.3g} ms)")

    def record(self, offered: float, res: StepResult) -> bool:
        """Judge one finished step against the SLO; True when the ramp goes on."""
        if self.slo_ms is None:
            self.set_slo(res)
        slo, unit, suffix = self.slo_ms, self.plan.unit, SUFFIX[self.plan.layer]
        p99 = res.p99() or 0.0
        errors_max = self.load.errors_max
        failed = p99 > slo or res.error_share > errors_max
        why = res.generator_limit(slo, failed)
        self.steps.append(_step_summary(res, failed, why))
        if why is not None:
            self.generator_limited = (res.sent_rate, offered, why)
            self.stopped_by = f"generator-limited at {offered_text(round(res.sent_rate), unit)} " \
                              f"(offered {offered_text(offered, unit)}): {why}"
            return False
        extra = {"offered": offered, "achieved": round(res.achieved, 3), "slo_ms": round(slo, 6)}
        self.measurements.append(Measurement(step_metric("latency", offered, suffix), "samples", "lower", "ms",
                                             values=tuple(round(v, 6) for v in res.latencies_ms), extra=extra,
                                             groups=tuple(res.group_sizes)))
        self.measurements.append(Measurement(step_metric("errors", offered, suffix), "proportion", "lower",
                                             events=res.errors, trials=res.trials,
                                             extra={"offered": offered, "kinds": res.error_kinds}))
        if failed and self.failed_at is None:
            self.failed_at = offered
        if not failed and self.failed_at is None:
            self.capacity = offered
        steps = self.plan.steps
        stop_p99 = steps.stop_p99_ms if steps.stop_p99_ms is not None else slo
        stop_errors = steps.stop_errors if steps.stop_errors is not None else errors_max
        if p99 > stop_p99 or res.error_share > stop_errors:
            self.stopped_by = (f"the stop rule at {offered_text(offered, unit)}: p99 {p99:.3g} ms "
                               f"(stop past {stop_p99:.3g} ms), errors {res.error_share:.2%} "
                               f"(stop past {stop_errors:.2%})")
            return False
        return True

    def result(self) -> ProbeResult:
        plan, unit = self.plan, self.plan.unit
        bound = "measured" if self.failed_at is not None else "at least"
        notes: list[str] = []
        out = list(self.measurements)
        capacity = None
        if out and self.slo_ms is not None:
            capacity = self.capacity or 0.0
            info = {"slo_ms": round(self.slo_ms, 6), "slo_source": self.slo_source, "errors_max": self.load.errors_max,
                    "bound": bound, "unit": unit, "stopped_by": self.stopped_by}
            if self.generator_limited:
                info["generator_limited_at"] = round(self.generator_limited[0], 3)
                info["generator_offered"] = self.generator_limited[1]
            out.append(Measurement(CAPACITY, "gauge", "higher", unit, value=capacity, extra={"capacity": info}))
            notes.append(f"capacity {'at least ' if bound == 'at least' else ''}{offered_text(capacity, unit)} "
                         f"(p99 SLO {self.slo_ms:.3g} ms, {self.slo_source}; errors under {self.load.errors_max:.0%})")
        if self.generator_limited:
            achieved, offered, why = self.generator_limited
            notes.append(f"generator-limited at {offered_text(round(achieved), unit)} (offered "
                         f"{offered_text(offered, unit)}): {why}; that step is not recorded and is not the "
                         "server's capacity")
        notes.append(f"stopped by {self.stopped_by}")
        carried = [step["offered"] for step in self.steps if step["generator_limited"] is None]
        generator = {"kept_up_to": max(carried) if carried else None,
                     "limited_at": None if not self.generator_limited else round(self.generator_limited[0], 3),
                     "lag_p99_ms": max((s["lag_p99_ms"] or 0.0 for s in self.steps), default=None),
                     "cores": max((s["generator_cores"] for s in self.steps), default=None)}
        extra = {"ramp": {"unit": unit, "closed": plan.closed, "slo_ms": self.slo_ms, "slo_source": self.slo_source,
                          "generator": generator,
                          "capacity": capacity, "bound": bound, "stopped_by": self.stopped_by,
                          "interrupted": self.interrupted, "steps": self.steps,
                          "generator_limited_at": None if not self.generator_limited
                          else round(self.generator_limited[0], 3)}}
        # Nothing recorded: Ctrl-C or the generator's own limit are no failure of the target.
        status = "ok" if out else ("skipped" if self.interrupted or self.generator_limited else "error")
        error = None if out else f"no step recorded: stopped by {self.stopped_by}"
        return ProbeResult(plan.layer, PROBE, plan.target, status, error, 0.0, tuple(out), tuple(notes), extra)


def _step_summary(res: StepResult, failed: bool, why: str | None) -> dict[str, Any]:
    def ms(value: float | None) -> float | None:
        return None if value is None else round(value, 4)

    return {"offered": res.spec.offered, "achieved": round(res.achieved, 3), "sent_rate": round(res.sent_rate, 3),
            "trials": res.trials,
            "errors": res.errors, "p50_ms": ms(quantile(res.latencies_ms, 0.5)), "p99_ms": ms(res.p99()),
            "lag_p99_ms": ms(quantile(res.lag_ms, 0.99)), "queued": res.queued, "not_offered": res.not_offered,
            "in_flight_peak": res.in_flight_peak, "generator_cores": round(res.generator_cores, 3),
            "passed": not failed, "generator_limited": why, "recorded": why is None}


def run_ramp(plan: RampPlan, load: LoadConfig, stop_at: float, step: Callable[[str], None]) -> ProbeResult:
    """Run one ramp until it stops (see the module docstring); ``stop_at`` is a schedule
    ``clock()`` time (the run's deadline). Ctrl-C ends it with the steps completed recorded
    (the result's ``ramp`` extra says ``interrupted``); KeyboardInterrupt is not re-raised."""
    ramp = _Ramp(plan, load)
    started = time.monotonic()
    try:
        transport = plan.build()
        _warm_up(transport)
        spent = 0
        for offered in plan.steps.steps:
            if spent >= load.max_requests:
                ramp.stopped_by = f"its request budget (load.max_requests: {load.max_requests})"
                break
            if clock() >= stop_at:
                ramp.stopped_by = "the run's deadline"
                break
            step(f"{plan.layer}.{PROBE} {plan.target} {offered_text(offered, plan.unit)}")
            spec = StepSpec(offered, load.step_duration_s, load.groups, load.max_requests - spent, load.timeout_s,
                            plan.closed, load.max_in_flight)
            res = (run_closed_step if plan.closed else run_open_step)(transport, spec, stop_at)
            spent += res.trials
            if res.stopped_by == "deadline":
                ramp.stopped_by = f"the run's deadline, during the {offered_text(offered, plan.unit)} step (not recorded)"
                break
            if not ramp.steps and res.trials and res.errors == res.trials:
                raise RampFailed(f"no request of the first step ({offered_text(offered, plan.unit)}) was answered: "
                                 + ", ".join(f"{n} {kind}" for kind, n in res.error_kinds.items()))
            if not ramp.record(offered, res):
                break
    except KeyboardInterrupt:
        ramp.interrupted = True
        ramp.stopped_by = "Ctrl-C" + (f", after {len(ramp.steps)} steps" if ramp.steps else "")
    return replace(ramp.result(), duration_s=time.monotonic() - started)


def _warm_up(transport: Transport) -> None:
    """One unrecorded request before the first step: imports, caches and the first
    connection's handshake belong to no step (as the probes' warm-ups)."""
    conn = transport.connect()
    try:
        transport.call(conn)
    finally:
        transport.close(conn)
