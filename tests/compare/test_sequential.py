"""The gate that samples until it decides (triage.sequential), on in-memory snapshots: the
spending rule, decisions that stay made, what is probed again and why it stops."""

from __future__ import annotations

import dataclasses
import itertools

import numpy as np
import pytest

from triage import stats
from triage.judge import compare_snapshots
from triage.model import Measurement, ProbeResult, Snapshot
from triage.report import RenderOptions, render
from triage.sequential import probes_behind, reachable, until_decided
from triage.verdict import Comparison

APP = ("app", "http", "registry")
DB = ("database", "query", "pull")


def run(results: dict[tuple[str, str, str], list[Measurement]], label: str = "b") -> Snapshot:
    return Snapshot(label, "2026-11-23T15:00:00Z", "host-1", "0.1.0",
                    tuple(ProbeResult(*key, measurements=tuple(ms), duration_s=0.5) for key, ms in results.items()))


def latency(seed: int, median: float, n: int, groups: int = 10) -> Measurement:
    values = np.random.default_rng(seed).lognormal(np.log(median), 0.1, n).round(5).tolist()
    return Measurement.samples("latency", values, unit="ms", groups=[n // groups] * groups)


@pytest.mark.parametrize("looks", range(1, stats.MAX_LOOKS + 1))
def test_the_shares_halve_never_increase_and_spend_exactly_alpha(looks):
    shares = stats.look_shares(looks)
    assert len(shares) == looks and sum(shares) == pytest.approx(1.0, abs=1e-15)
    assert all(a >= b for a, b in itertools.pairwise(shares))
    assert shares[0] == (1.0 if looks == 1 else 0.5)


def test_shares_out_of_range_are_refused():
    for looks in (0, stats.MAX_LOOKS + 1):
        with pytest.raises(ValueError):
            stats.look_shares(looks)
    assert stats.look_shares(4) == (0.5, 0.25, 0.125, 0.125)


def test_a_look_judged_at_a_share_of_alpha_scales_holm_so_alpha_still_decides():
    ps = [[0.001, 0.02], [0.004], [None], [0.3, 0.0005]]
    whole, quarter = stats.adjust_family(ps), stats.adjust_family(ps, share=0.25)
    for row_whole, row_quarter in zip(whole.adjusted, quarter.adjusted):
        for w, q in zip(row_whole, row_quarter):
            assert q == (None if w is None else pytest.approx(min(1.0, w * 4)))
    # Holm by hand: metric p-values 0.002 (2 x 0.001), 0.004, 0.001 (2 x 0.0005); ranks 2, 3, 1.
    assert whole.adjusted[1][0] == pytest.approx(max(3 * 0.001, 2 * 0.002, 0.004))
    assert quarter.size == whole.size == 3


def test_the_judge_at_a_share_is_the_judge_at_that_alpha():
    base = run({APP: [latency(1, 5.0, 200)]}, "a")
    cand = run({APP: [latency(2, 5.6, 200)]})
    at_share = compare_snapshots([base], [cand], alpha=0.01, share=0.25)
    at_alpha = compare_snapshots([base], [cand], alpha=0.0025)
    m, n = at_share.metrics[0], at_alpha.metrics[0]
    assert m.verdict == n.verdict and m.p_adjusted == pytest.approx(n.p_adjusted * 4)
    assert at_share.alpha == 0.01  # the family-wise α is what the comparison reports


def test_an_inconclusive_metric_is_probed_again_and_decided_a_round_later():
    base = [run({APP: [latency(1, 5.0, 200)], DB: [latency(2, 2.0, 200)]}, "a")]
    draws = itertools.count(10)

    def take(keys, left):
        assert keys == frozenset({DB})  # the app latency ruled out a regression at once
        return run({DB: [latency(next(draws), 4.0, 5, groups=5)]})

    first = run({APP: [latency(3, 5.0, 200)], DB: [latency(4, 4.0, 5, groups=5)]})
    decided = until_decided(base, first, take, max_rounds=4)
    c, rounds = decided.comparison, decided.comparison.rounds
    assert rounds.decided_at == {"app.http.registry.latency": 1, "database.query.pull.latency": 2}
    assert rounds.stopped == "decided" and rounds.undecided == ()
    assert [look.samples for look in rounds.looks] == [205, 5] and len(decided.runs) == 2
    assert c.verdict == "regressed"
    assert {m.id: m.verdict for m in c.metrics}["database.query.pull.latency"] == "regressed"
    line = "2 of 4 rounds (stopped: decided), 210 samples (205 + 5); α = 0.01 spent as 0.005 + 0.0025"
    assert line in rounds.summary(c.alpha)
    assert f"rounds: {line}" in render(c, "table", RenderOptions(width=200)).replace("\n", " ")
    assert f"- rounds: {line}" in render(c, "markdown")
    full = render(c, "markdown", RenderOptions(full_report=True))
    assert "## Rounds" in full and "| 2 | 0.0025 | database.query.pull | 5 | 2 | 0 |" in full


def test_a_decision_is_final_even_when_later_runs_of_its_probe_disagree():
    # One probe, two metrics: latency regressed at once, "queue" too thin to judge. The probe
    # runs again for "queue"; its latency now comes back healthy, yet round 1 decided it.
    def probe(seed: int, median: float, queue_n: int) -> dict:
        return {APP: [latency(seed, median, 100), Measurement.samples(
            "queue", np.random.default_rng(seed + 1).lognormal(0, 0.1, queue_n).tolist(), unit="ms")]}

    base = [run(probe(1, 5.0, 200), "a")]
    later = itertools.count(100)
    decided = until_decided(base, run(probe(2, 10.0, 4)), lambda keys, left: run(probe(next(later), 5.0, 4)),
                            max_rounds=3)
    rows = {m.id: m for m in decided.comparison.metrics}
    assert rows["app.http.registry.latency"].verdict == "regressed"
    assert rows["app.http.registry.latency"].candidate.n == 100  # the round-1 judgement, kept
    assert decided.comparison.rounds.decided_at["app.http.registry.latency"] == 1
    pooled_again = compare_snapshots(base, list(decided.runs))
    assert {m.id: m for m in pooled_again.metrics}["app.http.registry.latency"].verdict != "regressed"


def rate(events: int, trials: int, **extra) -> Measurement:
    return dataclasses.replace(Measurement.proportion("timeouts", events, trials), extra=extra)


def test_zero_errors_in_200_cannot_be_ruled_out_in_any_rounds_left_but_in_thousands_can():
    thin = compare_snapshots([run({APP: [rate(0, 200)]}, "a")], [run({APP: [rate(0, 200)]})]).metrics[0]
    assert thin.decision == "undecided"
    assert not reachable(thin, 3) and not reachable(thin, 9)
    wide = compare_snapshots([run({APP: [rate(0, 5000)]}, "a")], [run({APP: [rate(0, 2000)]})]).metrics[0]
    assert wide.decision == "undecided" and reachable(wide, 2)


def test_a_rate_added_up_over_targets_brings_back_every_target_that_feeds_it():
    resolver = {"combine": "cluster-dns"}
    keys = [("dns", "resolve", f"name-{i}@cluster-dns") for i in range(3)]
    runs = [run({key: [rate(0, 50, **resolver)] for key in keys} | {APP: [rate(0, 50)]}, "a")]
    c = compare_snapshots(runs, runs)
    combined = [m for m in c.metrics if m.target == "all@cluster-dns"]
    assert len(combined) == 1
    assert probes_behind(combined, runs) == frozenset(keys)


def test_it_stops_at_the_deadline_when_the_next_round_would_not_fit():
    base = [run({DB: [latency(1, 2.0, 200)]}, "a")]
    clock = iter([9.8]).__next__  # 0.2 s left before the deadline; the probe took 0.5 s

    def take(keys, left):
        raise AssertionError("no round should start")

    decided = until_decided(base, run({DB: [latency(2, 2.0, 5, groups=5)]}), take, max_rounds=4, deadline=10.0,
                            clock=clock)
    rounds = decided.comparison.rounds
    assert rounds.stopped == "deadline" and len(rounds.looks) == 1
    assert rounds.undecided == ("database.query.pull.latency",)
    assert decided.comparison.verdict == "inconclusive"


def test_rounds_survive_a_json_round_trip():
    base = [run({DB: [latency(1, 2.0, 200)]}, "a")]
    draws = itertools.count(5)
    decided = until_decided(base, run({DB: [latency(2, 2.0, 5, groups=5)]}),
                            lambda keys, left: run({DB: [latency(next(draws), 2.0, 5, groups=5)]}), max_rounds=3)
    c = decided.comparison
    back = Comparison.from_json(c.to_json())
    assert back.rounds == c.rounds and back.to_json() == c.to_json()
    assert Comparison.from_json(compare_snapshots(base, base).to_json()).rounds is None
