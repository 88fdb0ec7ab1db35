"""The issue's done-when, through the CLI (in-process): probe, DROP INDEX, probe again, compare;
an unreachable database. The password must appear in no file and no output."""

from __future__ import annotations

import json
import socket

from triage.model import Snapshot

from . import pg_server
from .pg_server import CRITICAL_QUERY, PASSWORD
from tests.cli_runner import CliResult, InProcessTriage


def write_config(path, dsn: str, app_url: str | None = None) -> str:
    """The critical query's database, and an app that needs it when ``app_url`` is given."""
    app = f"  - name: registry\n    url: {app_url}\n    fanout: false\n" if app_url else ""
    path.write_text(f"""
samples: 15
targets:
{app}  - name: registry-db
    dsn: "{dsn}"
    timeout: 5
    queries:
      - name: image-layer-fetch
        sql: "{CRITICAL_QUERY}"
""")
    return str(path)


def triage(*args: str, cwd) -> CliResult:
    return InProcessTriage(str(cwd))(*args, drop=("PG",))


def probe(tmp_path, config: str, label: str, out: str, *more: str) -> CliResult:
    done = triage("probe", "--config", config, "--layers", "database", "--label", label, "--out", out, *more,
                  cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    return done


def query_result(snapshot: Snapshot):
    return next(r for r in snapshot.results if r.probe == "query")


def plan_of(snapshot: Snapshot) -> dict:
    return next(m.value for m in query_result(snapshot).measurements if m.metric == "plan")


def test_dropped_index_is_a_database_regression_with_the_plan_as_evidence(postgres, tmp_path):
    config = write_config(tmp_path / "triage.yaml", postgres.dsn())
    outputs = [probe(tmp_path, config, "4.3.18", "before.json")]
    with pg_server.without_composite_index(postgres):
        outputs.append(probe(tmp_path, config, "4.3.19", "after.json", "--format", "json"))
    before = Snapshot.load(str(tmp_path / "before.json"))
    after = Snapshot.load(str(tmp_path / "after.json"))
    assert json.loads(outputs[1].stdout)["label"] == "4.3.19"  # --format json: the snapshot and nothing else
    assert "Index Scan using manifest_blob_repo_manifest on manifest_blob" in plan_of(before)["shape"]
    assert "Seq Scan on manifest_blob" in plan_of(after)["shape"]
    assert all(r.status == "ok" for r in before.results + after.results if r.probe != "statements")

    compared = triage("compare", "before.json", "after.json", "--format", "json", cwd=tmp_path)
    outputs.append(compared)
    assert compared.returncode == 3, compared.stderr
    verdict = json.loads(compared.stdout)
    assert verdict["verdict"] == "regressed"
    assert verdict["layers"]["database"] == "regressed"
    root = [s for s in verdict["suspects"] if s["role"] == "root"]
    assert [s["layer"] for s in root] == ["database"]
    changed = {e["metric"]: e["text"] for e in root[0]["evidence"] if e["kind"] == "changed"}
    scan = changed["database.query.registry-db/image-layer-fetch.scan.manifest_blob"]
    assert "Index Scan using manifest_blob_repo_manifest" in scan and "Seq Scan" in scan
    assert "database.query.registry-db/image-layer-fetch.plan" in changed

    terminal = triage("compare", "before.json", "after.json", cwd=tmp_path)
    outputs.append(terminal)
    assert terminal.returncode == 3, terminal.stderr
    assert "database" in terminal.stdout

    for name in ("before.json", "after.json"):
        assert PASSWORD not in (tmp_path / name).read_text()
    for done in outputs:
        assert PASSWORD not in done.stdout + done.stderr


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_an_unreachable_database_still_gets_a_snapshot(postgres, tmp_path):
    dsn = f"host=127.0.0.1 port={_closed_port()} dbname=quay user=quay password='{PASSWORD}'"
    config = write_config(tmp_path / "triage.yaml", dsn)
    done = probe(tmp_path, config, "4.3.19", "down.json")
    snap = Snapshot.load(str(tmp_path / "down.json"))
    assert {r.status for r in snap.results} == {"error"}
    assert "Connection refused" in next(r for r in snap.results if r.probe == "connect").error
    assert "database.connect [registry-db]: error: DatabaseUnreachable" in done.stderr
    assert PASSWORD not in (tmp_path / "down.json").read_text()
    assert PASSWORD not in done.stdout + done.stderr

    # The same against a healthy baseline: that layer cannot be judged, and nothing crashes.
    good = write_config(tmp_path / "good.yaml", postgres.dsn())
    probe(tmp_path, good, "4.3.18", "up.json")
    compared = triage("compare", "up.json", "down.json", "--format", "json", cwd=tmp_path)
    assert compared.returncode == 4, compared.stderr
    verdict = json.loads(compared.stdout)
    assert verdict["layers"]["database"] == "failed"
    assert verdict["verdict"] == "inconclusive"
    assert PASSWORD not in compared.stdout + compared.stderr
