"""A gate that samples until it can decide (`triage gate --until-decided --max-rounds K`).

One round is judged as any gate is. While metrics stay *undecided* — neither regressed nor
ruling a regression out (MetricComparison.decision) — and more runs could decide them, the
probes behind them (the (layer, probe, target) of their ids; for a rate added up over targets,
every target that feeds it) run again, and the new run joins the earlier ones as one more run
of the candidate: pooled per metric, each run's groups kept as its own. Round k is judged at
α · s_k (triage.stats.spending: α/2, α/4, …, the last round what is left), so over all rounds
a false regression anywhere has probability at most α. A metric's decision is final: once it
regressed or ruled a regression out it keeps the verdict of that round (a group-sequential
test stops at the first boundary it crosses; a later round, judged at a smaller share with
the same or more data, neither undoes nor repeats it). It stops when every metric is decided,
when no undecided metric can be helped by more runs (absent on a side; the baseline too thin),
at ``max_rounds``, or when the deadline leaves less time than the next round's probes took.

Pure but for ``take``, the caller's way of running probes again (the engine's runner; a
bench's synthetic draws), and ``clock``.
"""

from __future__ import annotations

import datetime as dt
import time
from dataclasses import dataclass, replace
from typing import Callable, Sequence

from . import stats
from .acks import NO_ACKS, Acks
from .budget import Budget
from .judge import Judged, conclude, judge_metrics
from .model import Snapshot
from .pooling import COMBINED_PREFIX, ProbeKey
from .judge.drafts import worse_sign
from .rounds import STOPS, Look, Rounds
from .verdict import DEFAULT_ALPHA, Comparison, MetricComparison

DECIDED = ("regressed", "ruled out")
DEFAULT_ROUNDS = 4  # α/2, α/4, α/8, α/8: a fifth round would be judged at α/16

# The probes to run again and the seconds left for them -> their run (one more snapshot).
Take = Callable[[frozenset[ProbeKey], float | None], Snapshot]


@dataclass(frozen=True)
class Decided:
    comparison: Comparison  # the merged judgement, with ``rounds``
    runs: tuple[Snapshot, ...]  # the candidate's runs, first round first


def more_runs_can_decide(m: MetricComparison) -> bool:
    """An undecided metric another candidate run could decide: not one absent from a side, nor
    one whose baseline is too thin to judge (fewer than MIN_SAMPLES, no trials)."""
    if m.decision != "undecided" or m.verdict == "absent":
        return False
    if m.verdict in ("failed", "inconclusive"):
        b = m.baseline
        return b is not None and (m.kind != "samples" or b.n >= stats.MIN_SAMPLES) and \
            (m.kind != "proportion" or bool(b.trials))
    return True


def reachable(m: MetricComparison, rounds_left: int) -> bool:
    """Could ``rounds_left`` more rounds, each adding what this metric's candidate runs added so
    far, decide it? Optimistic on purpose, since it only spares probing: the lead component's
    interval shrinks as 1/n about its centre (a mean's shrinks as 1/√n; a rate's with no events
    as 1/n), and deciding needs its worse end short of the floors (ruled out) or its near end
    past zero with the change past the floors (regressed). 0 errors in 200 requests, 3 rounds
    left: the interval's +1.9 pp end shrinks to +0.5 pp at best, never past the 0.1 pp floor."""
    lead = m.lead_component
    if lead is None or lead.change is None or lead.ci_low is None or lead.ci_high is None or m.floors is None \
            or m.candidate is None or not isinstance(lead.baseline, (int, float)):
        return True
    f = max(1, m.candidate.runs) / (max(1, m.candidate.runs) + rounds_left)
    c = lead.change
    low, high = c - (c - lead.ci_low) * f, c + (lead.ci_high - c) * f
    smallest = m.floors.smallest_change(lead.baseline)
    sign = worse_sign(m.better)
    if sign == 0:
        return (-smallest < low and high < smallest) or ((low > 0 or high < 0) and abs(c) >= smallest)
    if sign < 0:
        low, high, c = -high, -low, -c
    return high < smallest or (low > 0 and c >= smallest)


