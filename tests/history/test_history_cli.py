"""`triage history` over a real git store: the JSON contract, exit codes, label order,
narrowing, acks, the Markdown charts and bad input."""

from __future__ import annotations

import json

import pytest

from tests.cli_runner import InProcessTriage
from triage.model import Snapshot
from triage.versions import by_time, by_version

from .synthetic import APP, DNS, Platform


@pytest.fixture(scope="module")
def stores(tmp_path_factory):
    """Two stores of 12 labels each: one where dns steps up at label 8 and app follows, one A/A."""
    root = tmp_path_factory.mktemp("history")
    Platform(steps={7: {"dns": 1.5, "app": 1.3}}).store(root / "step", 1)
    Platform().store(root / "aa", 2)
    return root


@pytest.fixture
def history(stores):
    triage = InProcessTriage(str(stores))

    def run(*args: str):
        return triage("history", *args, drop=("TRIAGE_STORE", "NO_COLOR"))
    return run


def test_the_step_at_label_8_is_named_for_dns_and_app_with_dns_root(history):
    res = history("--store", "step", "--format", "json")
    assert res.code == 3, res.stderr
    out = res.json()
    assert out["schema"] == "triage.history/v1"
    assert out["labels"] == [f"4.3.{10 + i}" for i in range(12)]
    assert [(cp["metric"], cp["layer"], cp["label"], cp["previous_label"], cp["role"])
            for cp in out["change_points"]] == [(DNS, "dns", "4.3.17", "4.3.16", "root"),
                                                (APP, "app", "4.3.17", "4.3.16", "downstream")]
    dns = out["change_points"][0]
    assert dns["direction"] == "regressed" and dns["change"]["component"] == "median"
    low, high = dns["change"]["ci"]
    assert low < dns["change"]["absolute"] < high and dns["change"]["ci_level"] == 0.95
    assert dns["before"]["labels"] == out["labels"][:7] and dns["after"]["labels"] == out["labels"][7:]
    assert out["summary"] == "dns regressed at 4.3.17; app followed at 4.3.17; kernel unchanged throughout"
    assert out["layers"] == {"kernel": "unchanged throughout", "dns": "regressed at 4.3.17",
                             "app": "followed at 4.3.17"}
    assert out["steps"] == [{"label": "4.3.17", "previous_label": "4.3.16", "roots": ["dns"],
                             "downstream": ["app"]}]
    assert len(out["series"][DNS]) == 12


def test_an_aa_store_exits_0_and_the_table_says_what_it_searched(history):
    res = history("--store", "aa")
    assert res.code == 0, res.stderr
    assert "NO CHANGE POINT" in res.stdout
    assert "kernel and dns and app unchanged throughout" in res.stdout
    assert "12 labels (4.3.10 … 4.3.21, version order), 2 runs each; 5 metrics searched" in res.stdout


def test_markdown_has_one_chart_per_changed_root_metric(history):
    res = history("--store", "step", "--format", "markdown")
    assert res.code == 3
    md = res.stdout
    assert md.count("```mermaid") == 1  # dns is the root; app followed it
    chart = md[md.index("```mermaid"):]
    assert f'title "{DNS}"' in chart and 'x-axis ["4.3.10", "4.3.11"' in chart and "    line [" in chart
    assert "| 4.3.17 | 4.3.16 | dns.resolve.quay-db@cluster-dns.latency | regressed |" in md


def test_narrowing_by_layer_metric_and_label_globs(history):
    out = history("--store", "step", "--layer", "kernel,dns", "--format", "json").json()
    assert [cp["metric"] for cp in out["change_points"]] == [DNS]
    out = history("--store", "step", "--metric", "app.*.*.latency", "--format", "json").json()
    assert [(cp["metric"], cp["role"]) for cp in out["change_points"]] == [(APP, "root")]
    res = history("4.3.1[0-5]", "--store", "step", "--format", "json")  # before the step only
    assert res.code == 0 and res.json()["labels"] == [f"4.3.{10 + i}" for i in range(6)]


