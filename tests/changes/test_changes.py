"""triage.changes and `triage changes` on snapshots built from the recorded captures: the
kernel (3 new [net] entries and 5 others), glibc and tzdata differ between 4.3.18 and 4.3.19."""

from __future__ import annotations

import json

import pytest

from triage.budget import parse_budget
from triage.changes import Change, ChangeRule, ChangeSet, diff, layer_of, new_entries
from triage.model import Snapshot

from .captures import components, debian_packages, rhel_packages, snapshot


def write(tmp_path, name: str, snap: Snapshot) -> str:
    path = tmp_path / name
    path.write_text(snap.to_json())
    return str(path)


@pytest.fixture
def rhel_pair(tmp_path):
    return (write(tmp_path, "before.json", snapshot("4.3.18", rhel_packages("4.3.18"))),
            write(tmp_path, "after.json", snapshot("4.3.19", rhel_packages("4.3.19"))))


def test_kernel_glibc_and_tzdata_each_land_in_their_layer_old_to_new():
    cs = diff([snapshot("4.3.18", rhel_packages("4.3.18"))], [snapshot("4.3.19", rhel_packages("4.3.19"))])
    assert (cs.baseline, cs.candidate) == ("4.3.18", "4.3.19")
    assert cs.layers() == ["kernel", "dns", "other"]
    (kernel,) = cs.in_layer("kernel")
    assert (kernel.name, kernel.old, kernel.new) == ("kernel", "4.18.0-147.8.1.el8_1", "4.18.0-147.13.2.el8_1")
    assert kernel.members == ("kernel", "kernel-core", "kernel-modules", "kernel-modules-extra")
    assert (kernel.new_entries, kernel.networking_entries, kernel.exact) == (8, 3, True)
    assert [e.tag for e in kernel.entries] == ["net", "net", "net", "fs", "mm", "x86", "scsi", "kernel"]
    assert kernel.summary() == ("kernel 4.18.0-147.8.1.el8_1 → 4.18.0-147.13.2.el8_1 "
                                "(8 new changelog entries, 3 networking)")
    (glibc,) = cs.in_layer("dns")
    assert glibc.summary() == "glibc 2.28-101.el8 → 2.28-127.el8 (4 new changelog entries)"
    assert glibc.members == ("glibc", "glibc-common", "glibc-langpack-en")
    (tzdata,) = cs.in_layer("other")
    assert tzdata.summary() == "tzdata 2019c-1.el8 → 2020a-1.el8"
    assert cs.sources == ("kernel.packages",) and cs.notes == ()


def test_triage_changes_table_lists_kernel_networking_first_then_dns_and_other(triage, rhel_pair):
    done = triage("changes", *rhel_pair)
    assert done.code == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0] == "changes 4.3.18 → 4.3.19"
    heads = [line for line in lines if line and not line.startswith(" ")]
    assert heads[1:] == ["kernel (1 change)", "dns (1 change)", "other (1 change)"]
    kernel = lines.index("kernel (1 change)")
    assert lines[kernel + 1] == "  kernel 4.18.0-147.8.1.el8_1 → 4.18.0-147.13.2.el8_1 (8 new changelog entries, 3 networking)"
    shown = lines[kernel + 2:kernel + 8]
    assert [line.split(": ", 1)[1][:6] for line in shown[:3]] == ["[net] "] * 3
    assert shown[3].split(": ", 1)[1].startswith("[fs] xfs: fix mount failure")
    assert shown[5] == "      … and 3 more (--format json lists them)"
    assert "  glibc 2.28-101.el8 → 2.28-127.el8 (4 new changelog entries)" in lines
    assert "  tzdata 2019c-1.el8 → 2020a-1.el8" in lines


