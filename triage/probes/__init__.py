"""Probe registry: one module per layer, one function per probe.

A probe is declared with ``@probe(layer, name, targets=...)`` in its layer's module; this
file names those modules explicitly (no registry filled by import side effects elsewhere).

A probe function takes ``(target, ctx)`` and returns an iterable of ``Measurement``. It
measures and nothing else: it never prints, never exits and never swallows an error. The
runner times it out, catches what it raises and records ``status: error`` with the reason.
``raise ProbeSkipped("why")`` records ``status: skipped``. ``ctx.note("why")`` records why a
metric was dropped while the rest of the probe went on.

A *window* probe (``window=True``) is a generator: the code before its first bare
``yield`` runs when the run starts, the rest after every other probe has finished, so
counters it reads twice cover the whole probe window; what it yields after that first
``yield`` are its measurements. With ``rounds=True`` it is also resumed at the end of every
round of the run: the runner sends ``ROUND`` into its bare ``yield`` (anything else, as
plain iteration sends, means the window closed), so counters read each round show how
events spread over the run — a burst in one second is not a rate that rose.

A *sub-run* probe (``subruns=True``) is a generator that takes its samples in groups, each
on a fresh connection, socket or session, and yields ``GROUP_END`` after each group: the
runner then runs one group of every other sub-run probe before it resumes this one, so
each probe's groups are spread over the whole run (and over ``spread`` seconds at least)
instead of landing in one moment of a noisy machine. Its measurements are what else it
yields. ``measure`` runs any probe alone, groups back to back (tests, benches).
"""

from __future__ import annotations

import importlib
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable, Iterator, Sequence

from triage.layers import LAYERS
from triage.model import Measurement

# Explicit, ordered: (module, the layer its probes record under), bottom of the dependency
# graph first. A layer's module may have siblings: packages are host facts of the kernel layer,
# platform_components the kubernetes layer's OpenShift parts (kubernetes.py stays under 500 lines).
MODULES: tuple[tuple[str, str], ...] = (
    ("kernel", "kernel"), ("packages", "kernel"), ("dns", "dns"), ("kubernetes", "kubernetes"),
    ("platform_components", "kubernetes"), ("database", "database"), ("app", "app"))

LOCAL = "local"  # target name of probes that look at this host rather than a target

TargetsFn = Callable[[Any], Sequence[tuple[str, Any]]]


class _GroupEnd:
    def __repr__(self) -> str:
        return "GROUP_END"


GROUP_END = _GroupEnd()  # yielded by a sub-run probe between two groups


class _Round:
    def __repr__(self) -> str:
        return "ROUND"


ROUND = _Round()  # sent by the runner into a rounds window probe at the end of each round


class ProbeSkipped(Exception):
    """The probe does not apply here (wrong OS, nothing configured); the reason is recorded."""


@dataclass(frozen=True)
class ProbeSpec:
    layer: str
    name: str
    fn: Callable[..., Iterable[Measurement]]
    targets: TargetsFn | None = None  # config -> [(target name, target object)]; None: one LOCAL target
    window: bool = False
    timeout_s: float | None = None  # overrides the config's per-probe timeout
    subruns: bool = False
    rounds: bool = False  # window probes: also resumed at the end of every round

    def expand(self, config: Any) -> list[tuple[str, Any]]:
        return [(LOCAL, None)] if self.targets is None else list(self.targets(config))


@dataclass
class ProbeContext:
    """What a probe may know: config, sample count, deadline. One per (probe, target) call."""

    config: Any
    samples: int
    deadline: float  # time.monotonic() by which the probe must return (a sub-run probe: this turn; moved each turn)
    proc_root: str = "/proc"
    etc_root: str = "/etc"  # resolv.conf and friends (TRIAGE_RESOLV_CONF overrides the file)
    bin_path: str | None = None  # where host commands (rpm, dpkg-query) are looked up; None: $PATH
    doc_root: str = "/usr/share/doc"  # Debian packages' changelogs
    notes: list[str] = field(default_factory=list)

    def remaining(self) -> float:
        return max(0.0, self.deadline - time.monotonic())

    def expired(self) -> bool:
        return time.monotonic() >= self.deadline

    def note(self, message: str) -> None:
        self.notes.append(message)


def probe(layer: str, name: str, *, targets: TargetsFn | None = None, window: bool = False,
          timeout_s: float | None = None, subruns: bool = False, rounds: bool = False) -> Callable:
    """Declare a probe. The spec rides on the function; ``all_probes`` collects it."""
    if layer not in LAYERS:
        raise ValueError(f"unknown layer {layer!r}")
    if window and subruns:
        raise ValueError("a probe is a window probe or a sub-run probe, not both")
    if rounds and not window:
        raise ValueError("only a window probe is resumed each round")

    def decorate(fn: Callable) -> Callable:
        fn.__triage_probe__ = ProbeSpec(layer, name, fn, targets, window, timeout_s, subruns,  # type: ignore[attr-defined]
                                        rounds)
        return fn

    return decorate


def group_sizes(samples: int, groups: int) -> list[int]:
    """``samples`` split into ``groups`` sub-runs as evenly as can be, larger ones first
    (25 in 10: 3 3 3 3 3 2 2 2 2 2); never an empty group, so at most ``samples`` of them."""
    count = min(max(1, groups), samples)
    if count <= 0:
        return []
    whole, extra = divmod(samples, count)
    return [whole + (1 if i < extra else 0) for i in range(count)]


def end_group(values: Sequence[Any], sizes: list[int]) -> None:
    """Close a sub-run: the values added since the last close form one group (none: no group)."""
    n = len(values) - sum(sizes)
    if n > 0:
        sizes.append(n)


def measure(fn: Callable[..., Iterable[Any]], target: Any, ctx: ProbeContext) -> list[Measurement]:
    """Run one probe alone and return its measurements: a sub-run probe's groups back to back,
    a window probe's window closed at once."""
    items: Iterator[Any] = iter(fn(target, ctx))
    return [m for m in items if m is not None and m is not GROUP_END]


def all_probes(layers: Iterable[str] | None = None) -> list[ProbeSpec]:
    """Specs of every probe in ``MODULES`` (only those of ``layers`` when given), in order."""
    wanted = set(layers) if layers is not None else set(LAYERS)
    specs: list[ProbeSpec] = []
    for module_name, layer in MODULES:
        if layer not in wanted:
            continue
        try:
            module = importlib.import_module(f"triage.probes.{module_name}")
        except ModuleNotFoundError as exc:
            if exc.name == f"triage.probes.{module_name}":
                continue  # layer not built yet
            raise
        for value in vars(module).values():
            spec = getattr(value, "__triage_probe__", None)
            if isinstance(spec, ProbeSpec) and spec.layer in wanted:
                specs.append(spec)
    return specs
