"""`triage ab`: two live platforms (real embedded DNS servers) probed interleaved."""

import json
import os

from triage.repro.dns_server import EmbeddedDnsServer
from tests.cli_runner import run_triage


def triage(*args, cwd=None):
    return run_triage(*args, cwd=cwd, timeout=300)

def config(path, port):
    path.write_text(f"samples: 40\ndns:\n  resolvers: ['cluster-dns=127.0.0.1:{port}']\n  names: [db.quay.svc]\n"
                    "  timeout: 0.5\n")
    return path.name


def test_ab_probes_interleaved_stores_every_run_and_blames_dns(tmp_path):
    with EmbeddedDnsServer("healthy", names=("db.quay.svc",)) as a, \
            EmbeddedDnsServer("delay=3ms", names=("db.quay.svc",)) as b:
        out = triage("ab", f"4.3.18={config(tmp_path / 'a.yaml', a.port)}",
                     f"4.3.19={config(tmp_path / 'b.yaml', b.port)}", "--layers", "dns", "--rounds", "2",
                     "--store", "S", "--format", "json", cwd=tmp_path)
        served = (a.stats()["queries"], b.stats()["queries"])
    assert out.returncode == 3, out.stderr
    result = json.loads(out.stdout)
    assert [(s["layer"], s["role"]) for s in result["suspects"]] == [("dns", "root")]
    assert sorted(os.listdir(tmp_path / "S" / "4.3.18")) and len(os.listdir(tmp_path / "S" / "4.3.19")) == 2
    # Both platforms were asked the same number of questions: 2 rounds x 40 samples x A/AAAA.
    assert served == (160, 160)


def test_ab_refuses_bad_specs_before_probing(tmp_path):
    out = triage("ab", "4.3.18", "4.3.19=b.yaml", cwd=tmp_path)
    assert out.returncode == 2 and "BASELINE: expected LABEL=CONFIG" in out.stderr
    out = triage("ab", "a=x.yaml", "b=y.yaml", "--format", "xml", cwd=tmp_path)
    assert out.returncode == 2 and "--format" in out.stderr
    assert not (tmp_path / "baselines").exists()