def test_triage_changes_json_carries_the_same(triage, rhel_pair):
    done = triage("changes", *rhel_pair, "--format", "json")
    assert done.code == 0 and done.stderr == ""
    out = json.loads(done.stdout)
    assert out["schema"] == "triage.changes/v1" and out["layers"] == ["kernel", "dns", "other"]
    kernel, glibc, tzdata = out["changes"]
    assert (kernel["layer"], glibc["layer"], tzdata["layer"]) == ("kernel", "dns", "other")
    assert (kernel["old"], kernel["new"], kernel["new_entries"], kernel["networking_entries"]) == (
        "4.18.0-147.8.1.el8_1", "4.18.0-147.13.2.el8_1", 8, 3)
    assert [e["networking"] for e in kernel["entries"]] == [True] * 3 + [False] * 5
    assert kernel["entries"][0] == {"version": "4.18.0-147.13.2.el8_1", "tag": "net", "networking": True,
                                    "text": "[net] sched: flower: add missing validation of TCA_FLOWER_FLAGS "
                                            "attribute (Ivan Vecera) [1822637 1807853]"}
    assert (glibc["name"], glibc["old"], glibc["new"], glibc["new_entries"]) == ("glibc", "2.28-101.el8",
                                                                                  "2.28-127.el8", 4)
    assert glibc["summary"] == "glibc 2.28-101.el8 → 2.28-127.el8 (4 new changelog entries)"
    assert tzdata["name"] == "tzdata"
    assert ChangeSet.from_dict(out).to_dict() == out  # reads back whole


def test_triage_changes_markdown_escapes_and_orders_the_same(triage, rhel_pair):
    done = triage("changes", *rhel_pair, "--format", "markdown")
    assert done.code == 0, done.stderr
    text = done.stdout
    assert text.startswith("# triage changes: 4.3.18 → 4.3.19\n\n## What changed\n")
    assert text.index("### kernel") < text.index("### dns") < text.index("### other")
    assert ("  - 4.18.0-147.13.2.el8\\_1: \\[net\\] sched: flower: add missing validation of "
            "TCA\\_FLOWER\\_FLAGS attribute (Ivan Vecera) \\[1822637 1807853\\]") in text


def test_stored_labels_work_like_compare(triage, tmp_path):
    for label in ("4.3.18", "4.3.19"):
        path = write(tmp_path, f"{label}.json", snapshot(label, rhel_packages(label)))
        assert triage("baseline", "save", label, path, "--store", str(tmp_path / "store")).code == 0
    done = triage("changes", "4.3.18", "4.3.19", "--store", str(tmp_path / "store"), "--format", "json")
    assert done.code == 0, done.stderr
    assert json.loads(done.stdout)["layers"] == ["kernel", "dns", "other"]


@pytest.mark.parametrize("args, message", [
    (("nope.json", "after.json"), "nope.json: no such snapshot JSON file"),
    (("before.json", "after.json", "--format", "yaml"), "--format: expected one of table, markdown, json, got 'yaml'"),
    (("before.json", "4.3.99", "--store", "store"), "4.3.99"),
    (("before.json", "after.json", "--budget", "bad.yaml"), "bad.yaml:2: changes[0].layer: expected one of kernel, "
                                                             "dns, kubernetes, database, app, other, got 'network'"),
])
def test_bad_input_is_one_line_and_exit_2(triage, tmp_path, rhel_pair, args, message):
    (tmp_path / "bad.yaml").write_text("changes:\n  - {match: iproute, layer: network}\n")
    (tmp_path / "store").mkdir()
    done = triage("changes", *args, cwd=tmp_path)
    assert done.code == 2 and done.stdout == ""
    assert done.stderr.startswith("triage: error: ") and message in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1


def test_the_budget_changes_section_goes_before_the_built_in_table(triage, tmp_path, rhel_pair):
    (tmp_path / "b.yaml").write_text("changes:\n  - {match: tzdata, layer: app}\n  - {match: 'glibc*', layer: other}\n")
    done = triage("changes", *rhel_pair, "--budget", str(tmp_path / "b.yaml"), "--format", "json")
    assert done.code == 0, done.stderr
    out = json.loads(done.stdout)
    assert out["layers"] == ["kernel", "app", "other"]
    assert [(c["layer"], c["name"]) for c in out["changes"]] == [("kernel", "kernel"), ("app", "tzdata"),
                                                                 ("other", "glibc")]
    assert parse_budget("changes:\n  - {match: x, layer: app}\n", "b.yaml").changes == (ChangeRule("x", "app", 2),)


