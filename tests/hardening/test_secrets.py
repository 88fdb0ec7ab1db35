"""Issue 16, item 1: credentials never leak from error text, against the real local servers
(an HTTP server echoing the Authorization header into status lines, headers, bodies and
redirects; the Kubernetes API server answering 401/403/500 with the header echoed; a real
PostgreSQL refusing a wrong password). The secret must appear nowhere: the snapshot, stderr,
every report format, `baseline show`, or the store's git objects."""

from __future__ import annotations

import base64
import json
import sys
from pathlib import Path

import pytest

from tests.app.http_server import Answer, ControlledServer
from tests.cli_runner import run_triage
from tests.kubernetes import kube_states as ks
from triage.config import parse_config
from triage.errors import InputFileError

from .helpers import assert_nowhere, everywhere_downstream

APP_TOKEN = "hX9-app-T0ken-Echo-7731"
URL_USER, URL_PASSWORD = "quay", "Pw-userinfo-5521"
KUBE_TOKEN = "sha256~Kube-SECRET-echoed-0042"
DB_WRONG = "Wr0ng-pg-Pass-9913"


def b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


# --- the app layer: an HTTP server echoing the header ------------------------------------------


def _echo_cycle(n: int) -> Answer:
    """The token in a malformed header line, a 500 body, a redirect and a reason phrase, in turn."""
    return Answer(echo=("header", "body", "redirect", "reason")[(n - 1) % 4])


def _bad_status_line(n: int) -> Answer:
    """Every answer a malformed status line holding the bare token: the probe's error text."""
    return Answer(echo="status-line")


def _probe_app(tmp_path: Path, url: str, headers: str = "") -> tuple[Path, str]:
    (tmp_path / "triage.yaml").write_text(
        f"targets:\n  - name: registry\n    url: \"{url}\"\n    timeout: 2\n    fanout: false\n{headers}")
    done = run_triage("probe", "--layers", "app", "--label", "a", "--samples", "10", "--out", "a.json",
                      cwd=tmp_path, env={"APP_AUTH": f"Bearer {APP_TOKEN}"})
    assert done.returncode == 0, done.stderr
    return tmp_path / "a.json", done.stdout + done.stderr


@pytest.mark.parametrize("behaviour", [_bad_status_line, _echo_cycle])
def test_app_header_token_echoed_by_the_server_never_leaks(tmp_path, behaviour):
    with ControlledServer(behaviour) as server:
        snapshot, output = _probe_app(tmp_path, server.url + "/health",
                                      '    headers: {Authorization: "${APP_AUTH}"}\n')
    result = json.loads(snapshot.read_text())["results"][0]
    if behaviour is _bad_status_line:
        assert "BadStatusLine('HTTP/1.1 9x9 ***" in result["error"], result["error"]
    texts = {"probe output": output, **everywhere_downstream(tmp_path, snapshot)}
    assert_nowhere([APP_TOKEN], texts)


@pytest.mark.parametrize("behaviour", [_bad_status_line, _echo_cycle])
def test_app_userinfo_basic_auth_echoed_never_leaks_in_any_form(tmp_path, behaviour):
    with ControlledServer(behaviour) as server:
        url = f"http://{URL_USER}:{URL_PASSWORD}@127.0.0.1:{server.port}/health"
        snapshot, output = _probe_app(tmp_path, url)
        sent = server.requests[0][2]["Authorization"]
    assert sent == f"Basic {b64(f'{URL_USER}:{URL_PASSWORD}')}"  # what requests puts on the wire
    texts = {"probe output": output, **everywhere_downstream(tmp_path, snapshot)}
    assert_nowhere([URL_PASSWORD, b64(f"{URL_USER}:{URL_PASSWORD}")], texts)


def test_url_userinfo_with_an_authorization_header_is_refused_not_silently_replaced(tmp_path):
    text = ("targets:\n  - name: registry\n    url: http://quay:pw@127.0.0.1:1/x\n"
            "    headers: {Authorization: Bearer abc}\n")
    with pytest.raises(InputFileError) as err:
        parse_config(text, "triage.yaml")
    assert str(err.value).startswith("triage.yaml:4: targets[0].headers.Authorization: expected either")
    (tmp_path / "triage.yaml").write_text(text)
    done = run_triage("probe", "--layers", "app", "--out", "x.json", cwd=tmp_path)
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert done.stderr.count("\n") == 1 and "pw" not in done.stderr.replace("expected", "")


# --- the kubernetes layer: the API server echoing the header ------------------------------------


