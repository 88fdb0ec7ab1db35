"""Run probes one at a time (concurrent probes would measure each other), each with a
timeout, under a global deadline, and gather what they saw into a Snapshot. Sub-run probes
go in rounds, one group of each per round, rounds paced over ``config.spread_s`` at least.

A probe that raises or overruns becomes ``status: error`` with its reason; the run goes on.
"""

from __future__ import annotations

import itertools
import socket
import threading
import time
import types
from dataclasses import dataclass, replace
from typing import Callable, Iterable, Protocol, Sequence

import triage.probes as probe_registry
from triage.probes import GROUP_END, ROUND, ProbeContext, ProbeSkipped, ProbeSpec

from . import __version__
from .config import Config
from .secrets import mask_secrets
from .errors import BadInput
from .layers import LAYERS
from .load.ramp import RampPlan, check_allowed, plan_ramps, run_ramp
from .load.schedule import clock
from .model import Measurement, ProbeResult, Snapshot, checked, utc_now

DEFAULT_DEADLINE_S = 600.0


class Progress(Protocol):
    def start(self, total: int) -> None: ...
    def step(self, description: str) -> None: ...
    def done(self, result: ProbeResult) -> None: ...
    def finish(self) -> None: ...


class SilentProgress:
    def start(self, total: int) -> None: pass
    def step(self, description: str) -> None: pass
    def done(self, result: ProbeResult) -> None: pass
    def finish(self) -> None: pass


@dataclass
class RunOptions:
    layers: Sequence[str] = LAYERS
    label: str = "unlabelled"
    deadline_s: float = DEFAULT_DEADLINE_S
    samples: int | None = None  # overrides config.samples
    proc_root: str = "/proc"
    load: bool = False  # after the probes, the ramps of config.load (triage.load)
    allow_load: tuple[str, ...] = ()  # hosts beyond loopback that may get load (--allow-load)


def parse_layers(text: str | None) -> tuple[str, ...]:
    """``kernel,dns`` → ('kernel', 'dns'); names are checked against the known layers."""
    if not text:
        return LAYERS
    layers = tuple(part.strip() for part in text.split(",") if part.strip())
    unknown = [layer for layer in layers if layer not in LAYERS]
    if unknown or not layers:
        raise BadInput(f"--layers: unknown layer {', '.join(unknown) or '(none)'}; expected a comma list of "
                       f"{', '.join(LAYERS)}")
    return layers


def _call_with_timeout(fn: Callable[[], object], timeout_s: float) -> object:
    """Run ``fn`` in a daemon thread; TimeoutError if it overruns (the thread is abandoned:
    Python cannot kill it, and probes check ``ctx.deadline`` to stop on their own)."""
    outcome: dict[str, object] = {}

    def target() -> None:
        try:
            outcome["value"] = fn()
        except BaseException as exc:  # noqa: BLE001 - handed back to the caller's thread
            outcome["error"] = exc

    thread = threading.Thread(target=target, daemon=True, name="triage-probe")
    thread.start()
    thread.join(timeout_s)
    if thread.is_alive():
        raise TimeoutError(f"timed out after {timeout_s:g}s")
    if "error" in outcome:
        raise outcome["error"]  # type: ignore[misc]
    return outcome.get("value")