def test_the_built_in_mapping():
    cases = {"kernel-modules-extra": "kernel", "iptables-libs": "kernel", "NetworkManager": "kernel",
             "openvswitch2.11": "kernel", "conntrack-tools": "kernel", "iproute2": "kernel", "ethtool": "kernel",
             "linux-firmware": "kernel", "linux-image-6.1.0-18-amd64": "kernel", "glibc-common": "dns",
             "libc6": "dns", "nss-altfiles": "dns", "systemd-resolved": "dns", "dnsmasq": "dns",
             "clusteroperator/dns": "dns", "image/openshift-dns/dns-default": "dns", "image/cluster-dns": "dns",
             "openshift-hyperkube": "kubernetes", "cri-o": "kubernetes", "runc": "kubernetes", "conmon": "kubernetes",
             "clusteroperator/network": "kubernetes", "image/openshift-ingress/router-default": "kubernetes",
             "image/openshift-sdn/ovs": "kernel", "node/kubelet": "kubernetes", "node/kernel": "kernel",
             "postgresql-15": "database", "libpq5": "database", "tzdata": "other", "systemd": "other",
             "bash": "other"}
    assert {name: layer_of(name) for name in cases} == cases


def test_debian_pair_groups_binaries_by_source_and_sees_added_and_removed():
    cs = diff([snapshot("before", debian_packages("before"))], [snapshot("after", debian_packages("after"))])
    (glibc,) = cs.in_layer("dns")
    assert (glibc.name, glibc.old, glibc.new) == ("glibc", "2.36-9+deb12u13", "2.36-9+deb12u14")
    assert "libc6" in glibc.members and "locales" in glibc.members
    (postgres,) = cs.in_layer("database")
    assert postgres.members == ("libpq-dev", "libpq5", "postgresql-15", "postgresql-client-15")
    assert postgres.summary() == "postgresql-15 15.13-0+deb12u1 → 15.18-0+deb12u1"
    other = {c.name: c for c in cs.in_layer("other")}
    assert other["bc"].status == "added" and other["bc"].summary() == "bc 1.07.1-3+b1 added"
    assert other["whois"].status == "removed" and other["tzdata"].old == "2025a-0+deb12u1"


def test_new_entries_stop_at_the_baseline_version_or_say_they_are_a_lower_bound():
    from triage.changes import ChangelogEntry as E

    candidate = [E("2.28-127", "c"), E("2.28-125", "b"), E("2.28-101", "a"), E("2.28-100", "z")]
    assert new_entries([], candidate, "2.28-101.el8") == (candidate[:2], True)  # the dist tag is left out of rpm's
    assert new_entries([E("2.28-125", "b")], candidate, "2.28-999") == (candidate[:1], True)
    assert new_entries([], candidate, "1:2.27-1") == (candidate, False)  # not within what was recorded
    assert new_entries([], candidate, "2.28-127.el8") == ([], True)  # a downgrade brings nothing new
    at_least = Change("kernel", "package", "kernel", "1", "2", "s", entries=(), new_entries=100, exact=False)
    assert at_least.entry_counts() == "at least 100 new changelog entries"


def test_components_put_the_dns_operator_and_its_image_in_dns_and_the_rest_in_kubernetes():
    cs = diff([snapshot("4.3.18", components("4.3.18"))], [snapshot("4.3.19", components("4.3.19"))])
    dns = {c.name: c for c in cs.in_layer("dns")}
    assert set(dns) == {"dns operator", "dns-default image", "dns-operator image"}
    assert dns["dns operator"].summary() == "dns operator 4.3.18 → 4.3.19 (coredns, openshift-cli changed)"
    assert dns["dns-default image"].summary() == "dns-default image changed"
    assert dns["dns-operator image"].members == ("dns-operator",)  # kube-rbac-proxy kept its image
    kubernetes = {c.name: c for c in cs.in_layer("kubernetes")}
    assert kubernetes["OpenShift"].summary() == "OpenShift 4.3.18 → 4.3.19 (1 new update history entry)"
    assert kubernetes["OpenShift"].entries[0].text.startswith("4.3.19 Completed ")
    assert {"network operator", "ingress operator", "kube-apiserver operator", "router-default image",
            "network-operator image", "sdn image"} <= set(kubernetes)
    assert [c.name for c in cs.in_layer("kernel")] == ["ovs image"]  # openvswitch is the kernel's datapath
    assert cs.sentence("dns") == ("dns operator 4.3.18 → 4.3.19 (coredns, openshift-cli changed), "
                                  "dns-default image changed, dns-operator image changed")