def test_an_acknowledged_change_point_does_not_exit_3(history, stores):
    (stores / "acks.yaml").write_text("acks:\n  - {match: 'dns.*', label: '4.3.17', reason: slower DNS}\n"
                                      "  - {match: 'app.*', label: '4.3.1*', reason: follows DNS}\n")
    res = history("--store", "step", "--acks", "acks.yaml", "--format", "json")
    assert res.code == 0, res.stderr
    out = res.json()
    assert [cp["ack"]["status"] for cp in out["change_points"]] == ["acknowledged", "acknowledged"]
    assert out["new_change_points"] == 0
    assert "(acknowledged)" in out["summary"]
    (stores / "acks.yaml").write_text("acks:\n  - {match: 'dns.*', label: '4.3.17', reason: slower DNS}\n")
    assert history("--store", "step", "--acks", "acks.yaml").code == 3  # app's change is new


@pytest.mark.parametrize("args, needle", [
    (("--layer", "network"), "--layer: expected one of kernel, dns, kubernetes, database, app"),
    (("--order", "random"), "--order: expected version or time"),
    (("--format", "xml"), "--format: expected one of table, markdown, json"),
    (("4.3.1[0-2]",), "history: 3 labels in store"),
    (("5.*",), "no stored label matches '5.*'"),
    (("--metric", "database.*"), "history: no metric of any layer matches 'database.*'"),
    (("--alpha", "0.9"), "--alpha: expected a family-wise error rate"),
])
def test_bad_input_is_exit_2_in_one_line(history, args, needle):
    res = history("--store", "step", *args)
    assert res.code == 2, res.stdout
    assert needle in res.stderr
    assert [line for line in res.stderr.splitlines() if line.startswith("triage")] == [res.stderr.splitlines()[-1]]


def test_labels_sort_as_versions_and_by_time():
    labels = ["4.4.0", "4.3.10", "4.4.0-rc.1", "4.3.9", "4.4.0-0.nightly-2020-05-27-123456", "4.10.0", "4.4.1",
              "4.4.0-0.nightly-2020-05-28-000000", "nightly-2026-11-3", "nightly-2026-11-20", "4.4.0.1", "v4.4.2"]
    assert by_version(labels) == ["4.3.9", "4.3.10", "4.4.0-0.nightly-2020-05-27-123456",
                                  "4.4.0-0.nightly-2020-05-28-000000", "4.4.0-rc.1", "4.4.0", "4.4.0.1", "4.4.1",
                                  "4.10.0", "nightly-2026-11-3", "nightly-2026-11-20", "v4.4.2"]
    when = {"b": ["2026-11-02T10:00:00Z", "2026-11-01T09:00:00+02:00"], "a": ["2026-11-01T08:00:00Z"],
            "c": ["2026-11-01T07:00:00"]}
    # b's first run was 07:00Z, as c's (a time without a zone is UTC): tied, by version.
    assert by_time(when, when) == ["b", "c", "a"]


def test_order_time_follows_the_first_run_of_each_label(history, stores, tmp_path):
    # Relabel the step store's runs so version order and time order disagree: time order is the truth.
    names = [f"4.3.{10 + i}" for i in range(12)]
    shuffled = names[6:] + names[:6]  # the label names of the runs, in time order
    triage = InProcessTriage(str(tmp_path))
    for name, real in zip(shuffled, names):
        for path in sorted((stores / "step" / real).glob("*.json")):
            snap = Snapshot.load(str(path))
            snap_path = tmp_path / f"{name}-{path.name}"
            snap_path.write_text(json.dumps({**snap.to_dict(), "label": name}))
            assert triage("baseline", "save", name, str(snap_path), "--store", "T").code == 0
    by_time_out = history("--store", str(tmp_path / "T"), "--order", "time", "--format", "json").json()
    assert by_time_out["labels"] == shuffled
    assert [(cp["metric"], cp["label"]) for cp in by_time_out["change_points"]] == [(DNS, shuffled[7]),
                                                                                   (APP, shuffled[7])]
