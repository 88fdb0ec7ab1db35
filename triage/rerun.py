"""The commands that rerun a triage: what a report lists under "Reproduce".

Built here, once per use case, from what the user actually ran, so a reader can paste them:
a comparison reruns its comparison of the same runs, a gate reruns the gate, `ab` and the
demo rerun their interleaved probing and then the comparison of the stored runs. Judging and
probing options left at their defaults are left out.
"""

from __future__ import annotations

import shlex
from typing import Sequence

from .judging import Judging
from .layers import LAYERS
from .secrets import mask_url
from .verdict import DEFAULT_ALPHA, Comparison

REPORT_FILE = "triage-report.md"


def _flags(*pairs: tuple[str, object]) -> str:
    """`` --flag value`` for every pair whose value was given (not None)."""
    return "".join(f" {flag} {shlex.quote(str(value))}" for flag, value in pairs if value is not None)


def _store(j: Judging) -> str | None:
    """A store URL's credentials never reach a report (git's helpers supply them on a rerun)."""
    return None if j.store is None else mask_url(j.store)


def _judging(j: Judging) -> str:
    return _flags(("--store", _store(j)), ("--budget", j.budget), ("--acks", j.acks),
                  ("--alpha", None if j.alpha == DEFAULT_ALPHA else f"{j.alpha:g}")) \
        + (" --require-decided" if j.require_decided else "")


def _probing(layers: Sequence[str], samples: int | None, load: bool = False, allow_load: Sequence[str] = ()) -> str:
    return _flags(("--layers", None if tuple(layers) == LAYERS else ",".join(layers)), ("--samples", samples)) \
        + (" --load" if load else "") + _flags(("--allow-load", ",".join(allow_load) or None))


def _compare_and_report(baseline: str, candidate: str, judging: str) -> tuple[str, ...]:
    sides = f"{shlex.quote(baseline)} {shlex.quote(candidate)}"
    return (f"triage compare {sides}{judging}", f"triage report {sides}{judging} -o {REPORT_FILE}")


def for_comparison(c: Comparison, judging: Judging = Judging()) -> tuple[str, ...]:
    """`triage compare`/`report`: the same comparison of the same runs. A labelled side is not
    probed again: a probe now measures this machine as it is, not the platform the label was
    taken on (two labels, before and after an upgrade, can never both be probed again)."""
    return _compare_and_report(c.baseline.spec, c.candidate.spec, _judging(judging))


def for_gate(baseline: str, label: str, judging: Judging = Judging(), *, config: str | None = None,
             layers: Sequence[str] | None = None, samples: int | None = None, load: bool = False,
             allow_load: Sequence[str] = (), max_rounds: int | None = None) -> tuple[str, ...]:
    """`triage gate`: the same gate (``layers`` None: the gate chose them from the baseline;
    ``max_rounds``: it sampled until decided)."""
    rounds = "" if max_rounds is None else f" --until-decided --max-rounds {max_rounds}"
    return (f"triage gate --baseline {shlex.quote(baseline)} --label {shlex.quote(label)}"
            f"{_flags(('--config', config))}{_probing(layers or LAYERS, samples, load, allow_load)}{rounds}"
            f"{_judging(judging)}",)


def for_prometheus_gate(*, window: str | None, before_upgrade: str | None, baseline: str | None, label: str | None,
                        config: str | None = None, judging: Judging = Judging()) -> tuple[str, ...]:
    """`triage gate --from prometheus`: the same windows judged again (history does not change)."""
    return (f"triage gate --from prometheus{_flags(('--window', window), ('--before-upgrade', before_upgrade))}"
            f"{_flags(('--baseline', baseline), ('--label', label), ('--config', config))}"
            f"{_judging(judging)}",)


def for_ab(baseline: tuple[str, str], candidate: tuple[str, str], *, rounds: int, layers: Sequence[str],
           samples: int | None, judging: Judging, load: bool = False,
           allow_load: Sequence[str] = ()) -> tuple[str, ...]:
    """`triage ab` over (label, config path) pairs: probe both again, then judge the stored runs."""
    sides = " ".join(shlex.quote(f"{label}={path}") for label, path in (baseline, candidate))
    flags = _judging(judging)
    return (f"triage ab {sides} --rounds {rounds}{_probing(layers, samples, load, allow_load)}{flags}",
            *_compare_and_report(baseline[0], candidate[0], flags))


DEMO_STORE = "triage-demo-store"


def for_demo(baseline: str, candidate: str, *, rounds: int, samples: int,
             store_given: str | None, load: bool = False) -> tuple[str, ...]:
    """`triage demo`: the demo again, then the comparison of the runs it stored. The runs must
    be where the comparison looks: the store named, else a named one (a rerun's temporary
    store is not the original's)."""
    kept = store_given or DEMO_STORE
    return (f"triage demo --rounds {rounds} --samples {samples}{' --load' if load else ''}"
            f"{_flags(('--store', kept))}",
            *_compare_and_report(baseline, candidate, _judging(Judging(store=kept))))


def demo_next_steps(baseline: str, candidate: str, store: str) -> tuple[str, ...]:
    """What the demo suggests trying next, on the runs it stored in ``store``."""
    sides, flags = f"{shlex.quote(baseline)} {shlex.quote(candidate)}", _judging(Judging(store=store))
    return (f"triage compare {sides}{flags}", f"triage report {sides}{flags} --format junit -o junit.xml",
            f"triage baseline list{flags}", "triage repro dns --compare healthy 'delay=3ms,drop=1%:AAAA' --duration 5")
