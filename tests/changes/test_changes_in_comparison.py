"""Changes ranked next to the verdict: a comparison where dns regressed (the recorded compare
fixtures) on nodes whose packages and platform components were upgraded (the recorded
captures) names the dns layer's changes first in that suspect's evidence and in the report's
"What changed"; hostile package text is escaped in every renderer."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from triage.judge import compare_snapshots
from triage.model import Measurement, ProbeResult, Snapshot

from .captures import components, rhel_packages

COMPARE = Path(__file__).resolve().parents[1] / "fixtures" / "compare"
DNS_SENTENCE = ("in dns: glibc 2.28-101.el8 → 2.28-127.el8 (4 new changelog entries), dns operator 4.3.18 → 4.3.19 "
                "(coredns, openshift-cli changed), dns-default image changed, dns-operator image changed")


def upgraded(fixture: str, version: str) -> Snapshot:
    snap = Snapshot.load(str(COMPARE / fixture))
    return Snapshot(snap.label, snap.taken_at, snap.host, snap.tool_version,
                    snap.results + (rhel_packages(version), components(version)))


@pytest.fixture
def sides(tmp_path):
    paths = []
    for name, fixture, version in (("before", "baseline-4.3.18.json", "4.3.18"),
                                   ("after", "candidate-dns-app.json", "4.3.19")):
        path = tmp_path / f"{name}.json"
        path.write_text(upgraded(fixture, version).to_json())
        paths.append(str(path))
    return paths


def test_the_dns_suspect_leads_with_what_changed_in_dns(triage, sides):
    done = triage("compare", *sides, "--format", "json")
    assert done.code == 3, done.stderr
    out = json.loads(done.stdout)
    dns, app = out["suspects"]
    assert (dns["layer"], dns["role"], app["layer"]) == ("dns", "root", "app")
    assert dns["evidence"][0] == {"metric": "kernel.packages.local.packages", "kind": "changed", "text": DNS_SENTENCE}
    assert dns["evidence"][1]["kind"] == "regressed"
    # The package facts are read through the change set only, never listed as facts of the kernel.
    assert not any(e["metric"].startswith(("kernel.packages", "kubernetes.platform_components"))
                   for s in out["suspects"] for e in s["evidence"][1:])
    assert all(not e["text"].startswith("in ") for e in app["evidence"])  # nothing changed in app
    # Facts stay evidence: the upgrade's package changes regress nothing by themselves.
    assert out["layers"]["kernel"] == "ok" and out["layers"]["kubernetes"] == "ok"
    assert out["changes"]["layers"] == ["kernel", "dns", "kubernetes", "other"]


def test_the_report_opens_what_changed_with_the_root_suspects_layer(triage, sides, tmp_path):
    done = triage("report", *sides, "-o", str(tmp_path / "r.md"))
    assert done.code == 3, done.stderr
    report = (tmp_path / "r.md").read_text()
    section = report[report.index("## What changed"):]
    section = section[:section.index("\n## ", 5)]
    heads = [line for line in section.splitlines() if line.startswith("### ")]
    assert heads == ["### dns (root suspect)", "### kernel", "### kubernetes", "### other"]
    dns = section[section.index("### dns"):section.index("### kernel")]
    assert dns.splitlines()[2] == "- glibc 2.28-101.el8 → 2.28-127.el8 (4 new changelog entries)"
    assert "- dns-default image changed" in dns
    assert ("- kernel 4.18.0-147.8.1.el8\\_1 → 4.18.0-147.13.2.el8\\_1 (8 new changelog entries, 3 networking)"
            in section)
    assert f"- **changed** {DNS_SENTENCE}".replace("_", "\\_") in report  # and in the suspect's evidence
    facts = report[report.index("## Changed facts"):]
    assert "kernel.packages" not in facts and "platform\\_components" not in facts
    # A saved comparison renders the same section again.
    saved = tmp_path / "cmp.json"
    saved.write_text(triage("compare", *sides, "--format", "json").stdout)
    assert triage("report", str(saved), "-o", str(tmp_path / "again.md")).code == 3
    again = (tmp_path / "again.md").read_text()
    assert again[again.index("## What changed"):again.index("## Root-suspect")] == \
        report[report.index("## What changed"):report.index("## Root-suspect")]


def test_the_terminal_panel_carries_the_sentence(triage, sides):
    done = triage("compare", *sides, width=400)
    assert done.code == 3, done.stderr
    assert f"· changed: {DNS_SENTENCE}" in done.stdout


def test_a_layer_whose_change_is_not_the_suspects_own_is_left_to_what_changed():
    before, after = upgraded("baseline-4.3.18.json", "4.3.18"), upgraded("candidate-dns-app.json", "4.3.19")
    c = compare_snapshots([before], [after])
    (kernel,) = c.changes.in_layer("kernel")[:1]
    assert kernel.name == "kernel" and kernel.networking_entries == 3
    assert all("kernel 4.18.0" not in e.text for s in c.suspects for e in s.evidence)


HOSTILE = "[net] \x1b]0;pwned\x07\x1b[2J <img src=x onerror=alert(1)> | `rm -rf /` **bold** \u202eevil"


def hostile(version: str, text: str | None) -> Snapshot:
    packages = {"glibc": version, "evil|<b>`x`\x1b[31m": version}
    changelogs = {"glibc": [{"version": version, "text": text}] if text else []}
    facts = (Measurement.fact("package_manager", "rpm"), Measurement.fact("packages", packages),
             Measurement.fact("package_sources", {}), Measurement.fact("changelogs", changelogs))
    return Snapshot(version, "2020-05-27T10:00:00Z", "h", "0.1.0", (ProbeResult("kernel", "packages", "local",
                                                                                measurements=facts),))


@pytest.fixture
def hostile_sides(tmp_path):
    (tmp_path / "a.json").write_text(hostile("2.28-101.el8", None).to_json())
    (tmp_path / "b.json").write_text(hostile("2.28-127.el8", HOSTILE).to_json())
    return str(tmp_path / "a.json"), str(tmp_path / "b.json")


def test_hostile_changelog_text_is_inert_in_the_terminal(triage, hostile_sides):
    done = triage("changes", *hostile_sides, width=300)
    assert done.code == 0, done.stderr
    assert "\x1b" not in done.stdout and "\x07" not in done.stdout and "\u202e" not in done.stdout
    assert "[net] \\x1b]0;pwned\\x07\\x1b[2J <img src=x onerror=alert(1)>" in done.stdout
    assert "evil|<b>`x`\\x1b[31m 2.28-101.el8 → 2.28-127.el8" in done.stdout


def test_hostile_changelog_text_is_inert_in_markdown(triage, hostile_sides):
    done = triage("changes", *hostile_sides, "--format", "markdown")
    assert done.code == 0, done.stderr
    text = done.stdout
    assert "<img" not in text and "<b>" not in text and "\x1b" not in text and "\u202e" not in text
    assert ("\\[net\\] \\\\x1b\\]0;pwned\\\\x07\\\\x1b\\[2J &lt;img src=x onerror=alert(1)&gt; \\| \\`rm -rf /\\` "
            "\\*\\*bold\\*\\* \\\\u202eevil") in text
    assert "- evil\\|&lt;b&gt;\\`x\\`\\\\x1b\\[31m 2.28-101.el8 → 2.28-127.el8" in text


def test_hostile_changelog_text_is_data_in_json(triage, hostile_sides):
    done = triage("changes", *hostile_sides, "--format", "json")
    assert done.code == 0, done.stderr
    assert "\x1b" not in done.stdout and "\u202e" not in done.stdout  # escaped by the JSON encoder
    glibc = next(c for c in json.loads(done.stdout)["changes"] if c["name"] == "glibc")
    assert glibc["entries"][0]["text"] == HOSTILE and glibc["networking_entries"] == 1
