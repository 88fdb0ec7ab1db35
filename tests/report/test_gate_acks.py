"""`triage gate --acks` against two real embedded DNS servers: an acknowledged regression passes
the gate and says so; a second, unacknowledged one fails it and only it is named; an expired
ack fails it."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest

from triage.repro.dns_server import EmbeddedDnsServer

NAME = "quay-db.quay.svc"


def dns_config(path, cluster_port: int, other_port: int) -> str:
    path.write_text(f"samples: 60\ndns:\n  resolvers: ['cluster-dns=127.0.0.1:{cluster_port}', "
                    f"'other-dns=127.0.0.1:{other_port}']\n  names: [{NAME}]\n  timeout: 0.5\n")
    return str(path)


@pytest.fixture(scope="module")
def gate(tmp_path_factory):
    """Stores a healthy baseline of two resolvers; returns a gate run against both resolvers
    slowed (cluster-dns) or not (other-dns), judged with the acks given."""
    from tests.cli_runner import InProcessTriage

    root = tmp_path_factory.mktemp("gate-acks")
    triage = InProcessTriage(str(root))
    with EmbeddedDnsServer("healthy", names=(NAME,)) as a, EmbeddedDnsServer("healthy", names=(NAME,)) as b:
        cfg = dns_config(root / "healthy.yaml", a.port, b.port)
        assert triage("probe", "--layers", "dns", "--label", "4.3.18", "--config", cfg, "--out", "h.json",
                      "-q").code == 0
    assert triage("baseline", "save", "4.3.18", "h.json", "--store", "S").code == 0

    def run(acks: str, other: str = "healthy"):
        (root / "acks.yaml").write_text(acks)
        with EmbeddedDnsServer("delay=3ms", names=(NAME,)) as slow, EmbeddedDnsServer(other, names=(NAME,)) as o:
            cfg = dns_config(root / "now.yaml", slow.port, o.port)
            out = triage("gate", "--baseline", "4.3.18", "--store", "S", "--config", cfg, "--label", "4.3.19",
                         "--acks", "acks.yaml", "--junit", "j.xml", "--report", "r.md")
        cases = ET.parse(root / "j.xml").getroot().findall("testcase")
        junit = {f"{c.get('classname')}.{c.get('name')}": c for c in cases}
        return out, junit, (root / "r.md").read_text()
    return run


CLUSTER_ACK = ("acks:\n  - match: 'dns.*@cluster-dns.*'\n    label: '4.3.19'\n"
               "    reason: slower cluster DNS on 4.3.19, fix in 4.3.20\n    ticket: OCPBUGS-1234\n")


def failed(junit) -> set[str]:
    return {k for k, c in junit.items() if c.find("failure") is not None}


def acknowledged(junit) -> set[str]:
    return {k for k, c in junit.items()
            if c.find("skipped") is not None and c.find("skipped").get("message").startswith("acknowledged")}


def test_a_gate_whose_only_regression_is_acknowledged_passes_and_says_so(gate):
    out, junit, report = gate(CLUSTER_ACK + "    expires: 2099-12-31\n")
    assert out.code == 0, out.stdout + out.stderr
    assert out.stdout.startswith("triage gate: ok — no new regression past the floors")
    assert "acknowledged regression" in out.stdout and "in dns" in out.stdout
    assert failed(junit) == set()
    assert f"dns.resolve.{NAME}@cluster-dns.latency_A" in acknowledged(junit)
    assert "## Acknowledged regressions" in report and "OCPBUGS-1234" in report


def test_a_second_unacknowledged_regression_fails_the_gate_naming_only_it(gate):
    out, junit, report = gate(CLUSTER_ACK, other="delay=3ms")
    assert out.code == 3, out.stdout + out.stderr
    assert out.stdout.startswith("triage gate: regressed (root suspect: dns) — regression in dns;")
    new = failed(junit)
    assert f"dns.resolve.{NAME}@other-dns.latency_A" in new
    assert all("@other-dns" in k for k in new), new  # the acknowledged resolver is named nowhere as failing
    assert all("@cluster-dns" in k for k in acknowledged(junit))
    assert acknowledged(junit)


def test_an_expired_ack_fails_the_gate(gate):
    out, junit, report = gate(CLUSTER_ACK + "    expires: 2020-01-31\n")
    assert out.code == 3, out.stdout + out.stderr
    assert "under an expired ack" in out.stdout
    assert f"dns.resolve.{NAME}@cluster-dns.latency_A" in failed(junit)
    assert acknowledged(junit) == set()
    assert "ack expired after 2020-01-31" in report
