"""Acknowledged regressions (`--acks`): the file's errors, which regressions an ack covers, and
how an acknowledged one reaches the verdict, the JSON, the terminal, the Markdown and JUnit."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET

import pytest

from triage.acks import parse_acks
from triage.errors import InputFileError

DNS = "dns.resolve.quay-db.latency"
APP = "app.http.registry.latency"


def acks(tmp_path, *entries: str) -> str:
    path = tmp_path / "acks.yaml"
    path.write_text("acks:\n" + "".join(entries))
    return str(path)


def ack(match="dns.*", label="4.3.19", reason="slower DNS on 4.3.19, fix in 4.3.20", **more) -> str:
    lines = [f"  - match: \"{match}\"\n", f"    label: \"{label}\"\n", f"    reason: \"{reason}\"\n"]
    lines += [f"    {key}: {value}\n" for key, value in more.items()]
    return "".join(lines)


@pytest.fixture
def compare(run_triage, fixture_path):
    def run(*args: str):
        return run_triage("compare", fixture_path("baseline-4.3.18.json"), fixture_path("candidate-dns-app.json"),
                          *args)
    return run


@pytest.mark.parametrize("body, needle", [
    ("acks:\n  - label: '4.3.19'\n    reason: r\n", "acks.yaml:2: acks[0].match: required"),
    ("acks:\n  - match: dns.*\n    label: '4.3.19'\n", "acks.yaml:2: acks[0].reason: required"),
    ("acks:\n  - match: dns.*\n    reason: r\n", "acks[0]: expected exactly one of label"),
    ("acks:\n  - match: dns.*\n    label: a\n    labels: [b]\n    reason: r\n", "expected exactly one of label"),
    ("acks:\n  - match: dns.*\n    label: 4.4\n    reason: r\n", "acks.yaml:3: acks[0].label: expected a label as text"),
    ("acks:\n  - match: dns.*\n    label: a\n    reason: r\n    expires: someday\n",
     "acks.yaml:5: acks[0].expires: expected a date like 2026-12-31, got 'someday'"),
    ("acks:\n  - match: dns.*\n    label: a\n    reason: r\n    expires: 2026-13-40\n", "acks.yaml: not valid YAML"),
    ("acks:\n  - match: dns.*\n    label: a\n    reason: r\n    accepted: lots\n",
     "acks.yaml:5: acks[0].accepted: expected a size like 40%"),
    ("acks:\n  - match: dns.*\n    label: a\n    reason: r\n    owner: me\n",
     "acks.yaml:5: acks[0].owner: unknown key"),
    ("ack: []\n", "acks.yaml:1: ack: unknown key, expected one of: acks"),
    ("acks: {match: x}\n", "acks: expected a list of acks"),
])
def test_malformed_acks_are_exit_2_naming_file_line_and_field(compare, tmp_path, body, needle):
    (tmp_path / "acks.yaml").write_text(body)
    res = compare("--acks", "acks.yaml")
    assert res.code == 2, res.stdout
    assert needle in res.stderr, res.stderr
    assert res.stdout == ""
    # One line from triage (a server thread another test left behind may print to stderr too).
    assert [line for line in res.stderr.splitlines() if line.startswith("triage")] == [res.stderr.splitlines()[-1]]


def test_missing_acks_file_is_exit_2(compare):
    res = compare("--acks", "nope.yaml")
    assert res.code == 2 and "nope.yaml" in res.stderr


def test_an_ack_file_reads_dates_quoted_or_not_and_sizes_as_written():
    parsed = parse_acks("acks:\n  - {match: '*', labels: ['4.3.*', nightly], reason: r, ticket: 1234,\n"
                        "     expires: 2026-12-31, accepted: 40%}\n  - {match: x, label: y, reason: r,\n"
                        "     expires: '2027-01-02', accepted: 2.5}\n", "a.yaml")
    first, second = parsed.entries
    assert first.labels == ("4.3.*", "nightly") and first.ticket == "1234" and first.expires == "2026-12-31"
    assert first.accepted_size() == (0.4, None) and second.accepted_size() == (None, 2.5)
    assert second.expires == "2027-01-02" and second.source == "a.yaml:4"
    with pytest.raises(InputFileError, match="a.yaml:2: acks.0..expires"):
        parse_acks("acks:\n  - {match: x, label: y, reason: r, expires: 31.12.2026}\n", "a.yaml")


def test_every_regression_acknowledged_is_exit_0_and_says_so(compare, tmp_path):
    path = acks(tmp_path, ack(ticket="OCPBUGS-1234", expires="2099-12-31"), ack(match="app.*", reason="follows DNS"))
    res = compare("--acks", path, "--format", "json")
    assert res.code == 0, res.stdout
    out = res.json()
    assert out["verdict"] == "ok"
    assert out["reason"].startswith("no new regression past the floors")
    assert out["reason"].endswith("2 acknowledged regressions in dns, app")
    assert out["acks"] == path
    # The judge's truth stays: the layers regressed, dns is still the root and app downstream of it.
    assert out["layers"]["dns"] == "regressed" and out["layers"]["app"] == "regressed"
    assert [(s["layer"], s["role"]) for s in out["suspects"]] == [("dns", "root"), ("app", "downstream")]
    rows = {m["id"]: m for m in out["metrics"]}
    assert rows[DNS]["verdict"] == "regressed"
    assert rows[DNS]["ack"] == {"status": "acknowledged", "note": "", "match": "dns.*", "labels": ["4.3.19"],
                                "reason": "slower DNS on 4.3.19, fix in 4.3.20", "ticket": "OCPBUGS-1234",
                                "expires": "2099-12-31", "accepted": None, "source": f"{path}:2"}
    assert rows[APP]["ack"]["reason"] == "follows DNS"
    assert rows["kernel.tcp_connect.quay-db.latency"]["ack"] is None


def test_a_second_unacknowledged_regression_fails_and_only_it_is_named(compare, tmp_path):
    path = acks(tmp_path, ack())
    res = compare("--acks", path, "--format", "json")
    assert res.code == 3
    out = res.json()
    assert out["reason"] == "regression in app; 1 acknowledged regression in dns"
    table = compare("--acks", path)
    assert table.code == 3
    assert "acknowledged: dns.resolve.quay-db.latency: slower DNS on 4.3.19, fix in 4.3.20" in table.stdout
    assert "acknowledged dns regressed" in table.stdout  # the suspect, marked in its panel


@pytest.mark.parametrize("more, status, note", [
    ({"expires": "2020-01-01"}, "expired", "ack expired after 2020-01-01"),
    ({"accepted": "20%"}, "exceeded", "larger than acknowledged: median at least +44%"),
    ({"accepted": 0.5}, "exceeded", "more than the 0.5 accepted"),
])
def test_an_expired_or_outgrown_ack_fails_as_a_new_regression(compare, tmp_path, more, status, note):
    path = acks(tmp_path, ack(), ack(match="app.*", **more))
    res = compare("--acks", path, "--format", "json")
    assert res.code == 3
    out = res.json()
    assert out["reason"].startswith("regression in app; 1 acknowledged regression in dns; 1 regression ")
    app = {m["id"]: m for m in out["metrics"]}[APP]
    assert app["ack"]["status"] == status and note in app["ack"]["note"]


def test_larger_means_the_interval_lies_beyond_the_accepted_size(compare, tmp_path):
    # dns latency regressed in its median, +1.2 ms from 0.29 ms (95% CI 1.13–1.26: at least +386%),
    # and in its p95, +1.8 ms from 0.43 ms (95% CI 1.66–2.01: at least +386% too).
    for accepted, status in (("400%", "acknowledged"), ("380%", "exceeded"), ("1.7", "acknowledged"),
                             ("1.6", "exceeded"), ("1.2", "exceeded")):
        path = acks(tmp_path, ack(match=DNS, accepted=accepted), ack(match="app.*"))
        out = compare("--acks", path, "--format", "json").json()
        assert {m["id"]: m for m in out["metrics"]}[DNS]["ack"]["status"] == status, accepted


def test_an_ack_for_another_label_or_metric_covers_nothing(compare, tmp_path):
    path = acks(tmp_path, ack(label="4.3.2*"), ack(match="database.*", label="4.3.19"))
    out = compare("--acks", path, "--format", "json").json()
    assert out["verdict"] == "regressed" and all(m["ack"] is None for m in out["metrics"])
    path = acks(tmp_path, ack(label="4.3.1*"), ack(match="app.*", label="*"))
    assert compare("--acks", path).code == 0  # label globs: 4.3.1* and * both cover 4.3.19


def test_a_valid_ack_wins_over_an_expired_one(compare, tmp_path):
    path = acks(tmp_path, ack(expires="2020-01-01"), ack(reason="re-filed", expires="2099-01-01"), ack(match="app.*"))
    out = compare("--acks", path, "--format", "json").json()
    assert out["verdict"] == "ok"
    assert {m["id"]: m for m in out["metrics"]}[DNS]["ack"]["reason"] == "re-filed"


def test_acks_reach_the_report_junit_and_a_saved_comparison(run_triage, fixture_path, tmp_path):
    path = acks(tmp_path, ack(ticket="OCPBUGS-1234"))
    sides = (fixture_path("baseline-4.3.18.json"), fixture_path("candidate-dns-app.json"))
    saved = run_triage("compare", *sides, "--acks", path, "--format", "json")
    (tmp_path / "cmp.json").write_text(saved.stdout)
    report = run_triage("report", "cmp.json")
    assert report.code == 3
    md = report.stdout
    assert "### dns: root suspect (acknowledged)" in md
    section = md[md.index("## Acknowledged regressions"):]
    assert f"| {DNS} | +1.2 ms (5.1×) | acknowledged | slower DNS on 4.3.19, fix in 4.3.20 | OCPBUGS-1234 |" \
        in section.replace("\\", "")
    assert "--acks" in md[md.index("## Reproduce"):]
    junit = run_triage("report", "cmp.json", "--format", "junit")
    cases = {f"{c.get('classname')}.{c.get('name')}": c for c in ET.fromstring(junit.stdout).findall("testcase")}
    assert cases[DNS].find("failure") is None
    assert cases[DNS].find("skipped").get("message").startswith("acknowledged regression: median resolve latency")
    assert cases[APP].find("failure") is not None
    brief = run_triage("compare", *sides, "--acks", path, "--format", "markdown")
    assert "**dns** (root suspect, acknowledged)" in brief.stdout
    assert f"| {DNS} | median |" in brief.stdout.replace("\\", "") and "| acknowledged |" in brief.stdout
    assert json.loads(saved.stdout)["acks"] == path
