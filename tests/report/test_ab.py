"""`triage ab`: two live platforms (real embedded DNS servers) probed interleaved."""

import json
import os

from triage.repro.dns_server import EmbeddedDnsServer
from triage.judging import Judging
from triage.rerun import for_ab


def config(path, port):
    path.write_text(f"samples: 40\ndns:\n  resolvers: ['cluster-dns=127.0.0.1:{port}']\n  names: [db.quay.svc]\n"
                    "  timeout: 0.5\n")
    return path.name


def test_ab_probes_interleaved_stores_every_run_and_blames_dns(triage, tmp_path):
    with EmbeddedDnsServer("healthy", names=("db.quay.svc",)) as a, \
            EmbeddedDnsServer("delay=3ms", names=("db.quay.svc",)) as b:
        out = triage("ab", f"4.3.18={config(tmp_path / 'a.yaml', a.port)}",
                     f"4.3.19={config(tmp_path / 'b.yaml', b.port)}", "--layers", "dns", "--rounds", "2",
                     "--store", "S", "--format", "json")
        served = (a.stats()["queries"], b.stats()["queries"])
    assert out.code == 3, out.stderr
    assert out.stderr == ""  # --format json: no phase lines either
    result = json.loads(out.stdout)
    assert [(s["layer"], s["role"]) for s in result["suspects"]] == [("dns", "root")]
    assert sorted(os.listdir(tmp_path / "S" / "4.3.18")) and len(os.listdir(tmp_path / "S" / "4.3.19")) == 2
    # Both platforms were asked the same number of questions: 2 rounds x 40 samples x A/AAAA.
    assert served == (160, 160)


def test_ab_rerun_commands_name_the_platforms_and_the_store():
    assert for_ab(("4.3.18", "a.yaml"), ("4.3.19", "b b.yaml"), rounds=2, layers=("dns",), samples=None,
                  judging=Judging(store="S")) == (
        "triage ab 4.3.18=a.yaml '4.3.19=b b.yaml' --rounds 2 --layers dns --store S",
        "triage compare 4.3.18 4.3.19 --store S",
        "triage report 4.3.18 4.3.19 --store S -o triage-report.md")


def test_ab_refuses_bad_specs_before_probing(triage, tmp_path):
    out = triage("ab", "4.3.18", "4.3.19=b.yaml")
    assert out.code == 2 and "BASELINE: expected LABEL=CONFIG" in out.stderr
    out = triage("ab", "a=x.yaml", "b=y.yaml", "--format", "xml")
    assert out.code == 2 and "--format" in out.stderr
    out = triage("ab", "a=x.yaml", "b=y.yaml", "--alpha", "0.7")
    assert out.code == 2 and "--alpha" in out.stderr
    out = triage("ab", "a=x.yaml", "b=y.yaml")
    assert out.code == 2 and "x.yaml: no such config file" in out.stderr
    assert not (tmp_path / "baselines").exists()
