"""`triage doctor` against real local servers: a Kubernetes API server answering
SelfSubjectAccessReviews, the embedded DNS server, an HTTP app, the session's PostgreSQL.
One line per layer; exit 0 when every configured layer can run, 4 when one cannot, 2 on a bad
config."""

from __future__ import annotations

import socket

import pytest

from tests.app.http_server import Answer, ControlledServer, always
from tests.database import pg_server
from tests.kubernetes import kube_states
from tests.kubernetes.kubeapi_server import KubeApiServer
from triage.repro.dns_server import EmbeddedDnsServer

LAYER_LINES = ("kernel", "dns", "kubernetes", "database", "app")


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _lines(out) -> dict[str, str]:
    """layer -> its line (the first word of each line after the heading)."""
    lines = out.stdout.splitlines()[1:]
    return {line.split()[0]: line for line in lines}


@pytest.fixture
def dns():
    with EmbeddedDnsServer(names=("db.quay.svc",), bind="127.0.0.1", port=0) as server:
        yield server


def test_every_layer_can_run_exit_0(triage, tmp_path, dns, postgres):
    with KubeApiServer(kube_states.openshift("4.3.19")) as kube, ControlledServer() as app:
        kubeconfig = kube_states.write_kubeconfig(tmp_path / "kubeconfig", kube.url)
        (tmp_path / "triage.yaml").write_text(
            f"targets:\n  - {{name: registry, url: '{app.url}/health', fanout: false}}\n"
            f"  - {{name: registry-db, dsn: '{postgres.dsn(database=pg_server.PLAIN_DATABASE)}', fanout: false,\n"
            "     queries: [{name: one, sql: 'SELECT 1'}]}\n"
            f"dns:\n  resolvers: ['cluster-dns=127.0.0.1:{dns.port}']\n  names: [db.quay.svc]\n"
            f"kubernetes:\n  kubeconfig: {kubeconfig}\n  namespaces: [quay]\n")
        out = triage("doctor")
        reviews = list(kube.reviews)
    lines = _lines(out)
    assert out.code == 0, out.stdout + out.stderr
    assert list(lines) == [*LAYER_LINES, "load"]
    # dns (hit) ramps the resolver, database its query, app its url: what --load would do here.
    assert lines["load"].split()[1] == "ok" and "ramp 3 targets (dns 1, database 1, app 1)" in lines["load"]
    assert lines["load"].endswith("every target on loopback")
    assert lines["dns"].split()[1] == "ok" and "each answered a query for db.quay.svc" in lines["dns"]
    assert lines["kubernetes"].split()[1] == "ok"
    assert "context 'staging' of" in lines["kubernetes"] and ", OpenShift) reachable" not in lines["kubernetes"]
    assert "reachable (Kubernetes v" in lines["kubernetes"] and "OpenShift); RBAC allows every request" in lines["kubernetes"]
    assert lines["app"].split()[1] == "ok"
    # The plain database has no pg_stat_statements: the layer runs, the statements probe is skipped.
    assert lines["database"].split()[1] == "partly"
    assert "pg_stat_statements is not installed in this database: the statements probe will be skipped" in \
        lines["database"]
    assert "fix: shared_preload_libraries + CREATE EXTENSION pg_stat_statements" in lines["database"]
    # Access reviews in the API's real shape, one per request the probes make.
    checked = {(r["resourceAttributes"]["verb"], r["resourceAttributes"]["resource"],
                r["resourceAttributes"].get("namespace", "")) for r in reviews if "resourceAttributes" in r}
    assert {("list", "nodes", ""), ("list", "events", ""), ("list", "pods", "quay"), ("get", "configmaps", "openshift-dns"),
            ("get", "clusterversions", "")} <= checked
    assert {"path": "/version", "verb": "get"} in [r.get("nonResourceAttributes") for r in reviews]


