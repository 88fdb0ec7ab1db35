"""`triage gate` against a real embedded DNS server, and `triage demo` end to end."""

import os
import xml.etree.ElementTree as ET

import git

from triage.repro.dns_server import EmbeddedDnsServer
from tests.cli_runner import run_triage


def triage(*args, cwd=None, env=None):
    return run_triage(*args, cwd=cwd, env=env, timeout=300)

def dns_config(path, port):
    path.write_text(f"samples: 60\ndns:\n  resolvers: ['cluster-dns=127.0.0.1:{port}']\n"
                    "  names: [quay-db.quay.svc]\n  timeout: 0.5\n")
    return str(path)


def test_gate_fails_on_slow_dns_with_junit_failure_and_summary(tmp_path):
    with EmbeddedDnsServer("healthy", names=("quay-db.quay.svc",)) as healthy:
        cfg = dns_config(tmp_path / "healthy.yaml", healthy.port)
        assert triage("probe", "--layers", "dns", "--label", "healthy", "--config", cfg, "--out", "h.json", "-q",
                      cwd=tmp_path).returncode == 0
    assert triage("baseline", "save", "healthy", "h.json", "--store", "S", cwd=tmp_path).returncode == 0
    summary = tmp_path / "summary.md"
    with EmbeddedDnsServer("delay=3ms", names=("quay-db.quay.svc",)) as slow:
        cfg = dns_config(tmp_path / "slow.yaml", slow.port)
        out = triage("gate", "--baseline", "healthy", "--store", "S", "--config", cfg, "--label", "4.3.19",
                     "--junit", "j.xml", "--report", "r.md", "--save-as", "4.3.19", cwd=tmp_path,
                     env={"GITHUB_STEP_SUMMARY": str(summary)})
    assert out.returncode == 3, out.stderr
    assert out.stdout.startswith("triage gate: regressed (root suspect: dns)")
    cases = ET.parse(tmp_path / "j.xml").getroot().findall("testcase")
    failed = [f"{c.get('classname')}.{c.get('name')}" for c in cases if c.find("failure") is not None]
    assert "dns.resolve.quay-db.quay.svc@cluster-dns.latency_A" in failed
    report = (tmp_path / "r.md").read_text()
    assert "### dns: root suspect" in report
    assert summary.read_text().startswith(report.rstrip("\n"))
    # A failing gate never stores its run.
    assert sorted(os.listdir(tmp_path / "S")) == [".git", ".gitignore", "healthy"]


def test_gate_refuses_unknown_baseline_before_probing(tmp_path):
    out = triage("gate", "--baseline", "nope", "--store", "S", "--layers", "kernel", cwd=tmp_path)
    assert out.returncode == 2
    assert "unknown label 'nope'" in out.stderr


def test_passing_gate_saves_the_run(tmp_path):
    (tmp_path / "wide.yaml").write_text("rules:\n  - match: '*'\n    relative: 100\n    absolute: 1000000\n")
    assert triage("probe", "--layers", "kernel", "--samples", "30", "--label", "base", "--out", "b.json", "-q",
                  cwd=tmp_path).returncode == 0
    assert triage("baseline", "save", "base", "b.json", "--store", "S", cwd=tmp_path).returncode == 0
    out = triage("gate", "--baseline", "base", "--store", "S", "--samples", "30", "--budget", "wide.yaml",
                 "--save-as", "next", cwd=tmp_path)
    assert out.returncode == 0, out.stdout + out.stderr
    assert "saved run" in out.stderr
    assert len(os.listdir(tmp_path / "S" / "next")) == 1
    assert len(list(git.Repo(tmp_path / "S").iter_commits())) == 2


def test_demo_names_dns_root_and_app_downstream(tmp_path):
    out = triage("demo", "--quiet", "--store", "S", "--report", "r.md", "--rounds", "2", "--samples", "30",
                 cwd=tmp_path)
    assert out.returncode == 0, out.stdout + out.stderr
    assert "root suspect: dns (as expected)" in out.stdout
    report = (tmp_path / "r.md").read_text()
    assert "**Verdict: regressed**: root suspect dns; downstream app." in report
    assert sorted(os.listdir(tmp_path / "S")) == [".git", ".gitignore", "4.3.18", "4.3.19"]
    assert len(os.listdir(tmp_path / "S" / "4.3.19")) == 2
