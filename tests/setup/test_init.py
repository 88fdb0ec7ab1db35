"""`triage init` in an empty directory: a commented triage.yaml from what this machine shows
(a resolv.conf, a kubeconfig reaching a local API server, PG* variables), which `triage probe
--config triage.yaml` accepts and runs; a second init is refused unless --force."""

from __future__ import annotations

import json

import pytest
import yaml

from tests.kubernetes import kube_states
from tests.kubernetes.kubeapi_server import KubeApiServer

RESOLV = "nameserver 127.0.0.1\nnameserver 127.0.0.2\nsearch quay.svc.cluster.local svc.cluster.local\noptions ndots:5\n"


@pytest.fixture
def machine(tmp_path):
    """Environment variables of a machine with a resolv.conf, a kubeconfig and PG* variables."""
    (tmp_path / "resolv.conf").write_text(RESOLV)
    with KubeApiServer(kube_states.openshift("4.3.19")) as server:
        kubeconfig = kube_states.write_kubeconfig(tmp_path / "kubeconfig", server.url)
        yield {"TRIAGE_RESOLV_CONF": str(tmp_path / "resolv.conf"), "KUBECONFIG": str(kubeconfig),
               "PGHOST": "db.example.com", "PGUSER": "quay", "PGDATABASE": "quay", "PGPASSWORD": "s3cr3t-pw"}


def test_init_writes_what_it_sees_and_probe_accepts_it(triage, tmp_path, machine):
    work = tmp_path / "empty"
    work.mkdir()
    out = triage("init", cwd=work, env=machine)
    assert out.code == 0, out.stderr
    assert out.stdout.splitlines()[-1] == "next: triage doctor"
    text = (work / "triage.yaml").read_text()
    data = yaml.safe_load(text)
    assert data["samples"] == 100 and data["groups"] == 10 and data["spread"] == 1
    assert data["dns"]["resolvers"] == ["system"]
    assert "nameservers 127.0.0.1 127.0.0.2; search quay.svc.cluster.local svc.cluster.local; ndots 5" in text
    assert '"nameserver-2=127.0.0.2"' in text  # the second nameserver, commented, to ask directly
    assert data["kubernetes"] == {"kubeconfig": machine["KUBECONFIG"], "context": "staging", "namespaces": ["quay"],
                                  "timeout": 10}
    assert '#   dsn: "host=db.example.com dbname=quay user=quay"' in text
    assert "s3cr3t-pw" not in text  # a password is never written: PGPASSWORD stays where it is
    assert "# prometheus:" in text and "# - name: registry" in text
    probe = triage("probe", "--config", "triage.yaml", "--out", "s.json", "-q", cwd=work, env=machine)
    assert probe.code == 0, probe.stderr
    results = json.loads((work / "s.json").read_text())["results"]
    kube = [r for r in results if r["layer"] == "kubernetes"]
    assert kube and all(r["status"] in ("ok", "skipped") for r in kube)
    assert any(r["probe"] == "workloads" and r["target"] == "quay" and r["status"] == "ok" for r in kube)


def test_a_second_init_is_refused_and_force_replaces(triage, tmp_path, machine):
    assert triage("init", env=machine).code == 0
    (tmp_path / "triage.yaml").write_text("samples: 7\n")
    again = triage("init", env=machine)
    assert again.code == 2
    assert again.stderr.strip() == "triage: error: triage.yaml exists; refusing to overwrite it (--force replaces it)"
    assert (tmp_path / "triage.yaml").read_text() == "samples: 7\n"
    forced = triage("init", "--force", "--prometheus", "http://127.0.0.1:9090", env=machine)
    assert forced.code == 0, forced.stderr
    data = yaml.safe_load((tmp_path / "triage.yaml").read_text())
    assert data["prometheus"] == {"url": "http://127.0.0.1:9090", "block": "5m"}
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".triage-")]  # no temp file left


def test_init_elsewhere_names_the_file_in_the_next_command(triage, tmp_path, machine):
    out = triage("init", "conf/staging.yaml", env=machine)
    assert out.code == 2 and "conf/staging.yaml" in out.stderr and "no such directory" in out.stderr
    (tmp_path / "conf").mkdir()
    out = triage("init", "conf/staging.yaml", env=machine)
    assert out.code == 0 and out.stdout.splitlines()[-1] == "next: triage doctor --config conf/staging.yaml"


def test_bad_prometheus_url_is_exit_2_before_anything_is_written(triage, tmp_path, machine):
    out = triage("init", "--prometheus", "ftp://metrics", env=machine)
    assert out.code == 2
    assert out.stderr.startswith("triage: error: --prometheus: expected an http:// or https:// base URL")
    assert not (tmp_path / "triage.yaml").exists()


def test_without_a_kubeconfig_or_database_the_templates_are_commented(triage, tmp_path):
    (tmp_path / "resolv.conf").write_text("nameserver 127.0.0.1\n")
    env = {"TRIAGE_RESOLV_CONF": str(tmp_path / "resolv.conf"), "HOME": str(tmp_path)}
    out = triage("init", env=env, drop=("KUBECONFIG", "PG"))
    assert out.code == 0, out.stderr
    data = yaml.safe_load((tmp_path / "triage.yaml").read_text())
    assert "kubernetes" not in data and "prometheus" not in data and data["targets"] is None
    assert "kubernetes: no kubeconfig found: a commented template" in out.stdout