def probes_behind(metrics: Sequence[MetricComparison], runs: Sequence[Snapshot]) -> frozenset[ProbeKey]:
    """The candidate's probes whose runs feed ``metrics``: the probe named in a metric's id,
    and every probe of a rate added up over targets (target ``all@KEY``) that carries KEY."""
    wanted = {m.key for m in metrics}
    probes = {key[:3] for key in wanted}
    found: set[ProbeKey] = set()
    for run in runs:
        for r in run.results:
            key = (r.layer, r.probe, r.target)
            combined = {(r.layer, r.probe, COMBINED_PREFIX + m.extra["combine"], m.metric)
                        for m in r.measurements if isinstance(m.extra.get("combine"), str)}
            if key in probes or combined & wanted:
                found.add(key)
    return frozenset(found)


def _samples(run: Snapshot) -> int:
    return sum(len(m.values) for r in run.results for m in r.measurements if m.kind == "samples")


def _look(index: int, share: float, run: Snapshot, metrics: Sequence[MetricComparison]) -> Look:
    decisions = [m.decision for m in metrics]
    return Look(index, share, tuple(sorted(f"{r.layer}.{r.probe}.{r.target}" for r in run.results)), _samples(run),
                sum(1 for d in decisions if d in DECIDED), decisions.count("undecided"))


def _estimate(keys: frozenset[ProbeKey], runs: Sequence[Snapshot]) -> float:
    """Seconds the probes ``keys`` took in their latest run: what the next round will need."""
    latest: dict[ProbeKey, float] = {}
    for run in runs:
        for r in run.results:
            if (r.layer, r.probe, r.target) in keys:
                latest[(r.layer, r.probe, r.target)] = r.duration_s
    return sum(latest.values())


def until_decided(baseline: Sequence[Snapshot], first: Snapshot, take: Take, *, max_rounds: int,
                  deadline: float | None = None, clock: Callable[[], float] = time.monotonic,
                  baseline_spec: str = "baseline", candidate_spec: str = "candidate",
                  sources: tuple[str, str] = ("label", "file"), budget: Budget | None = None,
                  alpha: float = DEFAULT_ALPHA, require_decided: bool = False, acks: Acks = NO_ACKS,
                  today: dt.date | None = None) -> Decided:
    """Judge ``first`` against ``baseline``; while metrics stay undecided, ``take`` the probes
    behind them again and judge all the candidate's runs so far, at most ``max_rounds`` rounds
    and not past ``deadline`` (a ``clock()`` time)."""
    shares = stats.look_shares(max_rounds)
    runs = [first]

    def look(index: int) -> Judged:
        return judge_metrics(baseline, runs, baseline_spec=baseline_spec, candidate_spec=candidate_spec,
                             budget=budget, alpha=alpha, sources=sources, share=shares[index])

    judged = look(0)
    kept = {m.key: m for m in judged.metrics}
    decided_at = {m.id: 1 for m in judged.metrics if m.decision in DECIDED}
    looks = [_look(1, shares[0], first, judged.metrics)]
    stopped = "max rounds"
    for index in range(1, max_rounds):
        pending = [m for m in kept.values() if m.decision == "undecided"]
        helped = [m for m in pending if more_runs_can_decide(m) and reachable(m, max_rounds - index)]
        keys = probes_behind(helped, runs)
        if not pending or not keys:
            stopped = "decided" if not pending else STOPS[3]
            break
        left = None if deadline is None else deadline - clock()
        if left is not None and left < _estimate(keys, runs):
            stopped = "deadline"
            break
        runs.append(take(keys, left))
        judged = look(index)
        for m in judged.metrics:
            # Decided is final (the round that crossed a boundary keeps its verdict); the rest
            # take this round's judgement of all the runs so far.
            if kept.get(m.key) is None or kept[m.key].decision in ("undecided", None):
                kept[m.key] = m
                if m.decision in DECIDED:
                    decided_at[m.id] = index + 1
        looks.append(_look(index + 1, shares[index], runs[-1], list(kept.values())))
    undecided = tuple(sorted(m.id for m in kept.values() if m.decision == "undecided"))
    if not undecided:
        stopped = "decided"
    merged = Judged(judged.baseline, judged.candidate,
                    tuple(sorted(kept.values(), key=MetricComparison.severity)), judged.tests)
    c = conclude(merged, baseline, runs, budget=budget, alpha=alpha, require_decided=require_decided, acks=acks,
                 today=today)
    return Decided(replace(c, rounds=Rounds(max_rounds, tuple(looks), undecided, stopped, decided_at)), tuple(runs))
