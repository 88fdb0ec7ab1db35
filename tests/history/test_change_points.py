"""Change points over synthetic histories (triage.segmentation): a step is found at its label
with the layer that led it; A/A histories, an outlier run or label at the edges or in the
middle are no change points; the family holds over many histories with a fixed seed."""

from __future__ import annotations

import pytest

from triage.budget import parse_budget
from triage.segmentation import find_change_points, selection

from .synthetic import APP, DNS, KERNEL, Platform


def points(platform: Platform, seed: int, **kw) -> list[tuple[str, str, str, str]]:
    labels, runs = platform.history(seed)
    h = find_change_points(labels, runs, **kw)
    return [(cp.id, cp.label, cp.direction, cp.role) for cp in h.change_points]


def test_a_dns_step_at_label_8_with_app_following_names_label_8_for_both_dns_root():
    labels, runs = Platform(steps={7: {"dns": 1.5, "app": 1.3}}).history(1)
    h = find_change_points(labels, runs)
    assert [(cp.id, cp.label, cp.previous_label, cp.direction, cp.role) for cp in h.change_points] == [
        (DNS, "4.3.17", "4.3.16", "regressed", "root"),
        (APP, "4.3.17", "4.3.16", "regressed", "downstream")]
    dns, app = h.change_points
    assert app.downstream_of == ("dns",)
    assert dns.before == tuple(labels[:7]) and dns.after == tuple(labels[7:])
    low, high = dns.judged.components[0].ci_low, dns.judged.components[0].ci_high
    assert low < dns.judged.components[0].change < high and 0.12 < low  # +0.15 ms on 0.3 ms
    assert h.summary() == "dns regressed at 4.3.17; app followed at 4.3.17; kernel unchanged throughout"
    assert h.exit_status == 3
    # The series the Markdown charts: dns's median per label, stepping at label 8.
    series = h.series[DNS]
    assert max(series[:7]) < 0.33 < 0.42 < min(series[7:])


def test_a_aa_history_has_no_change_point_in_20_histories():
    platform = Platform()
    found = {seed: points(platform, seed) for seed in range(20)}
    assert all(p == [] for p in found.values()), {s: p for s, p in found.items() if p}


@pytest.mark.parametrize("where", [(0, 0), (11, 1), (5, 0)], ids=["first label", "last label", "middle"])
def test_an_outlier_run_is_not_a_change_point(where):
    assert points(Platform(outliers={where: {"dns": 3.0, "app": 2.0}}), 2) == []


@pytest.mark.parametrize("label", [0, 11, 6], ids=["first label", "last label", "middle"])
def test_an_outlier_label_is_not_a_change_point(label):
    platform = Platform(outliers={(label, 0): {"kernel": 4.0}, (label, 1): {"kernel": 4.0}})
    assert points(platform, 3) == []


def test_steps_two_labels_from_either_edge_are_found_and_a_change_back_too():
    assert points(Platform(steps={2: {"kernel": 1.6}}), 4) == [(KERNEL, "4.3.12", "regressed", "root")]
    assert points(Platform(steps={10: {"kernel": 1.6}}), 4) == [(KERNEL, "4.3.20", "regressed", "root")]
    there_and_back = points(Platform(steps={4: {"dns": 1.6}, 8: {"dns": 1 / 1.6}}), 5)
    assert there_and_back == [(DNS, "4.3.14", "regressed", "root"), (DNS, "4.3.18", "improved", "root")]


def test_a_kernel_step_makes_dns_downstream_at_its_label_and_dns_alone_later_is_root():
    found = points(Platform(steps={4: {"kernel": 1.6, "dns": 1.4}, 8: {"app": 1.3}}), 6)
    assert found == [(KERNEL, "4.3.14", "regressed", "root"), (DNS, "4.3.14", "regressed", "downstream"),
                     (APP, "4.3.18", "regressed", "root")]


def test_floors_decide_what_size_is_a_change():
    platform = Platform(steps={6: {"app": 1.08}})  # +8%: under the 10% default floor
    assert points(platform, 7) == []
    budget = parse_budget("rules:\n  - {match: 'app.*', relative: 3%}\n", "b.yaml")
    assert points(platform, 7, budget=budget) == [(APP, "4.3.16", "regressed", "root")]


def test_selection_narrows_the_search_to_layers_and_globs():
    platform = Platform(steps={7: {"dns": 1.5, "app": 1.3}})
    assert points(platform, 1, keep=selection(("dns",))) == [(DNS, "4.3.17", "regressed", "root")]
    # app alone: nothing below it was searched, so it leads its own step.
    assert points(platform, 1, keep=selection((), ("app.*.*.latency",))) == [(APP, "4.3.17", "regressed", "root")]
