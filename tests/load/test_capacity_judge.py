"""How a ramp's capacity is judged across runs: a fall stands only when the candidate found its
capacity and a step between the two capacities regressed in the family's own tests.
Snapshots built in memory, judged by the real judge, rendered by the real report."""

from __future__ import annotations

import random

from triage.judge import compare_snapshots
from triage.model import Measurement, ProbeResult, Snapshot
from triage.report import RenderOptions, render

FAST, SLOW = 1.0, 300.0  # ms: a step well under its SLO, and one far past it


def _samples(rng: random.Random, center: float, n: int = 200) -> list[float]:
    return [center * rng.lognormvariate(0, 0.25) for _ in range(n)]


def ramp(label: str, steps: dict[float, float], capacity: float, *, bound: str = "measured", seed: int = 1,
         errors: dict[float, int] | None = None, target: str = "cluster-dns", limited_at: float | None = None) -> Snapshot:
    """A snapshot holding one dns ramp: ``steps`` offered q/s -> the latency its samples centre on."""
    rng = random.Random(seed)
    ms = []
    for offered, center in steps.items():
        ms.append(Measurement(f"latency@{offered:g}qps", "samples", "lower", "ms", values=tuple(_samples(rng, center)),
                              groups=(20,) * 10))
        ms.append(Measurement.proportion(f"errors@{offered:g}qps", (errors or {}).get(offered, 0), 200))
    info = {"slo_ms": 50.0, "bound": bound, "unit": "q/s"}
    if limited_at is not None:
        info["generator_limited_at"] = limited_at
    ms.append(Measurement("capacity", "gauge", "higher", "q/s", value=capacity, extra={"capacity": info}))
    result = ProbeResult("dns", "ramp", target, "ok", measurements=tuple(ms))
    return Snapshot(label, "2026-11-23T15:00:00Z", "node-1", "0.1.0", (result,))


def capacity_row(c):
    return next(m for m in c.metrics if m.metric == "capacity")


def test_a_fall_corroborated_by_the_step_where_the_candidate_failed_is_a_regression():
    base = ramp("4.3.18", {100: FAST, 200: FAST, 400: FAST, 800: SLOW}, 400, seed=1)
    cand = ramp("4.3.19", {100: FAST, 200: SLOW}, 100, seed=2, errors={200: 40})
    c = compare_snapshots([base], [cand])
    row = capacity_row(c)
    assert row.verdict == "regressed", row.reason
    assert "corroborated by" in row.reason and "latency@200qps" in row.reason
    assert c.verdict == "regressed" and c.layers["dns"] == "regressed"
    dns = next(s for s in c.suspects if s.layer == "dns")
    assert dns.role == "root"
    assert dns.because.startswith("dns capacity of cluster-dns fell from 400 to 100 q/s (p99 SLO 50 ms)"), dns.because


def test_a_fall_no_step_confirms_is_not_a_regression():
    # The candidate's capacity reads lower, but its steps are the baseline's: a knee between
    # two grid points, read on either side of it. One reading per run cannot decide that.
    base = ramp("a", {100: FAST, 200: FAST, 400: FAST}, 400, seed=3)
    cand = ramp("b", {100: FAST, 200: FAST, 400: FAST}, 200, seed=4)
    c = compare_snapshots([base], [cand])
    row = capacity_row(c)
    assert row.verdict == "unchanged" and "not corroborated" in row.reason, row.reason
    assert row.decision == "undecided"
    assert c.verdict == "ok", c.reason


def test_a_candidate_that_never_found_its_capacity_shows_no_fall():
    # The candidate's generator gave out at 150 q/s: "at least 100" is a lower bound, however the steps look.
    base = ramp("a", {100: FAST, 200: FAST, 400: FAST, 800: SLOW}, 400, seed=5)
    cand = ramp("b", {100: SLOW}, 0, bound="at least", limited_at=150.0, seed=6)
    row = capacity_row(compare_snapshots([base], [cand]))
    assert row.verdict == "unchanged" and "lower bound" in row.reason, row.reason
    assert "generator-limited at 150 q/s, not the server's capacity" in row.lead_component.note


def test_the_report_draws_each_regressed_ramp_with_safe_mermaid_labels():
    name = 'dns"][ <b>|x'
    base = ramp("4.3.18", {100: FAST, 200: FAST, 400: FAST, 800: SLOW}, 400, seed=1, target=name)
    cand = ramp("4.3.19", {100: FAST, 200: SLOW}, 100, seed=2, target=name, limited_at=None)
    report = render(compare_snapshots([base], [cand]), "markdown", RenderOptions(full_report=True))
    section = report[report.index("## Load ramps"):report.index("## Metrics")]
    assert section.count("```mermaid") == 1
    chart = section[section.index("```mermaid"):section.index("```", section.index("```mermaid") + 3)]
    assert 'x-axis ["100", "200", "400", "800"]' in chart
    assert chart.count("    line [") == 2  # one line per version; the candidate's ends where its ramp stopped
    for line in chart.splitlines()[1:]:
        inside = line.split('"')[1::2]
        assert all(not set(text) & set('"[]<>|') for text in inside), line
    assert "&lt;b&gt;" in section and "<b>" not in section  # the escaped target in the heading


def test_the_downstream_sentence_says_where_on_its_ramp_the_layer_below_regressed():
    def side(label: str, seed: int, dns_slow_from: float, app_steps: dict, capacity: float) -> Snapshot:
        rng = random.Random(seed)
        dns = [Measurement(f"latency@{q:g}qps", "samples", "lower", "ms",
                           values=tuple(_samples(rng, SLOW if q >= dns_slow_from else FAST)), groups=(20,) * 10)
               for q in (200, 400, 800)]
        app = ramp(label, app_steps, capacity, seed=seed, target="registry").results[0]
        app = ProbeResult("app", "ramp", "registry", "ok",
                          measurements=tuple(Measurement(m.metric.replace("qps", "rps"), m.kind, m.better,
                                                         "req/s" if m.kind == "gauge" else m.unit, m.values,
                                                         m.events, m.trials, m.value, m.extra, m.groups)
                                             for m in app.measurements))
        return Snapshot(label, "2026-11-23T15:00:00Z", "node-1", "0.1.0",
                        (ProbeResult("dns", "ramp", "cluster-dns", "ok", measurements=tuple(dns)), app))

    base = side("4.3.18", 1, float("inf"), {100: FAST, 200: FAST, 400: FAST, 800: SLOW}, 400)
    cand = side("4.3.19", 2, 400, {100: FAST, 200: SLOW}, 100)
    c = compare_snapshots([base], [cand])
    app = next(s for s in c.suspects if s.layer == "app")
    assert app.role == "downstream"
    assert app.because.startswith("app capacity of registry fell from 400 to 100 req/s (p99 SLO 50 ms)")
    assert app.because.endswith("; below it dns regressed at 400 q/s and above → downstream of dns"), app.because