def _probe_kube(tmp_path: Path, kubeconfig: Path) -> tuple[Path, str]:
    (tmp_path / "triage.yaml").write_text("samples: 3\nkubernetes:\n  namespaces: [quay]\n  timeout: 5\n")
    done = run_triage("probe", "--layers", "kubernetes", "--kubeconfig", str(kubeconfig), "--out", "k.json",
                      cwd=tmp_path, env={"HOME": str(tmp_path)}, drop=("KUBECONFIG",))
    assert done.returncode == 0, done.stderr
    return tmp_path / "k.json", done.stdout + done.stderr


@pytest.mark.parametrize("status, plain", [(401, False), (403, False), (500, False), (500, True)])
def test_kube_api_echoing_the_token_never_leaks(kube_server, kubeconfig, tmp_path, status, plain):
    state = ks.openshift("4.3.18", token=KUBE_TOKEN)
    state.echo_status, state.echo_plain = status, plain
    snapshot, output = _probe_kube(tmp_path, kubeconfig(kube_server(state), token=KUBE_TOKEN))
    errors = [r["error"] for r in json.loads(snapshot.read_text())["results"] if r["status"] == "error"]
    assert errors, "every probe met the echoing server"
    texts = {"probe output": output, **everywhere_downstream(tmp_path, snapshot)}
    assert_nowhere([KUBE_TOKEN, KUBE_TOKEN.split("~")[1]], texts)


def test_kube_basic_auth_echoed_never_leaks_as_base64(kube_server, kubeconfig, tmp_path):
    state = ks.openshift("4.3.18", token=None)
    state.echo_status = 500
    password = "kube-basic-Pw-3318"
    snapshot, output = _probe_kube(tmp_path, kubeconfig(kube_server(state), token=None, basic=("admin", password)))
    texts = {"probe output": output, **everywhere_downstream(tmp_path, snapshot)}
    assert_nowhere([password, b64(f"admin:{password}")], texts)


def _plugin(tmp_path: Path, body: str) -> list[str]:
    plugin = tmp_path / "credential_plugin.py"
    plugin.write_text("import json, sys\n" + body)
    return [sys.executable, str(plugin)]


def test_exec_plugin_token_echoed_never_leaks(kube_server, kubeconfig, tmp_path):
    state = ks.openshift("4.3.18", token=None)
    state.echo_status = 500
    command = _plugin(tmp_path, "print(json.dumps({'apiVersion': 'client.authentication.k8s.io/v1beta1', "
                                f"'kind': 'ExecCredential', 'status': {{'token': {KUBE_TOKEN!r}}}}}))\n")
    snapshot, output = _probe_kube(tmp_path, kubeconfig(kube_server(state), token=None, exec_command=command))
    texts = {"probe output": output, **everywhere_downstream(tmp_path, snapshot)}
    assert_nowhere([KUBE_TOKEN, KUBE_TOKEN.split("~")[1]], texts)


def test_a_failing_exec_plugin_is_named_by_its_exit_status_not_its_stderr(kube_server, kubeconfig, tmp_path):
    command = _plugin(tmp_path, f"print('refreshing token {KUBE_TOKEN}', file=sys.stderr)\nsys.exit(3)\n")
    snapshot, output = _probe_kube(tmp_path, kubeconfig(kube_server(ks.openshift("4.3.18")), token=None,
                                                        exec_command=command))
    errors = {r["error"] for r in json.loads(snapshot.read_text())["results"] if r["status"] == "error"}
    assert any("exec: process returned 3 (its stderr is not shown" in e for e in errors), errors
    assert_nowhere([KUBE_TOKEN, KUBE_TOKEN.split("~")[1]], {"probe output": output, "snapshot": snapshot.read_text()})


# --- the database layer: a real PostgreSQL refusing a wrong password -----------------------------


@pytest.mark.parametrize("form", ["url", "kv"])
def test_a_wrong_database_password_never_leaks(postgres, tmp_path, form):
    dsn = postgres.dsn(password=DB_WRONG, form=form)
    (tmp_path / "triage.yaml").write_text(f"targets:\n  - name: db\n    dsn: \"{dsn}\"\n    fanout: false\n")
    done = run_triage("probe", "--layers", "database", "--samples", "3", "--out", "d.json", cwd=tmp_path,
                      drop=("PG",))
    assert done.returncode == 0, done.stderr
    snapshot = tmp_path / "d.json"
    errors = [r["error"] for r in json.loads(snapshot.read_text())["results"] if r["status"] == "error"]
    assert any("password authentication failed" in e for e in errors), errors
    texts = {"probe output": done.stdout + done.stderr, **everywhere_downstream(tmp_path, snapshot)}
    assert_nowhere([DB_WRONG], texts)
