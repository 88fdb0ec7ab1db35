"""`triage gate` against a real embedded DNS server, and `triage demo` end to end."""

import os
import re
import xml.etree.ElementTree as ET

import git

from triage.repro.dns_server import EmbeddedDnsServer
from triage.rerun import demo_next_steps


def dns_config(path, port):
    path.write_text(f"samples: 60\ndns:\n  resolvers: ['cluster-dns=127.0.0.1:{port}']\n"
                    "  names: [quay-db.quay.svc]\n  timeout: 0.5\n")
    return str(path)


def test_gate_fails_on_slow_dns_with_junit_failure_and_summary(triage, tmp_path):
    with EmbeddedDnsServer("healthy", names=("quay-db.quay.svc",)) as healthy:
        cfg = dns_config(tmp_path / "healthy.yaml", healthy.port)
        assert triage("probe", "--layers", "dns", "--label", "healthy", "--config", cfg, "--out", "h.json",
                      "-q").code == 0
    assert triage("baseline", "save", "healthy", "h.json", "--store", "S").code == 0
    summary = tmp_path / "summary.md"
    summary.write_text("earlier step\n")
    with EmbeddedDnsServer("delay=3ms", names=("quay-db.quay.svc",)) as slow:
        cfg = dns_config(tmp_path / "slow.yaml", slow.port)
        out = triage("gate", "--baseline", "healthy", "--store", "S", "--config", cfg, "--label", "4.3.19",
                     "--junit", "j.xml", "--report", "r.md", "--save-as", "4.3.19",
                     env={"GITHUB_STEP_SUMMARY": str(summary)})
    assert out.code == 3, out.stderr
    assert out.stdout.startswith("triage gate: regressed (root suspect: dns)")
    cases = ET.parse(tmp_path / "j.xml").getroot().findall("testcase")
    failed = [f"{c.get('classname')}.{c.get('name')}" for c in cases if c.find("failure") is not None]
    assert "dns.resolve.quay-db.quay.svc@cluster-dns.latency_A" in failed
    report = (tmp_path / "r.md").read_text()
    assert "### dns: root suspect" in report
    # The report names the gate it ran, to paste and run again.
    assert f"triage gate --baseline healthy --label 4.3.19 --config {cfg} --store S" in report
    assert summary.read_text().startswith("earlier step\n" + report.rstrip("\n"))
    # A failing gate never stores its run.
    assert sorted(os.listdir(tmp_path / "S")) == [".git", ".gitignore", "healthy"]


def test_gate_refuses_unknown_baseline_before_probing(triage):
    out = triage("gate", "--baseline", "nope", "--store", "S", "--layers", "kernel")
    assert out.code == 2
    assert "unknown label 'nope'" in out.stderr


def test_gate_refuses_bad_options_before_probing(triage, tmp_path):
    refusals = {("--alpha", "0.7"): "--alpha: expected a family-wise error rate",
                ("--save-as", "a/b"): "label 'a/b': expected letters",
                ("--junit", "no/such/dir/j.xml"): "--junit no/such/dir/j.xml: cannot write",
                ("--budget", "nope.yaml"): "nope.yaml: no such"}
    for option, needle in refusals.items():
        out = triage("gate", "--baseline", "nope", "--store", "S", "--layers", "kernel", *option)
        assert out.code == 2 and needle in out.stderr, (option, out.stderr)
    assert not (tmp_path / "triage-report.md").exists()


def test_passing_gate_saves_the_run(triage, tmp_path):
    (tmp_path / "wide.yaml").write_text("rules:\n  - match: '*'\n    relative: 100\n    absolute: 1000000\n")
    assert triage("probe", "--layers", "kernel", "--samples", "30", "--label", "base", "--out", "b.json",
                  "-q").code == 0
    assert triage("baseline", "save", "base", "b.json", "--store", "S").code == 0
    out = triage("gate", "--baseline", "base", "--store", "S", "--samples", "30", "--budget", "wide.yaml",
                 "--save-as", "next")
    assert out.code == 0, out.stdout + out.stderr
    assert "saved run" in out.stderr
    assert len(os.listdir(tmp_path / "S" / "next")) == 1
    assert len(list(git.Repo(tmp_path / "S").iter_commits())) == 2


def test_demo_names_dns_root_and_app_downstream(triage, tmp_path):
    ticks = iter((100.0, 142.0))  # the clock the demo reads when it starts and when it is done
    out = triage("demo", "--store", "S", "--report", "r.md", "--rounds", "2", "--samples", "30",
                 clock=lambda: next(ticks), env={"COLUMNS": "100"})
    assert out.code == 0, out.stdout + out.stderr
    assert "root suspect: dns (as expected)" in out.stdout
    assert "report r.md; took 42s" in out.stdout
    # COLUMNS=100: not one line longer, on either stream.
    assert max(len(line) for line in (out.stdout + out.stderr).splitlines()) <= 100
    report = (tmp_path / "r.md").read_text()
    assert "**Verdict: regressed**: root suspect dns; downstream app." in report
    # Changes past 3x read as factors, never +NNNN%; one chart per regressed DNS target, one line per version.
    assert not re.search(r"[+-]\d{4,}%", report + out.stdout)
    charts = report.split("```mermaid")[1:]
    regressed_targets = {m.group(1) for m in re.finditer(r"\| (dns\.resolve\.[^|]*?)\\?\.latency\\?_A{1,4} \|", report)}
    assert 1 <= len(charts) == len(regressed_targets) <= 3
    assert all(chart.count("\n    line [") == 2 for chart in charts)
    # Its reproduce commands rerun the demo and its comparison, not a probe of a platform that is gone.
    reproduce = report[report.index("## Reproduce"):]
    assert "triage demo --rounds 2 --samples 30 --store S" in reproduce
    assert "triage compare 4.3.18 4.3.19 --store S" in reproduce
    assert "triage probe" not in reproduce
    # What to try next works on the runs it stored (a store path with a space stays one word).
    assert out.stdout.split("Next, try:\n")[1].splitlines()[:3] == [
        "  triage compare 4.3.18 4.3.19 --store S", "  triage report 4.3.18 4.3.19 --store S --format junit -o junit.xml",
        "  triage baseline list --store S"]
    assert demo_next_steps("4.3.18", "4.3.19", "/tmp/my store")[2] == "triage baseline list --store '/tmp/my store'"
    assert sorted(os.listdir(tmp_path / "S")) == [".git", ".gitignore", "4.3.18", "4.3.19"]
    assert len(os.listdir(tmp_path / "S" / "4.3.19")) == 2
