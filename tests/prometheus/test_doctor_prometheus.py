"""`triage doctor` on the Prometheus source: the real Prometheus answers with the configured
credentials; a wrong token (the auth proxy in front, as OpenShift's) is a line with its fix,
and exit 4; the token itself is never shown."""

from __future__ import annotations

from .auth_proxy import AuthProxy

TOKEN = "the-right-token-0123456789abcdef"


def _prometheus_line(out) -> str:
    return next(line for line in out.stdout.splitlines() if line.startswith("prometheus "))


def test_a_reachable_prometheus_with_its_token(triage, recorded, prom_config, tmp_path):
    with AuthProxy(recorded.url, TOKEN) as proxy:
        prom_config(proxy.url, f'  headers: {{Authorization: "Bearer {TOKEN}"}}\n', queries=False)
        out = triage("doctor")
    line = _prometheus_line(out)
    assert out.code == 0, out.stdout + out.stderr
    # The recorded history is from 2020: nothing in the last hour, which the line says.
    assert line.split()[1] == "partly" and "answers with its credentials" in line
    assert "no profile's metrics in the last hour" in line


def test_a_refused_token_is_exit_4_and_never_shown(triage, recorded, prom_config):
    with AuthProxy(recorded.url, TOKEN, echo=True) as proxy:
        prom_config(proxy.url, '  headers: {Authorization: "Bearer stale-token-0000000000000000"}\n', queries=False)
        out = triage("doctor")
    line = _prometheus_line(out)
    assert out.code == 4
    assert line.split()[1] == "cannot" and "HTTP 401" in line and "fix: a fresh token" in line
    assert "stale-token" not in out.stdout + out.stderr
