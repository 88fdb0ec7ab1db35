"""The runner's rounds: one group of every sub-run probe per round, failures as data."""

import pytest

from triage.config import Config
from triage.model import Measurement
from triage.probes import GROUP_END, ProbeSkipped, ProbeSpec, group_sizes, measure
from triage.runner import RunOptions, run_probes

order: list[str] = []


def grouped(target, ctx):
    for g, size in enumerate(group_sizes(ctx.samples, ctx.config.groups)):
        if g:
            yield GROUP_END
        order.append(f"{target}{g}")
    yield Measurement.samples("latency", [1.0] * ctx.samples, groups=group_sizes(ctx.samples, ctx.config.groups))


def plain(target, ctx):
    order.append("plain")
    return [Measurement.gauge("seen", len(order))]


def breaks_in_its_second_group(target, ctx):
    order.append("breaks0")
    yield GROUP_END
    raise ConnectionResetError("the server went away")


def skips_at_once(target, ctx):
    raise ProbeSkipped("not here")
    yield  # a generator all the same


SPECS = [
    ProbeSpec("kernel", "grouped", grouped, targets=lambda cfg: [("a", "a"), ("b", "b")], subruns=True),
    ProbeSpec("kernel", "plain", plain),
    ProbeSpec("kernel", "breaks", breaks_in_its_second_group, subruns=True),
    ProbeSpec("kernel", "skips", skips_at_once, subruns=True),
]


def test_rounds_run_one_group_of_each_sub_run_probe_in_turn():
    order.clear()
    snap = run_probes(Config(groups=3, spread_s=0), RunOptions(samples=7), specs=SPECS)
    assert order == ["a0", "b0", "plain", "breaks0", "a1", "b1", "a2", "b2"]
    by = {(r.probe, r.target): r for r in snap.results}
    latency = by[("grouped", "a")].measurements[0]
    assert latency.groups == (3, 2, 2) and len(latency.values) == 7
    assert by[("plain", "local")].measurements[0].value == 3  # ran once, in the first round
    broken = by[("breaks", "local")]
    assert broken.status == "error" and broken.error == "ConnectionResetError: the server went away"
    assert (by[("skips", "local")].status, by[("skips", "local")].error) == ("skipped", "not here")
    # Results keep the order of the calls, whatever round each finished in.
    assert [(r.probe, r.target) for r in snap.results] == [
        ("grouped", "a"), ("grouped", "b"), ("plain", "local"), ("breaks", "local"), ("skips", "local")]


def test_a_sub_run_probe_alone_runs_its_groups_back_to_back():
    order.clear()
    got = measure(grouped, "z", type("Ctx", (), {"samples": 4, "config": Config(groups=2)})())
    assert order == ["z0", "z1"]
    assert [m.groups for m in got] == [(2, 2)]


@pytest.mark.parametrize("samples, groups, sizes", [
    (100, 10, [10] * 10), (25, 10, [3] * 5 + [2] * 5), (3, 10, [1, 1, 1]), (7, 1, [7]), (0, 10, []),
])
def test_group_sizes_split_samples_as_evenly_as_can_be(samples, groups, sizes):
    assert group_sizes(samples, groups) == sizes


def counts_its_groups_until_its_time_is_up(target, ctx):
    done = 0
    for g in range(5):
        if g:
            yield GROUP_END
        if ctx.expired():
            break
        done += 1
    yield Measurement.gauge("groups_done", done)


def test_a_sub_run_probe_out_of_time_still_stops_and_yields_what_it_measured():
    spec = ProbeSpec("kernel", "budget", counts_its_groups_until_its_time_is_up, subruns=True, timeout_s=1e-9)
    snap = run_probes(Config(spread_s=0), RunOptions(), specs=[spec])
    (r,) = snap.results
    assert r.status == "ok" and r.measurements[0].value == 0
    roomy = ProbeSpec("kernel", "budget", counts_its_groups_until_its_time_is_up, subruns=True)
    assert run_probes(Config(spread_s=0), RunOptions(), specs=[roomy]).results[0].measurements[0].value == 5
