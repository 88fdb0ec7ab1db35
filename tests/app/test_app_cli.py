"""The issue's done-when for the app layer, through the CLI (in-process): an endpoint answering 500
for 20% of requests is an error-proportion regression in app."""

from __future__ import annotations

import json

from triage.model import Snapshot

from .http_server import Answer, ControlledServer, always, every
from tests.cli_runner import CliResult, InProcessTriage

TOKEN = "Bearer cl1-t0ken-Kx81"


def triage(*args: str, cwd) -> CliResult:
    return InProcessTriage(str(cwd))(*args, env={"TRIAGE_TEST_TOKEN": TOKEN})


def probe_once(tmp_path, server: ControlledServer, label: str) -> CliResult:
    (tmp_path / "triage.yaml").write_text(f"""
samples: 100
targets:
  - name: registry
    url: "{server.url}/health"
    headers: {{Authorization: "${{TRIAGE_TEST_TOKEN}}"}}
""")
    done = triage("probe", "--layers", "app", "--label", label, "--out", f"{label}.json", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    return done


def errors_of(path) -> tuple[int, int]:
    res = Snapshot.load(str(path)).results[0]
    m = next(m for m in res.measurements if m.metric == "errors")
    return m.events, m.trials


def test_twenty_percent_500s_is_an_app_error_regression(tmp_path):
    outputs = []
    with ControlledServer(always(Answer(200))) as healthy:
        outputs.append(probe_once(tmp_path, healthy, "4.3.18"))
    with ControlledServer(every(5, Answer(500))) as failing:
        outputs.append(probe_once(tmp_path, failing, "4.3.19"))
    assert errors_of(tmp_path / "4.3.18.json") == (0, 100)
    assert errors_of(tmp_path / "4.3.19.json") == (20, 100)
    assert {h["Authorization"] for _, _, h in failing.requests} == {TOKEN}

    compared = triage("compare", "4.3.18.json", "4.3.19.json", "--format", "json", cwd=tmp_path)
    outputs.append(compared)
    assert compared.returncode == 3, compared.stderr
    verdict = json.loads(compared.stdout)
    assert verdict["verdict"] == "regressed"
    assert verdict["layers"]["app"] == "regressed"
    assert [(s["layer"], s["role"]) for s in verdict["suspects"]] == [("app", "root")]
    rows = [m for m in verdict["metrics"] if m.get("layer") == "app" and m.get("metric") == "errors"]
    assert len(rows) == 1 and rows[0]["verdict"] == "regressed", rows

    for done in outputs:
        assert TOKEN not in done.stdout + done.stderr
    for name in ("4.3.18.json", "4.3.19.json"):
        assert TOKEN not in (tmp_path / name).read_text()