def _reason(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    return f"{type(exc).__name__}: {text}" if text and not isinstance(exc, TimeoutError) else (text or type(exc).__name__)


class _Call:
    """One (probe, target) invocation and its bookkeeping."""

    def __init__(self, spec: ProbeSpec, target_name: str, target: object, ctx: ProbeContext):
        self.spec = spec
        self.target_name = target_name
        self.target = target
        self.ctx = ctx
        self.elapsed = 0.0
        self.generator: types.GeneratorType | None = None
        self.failure: ProbeResult | None = None
        self.collected: list[Measurement] = []  # a sub-run probe's measurements so far

    def result(self, status: str, measurements: Iterable[Measurement] = (), error: str | None = None) -> ProbeResult:
        ms = tuple(measurements)
        bad = [m for m in ms if not isinstance(m, Measurement)]
        if bad:
            status, error, ms = "error", f"probe returned {type(bad[0]).__name__}, expected Measurement", ()
        return ProbeResult(self.spec.layer, self.spec.name, self.target_name, status,
                           mask_secrets(error) if error else None, self.elapsed, ms, tuple(self.ctx.notes))


def _outcome(call: _Call, step: Callable[[], Iterable[Measurement]], timeout_s: float) -> ProbeResult:
    """Run one step of a probe under a timeout; what it raised becomes the result's status."""
    started = time.perf_counter()
    try:
        measurements, status, error = _call_with_timeout(step, timeout_s), "ok", None
    except ProbeSkipped as exc:
        measurements, status, error = (), "skipped", str(exc) or "skipped"
    except Exception as exc:  # a broken probe never sinks the run
        measurements, status, error = (), "error", _reason(exc)
    call.elapsed += time.perf_counter() - started
    return call.result(status, measurements, error)  # type: ignore[arg-type]


def _run_call(call: _Call, timeout_s: float) -> ProbeResult:
    return _outcome(call, lambda: list(call.spec.fn(call.target, call.ctx)), timeout_s)


def _run_group(call: _Call, timeout_s: float) -> ProbeResult | None:
    """The next group of a sub-run probe: its result once it finished or failed, else None."""
    finished = False

    def step() -> list[Measurement]:
        nonlocal finished
        if call.generator is None:
            call.generator = call.spec.fn(call.target, call.ctx)
        for item in call.generator:  # type: ignore[union-attr]
            if item is GROUP_END:
                return []
            call.collected.append(item)
        finished = True
        return call.collected

    result = _outcome(call, step, timeout_s)
    return result if finished or result.status != "ok" else None


def _step(call: _Call, per_probe_s: float, run_deadline: float, deadline_s: float) -> ProbeResult | None:
    """One turn of a call: a whole probe, or one group of a sub-run probe (None: more to come).
    The per-probe timeout counts the probe's own turns, not the other probes' in between."""
    remaining = run_deadline - time.monotonic()
    if call.generator is None and remaining <= 0:
        return call.result("error", error=f"run deadline of {deadline_s:g}s reached before it started")
    # A started probe whose time is up still gets a turn, to stop and yield what it measured.
    budget = max(0.0, min(per_probe_s - call.elapsed, remaining))
    call.ctx.deadline = time.monotonic() + budget
    if call.spec.subruns:
        return _run_group(call, budget + 1.0)
    return _run_call(call, budget + 1.0)


def _open_window(call: _Call, timeout_s: float) -> None:
    """Run a window probe up to its first ``yield``; keep the generator, or its failure."""
    def first_step() -> tuple[()]:
        gen = call.spec.fn(call.target, call.ctx)
        try:
            next(gen)
        except StopIteration:
            raise RuntimeError("window probe finished before its window opened") from None
        call.generator = gen
        return ()

    opened = _outcome(call, first_step, timeout_s)
    if opened.status != "ok":
        call.failure = opened


def _tick_window(call: _Call, timeout_s: float) -> None:
    """The end of a round for a rounds window probe: it reads what it reads, yields nothing."""
    if call.failure is not None:
        return

    def tick() -> tuple[()]:
        if call.generator.send(ROUND) is not None:  # type: ignore[union-attr]
            raise RuntimeError("rounds window probe yielded a measurement mid-run")
        return ()

    ticked = _outcome(call, tick, timeout_s)
    if ticked.status != "ok":
        call.failure = ticked


def _close_window(call: _Call, timeout_s: float) -> ProbeResult:
    if call.failure is not None:
        return call.failure
    return _outcome(call, lambda: list(call.generator), timeout_s)  # type: ignore[arg-type]


def probes_for(keys: Iterable[tuple[str, str, str]], layers: Sequence[str] = LAYERS) -> list[ProbeSpec]:
    """Specs that run exactly the (layer, probe, target) ``keys``, for ``run_probes(specs=)``:
    each probe of ``layers`` named in a key, its targets narrowed to the keys' targets."""
    wanted: dict[tuple[str, str], set[str]] = {}
    for layer, name, target in keys:
        wanted.setdefault((layer, name), set()).add(target)
    specs = []
    for spec in probe_registry.all_probes(layers):
        targets = wanted.get((spec.layer, spec.name))
        if not targets:
            continue
        if spec.targets is None:
            if probe_registry.LOCAL in targets:
                specs.append(spec)
            continue
        expand = spec.targets
        specs.append(replace(spec, targets=lambda config, expand=expand, targets=frozenset(targets):
                             [(name, t) for name, t in expand(config) if name in targets]))
    return specs


def run_probes(config: Config, options: RunOptions, progress: Progress | None = None,
               specs: Sequence[ProbeSpec] | None = None) -> Snapshot:
    """Run every registered probe of ``options.layers`` (or exactly ``specs``) and return the Snapshot.

    A label of ``auto`` becomes the platform version the kubernetes probes found (BadInput
    when they cannot run or found none). KeyboardInterrupt propagates: the caller writes
    nothing, so no half-written file exists.
    """
    from .labels import check_auto_label, resolve_label

    check_auto_label(options.label, options.layers)
    ramps = plan_ramps(config, options.layers) if options.load else []
    check_allowed(ramps, options.allow_load)  # before any probe sends a packet
    progress = progress or SilentProgress()
    run_deadline = time.monotonic() + options.deadline_s
    samples = options.samples or config.samples
    taken_at = utc_now()

    calls: list[_Call] = []
    results: list[ProbeResult] = []
    for spec in specs if specs is not None else probe_registry.all_probes(options.layers):
        try:
            targets = spec.expand(config)
        except ProbeSkipped as exc:
            results.append(ProbeResult(spec.layer, spec.name, probe_registry.LOCAL, "skipped", str(exc)))
            continue
        for target_name, target in targets:
            ctx = ProbeContext(config=config, samples=samples, deadline=run_deadline,
                               proc_root=options.proc_root)
            calls.append(_Call(spec, target_name, target, ctx))

    progress.start(len(calls) + len(ramps))
    windows = [c for c in calls if c.spec.window]
    for call in windows:
        _open_window(call, min(5.0, max(0.1, run_deadline - time.monotonic())))
    by_call: dict[int, ProbeResult] = {}
    pending = [c for c in calls if not c.spec.window]
    ticked = [c for c in windows if c.spec.rounds]
    rounds_started, spacing = time.monotonic(), config.spread_s / max(1, config.groups)
    for round_index in itertools.count(1):
        for call in list(pending):
            progress.step(f"{call.spec.layer}.{call.spec.name} {call.target_name}")
            result = _step(call, call.spec.timeout_s or config.probe_timeout_s, run_deadline, options.deadline_s)
            if result is not None:
                by_call[id(call)] = result
                progress.done(result)
                pending.remove(call)
        # Rounds windows want as many rounds as there are groups, sub-run probes or not; the
        # last round ends when their windows close, the others with a tick.
        if not pending and (not ticked or round_index >= config.groups or time.monotonic() >= run_deadline):
            break
        for call in ticked:
            _tick_window(call, min(5.0, max(0.1, run_deadline - time.monotonic())))
        # Rounds faster than spread/groups wait here, outside every probe's clock and budget.
        time.sleep(max(0.0, min(rounds_started + round_index * spacing, run_deadline) - time.monotonic()))
    for call in windows:
        progress.step(f"{call.spec.layer}.{call.spec.name} {call.target_name}")
        result = _close_window(call, 10.0)
        by_call[id(call)] = result
        progress.done(result)
    results.extend(by_call[id(c)] for c in calls)
    # After the windows closed: load is no event of the run the kernel counters should see.
    loaded, interrupted = _run_ramps(ramps, config, run_deadline, options.deadline_s, progress)
    progress.finish()
    extra = {"load_interrupted": interrupted} if interrupted else {}
    return resolve_label(Snapshot(label=options.label, taken_at=taken_at, host=socket.gethostname(),
                                  tool_version=__version__, results=tuple(map(checked, results + loaded)),
                                  extra=extra))


def _run_ramps(ramps: Sequence[RampPlan], config: Config, run_deadline: float, deadline_s: float,
               progress: Progress) -> tuple[list[ProbeResult], str | None]:
    """Each ramp in turn; one that fails is recorded as an error. Ctrl-C ends the ramp under
    way (its steps completed are kept) and skips the rest: (results, what Ctrl-C stopped)."""
    results: list[ProbeResult] = []
    interrupted = None
    for plan in ramps:
        progress.step(f"{plan.layer}.ramp {plan.target}")
        if interrupted:
            result = ProbeResult(plan.layer, "ramp", plan.target, "skipped", "load stopped by Ctrl-C")
        elif time.monotonic() >= run_deadline:
            result = ProbeResult(plan.layer, "ramp", plan.target, "error",
                                 f"run deadline of {deadline_s:g}s reached before it started")
        else:
            stop_at = clock() + (run_deadline - time.monotonic())
            started = time.monotonic()
            try:
                result = run_ramp(plan, config.load, stop_at, progress.step)
            except Exception as exc:  # a broken ramp never sinks the run
                result = ProbeResult(plan.layer, "ramp", plan.target, "error", mask_secrets(_reason(exc)),
                                     time.monotonic() - started)
            if result.extra.get("ramp", {}).get("interrupted"):
                interrupted = f"{plan.layer}.ramp [{plan.target}]: {result.extra['ramp']['stopped_by']}"
        results.append(result)
        progress.done(result)
    return results, interrupted


def summarise_problems(snapshot: Snapshot) -> list[str]:
    """For stderr: one line per probe error, one line per layer's skips (grouped by reason)."""
    lines = [f"probe {r.layer}.{r.probe} [{r.target}]: error: {r.error}" for r in snapshot.results if r.status == "error"]
    skipped: dict[tuple[str, str], list[str]] = {}
    for r in snapshot.results:
        if r.status == "skipped":
            skipped.setdefault((r.layer, r.error or "skipped"), []).append(r.probe)
    for (layer, reason), names in skipped.items():
        lines.append(f"skipped {layer} ({', '.join(dict.fromkeys(names))}): {reason}")
    return lines


def status_counts(snapshot: Snapshot) -> str:
    counts = {s: sum(1 for r in snapshot.results if r.status == s) for s in ("ok", "error", "skipped")}
    return f"{len(snapshot.results)} results: {counts['ok']} ok, {counts['error']} errors, {counts['skipped']} skipped"