def test_missing_rbac_and_an_unreachable_app_are_exit_4_with_the_fix(triage, tmp_path):
    state = kube_states.openshift("4.3.19")
    state.forbidden = {("list", "events"), ("get", "configmaps")}
    with KubeApiServer(state) as kube:
        kubeconfig = kube_states.write_kubeconfig(tmp_path / "kubeconfig", kube.url)
        (tmp_path / "triage.yaml").write_text(
            f"targets:\n  - {{name: registry, url: 'http://127.0.0.1:{_closed_port()}/health', fanout: false, timeout: 1}}\n"
            f"kubernetes:\n  kubeconfig: {kubeconfig}\n  namespaces: [quay]\n")
        out = triage("doctor")
    lines = _lines(out)
    assert out.code == 4, out.stdout + out.stderr
    kube_line = lines["kubernetes"]
    assert kube_line.split()[1] == "cannot"
    assert "missing RBAC: 'list' on 'events' in all namespaces (warning_events); 'get' on 'configmaps' in namespace " \
           "'openshift-dns' (cluster_dns)" in kube_line
    assert "fix: grant a ClusterRole with events list" in kube_line
    assert lines["app"].split()[1] == "cannot" and "registry: no answer" in lines["app"]
    assert lines["database"].split()[1] == "off"


def test_unreachable_resolver_and_refused_database_cannot_run(triage, tmp_path, postgres):
    (tmp_path / "triage.yaml").write_text(
        f"targets:\n  - {{name: db, dsn: '{postgres.dsn(password='wrong')}', fanout: false}}\n"
        f"dns:\n  resolvers: ['127.0.0.1:{_closed_port()}']\n  names: [db.quay.svc]\n  timeout: 0.5\n")
    out = triage("doctor")
    lines = _lines(out)
    assert out.code == 4
    assert lines["dns"].split()[1] == "cannot" and "not answering" in lines["dns"]
    assert lines["database"].split()[1] == "cannot" and "bad password" in lines["database"]
    assert "wrong" not in out.stdout.replace("wrong password", "")  # the password itself is never shown
    assert lines["kubernetes"].split()[1] == "off"


def test_an_unexpected_status_is_partly_not_cannot(triage, tmp_path):
    with ControlledServer(always(Answer(status=503))) as app:
        (tmp_path / "triage.yaml").write_text(f"targets:\n  - {{name: registry, url: '{app.url}/', fanout: false}}\n")
        out = triage("doctor")
    assert out.code == 0
    assert "registry: answered 503, expected 200" in _lines(out)["app"]


def test_the_load_line_says_what_load_would_ramp_and_which_hosts_need_allow_load(tmp_path):
    """check_load sends nothing, so a non-loopback target can be named here without traffic."""
    from triage.config import load_config
    from triage.readiness import check_load

    (tmp_path / "far.yaml").write_text(
        "load:\n  step_duration: 1\n  app: {rates: [10, 20]}\ntargets:\n"
        "  - {name: registry, url: 'http://10.1.2.3:8080/health', fanout: false}\n"
        "  - {name: local, url: 'http://127.0.0.1:9/health', fanout: false}\n")
    far = check_load(load_config(str(tmp_path / "far.yaml")))
    assert (far.layer, far.status) == ("load", "partly")
    assert far.text.startswith("--load would ramp 2 targets (app 2), at most 4 s of steps")
    assert far.text.endswith("not loopback, so refused: 10.1.2.3") and far.fix.startswith("--allow-load 10.1.2.3 ")
    (tmp_path / "none.yaml").write_text("samples: 10\n")
    assert check_load(load_config(str(tmp_path / "none.yaml"))).status == "off"


def test_bad_config_is_exit_2(triage, tmp_path):
    (tmp_path / "triage.yaml").write_text("samples: many\n")
    out = triage("doctor")
    assert out.code == 2 and out.stderr.startswith("triage: error: triage.yaml:1: samples:")
